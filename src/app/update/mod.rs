//! `App::update`: the only place state changes. Pure: no I/O, no clock reads. One file per
//! part of the state it changes; they all work on `App` from `crate::app`, which knows none
//! of them.

mod actions;
mod alerting;
mod drill;
mod job_actions;
mod mouse;
mod schedule_actions;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::actions::{Level, Toast};
use crate::app::focus::Focus;
use crate::app::keymap::{BINDINGS, KeyCommand, command_for};
use crate::app::selection::{Fallback, ListSelection};
use crate::app::{
    App, Effect, MAX_INTERVAL, MIN_INTERVAL, Msg, Pane, PollFailure, QueueColumn, QueueSort,
    Received,
};
use crate::backend::ActionKind;

/// The steps `+`/`-` walk; a custom `--interval` joins the ladder at its nearest rung.
const INTERVAL_STEPS_MS: [u64; 9] = [
    500, 1_000, 2_000, 3_000, 5_000, 10_000, 15_000, 30_000, 60_000,
];

impl App {
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let effects = self.fold(msg);
        self.refresh_queue_rows();
        effects
    }

    fn fold(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Polled { result, at } => {
                self.now = self.now.max(at);
                self.polls += 1;
                let mut effects = match result {
                    Ok(mut snapshot) => {
                        self.known_counts.apply(&mut snapshot, at);
                        let mut effects = self.alert_on_snapshot(&snapshot, at);
                        self.latest = Some(Received { snapshot, at });
                        self.failure = None;
                        self.keep_selection_valid();
                        effects.extend(self.drill_polled());
                        effects
                    }
                    Err(message) => {
                        let since = self.failure.as_ref().map_or(at, |f| f.since);
                        let failures = self.failure.as_ref().map_or(0, |f| f.failures) + 1;
                        self.failure = Some(PollFailure {
                            since,
                            message,
                            failures,
                        });
                        self.alert_on_poll_failure(since, at)
                    }
                };
                effects.extend(self.after_poll());
                effects.extend(self.ask_history());
                effects
            }
            Msg::Key(key) => self.key(&key),
            msg @ (Msg::Planned { .. }
            | Msg::ActionProgress { .. }
            | Msg::ActionDone { .. }
            | Msg::Watched { .. }
            | Msg::AuditLoaded { .. }) => self.action_msg(msg),
            Msg::ScreenSize { width, height } => {
                self.drill.screen = (width, height);
                Vec::new()
            }
            Msg::Loaded { ticket, result } => {
                if !self.history_loaded(ticket, &result) {
                    self.drill_loaded(ticket, result);
                }
                Vec::new()
            }
            Msg::Source(source) => {
                self.source = source;
                Vec::new()
            }
            Msg::Mouse(mouse) => self.mouse(mouse),
        }
    }

    /// A key goes to the layer that has the focus, and nowhere else.
    fn key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        // Ctrl-Z suspends from anywhere, as in any terminal program.
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('z') {
            return vec![Effect::Suspend];
        }
        match self.focus() {
            // The wall screen changes nothing, not even what it shows.
            Focus::Kiosk => match command_for(key) {
                Some(KeyCommand::Quit) => vec![Effect::Quit],
                _ => Vec::new(),
            },
            // These read keys, not commands: their letters are text or their own choices.
            Focus::Dialog => self.dialog_key(key),
            Focus::Audit => self.audit_key(key),
            Focus::Prompt => self.prompt_key(key),
            Focus::Help | Focus::Alerts | Focus::View | Focus::Overview => match command_for(key) {
                Some(command) => self.command(command),
                None => Vec::new(),
            },
        }
    }

    /// A command for the layer that has the focus.
    pub(super) fn command(&mut self, command: KeyCommand) -> Vec<Effect> {
        match self.focus() {
            Focus::Help => self.help_command(command),
            Focus::Alerts => match self.alerts_pane_command(command) {
                Some(effects) => effects,
                None => self.screen_command(command),
            },
            _ => self.screen_command(command),
        }
    }

    /// The help overlay scrolls and closes; every other key but quit waits.
    fn help_command(&mut self, command: KeyCommand) -> Vec<Effect> {
        // Descriptions wrap on a narrow screen; the overlay stops the scroll at its end.
        let last = BINDINGS.len() * 4;
        match command {
            KeyCommand::Quit => return vec![Effect::Quit],
            KeyCommand::Help | KeyCommand::Back => self.show_help = false,
            KeyCommand::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
            KeyCommand::Down => self.help_scroll = (self.help_scroll + 1).min(last),
            KeyCommand::Top => self.help_scroll = 0,
            KeyCommand::Bottom => self.help_scroll = last,
            _ => {}
        }
        Vec::new()
    }

    /// A command for the screen: the job list or detail's action keys first, then the
    /// drill-down's, then the overview's (which keep their meaning in every view).
    fn screen_command(&mut self, command: KeyCommand) -> Vec<Effect> {
        if command == KeyCommand::Reveal {
            return self.toggle_reveal();
        }
        if let Some(effects) = self.job_list_command(command) {
            return effects;
        }
        if let Some(effects) = self.drill_command(command) {
            return effects;
        }
        self.overview_command(command)
    }

    fn overview_command(&mut self, command: KeyCommand) -> Vec<Effect> {
        match command {
            KeyCommand::Quit => {
                return vec![Effect::Quit];
            }
            KeyCommand::Help => {
                self.show_help = true;
                self.help_scroll = 0;
            }
            // Esc on the overview clears the queues' filter.
            KeyCommand::Back => {
                self.queue_filter = None;
                self.keep_selection_valid();
            }
            KeyCommand::Up => self.move_selection(-1),
            KeyCommand::Down => self.move_selection(1),
            KeyCommand::Top => self.move_selection(isize::MIN / 2),
            KeyCommand::Bottom => self.move_selection(isize::MAX / 2),
            KeyCommand::NextPane => {
                self.pane = match self.pane {
                    Pane::Queues => Pane::Workers,
                    Pane::Workers => Pane::Queues,
                };
                self.keep_selection_valid();
            }
            KeyCommand::IntervalUp => return self.step_interval(1),
            KeyCommand::IntervalDown => return self.step_interval(-1),
            KeyCommand::Freeze => {
                self.frozen = match self.frozen {
                    Some(_) => None,
                    None => Some(self.latest.clone()),
                };
                self.keep_selection_valid();
            }
            KeyCommand::RefreshNow => return vec![Effect::RefreshNow],
            KeyCommand::SortNext => self.queue_sort = self.resorted(self.queue_sort.column.next()),
            KeyCommand::SortPrev => self.queue_sort = self.resorted(self.queue_sort.column.prev()),
            KeyCommand::SortInvert => self.queue_sort.descending = !self.queue_sort.descending,
            KeyCommand::PauseResume => return self.action_command(ActionKind::Pause),
            KeyCommand::Retry => return self.action_command(ActionKind::Retry),
            KeyCommand::CancelJobs => return self.action_command(ActionKind::Cancel),
            KeyCommand::Discard => return self.action_command(ActionKind::Discard),
            KeyCommand::Delete => return self.action_command(ActionKind::Delete),
            KeyCommand::ResetStuck => return self.action_command(ActionKind::ResetStuck),
            KeyCommand::Mark => return self.mark_command(false),
            KeyCommand::MarkAll => return self.mark_command(true),
            KeyCommand::Audit => return self.open_audit(),
            KeyCommand::HistoryWindow => return self.next_history_window(),
            KeyCommand::Alerts => {
                self.show_alerts = true;
                self.alerts_selected = ListSelection::at(0);
            }
            // The drill-down's keys that mean nothing on the overview.
            KeyCommand::Open
            | KeyCommand::DeadLetters
            | KeyCommand::Stuck
            | KeyCommand::Workers
            | KeyCommand::Schedules
            | KeyCommand::Kinds
            | KeyCommand::Tenants
            | KeyCommand::Filter
            | KeyCommand::Copy
            | KeyCommand::ToggleOrder
            | KeyCommand::PageUp
            | KeyCommand::PageDown
            | KeyCommand::Left
            | KeyCommand::Right
            | KeyCommand::Reveal => {}
        }
        Vec::new()
    }

    /// A one-line message in the footer: an action's result, or a hint about a key.
    pub(super) fn toast(&mut self, text: String, level: Level) {
        self.toast = Some(Toast {
            text,
            level,
            at: self.now,
        });
    }

    /// Numbers plan requests, runs and loads alike, so that a late answer (for a closed
    /// dialog, a view left or reloaded) matches nothing and is ignored.
    pub(super) fn ticket(&mut self) -> u64 {
        self.last_ticket += 1;
        self.last_ticket
    }

    fn resorted(&self, column: QueueColumn) -> QueueSort {
        QueueSort {
            column,
            descending: column.natural_descending(),
        }
    }

    fn step_interval(&mut self, direction: isize) -> Vec<Effect> {
        let current = self.interval.as_millis() as u64;
        let next = if direction > 0 {
            INTERVAL_STEPS_MS.iter().copied().find(|&s| s > current)
        } else {
            INTERVAL_STEPS_MS
                .iter()
                .rev()
                .copied()
                .find(|&s| s < current)
        };
        let next = Duration::from_millis(next.unwrap_or(current)).clamp(MIN_INTERVAL, MAX_INTERVAL);
        if next == self.interval {
            return Vec::new();
        }
        self.interval = next;
        vec![Effect::SetInterval(next)]
    }

    fn move_selection(&mut self, by: isize) {
        match self.pane {
            Pane::Queues => {
                let mut selected = std::mem::take(&mut self.selected_queue);
                selected.step(&self.queue_keys(), by);
                self.selected_queue = selected;
            }
            Pane::Workers => {
                let ids = self.worker_ids();
                self.selected_worker.step(&ids, by);
            }
        }
    }

    /// A selection whose row vanished moves to the first row; an empty table selects nothing.
    pub(super) fn keep_selection_valid(&mut self) {
        self.drill_keep_selection();
        let mut selected = std::mem::take(&mut self.selected_queue);
        selected.settle(&self.queue_keys(), Fallback::First);
        self.selected_queue = selected;
        let ids = self.worker_ids();
        self.selected_worker.settle(&ids, Fallback::First);
    }
}
