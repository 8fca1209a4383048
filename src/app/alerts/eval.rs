//! The state machine: conditions of one poll + the previous states -> the new states.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::baseline::Baseline;
use super::book::{
    Alert, AlertBook, AlertKey, AlertState, RESOLVED_KEPT, RESOLVED_RETENTION, RuleId, Subject,
    Transition, Unit,
};
use super::conditions::{self, Condition};
use super::rules::Rules;
use crate::backend::{Capabilities, Snapshot};

/// What one poll brought.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    Snapshot {
        snapshot: &'a Snapshot,
        capabilities: &'a Capabilities,
    },
    /// Polls have been failing since `since` (by the monitor's clock).
    PollFailing { since: DateTime<Utc> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The monitor: one evaluation per poll, states carried between them.
    Continuous,
    /// `check` and `snapshot`: a single evaluation without history. A `for` duration that
    /// the database's timestamps cannot judge is taken as instantaneous (zero).
    OneShot,
}

/// The new alert states, and what changed. Pure: `now` is the monitor's clock at the poll.
/// Linear in the conditions and the previous alerts, and the book it returns is bounded:
/// the active alerts are the conditions that hold, the resolved ones at most
/// `RESOLVED_KEPT`, the baselines one per queue of the snapshot.
pub fn evaluate(
    rules: &Rules,
    prev: &AlertBook,
    observation: &Observation,
    now: DateTime<Utc>,
    mode: Mode,
) -> (AlertBook, Vec<Transition>) {
    next_book(rules, prev.clone(), observation, now, mode)
}

