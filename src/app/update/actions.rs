//! Actions in the monitor: the app's side of the gate, confirmations, the progress of a run,
//! the phased retry, marks, the result toast and the audit pane. Pure like all of `update`:
//! the database work happens in the effects returned (run through `crate::backend::gate`).

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::actions::{
    AuditPane, Choice, Confirm, Dialog, Level, PhaseResult, PhasedChoice, PhasedRetry, Running,
};
use crate::app::editor::LineEditor;
use crate::app::phased::{self, Tally};
use crate::app::selection::{Fallback, ListSelection};
use crate::app::{App, Effect, Msg, Pane};
use crate::backend::JobId;
use crate::backend::actions::READ_ONLY_REFUSAL;
use crate::backend::{
    Action, ActionKind, ActionOutcome, JobFilter, JobState, JobTarget, Outcome, Plan,
};

/// The audit pane re-reads every this many polls while open.
const AUDIT_EVERY_POLLS: u64 = 5;

impl App {
    /// The app's side of the gate: every action the monitor starts passes here first.
    /// Refused in read-only mode and for what the backend cannot do.
    pub fn may(&self, kind: ActionKind) -> Result<(), String> {
        if self.config.read_only {
            return Err(READ_ONLY_REFUSAL.to_string());
        }
        match self.config.capabilities.refusal(&self.config.backend, kind) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// Starts an action: look at what it would do, then confirm. `phased` offers a phased
    /// retry when the set is large enough.
    pub fn request_action(&mut self, action: Action, phased: bool) -> Vec<Effect> {
        if let Err(why) = self.may(action.kind()) {
            self.toast(why, Level::Warn);
            return Vec::new();
        }
        let request = self.ticket();
        self.actions.dialog = Some(Dialog::Looking {
            request,
            title: format!("{}: looking…", action.kind().verb()),
            phased,
        });
        vec![Effect::PlanAction {
            request,
            action: Box::new(action),
        }]
    }

    /// For the job list (drill-down): R, c, D, X on `target`. Retrying a set of dead jobs
    /// named by a filter offers the phased flow.
    pub fn job_action(&mut self, kind: ActionKind, target: JobTarget) -> Vec<Effect> {
        let phased = matches!(&target, JobTarget::Matching { filter, .. }
            if filter.state == Some(JobState::Dead));
        let action = match kind {
            ActionKind::Retry => Action::Retry(target),
            ActionKind::Cancel => Action::Cancel(target),
            ActionKind::Discard => Action::Discard(target),
            ActionKind::Delete => Action::Delete(target),
            _ => return Vec::new(),
        };
        self.request_action(action, phased)
    }

    /// The action keys of the overview: queue-level actions on the selected queue, reset
    /// stuck on the selected worker.
    pub(super) fn action_command(&mut self, kind: ActionKind) -> Vec<Effect> {
        if let Err(why) = self.may(kind) {
            self.toast(why, Level::Warn);
            return Vec::new();
        }
        match (self.pane, kind) {
            (Pane::Workers, ActionKind::ResetStuck) => match self.selected_worker.key().cloned() {
                Some(worker) => self.reset_stuck_of(worker),
                None => self.nothing_selected("worker"),
            },
            (Pane::Workers, ActionKind::Pause | ActionKind::Retry) => {
                self.toast(
                    "p and R act on a queue: Tab to the queues".to_string(),
                    Level::Info,
                );
                Vec::new()
            }
            (Pane::Queues, ActionKind::Pause | ActionKind::Retry | ActionKind::ResetStuck) => {
                let Some(queue) = self.selected_queue.key().cloned() else {
                    return self.nothing_selected("queue");
                };
                let action = match kind {
                    ActionKind::Pause if self.queue_is_paused(&queue) => Action::Resume { queue },
                    ActionKind::Pause => Action::Pause {
                        queue,
                        reason: None,
                    },
                    ActionKind::Retry => Action::Retry(JobTarget::Matching {
                        filter: JobFilter::queue(&queue, JobState::Dead),
                        limit: None,
                    }),
                    _ => Action::ResetStuck {
                        queue: Some(queue),
                        worker: None,
                        stale_after: self.config.stale_after,
                    },
                };
                self.request_action(action, kind == ActionKind::Retry)
            }
            _ => {
                self.toast(
                    format!(
                        "{} acts on jobs: mark them (v) in a queue's job list",
                        kind.verb()
                    ),
                    Level::Info,
                );
                Vec::new()
            }
        }
    }

    pub(super) fn mark_command(&mut self, all: bool) -> Vec<Effect> {
        if let Err(why) = self.may(ActionKind::Retry) {
            self.toast(why, Level::Warn);
            return Vec::new();
        }
        let what = if all {
            "V acts on all jobs that match"
        } else {
            "v marks jobs"
        };
        self.toast(format!("{what} in a queue's job list"), Level::Info);
        Vec::new()
    }

    pub(super) fn open_audit(&mut self) -> Vec<Effect> {
        if !self.config.capabilities.actions.audit.yes() {
            self.toast(
                format!("the {} backend keeps no audit log", self.config.backend),
                Level::Info,
            );
            return Vec::new();
        }
        let pane = AuditPane {
            loading: true,
            ..AuditPane::default()
        };
        let filter = pane.query();
        self.actions.audit = Some(pane);
        vec![Effect::LoadAudit { filter }]
    }

    /// `S` on a worker: its running jobs go back to ready when its heartbeat stopped;
    /// a live worker's jobs are not stuck, and the key says so instead of planning nothing.
    pub(super) fn reset_stuck_of(&mut self, worker: String) -> Vec<Effect> {
        let beat = self.db_now().and_then(|now| {
            self.shown()?
                .snapshot
                .workers
                .iter()
                .find(|w| w.id == worker)
                .map(|w| w.heartbeat_age(now))
        });
        if let Some(age) = beat
            && !self.is_stale(age)
        {
            self.toast(
                format!(
                    "S resets the jobs of a STALE worker; {} is live (its heartbeat is fresh)",
                    worker
                ),
                Level::Info,
            );
            return Vec::new();
        }
        self.request_action(
            Action::ResetStuck {
                queue: None,
                worker: Some(worker),
                stale_after: self.config.stale_after,
            },
            false,
        )
    }

    fn nothing_selected(&mut self, what: &str) -> Vec<Effect> {
        self.toast(format!("no {what} selected"), Level::Info);
        Vec::new()
    }

    fn queue_is_paused(&self, name: &str) -> bool {
        self.shown().is_some_and(|r| {
            r.snapshot
                .queues
                .iter()
                .any(|q| q.name == name && q.paused.is_some())
        })
    }

    /// Keys while a dialog is open: it takes every key.
    pub(super) fn dialog_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        // Ctrl-C never leaves a run half-way without a word: it acts like Esc here.
        let esc = key.code == KeyCode::Esc
            || (key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c'));
        let Some(dialog) = self.actions.dialog.as_mut() else {
            return Vec::new();
        };
        match dialog {
            Dialog::Looking { .. } | Dialog::Notice { .. } => {
                if esc || matches!(key.code, KeyCode::Enter | KeyCode::Char('q')) {
                    self.actions.dialog = None;
                }
                Vec::new()
            }
            Dialog::Running(running) => {
                if esc && !running.stopping {
                    running.stopping = true;
                    return vec![Effect::StopAction { run: running.run }];
                }
                Vec::new()
            }
            Dialog::Confirm(confirm) => {
                if esc {
                    self.actions.dialog = None;
                    self.toast("nothing done".to_string(), Level::Info);
                    return Vec::new();
                }
                let n = confirm.choices.len();
                let typing = confirm.input_label().is_some();
                match key.code {
                    KeyCode::Tab | KeyCode::Right | KeyCode::Down => {
                        confirm.focus = (confirm.focus + 1) % n
                    }
                    KeyCode::BackTab | KeyCode::Left | KeyCode::Up => {
                        confirm.focus = (confirm.focus + n - 1) % n
                    }
                    KeyCode::Enter => {
                        let choice = confirm.choices[confirm.focus];
                        return self.confirmed(choice);
                    }
                    _ if typing && confirm.input.edit(key) => {
                        confirm.hint = None;
                        // The word typed is the decision: Enter now does what it was
                        // typed for, not what the first button says.
                        if confirm.focus == 0 && confirm.word_typed() {
                            confirm.focus = 1;
                        }
                    }
                    _ => {}
                }
                Vec::new()
            }
            Dialog::Phased(flow) => {
                if let Some(running) = flow.running.as_mut() {
                    if esc && !running.stopping {
                        running.stopping = true;
                        return vec![Effect::StopAction { run: running.run }];
                    }
                    return Vec::new();
                }
                if flow.over {
                    if esc || key.code == KeyCode::Enter {
                        return self.close_phased();
                    }
                    return Vec::new();
                }
                let choices = flow.choices();
                let n = choices.len();
                match key.code {
                    KeyCode::Tab | KeyCode::Right | KeyCode::Down => {
                        flow.focus = (flow.focus + 1) % n
                    }
                    KeyCode::BackTab | KeyCode::Left | KeyCode::Up => {
                        flow.focus = (flow.focus + n - 1) % n
                    }
                    KeyCode::Enter => {
                        return match choices.get(flow.focus) {
                            Some(PhasedChoice::Next) => self.run_next_phase(),
                            Some(PhasedChoice::Resume) => self.resume_from_phased(),
                            _ => self.close_phased(),
                        };
                    }
                    _ if esc => return self.close_phased(),
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    fn confirmed(&mut self, choice: Choice) -> Vec<Effect> {
        let Some(Dialog::Confirm(confirm)) = self.actions.dialog.clone() else {
            return Vec::new();
        };
        if choice == Choice::Cancel {
            self.actions.dialog = None;
            self.toast("nothing done".to_string(), Level::Info);
            return Vec::new();
        }
        if let Some(word) = confirm.word()
            && confirm.input.as_str().trim() != word
        {
            if let Some(Dialog::Confirm(c)) = self.actions.dialog.as_mut() {
                c.hint = Some(format!("type `{word}` exactly to confirm"));
            }
            return Vec::new();
        }
        let mut plan = confirm.plan;
        if let Action::Pause { reason, .. } = &mut plan.action {
            let typed = confirm.input.as_str().trim();
            *reason = (!typed.is_empty()).then(|| typed.to_string());
        }
        if let Err(why) = self.may(plan.kind()) {
            self.actions.dialog = None;
            self.toast(why, Level::Warn);
            return Vec::new();
        }
        if choice == Choice::Phased {
            let phases = phased::split(&plan.ids, phased::DEFAULT_SAMPLE);
            let paused_queue = self.paused_target(&plan);
            self.actions.dialog = Some(Dialog::Phased(PhasedRetry {
                plan,
                phases,
                results: Vec::new(),
                running: None,
                focus: 0,
                watching: false,
                over: false,
                paused_queue,
                resuming: None,
            }));
            return self.run_next_phase();
        }
        let run = self.ticket();
        self.actions.dialog = Some(Dialog::Running(Running {
            run,
            plan: plan.clone(),
            progress: None,
            stopping: false,
        }));
        vec![Effect::RunAction {
            run,
            plan: Box::new(plan),
        }]
    }

    fn run_next_phase(&mut self) -> Vec<Effect> {
        let run = self.ticket();
        let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut() else {
            return Vec::new();
        };
        let Some((phase, ids)) = flow.next_phase().cloned() else {
            return Vec::new();
        };
        let plan = flow.plan.phase(ids, phase);
        flow.running = Some(Running {
            run,
            plan: plan.clone(),
            progress: None,
            stopping: false,
        });
        flow.focus = 0;
        vec![Effect::RunAction {
            run,
            plan: Box::new(plan),
        }]
    }

    /// The queue a plan's jobs go back to, when the overview says it is paused.
    fn paused_target(&self, plan: &Plan) -> Option<String> {
        plan.audit_queue()
            .filter(|q| self.queue_is_paused(q))
            .map(str::to_string)
    }

    /// "Resume" in a phased retry: the queue's resume is planned and run through the gate
    /// like any other (audited), without a second confirmation: the button said it.
    fn resume_from_phased(&mut self) -> Vec<Effect> {
        if let Err(why) = self.may(ActionKind::Resume) {
            self.toast(why, Level::Warn);
            return Vec::new();
        }
        let request = self.ticket();
        let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut() else {
            return Vec::new();
        };
        let Some(queue) = flow.paused_queue.clone() else {
            return Vec::new();
        };
        flow.resuming = Some(request);
        flow.focus = 0;
        vec![Effect::PlanAction {
            request,
            action: Box::new(Action::Resume { queue }),
        }]
    }

    /// The plan of a resume asked from a phased retry: run it at once.
    fn resume_planned(&mut self, result: Result<Box<Plan>, String>) -> Vec<Effect> {
        let run = self.ticket();
        let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut() else {
            return Vec::new();
        };
        match result {
            Ok(plan) if plan.eligible > 0 => {
                flow.resuming = Some(run);
                vec![Effect::RunAction { run, plan }]
            }
            Ok(_) => {
                // Someone resumed it meanwhile.
                flow.resuming = None;
                flow.paused_queue = None;
                vec![Effect::RefreshNow]
            }
            Err(e) => {
                flow.resuming = None;
                self.toast(e, Level::Warn);
                Vec::new()
            }
        }
    }

    /// The resume asked from a phased retry is done: the toast says so, the flow goes on.
    fn resume_done(&mut self, result: Result<Box<ActionOutcome>, String>) -> Vec<Effect> {
        let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut() else {
            return Vec::new();
        };
        flow.resuming = None;
        flow.focus = 0;
        match result {
            Ok(outcome) if outcome.error.is_none() => {
                flow.paused_queue = None;
                self.toast(capitalize(&outcome.summary()), Level::Ok);
            }
            Ok(outcome) => self.toast(outcome.summary(), Level::Error),
            Err(refusal) => self.toast(refusal, Level::Warn),
        }
        vec![Effect::RefreshNow]
    }

    fn close_phased(&mut self) -> Vec<Effect> {
        if let Some(Dialog::Phased(flow)) = self.actions.dialog.take() {
            let level = if flow.results.len() == flow.phases.len() {
                Level::Ok
            } else {
                Level::Warn
            };
            let queue = flow
                .plan
                .audit_queue()
                .map(|q| format!("`{q}`: "))
                .unwrap_or_default();
            self.toast(format!("{queue}{}", flow.summary()), level);
        }
        vec![Effect::RefreshNow]
    }

    /// Keys while the audit pane is open: it takes every key.
    pub(super) fn audit_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(pane) = self.actions.audit.as_mut() else {
            return Vec::new();
        };
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return vec![Effect::Quit];
        }
        if let Some(line) = pane.editing.as_mut() {
            match key.code {
                KeyCode::Esc => pane.editing = None,
                KeyCode::Enter => {
                    pane.filter = line.as_str().trim().to_string();
                    pane.editing = None;
                    pane.selected = ListSelection::at(0);
                    pane.loading = true;
                    return vec![Effect::LoadAudit {
                        filter: pane.query(),
                    }];
                }
                _ => {
                    line.edit(key);
                }
            }
            return Vec::new();
        }
        let rows = pane.keys();
        match key.code {
            // Esc clears a filter before it closes the pane, as in a job list.
            KeyCode::Esc if !pane.filter.is_empty() => {
                pane.filter.clear();
                pane.selected = ListSelection::at(0);
                pane.loading = true;
                return vec![Effect::LoadAudit {
                    filter: pane.query(),
                }];
            }
            KeyCode::Esc | KeyCode::Char('L') => self.actions.audit = None,
            KeyCode::Char('q') => return vec![Effect::Quit],
            KeyCode::Char('/') => pane.editing = Some(LineEditor::new(pane.filter.clone())),
            KeyCode::Down | KeyCode::Char('j') => pane.selected.step(&rows, 1),
            KeyCode::Up | KeyCode::Char('k') => pane.selected.step(&rows, -1),
            KeyCode::Home | KeyCode::Char('g') => pane.selected.select(&rows, 0),
            KeyCode::End | KeyCode::Char('G') => pane.selected.select(&rows, usize::MAX),
            KeyCode::Char('r') => {
                pane.loading = true;
                return vec![Effect::LoadAudit {
                    filter: pane.query(),
                }];
            }
            _ => {}
        }
        Vec::new()
    }

    /// Answers to the effects above.
    pub(super) fn action_msg(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Planned { request, result } if self.phased_resume_is(request) => {
                self.resume_planned(result)
            }
            Msg::Planned { request, result } => self.planned(request, result),
            Msg::ActionDone { run, result } if self.phased_resume_is(run) => {
                self.resume_done(result)
            }
            Msg::ActionProgress { run, progress } => {
                if let Some(r) = self.running_mut(run) {
                    r.progress = Some(*progress);
                }
                Vec::new()
            }
            Msg::ActionDone { run, result } => self.action_done(run, result),
            Msg::Watched { result } => {
                if let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut() {
                    flow.watching = false;
                    if let Ok(states) = result {
                        let now: HashMap<JobId, JobState> = states.into_iter().collect();
                        for r in &mut flow.results {
                            let seen: Vec<JobState> = r
                                .outcome
                                .changed_ids
                                .iter()
                                .filter_map(|id| now.get(id).copied())
                                .collect();
                            r.gone = r.outcome.changed_ids.len() as u64 - seen.len() as u64;
                            r.tally = Tally::of(seen);
                        }
                    }
                }
                Vec::new()
            }
            Msg::AuditLoaded { result } => {
                if let Some(pane) = self.actions.audit.as_mut() {
                    pane.loading = false;
                    pane.loaded = true;
                    match result {
                        Ok(entries) => {
                            pane.entries = entries;
                            let rows = pane.keys();
                            pane.selected.settle(&rows, Fallback::SameRow);
                            pane.error = None;
                        }
                        Err(e) => pane.error = Some(e),
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn planned(&mut self, request: u64, result: Result<Box<Plan>, String>) -> Vec<Effect> {
        let Some(Dialog::Looking {
            request: waiting,
            phased,
            ..
        }) = &self.actions.dialog
        else {
            return Vec::new();
        };
        if *waiting != request {
            return Vec::new();
        }
        let phased = *phased;
        let result = result.map(|mut plan| {
            plan.source = self.source_label.clone();
            plan
        });
        // The dialog's count of a whole pile is exact: the overview shows the same.
        if let Ok(plan) = &result
            && let Some((queue, state, jobs)) = plan.counted_pile()
        {
            self.count_known(queue, state, jobs as i64);
        }
        self.actions.dialog = Some(match result {
            Ok(plan) if plan.eligible == 0 => {
                let nothing = ActionOutcome::of(&plan, &Default::default(), true);
                let mut lines = vec![plan.question()];
                lines.extend(plan.details());
                Dialog::Notice {
                    title: capitalize(&nothing.summary()),
                    lines,
                }
            }
            Ok(plan) => Dialog::Confirm(Confirm::new(*plan, phased)),
            Err(e) => Dialog::Notice {
                title: "Cannot do that".to_string(),
                lines: vec![e],
            },
        });
        Vec::new()
    }

    fn phased_resume_is(&self, ticket: u64) -> bool {
        matches!(&self.actions.dialog,
            Some(Dialog::Phased(flow)) if flow.resuming == Some(ticket))
    }

    fn running_mut(&mut self, run: u64) -> Option<&mut Running> {
        match self.actions.dialog.as_mut()? {
            Dialog::Running(r) if r.run == run => Some(r),
            Dialog::Phased(PhasedRetry {
                running: Some(r), ..
            }) if r.run == run => Some(r),
            _ => None,
        }
    }

    fn action_done(&mut self, run: u64, result: Result<Box<ActionOutcome>, String>) -> Vec<Effect> {
        if self.running_mut(run).is_none() {
            return Vec::new();
        }
        let mut effects = vec![Effect::RefreshNow];
        if let Some(pane) = self.actions.audit.as_mut() {
            pane.loading = true;
            effects.push(Effect::LoadAudit {
                filter: pane.query(),
            });
        }
        match self.actions.dialog.take() {
            Some(Dialog::Running(running)) => {
                match result {
                    Ok(outcome) => {
                        let level = match outcome.outcome() {
                            Outcome::Ok => Level::Ok,
                            Outcome::Partial => Level::Warn,
                            Outcome::Failed => Level::Error,
                        };
                        let queue = outcome
                            .queue
                            .as_ref()
                            .filter(|_| {
                                !matches!(outcome.kind, ActionKind::Pause | ActionKind::Resume)
                            })
                            .map(|q| format!("`{q}`: "))
                            .unwrap_or_default();
                        self.toast(format!("{queue}{}", outcome.summary()), level);
                    }
                    Err(refusal) => self.toast(refusal, Level::Warn),
                }
                if running.plan.kind() != ActionKind::Pause {
                    self.clear_job_marks();
                }
            }
            Some(Dialog::Phased(mut flow)) => {
                let running = flow.running.take();
                match result {
                    Ok(outcome) => {
                        if outcome.stopped || outcome.error.is_some() {
                            flow.over = true;
                        }
                        if let Some(e) = &outcome.error {
                            self.toast(format!("phase failed: {e}"), Level::Error);
                        }
                        let phase = running
                            .and_then(|r| r.plan.phase)
                            .unwrap_or_else(|| flow.phases[flow.results.len()].0.clone());
                        flow.results.push(PhaseResult {
                            phase,
                            outcome: *outcome,
                            tally: Tally::default(),
                            gone: 0,
                        });
                    }
                    Err(refusal) => {
                        flow.over = true;
                        self.toast(refusal, Level::Warn);
                    }
                }
                if flow.results.len() >= flow.phases.len() {
                    flow.over = true;
                }
                flow.focus = 0;
                let ids = flow.watched_ids();
                if !ids.is_empty() {
                    flow.watching = true;
                    effects.push(Effect::WatchJobs { ids });
                }
                self.actions.dialog = Some(Dialog::Phased(flow));
            }
            other => self.actions.dialog = other,
        }
        effects
    }

    /// After every poll: keep watching a phased retry's jobs, and keep the audit pane fresh.
    pub(super) fn after_poll(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        let paused = match &self.actions.dialog {
            Some(Dialog::Phased(flow)) => self.paused_target(&flow.plan),
            _ => None,
        };
        if let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut()
            && flow.paused_queue != paused
        {
            // The buttons change: the highlight goes back to the way out, never onto
            // another button than the one chosen.
            flow.paused_queue = paused;
            flow.focus = 0;
        }
        if let Some(Dialog::Phased(flow)) = self.actions.dialog.as_mut()
            && !flow.watching
        {
            let ids = flow.watched_ids();
            if !ids.is_empty() {
                flow.watching = true;
                effects.push(Effect::WatchJobs { ids });
            }
        }
        if let Some(pane) = self.actions.audit.as_mut()
            && !pane.loading
            && pane.editing.is_none()
            && self.polls.is_multiple_of(AUDIT_EVERY_POLLS)
        {
            pane.loading = true;
            effects.push(Effect::LoadAudit {
                filter: pane.query(),
            });
        }
        effects
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
