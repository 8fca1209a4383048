//! Fixed drill-down data for state and rendering tests, at the same database time as
//! `ui_data` (t0), and helpers to answer an app's loads.
#![allow(dead_code)]

use chrono::Duration;
use jobtop::app::{App, Effect, Msg};
use jobtop::backend::drill::{
    AttemptError, DeadLetterReport, DeadWindow, ErrorGroup, HistoryWindow, JobDetail, JobPage,
    JobRow, KindStats, KindsReport, Request, Response, TenantStats, TenantsReport,
};
use jobtop::backend::{Count, JobId, JobState};

pub use crate::actions_ui::{code, key};
use crate::ui_data::t0;

/// The one load among `effects`.
pub fn load(effects: &[Effect]) -> (u64, Request) {
    let loads: Vec<(u64, Request)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Load { ticket, request } => Some((*ticket, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(loads.len(), 1, "expected one load in {effects:?}");
    loads.into_iter().next().unwrap()
}

/// Sends `msg`, then answers the load it asked for with `response`.
pub fn answer(app: &mut App, msg: Msg, response: Response) -> Request {
    let effects = app.update(msg);
    let (ticket, request) = load(&effects);
    app.update(Msg::Loaded {
        ticket,
        result: Ok(response),
    });
    request
}

pub fn row(id: i64, state: JobState) -> JobRow {
    let ago = |s: i64| t0() - Duration::seconds(s);
    JobRow {
        id: JobId::Int(id),
        queue: "mailers".into(),
        kind: "email.send".into(),
        tenant: Some("acme".into()),
        state,
        priority: Some(0),
        attempts: Some(if state == JobState::Dead { 5 } else { 1 }),
        max_attempts: Some(5),
        run_at: Some(ago(900 - id % 100)),
        created_at: Some(ago(1000)),
        started_at: Some(ago(120 + id % 7)),
        finished_at: matches!(
            state,
            JobState::Dead | JobState::Succeeded | JobState::Cancelled
        )
        .then(|| ago(60 + id % 50)),
        worker: (state == JobState::Running).then(|| "worker-a".to_string()),
        heartbeat_at: (state == JobState::Running).then(|| ago(2)),
        worker_heartbeat_at: None,
        last_error: (state == JobState::Dead)
            .then(|| format!("SMTP 550 mailbox unavailable for user {id}\n  at smtp.rb:42")),
        error_bytes: if state == JobState::Dead { 60 } else { 0 },
    }
}

pub fn page(ids: std::ops::Range<i64>, state: JobState, has_more: bool) -> JobPage {
    JobPage {
        db_now: t0(),
        rows: ids.map(|id| row(id, state)).collect(),
        has_more,
        scope_count: Count::exact(64),
        scope_estimate: None,
    }
}

pub fn detail(id: i64) -> JobDetail {
    let mut job = row(id, JobState::Dead);
    job.last_error = Some("SMTP 550 mailbox unavailable for user 48213\n  at smtp.rb:42".into());
    let at = |s: i64| Some(t0() - Duration::seconds(s));
    JobDetail {
        db_now: t0(),
        job,
        failed_at: at(60),
        idempotency_key: Some("welcome-48213".into()),
        payload: Some(r#"{"to": "alice@example.com", "user_id": 48213, "vars": {"name": "Alice", "tags": ["new", "eu"]}, "opt_in": true, "coupon": null}"#.into()),
        payload_bytes: 118,
        payload_truncated: false,
        payload_form: Default::default(),
        errors: (1..=3)
            .rev()
            .map(|n| AttemptError {
                at: at(60 + (3 - n) * 120),
                attempt: Some(n),
                worker: Some(format!("worker-{n}")),
                error: format!(
                    "SMTP 550 mailbox unavailable for user 48213\n  at smtp.rb:42\n  at mailer.rb:{}",
                    10 + n
                ),
                error_bytes: 70,
            })
            .collect(),
        error_count: 3,
    }
}

pub fn dead_report() -> DeadLetterReport {
    let g = |sig: &str,
             sample: &str,
             count: i64,
             kinds: &[(&str, i64)],
             queue: &str,
             first: i64,
             last: i64,
             ids: Vec<i64>| ErrorGroup {
        signature: sig.into(),
        sample: sample.into(),
        count,
        kinds: kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        queues: vec![(queue.into(), count)],
        first_seen: t0() - Duration::seconds(first),
        last_seen: t0() - Duration::seconds(last),
        ids: ids.into_iter().map(JobId::Int).collect(),
    };
    DeadLetterReport {
        db_now: t0(),
        window: DeadWindow::Day,
        groups: vec![
            g(
                "SMTP <n> mailbox unavailable for user <n>",
                "SMTP 550 mailbox unavailable for user 48213\n  at smtp.rb:42",
                37,
                &[("email.send", 30), ("email.digest", 7)],
                "mailers",
                7200,
                12,
                (48200..48237).rev().collect(),
            ),
            g(
                "HTTP <n> from '?'",
                "HTTP 503 from 'https://hooks.example.com/h/77'",
                21,
                &[("webhook.deliver", 21)],
                "webhooks",
                3000,
                40,
                (9000..9021).rev().collect(),
            ),
            g(
                "PG::UniqueViolation: duplicate key value violates unique constraint \"?\"",
                "PG::UniqueViolation: duplicate key value violates unique constraint \"invoices_pkey\"",
                2,
                &[("billing.invoice", 2)],
                "billing",
                80_000,
                50_000,
                vec![77, 76],
            ),
        ],
        jobs: 60,
        capped: false,
        covered_since: None,
    }
}

pub fn kinds_report() -> KindsReport {
    let k =
        |kind: &str, ok: i64, failed: i64, dead: i64, p50: f64, p95: f64, wait: f64| KindStats {
            kind: kind.into(),
            succeeded: ok,
            failed_attempts: failed,
            dead,
            run_p50: Some(p50),
            run_p95: Some(p95),
            wait_p50: Some(wait),
        };
    KindsReport {
        db_now: t0(),
        window: HistoryWindow::Hour,
        kinds: vec![
            k("webhook.deliver", 410, 190, 21, 0.84, 12.5, 75.0),
            k("email.send", 1200, 62, 30, 0.31, 1.2, 420.0),
            k("billing.invoice", 88, 2, 2, 2.4, 9.9, 0.8),
            k("report.build", 12, 0, 0, 95.0, 240.0, 3.0),
        ],
        covered_since: None,
        counted_by_hour: false,
    }
}

pub fn tenants_report() -> TenantsReport {
    let t = |name: Option<&str>, running: i64, beating: i64, ready: Count| TenantStats {
        tenant: name.map(Into::into),
        running,
        beating,
        ready,
    };
    TenantsReport {
        db_now: t0(),
        tenants: vec![
            t(Some("acme"), 9, 8, Count::capped_at(10_001, 10_000)),
            t(Some("globex"), 4, 4, Count::exact(120)),
            t(None, 2, 2, Count::exact(3)),
            t(Some("initech"), 0, 0, Count::exact(12)),
        ],
    }
}
