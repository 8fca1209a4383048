//! The metrics: each source's state, as Prometheus families, encoded by `prometheus-client`
//! (the OpenMetrics text, or the Prometheus text format 0.0.4 for clients that do not ask
//! for OpenMetrics). Named by the Prometheus conventions: `jobtop_` first, the unit last
//! (seconds, the base unit), `_total` on counters (the encoder adds it).
//!
//! Labels are bounded: `source` (one per watched database), `queue`, `state`, `kind`,
//! `rule`; never a job id, a worker id or an error text.
//!
//! Counts that are not exact keep their series (a dead pile that passes the pile cap does
//! not become a new series, so graphs and `deriv()` stay continuous); two 0/1 series beside
//! them say which are estimates and which stopped at the cap. A rule that must ignore
//! estimates joins them away: `jobtop_jobs unless on(source, queue, state)
//! (jobtop_jobs_estimated == 1)`.

use chrono::{DateTime, Utc};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::state::SourceState;
use crate::app::alerts::{AlertState, RuleId};
use crate::backend::Count;
use crate::backend::schedules::RunStatus;

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Gauge(f64),
    Counter(u64),
}

/// One metric family with its samples, from every source.
#[derive(Debug)]
pub struct Family {
    /// Without the unit and without `_total`: the encoder adds both.
    pub name: &'static str,
    pub help: &'static str,
    pub seconds: bool,
    pub samples: Vec<(Labels, Value)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            seconds: false,
            samples: Vec::new(),
        }
    }

    fn in_seconds(mut self) -> Family {
        self.seconds = true;
        self
    }

    fn gauge(&mut self, labels: Labels, v: f64) {
        self.samples.push((labels, Value::Gauge(v)));
    }

    fn counter(&mut self, labels: Labels, v: u64) {
        self.samples.push((labels, Value::Counter(v)));
    }
}

const STATES: [&str; 5] = ["ready", "scheduled", "running", "retrying", "dead"];

