//! Actions on queues and jobs, as every backend sees them: what the operator asks for
//! (`Action`), what the backend found when it looked (`Plan`, shown in the confirmation),
//! and what really happened (`ActionOutcome`, shown afterwards and written to the audit).
//!
//! Backends carry actions out batch by batch (`Backend::apply_batch`); the only caller is
//! the gate (`crate::backend::gate`), which refuses everything in read-only mode.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::backend::model::{JobId, JobState};

/// Rows one statement may change: short transactions, short locks.
pub const BATCH_SIZE: usize = 1_000;
/// Jobs one action may take; the operator runs it again for the rest.
pub const MAX_JOBS_PER_ACTION: usize = 100_000;

/// How many jobs a matching action takes: its `--limit`, never more than one action may.
pub fn take(limit: Option<u64>) -> usize {
    limit
        .map(|l| (l as usize).min(MAX_JOBS_PER_ACTION))
        .unwrap_or(MAX_JOBS_PER_ACTION)
}
/// Up to this many jobs the audit row lists their ids; beyond, the filter and the count.
pub const AUDIT_IDS_UP_TO: usize = 1_000;
/// Above this many jobs the confirmation asks to type the queue name.
pub const TYPED_CONFIRMATION_ABOVE: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Pause,
    Resume,
    Retry,
    Cancel,
    Discard,
    Delete,
    ResetStuck,
    Purge,
    /// A schedule (pg_cron's job) runs again on its expression.
    ScheduleActivate,
    /// A schedule stops running until activated.
    ScheduleDeactivate,
    /// A schedule's work is enqueued now, once, as its source would on its next tick.
    ScheduleRunNow,
}

impl ActionKind {
    pub const ALL: [ActionKind; 11] = [
        ActionKind::Pause,
        ActionKind::Resume,
        ActionKind::Retry,
        ActionKind::Cancel,
        ActionKind::Discard,
        ActionKind::Delete,
        ActionKind::ResetStuck,
        ActionKind::Purge,
        ActionKind::ScheduleActivate,
        ActionKind::ScheduleDeactivate,
        ActionKind::ScheduleRunNow,
    ];

    /// Acts on one schedule, not on a queue or its jobs.
    pub fn on_schedule(self) -> bool {
        matches!(
            self,
            ActionKind::ScheduleActivate
                | ActionKind::ScheduleDeactivate
                | ActionKind::ScheduleRunNow
        )
    }

    /// One step on one thing (a queue, a schedule): no jobs, no batches.
    pub fn single_step(self) -> bool {
        matches!(self, ActionKind::Pause | ActionKind::Resume) || self.on_schedule()
    }

    /// The name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Pause => "pause",
            ActionKind::Resume => "resume",
            ActionKind::Retry => "retry",
            ActionKind::Cancel => "cancel",
            ActionKind::Discard => "discard",
            ActionKind::Delete => "delete",
            ActionKind::ResetStuck => "reset_stuck",
            ActionKind::Purge => "purge",
            ActionKind::ScheduleActivate => "schedule_activate",
            ActionKind::ScheduleDeactivate => "schedule_deactivate",
            ActionKind::ScheduleRunNow => "schedule_run_now",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// How a confirmation names it.
    pub fn verb(self) -> &'static str {
        match self {
            ActionKind::Pause => "Pause",
            ActionKind::Resume => "Resume",
            ActionKind::Retry => "Retry",
            ActionKind::Cancel => "Cancel",
            ActionKind::Discard => "Discard",
            ActionKind::Delete => "Delete",
            ActionKind::ResetStuck => "Reset",
            ActionKind::Purge => "Purge",
            ActionKind::ScheduleActivate => "Activate",
            ActionKind::ScheduleDeactivate => "Deactivate",
            ActionKind::ScheduleRunNow => "Run now",
        }
    }

    /// How a result names it.
    pub fn past(self) -> &'static str {
        match self {
            ActionKind::Pause => "paused",
            ActionKind::Resume => "resumed",
            ActionKind::Retry => "retried",
            ActionKind::Cancel => "cancelled",
            ActionKind::Discard => "discarded",
            ActionKind::Delete => "deleted",
            ActionKind::ResetStuck => "reset",
            ActionKind::Purge => "purged",
            ActionKind::ScheduleActivate => "activated",
            ActionKind::ScheduleDeactivate => "deactivated",
            ActionKind::ScheduleRunNow => "enqueued a run of",
        }
    }

    /// The display states a job must be in for this action to change it.
    pub fn from_states(self) -> &'static [JobState] {
        match self {
            ActionKind::Retry => &[
                JobState::Dead,
                JobState::Retrying,
                JobState::Scheduled,
                JobState::Cancelled,
            ],
            ActionKind::Cancel | ActionKind::Discard => {
                &[JobState::Ready, JobState::Scheduled, JobState::Retrying]
            }
            ActionKind::Delete => &[JobState::Dead, JobState::Cancelled],
            ActionKind::ResetStuck => &[JobState::Running],
            ActionKind::Purge => &[JobState::Succeeded, JobState::Cancelled, JobState::Dead],
            ActionKind::Pause
            | ActionKind::Resume
            | ActionKind::ScheduleActivate
            | ActionKind::ScheduleDeactivate
            | ActionKind::ScheduleRunNow => &[],
        }
    }

    /// Why a job in `state` is left alone, when the reason is worth more than "wrong state".
    pub fn refusal(self, state: JobState) -> Option<&'static str> {
        match (self, state) {
            (ActionKind::Cancel | ActionKind::Discard, JobState::Running) => Some(
                "a running job cannot be stopped by a state change: its worker would finish it \
                 anyway; wait for it, or reset it if its worker is dead",
            ),
            (ActionKind::Delete, _) => Some("only dead or cancelled jobs can be deleted"),
            _ => None,
        }
    }
}

