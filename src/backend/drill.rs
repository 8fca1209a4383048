//! The drill-down model: which jobs to list and how they come back (keyset pages), one job
//! in full, dead letters grouped by error signature, per-kind and per-tenant figures.
//!
//! Requests are plain data so that `App::update` can describe a load as an `Effect` and the
//! terminal layer can run it (`run`) without knowing what it is.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::history::HistoryReport;
use crate::backend::{Count, JobId, JobState, Reads};

/// Rows per page of a job list. Fixed, so a page is the same set of rows on every screen
/// size; the table scrolls inside it.
pub const PAGE_SIZE: usize = 100;

/// Scope sizes (and tab counts) stop at this many jobs ("10k+").
pub const SCOPE_COUNT_CAP: i64 = 10_000;

/// Which jobs a list is about, before any filter. Each scope maps to one indexed path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobScope {
    /// A queue's jobs in one display state.
    Queue { queue: String, state: JobState },
    /// The running jobs a worker holds.
    Worker { worker: String },
    /// An explicit set of jobs (a dead-letter group), whatever their state is now.
    Ids { ids: Vec<JobId> },
    /// Running jobs that ran longer than `running_longer_than`, or not heard from for
    /// `stale_after`, judged exactly as reset-stuck judges them (the reference schema: the
    /// worker's heartbeat, else the job's, else its start; graphile-worker: its worker's
    /// newest lock; a profile: its heartbeat, else its start).
    Stuck {
        running_longer_than: Duration,
        stale_after: Duration,
    },
}

impl JobScope {
    /// The column the list is ordered (and paged) by, together with the id.
    pub fn sort_key(&self) -> SortKey {
        match self {
            JobScope::Queue { state, .. } => match state {
                JobState::Ready | JobState::Scheduled | JobState::Retrying => SortKey::RunAt,
                JobState::Running => SortKey::StartedAt,
                JobState::Dead | JobState::Succeeded | JobState::Cancelled => SortKey::FinishedAt,
            },
            JobScope::Stuck { .. } => SortKey::StartedAt,
            JobScope::Worker { .. } | JobScope::Ids { .. } => SortKey::Id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    RunAt,
    StartedAt,
    FinishedAt,
    /// The id alone.
    Id,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::RunAt => "run at",
            SortKey::StartedAt => "started",
            SortKey::FinishedAt => "finished",
            SortKey::Id => "id",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    #[default]
    OldestFirst,
    NewestFirst,
}

impl Order {
    pub fn toggled(self) -> Order {
        match self {
            Order::OldestFirst => Order::NewestFirst,
            Order::NewestFirst => Order::OldestFirst,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Order::OldestFirst => "oldest first",
            Order::NewestFirst => "newest first",
        }
    }
}

/// Narrows a scope. Every term must match; empty means "everything in the scope".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ListFilter {
    pub id: Option<JobId>,
    /// Exact kind.
    pub kind: Option<String>,
    /// Exact tenant.
    pub tenant: Option<String>,
    /// Case-insensitive substring of the last error.
    pub error_text: Option<String>,
    pub payload: Option<PayloadTerm>,
}

/// A term on the payload: the value at a JSON path (`customer_id`, `order.id`) compared as
/// text, so the number 4711 and the string "4711" both match `4711`; with no path, the
/// text anywhere in the payload (the only form a bytea payload allows).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PayloadTerm {
    pub path: Vec<String>,
    pub value: String,
}

impl ListFilter {
    pub fn is_empty(&self) -> bool {
        *self == ListFilter::default()
    }

    /// Terms that no index answers: on a big scope they mean reading every job in it.
    pub fn needs_scan(&self) -> bool {
        self.kind.is_some()
            || self.tenant.is_some()
            || self.error_text.is_some()
            || self.payload.is_some()
    }
}

/// Where a page starts: strictly after this row in the list's order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The sort key of the row (`None` for lists ordered by id alone).
    pub key: Option<DateTime<Utc>>,
    pub id: JobId,
}

/// One page of a job list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobQuery {
    pub scope: JobScope,
    pub filter: ListFilter,
    pub order: Order,
    /// `None` for the first page.
    pub after: Option<Cursor>,
    pub limit: usize,
}

