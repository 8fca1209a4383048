//! pg_cron and pg_net: scheduled work the database itself runs, whatever queue it feeds.
//! Database-wide sources, found from the catalog (`schedules::Sources::detect`), not queue
//! schemas: they sit beside whichever queue jobtop watches.
//!
//! pg_cron keeps its jobs in `cron.job` and every run in `cron.job_run_details`, whose only
//! index is its key `runid` and which grows forever unless someone purges it. So the runs
//! are read as one key range, the newest `RUNS_WINDOW` runs (`runid > max(runid) - N`, an
//! index range scan), never the whole history: a schedule's last runs, its failures in 24 h
//! and whether it ran at all are what that window shows, and each says how far back it
//! reaches (`Schedule::runs_read_since`).

pub mod demo;
pub mod net;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::Count;
use crate::backend::schedules::timing::Timing;
use crate::backend::schedules::{RUNS_PER_SCHEDULE, RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "pg_cron";

/// The newest runs read on each poll (all jobs together).
pub const RUNS_WINDOW: i64 = 5000;

/// Jobs listed at most.
pub const JOBS_LIMIT: i64 = 500;

/// A run's message is cut to this many characters (its full length is read too).
pub const MESSAGE_CHARS: i32 = 500;

/// jobid, jobname, schedule, command (cut), active.
pub const JOBS_SQL: &str = r#"
SELECT j.jobid, j.jobname, j.schedule, left(j.command, 200) AS command, j.active
FROM cron.job j
ORDER BY j.jobid
LIMIT $1
"#;

/// The newest `$1` runs by key, the newest `$2` per job of them, with each job's failures
/// of the last 24 h within the window. A run not ended whose session is gone is stuck (a
/// restart left it so); one that started in the last seconds may have no session yet, and
/// one still `starting` has no start time at all (not orphaned: NULL would fail the read).
pub const RUNS_SQL: &str = r#"
WITH top AS (
  SELECT max(runid) AS runid FROM cron.job_run_details
), win AS MATERIALIZED (
  SELECT d.jobid, d.runid, d.job_pid, d.status, d.start_time, d.end_time,
         left(d.return_message, $3) AS message, length(d.return_message) AS message_len
  FROM cron.job_run_details d
  WHERE d.runid > (SELECT runid FROM top) - $1
), per_job AS (
  SELECT w.jobid,
         count(*) FILTER (WHERE w.status = 'failed'
                          AND w.start_time > now() - interval '24 hours') AS failed_24h
  FROM win w
  GROUP BY w.jobid
), ranked AS (
  SELECT w.*, row_number() OVER (PARTITION BY w.jobid ORDER BY w.runid DESC) AS nth
  FROM win w
)
SELECT r.jobid, r.runid, r.status, r.message, r.message_len::int8, r.start_time, r.end_time,
       coalesce(r.status NOT IN ('succeeded', 'failed')
                AND r.start_time < now() - interval '10 seconds'
                AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.job_pid),
                false) AS orphaned,
       p.failed_24h
FROM ranked r
JOIN per_job p ON p.jobid = r.jobid
WHERE r.nth <= $2
ORDER BY r.jobid, r.runid DESC
"#;

/// Where the window begins, and whether it is the whole table (the lowest key is in it).
pub const WINDOW_SQL: &str = r#"
SELECT (SELECT min(d.start_time) FROM cron.job_run_details d
        WHERE d.runid > (SELECT max(runid) FROM cron.job_run_details) - $1) AS since,
       coalesce((SELECT min(runid) FROM cron.job_run_details)
                > (SELECT max(runid) FROM cron.job_run_details) - $1, true) AS whole
"#;

type JobRow = (i64, Option<String>, String, String, bool);
type RunRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
    i64,
);

/// Every pg_cron job with its recent runs, in one read transaction.
pub async fn read(pool: &PgPool) -> anyhow::Result<Vec<Schedule>> {
    let (mut tx, now) = crate::backend::pg::read::begin(pool).await?;
    let jobs: Vec<JobRow> = sqlx::query_as(JOBS_SQL)
        .bind(JOBS_LIMIT)
        .fetch_all(&mut *tx)
        .await?;
    let runs: Vec<RunRow> = sqlx::query_as(RUNS_SQL)
        .bind(RUNS_WINDOW)
        .bind(RUNS_PER_SCHEDULE)
        .bind(MESSAGE_CHARS)
        .fetch_all(&mut *tx)
        .await?;
    let (since, whole): (Option<DateTime<Utc>>, bool) = sqlx::query_as(WINDOW_SQL)
        .bind(RUNS_WINDOW)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(assemble(jobs, runs, since, whole, now))
}

fn assemble(
    jobs: Vec<JobRow>,
    runs: Vec<RunRow>,
    since: Option<DateTime<Utc>>,
    whole: bool,
    now: DateTime<Utc>,
) -> Vec<Schedule> {
    // The window reaches back 24 h when it is the whole table or began before then.
    let covers_day = whole || since.is_some_and(|s| s <= now - chrono::Duration::hours(24));
    jobs.into_iter()
        .map(|(jobid, name, expression, command, active)| {
            let mine: Vec<&RunRow> = runs.iter().filter(|r| r.0 == jobid).collect();
            let failed = mine.first().map_or(0, |r| r.8);
            let runs: Vec<ScheduleRun> = mine.iter().map(|r| run(r)).collect();
            let timing = Timing::parse(&expression);
            let last_start = runs.first().and_then(|r| r.started_at);
            let next_due_at = timing.as_ref().and_then(|t| match t {
                Timing::Every(_) => t.next_after(last_start.unwrap_or(now)),
                Timing::Cron(_) => t.next_after(now),
            });
            Schedule {
                source: SOURCE.to_string(),
                id: jobid.to_string(),
                name: name
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| command.clone()),
                expression,
                timezone: None,
                command: Some(command),
                active,
                period_seconds: timing
                    .as_ref()
                    .and_then(|t| t.period_at(now))
                    .map(|p| p.num_milliseconds() as f64 / 1000.0),
                next_due_at: if active { next_due_at } else { None },
                never_ran: whole && runs.is_empty(),
                runs,
                failures_24h: Count {
                    value: failed,
                    capped: !covers_day,
                    estimated: false,
                },
                runs_read_since: if whole { None } else { since },
            }
        })
        .collect()
}

fn run(r: &RunRow) -> ScheduleRun {
    let (_, runid, status, message, message_len, started_at, ended_at, orphaned, _) = r;
    ScheduleRun {
        id: runid.to_string(),
        started_at: *started_at,
        ended_at: *ended_at,
        status: match status.as_str() {
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            _ if *orphaned => RunStatus::Stuck,
            // starting, connecting, sending, running
            _ => RunStatus::Running,
        },
        message: message.clone().filter(|m| !m.is_empty()),
        message_len: *message_len,
    }
}
