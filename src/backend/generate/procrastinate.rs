//! procrastinate's tables: `procrastinate_jobs` and its `procrastinate_events` (the times
//! live there: each job's deferral, start and end, as procrastinate's triggers write them),
//! 200 workers (four of them silent for ten minutes). The schema is our own text of the one
//! procrastinate ships (`procrastinate.sql` here; the tests apply the real package's).

use super::Generator;
use crate::backend::detect::BackendKind;

const DDL: &str = include_str!("procrastinate.sql");

/// A job and its events in one statement: `status`, `scheduled_at`, `attempts`, `worker`
/// are the job's columns; `events` the `(type, at)` rows procrastinate would have written.
fn bucket(status: &str, scheduled_at: &str, attempts: u32, worker: &str, events: &str) -> String {
    format!(
        "WITH s AS MATERIALIZED (SELECT nextval('procrastinate_jobs_id_seq') AS id, x.* \
                                 FROM ({{rows}}) x), \
         j AS (INSERT INTO procrastinate_jobs (id, queue_name, task_name, args, status, \
                 scheduled_at, attempts, worker_id) \
               SELECT s.id, s.queue, s.kind, s.payload, '{status}', {scheduled_at}, {attempts}, \
                 {worker} FROM s) \
         INSERT INTO procrastinate_events (job_id, type, at) \
         SELECT s.id, e.type::procrastinate_job_event_type, e.at \
         FROM s CROSS JOIN LATERAL (VALUES {events}) AS e (type, at)"
    )
}

pub fn generator() -> Generator {
    let started = "s.fin - s.run_time";
    let deferred = "s.fin - s.run_time - interval '40 seconds'";
    Generator {
        backend: BackendKind::Procrastinate,
        schema: "public",
        profile: None,
        ddl: Some(DDL),
        setup: vec![
            "INSERT INTO procrastinate_workers (last_heartbeat) \
             SELECT CASE WHEN w % 50 = 0 THEN now() - interval '10 minutes' ELSE now() END \
             FROM generate_series(1, 200) w WHERE cardinality($1::text[]) > 0",
        ],
        tables: vec![
            "public.procrastinate_jobs".into(),
            "public.procrastinate_events".into(),
        ],
        buckets: [
            Some(bucket(
                "succeeded",
                "NULL",
                1,
                "NULL",
                &format!("('deferred', {deferred}), ('started', {started}), ('succeeded', s.fin)"),
            )),
            Some(bucket(
                "failed",
                "NULL",
                3,
                "NULL",
                "('deferred', s.fin - interval '2 minutes'), \
                 ('started', s.fin - interval '100 seconds'), \
                 ('deferred_for_retry', s.fin - interval '90 seconds'), \
                 ('started', s.fin - s.run_time), ('failed', s.fin)",
            )),
            Some(bucket(
                "cancelled",
                "NULL",
                0,
                "NULL",
                "('deferred', s.fin - interval '1 hour'), ('cancelled', s.fin)",
            )),
            Some(bucket(
                "todo",
                "NULL",
                0,
                "NULL",
                "('deferred', now() - s.r * interval '10 minutes')",
            )),
            Some(bucket(
                "todo",
                "now() + s.r * interval '7 days'",
                0,
                "NULL",
                "('deferred', now() - interval '1 hour'), ('scheduled', now() - interval '1 hour')",
            )),
            Some(bucket(
                "doing",
                "NULL",
                1,
                "1 + s.g % 200",
                "('deferred', now() - interval '3 minutes'), \
                 ('started', now() - s.r * interval '2 minutes')",
            )),
            Some(bucket(
                "todo",
                "now() + s.r * interval '1 hour'",
                1,
                "NULL",
                "('deferred', now() - interval '2 hours'), \
                 ('started', now() - s.r * interval '1 hour' - s.run_time), \
                 ('deferred_for_retry', now() - s.r * interval '1 hour')",
            )),
            Some(bucket(
                "todo",
                "NULL",
                0,
                "NULL",
                "('deferred', now() - s.r * interval '2 hours')",
            )),
        ],
        churn: vec![
            // procrastinate's remove_old_jobs: finished jobs go with their events.
            "DELETE FROM procrastinate_jobs j WHERE j.status IN ('succeeded', 'failed', 'cancelled') \
             AND j.id IN (SELECT e.job_id FROM procrastinate_events e \
                          WHERE e.type IN ('succeeded', 'failed', 'cancelled') \
                            AND e.at < now() - interval '29 days 12 hours')",
            "UPDATE procrastinate_workers SET last_heartbeat = now() WHERE id % 50 <> 0",
        ],
        naive: "SELECT queue_name, status, count(*) FROM procrastinate_jobs GROUP BY 1, 2".into(),
        note: None,
    }
}
