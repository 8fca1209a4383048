//! Which rule conditions hold in one snapshot. Every comparison is strict ("older than",
//! "above", "more than"): a value exactly at its threshold does not alert.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::baseline::Baseline;
use super::book::{AlertKey, RuleId, Subject, Unit};
use super::rules::{Resolved, Rules};
use crate::backend::{Capabilities, Count, MinuteBucket, Snapshot};

/// A rule whose condition holds for one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: AlertKey,
    pub severity: super::rules::Severity,
    pub value: Option<f64>,
    pub at_least: bool,
    /// The value is a planner estimate (a pile past the pile cap).
    pub estimated: bool,
    pub threshold: f64,
    pub unit: Unit,
    pub for_: Duration,
    /// How long the condition has held already, where the database's own timestamps tell
    /// (an oldest-ready age past its threshold has held since it crossed it).
    pub held_for: Option<chrono::Duration>,
    /// `for_` is itself the rule's threshold, so, like every threshold, it must be passed
    /// ("more than 2 min"), not merely reached.
    pub strict_for: bool,
    pub detail: Option<String>,
}

impl Condition {
    pub(super) fn new(
        rule: RuleId,
        subject: Subject,
        r: Resolved,
        unit: Unit,
        value: f64,
    ) -> Condition {
        Condition {
            key: AlertKey { rule, subject },
            severity: r.severity,
            value: Some(value),
            at_least: false,
            estimated: false,
            threshold: r.threshold,
            unit,
            for_: r.for_,
            held_for: None,
            strict_for: false,
            detail: None,
        }
    }

    /// For an age compared with a duration threshold: it has held since it crossed it.
    pub(super) fn aged(mut self, age_secs: f64) -> Condition {
        self.held_for = Some(chrono::Duration::milliseconds(
            ((age_secs - self.threshold).max(0.0) * 1000.0) as i64,
        ));
        self
    }
}

impl Condition {
    /// For a failure rate over the minutes: it began with the newest run of minutes each
    /// failing above the threshold (an idle minute does not end it), not when the monitor
    /// started and first saw it. The open minute counts as begun.
    pub(super) fn rate_held(mut self, minutes: &[MinuteBucket]) -> Condition {
        let run = minutes
            .iter()
            .rev()
            .take_while(|m| {
                let total = m.succeeded as u64 + m.failed as u64;
                total == 0 || m.failed as f64 / total as f64 > self.threshold
            })
            .count();
        self.held_for = Some(chrono::Duration::minutes(run.saturating_sub(1) as i64));
        self
    }
}

pub fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// A capped count is "at least" its value: above the threshold when the cap is.
fn count_exceeds(c: Count, threshold: f64) -> bool {
    let v = c.value as f64;
    v > threshold || (c.capped && v >= threshold)
}

fn count_condition(rule: RuleId, queue: &str, r: Resolved, c: Count) -> Option<Condition> {
    count_exceeds(c, r.threshold).then(|| Condition {
        at_least: c.capped,
        estimated: c.estimated,
        ..Condition::new(rule, Subject::queue(queue), r, Unit::Jobs, c.value as f64)
    })
}

