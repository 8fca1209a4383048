//! Several databases on one screen. Each source is a whole `App` (its config, read-only
//! flag, rules and alert book, drill-down, dialogs, audit), wrapped: the merged overview,
//! its selection (source, queue), sort and filter live here; a key that acts on a queue
//! goes to that queue's source, which then has the keys until its views and dialogs close.
//! A source's messages reach only its own `App`, so one source failing marks only its rows.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};

use super::actions::{Level, Toast};
use super::editor::LineEditor;
use super::focus::Focus;
use super::keymap::{KeyCommand, command_for};
use super::msg::WHEEL_ROWS;
use super::selection::{Fallback, ListSelection};
use super::sort::{QueueColumn, QueueSort, compare_across};
use super::{App, Effect, Mouse, Msg, Pane, Table, ThemeName};
use crate::backend::Capabilities;

/// One source: its label and its own monitor state.
#[derive(Debug, Clone)]
pub struct Source {
    pub label: String,
    pub app: App,
    /// Its schema was opened: actions and views can reach it.
    pub opened: bool,
}

/// A row of the merged queues table: a queue of a source, or the one row of a source that
/// has no data yet (it says why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Queue { source: usize, queue: usize },
    NoData { source: usize },
}

impl Row {
    pub fn source(self) -> usize {
        match self {
            Row::Queue { source, .. } | Row::NoData { source } => source,
        }
    }
}

/// What reaches the wrapped screen.
#[derive(Debug, Clone)]
pub enum SourcesMsg {
    Key(KeyEvent),
    Tick(DateTime<Utc>),
    ScreenSize {
        width: u16,
        height: u16,
    },
    /// A message for one source's `App` (its poller, loads, actions).
    Source(usize, Msg),
    /// A click on what the screen drew there, or the wheel.
    Mouse(Mouse),
    /// A source's schema was opened.
    Opened {
        source: usize,
        backend: String,
        capabilities: Capabilities,
    },
}

#[derive(Debug, Clone)]
pub struct Sources {
    pub sources: Vec<Source>,
    /// The source whose view, dialog, audit or help has the keys.
    pub active: Option<usize>,
    /// Follows (source, queue name) across refreshes and re-sorts; a source without data
    /// is keyed with an empty name.
    pub selected: ListSelection<(usize, String)>,
    pub sort: QueueSort,
    /// Only this source's rows (Tab walks the sources, then all again).
    pub only: Option<usize>,
    /// Rows whose "source queue" text holds this (case-insensitive).
    pub filter: String,
    /// The `/` prompt while it is being typed.
    pub filter_input: Option<LineEditor>,
    pub show_alerts: bool,
    pub kiosk: bool,
    pub theme: ThemeName,
    pub now: DateTime<Utc>,
    pub toast: Option<Toast>,
}

impl Sources {
    pub fn new(sources: Vec<(String, App)>, now: DateTime<Utc>) -> Sources {
        let sources: Vec<Source> = sources
            .into_iter()
            .map(|(label, mut app)| {
                app.source_label = Some(label.clone());
                Source {
                    label,
                    app,
                    opened: false,
                }
            })
            .collect();
        let kiosk = sources.iter().any(|s| s.app.kiosk);
        let theme = sources.first().map_or(ThemeName::Default, |s| s.app.theme);
        let mut screen = Sources {
            sources,
            active: None,
            selected: ListSelection::default(),
            sort: QueueSort::default(),
            only: None,
            filter: String::new(),
            filter_input: None,
            show_alerts: false,
            kiosk,
            theme,
            now,
            toast: None,
        };
        screen.settle();
        screen
    }

    /// Effects come out tagged with the source whose runtime carries them out; quit, bell
    /// and copy are the terminal's whichever source asked.
    pub fn update(&mut self, msg: SourcesMsg) -> Vec<(usize, Effect)> {
        let effects = self.fold(msg);
        // A source whose last layer closed (a run ended, Esc) gives the keys back.
        if let Some(i) = self.active
            && self.sources[i].app.focus() == Focus::Overview
        {
            self.active = None;
        }
        effects
    }

    fn fold(&mut self, msg: SourcesMsg) -> Vec<(usize, Effect)> {
        match msg {
            SourcesMsg::Tick(now) => {
                self.now = now;
                self.broadcast(|_| Some(Msg::Tick(now)))
            }
            SourcesMsg::ScreenSize { width, height } => {
                self.broadcast(|_| Some(Msg::ScreenSize { width, height }))
            }
            SourcesMsg::Source(i, msg) => {
                let Some(source) = self.sources.get_mut(i) else {
                    return Vec::new();
                };
                let before = source.app.toast.clone();
                let effects = tag(i, source.app.update(msg));
                // An action's result, a copy: said on our footer too, naming the source.
                if source.app.toast != before
                    && let Some(t) = source.app.toast.clone()
                {
                    let text = format!("{}: {}", source.label, t.text);
                    self.note(text, t.level);
                }
                // Only this source's rows changed: the selected row of another source is
                // still there, and re-sorting every source's rows for each of twenty polls
                // a second was a tenth of a wall screen's cost.
                if self.selected.key().is_none_or(|(source, _)| *source == i) {
                    self.settle();
                }
                effects
            }
            SourcesMsg::Opened {
                source,
                backend,
                capabilities,
            } => {
                if let Some(s) = self.sources.get_mut(source) {
                    s.app.config.backend = backend;
                    s.app.config.capabilities = capabilities;
                    s.opened = true;
                    // `H` before it opened asked nobody for its hours.
                    s.app.history.forget_request();
                }
                Vec::new()
            }
            SourcesMsg::Key(key) => self.key(key),
            SourcesMsg::Mouse(mouse) => self.mouse(mouse),
        }
    }

