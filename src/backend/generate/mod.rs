//! Realistic tables for `jobtop bench`, one file per queue schema, each in that schema's own
//! layout: the same shape everywhere (about 97% of the jobs finished over the last 30 days,
//! the rest live across 20 queues and 50 kinds, optionally a backlog of ready jobs piled up
//! in three queues), written set-based.
//!
//! Every schema goes through the same steps (`generate`): its DDL (the project's own, as
//! the fixture in tests/fixtures holds it above the rows marker), its setup rows (queues,
//! tasks, workers), the secondary indexes and foreign keys of its job tables dropped, one
//! `INSERT … SELECT` per display bucket in batches, the indexes and keys built again from the
//! definitions the catalog held (a bulk build is several times faster than maintaining them
//! row by row, and leaves exactly the migration's indexes), `VACUUM ANALYZE`, then churn: the
//! retention job deletes the oldest half-day of finished jobs and running jobs are touched,
//! as a live queue would do between two vacuums, so the visibility map is not all-visible
//! (index-only scans over finished rows fetch heap pages, as they do in production), and a
//! last `ANALYZE`.

pub mod goodjob;
pub mod graphile;
pub mod jobforge;
pub mod native;
pub mod oban;
pub mod pgboss;
pub mod pgmq;
pub mod pgqueuer;
pub mod procrastinate;
pub mod river;
pub mod solidqueue;

use std::time::Instant;

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::detect::BackendKind;

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

    fn by_bucket(&self) -> [i64; 8] {
        [
            self.succeeded,
            self.dead,
            self.cancelled,
            self.ready,
            self.scheduled,
            self.running,
            self.retrying,
            self.backlog,
        ]
    }

    fn from_buckets(b: [i64; 8]) -> FixtureCounts {
        FixtureCounts {
            succeeded: b[0],
            dead: b[1],
            cancelled: b[2],
            ready: b[3],
            scheduled: b[4],
            running: b[5],
            retrying: b[6],
            backlog: b[7],
        }
    }
}

/// The display buckets in the order `Generator::buckets` gives their statements.
pub const BUCKETS: [&str; 8] = [
    "succeeded",
    "dead",
    "cancelled",
    "ready",
    "scheduled",
    "running",
    "retrying",
    "backlog",
];

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

/// One `INSERT … ` head before every bucket's `SELECT` (in `BUCKETS` order): where a schema
/// writes all its jobs into one table.
pub fn into_one_table(insert: &str, selects: [&str; 8]) -> [Option<String>; 8] {
    selects.map(|select| Some(format!("{insert}{select}")))
}

/// The line in a fixture that ends its schema and starts its test rows.
pub const ROWS_MARKER: &str = "-- ---- rows: everything below is test data ----";

