//! `update` for the drill-down views: opening and closing them, moving inside them, the
//! `/` prompt, and the data loads they ask for (as `Effect::Load`, answered by
//! `Msg::Loaded`). Pure, like the rest of `update`.

use chrono::DateTime;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::actions::Level;
use crate::app::alerts::{Alert, RuleId, Subject};
use crate::app::display::human_bytes;
use crate::app::editor::LineEditor;
use crate::app::filter;
use crate::app::json::{self, DocLine, Tone};
use crate::app::keymap::KeyCommand;
use crate::app::redact::Redactor;
use crate::app::selection::{Fallback, ListSelection};
use crate::app::sort::TableSort;
use crate::app::views::{CHROME_LINES, DETAIL_HEAD_LINES};
use crate::app::views::{
    DeadLettersView, DetailPane, FilterInput, JobView, JobsView, KindsView, Land, ScheduleRunsView,
    SchedulesView, TenantsView, View, WorkersView,
};
use crate::app::{App, AppConfig, Effect, Pane};
use crate::backend::drill::{
    DeadLetterQuery, DeadWindow, DetailLimits, FailedAttemptsQuery, HistoryWindow, JobDetail,
    JobQuery, JobScope, KindsQuery, LARGE_SCAN_ROWS, Order, PAGE_SIZE, PayloadForm, Request,
    Response, SCOPE_COUNT_CAP, TenantsQuery,
};
use crate::backend::{JobId, JobState};

impl App {
    /// The view on top of the stack; `None` on the overview.
    pub fn top_view(&self) -> Option<&View> {
        self.drill.stack.last()
    }

    pub(super) fn top_view_mut(&mut self) -> Option<&mut View> {
        self.drill.stack.last_mut()
    }

    /// The job list on top of the stack, or right under the job detail on top.
    pub fn jobs_view(&self) -> Option<&JobsView> {
        let mut views = self.drill.stack.iter().rev();
        match (views.next(), views.next()) {
            (Some(View::Jobs(j)), _) | (Some(View::Job(_)), Some(View::Jobs(j))) => Some(j),
            _ => None,
        }
    }

