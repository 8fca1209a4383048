//! pg-boss 12's table: every queue in the shared partition `job_common` (pg-boss's default,
//! `partition: false`), its queues in `queue` with the retention raised to 30 days
//! (`deletion_seconds`; pg-boss's default keeps finished jobs 7 days).

use super::{Generator, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/pgboss.sql");

const INSERT: &str = "INSERT INTO pgboss.job (data, state, name, policy, retry_limit, \
    retry_count, started_on, created_on, start_after, completed_on, output, keep_until, \
    deletion_seconds) ";

/// Kept 30 days after it finished.
const KEEP: &str = "s.fin + interval '30 days', 2592000";

const SUCCEEDED: &str = "SELECT s.payload, 'completed'::pgboss.job_state, s.queue, 'standard', 2, 0, \
    s.fin - s.run_time, s.fin - s.run_time - interval '45 seconds', \
    s.fin - s.run_time - interval '40 seconds', s.fin, NULL, ";

const DEAD: &str = "SELECT s.payload, 'failed'::pgboss.job_state, s.queue, 'standard', 2, 2, \
    s.fin - s.run_time, s.fin - interval '2 minutes', s.fin - interval '30 seconds', s.fin, \
    jsonb_build_object('message', s.err), ";

const CANCELLED: &str = "SELECT s.payload, 'cancelled'::pgboss.job_state, s.queue, 'standard', 2, 0, \
    NULL, s.fin - interval '1 hour', s.fin - interval '1 hour', s.fin, NULL, ";

const READY: &str = "SELECT s.payload, 'created'::pgboss.job_state, s.queue, 'standard', 2, 0, \
    NULL, now() - s.r * interval '10 minutes', now() - s.r * interval '10 minutes', NULL, NULL, ";

const SCHEDULED: &str = "SELECT s.payload, 'created'::pgboss.job_state, s.queue, 'standard', 2, 0, \
    NULL, now() - interval '1 hour', now() + s.r * interval '7 days', NULL, NULL, ";

const RUNNING: &str = "SELECT s.payload, 'active'::pgboss.job_state, s.queue, 'standard', 2, 0, \
    now() - s.r * interval '2 minutes', now() - interval '3 minutes', now() - interval '3 minutes', \
    NULL, NULL, ";

const RETRYING: &str = "SELECT s.payload, 'retry'::pgboss.job_state, s.queue, 'standard', 2, 1, \
    now() - s.r * interval '1 hour' - s.run_time, now() - interval '2 hours', \
    now() + s.r * interval '1 hour', NULL, jsonb_build_object('message', s.err), ";

const BACKLOG: &str = "SELECT s.payload, 'created'::pgboss.job_state, s.queue, 'standard', 2, 0, \
    NULL, now() - s.r * interval '2 hours', now() - s.r * interval '2 hours', NULL, NULL, ";

/// The queues as `createQueue` leaves them (the shared partition; "video" has no pause in
/// pg-boss).
const QUEUES_SQL: &str = "INSERT INTO pgboss.queue (name, policy, retry_limit, retry_delay, \
    retry_backoff, expire_seconds, retention_seconds, deletion_seconds, partition, table_name) \
    SELECT q, 'standard', 2, 0, false, 900, 1209600, 2592000, false, 'job_common' \
    FROM unnest($1::text[]) q";

pub fn generator() -> Generator {
    // Finished jobs are kept from their finish, live ones from now.
    let bucket = |select: &str, from: &str| {
        Some(format!(
            "{INSERT}{select}{} FROM ({{rows}}) s",
            KEEP.replace("s.fin", from)
        ))
    };
    Generator {
        backend: BackendKind::PgBoss,
        schema: "pgboss",
        profile: None,
        ddl: Some(schema_part(FIXTURE)),
        setup: vec![QUEUES_SQL],
        tables: vec!["pgboss.job_common".into()],
        buckets: [
            bucket(SUCCEEDED, "s.fin"),
            bucket(DEAD, "s.fin"),
            bucket(CANCELLED, "s.fin"),
            bucket(READY, "now()"),
            bucket(SCHEDULED, "now()"),
            bucket(RUNNING, "now()"),
            bucket(RETRYING, "now()"),
            bucket(BACKLOG, "now()"),
        ],
        churn: vec![
            // pg-boss's maintenance deletes jobs whose keep_until has passed.
            "DELETE FROM pgboss.job WHERE state IN ('completed', 'failed', 'cancelled') \
             AND completed_on < now() - interval '29 days 12 hours'",
            "UPDATE pgboss.job SET heartbeat_on = now() - random() * interval '10 seconds' \
             WHERE state = 'active'",
        ],
        naive: "SELECT name, state, count(*) FROM pgboss.job GROUP BY 1, 2".into(),
        note: None,
    }
}
