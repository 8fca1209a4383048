//! The monitor's state: plain data, changed only by `update` (Elm shape, DESIGN.md).

pub mod actions;
pub mod alerts;
pub mod display;
pub mod editor;
pub mod filter;
pub mod focus;
pub mod history;
pub mod json;
pub mod keymap;
pub mod known_counts;
pub mod msg;
pub mod phased;
pub mod redact;
pub mod selection;
pub mod sort;
pub mod sources;
mod update;
pub mod views;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

pub use display::{ThemeName, human_bytes};
pub use msg::{Effect, Msg};
use selection::ListSelection;
pub use sort::{QueueColumn, QueueSort};
pub use views::{CHROME_LINES, DETAIL_HEAD_LINES, Drill, DrillSettings, View};

use crate::backend::{Capabilities, Snapshot};

/// Facts fixed at start-up that the screen shows or obeys.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `user@host:port/db`, never with a password.
    pub target: String,
    pub backend: String,
    pub capabilities: Capabilities,
    pub read_only: bool,
    /// A worker whose heartbeat is older than this is stale; the jobs it holds are stuck.
    pub stale_after: Duration,
    /// Oldest-ready ages at which a queue turns warning and critical.
    pub oldest_warn: Duration,
    pub oldest_critical: Duration,
    pub drill: DrillSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Queues,
    Workers,
}

/// The last poll that failed, while the last good data stays on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct PollFailure {
    pub since: DateTime<Utc>,
    pub message: String,
    pub failures: u32,
}

/// A snapshot and the local time it arrived, so ages keep growing between polls.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub snapshot: Snapshot,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct App {
    pub config: AppConfig,
    pub now: DateTime<Utc>,
    pub interval: Duration,
    /// The newest good data.
    pub latest: Option<Received>,
    /// What the screen shows while frozen; `None` when live.
    pub frozen: Option<Option<Received>>,
    pub failure: Option<PollFailure>,
    /// Where the data comes from, when the backend says (`Backend::source`).
    pub source: Option<String>,
    /// The source's name when the screen shows several databases (`app::sources`): the
    /// breadcrumb and every confirmation name it.
    pub source_label: Option<String>,
    pub polls: u64,
    pub pane: Pane,
    pub queue_sort: QueueSort,
    /// Selections follow names, not row numbers, so they survive refreshes and re-sorts.
    pub selected_queue: ListSelection<String>,
    pub selected_worker: ListSelection<String>,
    pub show_help: bool,
    /// The first line of the help overlay on screen (it scrolls on a short terminal).
    pub help_scroll: usize,
    /// Confirmations, runs and the audit pane.
    pub actions: actions::ActionsState,
    /// The footer's message (`visible_toast`).
    pub toast: Option<actions::Toast>,
    /// The last ticket handed out (`update`'s `ticket`).
    last_ticket: u64,
    // ---- alerts, wall screen, theme ----
    pub rules: alerts::Rules,
    /// Evaluated on every poll result, never on the shown copy: alerts keep moving while
    /// the display is frozen.
    pub alerts: alerts::AlertBook,
    /// The alerts pane (`a`) covers the queues and workers.
    pub show_alerts: bool,
    /// The selected row of the alerts pane.
    pub alerts_selected: ListSelection<usize>,
    /// The wall screen: read-only, one layout, no key but quit.
    pub kiosk: bool,
    /// Ring the terminal bell when a critical alert starts firing.
    pub bell: bool,
    pub theme: ThemeName,
    /// The local time zone's offset, fixed at start-up, for the clock and "since" times.
    pub utc_offset: FixedOffset,
    /// The drill-down views over the overview, the `/` prompt.
    pub drill: Drill,
    /// The overview chart's window and, past the hour, its data.
    pub history: history::HistoryChart,
    /// Piles counted exactly by a job list or an action's plan, shown instead of the
    /// overview's estimate of them.
    pub known_counts: known_counts::KnownCounts,
    /// Masks secrets in payloads and errors (the config's `redact`).
    pub redact: redact::Redactor,
    /// `U`: masked values shown as they are, on this screen only (never read-only or kiosk).
    pub revealed: bool,
}

pub const MIN_INTERVAL: Duration = Duration::from_millis(500);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

impl App {
    pub fn new(config: AppConfig, interval: Duration, now: DateTime<Utc>) -> App {
        App {
            config,
            now,
            interval: interval.clamp(MIN_INTERVAL, MAX_INTERVAL),
            latest: None,
            frozen: None,
            failure: None,
            source: None,
            source_label: None,
            polls: 0,
            pane: Pane::Queues,
            queue_sort: QueueSort::default(),
            selected_queue: ListSelection::default(),
            selected_worker: ListSelection::default(),
            show_help: false,
            help_scroll: 0,
            actions: actions::ActionsState::default(),
            toast: None,
            last_ticket: 0,
            rules: alerts::Rules::default(),
            alerts: alerts::AlertBook::default(),
            show_alerts: false,
            alerts_selected: ListSelection::at(0),
            kiosk: false,
            bell: false,
            theme: ThemeName::Default,
            utc_offset: FixedOffset::east_opt(0).expect("zero offset"),
            drill: Drill::default(),
            history: history::HistoryChart::default(),
            known_counts: known_counts::KnownCounts::default(),
            redact: redact::Redactor::default(),
            revealed: false,
        }
    }

