//! The schedules view's actions: `p` deactivates or activates the selected schedule (as it
//! pauses and resumes a queue), `R` runs it now. They go through the same request, plan,
//! confirmation and audit as the queue actions (`update/actions.rs`); a source that does not
//! offer one says why at once.

use crate::app::actions::Level;
use crate::app::keymap::KeyCommand;
use crate::app::views::View;
use crate::app::{App, Effect};
use crate::backend::actions::{Action, ScheduleOp, ScheduleTarget};
use crate::backend::schedules::actions::refused;

impl App {
    /// `p` or `R` on the schedules view or a schedule's run history.
    pub(super) fn schedule_command(&mut self, command: KeyCommand) -> Vec<Effect> {
        let key = match self.top_view() {
            // Before the first move the table shows its first row as the selected one.
            Some(View::Schedules(v)) => v
                .selected
                .key()
                .cloned()
                .or_else(|| self.schedule_keys().first().cloned()),
            Some(View::ScheduleRuns(v)) => Some(v.schedule.clone()),
            _ => None,
        };
        let Some(schedule) = key.and_then(|k| self.schedule(&k)).cloned() else {
            self.toast("no schedule selected".into(), Level::Info);
            return Vec::new();
        };
        let op = match command {
            KeyCommand::PauseResume if schedule.active => ScheduleOp::Deactivate,
            KeyCommand::PauseResume => ScheduleOp::Activate,
            _ => ScheduleOp::RunNow,
        };
        if let Some(why) = refused(&schedule.source, op) {
            self.toast(why, Level::Info);
            return Vec::new();
        }
        let action = Action::Schedule {
            op,
            target: ScheduleTarget {
                source: schedule.source,
                id: schedule.id,
                name: schedule.name,
            },
        };
        self.request_action(action, false)
    }

    /// Whether `command` is a schedule action where the schedules are shown.
    pub(super) fn is_schedule_command(&self, command: KeyCommand) -> bool {
        matches!(command, KeyCommand::PauseResume | KeyCommand::Retry)
            && matches!(
                self.top_view(),
                Some(View::Schedules(_) | View::ScheduleRuns(_))
            )
    }
}