    /// A click selects a merged row, or a worker of the selected queue's source; the wheel
    /// moves as the arrows do. While a source has the keys (its view, dialog or help) the
    /// mouse is that source's, as on its own screen.
    fn mouse(&mut self, mouse: Mouse) -> Vec<(usize, Effect)> {
        if let Some(i) = self.active {
            return tag(i, self.sources[i].app.update(Msg::Mouse(mouse)));
        }
        if self.kiosk || self.show_alerts || self.filter_input.is_some() {
            return Vec::new();
        }
        match mouse {
            Mouse::Wheel(by) => self.step(by * WHEEL_ROWS),
            Mouse::Row {
                table: Table::Queues,
                row,
            } => {
                let keys = self.row_keys();
                self.selected.select(&keys, row);
            }
            // The workers pane is the selected queue's source's: its own selection.
            Mouse::Row {
                table: Table::Workers,
                row,
            } => {
                if let Some((i, _)) = self.selected.key().cloned() {
                    let app = &mut self.sources[i].app;
                    let ids = app.worker_ids();
                    app.selected_worker.select(&ids, row);
                }
            }
            Mouse::Row {
                table: Table::View, ..
            }
            | Mouse::Tab(_) => {}
        }
        Vec::new()
    }

    /// Rows in display order: sources without data first (they are the news), then every
    /// queue of the shown sources, sorted across sources, each aged by its own clock.
    pub fn rows(&self) -> Vec<Row> {
        let needle = self.filter.to_lowercase();
        let mut empty = Vec::new();
        let mut queues = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            if self.only.is_some_and(|only| only != i) {
                continue;
            }
            let label = s.label.to_lowercase();
            let (Some(shown), Some(now)) = (s.app.shown(), s.app.db_now()) else {
                if needle.is_empty() || label.contains(&needle) {
                    empty.push(Row::NoData { source: i });
                }
                continue;
            };
            for (q, stats) in shown.snapshot.queues.iter().enumerate() {
                let text = format!("{label} {}", stats.name.to_lowercase());
                if needle.is_empty() || text.contains(&needle) {
                    queues.push((i, q, stats, now));
                }
            }
        }
        queues
            .sort_by(|a, b| compare_across((a.2, a.3), (b.2, b.3), self.sort).then(a.0.cmp(&b.0)));
        empty
            .into_iter()
            .chain(
                queues
                    .into_iter()
                    .map(|(source, queue, _, _)| Row::Queue { source, queue }),
            )
            .collect()
    }

    pub fn row_key(&self, row: Row) -> (usize, String) {
        match row {
            Row::Queue { source, queue } => {
                let name = self.sources[source]
                    .app
                    .shown()
                    .map(|r| r.snapshot.queues[queue].name.clone())
                    .unwrap_or_default();
                (source, name)
            }
            Row::NoData { source } => (source, String::new()),
        }
    }

    fn row_keys(&self) -> Vec<(usize, String)> {
        self.rows().into_iter().map(|r| self.row_key(r)).collect()
    }

    pub fn selected_row(&self) -> Option<usize> {
        self.selected.index(&self.row_keys())
    }

    /// The source with the keys, when its own screen (a view, its alerts) covers ours.
    pub fn covering(&self) -> Option<&App> {
        let app = &self.sources[self.active?].app;
        (app.screen() != Focus::Overview).then_some(app)
    }

    /// The source of the selected row, whose workers the overview shows.
    pub fn selected_source(&self) -> Option<&Source> {
        let (i, _) = self.selected.key()?;
        self.sources.get(*i)
    }

    /// The source whose dialog, audit, help or prompt lies over the merged overview.
    pub fn overlaying(&self) -> Option<&App> {
        self.active.map(|i| &self.sources[i].app)
    }

    /// The footer's message while it is fresh.
    pub fn visible_toast(&self) -> Option<&Toast> {
        self.toast
            .as_ref()
            .filter(|t| (self.now - t.at).num_seconds() < super::actions::TOAST_SECS)
    }

    fn settle(&mut self) {
        let keys = self.row_keys();
        self.selected.settle(&keys, Fallback::First);
    }

    fn broadcast(&mut self, msg: impl Fn(usize) -> Option<Msg>) -> Vec<(usize, Effect)> {
        let mut out = Vec::new();
        for (i, s) in self.sources.iter_mut().enumerate() {
            if let Some(m) = msg(i) {
                out.extend(tag(i, s.app.update(m)));
            }
        }
        out
    }

    fn key(&mut self, key: KeyEvent) -> Vec<(usize, Effect)> {
        if let Some(i) = self.active {
            return tag(i, self.sources[i].app.update(Msg::Key(key)));
        }
        if let Some(input) = self.filter_input.as_mut() {
            match key.code {
                KeyCode::Esc => {
                    self.filter_input = None;
                    self.filter.clear();
                }
                KeyCode::Enter => self.filter_input = None,
                _ => {
                    input.edit(&key);
                    self.filter = input.as_str().trim().to_string();
                }
            }
            self.settle();
            return Vec::new();
        }
        let Some(command) = command_for(&key) else {
            return Vec::new();
        };
        if self.kiosk {
            return match command {
                KeyCommand::Quit => vec![(0, Effect::Quit)],
                _ => Vec::new(),
            };
        }
        if self.show_alerts {
            match command {
                KeyCommand::Quit => return vec![(0, Effect::Quit)],
                KeyCommand::Back | KeyCommand::Alerts => self.show_alerts = false,
                _ => {}
            }
            return Vec::new();
        }
        self.command(command, key)
    }

    fn command(&mut self, command: KeyCommand, key: KeyEvent) -> Vec<(usize, Effect)> {
        match command {
            KeyCommand::Quit => return vec![(0, Effect::Quit)],
            KeyCommand::Up => self.step(-1),
            KeyCommand::Down => self.step(1),
            KeyCommand::Top => self.step(isize::MIN / 2),
            KeyCommand::Bottom => self.step(isize::MAX / 2),
            KeyCommand::SortNext => self.resort(self.sort.column.next()),
            KeyCommand::SortPrev => self.resort(self.sort.column.prev()),
            KeyCommand::SortInvert => {
                self.sort.descending = !self.sort.descending;
                self.share_sort();
            }
            KeyCommand::NextPane => {
                let n = self.sources.len();
                self.only = match self.only {
                    None => Some(0),
                    Some(i) if i + 1 < n => Some(i + 1),
                    Some(_) => None,
                };
                self.settle();
            }
            KeyCommand::Filter => {
                self.filter_input = Some(LineEditor::new(self.filter.clone()));
            }
            KeyCommand::Back => {
                self.only = None;
                self.filter.clear();
                self.settle();
            }
            KeyCommand::Alerts => self.show_alerts = true,
            // Every source refreshes, freezes, changes pace and shows the same chart window
            // (`H`: the trend column is one column over every source) together.
            KeyCommand::Freeze
            | KeyCommand::RefreshNow
            | KeyCommand::IntervalUp
            | KeyCommand::IntervalDown
            | KeyCommand::HistoryWindow => {
                let effects = self.broadcast(|_| Some(Msg::Key(key)));
                self.settle();
                return effects;
            }
            // Everything else acts on the selected queue, in its source.
            _ => return self.forward(key),
        }
        Vec::new()
    }

    /// Hands the key to the selected queue's source, with that queue selected there.
    fn forward(&mut self, key: KeyEvent) -> Vec<(usize, Effect)> {
        let Some((i, queue)) = self.selected.key().cloned() else {
            self.note("no queue selected".into(), Level::Info);
            return Vec::new();
        };
        let source = &mut self.sources[i];
        if queue.is_empty() || !source.opened {
            let why = source
                .app
                .failure
                .as_ref()
                .map_or("waiting for its first poll".to_string(), |f| {
                    f.message.clone()
                });
            let text = format!("{}: no data: {why}", source.label);
            self.note(text, Level::Warn);
            return Vec::new();
        }
        let app = &mut source.app;
        app.pane = Pane::Queues;
        let names = app.queue_names();
        if let Some(at) = names.iter().position(|n| *n == queue) {
            app.selected_queue.select(&names, at);
        }
        let before = app.toast.clone();
        let effects = tag(i, app.update(Msg::Key(key)));
        // What the source said (a refusal in read-only mode) shows on our footer, named.
        if app.toast != before
            && let Some(t) = app.toast.clone()
        {
            let text = format!("{}: {}", source.label, t.text);
            self.note(text, t.level);
        }
        if self.sources[i].app.focus() != Focus::Overview {
            self.active = Some(i);
        }
        effects
    }

    fn note(&mut self, text: String, level: Level) {
        self.toast = Some(Toast {
            text,
            level,
            at: self.now,
        });
    }

    fn step(&mut self, by: isize) {
        let keys = self.row_keys();
        self.selected.step(&keys, by);
    }

    fn resort(&mut self, column: QueueColumn) {
        self.sort = QueueSort {
            column,
            descending: column.natural_descending(),
        };
        self.share_sort();
    }

    /// A source's own screens (its drill-down's queue list) keep the same order.
    fn share_sort(&mut self) {
        for s in &mut self.sources {
            s.app.queue_sort = self.sort;
        }
    }
}

fn tag(source: usize, effects: Vec<Effect>) -> Vec<(usize, Effect)> {
    effects.into_iter().map(|e| (source, e)).collect()
}
