//! Where `update` meets the alert rules: every poll result is evaluated (not the shown,
//! possibly frozen, copy), and a critical alert that starts firing may ring the bell.

use chrono::{DateTime, Utc};

use crate::app::alerts::{self, AlertState, Mode, Observation, Severity, Transition};
use crate::app::keymap::KeyCommand;
use crate::app::selection::{Fallback, rows};
use crate::app::{App, Effect};
use crate::backend::Snapshot;

impl App {
    pub(super) fn alert_on_snapshot(
        &mut self,
        snapshot: &Snapshot,
        at: DateTime<Utc>,
    ) -> Vec<Effect> {
        let caps = self.config.capabilities;
        let observation = Observation::Snapshot {
            snapshot,
            capabilities: &caps,
        };
        self.apply(&observation, at)
    }

    pub(super) fn alert_on_poll_failure(
        &mut self,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Vec<Effect> {
        self.apply(&Observation::PollFailing { since }, at)
    }

    fn apply(&mut self, observation: &Observation, at: DateTime<Utc>) -> Vec<Effect> {
        let prev = std::mem::take(&mut self.alerts);
        let (book, transitions) =
            alerts::next_book(&self.rules, prev, observation, at, Mode::Continuous);
        self.alerts = book;
        // Alerts come and go under the pane's selection.
        let rows = rows(self.alerts.active.len() + self.alerts.resolved.len());
        self.alerts_selected.settle(&rows, Fallback::SameRow);
        if self.bell && transitions.iter().any(is_new_critical) {
            vec![Effect::Bell]
        } else {
            Vec::new()
        }
    }

    /// Keys that mean something else while the alerts pane is open; `None`: the usual meaning.
    pub(super) fn alerts_pane_command(&mut self, command: KeyCommand) -> Option<Vec<Effect>> {
        let rows = rows(self.alerts.active.len() + self.alerts.resolved.len());
        let by = match command {
            KeyCommand::Back | KeyCommand::Alerts => {
                self.show_alerts = false;
                return Some(Vec::new());
            }
            KeyCommand::Open => {
                // Never the overview's selection under the pane: the alert's own subject.
                let alert = self
                    .alerts_selected
                    .index(&rows)
                    .and_then(|i| self.alerts.display_order().get(i).copied().cloned());
                return Some(match alert {
                    Some(alert) => self.open_alert_subject(&alert),
                    None => Vec::new(),
                });
            }
            KeyCommand::Up => -1,
            KeyCommand::Down => 1,
            KeyCommand::Top => isize::MIN / 2,
            KeyCommand::Bottom => isize::MAX / 2,
            _ => return None,
        };
        self.alerts_selected.step(&rows, by);
        Some(Vec::new())
    }
}

fn is_new_critical(t: &Transition) -> bool {
    t.to == AlertState::Firing && t.severity == Severity::Critical
}
