//! The shipped `jobforge` profile's table (`jobforge_jobs`, the DDL its fixture holds): the
//! job type is the queue (and the kind), finished jobs keep their row with `finished_at`
//! (the runbook's cleanup trims them by age), running ones are locked by one of 200
//! workers, each beating in its job's `heartbeat_at`. The table has no cancelled status:
//! none are generated.

use super::{Generator, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/jobforge.sql");

/// Columns after the fixed ones: status, attempts, run_at, locked_by, locked_at,
/// heartbeat_at, started_at, finished_at, error, created_at.
fn bucket(rest: &str) -> Option<String> {
    Some(format!(
        "INSERT INTO jobforge_jobs (tenant_id, type, payload, status, attempts, run_at, \
           locked_by, locked_at, heartbeat_at, started_at, finished_at, error, created_at, \
           updated_at) \
         SELECT x.tenant, x.queue, x.payload, x.status, x.attempts, x.run_at, x.locked_by, \
           x.locked_at, x.heartbeat_at, x.started_at, x.finished_at, x.error, x.created_at, \
           coalesce(x.finished_at, x.heartbeat_at, x.created_at) \
         FROM (SELECT s.tenant, s.queue, s.payload, {rest} FROM ({{rows}}) s) \
           AS x (tenant, queue, payload, status, attempts, run_at, locked_by, locked_at, \
                 heartbeat_at, started_at, finished_at, error, created_at)"
    ))
}

pub fn generator() -> Generator {
    let error = "jsonb_build_object('message', s.err)";
    Generator {
        backend: BackendKind::Mapped,
        schema: "public",
        profile: Some("jobforge"),
        ddl: Some(schema_part(FIXTURE)),
        setup: Vec::new(),
        tables: vec!["public.jobforge_jobs".into()],
        buckets: [
            bucket(
                "'succeeded', 1, s.fin - s.run_time - interval '40 seconds', s.worker, \
                 s.fin - s.run_time, s.fin, s.fin - s.run_time, s.fin, NULL::jsonb, \
                 s.fin - s.run_time - interval '45 seconds'",
            ),
            bucket(&format!(
                "'dead', 5, s.fin - interval '30 seconds', s.worker, s.fin - s.run_time, s.fin, \
                 s.fin - s.run_time, s.fin, {error}, s.fin - interval '2 hours'"
            )),
            None,
            bucket(
                "'queued', 0, now() - s.r * interval '10 minutes', NULL, NULL::timestamptz, \
                 NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb, \
                 now() - s.r * interval '10 minutes'",
            ),
            bucket(
                "'queued', 0, now() + s.r * interval '7 days', NULL, NULL::timestamptz, \
                 NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb, \
                 now() - interval '1 hour'",
            ),
            bucket(
                "'running', 1, now() - interval '3 minutes', s.worker, \
                 now() - s.r * interval '2 minutes', now() - s.r * interval '10 seconds', \
                 now() - s.r * interval '2 minutes', NULL::timestamptz, NULL::jsonb, \
                 now() - interval '3 minutes'",
            ),
            bucket(&format!(
                "'queued', 1, now() + s.r * interval '1 hour', NULL, NULL::timestamptz, \
                 NULL::timestamptz, now() - s.r * interval '1 hour' - s.run_time, \
                 NULL::timestamptz, {error}, now() - interval '2 hours'"
            )),
            bucket(
                "'queued', 0, now() - s.r * interval '2 hours', NULL, NULL::timestamptz, \
                 NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb, \
                 now() - s.r * interval '2 hours'",
            ),
        ],
        churn: vec![
            // The runbook's cleanup: finished jobs older than the retention ...
            "DELETE FROM jobforge_jobs WHERE status IN ('succeeded', 'dead', 'failed') \
             AND finished_at < now() - interval '29 days 12 hours'",
            // ... and running jobs beat.
            "UPDATE jobforge_jobs SET heartbeat_at = now() - random() * interval '10 seconds' \
             WHERE status = 'running'",
        ],
        naive: "SELECT type, status, count(*) FROM jobforge_jobs GROUP BY 1, 2".into(),
        note: None,
    }
}