/// `evaluate`, taking the previous book: what carries over (the baselines, the resolved
/// alerts) is moved, not copied. The monitor's way, once per poll: at ten thousand queues
/// copying and looking up every alert and baseline was most of the cost of a poll.
pub fn next_book(
    rules: &Rules,
    prev: AlertBook,
    observation: &Observation,
    now: DateTime<Utc>,
    mode: Mode,
) -> (AlertBook, Vec<Transition>) {
    let AlertBook {
        active: prev_active,
        resolved: prev_resolved,
        baselines: prev_baselines,
        ..
    } = prev;
    let (mut conditions, prev_judged, kept) = match observation {
        Observation::Snapshot {
            snapshot,
            capabilities,
        } => (
            conditions::from_snapshot(rules, snapshot, capabilities, &prev_baselines),
            prev_active,
            BTreeMap::new(),
        ),
        Observation::PollFailing { since } => {
            // Nothing is known about the queues while the database is away: their alerts
            // stay as they were, neither resolved nor advanced.
            let (judged, kept) = prev_active
                .into_iter()
                .partition(|(key, _)| key.rule == RuleId::DbUnreachable);
            (
                db_unreachable(rules, *since, now).into_iter().collect(),
                judged,
                kept,
            )
        }
    };
    sort_into_key_order(&mut conditions);

    // The conditions and the previous alerts, both in key order, walked side by side: a
    // comparison or two per alert instead of a lookup in a map of thousands.
    let mut transitions = Vec::new();
    let mut held = Vec::with_capacity(conditions.len());
    // Previous alerts whose condition no longer holds, in key order.
    let mut gone = Vec::new();
    let mut prev_judged = prev_judged.into_values().peekable();
    for c in conditions {
        let mut before = None;
        while let Some(a) = prev_judged.peek() {
            match a.key.cmp(&c.key) {
                std::cmp::Ordering::Less => gone.extend(prev_judged.next()),
                std::cmp::Ordering::Equal => {
                    before = prev_judged.next();
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        let alert = advance(c, before.as_ref(), now, mode);
        if before.as_ref().map(|a| a.state) != Some(alert.state) {
            transitions.push(Transition {
                key: alert.key.clone(),
                severity: alert.severity,
                from: before.map(|a| a.state),
                to: alert.state,
            });
        }
        held.push(alert);
    }
    gone.extend(prev_judged);

    let mut book = AlertBook {
        evaluated_at: Some(now),
        // In key order already: built without a comparison per insert.
        active: kept
            .into_iter()
            .chain(held.into_iter().map(|a| (a.key.clone(), a)))
            .collect(),
        ..AlertBook::default()
    };
    // Newest first: this poll's, then the earlier ones still within the retention.
    let keep_after = now - chrono::Duration::from_std(RESOLVED_RETENTION).unwrap_or_default();
    for alert in gone {
        // A pending alert that stops holding never fired: it is dropped, not resolved.
        if alert.state != AlertState::Firing {
            continue;
        }
        transitions.push(Transition {
            key: alert.key.clone(),
            severity: alert.severity,
            from: Some(AlertState::Firing),
            to: AlertState::Resolved,
        });
        if book.resolved.len() < RESOLVED_KEPT {
            book.resolved.push(Alert {
                state: AlertState::Resolved,
                resolved_at: Some(now),
                ..alert
            });
        }
    }
    // Pushed in key order; the previous code's order (each put in front) was the reverse.
    book.resolved.reverse();
    let room = RESOLVED_KEPT - book.resolved.len();
    book.resolved.extend(
        prev_resolved
            .into_iter()
            .filter(|a| a.resolved_at.is_some_and(|at| at >= keep_after))
            .take(room),
    );

    book.baselines = match observation {
        Observation::Snapshot { snapshot, .. } => {
            learn_baselines(rules, &book, prev_baselines, snapshot, now)
        }
        Observation::PollFailing { .. } => prev_baselines,
    };
    book.index_marks();
    (book, transitions)
}

/// Sorts conditions into key order. They come a queue at a time, the queues in name order:
/// grouped by rule (a cheap comparison), each rule's run is then already sorted, and
/// comparing the subjects (their names) is left to the runs that are not.
fn sort_into_key_order(conditions: &mut [Condition]) {
    conditions.sort_by_key(|c| c.key.rule);
    for run in conditions.chunk_by_mut(|a, b| a.key.rule == b.key.rule) {
        if !run.is_sorted_by(|a, b| a.key.subject <= b.key.subject) {
            run.sort_by(|a, b| a.key.subject.cmp(&b.key.subject));
        }
    }
}

fn advance(c: Condition, before: Option<&Alert>, now: DateTime<Utc>, mode: Mode) -> Alert {
    // A condition that goes on holding began when it first did: the oldest-ready age's
    // start does not drift forward with each poll's timing or as the oldest job changes.
    let since = match (c.held_for, before) {
        (Some(held), Some(a)) => (now - held).min(a.since),
        (Some(held), None) => now - held,
        (None, a) => a.map_or(now, |a| a.since),
    };
    let for_ = if mode == Mode::OneShot && c.held_for.is_none() {
        Duration::ZERO
    } else {
        c.for_
    };
    let for_chrono = chrono::Duration::from_std(for_).unwrap_or(chrono::Duration::MAX);
    let held = now - since;
    let firing = if c.strict_for {
        held > for_chrono
    } else {
        held >= for_chrono
    };
    let fired_at = firing.then(|| {
        before.and_then(|a| a.fired_at).unwrap_or(match c.held_for {
            // Known from the database: it crossed its `for` at that moment, not now.
            Some(_) => (since + for_chrono).min(now),
            None => now,
        })
    });
    Alert {
        key: c.key,
        severity: c.severity,
        state: if firing {
            AlertState::Firing
        } else {
            AlertState::Pending
        },
        value: c.value,
        threshold: c.threshold,
        unit: c.unit,
        at_least: c.at_least,
        estimated: c.estimated,
        detail: c.detail,
        since,
        for_,
        fired_at,
        resolved_at: None,
    }
}

/// Pending from the first failed poll, firing once polls have failed for the threshold
/// (plus the rule's `for`, zero by default).
fn db_unreachable(rules: &Rules, since: DateTime<Utc>, now: DateTime<Utc>) -> Option<Condition> {
    let r = rules.db_unreachable()?;
    let held = (now - since).max(chrono::Duration::zero());
    Some(Condition {
        key: AlertKey {
            rule: RuleId::DbUnreachable,
            subject: Subject::Database,
        },
        severity: r.severity,
        value: Some(conditions::secs(held)),
        at_least: false,
        estimated: false,
        threshold: r.threshold,
        unit: Unit::Seconds,
        for_: r.for_ + Duration::from_secs_f64(r.threshold.max(0.0)),
        held_for: Some(held),
        strict_for: true,
        detail: Some("the monitor's polls are failing".into()),
    })
}

/// Each queue of the snapshot's baseline after this poll (a queue gone is forgotten),
/// learned in place: no name copied or map rebuilt for queues that stay.
fn learn_baselines(
    rules: &Rules,
    book: &AlertBook,
    mut baselines: BTreeMap<String, Baseline>,
    snap: &Snapshot,
    now: DateTime<Utc>,
) -> BTreeMap<String, Baseline> {
    let window = rules.backlog_baseline.window.0;
    let anomalous: HashSet<&str> = book
        .active
        .keys()
        .filter(|k| k.rule == RuleId::BacklogBaseline)
        .filter_map(|k| k.subject.queue_name())
        .collect();
    let mut learned = 0;
    for q in &snap.queues {
        let sample = q.ready.value as f64;
        match baselines.get_mut(&q.name) {
            Some(b) => {
                *b = b.learn(sample, now, window, anomalous.contains(q.name.as_str()));
                learned += 1;
            }
            None => {
                baselines.insert(q.name.clone(), Baseline::start(sample, now));
            }
        }
    }
    // Every name the map held is in the snapshot unless fewer were learned than it held.
    let stayed = baselines.len() - (snap.queues.len() - learned);
    if stayed != learned {
        let names: HashSet<&str> = snap.queues.iter().map(|q| q.name.as_str()).collect();
        baselines.retain(|name, _| names.contains(name.as_str()));
    }
    baselines
}

/// Rules that are on but cannot be judged from this snapshot, and why: said by `check` and
/// `snapshot`, so a silent rule is never mistaken for a passing one.
pub fn unavailable(
    rules: &Rules,
    snap: &Snapshot,
    caps: &Capabilities,
    mode: Mode,
) -> Vec<(RuleId, &'static str)> {
    let mut out = Vec::new();
    let any = |f: &dyn Fn(&crate::backend::QueueStats) -> bool| snap.queues.iter().any(f);
    if mode == Mode::OneShot && rules.backlog_baseline.enabled {
        out.push((
            RuleId::BacklogBaseline,
            "needs history: the running monitor learns each queue's normal backlog",
        ));
    }
    if rules.dead_spike.enabled && any(&|q| q.dead_last_hour.is_none()) {
        out.push((
            RuleId::DeadSpike,
            "this backend does not record when jobs went dead",
        ));
    }
    if rules.failure_rate.enabled && any(&|q| q.minutes.is_empty()) {
        out.push((
            RuleId::FailureRate,
            "this backend has no completion history",
        ));
    }
    if rules.kind_failure_rate.enabled && any(&|q| q.kinds.is_none()) {
        out.push((
            RuleId::KindFailureRate,
            "this backend gives no per-kind figures",
        ));
    }
    if rules.slow_job.enabled
        && any(&|q| q.running.value > 0 && q.oldest_running_started_at.is_none())
    {
        out.push((
            RuleId::SlowJob,
            "this backend keeps no start time of running jobs",
        ));
    }
    if !(caps.workers.yes() && caps.heartbeats.yes()) {
        if rules.worker_down.enabled {
            out.push((RuleId::WorkerDown, "this backend has no worker heartbeats"));
        }
        if rules.no_worker.enabled {
            out.push((RuleId::NoWorker, "this backend has no worker heartbeats"));
        }
    }
    if rules.needs_tenants() && snap.running_by_tenant.is_none() {
        out.push((
            RuleId::TenantHeartbeatBudget,
            "this backend does not count running jobs per tenant",
        ));
    }
    if mode == Mode::OneShot && rules.db_unreachable.enabled {
        out.push((
            RuleId::DbUnreachable,
            "judged by the exit code: a database that cannot be reached is UNKNOWN",
        ));
    }
    out
}
