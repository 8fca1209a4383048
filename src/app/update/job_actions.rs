//! Action keys inside a job list or a job's detail: they act on jobs (the marked ones, all
//! that match the list, or the selected one), not on the overview's queue.

use crate::app::actions::Level;
use crate::app::keymap::KeyCommand;
use crate::app::views::{JobsView, View};
use crate::app::{App, Effect};
use crate::backend::drill::JobScope;
use crate::backend::{Action, ActionKind, JobFilter, JobState, JobTarget};

impl App {
    /// `None` when no job list or job detail is on top, or the key is not an action key.
    pub(super) fn job_list_command(&mut self, command: KeyCommand) -> Option<Vec<Effect>> {
        if !matches!(self.top_view(), Some(View::Jobs(_) | View::Job(_))) {
            return None;
        }
        let in_list = matches!(self.top_view(), Some(View::Jobs(_)));
        let kind = match command {
            // Space marks in a list, as `v` does; elsewhere it still freezes the display.
            KeyCommand::Mark | KeyCommand::Freeze if in_list => {
                return Some(self.toggle_job_mark());
            }
            KeyCommand::MarkAll => return Some(self.toggle_all_matching()),
            KeyCommand::Retry => ActionKind::Retry,
            KeyCommand::CancelJobs => ActionKind::Cancel,
            KeyCommand::Discard => ActionKind::Discard,
            KeyCommand::Delete => ActionKind::Delete,
            KeyCommand::ResetStuck => return Some(self.reset_stuck_in_view()),
            _ => return None,
        };
        let target = self.job_target()?;
        Some(self.job_action(kind, target))
    }

    /// The jobs an action applies to: the detail's job; else the marked jobs; else all that
    /// match the list after `V`; else the selected job.
    fn job_target(&mut self) -> Option<JobTarget> {
        let target = match self.top_view() {
            Some(View::Job(v)) => Some(JobTarget::Ids(vec![v.id.clone()])),
            Some(View::Jobs(v)) if !v.marked.is_empty() => {
                Some(JobTarget::Ids(v.marked.iter().cloned().collect()))
            }
            Some(View::Jobs(v)) if v.all_matching => all_that_match(&v.scope, &v.filter),
            Some(View::Jobs(v)) => v.selected_job().map(|r| JobTarget::Ids(vec![r.id.clone()])),
            _ => None,
        };
        if target.is_none() {
            self.toast("no job selected".to_string(), Level::Info);
        }
        target
    }

    /// The job list on top, when marks may be made (they prepare an action).
    fn list_to_mark(&mut self) -> Option<&mut JobsView> {
        if let Err(why) = self.may(ActionKind::Retry) {
            self.toast(why, Level::Warn);
            return None;
        }
        match self.top_view_mut() {
            Some(View::Jobs(v)) => Some(v),
            _ => None,
        }
    }

    fn toggle_job_mark(&mut self) -> Vec<Effect> {
        let Some(v) = self.list_to_mark() else {
            return Vec::new();
        };
        let Some(id) = v.selected_job().map(|r| r.id.clone()) else {
            return Vec::new();
        };
        v.all_matching = false;
        if !v.marked.remove(&id) {
            v.marked.insert(id);
        }
        // Marking walks down the list, as in a file manager.
        self.command(KeyCommand::Down)
    }

    fn toggle_all_matching(&mut self) -> Vec<Effect> {
        let Some(v) = self.list_to_mark() else {
            return Vec::new();
        };
        if all_that_match(&v.scope, &v.filter).is_none() {
            self.toast(
                "this list cannot be named by a filter: mark its jobs with v".to_string(),
                Level::Info,
            );
            return Vec::new();
        }
        v.all_matching = !v.all_matching;
        v.marked.clear();
        Vec::new()
    }

    /// `S` in a worker's or the stuck list: reset what that list shows as stuck.
    fn reset_stuck_in_view(&mut self) -> Vec<Effect> {
        let worker = match self.jobs_view().map(|v| &v.scope) {
            Some(JobScope::Worker { worker }) => Some(worker.clone()),
            Some(JobScope::Stuck { .. }) => None,
            _ => {
                self.toast(
                    "S resets stuck jobs: open the stuck list (s) or a worker (w)".to_string(),
                    Level::Info,
                );
                return Vec::new();
            }
        };
        let action = Action::ResetStuck {
            queue: None,
            worker,
            stale_after: self.config.stale_after,
        };
        self.request_action(action, false)
    }

    /// After an action ran, the list's marks have served.
    pub(super) fn clear_job_marks(&mut self) {
        for view in &mut self.drill.stack {
            if let View::Jobs(v) = view {
                v.marked.clear();
                v.all_matching = false;
            }
        }
    }
}

/// The list as a filter the gate can re-evaluate at action time, where one exists.
fn all_that_match(
    scope: &JobScope,
    filter: &crate::backend::drill::ListFilter,
) -> Option<JobTarget> {
    if let Some(id) = &filter.id {
        return Some(JobTarget::Ids(vec![id.clone()]));
    }
    let mut f = JobFilter {
        kind: filter.kind.clone(),
        tenant: filter.tenant.clone(),
        text: filter.error_text.clone(),
        ..JobFilter::default()
    };
    match scope {
        JobScope::Queue { queue, state } => {
            f.queue = Some(queue.clone());
            f.state = Some(*state);
        }
        JobScope::Worker { worker } => {
            f.worker = Some(worker.clone());
            f.state = Some(JobState::Running);
        }
        // A dead-letter group is a fixed set of ids; narrowing it by a filter is not.
        JobScope::Ids { ids } if filter.is_empty() => return Some(JobTarget::Ids(ids.clone())),
        JobScope::Ids { .. } | JobScope::Stuck { .. } => return None,
    }
    Some(JobTarget::Matching {
        filter: f,
        limit: None,
    })
}
