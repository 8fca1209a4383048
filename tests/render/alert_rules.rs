//! Alert evaluation as a pure function over synthetic snapshots and synthetic time: every
//! rule, each threshold edge, and the pending -> firing -> resolved life of an alert.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobtop::app::alerts::rules::{Num, Override, Ratio, Secs, Severity};
use jobtop::app::alerts::{
    AlertBook, AlertKey, AlertState, Mode, Observation, RuleId, Rules, Subject, Transition,
    evaluate, unavailable,
};
use jobtop::backend::{
    Capabilities, Count, KindOutcomes, MinuteBucket, PauseInfo, QueueStats, Snapshot, Support,
    TenantRunning, WorkerInfo,
};

use crate::ui_data::{self, t0};

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

const CAPS: Capabilities = ui_data::CAPABILITIES;

/// A queue with nothing wrong: history present, nothing dead, nothing running long.
fn queue(name: &str) -> QueueStats {
    let mut q = QueueStats::new(name);
    q.minutes = vec![MinuteBucket::default(); 60];
    q.dead_last_hour = Some(Count::exact(0));
    q.kinds = Some(Vec::new());
    q
}

fn worker(
    id: &str,
    beat_secs_ago: Option<i64>,
    jobs: i64,
    queues: &[&str],
    now: DateTime<Utc>,
) -> WorkerInfo {
    WorkerInfo {
        id: id.to_string(),
        host: None,
        pid: None,
        queues: queues.iter().map(|q| q.to_string()).collect(),
        started_at: None,
        last_heartbeat_at: beat_secs_ago.map(|s| now - chrono::Duration::seconds(s)),
        running_jobs: jobs,
    }
}

/// A snapshot taken at `now` (database clock = monitor clock in these tests), with a live
/// worker serving every queue so that `no_worker` stays quiet unless a test wants it.
fn snap(now: DateTime<Utc>, queues: Vec<QueueStats>) -> Snapshot {
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    let workers = vec![worker("w-live", Some(1), 0, &names, now)];
    Snapshot {
        db_now: now,
        queues,
        workers,
        count_cap: 10_000,
        running_by_tenant: None,
        schedules: None,
    }
}

struct Run {
    rules: Rules,
    book: AlertBook,
    transitions: Vec<Transition>,
}

impl Run {
    fn new(rules: Rules) -> Run {
        Run {
            rules,
            book: AlertBook::default(),
            transitions: Vec::new(),
        }
    }

    fn poll(&mut self, s: &Snapshot) -> &mut Run {
        let obs = Observation::Snapshot {
            snapshot: s,
            capabilities: &CAPS,
        };
        let (book, transitions) =
            evaluate(&self.rules, &self.book, &obs, s.db_now, Mode::Continuous);
        self.book = book;
        self.transitions = transitions;
        self
    }

    fn fail(&mut self, since: DateTime<Utc>, now: DateTime<Utc>) -> &mut Run {
        let obs = Observation::PollFailing { since };
        let (book, transitions) = evaluate(&self.rules, &self.book, &obs, now, Mode::Continuous);
        self.book = book;
        self.transitions = transitions;
        self
    }

    fn state(&self, rule: RuleId, subject: Subject) -> Option<AlertState> {
        let key = AlertKey { rule, subject };
        if let Some(a) = self.book.active.get(&key) {
            return Some(a.state);
        }
        self.book
            .resolved
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.state)
    }

    fn alert(&self, rule: RuleId, subject: Subject) -> &jobtop::app::alerts::Alert {
        self.book
            .active
            .get(&AlertKey { rule, subject })
            .expect("alert not active")
    }

    fn rules_fired(&self) -> Vec<RuleId> {
        self.book.active.keys().map(|k| k.rule).collect()
    }
}

fn q(name: &str) -> Subject {
    Subject::queue(name)
}

fn with_oldest(name: &str, now: DateTime<Utc>, age_secs: i64) -> QueueStats {
    let mut q = queue(name);
    q.ready = Count::exact(3);
    q.oldest_ready_at = Some(now - chrono::Duration::seconds(age_secs));
    q
}

#[test]
fn a_healthy_snapshot_raises_nothing() {
    let mut run = Run::new(Rules::default());
    let mut busy = with_oldest("busy", t0(), 20);
    busy.ready = Count::exact(900);
    busy.running = Count::exact(50);
    busy.oldest_running_started_at = Some(t0() - chrono::Duration::minutes(59));
    run.poll(&snap(t0(), vec![busy, queue("idle")]));
    assert!(run.book.active.is_empty(), "{:?}", run.book.active);
    assert!(run.transitions.is_empty());
}

