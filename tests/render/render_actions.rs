//! Action dialogs, the audit pane, the toast and read-only mode drawn into ratatui's
//! TestBackend and compared with stored snapshots (`tests/render/snapshots/`).

use crossterm::event::KeyCode;
use jobtop::app::{App, Msg};
use jobtop::backend::{Action, AuditEntry, JobId, JobState, JobTarget, Plan};

use crate::actions_ui::*;
use crate::ui_data;
use crate::ui_data::{app_with_data, render, t0};

fn retry_37() -> App {
    let mut app = app_with_data(chrono::Duration::zero());
    let plan = plan(
        Action::Retry(JobTarget::Matching {
            filter: jobtop::backend::JobFilter::queue("mailers", JobState::Dead),
            limit: None,
        }),
        "mailers",
        "email.send",
        JobState::Dead,
        37,
    );
    let effects = app.request_action(plan.action.clone(), false);
    let (request, _) = planned_request(&effects);
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(plan)),
    });
    app
}

#[test]
fn confirm_retry_80x24() {
    let app = retry_37();
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("Retry 37 dead jobs of kind `email.send` in queue `mailers`?"),
        "{screen}"
    );
    assert!(
        screen.contains("[ Don't retry ]   [ Retry 37 jobs ]"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn confirm_retry_160x48() {
    insta::assert_snapshot!(render(&retry_37(), 160, 48));
}

fn phased_typed() -> App {
    let mut app = app_with_data(chrono::Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 240));
    app.update(code(KeyCode::Right));
    typed(&mut app, "webho");
    app.update(code(KeyCode::Enter));
    app
}

#[test]
fn confirm_typed_and_phased_80x24() {
    let screen = render(&phased_typed(), 80, 24);
    assert!(
        screen.contains("Type `webhooks` to confirm: webho"),
        "{screen}"
    );
    assert!(
        screen.contains("type `webhooks` exactly to confirm"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn confirm_typed_and_phased_160x48() {
    insta::assert_snapshot!(render(&phased_typed(), 160, 48));
}

#[test]
fn confirm_delete_80x24() {
    let mut app = app_with_data(chrono::Duration::zero());
    let mut p = plan(
        Action::Delete(JobTarget::Ids([1000, 1001, 1002].map(JobId::Int).to_vec())),
        "mailers",
        "email.send",
        JobState::Cancelled,
        3,
    );
    p.blocked = vec![(JobState::Running, 1)];
    confirm(&mut app, p);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Delete 3 cancelled jobs"), "{screen}");
    assert!(screen.contains("Type `mailers` to confirm:"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn pause_with_reason_80x24() {
    let mut app = app_with_data(chrono::Duration::zero());
    let action = Action::Pause {
        queue: "mailers".into(),
        reason: None,
    };
    let mut p = Plan::empty(action.clone());
    p.eligible = 1;
    confirm(&mut app, p);
    typed(&mut app, "smtp relay down");
    insta::assert_snapshot!(render(&app, 80, 24));
}

fn running_app() -> App {
    let mut app = app_with_data(chrono::Duration::zero());
    confirm(&mut app, dead_retry("mailers", "email.send", 5_000));
    app.update(code(KeyCode::Left));
    typed(&mut app, "mailers");
    let (run, plan) = run_of(&app.update(code(KeyCode::Enter)));
    app.update(Msg::ActionProgress {
        run,
        progress: Box::new(outcome(&plan, 2_990, 3, false)),
    });
    app
}

#[test]
fn running_80x24() {
    let screen = render(&running_app(), 80, 24);
    assert!(
        screen.contains("batch 3 of 5 · 2,990 retried · 10 had moved on"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn running_stopping_160x48() {
    let mut app = running_app();
    app.update(code(KeyCode::Esc));
    let screen = render(&app, 160, 48);
    assert!(screen.contains("stopping after this batch…"), "{screen}");
    insta::assert_snapshot!(screen);
}

fn phased_watching() -> App {
    let mut app = app_with_data(chrono::Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 200));
    app.update(code(KeyCode::Right));
    typed(&mut app, "webhooks");
    let (run, phase1) = run_of(&app.update(code(KeyCode::Enter)));
    app.update(Msg::ActionDone {
        run,
        result: Ok(Box::new(outcome(&phase1, 10, 1, true))),
    });
    let mut states: Vec<(JobId, JobState)> = phase1
        .ids
        .iter()
        .map(|id| (id.clone(), JobState::Succeeded))
        .collect();
    states[6].1 = JobState::Running;
    states[8].1 = JobState::Dead;
    states[9].1 = JobState::Retrying;
    app.update(Msg::Watched { result: Ok(states) });
    app.update(code(KeyCode::Right));
    app
}

#[test]
fn phased_watching_80x24() {
    let screen = render(&phased_watching(), 80, 24);
    assert!(
        screen.contains("✓ 7 succeeded · ✗ 2 failed again · 1 waiting"),
        "{screen}"
    );
    assert!(screen.contains("[ Retry phase 2: 20 jobs ]"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn phased_watching_160x48() {
    insta::assert_snapshot!(render(&phased_watching(), 160, 48));
}

fn audit_app() -> App {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key('L'));
    let entry = |id: i64,
                 mins: i64,
                 action: &str,
                 queue: Option<&str>,
                 count: i64,
                 outcome: &str,
                 detail: &str| AuditEntry {
        id,
        at: t0() - chrono::Duration::minutes(mins),
        actor: "alice@jump-1 (ops)".into(),
        action: action.into(),
        queue: queue.map(str::to_string),
        job_ids: (count <= 3).then(|| (1..=count).map(JobId::Int).collect()),
        count: Some(count),
        params: serde_json::json!({"requested": count}),
        outcome: outcome.into(),
        detail: Some(detail.into()),
    };
    app.update(Msg::AuditLoaded {
        result: Ok(vec![
            entry(5, 1, "retry", Some("webhooks"), 20, "ok", "retried 20 jobs"),
            entry(4, 3, "retry", Some("webhooks"), 10, "ok", "retried 10 jobs"),
            entry(
                3,
                7,
                "reset_stuck",
                Some("billing"),
                3,
                "ok",
                "reset 3 jobs",
            ),
            entry(
                2,
                9,
                "retry",
                Some("mailers"),
                35,
                "partial",
                "retried 35 of 37 jobs; 2 had already moved on",
            ),
            entry(
                1,
                10,
                "pause",
                Some("reports"),
                1,
                "ok",
                "paused queue `reports`",
            ),
            entry(
                0,
                12,
                "purge",
                None,
                0,
                "failed",
                "purged 0 jobs; failed: canceling statement due to statement timeout\x1b[2J",
            ),
        ]),
    });
    app
}

#[test]
fn audit_pane_160x48() {
    let mut app = audit_app();
    app.update(key('G'));
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Audit log — newest first — filter: all"),
        "{screen}"
    );
    assert!(
        screen.contains("\\x1b[2J"),
        "escapes shown, not sent: {screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn audit_pane_filtering_80x24() {
    let mut app = audit_app();
    app.update(key('/'));
    typed(&mut app, "queue:webhooks");
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn toast_in_footer_80x24() {
    let mut app = running_app();
    let run = match app.actions.dialog.as_ref() {
        Some(jobtop::app::actions::Dialog::Running(r)) => r.run,
        other => panic!("{other:?}"),
    };
    let plan = dead_retry("mailers", "email.send", 37);
    let mut done = outcome(&plan, 35, 1, true);
    done.skipped = 2;
    app.update(Msg::ActionDone {
        run,
        result: Ok(Box::new(done)),
    });
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("! `mailers`: retried 35 of 37 jobs; 2 had already moved on"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn paused_queue_says_who_since_when_and_why() {
    let mut app = app_with_data(chrono::Duration::zero());
    for _ in 0..3 {
        app.update(key('j'));
    }
    assert_eq!(app.selected_queue.as_deref(), Some("reports"));
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("reports  PAUSED  by alice@ops for 10m00s: deploy  (p resumes)"),
        "{screen}"
    );
}

#[test]
fn read_only_hides_action_keys_160x48() {
    let mut config = ui_data::config();
    config.read_only = true;
    let mut app = ui_data::app_polled(config, ui_data::snapshot());
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("L audit"),
        "reading the audit stays: {screen}"
    );
    for gone in ["p pause", "R retry", "S stuck"] {
        assert!(
            !screen.contains(gone),
            "{gone} shown in read-only: {screen}"
        );
    }
    app.update(key('?'));
    let help = render(&app, 160, 48);
    assert!(help.contains("audit log: who did what"), "{help}");
    for gone in [
        "pause / resume",
        "retry the queue",
        "cancel marked",
        "discard marked",
        "delete marked",
        "reset stuck",
        "mark a job",
    ] {
        assert!(!help.contains(gone), "{gone} in read-only help: {help}");
    }
    insta::assert_snapshot!(help);
}

#[test]
fn hostile_names_in_dialogs_never_reach_the_terminal_raw() {
    let mut app = app_with_data(chrono::Duration::zero());
    let evil = "q\x1b]0;pwned\x07\u{202e}";
    confirm(&mut app, dead_retry(evil, "k\x1b[2J", 3));
    for cell in ui_data::buffer(&app, 80, 24).content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || c == '\u{202e}'),
            "raw control character in a dialog: {:?}",
            cell.symbol()
        );
    }
    let screen = render(&app, 80, 24);
    assert!(screen.contains("k\\x1b[2J"), "{screen}");
}
