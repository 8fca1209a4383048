//! Oban's cron jobs as the database shows them: its Cron plugin inserts each run as a job
//! whose `meta` says so (`cron: true`, `cron_expr`, `cron_tz`, and since 2.17 `cron_name`);
//! the crontab itself lives in the application's config. No index serves the mark, so the
//! runs are looked for among the newest `JOBS_WINDOW` jobs by key (an index range), and each
//! schedule says how far back that reaches.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::{Found, JOBS_WINDOW, MESSAGE_CHARS, group, zone};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "oban";

/// The window's cron jobs, by schedule then newest first; with where the window begins and
/// whether it is the whole table.
const CRON_SQL: &str = r#"
WITH win AS MATERIALIZED (
  SELECT j.id, j.state::text AS state, j.worker, j.meta, j.inserted_at, j.scheduled_at,
         coalesce(j.completed_at, j.cancelled_at, j.discarded_at) AS ended_at, j.errors
  FROM {schema}.oban_jobs j
  ORDER BY j.id DESC
  LIMIT $1
), bounds AS (
  SELECT min(w.inserted_at) AS since, count(*) < $1 AS whole FROM win w
)
SELECT coalesce(w.meta ->> 'cron_name', w.worker) AS name, w.meta ->> 'cron_expr', w.meta ->> 'cron_tz',
       w.worker, w.id, w.state, w.scheduled_at, w.ended_at,
       left(w.errors[array_length(w.errors, 1)] ->> 'error', $2), b.since, b.whole
FROM win w CROSS JOIN bounds b
WHERE w.meta ->> 'cron' = 'true'
ORDER BY 1, w.id DESC
"#;

type Row = (
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<NaiveDateTime>,
    bool,
);

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let sql = CRON_SQL.replace("{schema}", &ident(schema));
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
            expression: r.1.clone().unwrap_or_default(),
            timezone: zone(r.2.clone()),
            command: Some(r.3.clone()),
            active: true,
            runs_read_since: (!r.10).then(|| r.9.map(|t| t.and_utc())).flatten(),
            whole: r.10,
            ..Found::default()
        },
        |r| {
            let status = match r.5.as_str() {
                "completed" => RunStatus::Succeeded,
                "discarded" | "cancelled" => RunStatus::Failed,
                "executing" => RunStatus::Running,
                // available, scheduled, retryable, suspended
                _ => RunStatus::Queued,
            };
            Some(ScheduleRun {
                id: r.4.to_string(),
                started_at: Some(r.6.and_utc()),
                ended_at: r.7.map(|t| t.and_utc()),
                status,
                message: match (status, r.5.as_str()) {
                    (_, "cancelled") => Some("cancelled".into()),
                    (RunStatus::Succeeded, _) => None,
                    _ => r.8.clone(),
                },
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}
