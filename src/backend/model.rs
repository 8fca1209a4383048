//! The normalized queue model every backend maps its schema onto (DESIGN.md, "What it reads").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Minutes of completion history per queue; the last one is the current, open minute.
pub const HISTORY_MINUTES: usize = 60;

/// Display buckets: each job is in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Scheduled,
    Ready,
    Running,
    Retrying,
    Succeeded,
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Ready,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retrying,
        JobState::Dead,
        JobState::Cancelled,
        JobState::Succeeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A job's id as its schema has it: a bigint for most queues, a uuid or text for some
/// (pg-boss, home-grown tables). Numbers sort before text, and among themselves as numbers,
/// so "oldest first" by id still holds for bigint ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobId {
    Int(i64),
    Text(String),
}

impl JobId {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            JobId::Int(n) => Some(*n),
            JobId::Text(_) => None,
        }
    }

    /// The bigint ids among `ids`; a text id names no job of a bigint-keyed table.
    pub fn ints(ids: &[JobId]) -> Vec<i64> {
        ids.iter().filter_map(JobId::as_int).collect()
    }

    /// Every id as text, to bind as `text[]` and cast to the id column's own type.
    pub fn texts(ids: &[JobId]) -> Vec<String> {
        ids.iter().map(JobId::to_string).collect()
    }

    /// Reads an id the database gave as text (`id::text`).
    pub fn from_db(text: String) -> JobId {
        match text.parse::<i64>() {
            Ok(n) => JobId::Int(n),
            Err(_) => JobId::Text(text),
        }
    }
}

impl PartialEq<i64> for JobId {
    fn eq(&self, n: &i64) -> bool {
        self.as_int() == Some(*n)
    }
}

impl From<i64> for JobId {
    fn from(n: i64) -> JobId {
        JobId::Int(n)
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobId::Int(n) => write!(f, "{n}"),
            JobId::Text(t) => f.write_str(t),
        }
    }
}

impl std::str::FromStr for JobId {
    type Err = String;

    /// What an operator types: `123`, `#123`, or a uuid.
    fn from_str(s: &str) -> Result<JobId, String> {
        let s = s.trim();
        let s = s.strip_prefix('#').unwrap_or(s);
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("not a job id: {s:?}"));
        }
        if s.contains("://") {
            return Err("a database URL is not a job id: pass it with --url".into());
        }
        Ok(JobId::from_db(s.to_string()))
    }
}

/// A row count as the monitor knows it: exact, exact up to a cap, or a planner estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Count {
    pub value: i64,
    /// The real count is at least `value`: counting stopped at the cap.
    pub capped: bool,
    /// `value` is a planner estimate, not a count.
    pub estimated: bool,
}

impl Count {
    pub fn exact(value: i64) -> Count {
        Count {
            value,
            capped: false,
            estimated: false,
        }
    }

    /// A count taken with `LIMIT cap + 1`: reaching the cap means "at least".
    pub fn capped_at(value: i64, cap: i64) -> Count {
        if value > cap {
            Count {
                value: cap,
                capped: true,
                estimated: false,
            }
        } else {
            Count::exact(value)
        }
    }
}

/// A total of counts is "at least" where any of them is, and an estimate where any is.
impl std::iter::Sum for Count {
    fn sum<I: Iterator<Item = Count>>(counts: I) -> Count {
        counts.fold(Count::default(), |acc, c| Count {
            value: acc.value + c.value,
            capped: acc.capped || c.capped,
            estimated: acc.estimated || c.estimated,
        })
    }
}

/// Who paused a queue and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PauseInfo {
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub reason: Option<String>,
}

/// Completions in one minute of the last hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MinuteBucket {
    pub succeeded: u32,
    /// Attempts that ended in failure (retrying or dead) in that minute.
    pub failed: u32,
}

/// One job kind of a queue over the completion history window (the last hour).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindOutcomes {
    pub kind: String,
    pub succeeded: u64,
    /// Attempts that ended in failure (retrying or dead).
    pub failed: u64,
}

impl KindOutcomes {
    /// Failed attempts over all ended attempts; `None` when nothing ended.
    pub fn failure_rate(&self) -> Option<f64> {
        let total = self.succeeded + self.failed;
        (total > 0).then(|| self.failed as f64 / total as f64)
    }
}

/// Jobs running now for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRunning {
    /// `None`: the jobs that carry no tenant.
    pub tenant: Option<String>,
    pub running: i64,
}

/// Per-queue figures of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    pub name: String,
    pub ready: Count,
    pub scheduled: Count,
    pub running: Count,
    pub retrying: Count,
    pub dead: Count,
    pub oldest_ready_at: Option<DateTime<Utc>>,
    pub paused: Option<PauseInfo>,
    /// Oldest minute first; the last element is the current, still open minute.
    /// Empty where the backend has no completion history.
    pub minutes: Vec<MinuteBucket>,
    /// When the longest-running job of the queue started; `None` when nothing runs or the
    /// backend cannot tell.
    pub oldest_running_started_at: Option<DateTime<Utc>>,
    /// Jobs that went dead in the last hour; `None` where the backend cannot tell.
    pub dead_last_hour: Option<Count>,
    /// Per job kind over the history window; `None` where the backend cannot tell.
    pub kinds: Option<Vec<KindOutcomes>>,
}

