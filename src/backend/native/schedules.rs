//! The reference schema's periodic jobs: a job enqueued by an application's scheduler says
//! so in its payload, `"periodic": {"name": …, "cron": …}` (the demo's scheduler does). No
//! index serves the mark, so as for Oban the runs are looked for among the newest
//! `JOBS_WINDOW` jobs by key, and each schedule says how far back that reaches.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::schedules::queues::read_periodic;
use crate::backend::schedules::{RunStatus, Schedule};

pub const SOURCE: &str = "jobtop";

const PERIODIC_SQL: &str = r#"
WITH win AS MATERIALIZED (
  SELECT j.id, j.state::text AS state, j.kind, j.payload -> 'periodic' AS periodic, j.created_at,
         j.run_at, j.finished_at, j.last_error
  FROM jobtop.jobs j
  ORDER BY j.id DESC
  LIMIT $1
), bounds AS (
  SELECT min(w.created_at) AS since, count(*) < $1 AS whole FROM win w
)
SELECT w.periodic ->> 'name' AS name, w.periodic ->> 'cron' AS expression, w.kind AS command,
       w.id, w.state, w.run_at AS started_at, w.finished_at AS ended_at,
       left(w.last_error, $2) AS error, b.since, b.whole
FROM win w CROSS JOIN bounds b
WHERE jsonb_typeof(w.periodic) = 'object' AND w.periodic ->> 'name' IS NOT NULL
ORDER BY 1, w.id DESC
"#;

fn status(state: &str) -> RunStatus {
    match state {
        "succeeded" => RunStatus::Succeeded,
        "dead" | "cancelled" => RunStatus::Failed,
        "running" => RunStatus::Running,
        // queued, retrying
        _ => RunStatus::Queued,
    }
}

pub async fn read(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Vec<Schedule>> {
    read_periodic(pool, PERIODIC_SQL, SOURCE, status, now).await
}
