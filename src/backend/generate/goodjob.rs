//! good_job's tables (4.x, as its install migration creates them): `good_jobs`, whose
//! state is its columns (`performed_at`, `finished_at`, `error`, `scheduled_at`), ten
//! processes (one silent for ten minutes) holding the running jobs' locks, and an
//! execution row for each failed attempt (the dead jobs' last and the retrying jobs'
//! first). good_job has no cancelled state. Times are naive UTC, as Rails writes them.

use super::{Generator, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/goodjob.sql");

/// Process `n`'s id.
const PROCESS: &str = "md5('process-' || (1 + s.g % 10))::uuid";

/// Jobs numbered first (`s.id`), so an execution can refer to its job.
const NUMBERED: &str =
    "WITH s AS MATERIALIZED (SELECT gen_random_uuid() AS id, x.* FROM ({rows}) x)";

/// A job: `times` gives scheduled_at, performed_at, finished_at (timestamptz expressions),
/// then error, error_event, executions_count, locked_by_id.
fn job(times: [&str; 3], error: &str, event: &str, executions: u32, locked_by: &str) -> String {
    let [scheduled, performed, finished] = times;
    format!(
        "INSERT INTO good_jobs (id, active_job_id, queue_name, priority, serialized_params, \
           scheduled_at, performed_at, finished_at, error, error_event, created_at, updated_at, \
           job_class, executions_count, locked_by_id, locked_at, lock_type) \
         SELECT s.id, s.id, s.queue, 0, \
           jsonb_build_object('job_class', s.kind, 'job_id', s.id, 'queue_name', s.queue, \
             'arguments', jsonb_build_array(s.payload), 'executions', {executions}), \
           timezone('UTC', {scheduled}), timezone('UTC', {performed}), \
           timezone('UTC', {finished}), {error}, {event}, timezone('UTC', {scheduled}), \
           timezone('UTC', coalesce({finished}, {performed}, {scheduled})), s.kind, \
           {executions}, {locked_by}, \
           CASE WHEN {locked_by} IS NOT NULL THEN timezone('UTC', {performed}) END, \
           CASE WHEN {locked_by} IS NOT NULL THEN 0 END \
         FROM s"
    )
}

/// A failed attempt's execution, started at `started`, ended at `ended` (timestamptz).
fn failed_execution(started: &str, ended: &str, event: u32) -> String {
    format!(
        "INSERT INTO good_job_executions (created_at, updated_at, active_job_id, job_class, \
           queue_name, serialized_params, scheduled_at, finished_at, error, error_event, \
           error_backtrace, process_id, duration) \
         SELECT timezone('UTC', {started}), timezone('UTC', {ended}), s.id, s.kind, s.queue, \
           NULL, timezone('UTC', {started}), timezone('UTC', {ended}), \
           'RuntimeError: ' || s.err, {event}, ARRAY['app/jobs/job.rb:12:in `perform'''], \
           {PROCESS}, {ended} - {started} \
         FROM s"
    )
}

pub fn generator() -> Generator {
    let plain = |times, executions, locked_by| {
        Some(format!(
            "{NUMBERED} {}",
            job(times, "NULL", "NULL", executions, locked_by)
        ))
    };
    let null = "NULL::timestamptz";
    Generator {
        backend: BackendKind::GoodJob,
        schema: "public",
        profile: None,
        ddl: Some(schema_part(FIXTURE)),
        setup: vec![
            "INSERT INTO good_job_processes (id, created_at, updated_at, state, lock_type) \
             SELECT md5('process-' || w)::uuid, timezone('UTC', now() - interval '1 day'), \
               timezone('UTC', now() - CASE WHEN w = 7 THEN interval '10 minutes' \
                                            ELSE interval '10 seconds' END), \
               jsonb_build_object('hostname', 'app-' || (w % 3), 'pid', 5000 + w, \
                 'proctitle', 'good_job'), 0 \
             FROM generate_series(1, 10) w WHERE cardinality($1::text[]) > 0",
            "INSERT INTO good_job_settings (created_at, updated_at, key, value) \
             SELECT timezone('UTC', now() - interval '20 minutes'), \
               timezone('UTC', now() - interval '20 minutes'), 'pauses', \
               jsonb_build_object('queues', jsonb_build_array('video'), \
                 'job_classes', '[]'::jsonb, 'labels', '[]'::jsonb) \
             WHERE cardinality($1::text[]) > 0",
        ],
        tables: vec![
            "public.good_jobs".into(),
            "public.good_job_executions".into(),
        ],
        buckets: [
            plain(
                [
                    "s.fin - s.run_time - interval '5 seconds'",
                    "s.fin - s.run_time",
                    "s.fin",
                ],
                1,
                "NULL::uuid",
            ),
            // Discarded: out of retries (retry_stopped), its last attempt's execution kept.
            Some(format!(
                "{NUMBERED}, j AS ({}) {}",
                job(
                    [
                        "s.fin - interval '2 minutes'",
                        "s.fin - s.run_time",
                        "s.fin"
                    ],
                    "'RuntimeError: ' || s.err",
                    "4",
                    3,
                    "NULL::uuid",
                ),
                failed_execution("s.fin - s.run_time", "s.fin", 4),
            )),
            None,
            plain(
                ["now() - s.r * interval '10 minutes'", null, null],
                0,
                "NULL::uuid",
            ),
            plain(
                ["now() + s.r * interval '7 days'", null, null],
                0,
                "NULL::uuid",
            ),
            plain(
                [
                    "now() - interval '3 minutes'",
                    "now() - s.r * interval '2 minutes'",
                    null,
                ],
                1,
                PROCESS,
            ),
            // Re-enqueued in place for a retry, its error kept (retried).
            Some(format!(
                "{NUMBERED}, j AS ({}) {}",
                job(
                    ["now() + s.r * interval '1 hour'", null, null],
                    "'RuntimeError: ' || s.err",
                    "3",
                    1,
                    "NULL::uuid",
                ),
                failed_execution(
                    "now() - s.r * interval '1 hour' - s.run_time",
                    "now() - s.r * interval '1 hour'",
                    3
                ),
            )),
            plain(
                ["now() - s.r * interval '2 hours'", null, null],
                0,
                "NULL::uuid",
            ),
        ],
        churn: vec![
            // good_job's cleanup of preserved jobs: the oldest half-day of finished ones ...
            "DELETE FROM good_jobs WHERE finished_at < \
             timezone('UTC', now() - interval '29 days 12 hours')",
            "DELETE FROM good_job_executions WHERE finished_at < \
             timezone('UTC', now() - interval '29 days 12 hours')",
            // ... and the live processes refresh their records.
            "UPDATE good_job_processes SET updated_at = timezone('UTC', now()) \
             WHERE id <> md5('process-7')::uuid",
        ],
        naive: "SELECT queue_name, CASE WHEN finished_at IS NOT NULL THEN \
                  CASE WHEN error IS NULL THEN 'succeeded' ELSE 'discarded' END \
                  WHEN performed_at IS NOT NULL THEN 'running' \
                  WHEN scheduled_at > timezone('UTC', now()) THEN 'scheduled' \
                  ELSE 'queued' END, count(*) FROM good_jobs GROUP BY 1, 2"
            .into(),
        note: Some(
            "good_job_executions holds the failed attempts only (the dead jobs' last and the \
             retrying jobs' first): the executions of succeeded attempts are left out",
        ),
    }
}
