//! Scheduled work, normalized: every schedule the database knows (pg_cron's jobs; a queue
//! system's own cron entries), its recent runs, and pg_net's HTTP figures where pg_net
//! drives them. `Sources` is found once from the catalog (`Sources::detect`) and read on
//! every poll (`Sources::read`); `wrappers::schedules` puts the result in the snapshot, so
//! the overview, the alerts, `check` and `snapshot --json` all see the same read.
//!
//! Each source the catalog lacks is said once, in `Schedules::absent`, not shown as an
//! empty list.

pub mod actions;
pub mod only;
pub mod queues;
pub mod timing;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::backend::cron::{self, net};

/// Recent runs kept per schedule (the strip and the run history).
pub const RUNS_PER_SCHEDULE: i64 = 20;

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    /// Started and not ended, its session still alive.
    Running,
    /// Left "running" by a session that is gone (a server restart): it will never end.
    Stuck,
    /// Enqueued by the schedule and not started yet (a queue system's job still waiting).
    Queued,
    /// The source recorded that it fired, and keeps nothing of how its work ended
    /// (graphile-worker's `last_execution`).
    Fired,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Running => "running",
            RunStatus::Stuck => "stuck",
            RunStatus::Queued => "queued",
            RunStatus::Fired => "fired",
        }
    }
}

/// One run of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRun {
    pub id: String,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// What the run said (pg_cron's `return_message`), cut in SQL; `message_len` is its
    /// full length.
    pub message: Option<String>,
    pub message_len: Option<i64>,
}

impl ScheduleRun {
    /// How long it ran, or has been running at `now`.
    pub fn duration(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let start = self.started_at?;
        Some((self.ended_at.unwrap_or(now) - start).max(chrono::Duration::zero()))
    }
}

/// One schedule as its source keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// `pg_cron`, `pg-boss`, ...
    pub source: String,
    /// The source's own key (pg_cron's jobid).
    pub id: String,
    /// Its name, else its command.
    pub name: String,
    /// Empty where the source keeps no expression (it lives in the application's code).
    pub expression: String,
    /// The zone the expression is read in, where the source keeps one other than UTC: next
    /// runs and missed runs are then not computed (jobtop reads expressions in UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    pub command: Option<String>,
    /// False: deactivated, it will not run until activated again.
    pub active: bool,
    /// Seconds between runs around now; `None` when the expression is not understood.
    pub period_seconds: Option<f64>,
    pub next_due_at: Option<DateTime<Utc>>,
    /// Newest first, at most `RUNS_PER_SCHEDULE`.
    pub runs: Vec<ScheduleRun>,
    /// Failed runs that started in the last 24 h, among the runs read (`failures_24h.capped`:
    /// the runs read do not reach back 24 h, so there may be more).
    pub failures_24h: crate::backend::Count,
    /// When the runs read begin: a schedule with no run among them has not run since.
    /// `None`: every run the source keeps was read.
    pub runs_read_since: Option<DateTime<Utc>>,
    /// The source knows no run of it at all (its whole history was read).
    pub never_ran: bool,
}

impl Schedule {
    pub fn last_run(&self) -> Option<&ScheduleRun> {
        self.runs.first()
    }

    /// The source and name, as alerts and overrides name a schedule: `pg_cron/nightly`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.source, self.name)
    }

    /// Failed runs at the head of its history, newest first.
    pub fn failures_in_a_row(&self) -> usize {
        self.runs
            .iter()
            .take_while(|r| r.status == RunStatus::Failed)
            .count()
    }

    /// When a run was due that has not started by `now - grace`, the time it was due:
    /// the schedule missed it. Judged only where the runs read tell: a schedule whose last
    /// run is older than the runs read, and whose due time falls inside them, missed it too.
    pub fn missed_since(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Option<DateTime<Utc>> {
        if self.timezone.is_some() {
            return None;
        }
        let timing = timing::Timing::parse(&self.expression)?;
        let last_start = self.last_run().and_then(|r| r.started_at);
        // A run under way is not a missed one (a run too long has its own alert).
        if self
            .last_run()
            .is_some_and(|r| r.status == RunStatus::Running)
        {
            return None;
        }
        let due = match (&timing, last_start) {
            (timing::Timing::Every(_), Some(start)) => timing.next_after(start)?,
            (timing::Timing::Every(every), None) => self.runs_read_since? + *every,
            (timing::Timing::Cron(_), _) => timing.due_at_or_before(now - grace)?,
        };
        if due + grace >= now {
            return None;
        }
        // pg_cron starts a run a moment after its minute: a second's slack.
        let slack = chrono::Duration::seconds(1);
        match last_start {
            Some(start) if start + slack >= due => None,
            Some(_) => Some(due),
            // No run among those read: missed only if they reach back before the due time.
            None => self
                .runs_read_since
                .filter(|since| *since <= due)
                .map(|_| due),
        }
    }
}

/// pg_net's queue and last hour's responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetStats {
    /// Requests waiting in `net.http_request_queue` (capped).
    pub queued: crate::backend::Count,
    /// Responses of the last hour by status class.
    pub ok_2xx: i64,
    pub redirect_3xx: i64,
    pub client_4xx: i64,
    pub server_5xx: i64,
    /// Requests that got no status: timed out or failed (`error_msg`).
    pub errors: i64,
    /// The newest error message or non-2xx status of the hour.
    pub last_error: Option<String>,
}

impl NetStats {
    pub fn responses(&self) -> i64 {
        self.ok_2xx + self.redirect_3xx + self.client_4xx + self.server_5xx + self.errors
    }