#[test]
fn oldest_ready_fires_past_five_minutes_not_at_them() {
    let mut run = Run::new(Rules::default());
    run.poll(&snap(t0(), vec![with_oldest("mail", t0(), 300)]));
    assert_eq!(
        run.state(RuleId::OldestReady, q("mail")),
        None,
        "exactly 5 min: no alert"
    );

    run.poll(&snap(at(1), vec![with_oldest("mail", at(1), 301)]));
    let a = run.alert(RuleId::OldestReady, q("mail"));
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.value, Some(301.0));
    assert_eq!(a.threshold, 300.0);
    // Judged from the database's timestamps: the job crossed 5 minutes one second ago.
    assert_eq!(a.since, at(0));
    assert_eq!(a.comparison(), "oldest ready job 5m01s > 5m00s");
    assert_eq!(
        run.transitions,
        [Transition {
            key: AlertKey {
                rule: RuleId::OldestReady,
                subject: q("mail")
            },
            severity: Severity::Critical,
            from: None,
            to: AlertState::Firing,
        }]
    );

    // Drained: resolved, and listed as such.
    let mut drained = queue("mail");
    drained.oldest_ready_at = None;
    run.poll(&snap(at(10), vec![drained]));
    assert_eq!(
        run.state(RuleId::OldestReady, q("mail")),
        Some(AlertState::Resolved)
    );
    assert_eq!(run.book.resolved[0].resolved_at, Some(at(10)));
    assert_eq!(run.transitions[0].to, AlertState::Resolved);
}

#[test]
fn per_queue_overrides_change_threshold_severity_or_switch_off() {
    let mut rules = Rules::default();
    rules.oldest_ready.queues.insert(
        "reports".into(),
        Override {
            threshold: Some(Secs::minutes(30)),
            severity: Some(Severity::Warning),
            ..Override::default()
        },
    );
    rules.oldest_ready.queues.insert(
        "batch".into(),
        Override {
            enabled: Some(false),
            ..Override::default()
        },
    );
    let mut run = Run::new(rules);
    run.poll(&snap(
        t0(),
        vec![
            with_oldest("reports", t0(), 1799),
            with_oldest("batch", t0(), 86_400),
            with_oldest("mail", t0(), 400),
        ],
    ));
    assert_eq!(run.rules_fired(), [RuleId::OldestReady]);
    assert_eq!(
        run.state(RuleId::OldestReady, q("mail")),
        Some(AlertState::Firing)
    );

    run.poll(&snap(at(2), vec![with_oldest("reports", at(2), 1801)]));
    let a = run.alert(RuleId::OldestReady, q("reports"));
    assert_eq!(
        (a.state, a.severity),
        (AlertState::Firing, Severity::Warning)
    );
}

#[test]
fn paused_queues_do_not_alert_on_their_backlog() {
    let mut run = Run::new(Rules::default());
    let mut paused = with_oldest("reports", t0(), 3600);
    paused.ready = Count::exact(50_000);
    paused.paused = Some(PauseInfo {
        at: t0(),
        by: None,
        reason: None,
    });
    paused.dead = Count::exact(2);
    run.poll(&snap(t0(), vec![paused]));
    assert_eq!(run.rules_fired(), [RuleId::DeadLetter]);
}

fn backlog(name: &str, ready: i64) -> QueueStats {
    let mut q = queue(name);
    q.ready = Count::exact(ready);
    q.oldest_ready_at = Some(t0());
    q
}

/// Ready jobs without an old one, so only the count rules speak.
fn backlog_at(name: &str, ready: i64, now: DateTime<Utc>) -> QueueStats {
    let mut q = backlog(name, ready);
    q.oldest_ready_at = Some(now - chrono::Duration::seconds(5));
    q
}

