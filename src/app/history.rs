//! The overview chart's window (`H`): the last hour from every poll's minutes, or the last
//! 24 hours or 7 days from the backend's hourly history, asked for on a slower clock.

use chrono::{DateTime, TimeDelta, Utc};

use super::{App, Effect};
use crate::backend::drill::{HistoryWindow, Request, Response};
use crate::backend::history::HistoryReport;

/// A complete history is asked again this often: its closed hours do not change, only the
/// open one grows.
const REFRESH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// While hours are missing the backend fills a few per request: ask again soon.
const FILL_EVERY: TimeDelta = TimeDelta::seconds(2);

/// After a failed read, wait this long before the next try.
const RETRY_AFTER: TimeDelta = TimeDelta::seconds(15);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryChart {
    pub window: HistoryWindow,
    /// The newest report for `window`.
    pub report: Option<HistoryReport>,
    /// Why the last read failed (the report, if any, stays on screen).
    pub error: Option<String>,
    /// The request in flight.
    pending: Option<u64>,
    asked_at: Option<DateTime<Utc>>,
}

impl HistoryChart {
    /// Forgets a request no runtime carried (asked before its source was open): the next
    /// poll asks again.
    pub fn forget_request(&mut self) {
        self.pending = None;
        self.asked_at = None;
    }

    /// The report of the window on screen, where one has arrived.
    pub fn shown(&self) -> Option<&HistoryReport> {
        self.report
            .as_ref()
            .filter(|r| self.window != HistoryWindow::Hour && r.window == self.window)
    }

    fn due(&self, now: DateTime<Utc>) -> bool {
        if self.window == HistoryWindow::Hour || self.pending.is_some() {
            return false;
        }
        let wait = if self.error.is_some() {
            RETRY_AFTER
        } else if self.shown().is_some_and(HistoryReport::complete) {
            REFRESH_EVERY
        } else {
            FILL_EVERY
        };
        self.asked_at.is_none_or(|at| now - at >= wait)
    }
}

impl App {
    /// `H`: the next window; the last hour needs no read.
    pub(super) fn next_history_window(&mut self) -> Vec<Effect> {
        let all = HistoryWindow::ALL;
        let at = all
            .iter()
            .position(|w| *w == self.history.window)
            .unwrap_or(0);
        self.history.window = all[(at + 1) % all.len()];
        self.history.error = None;
        self.history.asked_at = None;
        // An answer for the old window is ignored when it comes.
        self.history.pending = None;
        self.ask_history()
    }

    /// After every poll and key: the history's next read, when one is due.
    pub(super) fn ask_history(&mut self) -> Vec<Effect> {
        if !self.history.due(self.now) {
            return Vec::new();
        }
        let ticket = self.ticket();
        self.history.pending = Some(ticket);
        self.history.asked_at = Some(self.now);
        vec![Effect::Load {
            ticket,
            request: Request::History(self.history.window),
        }]
    }

    /// Takes the answer to `ask_history`; `false` when `ticket` is not the chart's.
    pub(super) fn history_loaded(
        &mut self,
        ticket: u64,
        result: &Result<Response, String>,
    ) -> bool {
        if self.history.pending != Some(ticket) {
            return false;
        }
        self.history.pending = None;
        match result {
            Ok(Response::History(report)) if report.window == self.history.window => {
                self.history.report = Some(report.clone());
                self.history.error = None;
            }
            Ok(_) => {}
            Err(message) => self.history.error = Some(message.clone()),
        }
        true
    }
}
