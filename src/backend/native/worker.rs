//! The worker side of the reference schema: the SQL contract any worker in any language
//! calls (`enqueue`, `register_worker`, `claim`, `heartbeat`, `complete`, `fail`), plus the
//! few direct writes the demo needs to fake a past (history, a worker that died long ago).
//! The monitor itself never calls these.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A job to enqueue. `delay_secs` is relative to the database's clock and may be negative
/// (a job that has been due for a while).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub delay_secs: f64,
    pub priority: i16,
    pub max_attempts: i32,
    pub tenant_id: Option<String>,
}

/// Enqueues all of `jobs` in one round trip; returns their ids in order.
pub async fn enqueue_many(pool: &PgPool, jobs: &[NewJob]) -> Result<Vec<i64>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let payloads: Vec<String> = jobs.iter().map(|j| j.payload.to_string()).collect();
    let delays: Vec<f64> = jobs.iter().map(|j| j.delay_secs).collect();
    let priorities: Vec<i16> = jobs.iter().map(|j| j.priority).collect();
    let max_attempts: Vec<i32> = jobs.iter().map(|j| j.max_attempts).collect();
    let tenants: Vec<Option<&str>> = jobs.iter().map(|j| j.tenant_id.as_deref()).collect();
    sqlx::query_scalar(
        "SELECT jobtop.enqueue(u.q, u.k, u.p::jsonb, now() + u.d * interval '1 second', \
                               u.pr, u.ma, u.t) \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int2[], \
                     $6::int4[], $7::text[]) WITH ORDINALITY AS u(q, k, p, d, pr, ma, t, n) \
         ORDER BY u.n",
    )
    .bind(queues)
    .bind(kinds)
    .bind(payloads)
    .bind(delays)
    .bind(priorities)
    .bind(max_attempts)
    .bind(tenants)
    .fetch_all(pool)
    .await
    .context("enqueue failed")
}

pub async fn register_worker(
    pool: &PgPool,
    worker: &str,
    hostname: &str,
    pid: i32,
    queues: &[String],
    version: Option<&str>,
) -> Result<()> {
    sqlx::query("SELECT jobtop.register_worker($1, $2, $3, $4, $5)")
        .bind(worker)
        .bind(hostname)
        .bind(pid)
        .bind(queues)
        .bind(version)
        .execute(pool)
        .await
        .context("register_worker failed")?;
    Ok(())
}

/// What a worker needs of a claimed job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub queue: String,
    pub kind: String,
    pub tenant_id: Option<String>,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

pub async fn claim(
    pool: &PgPool,
    worker: &str,
    queues: &[String],
    n: i32,
) -> Result<Vec<ClaimedJob>> {
    sqlx::query_as(
        "SELECT id, queue, kind, tenant_id, payload, attempts, max_attempts \
         FROM jobtop.claim($1, $2, $3)",
    )
    .bind(worker)
    .bind(queues)
    .bind(n)
    .fetch_all(pool)
    .await
    .context("claim failed")
}

pub async fn heartbeat(pool: &PgPool, worker: &str) -> Result<()> {
    sqlx::query("SELECT jobtop.heartbeat($1)")
        .bind(worker)
        .execute(pool)
        .await
        .context("heartbeat failed")?;
    Ok(())
}

/// False when the job is no longer running under `worker`.
pub async fn complete(pool: &PgPool, id: i64, worker: &str) -> Result<bool> {
    sqlx::query_scalar("SELECT jobtop.complete($1, $2)")
        .bind(id)
        .bind(worker)
        .fetch_one(pool)
        .await
        .context("complete failed")
}

/// The job's new state (`retrying` or `dead`), or None when it is no longer running under
/// `worker`. Without `retry_in` the schema's own backoff applies.
pub async fn fail(
    pool: &PgPool,
    id: i64,
    worker: &str,
    error: &str,
    retry_in: Option<Duration>,
) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT jobtop.fail($1, $2, $3, $4::float8 * interval '1 second')::text")
        .bind(id)
        .bind(worker)
        .bind(error)
        .bind(retry_in.map(|d| d.as_secs_f64()))
        .fetch_one(pool)
        .await
        .context("fail failed")
}

/// The database's clock, which every timestamp the demo writes is relative to.
pub async fn database_now(pool: &PgPool) -> Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar("SELECT now()").fetch_one(pool).await?)
}

