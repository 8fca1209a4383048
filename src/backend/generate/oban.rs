//! Oban's table (`oban_jobs`, as Oban's migrations up to v14 leave it: no index on
//! `completed_at`), with one peer. Ecto keeps UTC in `timestamp without time zone`. Oban's
//! pruner keeps finished jobs a minute by default; the benchmark keeps 30 days, as a team
//! that configured `max_age` to look back a month would.

use super::{Generator, into_one_table, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/oban.sql");

const INSERT: &str = "INSERT INTO oban_jobs (args, state, worker, queue, priority, attempt, \
    max_attempts, attempted_at, attempted_by, inserted_at, scheduled_at, completed_at, \
    discarded_at, cancelled_at, errors) ";

/// `at` as Ecto stores it.
macro_rules! utc {
    ($at:literal) => {
        concat!("timezone('UTC', ", $at, ")")
    };
}

const SUCCEEDED: &str = concat!(
    "SELECT s.payload, 'completed'::oban_job_state, s.kind, s.queue, 0, 1, 20, ",
    utc!("s.fin - s.run_time"),
    ", ARRAY['node-1', s.worker], ",
    utc!("s.fin - s.run_time - interval '45 seconds'"),
    ", ",
    utc!("s.fin - s.run_time - interval '40 seconds'"),
    ", ",
    utc!("s.fin"),
    ", NULL, NULL, '{}' FROM ({rows}) s"
);

const DEAD: &str = concat!(
    "SELECT s.payload, 'discarded'::oban_job_state, s.kind, s.queue, 0, 3, 3, ",
    utc!("s.fin - s.run_time"),
    ", ARRAY['node-1', s.worker], ",
    utc!("s.fin - interval '2 minutes'"),
    ", ",
    utc!("s.fin - interval '30 seconds'"),
    ", NULL, ",
    utc!("s.fin"),
    ", NULL, ARRAY[jsonb_build_object('at', s.fin, 'attempt', 3, 'error', s.err)] FROM ({rows}) s"
);

const CANCELLED: &str = concat!(
    "SELECT s.payload, 'cancelled'::oban_job_state, s.kind, s.queue, 0, 0, 20, NULL, NULL, ",
    utc!("s.fin - interval '1 hour'"),
    ", ",
    utc!("s.fin - interval '1 hour'"),
    ", NULL, NULL, ",
    utc!("s.fin"),
    ", '{}' FROM ({rows}) s"
);

const READY: &str = concat!(
    "SELECT s.payload, 'available'::oban_job_state, s.kind, s.queue, 0, 0, 20, NULL, NULL, ",
    utc!("now() - s.r * interval '10 minutes'"),
    ", ",
    utc!("now() - s.r * interval '10 minutes'"),
    ", NULL, NULL, NULL, '{}' FROM ({rows}) s"
);

const SCHEDULED: &str = concat!(
    "SELECT s.payload, 'scheduled'::oban_job_state, s.kind, s.queue, 0, 0, 20, NULL, NULL, ",
    utc!("now() - interval '1 hour'"),
    ", ",
    utc!("now() + s.r * interval '7 days'"),
    ", NULL, NULL, NULL, '{}' FROM ({rows}) s"
);

const RUNNING: &str = concat!(
    "SELECT s.payload, 'executing'::oban_job_state, s.kind, s.queue, 0, 1, 20, ",
    utc!("now() - s.r * interval '2 minutes'"),
    ", ARRAY['node-1', s.worker], ",
    utc!("now() - interval '3 minutes'"),
    ", ",
    utc!("now() - interval '3 minutes'"),
    ", NULL, NULL, NULL, '{}' FROM ({rows}) s"
);

const RETRYING: &str = concat!(
    "SELECT s.payload, 'retryable'::oban_job_state, s.kind, s.queue, 0, 1, 20, ",
    utc!("now() - s.r * interval '1 hour' - s.run_time"),
    ", ARRAY['node-1', s.worker], ",
    utc!("now() - interval '2 hours'"),
    ", ",
    utc!("now() + s.r * interval '1 hour'"),
    ", NULL, NULL, NULL, ARRAY[jsonb_build_object('at', now() - s.r * interval '1 hour', \
     'attempt', 1, 'error', s.err)] FROM ({rows}) s"
);

const BACKLOG: &str = concat!(
    "SELECT s.payload, 'available'::oban_job_state, s.kind, s.queue, 0, 0, 20, NULL, NULL, ",
    utc!("now() - s.r * interval '2 hours'"),
    ", ",
    utc!("now() - s.r * interval '2 hours'"),
    ", NULL, NULL, NULL, '{}' FROM ({rows}) s"
);

const PEERS_SQL: &str = "INSERT INTO oban_peers (name, node, started_at, expires_at) \
    VALUES ('Oban', 'node-1', timezone('UTC', now()) - interval '6 hours', \
            timezone('UTC', now()) + interval '30 seconds')";

pub fn generator() -> Generator {
    Generator {
        backend: BackendKind::Oban,
        schema: "public",
        profile: None,
        ddl: Some(schema_part(FIXTURE)),
        setup: vec![PEERS_SQL],
        tables: vec!["public.oban_jobs".into()],
        buckets: into_one_table(
            INSERT,
            [
                SUCCEEDED, DEAD, CANCELLED, READY, SCHEDULED, RUNNING, RETRYING, BACKLOG,
            ],
        ),
        churn: vec![
            // Oban's pruner: by the time the job finished (each state has its own column).
            "DELETE FROM oban_jobs WHERE state IN ('completed', 'discarded', 'cancelled') \
             AND coalesce(completed_at, discarded_at, cancelled_at) \
                 < timezone('UTC', now()) - interval '29 days 12 hours'",
            "UPDATE oban_jobs SET attempted_at = timezone('UTC', now()) - random() * interval '2 minutes' \
             WHERE state = 'executing'",
        ],
        naive: "SELECT queue, state, count(*) FROM oban_jobs GROUP BY 1, 2".into(),
        note: None,
    }
}