    /// The jobs an action on "the selection" applies to: the job shown in the detail view;
    /// else the marked jobs of the list on top; else its selected job.
    pub fn selected_job_ids(&self) -> Vec<JobId> {
        match self.top_view() {
            Some(View::Job(v)) => vec![v.id.clone()],
            Some(View::Jobs(v)) if !v.marked.is_empty() => v.marked.iter().cloned().collect(),
            Some(View::Jobs(v)) => v.selected_job().map(|r| r.id.clone()).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// Where the screen is: `overview › mailers › dead › #48213`, one string per step.
    pub fn breadcrumb(&self) -> Vec<String> {
        let mut out = vec!["overview".to_string()];
        out.extend(self.source_label.clone());
        for view in &self.drill.stack {
            match view {
                View::Jobs(v) => match &v.scope {
                    JobScope::Queue { queue, state } => {
                        out.push(queue.clone());
                        out.push(state.as_str().to_string());
                    }
                    JobScope::Worker { worker } => out.push(format!("worker {worker}")),
                    JobScope::Ids { ids } => out.push(
                        v.label
                            .clone()
                            .unwrap_or_else(|| format!("{} jobs", ids.len())),
                    ),
                    JobScope::Stuck { .. } => out.push("stuck".into()),
                },
                View::Job(v) => out.push(format!("#{}", v.id)),
                View::DeadLetters(v) => {
                    let what = if v.attempts {
                        "failed attempts"
                    } else {
                        "dead letters"
                    };
                    let mut crumb = format!("{what} {}", v.window.label());
                    if let Some(kind) = &v.kind {
                        crumb.push_str(&format!(" · {kind}"));
                    }
                    if let Some(queue) = &v.queue {
                        crumb.push_str(&format!(" in {queue}"));
                    }
                    out.push(crumb);
                }
                View::Workers(_) => out.push("workers".into()),
                View::Kinds(v) => out.push(format!("kinds {}", v.window.label())),
                View::Tenants(_) => out.push("tenants".into()),
                View::Schedules(_) => out.push("schedules".into()),
                View::ScheduleRuns(v) => out.push(
                    self.schedule(&v.schedule)
                        .map_or_else(|| v.schedule.clone(), |s| s.key()),
                ),
            }
        }
        out
    }

    /// Rows of the job detail's scrolling pane on this screen. The header's height mirrors
    /// the UI's (a third line while polls fail); if it ever differs, scrolling stops a
    /// line early or late, nothing worse: the UI clamps what it draws.
    pub fn detail_body_height(&self) -> usize {
        let header: u16 = if self.failure.is_some() { 3 } else { 2 };
        self.drill
            .screen
            .1
            .saturating_sub(header + CHROME_LINES + DETAIL_HEAD_LINES)
            .max(1) as usize
    }

    /// Rows a list moves on PageDown where it has no pages of its own.
    fn screenful(&self) -> isize {
        (self.drill.screen.1.saturating_sub(8)).max(1) as isize
    }

    // ---- keys ----

    /// Keys while the `/` prompt is open: it takes every key.
    pub(super) fn prompt_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(input) = self.drill.input.as_mut() else {
            return Vec::new();
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return vec![Effect::Quit],
            KeyCode::Esc => self.drill.input = None,
            KeyCode::Enter => return self.submit_filter(),
            // An edit makes the last word about the text stale.
            _ if input.text.edit(key) => {
                input.error = None;
                input.confirm = None;
            }
            _ => {}
        }
        Vec::new()
    }

    fn submit_filter(&mut self) -> Vec<Effect> {
        let Some(input) = self.drill.input.clone() else {
            return Vec::new();
        };
        let parsed = match filter::parse(input.text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                if let Some(i) = self.drill.input.as_mut() {
                    i.error = Some(e);
                }
                return Vec::new();
            }
        };
        let words = input.text.as_str().trim();
        let words = (!words.is_empty()).then(|| words.to_string());
        match self.drill.stack.last_mut() {
            None => {
                self.drill.input = None;
                let only_id = parsed.id.is_some() && !parsed.needs_scan();
                match parsed.id {
                    // A job id alone opens the job; other words filter the queues by name.
                    Some(id)
                        if only_id
                            && !self.queue_names().iter().any(|q| Some(q) == words.as_ref()) =>
                    {
                        self.push(View::Job(JobView::new(id)))
                    }
                    _ => {
                        self.queue_filter = words;
                        self.keep_selection_valid();
                        Vec::new()
                    }
                }
            }
            Some(View::Jobs(view)) => {
                if input.confirm.is_none() && parsed.needs_scan() && is_big(view) {
                    let count =
                        view.page
                            .as_ref()
                            .map_or("an unknown number of".to_string(), |p| {
                                match (p.scope_estimate, p.scope_count.capped) {
                                    (Some(rows), _) => format!("~{rows}"),
                                    (None, true) => format!("{}+", p.scope_count.value),
                                    (None, false) => p.scope_count.value.to_string(),
                                }
                            });
                    let estimated = view
                        .page
                        .as_ref()
                        .is_some_and(|p| p.scope_estimate.is_some());
                    let basis = if estimated {
                        " (the planner's estimate)"
                    } else {
                        ""
                    };
                    if let Some(i) = self.drill.input.as_mut() {
                        i.confirm = Some(format!(
                            "no index on kind, tenant, payload or error text: this reads up to all {count} jobs of this list{basis}, page by page, within the statement timeout. Enter: search anyway · Esc: cancel"
                        ));
                    }
                    return Vec::new();
                }
                view.filter = parsed;
                reset_pages(view);
                self.drill.input = None;
                self.load_top()
            }
            Some(view) => {
                if let Some(narrow) = view.narrow_mut() {
                    narrow.filter = words;
                }
                self.drill.input = None;
                self.keep_selection_valid();
                Vec::new()
            }
        }
    }

    /// A command for the drill-down, or `None` to let the overview have it.
    pub(super) fn drill_command(&mut self, command: KeyCommand) -> Option<Vec<Effect>> {
        // Views that open from anywhere.
        let opened = match command {
            KeyCommand::DeadLetters => {
                let mut view = DeadLettersView::new(DeadWindow::Day, None);
                // Inside a queue, its own dead letters: what the breadcrumb names.
                view.queue = self.jobs_view().and_then(|v| match &v.scope {
                    JobScope::Queue { queue, .. } => Some(queue.clone()),
                    _ => None,
                });
                Some(View::DeadLetters(view))
            }
            KeyCommand::Stuck => {
                let mut v = JobsView::new(
                    JobScope::Stuck {
                        running_longer_than: self.config.drill.stuck_after,
                        stale_after: self.config.stale_after,
                    },
                    None,
                );
                v.order = Order::OldestFirst;
                Some(View::Jobs(v))
            }
            KeyCommand::Workers => Some(View::Workers(WorkersView {
                selected: self.selected_worker.clone(),
                narrow: Default::default(),
            })),
            KeyCommand::Kinds => Some(View::Kinds(KindsView::new(HistoryWindow::default()))),
            KeyCommand::Schedules => Some(View::Schedules(SchedulesView::default())),
            KeyCommand::Tenants => {
                if !self.config.capabilities.tenants.yes() {
                    return Some(self.notice(format!(
                        "the {} backend has no tenants",
                        self.config.backend
                    )));
                }
                Some(View::Tenants(TenantsView::default()))
            }
            _ => None,
        };
        if let Some(view) = opened {
            if command == KeyCommand::Workers && !self.config.capabilities.workers.yes() {
                return Some(self.notice(format!(
                    "the {} backend has no worker table",
                    self.config.backend
                )));
            }
            return Some(self.push(view));
        }
        if command == KeyCommand::Filter {
            let text = match self.top_view() {
                None => self.queue_filter.clone().unwrap_or_default(),
                Some(View::Jobs(v)) => filter::to_input(&v.filter),
                Some(view) => match view.narrow() {
                    Some(n) => n.filter.clone().unwrap_or_default(),
                    None => {
                        return Some(
                            self.notice("/ filters lists and tables, not this view".into()),
                        );
                    }
                },
            };
            self.drill.input = Some(FilterInput {
                text: LineEditor::new(text),
                ..FilterInput::default()
            });
            return Some(Vec::new());
        }
        if self.drill.stack.is_empty() {
            return match command {
                KeyCommand::Open => Some(self.open_from_overview()),
                _ => None,
            };
        }
        if self.is_schedule_command(command) {
            return Some(self.schedule_command(command));
        }
        match command {
            // Global keys keep their meaning in every view.
            KeyCommand::Quit
            | KeyCommand::Help
            | KeyCommand::Alerts
            | KeyCommand::Freeze
            | KeyCommand::IntervalUp
            | KeyCommand::IntervalDown
            | KeyCommand::Audit => None,
            KeyCommand::ResetStuck => Some(self.reset_stuck_in_drill()),
            KeyCommand::RefreshNow => {
                let mut effects = vec![Effect::RefreshNow];
                effects.extend(self.load_top());
                Some(effects)
            }
            KeyCommand::Back => Some(self.back()),
            KeyCommand::Open => Some(self.open()),
            KeyCommand::Copy => Some(self.copy()),
            _ => Some(self.view_command(command)),
        }
    }