#[test]
fn backlog_is_pending_for_five_minutes_then_fires_then_resolves() {
    let mut run = Run::new(Rules::default());
    run.poll(&snap(t0(), vec![backlog_at("mail", 1000, t0())]));
    assert_eq!(
        run.state(RuleId::Backlog, q("mail")),
        None,
        "1000 is not above 1000"
    );

    run.poll(&snap(at(10), vec![backlog_at("mail", 1001, at(10))]));
    let a = run.alert(RuleId::Backlog, q("mail"));
    assert_eq!((a.state, a.since), (AlertState::Pending, at(10)));
    assert_eq!(a.fired_at, None);

    run.poll(&snap(at(309), vec![backlog_at("mail", 5000, at(309))]));
    let a = run.alert(RuleId::Backlog, q("mail"));
    assert_eq!(a.state, AlertState::Pending, "4m59s of 5m");
    assert_eq!(a.value, Some(5000.0), "the value follows every poll");

    run.poll(&snap(at(310), vec![backlog_at("mail", 5000, at(310))]));
    let a = run.alert(RuleId::Backlog, q("mail"));
    assert_eq!(
        (a.state, a.since, a.fired_at),
        (AlertState::Firing, at(10), Some(at(310)))
    );
    assert_eq!(run.transitions[0].from, Some(AlertState::Pending));

    run.poll(&snap(at(400), vec![backlog_at("mail", 1000, at(400))]));
    assert_eq!(
        run.state(RuleId::Backlog, q("mail")),
        Some(AlertState::Resolved)
    );
    let r = &run.book.resolved[0];
    assert_eq!(
        (r.since, r.fired_at, r.resolved_at),
        (at(10), Some(at(310)), Some(at(400)))
    );

    // Resolved alerts are listed for an hour, then forgotten.
    run.poll(&snap(
        at(400 + 3600),
        vec![backlog_at("mail", 10, at(4000))],
    ));
    assert_eq!(run.book.resolved.len(), 1);
    run.poll(&snap(
        at(401 + 3600),
        vec![backlog_at("mail", 10, at(4001))],
    ));
    assert!(run.book.resolved.is_empty());
}

#[test]
fn a_pending_alert_that_stops_holding_is_dropped_not_resolved() {
    let mut run = Run::new(Rules::default());
    run.poll(&snap(t0(), vec![backlog_at("mail", 2000, t0())]));
    assert_eq!(
        run.state(RuleId::Backlog, q("mail")),
        Some(AlertState::Pending)
    );
    run.poll(&snap(at(60), vec![backlog_at("mail", 10, at(60))]));
    assert_eq!(run.state(RuleId::Backlog, q("mail")), None);
    assert!(run.book.resolved.is_empty());
    // Back above: a new pending period starts from scratch.
    run.poll(&snap(at(120), vec![backlog_at("mail", 2000, at(120))]));
    assert_eq!(run.alert(RuleId::Backlog, q("mail")).since, at(120));
}

#[test]
fn capped_counts_are_at_least_their_cap() {
    let mut rules = Rules::default();
    rules.backlog.for_ = Secs(0.0);
    let mut run = Run::new(rules.clone());
    let mut capped = backlog_at("mail", 0, t0());
    capped.ready = Count::capped_at(1001, 1000);
    run.poll(&snap(t0(), vec![capped.clone()]));
    let a = run.alert(RuleId::Backlog, q("mail"));
    assert!(a.at_least);
    assert_eq!(a.value_text(), "1000+");

    // A cap below the threshold says nothing about it.
    rules.backlog.threshold = Num(5000.0);
    let mut run = Run::new(rules);
    run.poll(&snap(t0(), vec![capped]));
    assert_eq!(run.state(RuleId::Backlog, q("mail")), None);
}

#[test]
fn backlog_above_its_own_normal_for_ten_minutes() {
    let mut rules = Rules::default();
    rules.backlog.enabled = false;
    let mut run = Run::new(rules);
    // An hour of a normal backlog around 100, one poll a minute.
    for m in 0..=60 {
        let now = at(m * 60);
        run.poll(&snap(now, vec![backlog_at("mail", 100, now)]));
    }
    assert!(run.book.active.is_empty());
    let b = run.book.baselines["mail"].value;
    assert!((b - 100.0).abs() < 1e-6, "baseline {b}");

    // 200 is twice the normal, not above it: nothing.
    let now = at(61 * 60);
    run.poll(&snap(now, vec![backlog_at("mail", 200, now)]));
    assert!(run.book.active.is_empty());

    // 500: pending for ten minutes, then firing.
    let start = 62 * 60;
    for m in 0..10 {
        let now = at(start + m * 60);
        run.poll(&snap(now, vec![backlog_at("mail", 500, now)]));
        assert_eq!(
            run.state(RuleId::BacklogBaseline, q("mail")),
            Some(AlertState::Pending),
            "minute {m}"
        );
    }
    let now = at(start + 600);
    run.poll(&snap(now, vec![backlog_at("mail", 500, now)]));
    let a = run.alert(RuleId::BacklogBaseline, q("mail"));
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.value, Some(500.0));
    assert!(
        a.threshold > 200.0 && a.threshold < 230.0,
        "{}",
        a.threshold
    );
    assert!(
        a.detail.as_deref().unwrap().starts_with("normal ≈ 1"),
        "{:?}",
        a.detail
    );
    // The incident barely moved the normal.
    assert!(run.book.baselines["mail"].value < 130.0);

    // Back to normal: resolved.
    let now = at(start + 660);
    run.poll(&snap(now, vec![backlog_at("mail", 100, now)]));
    assert_eq!(
        run.state(RuleId::BacklogBaseline, q("mail")),
        Some(AlertState::Resolved)
    );
}