impl QueueStats {
    pub fn new(name: impl Into<String>) -> QueueStats {
        QueueStats {
            name: name.into(),
            ready: Count::default(),
            scheduled: Count::default(),
            running: Count::default(),
            retrying: Count::default(),
            dead: Count::default(),
            oldest_ready_at: None,
            paused: None,
            minutes: Vec::new(),
            oldest_running_started_at: None,
            dead_last_hour: None,
            kinds: None,
        }
    }

    /// How long the longest-running job has been running at `now` (the database clock).
    pub fn longest_running(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.oldest_running_started_at
            .map(|at| (now - at).max(chrono::Duration::zero()))
    }

    /// Succeeded jobs and failed attempts over the whole history window.
    pub fn window_totals(&self) -> (u64, u64) {
        let ok = self.minutes.iter().map(|m| m.succeeded as u64).sum();
        let failed = self.minutes.iter().map(|m| m.failed as u64).sum();
        (ok, failed)
    }

    /// Age of the oldest ready job at `now` (the database clock).
    pub fn oldest_ready_age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.oldest_ready_at
            .map(|at| (now - at).max(chrono::Duration::zero()))
    }

    /// Succeeded and failed per minute over the last `minutes` closed minutes. The newest
    /// bucket is the minute under way, a fraction of a minute's work: counted in, it would
    /// pull every rate down by up to one minute in `minutes`.
    pub fn per_minute(&self, minutes: usize) -> (f64, f64) {
        let closed = &self.minutes[..self.minutes.len().saturating_sub(1)];
        let take = minutes.min(closed.len());
        if take == 0 {
            return (0.0, 0.0);
        }
        let recent = &closed[closed.len() - take..];
        let ok: u32 = recent.iter().map(|m| m.succeeded).sum();
        let failed: u32 = recent.iter().map(|m| m.failed).sum();
        (ok as f64 / take as f64, failed as f64 / take as f64)
    }

    /// Failed attempts over all ended attempts in the whole history window (an hour).
    pub fn failure_rate(&self) -> Option<f64> {
        let ok: u64 = self.minutes.iter().map(|m| m.succeeded as u64).sum();
        let failed: u64 = self.minutes.iter().map(|m| m.failed as u64).sum();
        let total = ok + failed;
        (total > 0).then(|| failed as f64 / total as f64)
    }
}

/// A worker process as its heartbeats describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub id: String,
    pub host: Option<String>,
    pub pid: Option<i32>,
    pub queues: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Jobs in the running state locked by this worker.
    pub running_jobs: i64,
}

impl WorkerInfo {
    pub fn heartbeat_age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.last_heartbeat_at
            .map(|at| (now - at).max(chrono::Duration::zero()))
    }
}

/// One poll's worth of data: everything the overview shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The database's clock when the snapshot was taken; every age is measured from it.
    pub db_now: DateTime<Utc>,
    pub queues: Vec<QueueStats>,
    pub workers: Vec<WorkerInfo>,
    /// The cap applied to live counts.
    pub count_cap: i64,
    /// Running jobs per tenant, when asked for (`SnapshotOptions::running_by_tenant`) and
    /// the backend knows tenants; `None` otherwise.
    pub running_by_tenant: Option<Vec<TenantRunning>>,
    /// The database's schedules (pg_cron, pg_net), where the overview reads them
    /// (`Backend::with_schedules`); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Box<crate::backend::schedules::Schedules>>,
}

/// Options that shape a snapshot query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Live counts stop at this many rows per (queue, state).
    pub count_cap: i64,
    /// Also count running jobs per tenant (costs a query; only the heartbeat-budget alert
    /// needs it).
    pub running_by_tenant: bool,
    /// Scheduled and dead jobs, the piles that grow big by design, are counted exactly up
    /// to this many per queue (never more than `count_cap`); past it a backend that can
    /// shows an estimate ("~45k").
    pub pile_cap: i64,
    /// New planner estimates of piles past the pile cap one snapshot may take: a monitor
    /// spreads them over its polls (`pile_estimates::PER_POLL`, the default), a command
    /// that polls once (`snapshot`, `check`) takes them all, or most of its piles would
    /// read "100+".
    pub estimates: usize,
}

/// The default `pile_cap`: small piles exact, big ones estimated.
pub const PILE_CAP: i64 = 100;

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            count_cap: 10_000,
            running_by_tenant: false,
            pile_cap: PILE_CAP,
            estimates: crate::backend::pile_estimates::PER_POLL,
        }
    }
}