/// "All that match": the jobs of the current queue, state, kind and filter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JobFilter {
    pub queue: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<String>,
    pub tenant: Option<String>,
    /// The worker holding the job (`locked_by`).
    pub worker: Option<String>,
    /// Text in the last error.
    pub text: Option<String>,
}

impl JobFilter {
    /// The states a matching `kind` looks at: those it applies to (`applies`: its
    /// `from_states`, or fewer where the schema's own tool takes fewer), or the filter's own
    /// state (looked at even where the action does not apply, so the confirmation can say
    /// why nothing will happen); cancel and discard look at running jobs too, to say why
    /// they are left alone.
    pub fn states_for(&self, kind: ActionKind, applies: &[JobState]) -> Vec<JobState> {
        match self.state {
            Some(s) => vec![s],
            None => {
                let mut states = applies.to_vec();
                if matches!(kind, ActionKind::Cancel | ActionKind::Discard) {
                    states.push(JobState::Running);
                }
                states
            }
        }
    }

    pub fn queue(queue: &str, state: JobState) -> JobFilter {
        JobFilter {
            queue: Some(queue.to_string()),
            state: Some(state),
            ..JobFilter::default()
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), Value::String(v.clone()));
            }
        };
        put("queue", &self.queue);
        put("state", &self.state.map(|s| s.as_str().to_string()));
        put("kind", &self.kind);
        put("tenant", &self.tenant);
        put("worker", &self.worker);
        put("text", &self.text);
        Value::Object(m)
    }
}

/// The jobs a job action applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum JobTarget {
    /// Exactly these jobs (the selected or marked ones).
    Ids(Vec<JobId>),
    /// Every job that matches, oldest first, at most `limit` (and `MAX_JOBS_PER_ACTION`).
    Matching {
        filter: JobFilter,
        limit: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Action {
    Pause {
        queue: String,
        reason: Option<String>,
    },
    Resume {
        queue: String,
    },
    /// Back to ready now; error history kept; an exhausted job gets one more attempt.
    Retry(JobTarget),
    /// Ready, scheduled or retrying → cancelled.
    Cancel(JobTarget),
    /// Ready, scheduled or retrying → dead (poison jobs).
    Discard(JobTarget),
    /// Dead or cancelled → gone.
    Delete(JobTarget),
    /// Running jobs whose worker stopped heartbeating → ready, lock cleared.
    ResetStuck {
        queue: Option<String>,
        worker: Option<String>,
        stale_after: Duration,
    },
    /// Finished jobs in `states` older than `older_than` → gone, in batches.
    Purge {
        states: Vec<JobState>,
        older_than: Duration,
        queue: Option<String>,
    },
    /// Activate, deactivate or run now one schedule of the database's schedules.
    Schedule {
        op: ScheduleOp,
        target: ScheduleTarget,
    },
}

/// What is done to a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleOp {
    Activate,
    Deactivate,
    RunNow,
}

/// A schedule as its source keys it (`backend::schedules::Schedule`'s source, id and name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleTarget {
    pub source: String,
    pub id: String,
    pub name: String,
}

