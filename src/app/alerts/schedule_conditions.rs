//! Which schedule rules hold in one snapshot: a run missed past its grace, failures in a
//! row, a run longer than its period (or stuck), and pg_net's share of failed requests.

use chrono::Duration;

use super::book::{RuleId, Subject, Unit};
use super::conditions::{Condition, secs};
use super::rules::Rules;
use crate::backend::Snapshot;
use crate::backend::schedules::{RunStatus, Schedule};

pub fn from_snapshot(rules: &Rules, snap: &Snapshot) -> Vec<Condition> {
    let Some(schedules) = &snap.schedules else {
        return Vec::new();
    };
    let now = snap.db_now;
    let mut out = Vec::new();
    for s in &schedules.schedules {
        let subject = || Subject::Schedule {
            source: s.source.clone(),
            name: s.name.clone(),
        };
        if let Some(r) = rules.schedule_missed(&s.source, &s.name) {
            let grace = Duration::milliseconds((r.threshold * 1000.0) as i64);
            if let Some(due) = s.missed_since(now, grace) {
                let overdue = secs(now - due);
                out.push(Condition {
                    detail: Some(missed_detail(s)),
                    ..Condition::new(RuleId::ScheduleMissed, subject(), r, Unit::Seconds, overdue)
                        .aged(overdue)
                });
            }
        }
        let in_a_row = s.failures_in_a_row() as f64;
        let message = s
            .last_run()
            .and_then(|r| r.message.clone())
            .map(|m| format!("last: {}", m.lines().next().unwrap_or("")));
        // One alert per cause: a streak past the failing rule's count is that alert alone,
        // not also "its last run failed".
        let failing = rules
            .schedule_failing(&s.source, &s.name)
            .filter(|r| in_a_row > r.threshold)
            .map(|r| (RuleId::ScheduleFailing, r));
        let fired = failing.or_else(|| {
            rules
                .schedule_failed(&s.source, &s.name)
                .filter(|r| in_a_row > r.threshold)
                .map(|r| (RuleId::ScheduleFailed, r))
        });
        if let Some((rule, r)) = fired {
            out.push(Condition {
                detail: message.clone(),
                ..Condition::new(rule, subject(), r, Unit::Runs, in_a_row)
            });
        }
        if let (Some(r), Some(run)) = (rules.schedule_overrun(&s.source, &s.name), s.last_run())
            && matches!(run.status, RunStatus::Running | RunStatus::Stuck)
            && let (Some(period), Some(took)) = (s.period_seconds, run.duration(now))
        {
            let took = secs(took);
            let limit = period * r.threshold;
            if took > limit {
                out.push(Condition {
                    threshold: limit,
                    detail: Some(match run.status {
                        RunStatus::Stuck => {
                            "left running by a session that is gone (a restart?)".to_string()
                        }
                        _ => format!("run {} still running", run.id),
                    }),
                    ..Condition::new(RuleId::ScheduleOverrun, subject(), r, Unit::Seconds, took)
                });
            }
        }
    }
    if let (Some(r), Some(net)) = (rules.net_failures(), &schedules.net)
        && let Some(share) = net.failure_share()
        && net.responses() as f64 >= rules.net_failures.min_responses.0
        && share > r.threshold
    {
        let failed = net.responses() - net.ok_2xx;
        let mut detail = format!(
            "{failed} of {} requests: {} 4xx, {} 5xx, {} errors",
            net.responses(),
            net.client_4xx,
            net.server_5xx,
            net.errors
        );
        if let Some(last) = &net.last_error {
            detail.push_str(&format!("; last: {last}"));
        }
        out.push(Condition {
            detail: Some(detail),
            ..Condition::new(
                RuleId::NetFailures,
                Subject::Source {
                    name: "pg_net".into(),
                },
                r,
                Unit::Ratio,
                share,
            )
        });
    }
    out
}

fn missed_detail(s: &Schedule) -> String {
    let why = if s.active {
        String::new()
    } else {
        " (deactivated)".to_string()
    };
    match s.last_run().and_then(|r| r.started_at) {
        Some(at) => format!("{}{why}; last run {}", s.expression, at.format("%F %T UTC")),
        None => format!("{}{why}; no run among the runs read", s.expression),
    }
}
