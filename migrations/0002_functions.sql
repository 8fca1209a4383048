-- The worker-facing API of the reference schema. Parameter names are part of the contract
-- (callers may use named notation), so they shadow column names: inside the bodies every
-- parameter is qualified with its function's name and every column with a table alias.

-- Enqueues a job and registers its queue. With an idempotency key that is already taken,
-- returns the existing job's id and changes nothing.
CREATE FUNCTION jobtop.enqueue(
    queue text,
    kind text,
    payload jsonb DEFAULT '{}',
    run_at timestamptz DEFAULT now(),
    priority smallint DEFAULT 0,
    max_attempts int DEFAULT 5,
    tenant_id text DEFAULT NULL,
    idempotency_key text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO jobtop.queues AS q (name) VALUES (enqueue.queue) ON CONFLICT DO NOTHING;

    INSERT INTO jobtop.jobs AS j
        (queue, kind, payload, run_at, priority, max_attempts, tenant_id, idempotency_key)
    VALUES
        (enqueue.queue, enqueue.kind, coalesce(enqueue.payload, '{}'),
         coalesce(enqueue.run_at, now()), coalesce(enqueue.priority, 0),
         coalesce(enqueue.max_attempts, 5), enqueue.tenant_id, enqueue.idempotency_key)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING j.id INTO new_id;

    IF new_id IS NULL THEN
        -- ON CONFLICT waited for the other inserter to commit, so its row is visible now.
        SELECT j.id INTO new_id FROM jobtop.jobs j
        WHERE j.idempotency_key = enqueue.idempotency_key;
    END IF;
    RETURN new_id;
END
$$;

-- Announces a worker (again): a restart under the same id starts a new life.
CREATE FUNCTION jobtop.register_worker(
    worker text,
    hostname text,
    pid int,
    queues text[],
    version text DEFAULT NULL
) RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO jobtop.workers AS w
        (id, hostname, pid, queues, started_at, last_heartbeat_at, version)
    VALUES (register_worker.worker, register_worker.hostname, register_worker.pid,
            coalesce(register_worker.queues, '{}'), now(), now(), register_worker.version)
    ON CONFLICT (id) DO UPDATE SET
        hostname = excluded.hostname,
        pid = excluded.pid,
        queues = excluded.queues,
        started_at = excluded.started_at,
        last_heartbeat_at = excluded.last_heartbeat_at,
        version = excluded.version;
$$;

-- Claims up to n ready jobs from the given queues, skipping paused queues and jobs other
-- workers are claiming at the same moment.
--
-- Each queue's candidates come straight off jobs_claim_idx (LIMIT n per queue, locked with
-- SKIP LOCKED so concurrent claimers spread out instead of queueing on the same rows); the
-- best n across queues are then taken by priority and run time. Candidates not taken stay
-- locked only until the caller's transaction ends and are otherwise untouched.
-- A queue without a jobtop.queues row counts as not paused.
--
-- jit is off because the body is planned without knowing n: the planner then expects a
-- tenth of the backlog, and on a big backlog JIT-compiled a 0.5 ms claim for 10 ms.
CREATE FUNCTION jobtop.claim(worker text, queues text[], n int)
RETURNS SETOF jobtop.jobs
LANGUAGE sql VOLATILE
SET jit = off
AS $$
    WITH open_queues AS (
        SELECT DISTINCT wanted.name
        FROM unnest(claim.queues) AS wanted(name)
        WHERE NOT EXISTS (
            SELECT 1 FROM jobtop.queues p
            WHERE p.name = wanted.name AND p.paused_at IS NOT NULL
        )
    ),
    candidates AS (
        SELECT c.id, c.priority, c.run_at
        FROM open_queues o
        CROSS JOIN LATERAL (
            SELECT j.id, j.priority, j.run_at
            FROM jobtop.jobs j
            WHERE j.queue = o.name
              AND j.state IN ('queued', 'retrying')
              AND j.run_at <= now()
            ORDER BY j.priority DESC, j.run_at
            LIMIT greatest(claim.n, 0)
            FOR UPDATE SKIP LOCKED
        ) c
    ),
    chosen AS (
        SELECT c.id FROM candidates c
        ORDER BY c.priority DESC, c.run_at, c.id
        LIMIT greatest(claim.n, 0)
    ),
    claimed AS (
        UPDATE jobtop.jobs j SET
            state = 'running',
            attempts = j.attempts + 1,
            started_at = now(),
            heartbeat_at = now(),
            locked_by = claim.worker
        FROM chosen
        WHERE j.id = chosen.id
        RETURNING j.*
    )
    -- In claim order, so a worker taking a batch can run it in that order.
    SELECT * FROM claimed c ORDER BY c.priority DESC, c.run_at, c.id;
$$;

-- A worker's sign of life, for itself and for every job it holds.
CREATE FUNCTION jobtop.heartbeat(worker text) RETURNS void
LANGUAGE sql VOLATILE AS $$
    UPDATE jobtop.workers w SET last_heartbeat_at = now() WHERE w.id = heartbeat.worker;
    UPDATE jobtop.jobs j SET heartbeat_at = now()
    WHERE j.state = 'running' AND j.locked_by = heartbeat.worker;
$$;

-- Marks a job succeeded. Only the worker holding it may: false when the job is not running
-- under this worker any more (reset by an operator, say), and then nothing changes.
CREATE FUNCTION jobtop.complete(id bigint, worker text) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    WITH done AS (
        UPDATE jobtop.jobs j SET
            state = 'succeeded',
            finished_at = now(),
            locked_by = NULL,
            heartbeat_at = NULL
        WHERE j.id = complete.id
          AND j.state = 'running'
          AND j.locked_by = complete.worker
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM done);
$$;

-- Records a failed attempt. While attempts remain the job goes to retrying, due again after
-- retry_in or, when that is NULL, after an exponential backoff with jitter; otherwise it is
-- dead. Returns the new state, or NULL (and changes nothing) when the job is not running
-- under this worker.
CREATE FUNCTION jobtop.fail(id bigint, worker text, error text, retry_in interval DEFAULT NULL)
RETURNS jobtop.job_state
LANGUAGE sql VOLATILE AS $$
    UPDATE jobtop.jobs j SET
        state = CASE WHEN j.attempts < j.max_attempts
                     THEN 'retrying'::jobtop.job_state
                     ELSE 'dead'::jobtop.job_state END,
        run_at = CASE WHEN j.attempts < j.max_attempts
                      -- 2^attempts seconds (at most an hour), spread by ±25% so that jobs
                      -- failing together do not come back together.
                      THEN now() + coalesce(
                          fail.retry_in,
                          make_interval(secs => least(power(2, j.attempts), 3600)
                                                * (0.75 + random() * 0.5)))
                      ELSE j.run_at END,
        finished_at = CASE WHEN j.attempts < j.max_attempts THEN NULL ELSE now() END,
        failed_at = now(),
        last_error = fail.error,
        errors = j.errors || jsonb_build_array(jsonb_build_object(
            'at', now(),
            'attempt', j.attempts,
            'error', fail.error,
            'worker', fail.worker)),
        locked_by = NULL,
        heartbeat_at = NULL
    WHERE j.id = fail.id
      AND j.state = 'running'
      AND j.locked_by = fail.worker
    RETURNING j.state;
$$;
