//! Solid Queue's own recurring tasks: `solid_queue_recurring_tasks` (key, schedule, the
//! class or command it enqueues) and `solid_queue_recurring_executions`, one row per run
//! enqueued (its job and the time it was due). A run's status is its job's: finished,
//! failed (a failed execution, whose error is the message), or not ended yet. Executions go
//! with their jobs when Solid Queue clears finished jobs, so the history is what is kept.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;

use crate::backend::Count;
use crate::backend::pg::sql::ident;
use crate::backend::schedules::timing::Timing;
use crate::backend::schedules::{RUNS_PER_SCHEDULE, RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "solid_queue";

/// Each task's newest runs by the `(task_key, run_at)` index, read backwards: task key,
/// schedule, what it enqueues, then per run (none: NULLs) the execution id, when it was
/// due, when its job finished, whether it failed and with what (the error's `message`).
const SCHEDULES_SQL: &str = r#"
SELECT t.key, t.schedule, coalesce(t.class_name, t.command) AS what,
       r.id, r.run_at, r.finished_at, r.failed, r.error
FROM {schema}.solid_queue_recurring_tasks t
LEFT JOIN LATERAL (
  SELECT e.id, e.run_at, j.finished_at, f.job_id IS NOT NULL AS failed,
         left(coalesce(f.error::json ->> 'exception_class', '') || ': '
              || coalesce(f.error::json ->> 'message', ''), 500) AS error
  FROM {schema}.solid_queue_recurring_executions e
  LEFT JOIN {schema}.solid_queue_jobs j ON j.id = e.job_id
  LEFT JOIN {schema}.solid_queue_failed_executions f ON f.job_id = e.job_id
  WHERE e.task_key = t.key
  ORDER BY e.run_at DESC
  LIMIT $1
) r ON true
ORDER BY t.key, r.run_at DESC
LIMIT 10000
"#;

type Row = (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<bool>,
    Option<String>,
);

/// Whether the schema holds Solid Queue's recurring tables.
pub async fn present(pool: &PgPool, schema: &str) -> anyhow::Result<bool> {
    let found: bool = sqlx::query_scalar(
        "SELECT to_regclass(quote_ident($1) || '.solid_queue_recurring_tasks') IS NOT NULL
            AND to_regclass(quote_ident($1) || '.solid_queue_recurring_executions') IS NOT NULL",
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
    let sql = SCHEDULES_SQL.replace("{schema}", &ident(schema));
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(RUNS_PER_SCHEDULE)
        .fetch_all(pool)
        .await?;
    let mut out: Vec<Schedule> = Vec::new();
    for (key, expression, what, id, run_at, finished_at, failed, error) in rows {
        if out.last().is_none_or(|s| s.id != key) {
            let timing = Timing::parse(&expression);
            out.push(Schedule {
                source: SOURCE.to_string(),
                id: key.clone(),
                name: key.clone(),
                command: what,
                active: true,
                period_seconds: timing
                    .as_ref()
                    .and_then(|t| t.period_at(now))
                    .map(|p| p.num_milliseconds() as f64 / 1000.0),
                next_due_at: timing.as_ref().and_then(|t| t.next_after(now)),
                expression,
                timezone: None,
                runs: Vec::new(),
                failures_24h: Count::default(),
                runs_read_since: None,
                never_ran: false,
            });
        }
        let schedule = out.last_mut().expect("pushed above");
        // No execution kept: it may never have run, or Solid Queue cleared its finished jobs.
        let Some(id) = id else {
            continue;
        };
        let failed = failed.unwrap_or(false);
        schedule.runs.push(ScheduleRun {
            id: id.to_string(),
            started_at: run_at.map(|t| t.and_utc()),
            ended_at: finished_at.map(|t| t.and_utc()),
            status: match (failed, finished_at) {
                (true, _) => RunStatus::Failed,
                (false, Some(_)) => RunStatus::Succeeded,
                (false, None) => RunStatus::Running,
            },
            message: error.filter(|_| failed),
            message_len: None,
        });
    }
    for s in &mut out {
        let day_ago = now - chrono::Duration::hours(24);
        let failed = s
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Failed && r.started_at.is_some_and(|t| t > day_ago))
            .count() as i64;
        // A full page of runs that does not reach back a day may leave failures unread.
        let reaches_day = (s.runs.len() as i64) < RUNS_PER_SCHEDULE
            || s.runs
                .last()
                .and_then(|r| r.started_at)
                .is_some_and(|t| t <= day_ago);
        s.failures_24h = Count {
            value: failed,
            capped: !reaches_day,
            estimated: false,
        };
        if (s.runs.len() as i64) >= RUNS_PER_SCHEDULE {
            s.runs_read_since = s.runs.last().and_then(|r| r.started_at);
        }
    }
    Ok(out)
}
