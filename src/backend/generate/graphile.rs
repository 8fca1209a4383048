//! graphile-worker's table (`_private_jobs`, 0.16 on): graphile deletes a job when it
//! succeeds, so the table holds what it keeps of the same month: the live jobs and the
//! jobs out of attempts (dead), none succeeded or cancelled. Jobs have no named queue (the
//! common case); the monitor groups them by task, one task per kind.

use super::{Generator, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/graphile.sql");

const INSERT: &str = "INSERT INTO graphile_worker._private_jobs (task_id, payload, priority, \
    run_at, attempts, max_attempts, last_error, created_at, updated_at, locked_at, locked_by) ";

/// The task of a row's kind.
const TASK: &str =
    "(SELECT t.id FROM graphile_worker._private_tasks t WHERE t.identifier = s.kind)";

pub fn generator() -> Generator {
    let bucket = |rest: &str| {
        Some(format!(
            "{INSERT}SELECT {TASK}, s.payload::json, 0, {rest} FROM ({{rows}}) s"
        ))
    };
    Generator {
        backend: BackendKind::Graphile,
        schema: "graphile_worker",
        profile: None,
        ddl: Some(schema_part(FIXTURE)),
        setup: vec![
            "INSERT INTO graphile_worker._private_tasks (identifier) SELECT unnest($2::text[])",
        ],
        tables: vec!["graphile_worker._private_jobs".into()],
        buckets: [
            None,
            bucket(
                "s.fin - interval '30 seconds', 25, 25, s.err, s.fin - interval '2 hours', s.fin, \
                 NULL, NULL",
            ),
            None,
            bucket(
                "now() - s.r * interval '10 minutes', 0, 25, NULL, \
                 now() - s.r * interval '10 minutes', now() - s.r * interval '10 minutes', NULL, NULL",
            ),
            bucket(
                "now() + s.r * interval '7 days', 0, 25, NULL, now() - interval '1 hour', \
                 now() - interval '1 hour', NULL, NULL",
            ),
            bucket(
                "now() - interval '3 minutes', 1, 25, NULL, now() - interval '3 minutes', \
                 now() - s.r * interval '2 minutes', now() - s.r * interval '2 minutes', s.worker",
            ),
            bucket(
                "now() + s.r * interval '1 hour', 1, 25, s.err, now() - interval '2 hours', \
                 now() - s.r * interval '1 hour', NULL, NULL",
            ),
            bucket(
                "now() - s.r * interval '2 hours', 0, 25, NULL, now() - s.r * interval '2 hours', \
                 now() - s.r * interval '2 hours', NULL, NULL",
            ),
        ],
        churn: vec![
            // Workers finish ready jobs (graphile deletes them) ...
            "DELETE FROM graphile_worker._private_jobs WHERE id IN (SELECT id \
             FROM graphile_worker._private_jobs WHERE attempts = 0 AND run_at <= now() \
             AND locked_at IS NULL ORDER BY id LIMIT 100)",
            // ... and the old dead ones get cleaned up by an operator now and then.
            "DELETE FROM graphile_worker._private_jobs WHERE attempts >= max_attempts \
             AND updated_at < now() - interval '29 days 12 hours'",
        ],
        naive: "SELECT task_identifier, locked_at IS NOT NULL AS running, \
                attempts >= max_attempts AS dead, count(*) FROM graphile_worker.jobs \
                GROUP BY 1, 2, 3"
            .into(),
        note: Some(
            "graphile-worker deletes a job when it succeeds: the table holds the live and dead \
             jobs of the month (no succeeded or cancelled rows), so there is no throughput to \
             read and the kinds view has only failures; the naive count covers those rows",
        ),
    }
}