    /// `S` outside a job list (which handles it first): on the workers view, the selected
    /// worker's stuck jobs; elsewhere, where to go for it.
    fn reset_stuck_in_drill(&mut self) -> Vec<Effect> {
        if let Some(View::Workers(v)) = self.top_view() {
            return match v.selected.key().cloned() {
                Some(worker) => self.reset_stuck_of(worker),
                None => self.notice("no worker selected".into()),
            };
        }
        self.notice("S resets stuck jobs: open the stuck list (s) or the workers (w)".into())
    }

    /// Enter in the alerts pane: the pane closes and the alert's subject opens (a queue on
    /// the tab the rule is about, a kind's jobs, a worker's jobs, the tenants, the
    /// schedules); an alert about the whole database has nothing to open and says so.
    pub(super) fn open_alert_subject(&mut self, alert: &Alert) -> Vec<Effect> {
        let queue_tab = |app: &App, queue: &str| match alert.key.rule {
            RuleId::DeadLetter | RuleId::DeadSpike => JobState::Dead,
            RuleId::OldestReady | RuleId::Backlog | RuleId::BacklogBaseline | RuleId::NoWorker => {
                JobState::Ready
            }
            RuleId::SlowJob => JobState::Running,
            _ => app.first_busy_tab(queue),
        };
        let view = match &alert.key.subject {
            Subject::Queue { name } => {
                self.selected_queue.select(std::slice::from_ref(name), 0);
                View::Jobs(JobsView::new(
                    JobScope::Queue {
                        queue: name.clone(),
                        state: queue_tab(self, name),
                    },
                    None,
                ))
            }
            Subject::Kind { queue, kind } => {
                self.selected_queue.select(std::slice::from_ref(queue), 0);
                let mut v = JobsView::new(
                    JobScope::Queue {
                        queue: queue.clone(),
                        state: queue_tab(self, queue),
                    },
                    None,
                );
                v.filter.kind = Some(kind.clone());
                View::Jobs(v)
            }
            Subject::Worker { id } => {
                self.selected_worker.select(std::slice::from_ref(id), 0);
                View::Jobs(JobsView::new(JobScope::Worker { worker: id.clone() }, None))
            }
            Subject::Tenant { .. } if self.config.capabilities.tenants.yes() => {
                View::Tenants(TenantsView::default())
            }
            Subject::Schedule { source, name } => {
                let key = self
                    .schedules()
                    .iter()
                    .find(|s| &s.source == source && &s.name == name)
                    .map(|s| format!("{}/{}", s.source, s.id));
                let mut v = SchedulesView::default();
                if let Some(key) = key {
                    v.selected.select(&[key], 0);
                }
                View::Schedules(v)
            }
            subject => {
                return self.notice(format!(
                    "this alert is about {}: there is no list to open",
                    subject.label()
                ));
            }
        };
        self.show_alerts = false;
        self.push(view)
    }

    /// `U`: masked values shown as they are on this screen, or masked again. Refused where
    /// the screen is shared by design: read-only sessions and the wall screen.
    pub(super) fn toggle_reveal(&mut self) -> Vec<Effect> {
        if self.config.read_only || self.kiosk {
            return self.notice("secrets stay masked in a read-only session".into());
        }
        if self.redact.is_off() {
            return self.notice("nothing is masked: the config's redact is off".into());
        }
        self.revealed = !self.revealed;
        let mask = (!self.revealed).then_some(&self.redact);
        for view in &mut self.drill.stack {
            if let View::Job(v) = view {
                detail_lines(v, mask, &self.config);
            }
        }
        let text = if self.revealed {
            "secrets shown on this screen: U masks them again"
        } else {
            "secrets masked again"
        };
        self.toast(text.to_string(), Level::Warn);
        Vec::new()
    }