/// A job as a list shows it. Long text is cut by the database, so a 1 MB error costs a
/// list no more than a short one; `error_bytes` says how long it really is.
///
/// Optional fields are `None` where the job has no value, and also where its schema keeps
/// no such field at all (a home-grown table without attempts or priorities): the views then
/// show a dash, never a made-up zero.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: JobId,
    pub queue: String,
    pub kind: String,
    pub tenant: Option<String>,
    pub state: JobState,
    pub priority: Option<i32>,
    pub attempts: Option<i32>,
    pub max_attempts: Option<i32>,
    pub run_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// The worker's own last heartbeat (stuck jobs only).
    pub worker_heartbeat_at: Option<DateTime<Utc>>,
    /// At most `LIST_ERROR_CHARS` characters of the last error.
    pub last_error: Option<String>,
    pub error_bytes: i64,
}

impl JobRow {
    /// The sort key of this row in a list ordered by `key`.
    pub fn cursor(&self, key: SortKey) -> Cursor {
        let key = match key {
            SortKey::RunAt => self.run_at,
            SortKey::StartedAt => self.started_at,
            SortKey::FinishedAt => self.finished_at,
            SortKey::Id => None,
        };
        Cursor {
            key,
            id: self.id.clone(),
        }
    }
}

/// Characters of the last error a list row carries.
pub const LIST_ERROR_CHARS: i32 = 300;

#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    pub db_now: DateTime<Utc>,
    pub rows: Vec<JobRow>,
    /// More rows follow this page.
    pub has_more: bool,
    /// How many jobs the scope holds, filter aside (capped at `SCOPE_COUNT_CAP`).
    pub scope_count: Count,
    /// Past the cap, the planner's estimate of the scope's jobs (`EXPLAIN`): what a filter
    /// no index answers would read, which `/` warns about before a large read.
    pub scope_estimate: Option<i64>,
}

/// A filter no index answers warns first when the planner expects its list to hold at
/// least this many jobs.
pub const LARGE_SCAN_ROWS: i64 = 100_000;

/// How much of a job's big values the detail view loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DetailLimits {
    pub payload_chars: i32,
    pub error_chars: i32,
    /// Newest attempts' errors kept.
    pub errors: i32,
}

impl Default for DetailLimits {
    fn default() -> Self {
        DetailLimits {
            payload_chars: 256 * 1024,
            error_chars: 16 * 1024,
            errors: 100,
        }
    }
}

/// One failed attempt from a job's error history.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptError {
    /// `None` when the stored timestamp is missing or unreadable.
    pub at: Option<DateTime<Utc>>,
    pub attempt: Option<i64>,
    pub worker: Option<String>,
    pub error: String,
    /// The full length of the stored message.
    pub error_bytes: i64,
}

/// What a payload's text is: JSON (json, jsonb and text columns are shown as JSON, laid
/// out as far as they go), or, from a binary column, the text it decodes to, or a hex dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadForm {
    #[default]
    Json,
    Text,
    Hex,
}

/// Every field of one job. Big values are cut at `DetailLimits` by the database.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    pub db_now: DateTime<Utc>,
    pub job: JobRow,
    pub failed_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    /// The payload as JSON text (cut at `payload_chars`, so possibly not valid JSON);
    /// `None` where the schema keeps no payload.
    pub payload: Option<String>,
    /// The size of the whole payload as text (bytes, for a binary column).
    pub payload_bytes: i64,
    pub payload_truncated: bool,
    /// How the payload text is laid out.
    pub payload_form: PayloadForm,
    /// Newest attempt first.
    pub errors: Vec<AttemptError>,
    /// How many entries the history holds (more than `errors.len()` when cut).
    pub error_count: i64,
}

/// The dead letters' windows: the history's three (they open on the last 24 hours).
pub type DeadWindow = HistoryWindow;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeadLetterQuery {
    pub window: DeadWindow,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// Only jobs of this queue (`d` inside a queue).
    pub queue: Option<String>,
    /// At most this many dead jobs (the newest) are grouped.
    pub limit: i64,
}