    /// Job text (a payload, an error, a schedule's command) as this screen may show it:
    /// secrets masked unless revealed.
    pub fn masked<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.revealed {
            std::borrow::Cow::Borrowed(text)
        } else {
            self.redact.text(text)
        }
    }

    /// The data on screen: the frozen copy while frozen, else the newest.
    pub fn shown(&self) -> Option<&Received> {
        match &self.frozen {
            Some(frozen) => frozen.as_ref(),
            None => self.latest.as_ref(),
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The database clock now, estimated from the shown snapshot and the local time since.
    pub fn db_now(&self) -> Option<DateTime<Utc>> {
        self.shown().map(|r| {
            let elapsed = (self.now - r.at).max(chrono::Duration::zero());
            r.snapshot.db_now + elapsed
        })
    }

    /// How old the shown data is.
    pub fn data_age(&self) -> Option<chrono::Duration> {
        self.shown()
            .map(|r| (self.now - r.at).max(chrono::Duration::zero()))
    }

    /// Whether the data on screen is stale: the last poll failed, or the newest data is
    /// older than two intervals (a poll that hangs, a starved process), whatever the reason.
    /// The one rule every view's STALE follows.
    pub fn is_data_stale(&self) -> bool {
        let too_old = self
            .latest
            .as_ref()
            .is_some_and(|r| (self.now - r.at).to_std().unwrap_or_default() > self.interval * 2);
        self.failure.is_some() || (too_old && !self.is_frozen())
    }

    /// Queue indices of the shown snapshot in display order.
    pub fn queue_order(&self) -> Vec<usize> {
        match (self.shown(), self.db_now()) {
            (Some(r), Some(now)) => sort::sorted_indices(&r.snapshot.queues, self.queue_sort, now),
            _ => Vec::new(),
        }
    }

    /// Worker ids in display order: the ones holding jobs while stale first, then by id.
    pub fn worker_order(&self) -> Vec<usize> {
        let (Some(r), Some(now)) = (self.shown(), self.db_now()) else {
            return Vec::new();
        };
        let workers = &r.snapshot.workers;
        let mut order: Vec<usize> = (0..workers.len()).collect();
        order.sort_by_key(|&i| {
            let w = &workers[i];
            let stale = self.is_stale(w.heartbeat_age(now));
            (!(stale && w.running_jobs > 0), !stale, w.id.clone())
        });
        order
    }

    pub fn is_stale(&self, heartbeat_age: Option<chrono::Duration>) -> bool {
        heartbeat_age.is_some_and(|age| age.to_std().unwrap_or_default() > self.config.stale_after)
    }

    /// The footer's message while it is fresh.
    pub fn visible_toast(&self) -> Option<&actions::Toast> {
        self.toast
            .as_ref()
            .filter(|t| (self.now - t.at).num_seconds() < actions::TOAST_SECS)
    }

    /// Queue names in display order: the keys of the queues pane.
    pub fn queue_names(&self) -> Vec<String> {
        match self.shown() {
            Some(r) => self
                .queue_order()
                .into_iter()
                .map(|i| r.snapshot.queues[i].name.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Worker ids in display order: the keys of the workers pane and view.
    pub fn worker_ids(&self) -> Vec<String> {
        match self.shown() {
            Some(r) => self
                .worker_order()
                .into_iter()
                .map(|i| r.snapshot.workers[i].id.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The schedules of the shown snapshot, in its order.
    pub fn schedules(&self) -> &[crate::backend::schedules::Schedule] {
        self.shown()
            .and_then(|r| r.snapshot.schedules.as_ref())
            .map_or(&[], |s| s.schedules.as_slice())
    }

    /// Each schedule's selection key, `source/id`, in the snapshot's order.
    pub fn schedule_keys(&self) -> Vec<String> {
        self.schedules()
            .iter()
            .map(|s| format!("{}/{}", s.source, s.id))
            .collect()
    }

    /// The schedule a key names, if it is still there.
    pub fn schedule(&self, key: &str) -> Option<&crate::backend::schedules::Schedule> {
        let i = self.schedule_keys().iter().position(|k| k == key)?;
        self.schedules().get(i)
    }

    /// The row index of the selection in display order.
    pub fn selected_queue_row(&self) -> Option<usize> {
        self.selected_queue.index(&self.queue_names())
    }

    pub fn selected_worker_row(&self) -> Option<usize> {
        self.selected_worker.index(&self.worker_ids())
    }
}