    fn notice(&mut self, text: String) -> Vec<Effect> {
        self.toast(text, Level::Info);
        Vec::new()
    }

    fn push(&mut self, view: View) -> Vec<Effect> {
        self.drill.stack.push(view);
        self.load_top()
    }

    fn back(&mut self) -> Vec<Effect> {
        if let Some(View::Jobs(v)) = self.top_view_mut()
            && !v.filter.is_empty()
        {
            v.filter = Default::default();
            reset_pages(v);
            return self.load_top();
        }
        // Esc clears a table's filter before it leaves the view.
        if let Some(narrow) = self.top_view_mut().and_then(View::narrow_mut)
            && narrow.filter.is_some()
        {
            narrow.filter = None;
            self.keep_selection_valid();
            return Vec::new();
        }
        self.drill.stack.pop();
        // What shows again may be old: fetch it again.
        self.load_top()
    }

    fn open_from_overview(&mut self) -> Vec<Effect> {
        match self.pane {
            Pane::Queues => {
                let Some(queue) = self.selected_queue.key().cloned() else {
                    return Vec::new();
                };
                let state = self.first_busy_tab(&queue);
                self.push(View::Jobs(JobsView::new(
                    JobScope::Queue { queue, state },
                    None,
                )))
            }
            Pane::Workers => match self.selected_worker.key().cloned() {
                Some(worker) => {
                    self.push(View::Jobs(JobsView::new(JobScope::Worker { worker }, None)))
                }
                None => Vec::new(),
            },
        }
    }

    /// The tab a queue opens on: the first of ready, running, retrying, dead, scheduled
    /// that holds jobs (by the overview's counts), else ready.
    fn first_busy_tab(&self, queue: &str) -> JobState {
        let Some(q) = self
            .shown()
            .and_then(|r| r.snapshot.queues.iter().find(|q| q.name == queue))
        else {
            return JobState::Ready;
        };
        [
            (JobState::Ready, q.ready),
            (JobState::Running, q.running),
            (JobState::Retrying, q.retrying),
            (JobState::Dead, q.dead),
            (JobState::Scheduled, q.scheduled),
        ]
        .into_iter()
        .find(|(_, c)| c.value > 0)
        .map_or(JobState::Ready, |(s, _)| s)
    }

    fn open(&mut self) -> Vec<Effect> {
        let view = match self.top_view() {
            Some(View::Jobs(v)) => v
                .selected_job()
                .map(|r| View::Job(JobView::new(r.id.clone()))),
            Some(View::DeadLetters(v)) => v.selected_index().map(|i| {
                let g = &v
                    .report
                    .as_ref()
                    .expect("selected_index needs a report")
                    .groups[i];
                let mut jobs = JobsView::new(
                    JobScope::Ids { ids: g.ids.clone() },
                    Some(short(&g.signature, 60)),
                );
                jobs.order = Order::NewestFirst;
                View::Jobs(jobs)
            }),
            Some(View::Workers(v)) => v
                .selected
                .key()
                .cloned()
                .map(|worker| View::Jobs(JobsView::new(JobScope::Worker { worker }, None))),
            // A kind that failed without dead jobs (its attempts were retried) leads to its
            // failed attempts' errors; any other to its dead letters.
            Some(View::Kinds(v)) => v.selected.key().cloned().map(|kind| {
                let retried_only = v
                    .shown()
                    .iter()
                    .any(|k| k.kind == kind && k.dead == 0 && k.failed_attempts > 0);
                View::DeadLetters(if retried_only {
                    DeadLettersView::attempts(v.window, kind)
                } else {
                    DeadLettersView::new(v.window, Some(kind))
                })
            }),
            Some(View::Schedules(v)) => v.selected.key().cloned().map(|schedule| {
                View::ScheduleRuns(ScheduleRunsView {
                    schedule,
                    selected: ListSelection::at(0),
                })
            }),
            _ => None,
        };
        match view {
            Some(view) => self.push(view),
            None => Vec::new(),
        }
    }

    fn copy(&mut self) -> Vec<Effect> {
        let id = match self.top_view() {
            Some(View::Job(v)) => Some(v.id.clone()),
            Some(View::Jobs(v)) => v.selected_job().map(|r| r.id.clone()),
            _ => None,
        };
        match id {
            Some(id) => {
                let mut effects = self.notice(format!("copied #{id} (OSC 52)"));
                effects.push(Effect::Copy(id.to_string()));
                effects
            }
            None => Vec::new(),
        }
    }