/// Dead jobs whose errors differ only in numbers, ids and quoted values.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorGroup {
    pub signature: String,
    /// One real message of the group (cut).
    pub sample: String,
    pub count: i64,
    /// Most frequent first.
    pub kinds: Vec<(String, i64)>,
    pub queues: Vec<(String, i64)>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Every job of the group, newest first: the target for retrying or discarding it.
    pub ids: Vec<JobId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterReport {
    pub db_now: DateTime<Utc>,
    pub window: DeadWindow,
    /// Largest count first.
    pub groups: Vec<ErrorGroup>,
    /// Dead jobs read.
    pub jobs: i64,
    /// The limit was reached: older dead jobs of the window were left out, and groups only
    /// cover the jobs since `covered_since`.
    pub capped: bool,
    pub covered_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HistoryWindow {
    #[default]
    Hour,
    Day,
    Week,
}

impl HistoryWindow {
    pub const ALL: [HistoryWindow; 3] =
        [HistoryWindow::Hour, HistoryWindow::Day, HistoryWindow::Week];

    pub fn duration(self) -> Duration {
        Duration::from_secs(self.hours() as u64 * 3600)
    }

    /// Hours in the window, the open one included.
    pub fn hours(self) -> i64 {
        match self {
            HistoryWindow::Hour => 1,
            HistoryWindow::Day => 24,
            HistoryWindow::Week => 168,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            HistoryWindow::Hour => "1h",
            HistoryWindow::Day => "24h",
            HistoryWindow::Week => "7d",
        }
    }
}

/// The failed attempts of one kind over a window, grouped by error signature as the dead
/// letters are (`Reads::failed_attempts`): the way on from a kind that fails without dead
/// jobs (its attempts are retried).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FailedAttemptsQuery {
    pub kind: String,
    pub window: HistoryWindow,
    /// At most this many failed attempts (the newest) are grouped.
    pub limit: i64,
}

impl FailedAttemptsQuery {
    /// The same window, kind and limit as a dead-letter query: the report is decoded and
    /// grouped as theirs is.
    pub fn as_dead_letters(&self) -> DeadLetterQuery {
        DeadLetterQuery {
            window: self.window,
            kind: Some(self.kind.clone()),
            queue: None,
            limit: self.limit,
        }
    }
}

