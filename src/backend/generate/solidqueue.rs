//! Solid Queue's tables (times naive UTC, as Rails writes them) (1.x, as its `queue_schema.rb` loads them): `solid_queue_jobs`
//! with one execution row per unfinished job in the table that is its state (ready,
//! scheduled, claimed by a worker, failed), succeeded jobs kept with their `finished_at`
//! (`preserve_finished_jobs`, the default), ten worker processes under a supervisor (one
//! silent for ten minutes) and "video" paused. Solid Queue retries by enqueueing a new job
//! and has no cancelled state: no retrying or cancelled rows.

use super::{Generator, schema_part};
use crate::backend::detect::BackendKind;

const FIXTURE: &str = include_str!("../../../tests/fixtures/solidqueue.sql");

/// A job and, unless `execution` is empty, its execution row in one statement.
/// `scheduled`, `finished`, `created` are the job's times (timestamptz expressions).
fn bucket(scheduled: &str, finished: &str, created: &str, execution: &str) -> String {
    let job = format!(
        "INSERT INTO solid_queue_jobs (id, queue_name, class_name, arguments, priority, \
           active_job_id, scheduled_at, finished_at, created_at, updated_at) \
         SELECT s.id, s.queue, s.kind, s.payload::text, 0, md5(s.g::text || s.id)::uuid::text, \
           timezone('UTC', {scheduled}), timezone('UTC', {finished}), timezone('UTC', {created}), \
           timezone('UTC', coalesce({finished}, {created})) FROM s"
    );
    let numbered = "WITH s AS MATERIALIZED (SELECT nextval('solid_queue_jobs_id_seq') AS id, x.* \
                    FROM ({rows}) x)";
    if execution.is_empty() {
        format!("{numbered} {job}")
    } else {
        format!("{numbered}, j AS ({job}) {execution}")
    }
}

pub fn generator() -> Generator {
    let ready = |due: &str| {
        bucket(
            due,
            "NULL::timestamptz",
            due,
            &format!(
                "INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, \
                 created_at) SELECT s.id, s.queue, 0, timezone('UTC', {due}) FROM s"
            ),
        )
    };
    Generator {
        backend: BackendKind::SolidQueue,
        schema: "public",
        profile: None,
        ddl: Some(schema_part(FIXTURE)),
        setup: vec![
            "INSERT INTO solid_queue_processes (kind, last_heartbeat_at, supervisor_id, pid, \
               hostname, metadata, created_at, name) \
             SELECT CASE WHEN w = 0 THEN 'Supervisor(fork)' ELSE 'Worker' END, \
               timezone('UTC', now() - CASE WHEN w = 7 THEN interval '10 minutes' \
                                            ELSE interval '5 seconds' END), \
               CASE WHEN w > 0 THEN 1 END, 4000 + w, 'app-' || (w % 3), \
               '{\"polling_interval\":0.1,\"queues\":\"*\",\"thread_pool_size\":40}', \
               timezone('UTC', now() - interval '1 day'), 'process-' || w \
             FROM generate_series(0, 10) w WHERE cardinality($1::text[]) > 0",
            "INSERT INTO solid_queue_pauses (queue_name, created_at) \
             SELECT q, timezone('UTC', now() - interval '20 minutes') FROM unnest($1::text[]) q \
             WHERE q = 'video'",
        ],
        tables: [
            "solid_queue_jobs",
            "solid_queue_ready_executions",
            "solid_queue_scheduled_executions",
            "solid_queue_claimed_executions",
            "solid_queue_failed_executions",
        ]
        .iter()
        .map(|t| format!("public.{t}"))
        .collect(),
        buckets: [
            Some(bucket(
                "s.fin - s.run_time - interval '5 seconds'",
                "s.fin",
                "s.fin - s.run_time - interval '5 seconds'",
                "",
            )),
            Some(bucket(
                "s.fin - interval '2 minutes'",
                "NULL::timestamptz",
                "s.fin - interval '2 minutes'",
                "INSERT INTO solid_queue_failed_executions (job_id, error, created_at) \
                 SELECT s.id, jsonb_build_object('exception_class', 'RuntimeError', \
                   'message', s.err, 'backtrace', jsonb_build_array('app/jobs/job.rb:12'))::text, \
                   timezone('UTC', s.fin) FROM s",
            )),
            None,
            Some(ready("now() - s.r * interval '10 minutes'")),
            Some(bucket(
                "now() + s.r * interval '7 days'",
                "NULL::timestamptz",
                "now() - interval '1 hour'",
                "INSERT INTO solid_queue_scheduled_executions (job_id, queue_name, priority, \
                   scheduled_at, created_at) \
                 SELECT s.id, s.queue, 0, timezone('UTC', now() + s.r * interval '7 days'), \
                   timezone('UTC', now() - interval '1 hour') FROM s",
            )),
            Some(bucket(
                "now() - interval '3 minutes'",
                "NULL::timestamptz",
                "now() - interval '3 minutes'",
                "INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at) \
                 SELECT s.id, 2 + s.g % 10, timezone('UTC', now() - s.r * interval '2 minutes') \
                 FROM s",
            )),
            None,
            Some(ready("now() - s.r * interval '2 hours'")),
        ],
        churn: vec![
            // clear_finished_jobs: the oldest half-day of finished jobs goes ...
            "DELETE FROM solid_queue_jobs WHERE finished_at < \
             timezone('UTC', now() - interval '29 days 12 hours')",
            // ... and the processes beat.
            "UPDATE solid_queue_processes SET last_heartbeat_at = timezone('UTC', now()) \
             WHERE id <> 8",
        ],
        naive: "SELECT j.queue_name, CASE WHEN j.finished_at IS NOT NULL THEN 'finished' \
                  WHEN f.job_id IS NOT NULL THEN 'failed' WHEN c.job_id IS NOT NULL THEN 'claimed' \
                  WHEN r.job_id IS NOT NULL THEN 'ready' ELSE 'scheduled' END, count(*) \
                FROM solid_queue_jobs j \
                LEFT JOIN solid_queue_failed_executions f ON f.job_id = j.id \
                LEFT JOIN solid_queue_claimed_executions c ON c.job_id = j.id \
                LEFT JOIN solid_queue_ready_executions r ON r.job_id = j.id \
                GROUP BY 1, 2"
            .into(),
        note: None,
    }
}