    /// Moving, paging, tabs and order inside the view on top.
    fn view_command(&mut self, command: KeyCommand) -> Vec<Effect> {
        let screenful = self.screenful();
        let body = self.detail_body_height();
        let (workers, schedules) = match self.top_view() {
            Some(View::Workers(v)) => (self.worker_ids_narrowed(&v.narrow), Vec::new()),
            Some(View::Schedules(v)) => (Vec::new(), self.schedule_keys_narrowed(&v.narrow)),
            _ => (Vec::new(), Vec::new()),
        };
        if let Some(by) = sort_step(command)
            && let Some(view) = self.top_view_mut()
            && view.narrow().is_some()
        {
            sort_view(view, by);
            self.keep_selection_valid();
            return Vec::new();
        }
        let runs = match self.top_view() {
            Some(View::ScheduleRuns(v)) => self.schedule(&v.schedule).map_or(0, |s| s.runs.len()),
            _ => 0,
        };
        let Some(view) = self.top_view_mut() else {
            return Vec::new();
        };
        let step = |c: KeyCommand| -> Option<isize> {
            match c {
                KeyCommand::Up => Some(-1),
                KeyCommand::Down => Some(1),
                KeyCommand::Top => Some(isize::MIN / 2),
                KeyCommand::Bottom => Some(isize::MAX / 2),
                KeyCommand::PageUp => Some(-screenful),
                KeyCommand::PageDown => Some(screenful),
                _ => None,
            }
        };
        let reload = match view {
            View::Jobs(v) => match command {
                // A screen at a time; past the page's rows, the next (or previous) page.
                KeyCommand::PageDown => {
                    let last = v.rows().len().saturating_sub(1);
                    match v.selected_index() {
                        Some(i) if i < last => {
                            v.selected.step(&v.ids(), screenful);
                            false
                        }
                        _ => next_page(v),
                    }
                }
                KeyCommand::PageUp => match v.selected_index() {
                    Some(i) if i > 0 => {
                        v.selected.step(&v.ids(), -screenful);
                        false
                    }
                    _ => prev_page(v),
                },
                // `<` `>` and I: job lists are ordered by the database, oldest or newest first.
                KeyCommand::SortNext | KeyCommand::SortPrev | KeyCommand::SortInvert => {
                    v.order = v.order.toggled();
                    reset_pages(v);
                    true
                }
                KeyCommand::Down
                    if v.selected_index() == Some(v.rows().len().saturating_sub(1)) =>
                {
                    next_page(v)
                }
                KeyCommand::Up if v.selected_index() == Some(0) => prev_page(v),
                KeyCommand::Up | KeyCommand::Down | KeyCommand::Top | KeyCommand::Bottom => {
                    v.selected.step(&v.ids(), step(command).unwrap_or(0));
                    false
                }
                KeyCommand::NextPane | KeyCommand::Right => switch_tab(v, 1),
                KeyCommand::Left => switch_tab(v, -1),
                KeyCommand::ToggleOrder => {
                    v.order = v.order.toggled();
                    reset_pages(v);
                    true
                }
                _ => false,
            },
            View::Job(v) => {
                let len = v.lines().len();
                let max = len.saturating_sub(body);
                let pane = v.pane as usize;
                match command {
                    KeyCommand::NextPane => {
                        v.pane = match v.pane {
                            DetailPane::Errors => DetailPane::Payload,
                            DetailPane::Payload => DetailPane::Errors,
                        };
                    }
                    KeyCommand::Left => v.hscroll = v.hscroll.saturating_sub(8),
                    KeyCommand::Right => v.hscroll = (v.hscroll + 8).min(10_000),
                    KeyCommand::PageDown | KeyCommand::PageUp => {
                        let by = if command == KeyCommand::PageDown {
                            body as isize
                        } else {
                            -(body as isize)
                        };
                        v.scroll[pane] = clamp_add(v.scroll[pane], by, max);
                    }
                    c => {
                        if let Some(by) = step(c) {
                            v.scroll[pane] = clamp_add(v.scroll[pane], by, max);
                        }
                    }
                }
                false
            }
            View::DeadLetters(v) => {
                let keys = v.keys();
                let moved = report_key(command, &mut v.window, &DeadWindow::ALL);
                // A new window is a new report: the old one would mislead while it loads.
                v.report = v.report.take().filter(|_| !moved);
                moved || step_selection(&mut v.selected, &keys, step(command))
            }
            View::Kinds(v) => {
                let keys = v.keys();
                let moved = report_key(command, &mut v.window, &HistoryWindow::ALL);
                v.report = v.report.take().filter(|_| !moved);
                moved || step_selection(&mut v.selected, &keys, step(command))
            }
            View::Workers(v) => step_selection(&mut v.selected, &workers, step(command)),
            View::Schedules(v) => step_selection(&mut v.selected, &schedules, step(command)),
            View::ScheduleRuns(v) => {
                let keys: Vec<usize> = (0..runs).collect();
                step_selection(&mut v.selected, &keys, step(command))
            }
            View::Tenants(v) => {
                let keys = v.keys();
                step_selection(&mut v.selected, &keys, step(command))
            }
        };
        if reload { self.load_top() } else { Vec::new() }
    }