/// What the default `Reads::failed_attempts` says: the schema keeps nothing of an attempt
/// that failed and was retried.
pub const NO_FAILED_ATTEMPTS: &str = "this system keeps no failed attempts";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KindsQuery {
    pub window: HistoryWindow,
    /// At most this many finished jobs (the newest), and as many failed ones, are read.
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KindStats {
    pub kind: String,
    pub succeeded: i64,
    /// Failed attempts (retried or not) in the window.
    pub failed_attempts: i64,
    pub dead: i64,
    /// Run time of succeeded jobs, in seconds.
    pub run_p50: Option<f64>,
    pub run_p95: Option<f64>,
    /// From due (`run_at`) to started, of jobs that finished, in seconds.
    pub wait_p50: Option<f64>,
}

impl KindStats {
    /// Failed attempts over all ended attempts.
    pub fn failure_rate(&self) -> Option<f64> {
        let total = self.succeeded + self.failed_attempts;
        (total > 0).then(|| self.failed_attempts as f64 / total as f64)
    }
}

/// Kinds with fewer ended attempts than this rank after the others: one failure out of one
/// attempt is a 100% rate, and must not push a kind failing by the thousand off the top.
pub const KIND_MIN_ATTEMPTS: i64 = 10;

/// Busiest first: the most running, then the most ready, then the name.
pub fn sort_tenants(tenants: &mut [TenantStats]) {
    tenants.sort_by(|a, b| {
        b.running
            .cmp(&a.running)
            .then_with(|| b.ready.value.cmp(&a.ready.value))
            .then_with(|| a.tenant.cmp(&b.tenant))
    });
}

/// Worst first: by failure rate, kinds with at least `KIND_MIN_ATTEMPTS` ended attempts
/// before the rest; then the most failures, then the name.
pub fn sort_kinds(kinds: &mut [KindStats]) {
    kinds.sort_by(|a, b| {
        let rank = |k: &KindStats| {
            (
                k.succeeded + k.failed_attempts >= KIND_MIN_ATTEMPTS,
                k.failure_rate().unwrap_or(-1.0),
            )
        };
        let (a_big, a_rate) = rank(a);
        let (b_big, b_rate) = rank(b);
        b_big
            .cmp(&a_big)
            .then_with(|| {
                b_rate
                    .partial_cmp(&a_rate)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then_with(|| (b.failed_attempts + b.dead).cmp(&(a.failed_attempts + a.dead)))
            .then_with(|| a.kind.cmp(&b.kind))
    });
}

#[derive(Debug, Clone, PartialEq)]
pub struct KindsReport {
    pub db_now: DateTime<Utc>,
    pub window: HistoryWindow,
    /// Worst first (`sort_kinds`).
    pub kinds: Vec<KindStats>,
    /// The read limit was reached; figures cover the newest jobs only, since this time.
    pub covered_since: Option<DateTime<Utc>>,
    /// OK and FAILED count every job of the window, from the hourly history
    /// (`take_counts`); the times and DEAD still come from the jobs read.
    pub counted_by_hour: bool,
}

impl KindsReport {
    /// Past the hour the read limit cuts the window short on a busy queue; the hourly
    /// history counts all of it. A kind only the history knows joins without times.
    pub fn take_counts(&mut self, history: &HistoryReport) {
        if !history.complete() || history.kinds.is_empty() {
            return;
        }
        for k in &mut self.kinds {
            let (ok, failed) = history.kinds.get(&k.kind).copied().unwrap_or_default();
            k.succeeded = ok as i64;
            k.failed_attempts = failed as i64;
        }
        for (kind, (ok, failed)) in &history.kinds {
            if !self.kinds.iter().any(|k| &k.kind == kind) {
                self.kinds.push(KindStats {
                    kind: kind.clone(),
                    succeeded: *ok as i64,
                    failed_attempts: *failed as i64,
                    dead: 0,
                    run_p50: None,
                    run_p95: None,
                    wait_p50: None,
                });
            }
        }
        sort_kinds(&mut self.kinds);
        self.counted_by_hour = true;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantsQuery {
    /// A running job whose heartbeat is older than this is not beating.
    pub stale_after: Duration,
    /// Ready jobs are read at most this many per queue.
    pub ready_cap: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantStats {
    /// `None`: jobs without a tenant.
    pub tenant: Option<String>,
    pub running: i64,
    /// Running jobs whose heartbeat is fresh: the ones that send heartbeats.
    pub beating: i64,
    pub ready: Count,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantsReport {
    pub db_now: DateTime<Utc>,
    /// Most running first.
    pub tenants: Vec<TenantStats>,
}

/// A drill-down read, as `update` asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    Jobs(JobQuery),
    Job {
        id: JobId,
        limits: DetailLimits,
    },
    DeadLetters(DeadLetterQuery),
    /// Answered by `Response::DeadLetters`: the groups are counted in attempts.
    FailedAttempts(FailedAttemptsQuery),
    Kinds(KindsQuery),
    Tenants(TenantsQuery),
    /// The overview's chart past the hour.
    History(HistoryWindow),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Jobs(JobPage),
    /// `None`: no job has that id (any more).
    Job(Option<Box<JobDetail>>),
    DeadLetters(DeadLetterReport),
    Kinds(KindsReport),
    Tenants(TenantsReport),
    History(HistoryReport),
}

/// Runs a request against a backend.
pub async fn run(backend: &dyn Reads, request: &Request) -> anyhow::Result<Response> {
    Ok(match request {
        Request::Jobs(q) => Response::Jobs(backend.jobs(q).await?),
        Request::Job { id, limits } => Response::Job(backend.job(id, limits).await?.map(Box::new)),
        Request::DeadLetters(q) => Response::DeadLetters(backend.dead_letters(q).await?),
        Request::FailedAttempts(q) => Response::DeadLetters(backend.failed_attempts(q).await?),
        Request::Kinds(q) => {
            let mut report = backend.kinds(q).await?;
            if q.window != HistoryWindow::Hour {
                // Without the history the sample stands (and says how far it reaches).
                match backend.history(q.window).await {
                    Ok(history) => report.take_counts(&history),
                    Err(err) => tracing::debug!("kinds without hourly counts: {err:#}"),
                }
            }
            Response::Kinds(report)
        }
        Request::History(window) => Response::History(backend.history(*window).await?),
        Request::Tenants(q) => Response::Tenants(backend.tenants(q).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_rank_by_failure_rate_with_enough_attempts_first() {
        let k = |kind: &str, ok: i64, failed: i64| KindStats {
            kind: kind.into(),
            succeeded: ok,
            failed_attempts: failed,
            dead: 0,
            run_p50: None,
            run_p95: None,
            wait_p50: None,
        };
        let mut kinds = vec![
            k("quiet", 5, 0),
            k("one-off", 0, 1),
            k("mostly-ok", 990, 10),
            k("broken", 320, 1343),
            k("idle", 0, 0),
        ];
        sort_kinds(&mut kinds);
        let order: Vec<&str> = kinds.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(
            order,
            vec!["broken", "mostly-ok", "one-off", "quiet", "idle"]
        );
    }
}
