//! River's periodic jobs as the database shows them: its periodic job enqueuer marks each
//! job it inserts in `metadata` (`periodic: true`, and `river:periodic_job_id` where the
//! periodic job was given an id); the schedule itself lives in the application's code, so
//! there is no expression. No index serves the mark: the runs are looked for among the
//! newest `JOBS_WINDOW` jobs by key, and each schedule says how far back that reaches.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::read_periodic;
use crate::backend::schedules::{RunStatus, Schedule};

pub const SOURCE: &str = "river";

const PERIODIC_SQL: &str = r#"
WITH win AS MATERIALIZED (
  SELECT j.id, j.state::text AS state, j.kind, j.metadata, j.created_at, j.scheduled_at,
         j.finalized_at, j.errors
  FROM {schema}.river_job j
  ORDER BY j.id DESC
  LIMIT $1
), bounds AS (
  SELECT min(w.created_at) AS since, count(*) < $1 AS whole FROM win w
)
SELECT coalesce(w.metadata ->> 'river:periodic_job_id', w.kind) AS name, w.kind AS command,
       w.id, w.state, w.scheduled_at AS started_at, w.finalized_at AS ended_at,
       left(w.errors[array_length(w.errors, 1)] ->> 'error', $2) AS error, b.since, b.whole
FROM win w CROSS JOIN bounds b
WHERE w.metadata ->> 'periodic' = 'true'
ORDER BY 1, w.id DESC
"#;

fn status(state: &str) -> RunStatus {
    match state {
        "completed" => RunStatus::Succeeded,
        "discarded" | "cancelled" => RunStatus::Failed,
        "running" => RunStatus::Running,
        // available, pending, scheduled, retryable
        _ => RunStatus::Queued,
    }
}

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let sql = PERIODIC_SQL.replace("{schema}", &ident(schema));
    read_periodic(pool, sqlx::AssertSqlSafe(sql), SOURCE, status, now).await
}