pub fn from_snapshot(
    rules: &Rules,
    snap: &Snapshot,
    caps: &Capabilities,
    baselines: &BTreeMap<String, Baseline>,
) -> Vec<Condition> {
    let now = snap.db_now;
    let mut out = Vec::new();
    let live = LiveWorkers::of(rules, snap);
    for q in &snap.queues {
        let name = q.name.as_str();
        // A paused queue's backlog grows on purpose: only its failures and dead jobs count.
        if q.paused.is_none() {
            if let (Some(r), Some(age)) = (rules.oldest_ready(name), q.oldest_ready_age(now)) {
                let age = secs(age);
                if age > r.threshold {
                    out.push(
                        Condition::new(
                            RuleId::OldestReady,
                            Subject::queue(name),
                            r,
                            Unit::Seconds,
                            age,
                        )
                        .aged(age),
                    );
                }
            }
            if let Some(r) = rules.backlog(name) {
                out.extend(count_condition(RuleId::Backlog, name, r, q.ready));
            }
            if let (Some(r), Some(b)) = (rules.backlog_baseline(name), baselines.get(name)) {
                out.extend(above_baseline(rules, name, r, q.ready, b));
            }
            // Without heartbeats an idle worker is invisible: "no worker" would be a guess.
            if caps.workers.yes()
                && caps.heartbeats.yes()
                && let Some(r) = rules.no_worker(name)
                && count_exceeds(q.ready, r.threshold)
                && !live.serve(name)
            {
                out.push(Condition {
                    at_least: q.ready.capped,
                    detail: Some("no worker with a recent heartbeat serves this queue".into()),
                    ..Condition::new(
                        RuleId::NoWorker,
                        Subject::queue(name),
                        r,
                        Unit::Jobs,
                        q.ready.value as f64,
                    )
                });
            }
        }
        if let Some(r) = rules.dead_letter(name) {
            out.extend(count_condition(RuleId::DeadLetter, name, r, q.dead));
        }
        if let (Some(r), Some(dead)) = (rules.dead_spike(name), q.dead_last_hour) {
            out.extend(count_condition(RuleId::DeadSpike, name, r, dead));
        }
        if let Some(r) = rules.failure_rate(name)
            && !q.minutes.is_empty()
        {
            let (ok, failed) = q.window_totals();
            out.extend(
                rate_condition(
                    RuleId::FailureRate,
                    Subject::queue(name),
                    r,
                    ok,
                    failed,
                    rules.failure_rate.min_attempts.0,
                )
                .map(|c| c.rate_held(&q.minutes)),
            );
        }
        for k in q.kinds.iter().flatten() {
            if let Some(r) = rules.kind_failure_rate(name, &k.kind) {
                out.extend(rate_condition(
                    RuleId::KindFailureRate,
                    Subject::Kind {
                        queue: name.to_string(),
                        kind: k.kind.clone(),
                    },
                    r,
                    k.succeeded,
                    k.failed,
                    rules.kind_failure_rate.min_attempts.0,
                ));
            }
        }
        if let (Some(r), Some(running)) = (rules.slow_job(name), q.longest_running(now)) {
            let running = secs(running);
            if running > r.threshold {
                out.push(
                    Condition::new(
                        RuleId::SlowJob,
                        Subject::queue(name),
                        r,
                        Unit::Seconds,
                        running,
                    )
                    .aged(running),
                );
            }
        }
    }
    if caps.workers.yes() && caps.heartbeats.yes() {
        out.extend(workers_down(rules, snap));
    }
    out.extend(heartbeat_budgets(rules, snap));
    out.extend(super::schedule_conditions::from_snapshot(rules, snap));
    out
}

fn above_baseline(
    rules: &Rules,
    queue: &str,
    r: Resolved,
    ready: Count,
    b: &Baseline,
) -> Option<Condition> {
    let limit = (b.value * r.threshold).max(b.value + rules.backlog_baseline.min_excess.0);
    let v = ready.value as f64;
    (v > limit || (ready.capped && v >= limit)).then(|| Condition {
        at_least: ready.capped,
        threshold: limit.round(),
        detail: Some(format!(
            "normal ≈ {:.0}, alert above ×{} of it",
            b.value,
            super::format::number(r.threshold)
        )),
        ..Condition::new(
            RuleId::BacklogBaseline,
            Subject::queue(queue),
            r,
            Unit::Jobs,
            v,
        )
    })
}

fn rate_condition(
    rule: RuleId,
    subject: Subject,
    r: Resolved,
    ok: u64,
    failed: u64,
    min_attempts: f64,
) -> Option<Condition> {
    let total = ok + failed;
    if total == 0 || (total as f64) < min_attempts {
        return None;
    }
    let rate = failed as f64 / total as f64;
    (rate > r.threshold).then(|| Condition {
        detail: Some(format!("{failed} of {total} attempts failed")),
        ..Condition::new(rule, subject, r, Unit::Ratio, rate)
    })
}

