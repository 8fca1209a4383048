//! The alert book: which alert is which (rule and subject), its state, and the book of
//! alerts that evaluation turns into the next book. Types only; `eval` moves them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::baseline::Baseline;
use super::rules::Severity;

/// How long a resolved alert stays listed.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(3600);

/// At most this many resolved alerts are kept (the newest): ten thousand queues whose
/// alerts come and go would otherwise add ten thousand a poll for an hour.
pub const RESOLVED_KEPT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    OldestReady,
    Backlog,
    BacklogBaseline,
    DeadLetter,
    DeadSpike,
    FailureRate,
    KindFailureRate,
    WorkerDown,
    NoWorker,
    SlowJob,
    DbUnreachable,
    TenantHeartbeatBudget,
    HeartbeatBudget,
    ScheduleMissed,
    ScheduleFailed,
    ScheduleFailing,
    ScheduleOverrun,
    NetFailures,
}

impl RuleId {
    pub const ALL: [RuleId; 18] = [
        RuleId::OldestReady,
        RuleId::Backlog,
        RuleId::BacklogBaseline,
        RuleId::DeadLetter,
        RuleId::DeadSpike,
        RuleId::FailureRate,
        RuleId::KindFailureRate,
        RuleId::WorkerDown,
        RuleId::NoWorker,
        RuleId::SlowJob,
        RuleId::DbUnreachable,
        RuleId::TenantHeartbeatBudget,
        RuleId::HeartbeatBudget,
        RuleId::ScheduleMissed,
        RuleId::ScheduleFailed,
        RuleId::ScheduleFailing,
        RuleId::ScheduleOverrun,
        RuleId::NetFailures,
    ];

    /// The id used in the config file, `check` output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::OldestReady => "oldest_ready",
            RuleId::Backlog => "backlog",
            RuleId::BacklogBaseline => "backlog_baseline",
            RuleId::DeadLetter => "dead_letter",
            RuleId::DeadSpike => "dead_spike",
            RuleId::FailureRate => "failure_rate",
            RuleId::KindFailureRate => "kind_failure_rate",
            RuleId::WorkerDown => "worker_down",
            RuleId::NoWorker => "no_worker",
            RuleId::SlowJob => "slow_job",
            RuleId::DbUnreachable => "db_unreachable",
            RuleId::TenantHeartbeatBudget => "tenant_heartbeat_budget",
            RuleId::HeartbeatBudget => "heartbeat_budget",
            RuleId::ScheduleMissed => "schedule_missed",
            RuleId::ScheduleFailed => "schedule_failed",
            RuleId::ScheduleFailing => "schedule_failing",
            RuleId::ScheduleOverrun => "schedule_overrun",
            RuleId::NetFailures => "net_failures",
        }
    }

    /// What a person reads on screen.
    pub fn title(self) -> &'static str {
        match self {
            RuleId::OldestReady => "oldest ready job",
            RuleId::Backlog => "ready backlog",
            RuleId::BacklogBaseline => "backlog above normal",
            RuleId::DeadLetter => "dead jobs",
            RuleId::DeadSpike => "new dead jobs, 1h",
            RuleId::FailureRate => "failure rate, 1h",
            RuleId::KindFailureRate => "kind failure rate, 1h",
            RuleId::WorkerDown => "worker down",
            RuleId::NoWorker => "no live worker",
            RuleId::SlowJob => "job running long",
            RuleId::DbUnreachable => "database unreachable",
            RuleId::TenantHeartbeatBudget => "tenant heartbeats/min",
            RuleId::HeartbeatBudget => "heartbeats/min",
            RuleId::ScheduleMissed => "schedule missed its run",
            RuleId::ScheduleFailed => "schedule's last run failed",
            RuleId::ScheduleFailing => "schedule failing in a row",
            RuleId::ScheduleOverrun => "run longer than its period",
            RuleId::NetFailures => "pg_net non-2xx, 1h",
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    /// The monitored database itself.
    Database,
    /// Everything at once (the overall heartbeat budget).
    All,
    Queue {
        name: String,
    },
    Kind {
        queue: String,
        kind: String,
    },
    Worker {
        id: String,
    },
    /// `None`: the jobs without a tenant.
    Tenant {
        id: Option<String>,
    },
    /// A schedule of a source (`pg_cron`, a queue's cron entries).
    Schedule {
        source: String,
        name: String,
    },
    /// A database-wide source as a whole (`pg_net`).
    Source {
        name: String,
    },
}

impl Subject {
    pub fn queue(name: &str) -> Subject {
        Subject::Queue {
            name: name.to_string(),
        }
    }

    /// Not about one thing: the label adds nothing to the rule's title.
    pub fn is_global(&self) -> bool {
        matches!(self, Subject::Database | Subject::All)
    }

    /// The queue whose row the alert marks, if any.
    pub fn queue_name(&self) -> Option<&str> {
        match self {
            Subject::Queue { name } => Some(name),
            Subject::Kind { queue, .. } => Some(queue),
            _ => None,
        }
    }

    pub fn worker_id(&self) -> Option<&str> {
        match self {
            Subject::Worker { id } => Some(id),
            _ => None,
        }
    }

