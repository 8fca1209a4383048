//! The schedules view (`C`), a schedule's run history (Enter) and the overview's line when a
//! schedule is wrong, drawn into ratatui's TestBackend.

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent};
use jobtop::app::{App, Msg};
use jobtop::backend::Count;
use jobtop::backend::schedules::{NetStats, RunStatus, Schedule, ScheduleRun, Schedules};

use crate::ui_data::{config, render, snapshot_at, t0};

/// Half a minute past t0's minute.
fn now() -> chrono::DateTime<chrono::Utc> {
    t0() + Duration::seconds(30)
}

fn run(id: i64, ago_secs: i64, took_ms: i64, status: RunStatus, message: &str) -> ScheduleRun {
    let started = now() - Duration::seconds(ago_secs);
    ScheduleRun {
        id: id.to_string(),
        started_at: Some(started),
        ended_at: (status != RunStatus::Running).then(|| started + Duration::milliseconds(took_ms)),
        status,
        message: Some(message.to_string()),
        message_len: Some(message.len() as i64),
    }
}

fn every_minute(
    id: &str,
    name: &str,
    active: bool,
    runs: Vec<ScheduleRun>,
    failed: i64,
) -> Schedule {
    Schedule {
        source: "pg_cron".into(),
        id: id.into(),
        name: name.into(),
        expression: "* * * * *".into(),
        timezone: None,
        command: Some(format!("SELECT {name}()")),
        active,
        period_seconds: Some(60.0),
        next_due_at: active.then(|| now() + Duration::seconds(30)),
        runs,
        failures_24h: Count::exact(failed),
        runs_read_since: None,
        never_ran: false,
    }
}

/// Half a minute past a minute: a job that ran at each minute, one failing, one deactivated
/// three minutes ago (its last run 210 s ago: missed), pg_net failing a fifth.
fn app() -> App {
    let ok: Vec<ScheduleRun> = (0..6)
        .map(|i| run(100 - i, 30 + 60 * i, 40, RunStatus::Succeeded, "SELECT 1"))
        .collect();
    let failing: Vec<ScheduleRun> = (0..6)
        .map(|i| {
            let status = if i < 3 {
                RunStatus::Failed
            } else {
                RunStatus::Succeeded
            };
            run(
                200 - i,
                30 + 60 * i,
                12,
                status,
                "ERROR: permission denied for table events",
            )
        })
        .collect();
    let off = vec![run(300, 210, 25, RunStatus::Succeeded, "SELECT 1")];
    let mut snap = snapshot_at(Duration::seconds(30));
    snap.schedules = Some(Box::new(Schedules {
        schedules: vec![
            every_minute("1", "refresh_rollups", true, ok, 0),
            every_minute("2", "call-worker-endpoint", true, failing, 3),
            every_minute("3", "nightly_vacuum_report", false, off, 0),
        ],
        net: Some(NetStats {
            queued: Count::exact(4),
            ok_2xx: 40,
            redirect_3xx: 0,
            client_4xx: 10,
            server_5xx: 0,
            errors: 0,
            last_error: Some("HTTP 401".into()),
        }),
        present: vec!["pg_cron".into(), "pg_net".into()],
        absent: vec![],
        errors: vec![],
    }));
    let mut app = App::new(config(), std::time::Duration::from_secs(1), now());
    app.update(Msg::Polled {
        result: Ok(snap),
        at: now(),
    });
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::from(code)));
}