    // ---- loads ----

    fn request_for(&self, view: &View) -> Option<Request> {
        let drill = &self.config.drill;
        Some(match view {
            View::Jobs(v) => Request::Jobs(JobQuery {
                scope: v.scope.clone(),
                filter: v.filter.clone(),
                order: v.order,
                after: v.pages.last().cloned().flatten(),
                limit: PAGE_SIZE,
            }),
            View::Job(v) => Request::Job {
                id: v.id.clone(),
                limits: DetailLimits::default(),
            },
            View::DeadLetters(v) if v.attempts => Request::FailedAttempts(FailedAttemptsQuery {
                kind: v.kind.clone().unwrap_or_default(),
                window: v.window,
                limit: drill.dead_letter_limit,
            }),
            View::DeadLetters(v) => Request::DeadLetters(DeadLetterQuery {
                window: v.window,
                kind: v.kind.clone(),
                queue: v.queue.clone(),
                limit: drill.dead_letter_limit,
            }),
            View::Kinds(v) => Request::Kinds(KindsQuery {
                window: v.window,
                limit: drill.kinds_limit,
            }),
            View::Tenants(_) => Request::Tenants(TenantsQuery {
                stale_after: self.config.stale_after,
                ready_cap: SCOPE_COUNT_CAP,
            }),
            View::Workers(_) | View::Schedules(_) | View::ScheduleRuns(_) => return None,
        })
    }

    /// Asks for the data of the view on top; a newer ask makes any older answer stale.
    pub(super) fn load_top(&mut self) -> Vec<Effect> {
        let Some(request) = self.top_view().and_then(|v| self.request_for(v)) else {
            return Vec::new();
        };
        let ticket = self.ticket();
        let now = self.now;
        if let Some(load) = self.top_view_mut().and_then(View::load_state_mut) {
            load.pending = Some(ticket);
            load.pending_since = Some(now);
        }
        vec![Effect::Load { ticket, request }]
    }

    /// After each good poll the view on top is refreshed too, unless frozen or still
    /// loading; reports that read many rows only every `report_refresh`.
    pub(super) fn drill_polled(&mut self) -> Vec<Effect> {
        if self.is_frozen() {
            return Vec::new();
        }
        let now = self.now;
        let settings = &self.config.drill;
        let due = match self.top_view() {
            None
            | Some(View::Workers(_))
            | Some(View::Schedules(_))
            | Some(View::ScheduleRuns(_)) => false,
            Some(view) => {
                let load = view.load_state().expect("data views have a load state");
                let every = match view {
                    // A filter no index answers can cost a scan: not every second.
                    View::Jobs(v) if v.filter.needs_scan() => settings.report_refresh,
                    View::Jobs(_) => std::time::Duration::ZERO,
                    View::Job(_) => settings.detail_refresh,
                    _ => settings.report_refresh,
                };
                // Polls arrive a little early or late: a tenth of a second counts as on time.
                let waited = |since: Option<DateTime<chrono::Utc>>, wait: std::time::Duration| {
                    since.is_none_or(|at| {
                        (now - at).to_std().unwrap_or_default()
                            + std::time::Duration::from_millis(100)
                            >= wait
                    })
                };
                let after_failure = match load.error {
                    Some(_) => waited(load.failed_at, settings.retry_after_failure),
                    None => true,
                };
                !load.is_loading() && after_failure && waited(load.loaded_at, every)
            }
        };
        if due { self.load_top() } else { Vec::new() }
    }

    pub(super) fn drill_loaded(&mut self, ticket: u64, result: Result<Response, String>) {
        let now = self.now;
        let Some(view) = self
            .drill
            .stack
            .iter_mut()
            .find(|v| v.load_state().is_some_and(|l| l.pending == Some(ticket)))
        else {
            return;
        };
        let response = match result {
            Ok(r) => r,
            Err(message) => {
                if let Some(load) = view.load_state_mut() {
                    load.pending = None;
                    load.error = Some(message);
                    load.failed_at = Some(now);
                }
                return;
            }
        };
        let mut known = None;
        match (&mut *view, response) {
            (View::Jobs(v), Response::Jobs(page)) => {
                // The tab's exact count is the pile's, filter aside: one number everywhere.
                if let JobScope::Queue { queue, state } = &v.scope
                    && !page.scope_count.capped
                    && !page.scope_count.estimated
                {
                    known = Some((queue.clone(), *state, page.scope_count.value));
                }
                v.page = Some(page);
                let ids = v.ids();
                match v.land {
                    Land::Keep => v.selected.settle(&ids, Fallback::SameRow),
                    Land::First => v.selected.select(&ids, 0),
                    Land::Last => v.selected.select(&ids, usize::MAX),
                }
                v.land = Land::Keep;
            }
            (View::Job(v), Response::Job(detail)) => {
                let first = v.detail.is_none();
                v.detail = Some(detail);
                let mask = (!self.revealed).then_some(&self.redact);
                detail_lines(v, mask, &self.config);
                if let Some(Some(d)) = &v.detail
                    && first
                    && d.errors.is_empty()
                    && d.job.last_error.is_none()
                {
                    v.pane = DetailPane::Payload;
                }
            }
            (View::DeadLetters(v), Response::DeadLetters(report)) => {
                v.report = Some(report);
                v.selected.settle(&v.keys(), Fallback::First);
            }
            (View::Kinds(v), Response::Kinds(report)) => {
                v.report = Some(report);
                v.selected.settle(&v.keys(), Fallback::First);
            }
            (View::Tenants(v), Response::Tenants(report)) => {
                v.report = Some(report);
                v.selected.settle(&v.keys(), Fallback::SameRow);
            }
            _ => {}
        }
        if let Some(load) = view.load_state_mut() {
            load.pending = None;
            load.error = None;
            load.loaded_at = Some(now);
        }
        if let Some((queue, state, count)) = known {
            self.count_known(&queue, state, count);
        }
    }

