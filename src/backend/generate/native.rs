//! A realistic reference-schema table for the benchmark, written set-based: about 97% of the
//! jobs finished over the last 30 days, the rest live across 20 queues and 50 kinds (most of
//! them scheduled for later, 2% ready, 5% retrying, up to 400 running), 200 workers, and
//! optionally a backlog of ready jobs piled up in a few queues.
//!
//! The secondary indexes are dropped while rows go in and built again afterwards (a bulk
//! build is several times faster than maintaining seven indexes row by row), from the
//! definitions the catalog holds, so they are exactly the migration's.

use std::time::Instant;

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, PgPool};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureSpec {
    /// Jobs in the table, backlog not included.
    pub rows: i64,
    /// Extra ready jobs piled up in three queues.
    pub backlog: i64,
}

/// What was generated, per display bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FixtureCounts {
    pub succeeded: i64,
    pub dead: i64,
    pub cancelled: i64,
    pub ready: i64,
    pub scheduled: i64,
    pub running: i64,
    pub retrying: i64,
    pub backlog: i64,
}

impl FixtureCounts {
    pub fn for_spec(spec: FixtureSpec) -> FixtureCounts {
        let live = spec.rows * 3 / 100;
        let finished = spec.rows - live;
        let dead = finished * 15 / 1000;
        let cancelled = finished * 5 / 1000;
        // Healthy: a few minutes' worth ready, workers busy, some jobs backing off after a
        // failure, and most live jobs scheduled for later (reminders, digests, retries of
        // whole batches).
        let running = (live / 10).min(400);
        let ready = live * 2 / 100;
        let retrying = live * 5 / 100;
        FixtureCounts {
            succeeded: finished - dead - cancelled,
            dead,
            cancelled,
            ready,
            scheduled: live - running - retrying - ready,
            running,
            retrying,
            backlog: spec.backlog,
        }
    }

    pub fn total(&self) -> i64 {
        self.succeeded
            + self.dead
            + self.cancelled
            + self.ready
            + self.scheduled
            + self.running
            + self.retrying
            + self.backlog
    }
}

pub const QUEUES: [&str; 20] = [
    "default",
    "mailers",
    "webhooks",
    "reports",
    "billing",
    "search_index",
    "thumbnails",
    "exports",
    "imports",
    "notifications",
    "sms",
    "push",
    "analytics",
    "cleanup",
    "payments",
    "invoices",
    "crm_sync",
    "etl",
    "video",
    "audit",
];

/// Queues the backlog variant piles ready jobs into.
pub const BACKLOG_QUEUES: [&str; 3] = ["mailers", "webhooks", "exports"];

const NOUNS: [&str; 5] = ["email", "report", "invoice", "image", "account"];
const VERBS: [&str; 10] = [
    "send", "build", "sync", "index", "resize", "charge", "refund", "notify", "export", "import",
];

const ERRORS: [&str; 8] = [
    "timeout after 30s waiting for upstream",
    "connection refused (upstream returned 502)",
    "rate limited by provider, retry after 60s",
    "record not found: customer 4711",
    "KeyError: 'customer_id'",
    "deadlock detected",
    "SMTP 451 4.7.1 temporary failure, try again later",
    "invalid payload: missing field `amount`",
];

/// Per row: a queue (skewed: the first queues are the busiest), a kind from that queue's
/// handful, a tenant, a payload, a finish time over the last 30 days, and a run time.
/// `$1` rows; `$2` queues, `$3` kinds, `$4` error messages.
const ROW_SOURCE: &str = r#"
SELECT g,
       ($2::text[])[1 + qi] AS queue,
       ($3::text[])[1 + (qi * 7 + floor(random() * 6)::int) % 50] AS kind,
       'tenant-' || (g % 997) AS tenant,
       jsonb_build_object('id', g, 'account', g % 9973, 'ref', md5(g::text)) AS payload,
       now() - random() * interval '30 days' AS fin,
       make_interval(secs => 0.05 + power(random(), 3) * 30) AS run_time,
       ($4::text[])[1 + floor(random() * 8)::int] AS err,
       'worker-' || lpad((1 + g % 200)::text, 3, '0') AS worker,
       random() AS r