/// Makes `worker` look as if it stopped heartbeating `ago` ago while holding its running
/// jobs: a worker process that was killed and never came back.
pub async fn backdate_worker(pool: &PgPool, worker: &str, ago: Duration) -> Result<()> {
    let ago = ago.as_secs_f64();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE jobtop.workers SET \
            started_at = now() - ($2::float8 + 3600) * interval '1 second', \
            last_heartbeat_at = now() - $2::float8 * interval '1 second' \
         WHERE id = $1",
    )
    .bind(worker)
    .bind(ago)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE jobtop.jobs SET \
            created_at = now() - ($2::float8 + 40) * interval '1 second', \
            run_at = now() - ($2::float8 + 40) * interval '1 second', \
            started_at = now() - ($2::float8 + 25) * interval '1 second', \
            heartbeat_at = now() - $2::float8 * interval '1 second' \
         WHERE state = 'running' AND locked_by = $1",
    )
    .bind(worker)
    .bind(ago)
    .execute(&mut *tx)
    .await?;
    tx.commit().await.context("backdate_worker failed")
}

/// A job that finished in the past, as the schema's functions would have left it.
#[derive(Debug, Clone)]
pub struct PastJob {
    pub queue: String,
    pub kind: String,
    pub tenant_id: Option<String>,
    pub payload: serde_json::Value,
    /// `succeeded`, `dead` or `cancelled`.
    pub state: &'static str,
    pub attempts: i32,
    pub max_attempts: i32,
    pub created_at: DateTime<Utc>,
    /// None for a job cancelled before it ever ran.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    /// The failed attempts, oldest first: (at, worker, error).
    pub errors: Vec<(DateTime<Utc>, String, String)>,
}

/// Writes finished jobs directly (one round trip per call; keep calls to a few thousand
/// rows) and registers their queues.
pub async fn insert_past_jobs(pool: &PgPool, jobs: &[PastJob]) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    queues.sort_unstable();
    queues.dedup();
    sqlx::query(
        "INSERT INTO jobtop.queues (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(queues)
    .execute(pool)
    .await
    .context("cannot register queues")?;

    let errors_json: Vec<String> = jobs
        .iter()
        .map(|j| {
            let entries: Vec<serde_json::Value> = j
                .errors
                .iter()
                .enumerate()
                .map(|(i, (at, worker, error))| {
                    serde_json::json!({
                        "at": at.to_rfc3339(),
                        "attempt": i + 1,
                        "error": error,
                        "worker": worker,
                    })
                })
                .collect();
            serde_json::Value::Array(entries).to_string()
        })
        .collect();
    sqlx::query(
        "INSERT INTO jobtop.jobs (queue, kind, tenant_id, payload, state, attempts, max_attempts, \
                                  run_at, created_at, started_at, finished_at, failed_at, \
                                  last_error, errors) \
         SELECT u.q, u.k, u.t, u.p::jsonb, u.s::jobtop.job_state, u.a, u.m, \
                u.c, u.c, u.st, u.f, u.fa, u.le, u.e::jsonb \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], \
                     $7::int4[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], \
                     $11::timestamptz[], $12::text[], $13::text[]) \
              AS u(q, k, t, p, s, a, m, c, st, f, fa, le, e)",
    )
    .bind(jobs.iter().map(|j| j.queue.as_str()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
    .bind(
        jobs.iter()
            .map(|j| j.tenant_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        jobs.iter()
            .map(|j| j.payload.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(jobs.iter().map(|j| j.state).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.attempts).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.max_attempts).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.created_at).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.started_at).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.finished_at).collect::<Vec<_>>())
    .bind(
        jobs.iter()
            .map(|j| j.errors.last().map(|(at, _, _)| *at))
            .collect::<Vec<_>>(),
    )
    .bind(
        jobs.iter()
            .map(|j| j.errors.last().map(|(_, _, e)| e.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(errors_json)
    .execute(pool)
    .await
    .context("cannot insert past jobs")?;
    Ok(())
}

/// Fresh planner statistics after a bulk load, so the monitor's first queries plan well.
pub async fn analyze_jobs(pool: &PgPool) -> Result<()> {
    sqlx::query("ANALYZE jobtop.jobs").execute(pool).await?;
    Ok(())
}