impl ScheduleTarget {
    /// `pg_cron/nightly`, as the view and the alerts name it.
    pub fn key(&self) -> String {
        format!("{}/{}", self.source, self.name)
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Pause { .. } => ActionKind::Pause,
            Action::Resume { .. } => ActionKind::Resume,
            Action::Retry(_) => ActionKind::Retry,
            Action::Cancel(_) => ActionKind::Cancel,
            Action::Discard(_) => ActionKind::Discard,
            Action::Delete(_) => ActionKind::Delete,
            Action::ResetStuck { .. } => ActionKind::ResetStuck,
            Action::Purge { .. } => ActionKind::Purge,
            Action::Schedule { op, .. } => match op {
                ScheduleOp::Activate => ActionKind::ScheduleActivate,
                ScheduleOp::Deactivate => ActionKind::ScheduleDeactivate,
                ScheduleOp::RunNow => ActionKind::ScheduleRunNow,
            },
        }
    }

    pub fn job_target(&self) -> Option<&JobTarget> {
        match self {
            Action::Retry(t) | Action::Cancel(t) | Action::Discard(t) | Action::Delete(t) => {
                Some(t)
            }
            _ => None,
        }
    }

    /// The queue the action is about, if it names one.
    pub fn queue(&self) -> Option<&str> {
        match self {
            Action::Pause { queue, .. } | Action::Resume { queue } => Some(queue),
            Action::ResetStuck { queue, .. } | Action::Purge { queue, .. } => queue.as_deref(),
            _ => match self.job_target() {
                Some(JobTarget::Matching { filter, .. }) => filter.queue.as_deref(),
                _ => None,
            },
        }
    }

    /// What the audit row keeps about the request.
    pub fn params(&self) -> Value {
        match self {
            Action::Pause { reason, .. } => json!({ "reason": reason }),
            Action::Resume { .. } => json!({}),
            Action::Retry(t) | Action::Cancel(t) | Action::Discard(t) | Action::Delete(t) => {
                match t {
                    JobTarget::Ids(ids) => json!({ "target": "ids", "ids_given": ids.len() }),
                    JobTarget::Matching { filter, limit } => {
                        json!({ "target": "filter", "filter": filter.to_json(), "limit": limit })
                    }
                }
            }
            Action::ResetStuck {
                queue,
                worker,
                stale_after,
            } => json!({
                "queue": queue,
                "worker": worker,
                "stale_after_secs": stale_after.as_secs_f64(),
            }),
            Action::Purge {
                states,
                older_than,
                queue,
            } => json!({
                "states": states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "older_than_secs": older_than.as_secs_f64(),
                "queue": queue,
            }),
            Action::Schedule { target, .. } => json!({
                "source": target.source,
                "schedule_id": target.id,
                "schedule": target.name,
            }),
        }
    }
}

/// One step of a phased retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub number: u32,
    pub of: u32,
    /// "sample", "10%", "rest".
    pub label: String,
}

/// What an action would do, as the backend found it just now; the confirmation shows it
/// and the batches act on exactly `ids` (never on jobs that arrive after the look).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub action: Action,
    /// The jobs the batches will try, oldest first (job actions and reset-stuck).
    pub ids: Vec<JobId>,
    /// Display states the batches may change: the action's own, narrowed to those the jobs
    /// were seen in. A job found in any other state when its batch runs is skipped.
    pub states: Vec<JobState>,
    /// How many the action will try: `ids.len()`, the rows a purge would delete, or 1 (or
    /// 0) for a pause.
    pub eligible: u64,
    /// The eligible jobs per display state, as seen.
    pub eligible_by_state: Vec<(JobState, u64)>,
    /// Jobs the target names that this action cannot change, per state.
    pub blocked: Vec<(JobState, u64)>,
    /// Named job ids that do not exist (any more).
    pub missing: u64,
    /// More jobs matched than one action may take (`MAX_JOBS_PER_ACTION` or the limit).
    pub truncated: bool,
    /// Distinct queues and kinds of the eligible jobs (sorted, at most a few).
    pub queues: Vec<String>,
    pub queue_count: u64,
    pub kinds: Vec<String>,
    pub kind_count: u64,
    /// Purge: jobs finished before this (fixed when planned, so a purge ends).
    pub cutoff: Option<DateTime<Utc>>,
    /// Something the confirmation should say ("already paused by … since …").
    pub note: Option<String>,
    /// What the action does to the jobs on this schema, where that differs from what the
    /// confirmation says of it elsewhere (Solid Queue's retry drops the error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// The source the plan acts on, named in the question when the screen shows several
    /// databases ("in `web` › `mailers`"); set by the screen, not the backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub phase: Option<Phase>,
}

/// How many distinct names a plan lists before it just counts them.
pub const PLAN_NAMES: usize = 5;