FROM (SELECT g, floor(20 * power(random(), 2))::int AS qi
      FROM generate_series(1, $1::bigint) AS g) a
"#;

const INSERT_COLUMNS: &str = "INSERT INTO jobtop.jobs (queue, kind, tenant_id, payload, state, \
    priority, attempts, max_attempts, run_at, created_at, started_at, finished_at, locked_by, \
    heartbeat_at, last_error, errors, failed_at) ";

/// Succeeded: 3% of them after one failed attempt.
const SUCCEEDED_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'succeeded'::jobtop.job_state, 0,
       CASE WHEN s.r < 0.03 THEN 2 ELSE 1 END, 5,
       s.fin - s.run_time - interval '40 seconds', s.fin - s.run_time - interval '45 seconds',
       s.fin - s.run_time, s.fin, NULL, NULL,
       CASE WHEN s.r < 0.03 THEN s.err END,
       CASE WHEN s.r < 0.03 THEN jsonb_build_array(jsonb_build_object(
           'at', s.fin - s.run_time - interval '20 seconds', 'attempt', 1,
           'error', s.err, 'worker', s.worker)) ELSE '[]'::jsonb END,
       CASE WHEN s.r < 0.03 THEN s.fin - s.run_time - interval '20 seconds' END
FROM ("#;

/// Dead: three failed attempts, the last at the finish time.
const DEAD_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'dead'::jobtop.job_state, 0, 3, 3,
       s.fin - interval '30 seconds', s.fin - interval '2 minutes', s.fin - s.run_time, s.fin,
       NULL, NULL, s.err,
       jsonb_build_array(
         jsonb_build_object('at', s.fin - interval '90 seconds', 'attempt', 1, 'error', s.err,
                            'worker', s.worker),
         jsonb_build_object('at', s.fin - interval '60 seconds', 'attempt', 2, 'error', s.err,
                            'worker', s.worker),
         jsonb_build_object('at', s.fin, 'attempt', 3, 'error', s.err, 'worker', s.worker)),
       s.fin
FROM ("#;

const CANCELLED_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'cancelled'::jobtop.job_state, 0, 0, 5,
       s.fin - interval '1 hour', s.fin - interval '1 hour', NULL, s.fin, NULL, NULL, NULL,
       '[]'::jsonb, NULL
FROM ("#;

/// Ready: due within the last ten minutes.
const READY_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'queued'::jobtop.job_state, 0, 0, 5,
       now() - s.r * interval '10 minutes', now() - s.r * interval '10 minutes',
       NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, NULL
FROM ("#;

/// Scheduled: due within the next week.
const SCHEDULED_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'queued'::jobtop.job_state, 0, 0, 5,
       now() + s.r * interval '7 days', now() - interval '1 hour',
       NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, NULL
FROM ("#;

/// Running: started within the last two minutes by one of 200 workers.
const RUNNING_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'running'::jobtop.job_state, 0, 1, 5,
       now() - interval '3 minutes', now() - interval '3 minutes',
       now() - s.r * interval '2 minutes', NULL, s.worker, now() - s.r * interval '10 seconds',
       NULL, '[]'::jsonb, NULL
FROM ("#;

/// Retrying: failed within the last hour, due again within the next hour.
const RETRYING_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'retrying'::jobtop.job_state, 0, 1, 5,
       now() + s.r * interval '1 hour', now() - interval '2 hours',
       now() - s.r * interval '1 hour' - s.run_time, NULL, NULL, NULL, s.err,
       jsonb_build_array(jsonb_build_object('at', now() - s.r * interval '1 hour',
                         'attempt', 1, 'error', s.err, 'worker', s.worker)),
       now() - s.r * interval '1 hour'
FROM ("#;

/// The backlog: ready for up to two hours, in three queues (`$2` here is those queues).
const BACKLOG_SELECT: &str = r#"
SELECT s.queue, s.kind, s.tenant, s.payload, 'queued'::jobtop.job_state, 0, 0, 5,
       now() - s.r * interval '2 hours', now() - s.r * interval '2 hours',
       NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, NULL
FROM ("#;

const DROP_INDEXES_SQL: &str = r#"
SELECT format('DROP INDEX %s', i.indexrelid::regclass) AS drop_sql,
       pg_get_indexdef(i.indexrelid) AS create_sql
FROM pg_index i
WHERE i.indrelid = 'jobtop.jobs'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"#;

const WORKERS_SQL: &str = r#"
INSERT INTO jobtop.workers (id, hostname, pid, queues, started_at, last_heartbeat_at, version)
SELECT 'worker-' || lpad(w::text, 3, '0'), 'app-' || lpad((1 + w % 40)::text, 2, '0'),
       10000 + w, ARRAY[($1::text[])[1 + w % 20], ($1::text[])[1 + (w * 3) % 20]],
       now() - interval '6 hours',
       -- Four workers went quiet ten minutes ago: their jobs are stuck.
       CASE WHEN w % 50 = 0 THEN now() - interval '10 minutes' ELSE now() END,
       '2.4.1'
FROM generate_series(1, 200) AS w
ON CONFLICT (id) DO NOTHING
"#;

const QUEUES_SQL: &str = r#"
INSERT INTO jobtop.queues (name, paused_at, paused_by, pause_reason)
SELECT q, CASE WHEN q = 'video' THEN now() - interval '20 minutes' END,
       CASE WHEN q = 'video' THEN 'ops@bench' END,
       CASE WHEN q = 'video' THEN 'transcoder upgrade' END
FROM unnest($1::text[]) AS q
ON CONFLICT (name) DO NOTHING
"#;

fn kinds() -> Vec<String> {
    NOUNS
        .iter()
        .flat_map(|n| VERBS.iter().map(move |v| format!("{n}.{v}")))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Fills an empty, migrated `jobtop` schema; `progress` hears about each step.
pub async fn generate(
    pool: &PgPool,
    spec: FixtureSpec,
    mut progress: impl FnMut(&str),
) -> Result<FixtureCounts> {
    let counts = FixtureCounts::for_spec(spec);
    let mut conn = pool.acquire().await?;
    // Index builds and big inserts, not monitoring: no statement timeout here.
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET maintenance_work_mem = '256MB'")
        .execute(&mut *conn)
        .await?;
    sqlx::query(QUEUES_SQL)
        .bind(strings(&QUEUES))
        .execute(&mut *conn)
        .await?;
    sqlx::query(WORKERS_SQL)
        .bind(strings(&QUEUES))
        .execute(&mut *conn)
        .await?;

    let indexes: Vec<(String, String)> = sqlx::query_as(DROP_INDEXES_SQL)
        .fetch_all(&mut *conn)
        .await?;
    for (drop_sql, _) in &indexes {
        // Built by the server from its own catalog.
        sqlx::query(AssertSqlSafe(drop_sql.clone()))
            .execute(&mut *conn)
            .await?;
    }

    let parts: [(&str, &str, i64, &[&str]); 8] = [
        ("succeeded", SUCCEEDED_SELECT, counts.succeeded, &QUEUES),
        ("dead", DEAD_SELECT, counts.dead, &QUEUES),
        ("cancelled", CANCELLED_SELECT, counts.cancelled, &QUEUES),
        ("ready", READY_SELECT, counts.ready, &QUEUES),
        ("scheduled", SCHEDULED_SELECT, counts.scheduled, &QUEUES),
        ("running", RUNNING_SELECT, counts.running, &QUEUES),
        ("retrying", RETRYING_SELECT, counts.retrying, &QUEUES),
        ("backlog", BACKLOG_SELECT, counts.backlog, &BACKLOG_QUEUES),
    ];
    const BATCH: i64 = 1_000_000;
    for (name, select, n, queues) in parts {
        let mut left = n;
        while left > 0 {
            let batch = left.min(BATCH);
            let started = Instant::now();
            // The backlog's three queues are spread evenly rather than skewed.
            let queue_list: Vec<String> = (0..20)
                .map(|i| queues[i % queues.len()].to_string())
                .collect();
            let sql = format!("{INSERT_COLUMNS}{select}{ROW_SOURCE}) s");
            sqlx::query(AssertSqlSafe(sql))
                .bind(batch)
                .bind(queue_list)
                .bind(kinds())
                .bind(strings(&ERRORS))
                .execute(&mut *conn)
                .await
                .with_context(|| format!("generating {name} jobs"))?;
            left -= batch;
            progress(&format!(
                "{name}: {} rows in {:.1}s",
                batch,
                started.elapsed().as_secs_f64()
            ));
        }
    }

    let started = Instant::now();
    for (_, create_sql) in &indexes {
        sqlx::query(AssertSqlSafe(create_sql.clone()))
            .execute(&mut *conn)
            .await?;
    }
    progress(&format!(
        "{} indexes built in {:.1}s",
        indexes.len(),
        started.elapsed().as_secs_f64()
    ));
    let started = Instant::now();
    for table in [
        "VACUUM (ANALYZE) jobtop.jobs",
        "VACUUM (ANALYZE) jobtop.queues",
        "VACUUM (ANALYZE) jobtop.workers",
    ] {
        sqlx::query(table).execute(&mut *conn).await?;
    }
    progress(&format!(
        "VACUUM ANALYZE in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_to_the_rows_asked_for() {
        let c = FixtureCounts::for_spec(FixtureSpec {
            rows: 1_000_000,
            backlog: 0,
        });
        assert_eq!(c.total(), 1_000_000);
        assert_eq!(c.ready + c.scheduled + c.running + c.retrying, 30_000);
        assert_eq!(c.running, 400);
        assert_eq!((c.ready, c.retrying, c.scheduled), (600, 1_500, 27_500));
        assert_eq!(kinds().len(), 50);
    }
}

/// What a generated benchmark database holds, kept in a table of its own so a later run can
/// reuse the data instead of generating it again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratedMeta {
    pub rows: i64,
    pub backlog: i64,
    /// How long generating took.
    pub seconds: f64,
    /// How long ago it was generated, by the database's clock.
    pub age_seconds: f64,
}

/// The record of an earlier generation in this database, if any.
pub async fn generated_meta(pool: &PgPool) -> anyhow::Result<Option<GeneratedMeta>> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS public.jobtop_bench_meta (
            rows bigint NOT NULL, backlog bigint NOT NULL,
            generated_at timestamptz NOT NULL DEFAULT now(), seconds float8 NOT NULL)",
    )
    .execute(pool)
    .await?;
    let row: Option<(i64, i64, f64, f64)> = sqlx::query_as(
        "SELECT rows, backlog, seconds, extract(epoch FROM now() - generated_at)::float8
         FROM public.jobtop_bench_meta",
    )
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(rows, backlog, seconds, age_seconds)| GeneratedMeta {
            rows,
            backlog,
            seconds,
            age_seconds,
        }),
    )
}

/// Records a finished generation (`generated_meta` created the table).
pub async fn record_generated(
    pool: &PgPool,
    spec: FixtureSpec,
    seconds: f64,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM public.jobtop_bench_meta")
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO public.jobtop_bench_meta (rows, backlog, seconds) VALUES ($1, $2, $3)",
    )
    .bind(spec.rows)
    .bind(spec.backlog)
    .bind(seconds)
    .execute(pool)
    .await?;
    Ok(())
}

/// The jobs table's size on disk, indexes and TOAST included.
pub async fn jobs_table_bytes(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT pg_total_relation_size('jobtop.jobs')")
            .fetch_one(pool)
            .await?,
    )
}
