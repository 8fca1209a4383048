//! The reference schema's periodic jobs: a job enqueued by an application's scheduler says
//! so in its payload, `"periodic": {"name": …, "cron": …}` (the demo's scheduler does). No
//! index serves the mark, so as for Oban the runs are looked for among the newest
//! `JOBS_WINDOW` jobs by key, and each schedule says how far back that reaches.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::schedules::queues::{Found, JOBS_WINDOW, MESSAGE_CHARS, group};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun};

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
SELECT w.periodic ->> 'name', w.periodic ->> 'cron', w.kind, w.id, w.state, w.run_at,
       w.finished_at, left(w.last_error, $2), b.since, b.whole
FROM win w CROSS JOIN bounds b
WHERE jsonb_typeof(w.periodic) = 'object' AND w.periodic ->> 'name' IS NOT NULL
ORDER BY 1, w.id DESC
"#;

type Row = (
    String,
    Option<String>,
    String,
    i64,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    bool,
);

pub async fn read(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Vec<Schedule>> {
    let rows: Vec<Row> = sqlx::query_as(PERIODIC_SQL)
        .bind(JOBS_WINDOW)
        .bind(MESSAGE_CHARS)
        .fetch_all(pool)
        .await?;
    let found = group(
        rows,
        |r| r.0.clone(),
        |r| Found {
            id: r.0.clone(),
            name: r.0.clone(),
            expression: r.1.clone().unwrap_or_default(),
            command: Some(r.2.clone()),
            active: true,
            runs_read_since: (!r.9).then_some(r.8).flatten(),
            whole: r.9,
            ..Found::default()
        },
        |r| {
            let status = match r.4.as_str() {
                "succeeded" => RunStatus::Succeeded,
                "dead" | "cancelled" => RunStatus::Failed,
                "running" => RunStatus::Running,
                // queued, retrying
                _ => RunStatus::Queued,
            };
            Some(ScheduleRun {
                id: r.3.to_string(),
                started_at: Some(r.5),
                ended_at: r.6,
                status,
                message: match (status, r.4.as_str()) {
                    (_, "cancelled") => Some("cancelled".into()),
                    (RunStatus::Succeeded, _) => None,
                    _ => r.7.clone(),
                },
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}
