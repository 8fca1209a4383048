-- The reference schema: the contract that the demo, the tests and any worker in any
-- language use. Names here are part of that contract; add, never rename.
--
-- Monitoring must cost O(live jobs), never O(table): every index below is partial, and
-- every monitoring query repeats its index's predicate literally (the planner only uses a
-- partial index when it can prove the query's WHERE implies the predicate).

CREATE SCHEMA IF NOT EXISTS jobtop;

CREATE TYPE jobtop.job_state AS ENUM (
    'queued', 'running', 'retrying', 'succeeded', 'dead', 'cancelled'
);

-- One row per queue, created by enqueue(); the monitor lists queues from here, and
-- claim() skips a queue while paused_at is set.
CREATE TABLE jobtop.queues (
    name         text PRIMARY KEY,
    paused_at    timestamptz,
    paused_by    text,
    pause_reason text
);

-- No foreign key to jobtop.queues: every insert would take a KEY SHARE lock on its queue's
-- row, and thousands of concurrent enqueues on one queue turn that into multixact churn.
CREATE TABLE jobtop.jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue           text NOT NULL,
    kind            text NOT NULL,
    tenant_id       text,
    payload         jsonb NOT NULL DEFAULT '{}',
    state           jobtop.job_state NOT NULL DEFAULT 'queued',
    priority        smallint NOT NULL DEFAULT 0,
    attempts        int NOT NULL DEFAULT 0,
    max_attempts    int NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_at          timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    locked_by       text,
    heartbeat_at    timestamptz,
    last_error      text,
    -- One entry per failed attempt: {"at", "attempt", "error", "worker"}.
    errors          jsonb NOT NULL DEFAULT '[]',
    idempotency_key text UNIQUE,
    -- When the job's latest attempt failed (set by fail()). A failure that leads to a
    -- retry leaves no finished_at, so without this column failures per minute could only
    -- be counted by reading every job's errors. With it, the failures of the last hour are
    -- exactly the `errors` entries with `at` in the hour of the jobs whose failed_at is in
    -- the hour (an entry is never later than its job's failed_at), found through a small
    -- partial index on a recent time window.
    failed_at       timestamptz
);

-- claim(): per queue, the next ready job by priority then run time, straight off the index.
CREATE INDEX jobs_claim_idx ON jobtop.jobs (queue, priority DESC, run_at)
    WHERE state IN ('queued', 'retrying');

-- Monitoring of the backlog: ready / scheduled / retrying counts as index ranges, and the
-- oldest ready job per queue as a min() read from the front of a range.
CREATE INDEX jobs_pending_idx ON jobtop.jobs (queue, state, run_at)
    WHERE state IN ('queued', 'retrying');

-- Running jobs per worker (heartbeats, stuck jobs) and per queue (counts, longest running).
-- heartbeat_at is deliberately in no index, so heartbeats stay HOT updates.
CREATE INDEX jobs_running_worker_idx ON jobtop.jobs (locked_by)
    WHERE state = 'running';
CREATE INDEX jobs_running_queue_idx ON jobtop.jobs (queue, started_at)
    WHERE state = 'running';

-- The dead-letter queue per queue, newest last.
CREATE INDEX jobs_dead_idx ON jobtop.jobs (queue, finished_at)
    WHERE state = 'dead';

-- Completions over a recent time window, index-only.
CREATE INDEX jobs_finished_idx ON jobtop.jobs (finished_at) INCLUDE (queue, kind, state)
    WHERE finished_at IS NOT NULL;

-- Failed attempts over a recent time window (see failed_at above).
CREATE INDEX jobs_failed_idx ON jobtop.jobs (failed_at) INCLUDE (queue)
    WHERE failed_at IS NOT NULL;

CREATE TABLE jobtop.workers (
    id                text PRIMARY KEY,
    hostname          text,
    pid               int,
    queues            text[] NOT NULL DEFAULT '{}',
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    version           text
);

-- Every action taken through jobtop, durable.
CREATE TABLE jobtop.audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    -- OS user@host and database role.
    actor   text NOT NULL,
    action  text NOT NULL,
    queue   text,
    job_ids bigint[],
    count   bigint,
    params  jsonb NOT NULL DEFAULT '{}',
    outcome text NOT NULL,
    detail  text
);

CREATE INDEX audit_at_idx ON jobtop.audit (at);