    /// Keeps each table view's selection on a row it still shows.
    pub(super) fn drill_keep_selection(&mut self) {
        let keys: Vec<Vec<String>> = self
            .drill
            .stack
            .iter()
            .map(|view| match view {
                View::Workers(v) => self.worker_ids_narrowed(&v.narrow),
                View::Schedules(v) => self.schedule_keys_narrowed(&v.narrow),
                _ => Vec::new(),
            })
            .collect();
        for (view, keys) in self.drill.stack.iter_mut().zip(keys) {
            match view {
                View::Workers(v) => v.selected.settle(&keys, Fallback::First),
                View::Schedules(v) => v.selected.settle(&keys, Fallback::First),
                View::Kinds(v) => v.selected.settle(&v.keys(), Fallback::First),
                View::DeadLetters(v) => v.selected.settle(&v.keys(), Fallback::First),
                View::Tenants(v) => v.selected.settle(&v.keys(), Fallback::SameRow),
                _ => {}
            }
        }
    }
}

/// `<` `>` walk a table's columns; `I` turns its order round (`0`).
fn sort_step(command: KeyCommand) -> Option<isize> {
    match command {
        KeyCommand::SortNext => Some(1),
        KeyCommand::SortPrev => Some(-1),
        KeyCommand::SortInvert => Some(0),
        _ => None,
    }
}

/// Sorts a table view by the next or previous column (`by`), or inverts it (`0`).
fn sort_view(view: &mut View, by: isize) {
    use crate::app::sort::Narrow;
    use crate::backend::WorkerInfo;
    use crate::backend::drill::{ErrorGroup, KindStats, TenantStats};
    use crate::backend::schedules::Schedule;
    type Step = fn(TableSort, isize) -> TableSort;
    let (narrow, step): (&mut Narrow, Step) = match view {
        View::Kinds(v) => (&mut v.narrow, TableSort::step::<KindStats>),
        View::DeadLetters(v) => (&mut v.narrow, TableSort::step::<ErrorGroup>),
        View::Workers(v) => (&mut v.narrow, TableSort::step::<WorkerInfo>),
        View::Tenants(v) => (&mut v.narrow, TableSort::step::<TenantStats>),
        View::Schedules(v) => (&mut v.narrow, TableSort::step::<Schedule>),
        _ => return,
    };
    if by == 0 {
        narrow.sort.descending = !narrow.sort.descending;
    } else {
        narrow.sort = step(narrow.sort, by);
    }
}

/// A scope too big to filter by unindexed terms without saying so first.
/// Whether a filter no index answers would read a large part of the table: the planner's
/// estimate of the list's jobs where the count stopped at its cap, else the count itself
/// (under the cap a list is small); a list not read yet counts as large.
fn is_big(view: &JobsView) -> bool {
    if !matches!(view.scope, JobScope::Queue { .. }) {
        return false;
    }
    view.page.as_ref().is_none_or(|p| match p.scope_estimate {
        Some(rows) => rows >= LARGE_SCAN_ROWS,
        None => p.scope_count.capped || p.scope_count.value >= SCOPE_COUNT_CAP,
    })
}

fn reset_pages(v: &mut JobsView) {
    v.pages = vec![None];
    v.page = None;
    v.land = Land::First;
    v.selected = ListSelection::default();
}

/// Moves to the page after the last row shown; `true` when there is one to load.
fn next_page(v: &mut JobsView) -> bool {
    let Some(page) = &v.page else { return false };
    let (Some(last), true) = (page.rows.last(), page.has_more) else {
        return false;
    };
    v.pages.push(Some(last.cursor(v.scope.sort_key())));
    v.land = Land::First;
    true
}

fn prev_page(v: &mut JobsView) -> bool {
    if v.pages.len() <= 1 {
        return false;
    }
    v.pages.pop();
    v.land = Land::Last;
    true
}

