//! Per-kind figures from procrastinate's events: a job keeps no start or finish time, its
//! events do (`started`, `succeeded`, `failed`, `deferred_for_retry`, each with its `at`).
//! The window's finishes are the newest `limit` `succeeded` and `failed` events; a run time
//! is a finish less the last start before it; a wait, that start less the last time before
//! it that the job became due (deferred, retried, put back for a retry, or the time it was
//! scheduled for). Failed attempts are `failed` (for good) and `deferred_for_retry` (to be
//! retried) events in the window. With an index on the events' (type, at) each part is an
//! index range; without one, a read of the events table (doctor names the index).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::backend::drill::{
    DeadLetterReport, FailedAttemptsQuery, KindStats, KindsQuery, KindsReport, sort_kinds,
};
use crate::backend::engine::foreign::SchemaKinds;
use crate::backend::pg::decode::{self, opt_text};
use crate::backend::pg::sql::{Bind, Sql};

#[derive(Debug, Clone)]
pub struct EventKinds {
    /// `"schema"."procrastinate_jobs"`.
    pub jobs: String,
    /// `"schema"."procrastinate_events"`.
    pub events: String,
    /// The event types that make a job due, as a SQL list of those the schema has.
    pub due_types: String,
    /// The event types of a failed attempt, likewise.
    pub failed_types: String,
}

impl EventKinds {
    pub fn sql(&self, q: &KindsQuery) -> Sql {
        let mut sql = Sql::default();
        let window = sql.bind(Bind::Float(q.window.duration().as_secs_f64()));
        let limit = sql.bind(Bind::Int(q.limit.max(1)));
        let since = format!("now() - make_interval(secs => {window})");
        let (jobs, events) = (&self.jobs, &self.events);
        sql.push(&format!(
            "WITH fin AS MATERIALIZED ( \
               SELECT e.job_id, e.type::text AS type, e.at FROM {events} e \
               WHERE e.type IN ('succeeded', 'failed') AND e.at >= {since} \
               ORDER BY e.at DESC LIMIT {limit}), \
             f AS ( \
               SELECT j.task_name::text AS kind, \
                 count(*) FILTER (WHERE fin.type = 'succeeded') AS succeeded, \
                 count(*) FILTER (WHERE fin.type = 'failed') AS dead, \
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fin.at - s.at)) \
                   FILTER (WHERE fin.type = 'succeeded' AND s.at IS NOT NULL) AS run_p50, \
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM fin.at - s.at)) \
                   FILTER (WHERE fin.type = 'succeeded' AND s.at IS NOT NULL) AS run_p95, \
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.at - r.at)) \
                   FILTER (WHERE s.at IS NOT NULL AND r.at IS NOT NULL) AS wait_p50 \
               FROM fin JOIN {jobs} j ON j.id = fin.job_id \
               LEFT JOIN LATERAL (SELECT max(x.at) AS at FROM {events} x \
                 WHERE x.job_id = fin.job_id AND x.type = 'started' AND x.at <= fin.at) s ON true \
               LEFT JOIN LATERAL (SELECT max(x.at) AS at FROM {events} x \
                 WHERE x.job_id = fin.job_id AND x.type IN ({due}) AND x.at <= s.at) r ON true \
               GROUP BY 1), \
             e AS ( \
               SELECT j.task_name::text AS kind, count(*) AS failed_attempts \
               FROM (SELECT x.job_id FROM {events} x \
                 WHERE x.type IN ({failed}) AND x.at >= {since} \
                 ORDER BY x.at DESC LIMIT {limit}) x \
               JOIN {jobs} j ON j.id = x.job_id GROUP BY 1) \
             SELECT now() AS db_now, substr(coalesce(f.kind, e.kind), 1, 200) AS kind, \
               coalesce(f.succeeded, 0) AS succeeded, coalesce(f.dead, 0) AS dead, \
               coalesce(e.failed_attempts, 0) AS failed_attempts, \
               f.run_p50, f.run_p95, f.wait_p50, \
               (SELECT CASE WHEN count(*) >= {limit} THEN min(fin.at) END FROM fin) AS fin_since \
             FROM f FULL JOIN e ON e.kind = f.kind",
            due = self.due_types,
            failed = self.failed_types,
        ));
        sql
    }
}

impl EventKinds {
    /// A kind's failed attempts: its jobs' failure events of the window, newest first on
    /// the events' (type, at) order. procrastinate keeps no error text, so an attempt's
    /// message is what its event says: failed for good, or put back for a retry.
    pub fn attempts_sql(&self, q: &FailedAttemptsQuery) -> Sql {
        let mut sql = Sql::default();
        let window = sql.bind(Bind::Float(q.window.duration().as_secs_f64()));
        let kind = sql.bind(Bind::Text(Some(q.kind.clone())));
        let limit = sql.bind(Bind::Int(q.limit.max(1)));
        let since = format!("now() - make_interval(secs => {window})");
        let (jobs, events) = (&self.jobs, &self.events);
        sql.push(&format!(
            "WITH att AS MATERIALIZED (                SELECT j.id::text AS id, j.queue_name::text AS queue, j.task_name::text AS kind,                  x.type::text || ' (procrastinate keeps no error text)' AS message,                  x.at AS seen                FROM {events} x JOIN {jobs} j ON j.id = x.job_id                WHERE x.type IN ({failed}) AND x.at >= {since} AND j.task_name = {kind}                ORDER BY x.at DESC LIMIT {limit})              SELECT now() AS db_now, substr(a.queue, 1, 200) AS queue,                substr(a.kind, 1, 200) AS kind, a.message,                min(a.seen) AS first_seen, max(a.seen) AS last_seen,                array_agg(a.id ORDER BY a.seen DESC) AS ids,                (SELECT count(*) FROM att) AS jobs, (SELECT min(seen) FROM att) AS oldest              FROM att a GROUP BY a.queue, a.kind, a.message",
            failed = self.failed_types,
        ));
        sql
    }
}

#[async_trait]
impl SchemaKinds for EventKinds {
    async fn failed_attempts(
        &self,
        pool: &PgPool,
        q: &FailedAttemptsQuery,
    ) -> anyhow::Result<DeadLetterReport> {
        let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
        let rows = self.attempts_sql(q).query().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        decode::dead_letter_report(&rows, &q.as_dead_letters(), db_now)
    }

    async fn kinds(&self, pool: &PgPool, q: &KindsQuery) -> anyhow::Result<KindsReport> {
        let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
        let rows = self.sql(q).query().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut covered_since: Option<DateTime<Utc>> = None;
        let mut kinds = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(t) = row.try_get::<Option<DateTime<Utc>>, _>("fin_since")? {
                covered_since = Some(t);
            }
            kinds.push(KindStats {
                kind: opt_text(row, "kind")?.unwrap_or_default(),
                succeeded: row.try_get("succeeded")?,
                failed_attempts: row.try_get("failed_attempts")?,
                dead: row.try_get("dead")?,
                run_p50: row.try_get("run_p50")?,
                run_p95: row.try_get("run_p95")?,
                wait_p50: row.try_get("wait_p50")?,
            });
        }
        sort_kinds(&mut kinds);
        Ok(KindsReport {
            db_now,
            window: q.window,
            kinds,
            covered_since,
            counted_by_hour: false,
        })
    }
}
