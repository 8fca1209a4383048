//! The queue systems' own schedules: which backend keeps them where (each reader lives in
//! its schema's folder, `<schema>/schedules.rs`), and the one way a reader's rows become
//! `Schedule`s (`Found::finish`), so every source computes next runs, periods, failures in
//! 24 h and "never ran" alike.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::timing::Timing;
use super::{RUNS_PER_SCHEDULE, RunStatus, Schedule, ScheduleRun};
use crate::backend::Count;
use crate::backend::{goodjob, graphile, native, oban, pgboss, procrastinate, river, solidqueue};

/// Schedules listed at most per source.
pub const SCHEDULES_LIMIT: i64 = 500;

/// Where a source finds its runs among the jobs themselves (Oban, River: jobs marked as
/// cron/periodic in their metadata, and no index on the mark), the newest this many jobs by
/// key are read: a key range, never the table's history.
pub const JOBS_WINDOW: i64 = 5000;

/// A run's message is cut to this many characters.
pub const MESSAGE_CHARS: i32 = 500;

/// The source name a backend's own schedules are shown under, where it keeps any.
pub fn source_of(backend: &str) -> Option<&'static str> {
    Some(match backend {
        solidqueue::BACKEND => solidqueue::schedules::SOURCE,
        pgboss::BACKEND => pgboss::schedules::SOURCE,
        graphile::BACKEND => graphile::schedules::SOURCE,
        procrastinate::BACKEND => procrastinate::schedules::SOURCE,
        goodjob::BACKEND => goodjob::schedules::SOURCE,
        oban::BACKEND => oban::schedules::SOURCE,
        river::BACKEND => river::schedules::SOURCE,
        native::BACKEND => native::schedules::SOURCE,
        _ => return None,
    })
}

/// Whether `schema` holds the tables the backend keeps its schedules in; `Err(why)` says
/// what is missing, said once in `Schedules::absent`.
pub async fn present(pool: &PgPool, backend: &str, schema: &str) -> anyhow::Result<bool> {
    Ok(match backend {
        solidqueue::BACKEND => solidqueue::schedules::present(pool, schema).await?,
        pgboss::BACKEND => has_table(pool, schema, "schedule").await?,
        graphile::BACKEND => has_table(pool, schema, "_private_known_crontabs").await?,
        procrastinate::BACKEND => has_table(pool, schema, "procrastinate_periodic_defers").await?,
        // Their schedules are columns or marks of the jobs table, which is there.
        goodjob::BACKEND => goodjob::schedules::present(pool, schema).await?,
        oban::BACKEND | river::BACKEND | native::BACKEND => true,
        _ => false,
    })
}

/// Where the backend keeps its schedules, for the line that says they are absent.
pub fn kept_in(backend: &str) -> &'static str {
    match backend {
        solidqueue::BACKEND => "solid_queue_recurring_tasks",
        pgboss::BACKEND => "schedule",
        graphile::BACKEND => "_private_known_crontabs",
        procrastinate::BACKEND => "procrastinate_periodic_defers",
        goodjob::BACKEND => "good_jobs.cron_key",
        _ => "its jobs",
    }
}

pub async fn read(
    pool: &PgPool,
    backend: &str,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    match backend {
        solidqueue::BACKEND => solidqueue::schedules::read(pool, schema, now).await,
        pgboss::BACKEND => pgboss::schedules::read(pool, schema, now).await,
        graphile::BACKEND => graphile::schedules::read(pool, schema, now).await,
        procrastinate::BACKEND => procrastinate::schedules::read(pool, schema, now).await,
        goodjob::BACKEND => goodjob::schedules::read(pool, schema, now).await,
        oban::BACKEND => oban::schedules::read(pool, schema, now).await,
        river::BACKEND => river::schedules::read(pool, schema, now).await,
        native::BACKEND => native::schedules::read(pool, now).await,
        other => anyhow::bail!("{other} keeps no schedules jobtop reads"),
    }
}

async fn has_table(pool: &PgPool, schema: &str, table: &str) -> anyhow::Result<bool> {
    let found: bool = sqlx::query_scalar(
        "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL",
    )
    .bind(schema)
    .bind(table)
    .fetch_one(pool)
    .await?;
    Ok(found)
}

/// A zone that reads as UTC, or none given: jobtop computes the expression's times itself.
pub fn zone(timezone: Option<String>) -> Option<String> {
    timezone.filter(|tz| {
        !matches!(
            tz.as_str(),
            "" | "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Etc/Universal" | "Zulu"
        )
    })
}

/// One schedule as a queue system's reader found it.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub id: String,
    pub name: String,
    /// Empty where the system keeps no expression in the database.
    pub expression: String,
    pub timezone: Option<String>,
    pub command: Option<String>,
    pub active: bool,
    /// Newest first; at most `RUNS_PER_SCHEDULE` are kept.
    pub runs: Vec<ScheduleRun>,
    /// When the runs read begin; `None` with `whole`: every run the system keeps for it.
    pub runs_read_since: Option<DateTime<Utc>>,
    /// The runs read are all the system keeps of this schedule's history.
    pub whole: bool,
}