impl Plan {
    /// The whole pile the plan counted, where the action takes every job of one queue in one
    /// state and nothing cut the count short: (queue, state, jobs in it).
    pub fn counted_pile(&self) -> Option<(&str, JobState, u64)> {
        let Some(JobTarget::Matching {
            filter:
                JobFilter {
                    queue: Some(queue),
                    state: Some(state),
                    kind: None,
                    tenant: None,
                    worker: None,
                    text: None,
                },
            limit: None,
        }) = self.action.job_target()
        else {
            return None;
        };
        if self.truncated {
            return None;
        }
        let in_state = |list: &[(JobState, u64)]| {
            list.iter()
                .filter(|(s, _)| *s == *state)
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        Some((
            queue.as_str(),
            *state,
            in_state(&self.eligible_by_state) + in_state(&self.blocked),
        ))
    }

    /// A plan with nothing found yet; backends fill it in.
    pub fn empty(action: Action) -> Plan {
        Plan {
            action,
            ids: Vec::new(),
            states: Vec::new(),
            eligible: 0,
            eligible_by_state: Vec::new(),
            blocked: Vec::new(),
            missing: 0,
            truncated: false,
            queues: Vec::new(),
            queue_count: 0,
            kinds: Vec::new(),
            kind_count: 0,
            cutoff: None,
            note: None,
            effect: None,
            source: None,
            phase: None,
        }
    }

    /// Fills in the job part of a plan from the rows a backend found for the target:
    /// (id, queue, kind, display state), oldest first. `limit` is the most to take.
    pub fn from_rows(
        action: Action,
        rows: Vec<(JobId, String, String, JobState)>,
        limit: usize,
    ) -> Plan {
        let states = action.kind().from_states();
        Plan::from_rows_in(action, rows, limit, states)
    }

    /// `from_rows` for a schema whose own tools take only `from_states` for this action
    /// (fewer than `ActionKind::from_states`): jobs in any other state are left alone.
    pub fn from_rows_in(
        action: Action,
        rows: Vec<(JobId, String, String, JobState)>,
        limit: usize,
        from_states: &[JobState],
    ) -> Plan {
        let narrowed: Option<JobState> = match action.job_target() {
            Some(JobTarget::Matching { filter, .. }) => filter.state,
            _ => None,
        };
        let mut plan = Plan::empty(action);
        let mut by_state: std::collections::BTreeMap<JobState, u64> = Default::default();
        let mut blocked: std::collections::BTreeMap<JobState, u64> = Default::default();
        let mut queues = std::collections::BTreeSet::new();
        let mut kinds = std::collections::BTreeSet::new();
        for (id, queue, job_kind, state) in rows {
            let allowed = from_states.contains(&state) && narrowed.is_none_or(|n| n == state);
            if !allowed {
                *blocked.entry(state).or_default() += 1;
                continue;
            }
            if plan.ids.len() >= limit {
                plan.truncated = true;
                continue;
            }
            plan.ids.push(id);
            *by_state.entry(state).or_default() += 1;
            queues.insert(queue);
            kinds.insert(job_kind);
        }
        plan.eligible = plan.ids.len() as u64;
        plan.states = by_state.keys().copied().collect();
        plan.eligible_by_state = by_state.into_iter().collect();
        plan.blocked = blocked.into_iter().collect();
        plan.queue_count = queues.len() as u64;
        plan.queues = queues.into_iter().take(PLAN_NAMES).collect();
        plan.kind_count = kinds.len() as u64;
        plan.kinds = kinds.into_iter().take(PLAN_NAMES).collect();
        plan
    }

    pub fn kind(&self) -> ActionKind {
        self.action.kind()
    }

    /// "queue `mailers`", or "`web` › `mailers`" when the plan names its source.
    fn queue_place(&self, queue: &str) -> String {
        match &self.source {
            Some(source) => format!("`{source}` › `{queue}`"),
            None => format!("queue `{queue}`"),
        }
    }

    /// The queue the audit row is filed under: the one the action names, else the one
    /// queue all its jobs are in.
    pub fn audit_queue(&self) -> Option<&str> {
        self.action.queue().or(match self.queues.as_slice() {
            [one] if self.queue_count == 1 => Some(one.as_str()),
            _ => None,
        })
    }

    /// The same plan restricted to some of its jobs: one phase of a phased retry.
    pub fn phase(&self, ids: Vec<JobId>, phase: Phase) -> Plan {
        let mut plan = self.clone();
        plan.eligible = ids.len() as u64;
        plan.ids = ids;
        plan.phase = Some(phase);
        plan.eligible_by_state = Vec::new();
        plan.blocked = Vec::new();
        plan.missing = 0;
        plan
    }

    /// Batches a run of this plan takes, when known in advance.
    pub fn total_batches(&self) -> Option<u32> {
        match self.kind() {
            k if k.single_step() => Some(1),
            ActionKind::Purge => Some(self.eligible.div_ceil(BATCH_SIZE as u64).max(1) as u32),
            _ => Some(self.ids.len().div_ceil(BATCH_SIZE) as u32),
        }
    }

    /// Whether the audit row lists the job ids (else: the filter and a count).
    pub fn audit_lists_ids(&self) -> bool {
        self.kind() != ActionKind::Purge && self.ids.len() <= AUDIT_IDS_UP_TO
    }

    /// The request and what was seen, for the audit row.
    pub fn audit_params(&self) -> Value {
        let mut params = self.action.params();
        if let Value::Object(m) = &mut params {
            m.insert("requested".into(), json!(self.eligible));
            if !self.states.is_empty() {
                m.insert(
                    "states_seen".into(),
                    json!(self.states.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                );
            }
            if self.truncated {
                m.insert("truncated".into(), json!(true));
            }
            if let Some(cutoff) = self.cutoff {
                m.insert("cutoff".into(), json!(cutoff.to_rfc3339()));
            }
            if let Some(p) = &self.phase {
                m.insert(
                    "phase".into(),
                    json!({ "number": p.number, "of": p.of, "label": p.label }),
                );
            }
        }
        params
    }

    /// The question a confirmation asks: "Retry 37 dead jobs of kind `email.send` in queue
    /// `mailers`?" Names come raw from the database: the screen sanitizes the whole line.
    pub fn question(&self) -> String {
        let kind = self.kind();
        match &self.action {
            Action::Pause { queue, reason } => match reason {
                Some(r) if !r.is_empty() => {
                    format!("Pause {} (reason: {r})?", self.queue_place(queue))
                }
                _ => format!("Pause {}?", self.queue_place(queue)),
            },
            Action::Resume { queue } => format!("Resume {}?", self.queue_place(queue)),
            Action::Schedule { target, .. } => {
                let place = match &self.source {
                    Some(source) => format!(" in `{source}`"),
                    None => String::new(),
                };
                format!("{} schedule `{}`{place}?", kind.verb(), target.key())
            }
            Action::Purge { states, queue, .. } => {
                let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
                let before = self
                    .cutoff
                    .map(|c| format!(" finished before {}", c.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default();
                let place = match (queue, &self.source) {
                    (Some(q), _) => format!(" in {}", self.queue_place(q)),
                    (None, Some(source)) => format!(" in `{source}`"),
                    (None, None) => String::new(),
                };
                format!(
                    "Delete {} {} {}{before}{place} for good?",
                    thousands(self.eligible),
                    states.join("/"),
                    jobs(self.eligible),
                )
            }
            _ => {
                let states = if self.eligible_by_state.len() == 1 {
                    format!("{} ", self.eligible_by_state[0].0.as_str())
                } else {
                    String::new()
                };
                let of_kind = match self.kinds.as_slice() {
                    // Where the queue is the kind (pg-boss, graphile-worker's tasks, profiles
                    // keyed by type), naming it twice says nothing more.
                    [one] if self.kind_count == 1 && self.queues.as_slice() == [one.clone()] => {
                        String::new()
                    }
                    [one] if self.kind_count == 1 => format!(" of kind `{one}`"),
                    _ if self.kind_count > 1 => format!(" of {} kinds", self.kind_count),
                    _ => String::new(),
                };
                let in_source = match &self.source {
                    Some(source) => format!(" of `{source}`"),
                    None => String::new(),
                };
                let in_queue = match self.queues.as_slice() {
                    [one] if self.queue_count == 1 => format!(" in {}", self.queue_place(one)),
                    _ if self.queue_count > 1 => {
                        format!(" in {} queues{in_source}", self.queue_count)
                    }
                    _ => in_source,
                };
                let worker = match &self.action {
                    Action::ResetStuck {
                        worker: Some(w), ..
                    } => format!(" held by `{w}`"),
                    _ => String::new(),
                };
                let stuck = if kind == ActionKind::ResetStuck {
                    "stuck "
                } else {
                    states.as_str()
                };
                let tail = if kind == ActionKind::Delete {
                    " for good"
                } else {
                    ""
                };
                let phase = match &self.phase {
                    Some(p) => format!(" (phase {} of {}: {})", p.number, p.of, p.label),
                    None => String::new(),
                };
                format!(
                    "{} {}{of_kind}{in_queue}{worker}{tail}{phase}?",
                    kind.verb(),
                    self.how_many(stuck),
                )
            }
        }
    }

    /// "1,489 dead jobs", or "dead job 4711" when it is one job named by its id: a single
    /// job is named, so the operator sees which one.
    fn how_many(&self, state: &str) -> String {
        match self.ids.as_slice() {
            [id] if self.eligible == 1 => format!("{state}job {id}"),
            _ => format!(
                "{} {state}{}",
                thousands(self.eligible),
                jobs(self.eligible)
            ),
        }
    }

    /// What the button that does it says: "Cancel 1,489 jobs", "Delete job 4711",
    /// "Pause `mailers`". Never the bare verb, which reads like the way out.
    pub fn button(&self) -> String {
        let kind = self.kind();
        match &self.action {
            Action::Pause { queue, .. } | Action::Resume { queue } => {
                format!("{} `{queue}`", kind.verb())
            }
            _ => match self.ids.as_slice() {
                [id] if self.eligible == 1 => format!("{} job {id}", kind.verb()),
                _ => format!(
                    "{} {} {}",
                    kind.verb(),
                    thousands(self.eligible),
                    jobs(self.eligible)
                ),
            },
        }
    }

    /// Lines a confirmation adds below the question: what will happen and what will not.
    pub fn details(&self) -> Vec<String> {
        let kind = self.kind();
        let mut out = Vec::new();
        match kind {
            _ if self.effect.is_some() => out.extend(self.effect.clone()),
            ActionKind::Retry => out.push(
                "They become ready now; their error history is kept; an exhausted job gets \
                 one more attempt."
                    .to_string(),
            ),
            ActionKind::Cancel => out.push("They become cancelled and will not run.".into()),
            ActionKind::Discard => {
                out.push("They move to the dead-letter queue and will not run.".into())
            }
            ActionKind::Delete => {
                out.push("They are removed for good; this cannot be undone.".into())
            }
            ActionKind::ResetStuck => out.push(
                "Their worker stopped heartbeating; they become ready now and their lock is \
                 cleared. If that worker is in fact alive, the job may run twice."
                    .into(),
            ),
            ActionKind::Pause => out.push(
                "Workers stop claiming from it; jobs already running finish; the backlog stays."
                    .into(),
            ),
            ActionKind::Resume => out.push("Workers claim from it again.".into()),
            ActionKind::ScheduleActivate => {
                out.push("It runs again on its expression from its next due time.".into())
            }
            ActionKind::ScheduleDeactivate => out.push(
                "It stays defined but does not run until activated; runs under way finish.".into(),
            ),
            ActionKind::ScheduleRunNow => {
                out.push("One run is enqueued now; its expression is unchanged.".into())
            }
            ActionKind::Purge => out.push(format!(
                "Deleted in batches of {}; stopping keeps what was deleted.",
                thousands(BATCH_SIZE as u64)
            )),
        }
        if self.truncated {
            out.push(format!(
                "More jobs match: this takes the oldest {}; run it again for the rest.",
                thousands(self.eligible)
            ));
        }
        for (state, n) in &self.blocked {
            let why = kind
                .refusal(*state)
                .unwrap_or("not in a state this action changes");
            out.push(format!(
                "{} {} {} left alone: {why}.",
                thousands(*n),
                state.as_str(),
                jobs(*n)
            ));
        }
        if self.missing > 0 {
            out.push(format!("{} no longer exist.", thousands(self.missing)));
        }
        if let Some(note) = &self.note {
            out.push(note.clone());
        }
        if self.eligible > BATCH_SIZE as u64 && kind != ActionKind::Purge {
            out.push(format!(
                "Runs in {} batches of up to {}; Esc stops between batches.",
                self.total_batches().unwrap_or(0),
                thousands(BATCH_SIZE as u64)
            ));
        }
        out
    }

    /// What the operator must type to confirm, when a button is not enough: the queue name
    /// (or the action's name when several queues are involved). Delete always asks.
    pub fn typed_confirmation(&self) -> Option<String> {
        let kind = self.kind();
        let always = matches!(kind, ActionKind::Delete | ActionKind::Purge);
        if !always && self.eligible <= TYPED_CONFIRMATION_ABOVE {
            return None;
        }
        if kind.single_step() {
            return None;
        }
        let queue = match &self.action {
            Action::Purge { queue, .. } => queue.clone(),
            _ if self.queue_count == 1 => self.queues.first().cloned(),
            _ => None,
        };
        Some(queue.unwrap_or_else(|| kind.name().to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything asked was done.
    Ok,
    /// Part was done (some jobs had moved on, the operator stopped, or a later batch failed).
    Partial,
    /// Nothing was done because of an error.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        }
    }
}

/// Totals of the batches committed so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Jobs the committed batches tried.
    pub attempted: u64,
    /// Of which they changed.
    pub changed: u64,
    pub batches: u32,
}

/// What an action really did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionOutcome {
    pub kind: ActionKind,
    /// What the confirmation named (the plan's eligible count).
    pub requested: u64,
    pub changed: u64,
    /// Tried but not changed: they had moved on (another state) or were gone.
    pub skipped: u64,
    /// Never tried: the operator stopped, or a batch failed, before their batch.
    pub untouched: u64,
    /// Named by the target but not for this action: in another state (running jobs for a
    /// cancel), or not found. Counted when the plan was made.
    pub left_alone: u64,
    pub batches: u32,
    pub total_batches: Option<u32>,
    pub stopped: bool,
    /// Set when the run is over; an unfinished outcome describes a run in progress.
    pub finished: bool,
    pub error: Option<String>,
    /// The changed job ids, while few enough to watch (phased retry) and to audit.
    pub changed_ids: Vec<JobId>,
    pub audit_id: Option<i64>,
    pub note: Option<String>,
    pub queue: Option<String>,
    /// The schedule acted on (`pg_cron/nightly`), for a schedule action.
    pub schedule: Option<String>,
    /// The phase of a phased retry this run was.
    pub phase: Option<Phase>,
}

impl ActionOutcome {
    /// The state of a run of `plan` after the batches in `progress`.
    pub fn of(plan: &Plan, progress: &Progress, finished: bool) -> ActionOutcome {
        let untouched = if plan.kind() == ActionKind::Purge {
            0
        } else {
            plan.eligible.saturating_sub(progress.attempted)
        };
        ActionOutcome {
            kind: plan.kind(),
            requested: plan.eligible,
            changed: progress.changed,
            skipped: progress.attempted.saturating_sub(progress.changed),
            untouched,
            left_alone: plan.blocked.iter().map(|(_, n)| n).sum::<u64>() + plan.missing,
            batches: progress.batches,
            total_batches: plan.total_batches(),
            stopped: false,
            finished,
            error: None,
            changed_ids: Vec::new(),
            audit_id: None,
            note: plan.note.clone(),
            queue: plan.audit_queue().map(str::to_string),
            schedule: match &plan.action {
                Action::Schedule { target, .. } => Some(target.key()),
                _ => None,
            },
            phase: plan.phase.clone(),
        }
    }

    pub fn outcome(&self) -> Outcome {
        if self.error.is_some() && self.changed == 0 {
            return Outcome::Failed;
        }
        let all = if self.kind == ActionKind::Purge {
            true
        } else {
            self.changed >= self.requested
        };
        if self.finished && all && !self.stopped && self.error.is_none() && self.left_alone == 0 {
            Outcome::Ok
        } else {
            Outcome::Partial
        }
    }

    /// 0: everything asked was done (or there was nothing to do); 1: part; 2: nothing.
    pub fn exit_code(&self) -> u8 {
        match self.outcome() {
            Outcome::Ok => 0,
            Outcome::Partial if self.changed > 0 => 1,
            _ => 2,
        }
    }

    /// "retried 35 of 37 jobs; 2 had already moved on".
    pub fn summary(&self) -> String {
        let past = self.kind.past();
        let mut s = match self.kind {
            ActionKind::Pause | ActionKind::Resume => {
                let queue = self.queue.as_deref().unwrap_or("?");
                if self.changed > 0 {
                    format!("{past} queue `{queue}`")
                } else if let Some(note) = &self.note
                    && self.error.is_none()
                {
                    format!("nothing {past}: {note}")
                } else {
                    format!("queue `{queue}` not {past}")
                }
            }
            k if k.on_schedule() => {
                let schedule = self.schedule.as_deref().unwrap_or("?");
                if self.changed > 0 {
                    format!("{past} schedule `{schedule}`")
                } else if let Some(note) = &self.note
                    && self.error.is_none()
                {
                    format!("nothing {past}: {note}")
                } else if self.error.is_none() {
                    format!("schedule `{schedule}` not {past}: it had changed since the look")
                } else {
                    format!("schedule `{schedule}` not {past}")
                }
            }
            _ if self.requested == 0 && self.changed == 0 && self.error.is_none() => {
                format!("nothing to {}", self.kind.verb().to_lowercase())
            }
            ActionKind::Purge => {
                format!("{past} {} {}", thousands(self.changed), jobs(self.changed))
            }
            _ if self.changed == self.requested && self.untouched == 0 => {
                format!("{past} {} {}", thousands(self.changed), jobs(self.changed))
            }
            _ => format!(
                "{past} {} of {} {}",
                thousands(self.changed),
                thousands(self.requested),
                jobs(self.requested)
            ),
        };
        let job_action = !self.kind.single_step();
        if job_action && self.left_alone > 0 {
            s.push_str(&format!("; {} left alone", thousands(self.left_alone)));
        }
        if job_action && self.skipped > 0 {
            s.push_str(&format!(
                "; {} had already moved on",
                thousands(self.skipped)
            ));
        }
        if self.stopped {
            s.push_str(&format!(
                "; stopped after batch {}{}",
                self.batches,
                self.of_batches()
            ));
        }
        if let Some(err) = &self.error {
            s.push_str(&format!("; failed: {err}"));
        }
        if (self.stopped || self.error.is_some()) && self.untouched > 0 {
            s.push_str(&format!("; {} not touched", thousands(self.untouched)));
        }
        if !self.finished && !self.stopped && self.error.is_none() {
            s.push_str(&format!(
                "; in progress (batch {}{})",
                self.batches,
                self.of_batches()
            ));
        }
        if let Some(p) = &self.phase {
            s.push_str(&format!(" (phase {} of {}: {})", p.number, p.of, p.label));
        }
        s
    }

    fn of_batches(&self) -> String {
        match self.total_batches {
            Some(t) if t > 0 => format!(" of {t}"),
            _ => String::new(),
        }
    }
}

/// What a backend needs to run one batch of a plan.
#[derive(Debug, Clone)]
pub struct BatchStep<'a> {
    pub plan: &'a Plan,
    /// `user@host` of the operator; the backend adds the database role.
    pub actor: &'a str,
    /// The jobs of this batch (empty for pause, resume and purge).
    pub ids: &'a [JobId],
    /// The batches already committed.
    pub before: &'a Progress,
    /// The action's audit row, once its first batch has written it.
    pub audit_id: Option<i64>,
    /// No batch follows this one (a purge also ends when a batch comes up short).
    pub last: bool,
}

/// A committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchDone {
    /// Rows changed (or deleted); 1 for a pause that took.
    pub changed: u64,
    /// The jobs changed (or deleted).
    pub changed_ids: Vec<JobId>,
    /// How many the batch tried (`ids.len()`, the rows a purge deleted, 1 for a pause).
    pub attempted: u64,
    pub audit_id: i64,
    pub last: bool,
}

/// The end of a run that its batches could not record themselves: the operator stopped,
/// or a batch failed (then the batch's own transaction was rolled back first).
#[derive(Debug, Clone)]
pub struct AuditEnd<'a> {
    pub plan: &'a Plan,
    pub actor: &'a str,
    /// `None` when no batch committed: a new row is written.
    pub audit_id: Option<i64>,
    pub outcome: &'a ActionOutcome,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub queue: Option<String>,
    pub job_ids: Option<Vec<JobId>>,
    pub count: Option<i64>,
    pub params: Value,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Which audit rows to read; every field narrows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub queue: Option<String>,
    pub action: Option<String>,
    /// Text in the actor.
    pub actor: Option<String>,
    pub outcome: Option<String>,
    pub limit: i64,
}

/// `5,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn jobs(n: u64) -> &'static str {
    if n == 1 { "job" } else { "jobs" }
}