#[test]
fn backlog_baseline_needs_history_and_a_real_excess() {
    let mut rules = Rules::default();
    rules.backlog.enabled = false;
    rules.backlog_baseline.for_ = Secs(0.0);
    let mut run = Run::new(rules);
    // The very first sample has no normal to be compared with.
    run.poll(&snap(
        t0(),
        vec![backlog_at("small", 10, t0()), backlog_at("big", 5000, t0())],
    ));
    assert!(run.book.active.is_empty());
    // 10 -> 110 is 11 times the normal, but only 100 more jobs: not above min_excess.
    run.poll(&snap(
        at(1),
        vec![
            backlog_at("small", 110, at(1)),
            backlog_at("big", 5000, at(1)),
        ],
    ));
    assert!(run.book.active.is_empty());
    run.poll(&snap(
        at(2),
        vec![
            backlog_at("small", 111, at(2)),
            backlog_at("big", 5000, at(2)),
        ],
    ));
    assert_eq!(run.rules_fired(), [RuleId::BacklogBaseline]);
    assert_eq!(
        run.state(RuleId::BacklogBaseline, q("small")),
        Some(AlertState::Firing)
    );
}

#[test]
fn dead_letter_above_zero_and_dead_spike_above_a_hundred() {
    let mut run = Run::new(Rules::default());
    let mut clean = queue("mail");
    clean.dead_last_hour = Some(Count::exact(0));
    let mut one = queue("web");
    one.dead = Count::exact(1);
    one.dead_last_hour = Some(Count::exact(1));
    let mut hundred = queue("hooks");
    hundred.dead = Count::exact(500);
    hundred.dead_last_hour = Some(Count::exact(100));
    run.poll(&snap(t0(), vec![clean, one.clone(), hundred.clone()]));
    assert_eq!(run.state(RuleId::DeadLetter, q("mail")), None);
    let a = run.alert(RuleId::DeadLetter, q("web"));
    assert_eq!(
        (a.state, a.severity),
        (AlertState::Firing, Severity::Warning)
    );
    assert_eq!(
        run.state(RuleId::DeadLetter, q("hooks")),
        Some(AlertState::Firing)
    );
    assert_eq!(
        run.state(RuleId::DeadSpike, q("hooks")),
        None,
        "100 is not more than 100"
    );

    hundred.dead_last_hour = Some(Count::exact(101));
    run.poll(&snap(at(1), vec![one.clone(), hundred.clone()]));
    let a = run.alert(RuleId::DeadSpike, q("hooks"));
    assert_eq!(
        (a.state, a.severity, a.value),
        (AlertState::Firing, Severity::Critical, Some(101.0))
    );

    // A backend that cannot tell when jobs died: the spike rule is silent, and says why.
    hundred.dead_last_hour = None;
    let s = snap(at(2), vec![hundred]);
    run.poll(&s);
    assert_eq!(
        run.state(RuleId::DeadSpike, q("hooks")),
        Some(AlertState::Resolved)
    );
    assert!(
        unavailable(&run.rules, &s, &CAPS, Mode::Continuous)
            .iter()
            .any(|(r, _)| *r == RuleId::DeadSpike)
    );
}

fn with_history(name: &str, ok: u32, failed: u32) -> QueueStats {
    let mut q = queue(name);
    q.minutes[10] = MinuteBucket {
        succeeded: ok,
        failed,
    };
    q
}