    /// The share of the hour's requests that did not get a 2xx; `None` when none ended.
    pub fn failure_share(&self) -> Option<f64> {
        let total = self.responses();
        (total > 0).then(|| (total - self.ok_2xx) as f64 / total as f64)
    }
}

/// Every source's schedules, read in one poll.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schedules {
    pub schedules: Vec<Schedule>,
    /// `None` where pg_net is not installed.
    pub net: Option<NetStats>,
    /// Sources that are there (`pg_cron`, `pg_net`, ...).
    pub present: Vec<String>,
    /// Sources looked for and not found, each with why: `pg_cron: not installed in this
    /// database`.
    pub absent: Vec<String>,
    /// A source that is there but could not be read this time (privileges, a timeout).
    pub errors: Vec<String>,
}

/// Which schedule sources a database has, found once from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sources {
    pub pg_cron: bool,
    pub pg_net: bool,
    /// The watched queue's own schedules: its backend's name and schema, where that backend
    /// keeps schedules and the schema holds their tables.
    pub queue: Option<(&'static str, String)>,
    /// The watched queue's backend keeps schedules, but its schema lacks their tables.
    pub queue_looked: Option<(&'static str, String)>,
}

/// The schedule a name given on the command line means: its name, `source/name`, or
/// `source/id`, among every schedule the database has now. Several matches are listed.
pub async fn find(
    pool: &PgPool,
    backend: &'static str,
    schema: &str,
    name: &str,
) -> anyhow::Result<crate::backend::actions::ScheduleTarget> {
    let sources = Sources::detect_with(pool, QueueSchema { backend, schema }).await?;
    let read = sources.read(pool).await;
    if let Some(err) = read.errors.first() {
        anyhow::bail!("cannot read the schedules: {err}");
    }
    let matching: Vec<&Schedule> = read
        .schedules
        .iter()
        .filter(|s| s.name == name || s.key() == name || format!("{}/{}", s.source, s.id) == name)
        .collect();
    match matching.as_slice() {
        [one] => Ok(crate::backend::actions::ScheduleTarget {
            source: one.source.clone(),
            id: one.id.clone(),
            name: one.name.clone(),
        }),
        [] => anyhow::bail!(
            "no schedule named `{name}` (there are {}: {})",
            read.schedules.len(),
            read.schedules
                .iter()
                .take(10)
                .map(Schedule::key)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        several => anyhow::bail!(
            "`{name}` names {} schedules; give one of: {}",
            several.len(),
            several
                .iter()
                .map(|s| format!("{}/{}", s.source, s.id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The opened queue schema whose own schedules `Sources` reads: its `Reads::name` and
/// `Reads::schema`.
#[derive(Debug, Clone, Copy)]
pub struct QueueSchema<'a> {
    pub backend: &'static str,
    pub schema: &'a str,
}

const DETECT_SQL: &str = r#"
SELECT to_regclass('cron.job') IS NOT NULL AND to_regclass('cron.job_run_details') IS NOT NULL,
       to_regclass('net.http_request_queue') IS NOT NULL AND to_regclass('net._http_response') IS NOT NULL
"#;

impl Sources {
    pub async fn detect(pool: &PgPool) -> anyhow::Result<Sources> {
        let (pg_cron, pg_net): (bool, bool) = sqlx::query_as(DETECT_SQL).fetch_one(pool).await?;
        Ok(Sources {
            pg_cron,
            pg_net,
            ..Sources::default()
        })
    }

    /// The database-wide sources, and the queue's own where its backend keeps schedules
    /// (`queues::present`); a backend whose tables for them are missing is said absent once.
    pub async fn detect_with(pool: &PgPool, queue: QueueSchema<'_>) -> anyhow::Result<Sources> {
        let mut sources = Sources::detect(pool).await?;
        if queues::source_of(queue.backend).is_some() {
            if queues::present(pool, queue.backend, queue.schema).await? {
                sources.queue = Some((queue.backend, queue.schema.to_string()));
            } else {
                sources.queue_looked = Some((queue.backend, queue.schema.to_string()));
            }
        }
        Ok(sources)
    }

    /// Reads every source there is; a source that fails is named in `errors`, the others
    /// still read.
    pub async fn read(&self, pool: &PgPool) -> Schedules {
        let mut out = Schedules::default();
        if self.pg_cron {
            out.present.push("pg_cron".into());
            match cron::read(pool).await {
                Ok(found) => out.schedules.extend(found),
                Err(err) => out.errors.push(format!("pg_cron: {err:#}")),
            }
        } else {
            out.absent
                .push("pg_cron: not installed in this database (cron.job)".into());
        }
        if let Some((backend, schema)) = &self.queue {
            let source = queues::source_of(backend).unwrap_or(backend);
            out.present.push(source.to_string());
            match queues::read(pool, backend, schema, chrono::Utc::now()).await {
                Ok(found) => out.schedules.extend(found),
                Err(err) => out.errors.push(format!("{source}: {err:#}")),
            }
        }
        if let Some((backend, schema)) = &self.queue_looked {
            let source = queues::source_of(backend).unwrap_or(backend);
            out.absent.push(format!(
                "{source}: no schedules kept in schema {schema} ({})",
                queues::kept_in(backend)
            ));
        }
        if self.pg_net {
            out.present.push("pg_net".into());
            match net::read(pool).await {
                Ok(stats) => out.net = Some(stats),
                Err(err) => out.errors.push(format!("pg_net: {err:#}")),
            }
        } else {
            out.absent
                .push("pg_net: not installed in this database (net.http_request_queue)".into());
        }
        out
    }
}
