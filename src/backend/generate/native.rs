//! The reference schema's table (`jobtop.jobs`, created by `jobtop migrate`): most live
//! jobs scheduled for later, 2% ready, 5% retrying, up to 400 running, 200 workers (four of
//! them silent for ten minutes), the "video" queue paused.

use super::Generator;
use crate::backend::detect::BackendKind;

const INSERT_COLUMNS: &str = "INSERT INTO jobtop.jobs (queue, kind, tenant_id, payload, state, \
    priority, attempts, max_attempts, run_at, created_at, started_at, finished_at, locked_by, \
    heartbeat_at, last_error, errors, failed_at) ";

/// Succeeded: 3% of them after one failed attempt.
const SUCCEEDED_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'succeeded'::jobtop.job_state, 0,
       CASE WHEN s.r < 0.03 THEN 2 ELSE 1 END, 5,
       s.fin - s.run_time - interval '40 seconds', s.fin - s.run_time - interval '45 seconds',
       s.fin - s.run_time, s.fin, NULL, NULL,
       CASE WHEN s.r < 0.03 THEN s.err END,
       CASE WHEN s.r < 0.03 THEN jsonb_build_array(jsonb_build_object(
           'at', s.fin - s.run_time - interval '20 seconds', 'attempt', 1,
           'error', s.err, 'worker', s.worker)) ELSE '[]'::jsonb END,
       CASE WHEN s.r < 0.03 THEN s.fin - s.run_time - interval '20 seconds' END
FROM ("#;

/// Dead: three failed attempts, the last at the finish time.
const DEAD_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'dead'::jobtop.job_state, 0, 3, 3,
       s.fin - interval '30 seconds', s.fin - interval '2 minutes', s.fin - s.run_time, s.fin,
       NULL, NULL, s.err,
       jsonb_build_array(
         jsonb_build_object('at', s.fin - interval '90 seconds', 'attempt', 1, 'error', s.err,
                            'worker', s.worker),
         jsonb_build_object('at', s.fin - interval '60 seconds', 'attempt', 2, 'error', s.err,
                            'worker', s.worker),
         jsonb_build_object('at', s.fin, 'attempt', 3, 'error', s.err, 'worker', s.worker)),
       s.fin
FROM ("#;

const CANCELLED_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'cancelled'::jobtop.job_state, 0, 0, 5,
       s.fin - interval '1 hour', s.fin - interval '1 hour', NULL, s.fin, NULL, NULL, NULL,
       '[]'::jsonb, NULL
FROM ("#;

/// Ready: due within the last ten minutes.
const READY_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'queued'::jobtop.job_state, 0, 0, 5,
       now() - s.r * interval '10 minutes', now() - s.r * interval '10 minutes',
       NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, NULL
FROM ("#;

/// Scheduled: due within the next week.
const SCHEDULED_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'queued'::jobtop.job_state, 0, 0, 5,
       now() + s.r * interval '7 days', now() - interval '1 hour',
       NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, NULL
FROM ("#;

/// Running: started within the last two minutes by one of 200 workers.
const RUNNING_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'running'::jobtop.job_state, 0, 1, 5,
       now() - interval '3 minutes', now() - interval '3 minutes',
       now() - s.r * interval '2 minutes', NULL, s.worker, now() - s.r * interval '10 seconds',
       NULL, '[]'::jsonb, NULL
FROM ("#;

/// Retrying: failed within the last hour, due again within the next hour.
const RETRYING_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'retrying'::jobtop.job_state, 0, 1, 5,
       now() + s.r * interval '1 hour', now() - interval '2 hours',
       now() - s.r * interval '1 hour' - s.run_time, NULL, NULL, NULL, s.err,
       jsonb_build_array(jsonb_build_object('at', now() - s.r * interval '1 hour',
                         'attempt', 1, 'error', s.err, 'worker', s.worker)),
       now() - s.r * interval '1 hour'
FROM ("#;

/// The backlog: ready for up to two hours, in three queues (`$2` here is those queues).
const BACKLOG_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'queued'::jobtop.job_state, 0, 0, 5,
       now() - s.r * interval '2 hours', now() - s.r * interval '2 hours',
       NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, NULL
FROM ("#;

const WORKERS_SQL: &str = r#"
INSERT INTO jobtop.workers (id, hostname, pid, queues, started_at, last_heartbeat_at, version)
SELECT 'worker-' || lpad(w::text, 3, '0'), 'app-' || lpad((1 + w % 40)::text, 2, '0'),
       10000 + w, ARRAY[($1::text[])[1 + w % 20], ($1::text[])[1 + (w * 3) % 20]],
       now() - interval '6 hours',
       -- Four workers went quiet ten minutes ago: their jobs are stuck.
       CASE WHEN w % 50 = 0 THEN now() - interval '10 minutes' ELSE now() END,
       '2.4.1'
FROM generate_series(1, 200) AS w
ON CONFLICT (id) DO NOTHING
"#;

const QUEUES_SQL: &str = r#"
INSERT INTO jobtop.queues (name, paused_at, paused_by, pause_reason)
SELECT q, CASE WHEN q = 'video' THEN now() - interval '20 minutes' END,
       CASE WHEN q = 'video' THEN 'ops@bench' END,
       CASE WHEN q = 'video' THEN 'transcoder upgrade' END
FROM unnest($1::text[]) AS q
ON CONFLICT (name) DO NOTHING
"#;

/// The runbooks' way to count jobs: every row of the table, every time.
pub const NAIVE_SQL: &str = "SELECT queue, state, count(*) FROM jobtop.jobs GROUP BY 1, 2";

pub fn generator() -> Generator {
    let bucket = |select: &str| Some(format!("{INSERT_COLUMNS}{select}{{rows}}) s"));
    Generator {
        backend: BackendKind::Native,
        schema: "jobtop",
        profile: None,
        ddl: None,
        setup: vec![QUEUES_SQL, WORKERS_SQL],
        tables: vec![
            "jobtop.jobs".into(),
            "jobtop.queues".into(),
            "jobtop.workers".into(),
        ],
        buckets: [
            bucket(SUCCEEDED_SELECT),
            bucket(DEAD_SELECT),
            bucket(CANCELLED_SELECT),
            bucket(READY_SELECT),
            bucket(SCHEDULED_SELECT),
            bucket(RUNNING_SELECT),
            bucket(RETRYING_SELECT),
            bucket(BACKLOG_SELECT),
        ],
        churn: vec![
            // The retention job: the oldest half-day of finished jobs goes.
            "DELETE FROM jobtop.jobs WHERE state IN ('succeeded', 'dead', 'cancelled') \
             AND finished_at < now() - interval '29 days 12 hours'",
            // Running jobs beat.
            "UPDATE jobtop.jobs SET heartbeat_at = now() - random() * interval '10 seconds' \
             WHERE state = 'running'",
        ],
        naive: NAIVE_SQL.into(),
        note: None,
    }
}
