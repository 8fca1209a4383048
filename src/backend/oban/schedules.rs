//! Oban's cron jobs as the database shows them: its Cron plugin inserts each run as a job
//! whose `meta` says so (`cron: true`, `cron_expr`, `cron_tz`, and since 2.17 `cron_name`);
//! the crontab itself lives in the application's config. No index serves the mark, so the
//! runs are looked for among the newest `JOBS_WINDOW` jobs by key (an index range), and each
//! schedule says how far back that reaches.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::read_periodic;
use crate::backend::schedules::{RunStatus, Schedule};

pub const SOURCE: &str = "oban";

/// The window's cron jobs, by schedule then newest first; with where the window begins and
/// whether it is the whole table. Oban's times are UTC without a zone: read as UTC.
const CRON_SQL: &str = r#"
WITH win AS MATERIALIZED (
  SELECT j.id, j.state::text AS state, j.worker, j.meta, j.inserted_at, j.scheduled_at,
         coalesce(j.completed_at, j.cancelled_at, j.discarded_at) AS ended_at, j.errors
  FROM {schema}.oban_jobs j
  ORDER BY j.id DESC
  LIMIT $1
), bounds AS (
  SELECT min(w.inserted_at) AT TIME ZONE 'UTC' AS since, count(*) < $1 AS whole FROM win w
)
SELECT coalesce(w.meta ->> 'cron_name', w.worker) AS name, w.meta ->> 'cron_expr' AS expression,
       w.meta ->> 'cron_tz' AS timezone, w.worker AS command, w.id, w.state,
       w.scheduled_at AT TIME ZONE 'UTC' AS started_at, w.ended_at AT TIME ZONE 'UTC' AS ended_at,
       left(w.errors[array_length(w.errors, 1)] ->> 'error', $2) AS error, b.since, b.whole
FROM win w CROSS JOIN bounds b
WHERE w.meta ->> 'cron' = 'true'
ORDER BY 1, w.id DESC
"#;

fn status(state: &str) -> RunStatus {
    match state {
        "completed" => RunStatus::Succeeded,
        "discarded" | "cancelled" => RunStatus::Failed,
        "executing" => RunStatus::Running,
        // available, scheduled, retryable, suspended
        _ => RunStatus::Queued,
    }
}

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let sql = CRON_SQL.replace("{schema}", &ident(schema));
    read_periodic(pool, sqlx::AssertSqlSafe(sql), SOURCE, status, now).await
}