fn switch_tab(v: &mut JobsView, by: isize) -> bool {
    let JobScope::Queue { state, .. } = &mut v.scope else {
        return false;
    };
    *state = cycle(&JobState::ALL, *state, by);
    v.marked.clear();
    reset_pages(v);
    true
}

/// Tab and ←→ in a report view switch its time window; `true` when they did (the report
/// is read again).
fn report_key<W: Copy + PartialEq>(command: KeyCommand, window: &mut W, all: &[W]) -> bool {
    let by = match command {
        KeyCommand::NextPane | KeyCommand::Right => 1,
        KeyCommand::Left => -1,
        _ => return false,
    };
    *window = cycle(all, *window, by);
    true
}

/// Moves a selection by `by` rows, when the key was a move; never asks for a reload.
fn step_selection<K: PartialEq + Clone>(
    selection: &mut ListSelection<K>,
    keys: &[K],
    by: Option<isize>,
) -> bool {
    if let Some(by) = by {
        selection.step(keys, by);
    }
    false
}

fn cycle<T: Copy + PartialEq>(all: &[T], current: T, by: isize) -> T {
    let at = all.iter().position(|x| *x == current).unwrap_or(0) as isize;
    all[(at + by).rem_euclid(all.len() as isize) as usize]
}

fn clamp_add(v: usize, by: isize, max: usize) -> usize {
    (v as isize).saturating_add(by).clamp(0, max as isize) as usize
}

/// At most `max` characters, with an ellipsis when cut.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn time(t: Option<DateTime<chrono::Utc>>) -> String {
    t.map_or("time unknown".into(), |t| {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    })
}

/// The error history as lines: a header per attempt (newest first), then its message.
/// `history`: the schema keeps one entry per failed attempt (else only the last error).
/// The job detail's payload and error lines, from its detail, secrets masked by `mask`
/// (`None`: revealed).
pub(super) fn detail_lines(v: &mut JobView, mask: Option<&Redactor>, config: &AppConfig) {
    let Some(Some(detail)) = &v.detail else {
        return;
    };
    let masked = |s: &str| match mask {
        Some(r) => r.text(s).into_owned(),
        None => s.to_string(),
    };
    let mut d = (**detail).clone();
    d.payload = d.payload.as_deref().map(masked);
    d.job.last_error = d.job.last_error.as_deref().map(masked);
    for e in &mut d.errors {
        e.error = masked(&e.error);
    }
    v.payload_lines = match &d.payload {
        Some(payload) if d.payload_form == PayloadForm::Json => json::pretty_lines(payload),
        // Decoded text and hex dumps keep their own lines and spacing.
        Some(payload) => payload
            .lines()
            .map(|l| vec![(Tone::Plain, l.to_string())])
            .collect(),
        None => vec![vec![(
            Tone::Dim,
            format!("the {} backend keeps no payload", config.backend),
        )]],
    };
    if d.payload_truncated {
        v.payload_lines.push(vec![(
            Tone::Warn,
            format!(
                "… cut here: the payload is {}, the first {} characters are shown",
                human_bytes(d.payload_bytes),
                DetailLimits::default().payload_chars
            ),
        )]);
    }
    v.error_lines = error_lines(&d, config.capabilities.error_history.yes());
}

fn error_lines(d: &JobDetail, history: bool) -> Vec<DocLine> {
    let mut lines: Vec<DocLine> = Vec::new();
    let message = |lines: &mut Vec<DocLine>, text: &str| {
        for l in text.split('\n') {
            let l = l.trim_end_matches('\r').replace('\t', "    ");
            lines.push(vec![(Tone::Dim, "  ".into()), (Tone::Error, l)]);
        }
    };
    for e in &d.errors {
        let mut head = vec![
            (
                Tone::Label,
                match e.attempt {
                    Some(n) => format!("attempt {n}"),
                    None => "attempt ?".into(),
                },
            ),
            (Tone::Dim, " · ".into()),
            (Tone::Plain, time(e.at)),
            (Tone::Dim, " · ".into()),
            (Tone::Plain, e.worker.clone().unwrap_or_else(|| "–".into())),
        ];
        if e.error_bytes > e.error.len() as i64 {
            head.push((
                Tone::Warn,
                format!(" · {} long, the start is shown", human_bytes(e.error_bytes)),
            ));
        }
        lines.push(head);
        message(&mut lines, &e.error);
        lines.push(Vec::new());
    }
    let missing = d.error_count - d.errors.len() as i64;
    if missing > 0 {
        lines.push(vec![(
            Tone::Dim,
            format!("… {missing} older attempts not loaded"),
        )]);
    }
    if d.errors.is_empty() {
        match &d.job.last_error {
            Some(last) => {
                lines.push(vec![(
                    Tone::Label,
                    "last error (no history recorded)".into(),
                )]);
                message(&mut lines, last);
            }
            None if history => lines.push(vec![(Tone::Dim, "no errors recorded".into())]),
            None => lines.push(vec![(
                Tone::Dim,
                "no error recorded (this queue schema keeps no error history, only a last error where it has one)"
                    .into(),
            )]),
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}