#[test]
fn failure_rate_above_ten_percent_once_enough_attempts_ended() {
    let mut run = Run::new(Rules::default());
    run.poll(&snap(
        t0(),
        vec![
            with_history("exact", 18, 2), // 10.0%: not above
            with_history("above", 17, 3), // 15%
            with_history("few", 5, 5),    // 50%, but only 10 attempts (< 20)
            with_history("quiet", 0, 0),
        ],
    ));
    assert_eq!(run.rules_fired(), [RuleId::FailureRate]);
    let a = run.alert(RuleId::FailureRate, q("above"));
    assert_eq!(
        (a.state, a.severity),
        (AlertState::Firing, Severity::Critical)
    );
    assert_eq!(a.value_text(), "15.0%");
    assert_eq!(a.threshold_text(), "10.0%");
    assert_eq!(a.detail.as_deref(), Some("3 of 20 attempts failed"));
}

#[test]
fn failure_rate_per_kind_with_kind_overrides() {
    let mut rules = Rules::default();
    rules.kind_failure_rate.kinds.insert(
        "flaky".into(),
        Override {
            threshold: Some(Ratio(0.5)),
            ..Override::default()
        },
    );
    let mut run = Run::new(rules);
    let mut mail = queue("mail");
    let kind = |k: &str, ok: u64, failed: u64| KindOutcomes {
        kind: k.into(),
        succeeded: ok,
        failed,
    };
    mail.kinds = Some(vec![
        kind("send", 80, 20),  // 20%
        kind("digest", 99, 1), // 1%
        kind("flaky", 60, 40), // 40%, under its own 50%
    ]);
    run.poll(&snap(t0(), vec![mail]));
    let send = Subject::Kind {
        queue: "mail".into(),
        kind: "send".into(),
    };
    assert_eq!(run.rules_fired(), [RuleId::KindFailureRate]);
    let a = run.alert(RuleId::KindFailureRate, send.clone());
    assert_eq!(
        (a.state, a.severity),
        (AlertState::Firing, Severity::Warning)
    );
    assert_eq!(send.label(), "kind mail/send");
    // The queue row carries the kind's marker.
    assert_eq!(
        run.book.worst_for_queue("mail"),
        Some((AlertState::Firing, Severity::Warning))
    );
}

#[test]
fn worker_down_after_five_minutes_of_silence() {
    let mut run = Run::new(Rules::default());
    let now = t0();
    let mut s = snap(now, vec![queue("mail")]);
    s.workers = vec![
        worker("at-limit", Some(300), 2, &["mail"], now),
        worker("silent", Some(301), 2, &["mail"], now),
        worker("stopped", Some(7200), 0, &["mail"], now),
        worker("stuck", Some(7200), 3, &["mail"], now),
        worker("ghost", None, 1, &[], now),
        worker("fine", Some(2), 4, &["mail"], now),
    ];
    run.poll(&s);
    let down: Vec<String> = run
        .book
        .active
        .keys()
        .map(|k| k.subject.worker_id().unwrap().to_string())
        .collect();
    // "stopped" holds nothing and has been silent past forget_idle_after (1 h).
    assert_eq!(down, ["ghost", "silent", "stuck"]);
    let a = run.alert(
        RuleId::WorkerDown,
        Subject::Worker {
            id: "silent".into(),
        },
    );
    assert_eq!((a.state, a.since), (AlertState::Firing, at(-1)));
    let ghost = run.alert(RuleId::WorkerDown, Subject::Worker { id: "ghost".into() });
    assert_eq!(ghost.value, None);
    assert_eq!(ghost.value_text(), "never");
    assert_eq!(
        run.book.worst_for_worker("stuck"),
        Some((AlertState::Firing, Severity::Critical))
    );
    assert_eq!(run.book.worst_for_worker("fine"), None);

    // Without a worker table, nothing is said about workers, and why is told.
    let caps = Capabilities {
        workers: Support::No("no worker table"),
        heartbeats: Support::No("no heartbeats"),
        ..CAPS
    };
    let (book, _) = evaluate(
        &Rules::default(),
        &AlertBook::default(),
        &Observation::Snapshot {
            snapshot: &s,
            capabilities: &caps,
        },
        now,
        Mode::Continuous,
    );
    assert!(book.active.is_empty());
    let why = unavailable(&Rules::default(), &s, &caps, Mode::Continuous);
    assert!(why.iter().any(|(r, _)| *r == RuleId::WorkerDown));
    assert!(why.iter().any(|(r, _)| *r == RuleId::NoWorker));

    // Workers known only from the jobs they hold (River, Oban): an idle one is invisible,
    // so a backlog with nobody running it is not called "no worker".
    let caps = Capabilities {
        workers: Support::Yes,
        heartbeats: Support::No("no heartbeats"),
        ..CAPS
    };
    let mut s = s.clone();
    s.queues = vec![backlog_at("mail", 5, now)];
    s.workers = Vec::new();
    let (book, _) = evaluate(
        &Rules::default(),
        &AlertBook::default(),
        &Observation::Snapshot {
            snapshot: &s,
            capabilities: &caps,
        },
        now,
        Mode::Continuous,
    );
    assert!(
        !book.active.keys().any(|k| k.rule == RuleId::NoWorker),
        "{:?}",
        book.active
    );
    let why = unavailable(&Rules::default(), &s, &caps, Mode::Continuous);
    assert!(why.contains(&(RuleId::NoWorker, "this backend has no worker heartbeats")));
}

