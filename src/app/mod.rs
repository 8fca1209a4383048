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
pub mod rows;
pub mod selection;
pub mod sort;
pub mod sources;
mod update;
pub mod views;

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

pub use display::{ThemeName, human_bytes};
pub use msg::{Effect, Mouse, Msg, Table};
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
    /// The overview's `/`: queues whose name holds every word.
    pub queue_filter: Option<String>,
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
    /// A line the overview keeps at its foot: the demo's URL, to try the CLI beside it.
    pub note: Option<String>,
    /// The queues pane's order, sorted when the data or the sort changes, not every frame.
    queue_rows: QueueRows,
    /// Masks secrets in payloads and errors (the config's `redact`).
    pub redact: redact::Redactor,
    /// `U`: masked values shown as they are, on this screen only (never read-only or kiosk).
    pub revealed: bool,
}

/// The shown snapshot's queues in display order, and the selected queue's row in it, as of
/// `made_from`. Ten thousand queues take a few milliseconds to sort: once per poll, not once
/// per frame and per key.
#[derive(Debug, Clone, Default)]
struct QueueRows {
    made_from: Option<OrderKey>,
    order: Vec<usize>,
    /// The selected queue's name and its row in `order`.
    selected: Option<(String, Option<usize>)>,
}

/// The queues pane's rows as selection keys (their names), without copying them.
pub struct QueueKeys<'a> {
    order: Cow<'a, [usize]>,
    queues: &'a [crate::backend::QueueStats],
}

impl selection::Keys<String> for QueueKeys<'_> {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn key(&self, row: usize) -> &String {
        &self.queues[self.order[row]].name
    }
}

/// What the order depends on: the data shown (a poll, frozen or not), the sort and the `/`
/// filter.
type OrderKey = (u64, bool, QueueSort, Option<String>);

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
            queue_filter: None,
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
            note: None,
            queue_rows: QueueRows::default(),
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

    /// Queue indices of the shown snapshot in display order: kept from the last `update`
    /// while the data, the sort and the `/` filter are the same, else sorted now.
    pub fn queue_order(&self) -> Cow<'_, [usize]> {
        if self.queue_rows.made_from == Some(self.order_key()) {
            return Cow::Borrowed(&self.queue_rows.order);
        }
        Cow::Owned(self.sorted_queues())
    }

    fn sorted_queues(&self) -> Vec<usize> {
        match (self.shown(), self.db_now()) {
            (Some(r), Some(now)) => {
                let queues = &r.snapshot.queues;
                let mut order = sort::sorted_indices(queues, self.queue_sort, now);
                if let Some(f) = &self.queue_filter {
                    order.retain(|&i| filter::matches_words(&queues[i].name, f));
                }
                order
            }
            _ => Vec::new(),
        }
    }

    fn order_key(&self) -> OrderKey {
        (
            self.polls,
            self.is_frozen(),
            self.queue_sort,
            self.queue_filter.clone(),
        )
    }

    /// After a message: sorts again only if the data or the sort changed, and finds the
    /// selected queue's row only if the order or the selection did.
    fn refresh_queue_rows(&mut self) {
        let key = self.order_key();
        let resorted = self.queue_rows.made_from.as_ref() != Some(&key);
        if resorted {
            self.queue_rows.order = self.sorted_queues();
            self.queue_rows.made_from = Some(key);
        }
        let name = self.selected_queue.key();
        let moved = self.queue_rows.selected.as_ref().map(|(n, _)| n) != name;
        if resorted || moved {
            let row = self.find_selected_queue(&self.queue_rows.order);
            self.queue_rows.selected = name.map(|n| (n.clone(), row));
        }
    }

    /// The selection's row in `order`: a comparison per queue, no copies.
    fn find_selected_queue(&self, order: &[usize]) -> Option<usize> {
        let name = self.selected_queue.key()?;
        let queues = &self.shown()?.snapshot.queues;
        order.iter().position(|&i| queues[i].name == *name)
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

    /// The keys of the queues pane, read from the shown snapshot in display order.
    pub fn queue_keys(&self) -> QueueKeys<'_> {
        QueueKeys {
            order: self.queue_order(),
            queues: self.shown().map_or(&[], |r| r.snapshot.queues.as_slice()),
        }
    }

    /// Queue names in display order: the keys of the queues pane.
    pub fn queue_names(&self) -> Vec<String> {
        match self.shown() {
            Some(r) => self
                .queue_order()
                .iter()
                .map(|&i| r.snapshot.queues[i].name.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Worker ids in display order: the keys of the workers pane.
    pub fn worker_ids(&self) -> Vec<String> {
        self.worker_ids_narrowed(&sort::Narrow::default())
    }

    /// Worker indices as the workers view shows them: its filter and sort over the
    /// overview's order.
    pub fn worker_order_narrowed(&self, narrow: &sort::Narrow) -> Vec<usize> {
        let (Some(r), Some(now)) = (self.shown(), self.db_now()) else {
            return Vec::new();
        };
        let base = self.worker_order();
        let rows: Vec<crate::backend::WorkerInfo> = base
            .iter()
            .map(|&i| r.snapshot.workers[i].clone())
            .collect();
        narrow
            .order(&rows, now)
            .into_iter()
            .map(|i| base[i])
            .collect()
    }

    /// The keys of the workers view under `narrow`.
    pub fn worker_ids_narrowed(&self, narrow: &sort::Narrow) -> Vec<String> {
        match self.shown() {
            Some(r) => self
                .worker_order_narrowed(narrow)
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
        self.schedules().iter().map(schedule_key).collect()
    }

    /// Schedule indices as the schedules view shows them.
    pub fn schedule_order(&self, narrow: &sort::Narrow) -> Vec<usize> {
        narrow.order(self.schedules(), self.db_now().unwrap_or(self.now))
    }

    /// The keys of the schedules view under `narrow`.
    pub fn schedule_keys_narrowed(&self, narrow: &sort::Narrow) -> Vec<String> {
        let all = self.schedules();
        self.schedule_order(narrow)
            .into_iter()
            .map(|i| schedule_key(&all[i]))
            .collect()
    }

    /// The schedule a key names, if it is still there.
    pub fn schedule(&self, key: &str) -> Option<&crate::backend::schedules::Schedule> {
        let i = self.schedule_keys().iter().position(|k| k == key)?;
        self.schedules().get(i)
    }

    /// The row index of the selection in display order.
    pub fn selected_queue_row(&self) -> Option<usize> {
        let order = self.queue_order();
        if let (Cow::Borrowed(_), Some((name, row))) = (&order, &self.queue_rows.selected)
            && self.selected_queue.key() == Some(name)
        {
            return *row;
        }
        self.find_selected_queue(&order)
    }

    pub fn selected_worker_row(&self) -> Option<usize> {
        self.selected_worker.index(&self.worker_ids())
    }
}

fn schedule_key(s: &crate::backend::schedules::Schedule) -> String {
    format!("{}/{}", s.source, s.id)
}
