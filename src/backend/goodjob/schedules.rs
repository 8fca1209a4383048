//! good_job's cron as the database shows it: the jobs its cron manager enqueued carry
//! `cron_key` and the time they were due (`cron_at`); the entries themselves live in the
//! application's config. Keys are found by a skip scan over the `(cron_key, created_at)`
//! index and each key's newest runs read backwards on it, never the jobs' whole history.
//! Entries disabled from the dashboard are listed in `good_job_settings` (`cron_keys_disabled`).

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::{Found, MESSAGE_CHARS, SCHEDULES_LIMIT, group};
use crate::backend::schedules::{RUNS_PER_SCHEDULE, RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "good_job";

/// The cron keys one by one (each the next past the last, on the index), then each key's
/// newest `$2` jobs; whether the settings disable it.
const CRON_SQL: &str = r#"
WITH RECURSIVE keys (cron_key, n) AS (
  (SELECT g.cron_key, 1 FROM {schema}.good_jobs g
   WHERE g.cron_key IS NOT NULL ORDER BY g.cron_key LIMIT 1)
  UNION ALL
  SELECT (SELECT g.cron_key FROM {schema}.good_jobs g
          WHERE g.cron_key > k.cron_key ORDER BY g.cron_key LIMIT 1), k.n + 1
  FROM keys k
  WHERE k.cron_key IS NOT NULL AND k.n < $1
)
SELECT k.cron_key, {disabled} AS disabled, r.id::text, coalesce(r.cron_at, r.created_at),
       r.performed_at, r.finished_at, left(r.error, $3)
FROM keys k
CROSS JOIN LATERAL (
  SELECT g.id, g.cron_at, g.created_at, g.performed_at, g.finished_at, g.error
  FROM {schema}.good_jobs g
  WHERE g.cron_key = k.cron_key
  ORDER BY g.created_at DESC
  LIMIT $2
) r
WHERE k.cron_key IS NOT NULL
ORDER BY k.cron_key, r.created_at DESC
"#;

const DISABLED: &str = "coalesce((SELECT s.value ? k.cron_key FROM {schema}.good_job_settings s \
     WHERE s.key = 'cron_keys_disabled' AND jsonb_typeof(s.value) = 'array'), false)";

type Row = (
    String,
    bool,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
);

/// good_job keeps `cron_key` since 1.x; the settings table only from 3.x.
pub async fn present(pool: &PgPool, schema: &str) -> anyhow::Result<bool> {
    let found: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = to_regclass(quote_ident($1) || '.good_jobs')
                          AND a.attname = 'cron_key' AND NOT a.attisdropped)",
    )
    .bind(schema)
    .fetch_one(pool)
    .await?;
    Ok(found)
}

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let settings: bool = sqlx::query_scalar(
        "SELECT to_regclass(quote_ident($1) || '.good_job_settings') IS NOT NULL",
    )
    .bind(schema)
    .fetch_one(pool)
    .await?;
    let sql = CRON_SQL
        .replace("{disabled}", if settings { DISABLED } else { "false" })
        .replace("{schema}", &ident(schema));
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(SCHEDULES_LIMIT)
        .bind(RUNS_PER_SCHEDULE)
        .bind(MESSAGE_CHARS)
        .fetch_all(pool)
        .await?;
    let found = group(
        rows,
        |r| r.0.clone(),
        |r| Found {
            id: r.0.clone(),
            name: r.0.clone(),
            active: !r.1,
            // good_job keeps finished jobs until its cleanup: what is read is what is kept.
            whole: true,
            ..Found::default()
        },
        |r| {
            let status = match (r.5, &r.6, r.4) {
                (Some(_), None, _) => RunStatus::Succeeded,
                (Some(_), Some(_), _) => RunStatus::Failed,
                (None, _, Some(_)) => RunStatus::Running,
                (None, _, None) => RunStatus::Queued,
            };
            Some(ScheduleRun {
                id: r.2.clone(),
                started_at: Some(r.3.and_utc()),
                ended_at: r.5.map(|t| t.and_utc()),
                status,
                message: r.6.clone().filter(|m| !m.is_empty()),
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}