    /// `queue mail`, `kind mail/send`, `worker w-1`, `tenant acme`, `database`. Raw text
    /// from the database: sanitize before showing it.
    pub fn label(&self) -> String {
        match self {
            Subject::Database => "database".to_string(),
            Subject::All => "all jobs".to_string(),
            Subject::Queue { name } => format!("queue {name}"),
            Subject::Kind { queue, kind } => format!("kind {queue}/{kind}"),
            Subject::Worker { id } => format!("worker {id}"),
            Subject::Tenant { id: Some(id) } => format!("tenant {id}"),
            Subject::Tenant { id: None } => "jobs without tenant".to_string(),
            Subject::Schedule { source, name } => format!("schedule {source}/{name}"),
            Subject::Source { name } => name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AlertKey {
    pub rule: RuleId,
    pub subject: Subject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Pending,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Pending => "pending",
            AlertState::Resolved => "resolved",
        }
    }
}

/// What a value and its threshold measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    Jobs,
    /// A fraction, 0 to 1.
    Ratio,
    PerMinute,
    /// Runs of a schedule.
    Runs,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub key: AlertKey,
    pub severity: Severity,
    pub state: AlertState,
    /// The latest measured value; `None` when there is no figure (a worker that never
    /// sent a heartbeat).
    pub value: Option<f64>,
    pub threshold: f64,
    pub unit: Unit,
    /// The value is a lower bound (a capped count).
    pub at_least: bool,
    /// The value is a planner estimate, not a count.
    pub estimated: bool,
    /// More to say, such as the normal a backlog is compared with.
    pub detail: Option<String>,
    /// When the condition began to hold, by the monitor's clock (from the database's own
    /// timestamps where the rule allows).
    pub since: DateTime<Utc>,
    #[serde(serialize_with = "serialize_secs")]
    pub for_: Duration,
    pub fired_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A change of state, for the bell and for logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub key: AlertKey,
    pub severity: Severity,
    pub from: Option<AlertState>,
    pub to: AlertState,
}

/// The alert states carried from one evaluation to the next.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertBook {
    /// Pending and firing, by key.
    pub active: BTreeMap<AlertKey, Alert>,
    /// Resolved in the last hour, newest first.
    pub resolved: Vec<Alert>,
    /// Each queue's normal backlog, learned over the polls.
    pub baselines: BTreeMap<String, Baseline>,
    pub evaluated_at: Option<DateTime<Utc>>,
    /// The most urgent active alert of each queue and worker, found once per evaluation
    /// (`index_marks`) so that drawing a row looks one up instead of reading every alert.
    pub(super) marks: Marks,
}

/// The most urgent (state, severity) per queue and per worker, and the active alerts
/// counted by state (the header's tally, drawn every frame).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Marks {
    queues: HashMap<String, (AlertState, Severity)>,
    workers: HashMap<String, (AlertState, Severity)>,
    active: AlertTally,
}

/// Firing before pending, critical before warning.
fn more_urgent(a: (AlertState, Severity), b: (AlertState, Severity)) -> bool {
    (a.0, std::cmp::Reverse(a.1)) < (b.0, std::cmp::Reverse(b.1))
}

/// How many alerts are in which state, for the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertTally {
    pub firing_critical: usize,
    pub firing_warning: usize,
    pub pending: usize,
    pub resolved: usize,
}

impl AlertTally {
    pub fn firing(&self) -> usize {
        self.firing_critical + self.firing_warning
    }
}

impl AlertBook {
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.active
            .values()
            .filter(|a| a.state == AlertState::Firing)
    }

    pub fn tally(&self) -> AlertTally {
        AlertTally {
            resolved: self.resolved.len(),
            ..self.marks.active
        }
    }

    /// Firing (critical first, longest first), then pending, then resolved (newest first).
    pub fn display_order(&self) -> Vec<&Alert> {
        self.display_order_of(|_| true)
    }

    /// `display_order` of the alerts `wanted` keeps: chosen before they are sorted, so a
    /// screen that shows a few kinds of alert does not sort every queue's alerts each frame.
    pub fn display_order_of(&self, wanted: impl Fn(&Alert) -> bool) -> Vec<&Alert> {
        let mut active: Vec<&Alert> = self.active.values().filter(|a| wanted(a)).collect();
        active.sort_by(|a, b| {
            (a.state, std::cmp::Reverse(a.severity), a.since, &a.key).cmp(&(
                b.state,
                std::cmp::Reverse(b.severity),
                b.since,
                &b.key,
            ))
        });
        active.extend(self.resolved.iter().filter(|a| wanted(a)));
        active
    }

    /// The most urgent active alert on a queue's row (its own or its kinds').
    pub fn worst_for_queue(&self, queue: &str) -> Option<(AlertState, Severity)> {
        self.marks.queues.get(queue).copied()
    }

    pub fn worst_for_worker(&self, worker: &str) -> Option<(AlertState, Severity)> {
        self.marks.workers.get(worker).copied()
    }

    /// Finds each queue's and worker's most urgent alert and counts the active alerts: once
    /// per evaluation, in one pass.
    pub(super) fn index_marks(&mut self) {
        let mut marks = Marks::default();
        for a in self.active.values() {
            let t = &mut marks.active;
            match (a.state, a.severity) {
                (AlertState::Firing, Severity::Critical) => t.firing_critical += 1,
                (AlertState::Firing, Severity::Warning) => t.firing_warning += 1,
                _ => t.pending += 1,
            }
            let mark = (a.state, a.severity);
            let (map, name) = match (a.key.subject.queue_name(), a.key.subject.worker_id()) {
                (Some(queue), _) => (&mut marks.queues, queue),
                (None, Some(worker)) => (&mut marks.workers, worker),
                (None, None) => continue,
            };
            match map.get_mut(name) {
                Some(worst) if more_urgent(mark, *worst) => *worst = mark,
                Some(_) => {}
                None => {
                    map.insert(name.to_string(), mark);
                }
            }
        }
        self.marks = marks;
    }

    /// The worst firing severity, for an exit code.
    pub fn worst_firing(&self) -> Option<Severity> {
        self.firing().map(|a| a.severity).max()
    }
}

fn serialize_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
