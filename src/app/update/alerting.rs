//! Where `update` meets the alert rules: every poll result is evaluated (not the shown,
//! possibly frozen, copy), and a critical alert that starts firing may ring the bell.

use chrono::{DateTime, Utc};

use crate::app::alerts::{self, AlertState, Mode, Observation, Severity, Transition};
use crate::app::keymap::Command;
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
        let (book, transitions) =
            alerts::evaluate(&self.rules, &self.alerts, observation, at, Mode::Continuous);
        self.alerts = book;
        if self.bell && transitions.iter().any(is_new_critical) {
            vec![Effect::Bell]
        } else {
            Vec::new()
        }
    }

    /// Keys that mean something else while the alerts pane is open; `None`: the usual meaning.
    pub(super) fn alerts_pane_command(&mut self, command: Command) -> Option<Vec<Effect>> {
        let rows = self.alerts.active.len() + self.alerts.resolved.len();
        let last = rows.saturating_sub(1);
        match command {
            Command::Back | Command::Alerts => self.show_alerts = false,
            Command::Up => self.alerts_scroll = self.alerts_scroll.saturating_sub(1),
            Command::Down => self.alerts_scroll = (self.alerts_scroll + 1).min(last),
            Command::Top => self.alerts_scroll = 0,
            Command::Bottom => self.alerts_scroll = last,
            _ => return None,
        }
        Some(Vec::new())
    }
}

fn is_new_critical(t: &Transition) -> bool {
    t.to == AlertState::Firing && t.severity == Severity::Critical
}
