//! PgQueuer's tables (1.6): `pgqueuer` holds live jobs only (queued, picked, and held
//! failures); a finished job is deleted and its final status goes to `pgqueuer_log`, so the
//! month's finished jobs are log rows there. The entrypoint is the queue (and the kind).
//! The schema is our own text of the one `pgq install` creates (`pgqueuer.sql` here; the
//! tests apply the real package's).

use super::Generator;
use crate::backend::detect::BackendKind;

const DDL: &str = include_str!("pgqueuer.sql");

const JOB: &str = "INSERT INTO pgqueuer (priority, queue_manager_id, created, updated, heartbeat, \
    execute_after, status, entrypoint, payload, attempts) ";

/// A final-status log row per finished job; `job_id` numbered from the jobs' own sequence,
/// as the deleted job had it. The statistics fold has run over all but the last minute.
fn logged(status: &str) -> String {
    format!(
        "INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint, traceback, \
           aggregated) \
         SELECT s.fin, nextval('pgqueuer_id_seq'), '{status}', 0, s.queue, NULL, \
           s.fin < now() - interval '1 minute' \
         FROM ({{rows}}) s"
    )
}

/// A live job: `rest` gives queue_manager_id, created, updated, heartbeat, execute_after,
/// status, then payload and attempts follow.
fn live(rest: &str, attempts: u32) -> String {
    format!(
        "{JOB}SELECT 0, {rest}, s.queue, convert_to(s.payload::text, 'UTF8'), {attempts} \
         FROM ({{rows}}) s"
    )
}

pub fn generator() -> Generator {
    let waiting = |due: &str, attempts| {
        live(
            &format!(
                "NULL, now() - interval '1 hour', now() - interval '1 hour', \
                      now() - interval '1 hour', {due}, 'queued'"
            ),
            attempts,
        )
    };
    Generator {
        backend: BackendKind::PgQueuer,
        schema: "public",
        profile: None,
        ddl: Some(DDL),
        setup: Vec::new(),
        tables: vec!["public.pgqueuer".into(), "public.pgqueuer_log".into()],
        buckets: [
            Some(logged("successful")),
            // Held failures (on_failure="hold"): kept in the table for requeue, with their
            // traceback logged.
            Some(
                "WITH s AS MATERIALIZED (SELECT nextval('pgqueuer_id_seq') AS id, x.* \
                                         FROM ({rows}) x), \
                 j AS (INSERT INTO pgqueuer (id, priority, created, updated, heartbeat, \
                         execute_after, status, entrypoint, payload, attempts) \
                       SELECT s.id, 0, s.fin - interval '2 minutes', s.fin, s.fin, \
                         s.fin - interval '2 minutes', 'failed', s.queue, \
                         convert_to(s.payload::text, 'UTF8'), 2 FROM s) \
                 INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint, \
                   traceback, aggregated) \
                 SELECT s.fin, s.id, 'failed', 0, s.queue, \
                   jsonb_build_object('job_id', s.id, 'exception_type', 'RuntimeError', \
                     'exception_message', s.err, 'traceback', 'Traceback ...', \
                     'additional_context', NULL), true FROM s"
                    .into(),
            ),
            Some(logged("canceled")),
            Some(waiting("now() - s.r * interval '10 minutes'", 0)),
            Some(waiting("now() + s.r * interval '7 days'", 0)),
            Some(live(
                "md5(s.worker)::uuid, now() - interval '3 minutes', \
                 now() - s.r * interval '2 minutes', now() - s.r * interval '5 seconds', \
                 now() - interval '3 minutes', 'picked'",
                0,
            )),
            // Put back by its retry executor: one attempt more, due later.
            Some(waiting("now() + s.r * interval '1 hour'", 1)),
            Some(waiting("now() - s.r * interval '2 hours'", 0)),
        ],
        churn: vec![
            // A retention job trims the log's oldest half-day ...
            "DELETE FROM pgqueuer_log WHERE created < now() - interval '29 days 12 hours'",
            // ... and picked jobs beat.
            "UPDATE pgqueuer SET heartbeat = now() - random() * interval '5 seconds' \
             WHERE status = 'picked'",
        ],
        naive: "SELECT entrypoint, status, count(*) FROM pgqueuer GROUP BY 1, 2 \
                UNION ALL SELECT entrypoint, status, count(*) FROM pgqueuer_log GROUP BY 1, 2"
            .into(),
        note: Some(
            "PgQueuer deletes a finished job and logs its final status in pgqueuer_log: the \
             month's succeeded and cancelled jobs are log rows (one each, its final status; \
             the queued and picked rows PgQueuer also logs are left out), throughput and \
             failures are read from the log, and the dead pile is the held failures \
             (on_failure=\"hold\") kept in the table; the naive count covers table and log",
        ),
    }
}