#[test]
fn schedules_view_160x48() {
    let mut app = app();
    key(&mut app, KeyCode::Char('C'));
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("3 schedules · 1 failing · 1 missed · 1 deactivated"),
        "{screen}"
    );
    assert!(screen.contains("MISSED"), "{screen}");
    assert!(
        screen.contains("ERROR: permission denied for table"),
        "{screen}"
    );
    assert!(screen.contains("20.0% not 2xx"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn schedules_view_80x24() {
    let mut app = app();
    key(&mut app, KeyCode::Char('C'));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("pg_cron call-worker-e"), "{screen}");
    assert!(screen.contains("MISSED"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn run_history_on_enter() {
    let mut app = app();
    key(&mut app, KeyCode::Char('C'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let screen = render(&app, 100, 24);
    assert!(screen.contains("pg_cron/call-worker-endpoint"), "{screen}");
    assert_eq!(screen.matches("failed").count(), 3, "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn overview_says_when_a_schedule_is_wrong() {
    let app = app();
    let screen = render(&app, 160, 48);
    let line = screen
        .lines()
        .find(|l| l.contains("SCHEDULES"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("schedule pg_cron/"), "{line}");
    assert!(line.contains("(+2 more)"), "{line}");
    insta::assert_snapshot!(screen);
    insta::assert_snapshot!("overview_80x24", render(&app, 80, 24));
}

/// `p` on a pg_cron job asks the gate to plan its deactivation (or activation); `R` on it
/// says pg_cron has no run-now; read-only refuses both, as it refuses the queue actions.
#[test]
fn schedule_keys_ask_the_gate_or_say_why_not() {
    use jobtop::app::Effect;
    use jobtop::backend::Action;
    use jobtop::backend::actions::{ScheduleOp, ScheduleTarget};

    let planned = |effects: Vec<Effect>| -> Option<Action> {
        effects.into_iter().find_map(|e| match e {
            Effect::PlanAction { action, .. } => Some(*action),
            _ => None,
        })
    };
    let mut monitor = app();
    key(&mut monitor, KeyCode::Char('C'));
    let effects = monitor.update(Msg::Key(KeyEvent::from(KeyCode::Char('p'))));
    let screen = render(&monitor, 160, 48);
    assert_eq!(
        planned(effects),
        Some(Action::Schedule {
            op: ScheduleOp::Deactivate,
            target: ScheduleTarget {
                source: "pg_cron".into(),
                id: "1".into(),
                name: "refresh_rollups".into(),
            },
        }),
        "{screen}"
    );
    key(&mut monitor, KeyCode::Esc);
    // The deactivated one, third: activate.
    key(&mut monitor, KeyCode::Down);
    key(&mut monitor, KeyCode::Down);
    let effects = monitor.update(Msg::Key(KeyEvent::from(KeyCode::Char('p'))));
    assert!(matches!(
        planned(effects),
        Some(Action::Schedule {
            op: ScheduleOp::Activate,
            ..
        })
    ));
    key(&mut monitor, KeyCode::Esc);
    let effects = monitor.update(Msg::Key(KeyEvent::from(KeyCode::Char('R'))));
    assert_eq!(planned(effects), None);
    let screen = render(&monitor, 160, 48);
    assert!(screen.contains("pg_cron has no run-now"), "{screen}");

    let mut read_only = app();
    read_only.config.read_only = true;
    key(&mut read_only, KeyCode::Char('C'));
    let effects = read_only.update(Msg::Key(KeyEvent::from(KeyCode::Char('p'))));
    assert_eq!(planned(effects), None);
    let screen = render(&read_only, 160, 48);
    assert!(screen.contains("read-only"), "{screen}");
}

#[test]
fn slash_filters_and_sort_keys_order_the_schedules() {
    let mut app = app();
    key(&mut app, KeyCode::Char('C'));
    key(&mut app, KeyCode::Char('/'));
    for c in "vacuum".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let Some(jobtop::app::views::View::Schedules(v)) = app.top_view() else {
        panic!("schedules view")
    };
    assert_eq!(app.schedule_keys_narrowed(&v.narrow), ["pg_cron/3"]);
    let screen = render(&app, 120, 30);
    assert!(screen.contains("nightly_vacuum_report") && !screen.contains("refresh_rollups"));
    key(&mut app, KeyCode::Esc);
    // `>`: by name.
    key(&mut app, KeyCode::Char('>'));
    let Some(jobtop::app::views::View::Schedules(v)) = app.top_view() else {
        panic!("schedules view")
    };
    assert_eq!(
        app.schedule_keys_narrowed(&v.narrow),
        ["pg_cron/2", "pg_cron/3", "pg_cron/1"]
    );
}