#[test]
fn no_live_worker_for_a_queue_with_a_backlog() {
    let mut run = Run::new(Rules::default());
    let mk = |now: DateTime<Utc>, workers: Vec<WorkerInfo>| {
        let mut s = snap(
            now,
            vec![
                backlog_at("mail", 5, now),
                backlog_at("empty", 0, now),
                backlog_at("any", 5, now),
            ],
        );
        s.workers = workers;
        s
    };
    let now = t0();
    run.poll(&mk(
        now,
        vec![
            worker("dead", Some(600), 1, &["mail", "any"], now),
            worker("other", Some(1), 0, &["web"], now),
        ],
    ));
    let a = run.alert(RuleId::NoWorker, q("mail"));
    assert_eq!(
        (a.state, a.value),
        (AlertState::Pending, Some(5.0)),
        "for 1m by default"
    );
    assert_eq!(run.state(RuleId::NoWorker, q("empty")), None, "no backlog");
    run.poll(&mk(
        at(60),
        vec![worker("dead", Some(660), 1, &["mail"], at(60))],
    ));
    assert_eq!(
        run.state(RuleId::NoWorker, q("mail")),
        Some(AlertState::Firing)
    );
    assert_eq!(
        run.state(RuleId::NoWorker, q("any")),
        Some(AlertState::Firing)
    );

    // A worker comes back: resolved. One that lists no queues may serve any of them.
    run.poll(&mk(
        at(90),
        vec![
            worker("back", Some(3), 0, &["mail"], at(90)),
            worker("generic", Some(3), 0, &[], at(90)),
        ],
    ));
    assert_eq!(
        run.state(RuleId::NoWorker, q("mail")),
        Some(AlertState::Resolved)
    );
    assert_eq!(
        run.state(RuleId::NoWorker, q("any")),
        Some(AlertState::Resolved)
    );
}

#[test]
fn slow_jobs_past_an_hour() {
    let mut run = Run::new(Rules::default());
    let mut at_limit = queue("a");
    at_limit.oldest_running_started_at = Some(t0() - chrono::Duration::seconds(3600));
    let mut over = queue("b");
    over.oldest_running_started_at = Some(t0() - chrono::Duration::seconds(3700));
    run.poll(&snap(t0(), vec![at_limit, over]));
    assert_eq!(run.state(RuleId::SlowJob, q("a")), None);
    let a = run.alert(RuleId::SlowJob, q("b"));
    assert_eq!(
        (a.state, a.severity, a.since),
        (AlertState::Firing, Severity::Warning, at(-100))
    );
    assert_eq!(a.comparison(), "job running long 1h01m > 1h00m");
}

/// A backend that keeps no start time (a profile without one): running jobs and no
/// longest-running figure, so the slow-job rule cannot fire and says why; with a start
/// time, or with nothing running, it is evaluated.
#[test]
fn slow_job_not_evaluated_where_running_jobs_have_no_start_time() {
    let slow = |running: i64, started: Option<DateTime<Utc>>| {
        let mut q = queue("a");
        q.running = Count::exact(running);
        q.oldest_running_started_at = started;
        let s = snap(t0(), vec![q]);
        unavailable(&Rules::default(), &s, &CAPS, Mode::Continuous)
            .into_iter()
            .find(|(r, _)| *r == RuleId::SlowJob)
    };
    assert_eq!(
        slow(2, None),
        Some((
            RuleId::SlowJob,
            "this backend keeps no start time of running jobs"
        ))
    );
    assert_eq!(slow(2, Some(t0())), None);
    assert_eq!(slow(0, None), None, "nothing running: nothing to judge");
}