/// Every family, from every source's state at `now` (serve's clock).
pub fn families(sources: &[&SourceState], now: DateTime<Utc>) -> Vec<Family> {
    let mut jobs = Family::new(
        "jobtop_jobs",
        "Jobs per queue and state; see jobtop_jobs_estimated and jobtop_jobs_capped for counts that are not exact.",
    );
    let mut estimated = Family::new(
        "jobtop_jobs_estimated",
        "1 where jobtop_jobs is a planner estimate (a pile past the pile cap), not a count.",
    );
    let mut capped = Family::new(
        "jobtop_jobs_capped",
        "1 where jobtop_jobs stopped at the count cap: the real count is at least that.",
    );
    let mut paused = Family::new("jobtop_queue_paused", "1 while the queue is paused.");
    let mut oldest = Family::new(
        "jobtop_oldest_ready_age",
        "Age of the queue's oldest ready job, by the database clock; 0 when none is ready.",
    )
    .in_seconds();
    let mut longest = Family::new(
        "jobtop_longest_running",
        "How long the queue's longest-running job has run; 0 when none runs. Absent where the schema keeps no start time.",
    )
    .in_seconds();
    let mut succeeded = Family::new(
        "jobtop_jobs_succeeded",
        "Jobs that succeeded, counted per final minute of the throughput history since jobtop_completions_counted_since_timestamp_seconds.",
    );
    let mut failed = Family::new(
        "jobtop_jobs_failed",
        "Attempts that ended in failure (retried or dead), counted like jobtop_jobs_succeeded_total.",
    );
    let mut counted_since = Family::new(
        "jobtop_completions_counted_since_timestamp",
        "When the completion counters began (they start at 0 with serve; a restart is a counter reset).",
    )
    .in_seconds();
    let mut run_time = Family::new(
        "jobtop_job_run_time",
        "Run time of the jobs of a kind that succeeded in the last hour, at a percentile (50, 95).",
    )
    .in_seconds();
    let mut wait_time = Family::new(
        "jobtop_job_wait_time",
        "Time from due to started of the jobs of a kind that finished in the last hour, at a percentile (50).",
    )
    .in_seconds();
    let mut workers = Family::new(
        "jobtop_workers",
        "Worker processes by heartbeat: live, or stale (no heartbeat for longer than stale_after).",
    );
    let mut stuck = Family::new(
        "jobtop_stuck_jobs",
        "Running jobs held by stale workers: what reset-stuck would put back to ready.",
    );
    let mut schedule_success = Family::new(
        "jobtop_schedule_last_success_timestamp",
        "When the newest successful run among those read started (pg_cron, the queue's own schedules).",
    )
    .in_seconds();
    let mut schedule_failure = Family::new(
        "jobtop_schedule_last_failure_timestamp",
        "When the newest failed run among those read started.",
    )
    .in_seconds();
    let mut schedule_active = Family::new(
        "jobtop_schedule_active",
        "1 while the schedule is active (a deactivated pg_cron job reads 0).",
    );
    let mut schedule_next = Family::new(
        "jobtop_schedule_next_run_timestamp",
        "When the schedule's next run is due, where its expression is understood.",
    )
    .in_seconds();
    let mut alerts = Family::new(
        "jobtop_alerts",
        "Alerts of each of jobtop's rules (its config file's [rules]) by state: how many subjects are pending or firing.",
    );
    let mut up = Family::new("jobtop_up", "1 when the last poll of the source succeeded.");
    let mut poll_duration = Family::new(
        "jobtop_poll_duration",
        "How long the last poll took (the shared snapshot's wait included, for a follower).",
    )
    .in_seconds();
    let mut polls = Family::new("jobtop_polls", "Polls of the source.");
    let mut poll_errors = Family::new("jobtop_poll_errors", "Polls that failed or timed out.");
    let mut data_age = Family::new(
        "jobtop_data_age",
        "Seconds since the last successful poll: how old every other figure is.",
    )
    .in_seconds();
    let mut taken_at = Family::new(
        "jobtop_snapshot_timestamp",
        "The database's clock when the last snapshot was taken.",
    )
    .in_seconds();
    let mut info = Family::new(
        "jobtop_source_info",
        "Which queue schema each source is and how it is read (role: the shared snapshot's).",
    );
    let mut build = Family::new(
        "jobtop_build_info",
        "The jobtop version serving these metrics.",
    );
    build.gauge(vec![("version", env!("CARGO_PKG_VERSION").into())], 1.0);

    for s in sources {
        let source = || ("source", s.label.clone());
        info.gauge(
            vec![
                source(),
                ("backend", s.backend.into()),
                ("target", s.target.clone()),
                ("role", s.role.clone().unwrap_or_default()),
            ],
            1.0,
        );
        up.gauge(
            vec![source()],
            f64::from(u8::from(
                s.last_ok_at.is_some() && s.failing_since.is_none(),
            )),
        );
        polls.counter(vec![source()], s.polls);
        poll_errors.counter(vec![source()], s.poll_errors);
        if let Some(d) = s.last_poll_seconds {
            poll_duration.gauge(vec![source()], d);
        }
        if let Some(age) = s.data_age(now) {
            data_age.gauge(vec![source()], age);
        }
        for rule in RuleId::ALL {
            for state in [AlertState::Pending, AlertState::Firing] {
                let n = s
                    .book
                    .active
                    .values()
                    .filter(|a| a.key.rule == rule && a.state == state)
                    .count();
                alerts.gauge(
                    vec![
                        source(),
                        ("rule", rule.as_str().into()),
                        ("state", state.as_str().into()),
                    ],
                    n as f64,
                );
            }
        }
        if let Some(since) = s.completions.since {
            counted_since.gauge(vec![source()], epoch_seconds(since));
        }
        for (queue, totals) in &s.completions.per_queue {
            let labels = vec![source(), ("queue", queue.clone())];
            succeeded.counter(labels.clone(), totals.succeeded);
            failed.counter(labels, totals.failed);
        }
        if let Some(report) = &s.kinds {
            for k in &report.kinds {
                let labels =
                    |q: &str| vec![source(), ("kind", k.kind.clone()), ("percentile", q.into())];
                if let Some(v) = k.run_p50 {
                    run_time.gauge(labels("50"), v);
                }
                if let Some(v) = k.run_p95 {
                    run_time.gauge(labels("95"), v);
                }
                if let Some(v) = k.wait_p50 {
                    wait_time.gauge(labels("50"), v);
                }
            }
        }
        let Some(snap) = &s.last else { continue };
        let now_db = snap.db_now;
        taken_at.gauge(vec![source()], epoch_seconds(now_db));
        for q in &snap.queues {
            let queue = || ("queue", q.name.clone());
            let counts: [Count; 5] = [q.ready, q.scheduled, q.running, q.retrying, q.dead];
            for (state, count) in STATES.into_iter().zip(counts) {
                let labels = vec![source(), queue(), ("state", state.into())];
                jobs.gauge(labels.clone(), count.value as f64);
                estimated.gauge(labels.clone(), flag(count.estimated));
                capped.gauge(labels, flag(count.capped));
            }
            paused.gauge(vec![source(), queue()], flag(q.paused.is_some()));
            oldest.gauge(
                vec![source(), queue()],
                q.oldest_ready_age(now_db).map_or(0.0, seconds),
            );
            match q.longest_running(now_db) {
                Some(d) => longest.gauge(vec![source(), queue()], seconds(d)),
                None if q.running.value == 0 => longest.gauge(vec![source(), queue()], 0.0),
                None => {}
            }
        }
        if s.capabilities.workers.yes() {
            let heartbeats = s.capabilities.heartbeats.yes();
            let is_stale = |w: &crate::backend::WorkerInfo| {
                heartbeats
                    && w.heartbeat_age(now_db)
                        .is_none_or(|a| seconds(a) > s.stale_after)
            };
            let stale = snap.workers.iter().filter(|w| is_stale(w)).count();
            let live = snap.workers.len() - stale;
            workers.gauge(vec![source(), ("status", "live".into())], live as f64);
            workers.gauge(vec![source(), ("status", "stale".into())], stale as f64);
            if heartbeats {
                let held: i64 = snap
                    .workers
                    .iter()
                    .filter(|w| is_stale(w))
                    .map(|w| w.running_jobs)
                    .sum();
                stuck.gauge(vec![source()], held as f64);
            }
        }
        // Schedules are few (a database's crontab), named by their source and name: a
        // bounded label set like queues.
        for sch in snap.schedules.iter().flat_map(|s| &s.schedules) {
            let labels = vec![
                source(),
                ("origin", sch.source.clone()),
                ("schedule", sch.name.clone()),
            ];
            schedule_active.gauge(labels.clone(), flag(sch.active));
            if let Some(next) = sch.next_due_at {
                schedule_next.gauge(labels.clone(), epoch_seconds(next));
            }
            let newest = |status: RunStatus| {
                sch.runs
                    .iter()
                    .find(|r| r.status == status)
                    .and_then(|r| r.started_at)
            };
            if let Some(at) = newest(RunStatus::Succeeded) {
                schedule_success.gauge(labels.clone(), epoch_seconds(at));
            }
            if let Some(at) = newest(RunStatus::Failed) {
                schedule_failure.gauge(labels, epoch_seconds(at));
            }
        }
    }
    vec![
        jobs,
        estimated,
        capped,
        paused,
        oldest,
        longest,
        succeeded,
        failed,
        counted_since,
        run_time,
        wait_time,
        workers,
        stuck,
        schedule_active,
        schedule_next,
        schedule_success,
        schedule_failure,
        alerts,
        up,
        poll_duration,
        polls,
        poll_errors,
        data_age,
        taken_at,
        info,
        build,
    ]
}

fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

fn epoch_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// Writes the families through `prometheus-client`'s descriptor encoder (a family without
/// samples is left out).
pub fn encode(families: &[Family], mut encoder: DescriptorEncoder) -> std::fmt::Result {
    for family in families.iter().filter(|f| !f.samples.is_empty()) {
        let counter = matches!(family.samples[0].1, Value::Counter(_));
        let kind = if counter {
            MetricType::Counter
        } else {
            MetricType::Gauge
        };
        let unit = family.seconds.then_some(Unit::Seconds);
        let mut metric =
            encoder.encode_descriptor(family.name, family.help, unit.as_ref(), kind)?;
        for (labels, value) in &family.samples {
            let mut sample = metric.encode_family(labels)?;
            match value {
                Value::Gauge(v) => sample.encode_gauge(v)?,
                Value::Counter(v) => sample.encode_counter::<NoLabelSet, _, f64>(v, None)?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use prometheus_client::collector::Collector;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::backend::{Capabilities, MinuteBucket, QueueStats, Snapshot};

    #[derive(Debug)]
    struct One(std::sync::Mutex<SourceState>);

    impl Collector for One {
        fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
            let s = self.0.lock().unwrap();
            let now = s.last_ok_at.unwrap();
            encode(&families(&[&s], now), encoder)
        }
    }

    fn state() -> SourceState {
        let at = Utc.timestamp_opt(6_000_030, 0).unwrap();
        // A hostile queue name, a dead pile past the pile cap, history.
        let mut q = QueueStats::new("ma\"il\n{x}");
        q.ready = Count::exact(7);
        q.dead = Count {
            value: 45_000,
            capped: false,
            estimated: true,
        };
        q.oldest_ready_at = Some(at - chrono::Duration::seconds(90));
        q.minutes = vec![MinuteBucket {
            succeeded: 3,
            failed: 1,
        }];
        let snap = Snapshot {
            db_now: at,
            queues: vec![q],
            workers: vec![],
            count_cap: 10_000,
            running_by_tenant: None,
            schedules: Some(Box::new(nightly(at))),
        };
        let mut s = SourceState::new(
            "@prod".into(),
            "u@h:5432/db".into(),
            "native",
            Capabilities::FULL,
            Default::default(),
            60.0,
        );
        s.polled(Ok(snap), at);
        s
    }

    /// A pg_cron job whose last run failed after one that succeeded.
    fn nightly(at: DateTime<Utc>) -> crate::backend::schedules::Schedules {
        use crate::backend::schedules::{ScheduleRun, Schedules};
        let run = |id: &str, ago: i64, status: RunStatus| ScheduleRun {
            id: id.into(),
            started_at: Some(at - chrono::Duration::seconds(ago)),
            ended_at: Some(at - chrono::Duration::seconds(ago - 1)),
            status,
            message: None,
            message_len: None,
        };
        Schedules {
            schedules: vec![crate::backend::schedules::Schedule {
                source: "pg_cron".into(),
                id: "1".into(),
                name: "rollup".into(),
                expression: "* * * * *".into(),
                timezone: None,
                command: None,
                active: true,
                period_seconds: Some(60.0),
                next_due_at: Some(at + chrono::Duration::seconds(30)),
                runs: vec![
                    run("2", 30, RunStatus::Failed),
                    run("1", 90, RunStatus::Succeeded),
                ],
                failures_24h: Count::exact(1),
                runs_read_since: None,
                never_ran: false,
            }],
            net: None,
            present: vec!["pg_cron".into()],
            absent: Vec::new(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn schedules_give_their_last_success_and_failure() {
        let text = exposition(true);
        let labels = r#"{source="@prod",origin="pg_cron",schedule="rollup"}"#;
        for (name, value) in [
            (
                "jobtop_schedule_last_success_timestamp_seconds",
                "5999940.0",
            ),
            (
                "jobtop_schedule_last_failure_timestamp_seconds",
                "6000000.0",
            ),
            ("jobtop_schedule_active", "1.0"),
        ] {
            let line = format!("{name}{labels} {value}");
            assert!(text.contains(&line), "no {line} in\n{text}");
        }
    }

    fn exposition(openmetrics: bool) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(One(std::sync::Mutex::new(state()))));
        let mut out = String::new();
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        }
        out
    }

    #[test]
    fn figures_escaped_labels_and_conventions() {
        let text = exposition(true);
        let q = r#"queue="ma\"il\n{x}""#;
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix) && l.contains(q))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_string()
        };
        assert!(text.contains(&format!(
            r#"jobtop_jobs{{source="@prod",{q},state="ready"}} 7.0"#
        )));
        assert!(text.contains(&format!(
            r#"jobtop_jobs_estimated{{source="@prod",{q},state="dead"}} 1.0"#
        )));
        assert!(text.contains(&format!(
            r#"jobtop_jobs{{source="@prod",{q},state="dead"}} 45000.0"#
        )));
        assert!(line("jobtop_oldest_ready_age_seconds{").ends_with(" 90.0"));
        // Counters: `_total`, starting at 0 (the hour before start is not counted).
        assert!(text.contains("# TYPE jobtop_jobs_succeeded counter"));
        assert!(line("jobtop_jobs_succeeded_total{").ends_with(" 0"));
        assert!(text.contains("# UNIT jobtop_oldest_ready_age_seconds seconds"));
        assert!(text.ends_with("# EOF\n"));
        // Without Accept: the 0.0.4 text format, counters typed under their full name.
        let classic = exposition(false);
        assert!(classic.contains("# TYPE jobtop_jobs_succeeded_total counter"));
        assert!(!classic.contains("# EOF"));
    }
}