/// The queues that live workers serve, found once per snapshot rather than once per queue.
/// Live: a heartbeat within the worker-down threshold. A worker that lists no queues may
/// serve any (some schemas do not record them), so it counts for every queue.
struct LiveWorkers<'a> {
    any_queue: bool,
    queues: HashSet<&'a str>,
}

impl<'a> LiveWorkers<'a> {
    fn of(rules: &Rules, snap: &'a Snapshot) -> LiveWorkers<'a> {
        let mut live = LiveWorkers {
            any_queue: false,
            queues: HashSet::new(),
        };
        for w in &snap.workers {
            let limit = rules
                .worker_down(&w.id)
                .map_or(rules.worker_down.threshold.0, |r| r.threshold);
            if !w
                .heartbeat_age(snap.db_now)
                .is_some_and(|age| secs(age) <= limit)
            {
                continue;
            }
            live.any_queue |= w.queues.is_empty();
            live.queues.extend(w.queues.iter().map(String::as_str));
        }
        live
    }

    fn serve(&self, queue: &str) -> bool {
        self.any_queue || self.queues.contains(queue)
    }
}

fn workers_down(rules: &Rules, snap: &Snapshot) -> Vec<Condition> {
    let forget = rules.worker_down.forget_idle_after.0;
    let mut out = Vec::new();
    for w in &snap.workers {
        let Some(r) = rules.worker_down(&w.id) else {
            continue;
        };
        let subject = Subject::Worker { id: w.id.clone() };
        match w.heartbeat_age(snap.db_now).map(secs) {
            Some(age) if age > r.threshold => {
                if w.running_jobs == 0 && age > forget {
                    continue;
                }
                let mut c =
                    Condition::new(RuleId::WorkerDown, subject, r, Unit::Seconds, age).aged(age);
                if w.running_jobs > 0 {
                    c.detail = Some(format!("holds {} running jobs", w.running_jobs));
                }
                out.push(c);
            }
            Some(_) => {}
            // Holding jobs without ever having sent a heartbeat: nothing vouches for it.
            None if w.running_jobs > 0 => out.push(Condition {
                value: None,
                detail: Some(format!(
                    "never sent a heartbeat, holds {} running jobs",
                    w.running_jobs
                )),
                ..Condition::new(RuleId::WorkerDown, subject, r, Unit::Seconds, 0.0)
            }),
            None => {}
        }
    }
    out
}

fn heartbeat_budgets(rules: &Rules, snap: &Snapshot) -> Vec<Condition> {
    let mut out = Vec::new();
    if let Some(r) = rules.heartbeat_budget() {
        let running: i64 = snap.queues.iter().map(|q| q.running.value).sum();
        let per_min =
            running as f64 * 60.0 / rules.heartbeat_budget.heartbeat_interval.0.max(0.001);
        if per_min > r.threshold {
            out.push(Condition {
                detail: Some(format!("{running} running jobs")),
                at_least: snap.queues.iter().any(|q| q.running.capped),
                ..Condition::new(
                    RuleId::HeartbeatBudget,
                    Subject::All,
                    r,
                    Unit::PerMinute,
                    per_min,
                )
            });
        }
    }
    let interval = rules
        .tenant_heartbeat_budget
        .heartbeat_interval
        .0
        .max(0.001);
    for t in snap.running_by_tenant.iter().flatten() {
        let Some(r) = rules.tenant_heartbeat_budget(t.tenant.as_deref()) else {
            continue;
        };
        let per_min = t.running as f64 * 60.0 / interval;
        if per_min > r.threshold {
            out.push(Condition {
                detail: Some(format!("{} running jobs", t.running)),
                ..Condition::new(
                    RuleId::TenantHeartbeatBudget,
                    Subject::Tenant {
                        id: t.tenant.clone(),
                    },
                    r,
                    Unit::PerMinute,
                    per_min,
                )
            });
        }
    }
    out
}
