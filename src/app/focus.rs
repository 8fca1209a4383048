//! Who has the keys and what is drawn on top: one answer, read by `update` (key dispatch)
//! and by `ui::draw` (layering), so the two cannot disagree.

use super::keymap::KeyContext;
use super::{App, View};
use crate::backend::drill::JobScope;

/// A layer of the screen, in the order they stack: a later one is drawn over the earlier
/// ones and has the keys before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Focus {
    /// The queues and workers panes (`App::pane` says which has the selection).
    Overview,
    /// The drill-down view on top of the stack.
    View,
    /// The alerts pane, over the overview or a view. Keys it does not answer go to the
    /// screen under it.
    Alerts,
    /// The `?` overlay.
    Help,
    /// The `/` prompt on the bottom line: every key is text or an edit.
    Prompt,
    /// The audit pane (`L`).
    Audit,
    /// An action's dialog: looking, confirm, running, phased, notice.
    Dialog,
    /// The wall screen: nothing else opens, and only quit is a key.
    Kiosk,
}

impl Focus {
    /// A layer that fills the screen (header, body, footer) rather than covering part of it.
    pub fn is_screen(self) -> bool {
        matches!(
            self,
            Focus::Overview | Focus::View | Focus::Alerts | Focus::Kiosk
        )
    }
}

impl App {
    /// The open layers, bottom first.
    pub fn layers(&self) -> Vec<Focus> {
        if self.kiosk {
            return vec![Focus::Kiosk];
        }
        let base = if self.top_view().is_some() {
            Focus::View
        } else {
            Focus::Overview
        };
        let open = [
            (Focus::Alerts, self.show_alerts),
            (Focus::Help, self.show_help),
            (Focus::Prompt, self.drill.input.is_some()),
            (Focus::Audit, self.actions.audit.is_some()),
            (Focus::Dialog, self.actions.dialog.is_some()),
        ];
        std::iter::once(base)
            .chain(open.into_iter().filter(|(_, on)| *on).map(|(f, _)| f))
            .collect()
    }

    /// The layer that has the keys: the top one.
    pub fn focus(&self) -> Focus {
        *self.layers().last().expect("there is always a screen")
    }

    /// The screen under any overlays: what the header, body and footer show.
    pub fn screen(&self) -> Focus {
        self.layers()
            .into_iter()
            .rev()
            .find(|l| l.is_screen())
            .expect("there is always a screen")
    }

    pub fn is_open(&self, layer: Focus) -> bool {
        self.layers().contains(&layer)
    }

    /// Where the screen's keys are read: what its footer offers.
    pub fn screen_keys(&self) -> KeyContext {
        let view = match (self.screen(), self.top_view()) {
            (Focus::View, Some(view)) => view,
            _ => return KeyContext::Overview,
        };
        match view {
            View::Jobs(v) if matches!(v.scope, JobScope::Queue { .. }) => KeyContext::QueueJobs,
            View::Jobs(_) => KeyContext::Jobs,
            View::Job(_) => KeyContext::Job,
            View::DeadLetters(_) => KeyContext::DeadLetters,
            View::Workers(_) => KeyContext::Workers,
            View::Kinds(_) => KeyContext::Kinds,
            View::Tenants(_) => KeyContext::Tenants,
            View::Schedules(_) => KeyContext::Schedules,
            View::ScheduleRuns(_) => KeyContext::ScheduleRuns,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use crossterm::event::{KeyCode, KeyEvent};

    use super::*;
    use crate::app::actions::Dialog;
    use crate::app::{AppConfig, DrillSettings, Msg};
    use crate::backend::Capabilities;

    fn app() -> App {
        let config = AppConfig {
            target: "db".into(),
            backend: "native".into(),
            capabilities: Capabilities::FULL,
            read_only: false,
            stale_after: Duration::from_secs(60),
            oldest_warn: Duration::from_secs(60),
            oldest_critical: Duration::from_secs(300),
            drill: DrillSettings::default(),
        };
        App::new(config, Duration::from_secs(1), Utc::now())
    }

    #[test]
    fn layers_stack_in_focus_order_and_the_top_one_has_the_keys() {
        let mut app = app();
        assert_eq!(app.layers(), [Focus::Overview]);
        app.show_help = true;
        app.show_alerts = true;
        app.actions.dialog = Some(Dialog::Notice {
            title: "t".into(),
            lines: Vec::new(),
        });
        let layers = app.layers();
        assert_eq!(
            layers,
            [Focus::Overview, Focus::Alerts, Focus::Help, Focus::Dialog]
        );
        assert!(layers.is_sorted(), "the stack follows the enum's order");
        assert_eq!(app.screen(), Focus::Alerts);
        // The dialog is on top, so Esc closes it, not the help under it.
        app.update(Msg::Key(KeyEvent::from(KeyCode::Esc)));
        assert_eq!(app.focus(), Focus::Help);
        app.update(Msg::Key(KeyEvent::from(KeyCode::Esc)));
        assert_eq!(app.focus(), Focus::Alerts);
        app.kiosk = true;
        assert_eq!(app.layers(), [Focus::Kiosk]);
    }
}
