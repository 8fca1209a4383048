//! River's table (`river_job`, as River's migrations create it), with the queues its
//! clients register in `river_queue` ("video" paused). River's job cleaner keeps completed
//! jobs a day by default; the benchmark keeps 30 days, as a team that raised the retention
//! to look back a month would.

use super::{Generator, into_one_table, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/river.sql");

const INSERT: &str = "INSERT INTO river_job (args, state, kind, queue, priority, attempt, \
    max_attempts, attempted_at, attempted_by, created_at, scheduled_at, finalized_at, errors) ";

/// River's error entry for attempt `n` at `at`.
macro_rules! river_error {
    ($at:literal, $n:literal) => {
        concat!(
            "ARRAY[jsonb_build_object('at', ",
            $at,
            ", 'attempt', ",
            $n,
            ", 'error', s.err, 'trace', '')]"
        )
    };
}

const SUCCEEDED: &str = "SELECT s.payload, 'completed'::river_job_state, s.kind, s.queue, 1, 1, 25, \
    s.fin - s.run_time, ARRAY[s.worker], s.fin - s.run_time - interval '45 seconds', \
    s.fin - s.run_time - interval '40 seconds', s.fin, NULL FROM ({rows}) s";

const DEAD: &str = concat!(
    "SELECT s.payload, 'discarded'::river_job_state, s.kind, s.queue, 1, 3, 3, \
     s.fin - s.run_time, ARRAY[s.worker], s.fin - interval '2 minutes', \
     s.fin - interval '30 seconds', s.fin, ",
    river_error!("s.fin", "3"),
    " FROM ({rows}) s"
);

const CANCELLED: &str = "SELECT s.payload, 'cancelled'::river_job_state, s.kind, s.queue, 1, 0, 25, \
    NULL, NULL, s.fin - interval '1 hour', s.fin - interval '1 hour', s.fin, NULL FROM ({rows}) s";

const READY: &str = "SELECT s.payload, 'available'::river_job_state, s.kind, s.queue, 1, 0, 25, \
    NULL, NULL, now() - s.r * interval '10 minutes', now() - s.r * interval '10 minutes', NULL, NULL \
    FROM ({rows}) s";

const SCHEDULED: &str = "SELECT s.payload, 'scheduled'::river_job_state, s.kind, s.queue, 1, 0, 25, \
    NULL, NULL, now() - interval '1 hour', now() + s.r * interval '7 days', NULL, NULL \
    FROM ({rows}) s";

const RUNNING: &str = "SELECT s.payload, 'running'::river_job_state, s.kind, s.queue, 1, 1, 25, \
    now() - s.r * interval '2 minutes', ARRAY[s.worker], now() - interval '3 minutes', \
    now() - interval '3 minutes', NULL, NULL FROM ({rows}) s";

const RETRYING: &str = concat!(
    "SELECT s.payload, 'retryable'::river_job_state, s.kind, s.queue, 1, 1, 25, \
     now() - s.r * interval '1 hour' - s.run_time, ARRAY[s.worker], now() - interval '2 hours', \
     now() + s.r * interval '1 hour', NULL, ",
    river_error!("now() - s.r * interval '1 hour'", "1"),
    " FROM ({rows}) s"
);

const BACKLOG: &str = "SELECT s.payload, 'available'::river_job_state, s.kind, s.queue, 1, 0, 25, \
    NULL, NULL, now() - s.r * interval '2 hours', now() - s.r * interval '2 hours', NULL, NULL \
    FROM ({rows}) s";

const QUEUES_SQL: &str = "INSERT INTO river_queue (name, paused_at) \
    SELECT q, CASE WHEN q = 'video' THEN now() - interval '20 minutes' END FROM unnest($1::text[]) q";

pub fn generator() -> Generator {
    Generator {
        backend: BackendKind::River,
        schema: "public",
        profile: None,
        ddl: Some(schema_part(FIXTURE)),
        setup: vec![QUEUES_SQL],
        tables: vec!["public.river_job".into()],
        buckets: into_one_table(
            INSERT,
            [
                SUCCEEDED, DEAD, CANCELLED, READY, SCHEDULED, RUNNING, RETRYING, BACKLOG,
            ],
        ),
        churn: vec![
            "DELETE FROM river_job WHERE state IN ('completed', 'discarded', 'cancelled') \
             AND finalized_at < now() - interval '29 days 12 hours'",
            "UPDATE river_job SET attempted_at = now() - random() * interval '2 minutes' \
             WHERE state = 'running'",
        ],
        naive: "SELECT queue, state, count(*) FROM river_job GROUP BY 1, 2".into(),
        note: None,
    }
}