/// The schema half of a fixture: what the project's migrations create.
pub fn schema_part(fixture: &'static str) -> &'static str {
    fixture.split(ROWS_MARKER).next().unwrap_or(fixture)
}

/// Per row (`{rows}` in a bucket's statement): `g` its number, a queue (skewed: the first
/// queues are the busiest), a kind from that queue's handful, a tenant, a payload, a finish
/// time over the last 30 days, a run time, an error, a worker and a random number.
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

/// How one schema's table is generated and counted.
pub struct Generator {
    pub backend: BackendKind,
    /// The database schema the project installs into.
    pub schema: &'static str,
    /// The shipped profile that describes the table (`BackendKind::Mapped`).
    pub profile: Option<&'static str>,
    /// The project's DDL (`None`: the reference schema, which `jobtop migrate` creates).
    pub ddl: Option<&'static str>,
    /// Rows the jobs refer to, written first; each statement binds `$1` the queues and `$2`
    /// the kinds.
    pub setup: Vec<&'static str>,
    /// The job tables (schema-qualified): indexes rebuilt, vacuumed, measured.
    pub tables: Vec<String>,
    /// One statement per bucket (`BUCKETS` order) reading `{rows}`; `None` where the schema
    /// keeps no such jobs.
    pub buckets: [Option<String>; 8],
    /// What a live queue does to the table between two vacuums.
    pub churn: Vec<&'static str>,
    /// The runbooks' count for this schema: every row, grouped by queue and state.
    pub naive: String,
    /// What the benchmark measures instead, where the schema keeps no finished jobs.
    pub note: Option<&'static str>,
}

/// The generator for `backend` (`None`: profiles, see `profile_generator`).
pub fn generator(backend: BackendKind) -> Option<Generator> {
    match backend {
        BackendKind::Native => Some(native::generator()),
        BackendKind::River => Some(river::generator()),
        BackendKind::Oban => Some(oban::generator()),
        BackendKind::PgBoss => Some(pgboss::generator()),
        BackendKind::Graphile => Some(graphile::generator()),
        BackendKind::Procrastinate => Some(procrastinate::generator()),
        BackendKind::PgQueuer => Some(pgqueuer::generator()),
        BackendKind::Pgmq => Some(pgmq::generator()),
        BackendKind::SolidQueue => Some(solidqueue::generator()),
        BackendKind::GoodJob => Some(goodjob::generator()),
        // No queue table to generate.
        BackendKind::Mapped | BackendKind::Schedules => None,
    }
}

/// Shipped profiles with a generator.
pub const PROFILES: [&str; 1] = ["jobforge"];

/// The generator for the shipped profile `name`.
pub fn profile_generator(name: &str) -> Option<Generator> {
    match name {
        "jobforge" => Some(jobforge::generator()),
        _ => None,
    }
}

fn kinds() -> Vec<String> {
    NOUNS
        .iter()
        .flat_map(|n| VERBS.iter().map(move |v| format!("{n}.{v}")))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Secondary indexes and foreign keys of `tables`: how to drop each and build it again.
const DETACHABLE_SQL: &str = r#"
SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY ($1::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
UNION ALL
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,
              pg_get_constraintdef(k.oid))
FROM pg_constraint k
WHERE k.contype = 'f' AND k.conrelid = ANY ($1::regclass[])
"#;

/// Fills an empty database (the reference schema: a migrated one) with `generator`'s table;
/// `progress` hears about each step.
pub async fn generate(
    pool: &PgPool,
    generator: &Generator,
    spec: FixtureSpec,
    mut progress: impl FnMut(&str),
) -> Result<FixtureCounts> {
    let mut counts = FixtureCounts::for_spec(spec).by_bucket();
    let mut conn = pool.acquire().await?;
    // Index builds and big inserts, not monitoring: no statement timeout here.
    sqlx::raw_sql("SET statement_timeout = 0; SET maintenance_work_mem = '256MB'")
        .execute(&mut *conn)
        .await?;
    if let Some(ddl) = generator.ddl {
        sqlx::raw_sql(ddl)
            .execute(&mut *conn)
            .await
            .context("creating the schema")?;
    }
    for sql in &generator.setup {
        sqlx::query(*sql)
            .bind(strings(&QUEUES))
            .bind(kinds())
            .execute(&mut *conn)
            .await
            .context("writing queues, tasks and workers")?;
    }

    let tables = &generator.tables;
    let detached: Vec<(String, String)> = sqlx::query_as(DETACHABLE_SQL)
        .bind(tables)
        .fetch_all(&mut *conn)
        .await?;
    for (drop_sql, _) in &detached {
        // Written by the server from its own catalog.
        sqlx::query(AssertSqlSafe(drop_sql.clone()))
            .execute(&mut *conn)
            .await?;
    }

    const BATCH: i64 = 1_000_000;
    for (i, statement) in generator.buckets.iter().enumerate() {
        let Some(statement) = statement else {
            counts[i] = 0;
            continue;
        };
        let queues: &[&str] = if BUCKETS[i] == "backlog" {
            &BACKLOG_QUEUES
        } else {
            &QUEUES
        };
        // The backlog's three queues are spread evenly rather than skewed.
        let queue_list: Vec<String> = (0..20)
            .map(|q| queues[q % queues.len()].to_string())
            .collect();
        let sql = statement.replace("{rows}", ROW_SOURCE);
        let mut left = counts[i];
        while left > 0 {
            let batch = left.min(BATCH);
            let started = Instant::now();
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(batch)
                .bind(&queue_list)
                .bind(kinds())
                .bind(strings(&ERRORS))
                .execute(&mut *conn)
                .await
                .with_context(|| format!("generating {} jobs", BUCKETS[i]))?;
            left -= batch;
            progress(&format!(
                "{}: {batch} rows in {:.1}s",
                BUCKETS[i],
                started.elapsed().as_secs_f64()
            ));
        }
    }

    let started = Instant::now();
    for (_, create_sql) in &detached {
        sqlx::query(AssertSqlSafe(create_sql.clone()))
            .execute(&mut *conn)
            .await?;
    }
    progress(&format!(
        "{} indexes and keys built in {:.1}s",
        detached.len(),
        started.elapsed().as_secs_f64()
    ));
    let started = Instant::now();
    for table in &generator.tables {
        sqlx::query(AssertSqlSafe(format!("VACUUM (ANALYZE) {table}")))
            .execute(&mut *conn)
            .await?;
    }
    progress(&format!(
        "VACUUM ANALYZE in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    let started = Instant::now();
    for sql in &generator.churn {
        sqlx::query(*sql)
            .execute(&mut *conn)
            .await
            .context("churning")?;
    }
    for table in &generator.tables {
        sqlx::query(AssertSqlSafe(format!("ANALYZE {table}")))
            .execute(&mut *conn)
            .await?;
    }
    progress(&format!(
        "churn and ANALYZE in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(FixtureCounts::from_buckets(counts))
}

/// The job tables' size on disk (partitions, indexes and TOAST included).
pub async fn tables_bytes(pool: &PgPool, generator: &Generator) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(pg_total_relation_size(r)), 0)::bigint
         FROM (SELECT t::regclass AS r FROM unnest($1::text[]) AS t
               UNION SELECT p.relid FROM unnest($1::text[]) AS t,
                                         pg_partition_tree(t::regclass) AS p) AS rels",
    )
    .bind(&generator.tables)
    .fetch_one(pool)
    .await?)
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
pub async fn generated_meta(pool: &PgPool) -> Result<Option<GeneratedMeta>> {
    create_meta(pool).await?;
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

async fn create_meta(pool: &PgPool) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS public.jobtop_bench_meta (
            rows bigint NOT NULL, backlog bigint NOT NULL,
            generated_at timestamptz NOT NULL DEFAULT now(), seconds float8 NOT NULL)",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a finished generation.
pub async fn record_generated(pool: &PgPool, spec: FixtureSpec, seconds: f64) -> Result<()> {
    create_meta(pool).await?;
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

    #[test]
    fn every_fixture_has_its_schema_above_the_rows_marker() {
        for g in [
            river::generator(),
            oban::generator(),
            pgboss::generator(),
            graphile::generator(),
            solidqueue::generator(),
            goodjob::generator(),
            jobforge::generator(),
        ] {
            let ddl = g.ddl.expect("a foreign schema carries its DDL");
            assert!(
                !ddl.contains(ROWS_MARKER) && ddl.contains("CREATE TABLE"),
                "{}",
                g.backend
            );
            let rows = [
                "river_job",
                "oban_jobs",
                "solid_queue_jobs",
                "good_jobs",
                "jobforge_jobs",
            ];
            assert!(
                rows.iter()
                    .all(|t| !ddl.contains(&format!("INSERT INTO {t}"))),
                "{}",
                g.backend
            );
        }
    }
}
