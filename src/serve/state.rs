//! What serve knows about one source: the last snapshot and everything derived from the
//! polls (alert states, counters, its own health). Written by the source's poller task,
//! read by every scrape; a scrape never reaches the database.

use chrono::{DateTime, Utc};

use super::completions::Completions;
use crate::app::alerts::{self, AlertBook, Mode, Observation, Rules};
use crate::app::redact::Redactor;
use crate::backend::drill::KindsReport;
use crate::backend::{Capabilities, Snapshot};

pub struct SourceState {
    /// `@name` or `host/db`: the `source` label.
    pub label: String,
    /// The connection as `snapshot --json` names it (user@host:port/db).
    pub target: String,
    pub backend: &'static str,
    pub capabilities: Capabilities,
    pub rules: Rules,
    /// Seconds without a heartbeat after which a worker is stale.
    pub stale_after: f64,
    /// The last snapshot that was read; kept while polls fail.
    pub last: Option<Snapshot>,
    /// When the last poll succeeded, by serve's clock.
    pub last_ok_at: Option<DateTime<Utc>>,
    /// When polls began failing (`None` while they succeed).
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub polls: u64,
    pub poll_errors: u64,
    pub last_poll_seconds: Option<f64>,
    /// The shared snapshot's role ("shared: leader"), when it says one.
    pub role: Option<String>,
    /// Alert states carried from poll to poll, as in the monitor.
    pub book: AlertBook,
    pub completions: Completions,
    /// Per-kind run and wait times, read on their own slower clock.
    pub kinds: Option<KindsReport>,
    /// Masks secrets in what `/snapshot` exports.
    pub redact: Redactor,
}

impl SourceState {
    pub fn new(
        label: String,
        target: String,
        backend: &'static str,
        capabilities: Capabilities,
        rules: Rules,
        stale_after: f64,
    ) -> SourceState {
        SourceState {
            label,
            target,
            backend,
            capabilities,
            rules,
            stale_after,
            last: None,
            last_ok_at: None,
            failing_since: None,
            last_error: None,
            polls: 0,
            poll_errors: 0,
            last_poll_seconds: None,
            role: None,
            book: AlertBook::default(),
            completions: Completions::default(),
            kinds: None,
            redact: Redactor::default(),
        }
    }

    /// Folds one poll's result in, as the monitor's `update` does with `Msg::Polled`.
    pub fn polled(&mut self, result: Result<Snapshot, String>, at: DateTime<Utc>) {
        self.polls += 1;
        let (book, _) = match result {
            Ok(snapshot) => {
                self.completions.observe(&snapshot);
                let evaluated = alerts::next_book(
                    &self.rules,
                    std::mem::take(&mut self.book),
                    &Observation::Snapshot {
                        snapshot: &snapshot,
                        capabilities: &self.capabilities,
                    },
                    at,
                    Mode::Continuous,
                );
                self.last = Some(snapshot);
                self.last_ok_at = Some(at);
                self.failing_since = None;
                self.last_error = None;
                evaluated
            }
            Err(message) => {
                self.poll_errors += 1;
                let since = *self.failing_since.get_or_insert(at);
                self.last_error = Some(message);
                alerts::next_book(
                    &self.rules,
                    std::mem::take(&mut self.book),
                    &Observation::PollFailing { since },
                    at,
                    Mode::Continuous,
                )
            }
        };
        self.book = book;
    }

    /// Seconds since the last good poll at `now`; `None` before the first one.
    pub fn data_age(&self, now: DateTime<Utc>) -> Option<f64> {
        self.last_ok_at
            .map(|at| ((now - at).num_milliseconds() as f64 / 1000.0).max(0.0))
    }
}

impl std::fmt::Debug for SourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceState")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}