/// Every rule, on a backend that keeps the least (no history, no workers, no start times,
/// no per-kind figures, no dead times): the rules it cannot judge are listed, each with a
/// reason, and the rest are the ones every backend's counts feed.
#[test]
fn every_rule_is_evaluated_or_listed_with_its_reason() {
    let mut q = QueueStats::new("a");
    q.running = Count::exact(1);
    let s = snap(t0(), vec![q]);
    let caps = Capabilities {
        workers: Support::No("no worker table"),
        heartbeats: Support::No("no heartbeats"),
        ..CAPS
    };
    let listed: Vec<RuleId> = unavailable(&Rules::default(), &s, &caps, Mode::OneShot)
        .into_iter()
        .map(|(r, why)| {
            assert!(!why.is_empty(), "{r:?} says why");
            r
        })
        .collect();
    // The schedule rules are judged from the schedules, which say themselves which sources
    // are absent.
    let from_counts = [
        RuleId::OldestReady,
        RuleId::Backlog,
        RuleId::DeadLetter,
        RuleId::HeartbeatBudget,
        RuleId::ScheduleMissed,
        RuleId::ScheduleFailed,
        RuleId::ScheduleFailing,
        RuleId::ScheduleOverrun,
        RuleId::NetFailures,
    ];
    for rule in RuleId::ALL {
        let tenants = rule == RuleId::TenantHeartbeatBudget && !Rules::default().needs_tenants();
        assert!(
            from_counts.contains(&rule) != listed.contains(&rule) || tenants,
            "{rule:?}: evaluated from the counts, or listed as not evaluated: {listed:?}"
        );
    }
}

#[test]
fn database_unreachable_pending_then_firing_after_two_minutes_and_other_alerts_kept() {
    let mut run = Run::new(Rules::default());
    let mut dead = queue("mail");
    dead.dead = Count::exact(3);
    run.poll(&snap(t0(), vec![dead.clone()]));
    assert_eq!(
        run.state(RuleId::DeadLetter, q("mail")),
        Some(AlertState::Firing)
    );

    let down = at(5);
    run.fail(down, at(5));
    let db = run.alert(RuleId::DbUnreachable, Subject::Database);
    assert_eq!((db.state, db.since), (AlertState::Pending, down));
    // What was known stays as it was, neither resolved nor advanced.
    assert_eq!(
        run.state(RuleId::DeadLetter, q("mail")),
        Some(AlertState::Firing)
    );

    run.fail(down, at(5 + 120));
    assert_eq!(
        run.state(RuleId::DbUnreachable, Subject::Database),
        Some(AlertState::Pending)
    );
    run.fail(down, at(5 + 121));
    let db = run.alert(RuleId::DbUnreachable, Subject::Database);
    assert_eq!(db.state, AlertState::Firing);
    assert_eq!(db.value_text(), "2m01s");
    assert_eq!(db.threshold_text(), "2m00s");
    assert_eq!(run.transitions.len(), 1);
    assert_eq!(run.transitions[0].severity, Severity::Critical);

    // Back: the database alert resolves, the queue's alert carries on.
    run.poll(&snap(at(200), vec![dead]));
    assert_eq!(
        run.state(RuleId::DbUnreachable, Subject::Database),
        Some(AlertState::Resolved)
    );
    assert_eq!(
        run.state(RuleId::DeadLetter, q("mail")),
        Some(AlertState::Firing)
    );
    assert_eq!(run.alert(RuleId::DeadLetter, q("mail")).since, t0());
}

#[test]
fn heartbeat_budgets_are_off_by_default_and_judged_per_tenant_and_overall() {
    let mut busy = queue("mail");
    busy.running = Count::exact(400);
    let mut s = snap(t0(), vec![busy]);
    s.running_by_tenant = Some(vec![
        TenantRunning {
            tenant: Some("acme".into()),
            running: 11,
        },
        TenantRunning {
            tenant: Some("beta".into()),
            running: 10,
        },
        TenantRunning {
            tenant: None,
            running: 379,
        },
    ]);
    let mut run = Run::new(Rules::default());
    run.poll(&s);
    assert!(run.book.active.is_empty());

    let mut rules = Rules::default();
    rules.tenant_heartbeat_budget.enabled = true;
    rules.tenant_heartbeat_budget.threshold = Num(20.0); // per minute
    rules.tenant_heartbeat_budget.tenants.insert(
        "-".into(),
        Override {
            enabled: Some(false),
            ..Override::default()
        },
    );
    rules.heartbeat_budget.enabled = true;
    rules.heartbeat_budget.threshold = Num(800.0);
    assert!(rules.needs_tenants());
    let mut run = Run::new(rules.clone());
    run.poll(&s);
    // 30 s heartbeats: acme 11 jobs = 22/min (> 20), beta 10 = 20/min (not above);
    // overall 400 jobs = 800/min (not above).
    let fired: Vec<&Subject> = run.book.active.keys().map(|k| &k.subject).collect();
    assert_eq!(
        fired,
        [&Subject::Tenant {
            id: Some("acme".into())
        }]
    );
    assert_eq!(
        run.alert(
            RuleId::TenantHeartbeatBudget,
            Subject::Tenant {
                id: Some("acme".into())
            }
        )
        .value_text(),
        "22/min"
    );
    s.queues[0].running = Count::exact(401);
    run.poll(&s);
    assert_eq!(
        run.state(RuleId::HeartbeatBudget, Subject::All),
        Some(AlertState::Firing)
    );
}

