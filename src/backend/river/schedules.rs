//! River's periodic jobs as the database shows them: its periodic job enqueuer marks each
//! job it inserts in `metadata` (`periodic: true`, and `river:periodic_job_id` where the
//! periodic job was given an id); the schedule itself lives in the application's code, so
//! there is no expression. No index serves the mark: the runs are looked for among the
//! newest `JOBS_WINDOW` jobs by key, and each schedule says how far back that reaches.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::{Found, JOBS_WINDOW, MESSAGE_CHARS, group};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun};

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
SELECT coalesce(w.metadata ->> 'river:periodic_job_id', w.kind) AS name, w.kind, w.id, w.state,
       w.scheduled_at, w.finalized_at,
       left(w.errors[array_length(w.errors, 1)] ->> 'error', $2), b.since, b.whole
FROM win w CROSS JOIN bounds b
WHERE w.metadata ->> 'periodic' = 'true'
ORDER BY 1, w.id DESC
"#;

type Row = (
    String,
    String,
    i64,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    bool,
);

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let sql = PERIODIC_SQL.replace("{schema}", &ident(schema));
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
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
            command: Some(r.1.clone()),
            active: true,
            runs_read_since: (!r.8).then_some(r.7).flatten(),
            whole: r.8,
            ..Found::default()
        },
        |r| {
            let status = match r.3.as_str() {
                "completed" => RunStatus::Succeeded,
                "discarded" | "cancelled" => RunStatus::Failed,
                "running" => RunStatus::Running,
                // available, pending, scheduled, retryable
                _ => RunStatus::Queued,
            };
            Some(ScheduleRun {
                id: r.2.to_string(),
                started_at: Some(r.4),
                ended_at: r.5,
                status,
                message: match (status, r.3.as_str()) {
                    (_, "cancelled") => Some("cancelled".into()),
                    (RunStatus::Succeeded, _) => None,
                    _ => r.6.clone(),
                },
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}