/// Every refusal of read-only mode says this, in the monitor and in the gate.
pub const READ_ONLY_REFUSAL: &str = "read-only: actions are disabled (started with --read-only)";

/// Every action writes its row to `jobtop.audit`; a schema without that table gets none.
/// The command comes first: a status line at 80 columns cuts the rest.
pub const AUDIT_REQUIRED: &str = "no actions without an audit trail: run `jobtop migrate \
     --side-tables URL` to create or update jobtop.audit next to your queue's tables (this \
     database lacks it or has it in an older form)";

/// The error an action gets from a backend that cannot do it.
pub fn unsupported(backend: &str, kind: ActionKind) -> anyhow::Error {
    anyhow::anyhow!(
        "the {backend} backend cannot {} (not supported by this queue schema)",
        kind.verb().to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: i64, state: JobState) -> Vec<(JobId, String, String, JobState)> {
        (1..=n)
            .map(|i| {
                (
                    JobId::Int(i),
                    "mailers".to_string(),
                    "email.send".to_string(),
                    state,
                )
            })
            .collect()
    }

    #[test]
    fn question_names_target_and_count() {
        let action = Action::Retry(JobTarget::Matching {
            filter: JobFilter::queue("mailers", JobState::Dead),
            limit: None,
        });
        let plan = Plan::from_rows(action, rows(37, JobState::Dead), MAX_JOBS_PER_ACTION);
        assert_eq!(
            plan.question(),
            "Retry 37 dead jobs of kind `email.send` in queue `mailers`?"
        );
        assert_eq!(plan.typed_confirmation(), None);
        let mut in_web = plan.clone();
        in_web.source = Some("web".into());
        assert_eq!(
            in_web.question(),
            "Retry 37 dead jobs of kind `email.send` in `web` › `mailers`?"
        );

        // Where the queue is the kind, it is named once.
        let same: Vec<_> = (1..=2)
            .map(|i| {
                (
                    JobId::Int(i),
                    "emails".into(),
                    "emails".into(),
                    JobState::Dead,
                )
            })
            .collect();
        let action = Action::Retry(JobTarget::Ids(vec![JobId::Int(1), JobId::Int(2)]));
        let plan = Plan::from_rows(action, same, MAX_JOBS_PER_ACTION);
        assert_eq!(plan.question(), "Retry 2 dead jobs in queue `emails`?");
    }

    #[test]
    fn plan_keeps_blocked_and_narrows_states() {
        let mut r = rows(3, JobState::Ready);
        r.push((JobId::Int(9), "q".into(), "k".into(), JobState::Running));
        let plan = Plan::from_rows(
            Action::Cancel(JobTarget::Ids([1, 2, 3, 9].map(JobId::Int).to_vec())),
            r,
            100,
        );
        assert_eq!(plan.ids, vec![1, 2, 3]);
        assert_eq!(plan.states, vec![JobState::Ready]);
        assert_eq!(plan.blocked, vec![(JobState::Running, 1)]);
        assert!(
            plan.details()
                .iter()
                .any(|l| l.contains("1 running job left alone"))
        );
    }

    #[test]
    fn big_plans_are_typed_and_capped() {
        let action = Action::Retry(JobTarget::Matching {
            filter: JobFilter::queue("mailers", JobState::Dead),
            limit: None,
        });
        let plan = Plan::from_rows(action, rows(150, JobState::Dead), 120);
        assert_eq!(plan.eligible, 120);
        assert!(plan.truncated);
        assert_eq!(plan.typed_confirmation().as_deref(), Some("mailers"));
    }

    #[test]
    fn summaries_and_exit_codes() {
        let action = Action::Retry(JobTarget::Ids((1..=37).map(JobId::Int).collect()));
        let plan = Plan::from_rows(action, rows(37, JobState::Dead), 100);
        let o = ActionOutcome::of(
            &plan,
            &Progress {
                attempted: 37,
                changed: 35,
                batches: 1,
            },
            true,
        );
        assert_eq!(o.summary(), "retried 35 of 37 jobs; 2 had already moved on");
        assert_eq!(o.outcome(), Outcome::Partial);
        assert_eq!(o.exit_code(), 1);

        let all = ActionOutcome::of(
            &plan,
            &Progress {
                attempted: 37,
                changed: 37,
                batches: 1,
            },
            true,
        );
        assert_eq!(all.summary(), "retried 37 jobs");
        assert_eq!(all.exit_code(), 0);

        let mut failed = ActionOutcome::of(&plan, &Progress::default(), true);
        failed.error = Some("boom".into());
        assert_eq!(failed.outcome(), Outcome::Failed);
        assert_eq!(failed.exit_code(), 2);
        assert_eq!(
            failed.summary(),
            "retried 0 of 37 jobs; failed: boom; 37 not touched"
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5000), "5,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