#[test]
fn one_shot_takes_for_as_instantaneous_unless_the_database_can_judge_it() {
    let mut rules = Rules::default();
    rules.oldest_ready.for_ = Secs::minutes(2);
    let s = snap(
        t0(),
        vec![
            backlog_at("big", 2000, t0()),
            with_oldest("young", t0(), 360), // past 5m by 1m: not yet 2m
            with_oldest("old", t0(), 430),   // past 5m by 2m10s
        ],
    );
    let obs = Observation::Snapshot {
        snapshot: &s,
        capabilities: &CAPS,
    };
    let (book, _) = evaluate(&rules, &AlertBook::default(), &obs, t0(), Mode::OneShot);
    let state = |rule, name: &str| {
        book.active
            .get(&AlertKey {
                rule,
                subject: q(name),
            })
            .map(|a| a.state)
    };
    assert_eq!(state(RuleId::Backlog, "big"), Some(AlertState::Firing));
    assert_eq!(
        state(RuleId::OldestReady, "young"),
        Some(AlertState::Pending)
    );
    assert_eq!(state(RuleId::OldestReady, "old"), Some(AlertState::Firing));
    let a = &book.active[&AlertKey {
        rule: RuleId::OldestReady,
        subject: q("old"),
    }];
    assert_eq!(
        a.fired_at,
        Some(at(-10)),
        "crossed its `for` ten seconds ago"
    );
    assert_eq!(book.worst_firing(), Some(Severity::Critical));
    let why: Vec<RuleId> = unavailable(&rules, &s, &CAPS, Mode::OneShot)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(why, [RuleId::BacklogBaseline, RuleId::DbUnreachable]);
}

#[test]
fn display_order_firing_critical_first_then_pending_then_resolved() {
    let mut run = Run::new(Rules::default());
    let mut web = queue("web");
    web.dead = Count::exact(1);
    run.poll(&snap(
        t0(),
        vec![web.clone(), backlog_at("big", 2000, t0())],
    ));
    run.poll(&snap(
        at(10),
        vec![
            web,
            with_oldest("mail", at(10), 900),
            backlog_at("big", 2000, at(10)),
        ],
    ));
    run.poll(&snap(
        at(20),
        vec![
            with_oldest("mail", at(20), 910),
            backlog_at("big", 2000, at(20)),
        ],
    ));
    let order: Vec<(RuleId, AlertState)> = run
        .book
        .display_order()
        .iter()
        .map(|a| (a.key.rule, a.state))
        .collect();
    assert_eq!(
        order,
        [
            (RuleId::OldestReady, AlertState::Firing),
            (RuleId::Backlog, AlertState::Pending),
            (RuleId::DeadLetter, AlertState::Resolved),
        ]
    );
    let tally = run.book.tally();
    assert_eq!(
        (
            tally.firing_critical,
            tally.firing_warning,
            tally.pending,
            tally.resolved
        ),
        (1, 0, 1, 1)
    );
}

#[test]
fn a_firing_alert_is_announced_once() {
    let mut run = Run::new(Rules::default());
    run.poll(&snap(t0(), vec![with_oldest("mail", t0(), 400)]));
    assert_eq!(run.transitions.len(), 1);
    run.poll(&snap(at(1), vec![with_oldest("mail", at(1), 401)]));
    assert!(run.transitions.is_empty());
    assert_eq!(
        run.alert(RuleId::OldestReady, q("mail")).fired_at,
        Some(at(-100))
    );
    let _ = Duration::ZERO;
}