impl Found {
    pub fn finish(mut self, source: &str, now: DateTime<Utc>) -> Schedule {
        self.runs.truncate(RUNS_PER_SCHEDULE as usize);
        let timing = match self.timezone {
            None => Timing::parse(&self.expression),
            Some(_) => None,
        };
        let last_start = self.runs.first().and_then(|r| r.started_at);
        let next_due_at = timing.as_ref().and_then(|t| match t {
            Timing::Every(_) => t.next_after(last_start.unwrap_or(now)),
            Timing::Cron(_) => t.next_after(now),
        });
        let day_ago = now - chrono::Duration::hours(24);
        let failed = self
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Failed && r.started_at.is_some_and(|t| t > day_ago))
            .count() as i64;
        let oldest = self.runs.last().and_then(|r| r.started_at);
        let reaches_day = (self.whole && (self.runs.len() as i64) < RUNS_PER_SCHEDULE)
            || oldest.is_some_and(|t| t <= day_ago)
            || self.runs_read_since.is_some_and(|t| t <= day_ago);
        let runs_read_since = match (self.runs.len() as i64) < RUNS_PER_SCHEDULE {
            true => self.runs_read_since,
            false => oldest,
        };
        Schedule {
            source: source.to_string(),
            id: self.id,
            name: self.name,
            period_seconds: timing
                .as_ref()
                .and_then(|t| t.period_at(now))
                .map(|p| p.num_milliseconds() as f64 / 1000.0),
            next_due_at: if self.active { next_due_at } else { None },
            expression: self.expression,
            timezone: self.timezone,
            command: self.command,
            active: self.active,
            never_ran: self.whole && self.runs.is_empty(),
            runs: self.runs,
            failures_24h: Count {
                value: failed,
                capped: !reaches_day,
                estimated: false,
            },
            runs_read_since,
        }
    }
}

/// Rows of (schedule id, run) in schedule order, newest run first, folded into `Found`s;
/// `first` makes the schedule from its first row.
pub fn group<R>(
    rows: Vec<R>,
    id: impl Fn(&R) -> String,
    first: impl Fn(&R) -> Found,
    run: impl Fn(&R) -> Option<ScheduleRun>,
) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for row in rows {
        let key = id(&row);
        if out.last().is_none_or(|f| f.id != key) {
            out.push(first(&row));
        }
        let found = out.last_mut().expect("pushed above");
        if let Some(r) = run(&row)
            && (found.runs.len() as i64) < RUNS_PER_SCHEDULE
        {
            found.runs.push(r);
        }
    }
    out
}

/// One run of a job its system marked periodic (Oban's cron jobs, River's periodic jobs, the
/// reference schema's `"periodic"` payload), as each reader's SQL names its columns. The jobs
/// are read among the newest `JOBS_WINDOW` by key: `since` and `whole` say how far back that
/// reaches.
#[derive(Debug, sqlx::FromRow)]
pub struct PeriodicRun {
    /// The schedule's name, its key too.
    pub name: String,
    /// Not selected where the system keeps no expression with the job.
    #[sqlx(default)]
    pub expression: Option<String>,
    #[sqlx(default)]
    pub timezone: Option<String>,
    /// The job's kind or worker: what the schedule runs.
    pub command: String,
    pub id: i64,
    /// The job's state word, for the system's own map to a `RunStatus`.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The job's last error, cut to `MESSAGE_CHARS`.
    pub error: Option<String>,
    /// The oldest job of the window.
    pub since: Option<DateTime<Utc>>,
    /// The window is the whole jobs table.
    pub whole: bool,
}

/// The periodic runs `sql` finds (`$1` the window, `$2` the message's length), by schedule
/// then newest first, as schedules; `status` maps the system's state words.
pub async fn read_periodic(
    pool: &PgPool,
    sql: impl sqlx::SqlSafeStr,
    source: &str,
    status: fn(&str) -> RunStatus,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let rows: Vec<PeriodicRun> = sqlx::query_as(sql)
        .bind(JOBS_WINDOW)
        .bind(MESSAGE_CHARS)
        .fetch_all(pool)
        .await?;
    let found = group(
        rows,
        |r| r.name.clone(),
        |r| Found {
            id: r.name.clone(),
            name: r.name.clone(),
            expression: r.expression.clone().unwrap_or_default(),
            timezone: zone(r.timezone.clone()),
            command: Some(r.command.clone()),
            active: true,
            runs_read_since: r.since.filter(|_| !r.whole),
            whole: r.whole,
            ..Found::default()
        },
        |r| {
            let status = status(&r.state);
            Some(ScheduleRun {
                id: r.id.to_string(),
                started_at: Some(r.started_at),
                ended_at: r.ended_at,
                status,
                message: match (status, r.state.as_str()) {
                    (_, "cancelled") => Some("cancelled".into()),
                    (RunStatus::Succeeded, _) => None,
                    _ => r.error.clone(),
                },
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(source, now)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_that_read_as_utc_are_none() {
        assert_eq!(zone(Some("Etc/UTC".into())), None);
        assert_eq!(zone(None), None);
        assert_eq!(
            zone(Some("Europe/Paris".into())).as_deref(),
            Some("Europe/Paris")
        );
    }

    #[test]
    fn a_full_page_of_runs_says_where_it_begins() {
        let now = Utc::now();
        let runs: Vec<ScheduleRun> = (0..30)
            .map(|i| ScheduleRun {
                id: i.to_string(),
                started_at: Some(now - chrono::Duration::minutes(i)),
                ended_at: None,
                status: RunStatus::Failed,
                message: None,
                message_len: None,
            })
            .collect();
        let s = Found {
            id: "x".into(),
            name: "x".into(),
            expression: "* * * * *".into(),
            active: true,
            runs,
            whole: true,
            ..Found::default()
        }
        .finish("oban", now);
        assert_eq!(s.runs.len(), RUNS_PER_SCHEDULE as usize);
        assert_eq!(s.failures_24h.value, RUNS_PER_SCHEDULE);
        assert!(s.failures_24h.capped);
        assert_eq!(
            s.runs_read_since,
            Some(now - chrono::Duration::minutes(RUNS_PER_SCHEDULE - 1))
        );
        assert!(!s.never_ran);
    }
}
