//! Dialogs that cannot be misread (issue 18): every button names what it does, a typed word
//! makes Enter act, a single job is named by its id, and the phased retry says when its
//! queue is paused, offers to resume it, asks for "go on anyway" after a sample that failed
//! whole, and closes with every phase.

use chrono::Duration;
use crossterm::event::KeyCode;
use jobtop::app::actions::{Choice, Dialog, Level, PhasedChoice, PhasedRetry};
use jobtop::app::{App, Effect, Msg};
use jobtop::backend::{Action, JobFilter, JobId, JobState, JobTarget, Plan};

use crate::actions_ui::*;
use crate::ui_data::{self, app_with_data, render, t0};

fn labels(app: &App) -> Vec<String> {
    let Some(Dialog::Confirm(c)) = &app.actions.dialog else {
        panic!("{:?}", app.actions.dialog)
    };
    c.choices.iter().map(|ch| c.label(*ch)).collect()
}

fn matching(queue: &str, state: JobState) -> JobTarget {
    JobTarget::Matching {
        filter: JobFilter::queue(queue, state),
        limit: None,
    }
}

fn flow(app: &App) -> &PhasedRetry {
    match &app.actions.dialog {
        Some(Dialog::Phased(flow)) => flow,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_confirmation_names_its_action_and_its_way_out_on_the_buttons() {
    let ready = |action: Action, n| plan(action, "webhooks", "hook.deliver", JobState::Ready, n);
    let one = |state| {
        plan(
            Action::Delete(JobTarget::Ids(vec![JobId::Int(1000)])),
            "webhooks",
            "hook.deliver",
            state,
            1,
        )
    };
    let mut pause = Plan::empty(Action::Pause {
        queue: "mailers".into(),
        reason: None,
    });
    pause.eligible = 1;
    let mut resume = Plan::empty(Action::Resume {
        queue: "reports".into(),
    });
    resume.eligible = 1;
    let mut purge = Plan::empty(Action::Purge {
        states: vec![JobState::Succeeded],
        queue: Some("mailers".into()),
        older_than: std::time::Duration::from_secs(86_400),
    });
    purge.eligible = 12_000;
    let stuck = plan(
        Action::ResetStuck {
            queue: Some("webhooks".into()),
            worker: None,
            stale_after: std::time::Duration::from_secs(60),
        },
        "webhooks",
        "hook.deliver",
        JobState::Running,
        3,
    );
    let cases: Vec<(Plan, [&str; 2])> = vec![
        (
            ready(Action::Cancel(matching("webhooks", JobState::Ready)), 1_489),
            ["Keep them", "Cancel 1,489 jobs"],
        ),
        (
            ready(Action::Discard(matching("webhooks", JobState::Ready)), 12),
            ["Keep them", "Discard 12 jobs"],
        ),
        (one(JobState::Dead), ["Keep it", "Delete job 1000"]),
        (
            plan(
                Action::Retry(JobTarget::Ids(vec![JobId::Int(1000), JobId::Int(1001)])),
                "webhooks",
                "hook.deliver",
                JobState::Dead,
                2,
            ),
            ["Don't retry", "Retry 2 jobs"],
        ),
        (pause, ["Keep it running", "Pause `mailers`"]),
        (resume, ["Keep it paused", "Resume `reports`"]),
        (purge, ["Keep them", "Purge 12,000 jobs"]),
        (stuck, ["Don't reset", "Reset 3 jobs"]),
    ];
    for (plan, want) in cases {
        let mut app = app_with_data(Duration::zero());
        confirm(&mut app, plan);
        assert_eq!(labels(&app), want);
        let screen = render(&app, 80, 24);
        assert!(
            screen.contains(&format!("[ {} ]   [ {} ]", want[0], want[1])),
            "{screen}"
        );
    }
}

#[test]
fn a_large_retry_names_both_ways_of_doing_it() {
    let mut app = app_with_data(Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 37));
    assert_eq!(
        labels(&app),
        [
            "Don't retry",
            "Retry in phases: 10 → 4 → 23",
            "Retry all 37 at once"
        ]
    );
}

#[test]
fn a_single_job_is_named_by_its_id() {
    let mut app = app_with_data(Duration::zero());
    confirm(
        &mut app,
        plan(
            Action::Delete(JobTarget::Ids(vec![JobId::Int(1000)])),
            "webhooks",
            "hook.deliver",
            JobState::Dead,
            1,
        ),
    );
    let screen = render(&app, 80, 24);
    assert!(
        screen
            .contains("Delete dead job 1000 of kind `hook.deliver` in queue `webhooks` for good?"),
        "{screen}"
    );
    assert!(
        screen.contains("[ Keep it ]   [ Delete job 1000 ]"),
        "{screen}"
    );
}

#[test]
fn after_typing_the_queue_name_enter_confirms() {
    let mut app = app_with_data(Duration::zero());
    confirm(
        &mut app,
        plan(
            Action::Cancel(matching("webhooks", JobState::Ready)),
            "webhooks",
            "hook.deliver",
            JobState::Ready,
            1_489,
        ),
    );
    typed(&mut app, "webhook");
    let Some(Dialog::Confirm(c)) = &app.actions.dialog else {
        panic!()
    };
    assert_eq!(c.focus, 0, "half a word leaves the way out highlighted");
    typed(&mut app, "s");
    let effects = app.update(code(KeyCode::Enter));
    let (_, plan) = run_of(&effects);
    assert_eq!(plan.ids.len(), 1_489);
    assert!(matches!(app.actions.dialog, Some(Dialog::Running(_))));

    // The way out stays one key away: Esc, or Left then Enter.
    let mut app = app_with_data(Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 300));
    typed(&mut app, "webhooks");
    let Some(Dialog::Confirm(c)) = &app.actions.dialog else {
        panic!()
    };
    assert_eq!(c.choices[c.focus], Choice::Phased, "the careful way first");
    app.update(code(KeyCode::Left));
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert_eq!(app.visible_toast().unwrap().text, "nothing done");

    // Buttons stacked on a narrow dialog are chosen with Up and Down as well.
    let mut app = app_with_data(Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 300));
    typed(&mut app, "webhooks");
    let focus = |app: &App| match &app.actions.dialog {
        Some(Dialog::Confirm(c)) => c.choices[c.focus],
        _ => panic!("no confirmation"),
    };
    app.update(code(KeyCode::Down));
    assert_eq!(focus(&app), Choice::Proceed);
    app.update(code(KeyCode::Up));
    app.update(code(KeyCode::Up));
    assert_eq!(focus(&app), Choice::Cancel);
}

/// A phased retry of 200 dead jobs into `reports` (paused in the fixture), sample run.
fn phased_into_paused_queue() -> (App, Plan) {
    let mut app = app_with_data(Duration::zero());
    confirm(&mut app, dead_retry("reports", "report.build", 200));
    app.update(code(KeyCode::Right));
    typed(&mut app, "reports");
    let (run, sample) = run_of(&app.update(code(KeyCode::Enter)));
    app.update(Msg::ActionDone {
        run,
        result: Ok(Box::new(outcome(&sample, 10, 1, true))),
    });
    let waiting = sample
        .ids
        .iter()
        .map(|id| (id.clone(), JobState::Ready))
        .collect();
    app.update(Msg::Watched {
        result: Ok(waiting),
    });
    (app, sample)
}

#[test]
fn a_phased_retry_into_a_paused_queue_says_so_and_resumes_it_through_the_gate() {
    let (mut app, _) = phased_into_paused_queue();
    assert_eq!(flow(&app).paused_queue.as_deref(), Some("reports"));
    assert_eq!(
        flow(&app).choices(),
        [PhasedChoice::Stop, PhasedChoice::Resume, PhasedChoice::Next]
    );
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("`reports` is paused: the retried jobs wait there until it"),
        "{screen}"
    );
    assert!(screen.contains("[ Resume `reports` ]"), "{screen}");

    app.update(code(KeyCode::Right));
    let (request, action) = planned_request(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        action,
        Action::Resume {
            queue: "reports".into()
        }
    );
    let mut plan = Plan::empty(action);
    plan.eligible = 1;
    let effects = app.update(Msg::Planned {
        request,
        result: Ok(Box::new(plan)),
    });
    let (run, resume) = run_of(&effects);
    assert_eq!(resume.kind(), jobtop::backend::ActionKind::Resume);
    assert!(
        flow(&app).choices() == [PhasedChoice::Stop, PhasedChoice::Next],
        "no second resume while one runs"
    );
    let effects = app.update(Msg::ActionDone {
        run,
        result: Ok(Box::new(outcome(&resume, 1, 1, true))),
    });
    assert!(effects.contains(&Effect::RefreshNow));
    assert_eq!(flow(&app).paused_queue, None);
    assert_eq!(flow(&app).results.len(), 1, "the phased retry goes on");
    assert_eq!(app.visible_toast().unwrap().level, Level::Ok);
}

#[test]
fn the_buttons_reset_to_the_way_out_when_the_queue_is_resumed_elsewhere() {
    let (mut app, _) = phased_into_paused_queue();
    app.update(code(KeyCode::Right));
    assert_eq!(flow(&app).focus, 1, "on Resume");
    let mut snap = ui_data::snapshot();
    for q in &mut snap.queues {
        q.paused = None;
    }
    app.update(Msg::Polled {
        result: Ok(snap),
        at: t0() + Duration::seconds(1),
    });
    assert_eq!(flow(&app).paused_queue, None);
    assert_eq!(flow(&app).focus, 0, "Enter never lands on the next phase");
}

#[test]
fn a_sample_that_failed_whole_needs_go_on_anyway() {
    let mut app = app_with_data(Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 200));
    app.update(code(KeyCode::Right));
    typed(&mut app, "webhooks");
    let (run, sample) = run_of(&app.update(code(KeyCode::Enter)));
    app.update(Msg::ActionDone {
        run,
        result: Ok(Box::new(outcome(&sample, 10, 1, true))),
    });
    let dead = sample
        .ids
        .iter()
        .map(|id| (id.clone(), JobState::Dead))
        .collect();
    app.update(Msg::Watched { result: Ok(dead) });
    assert_eq!(flow(&app).all_failed_again(), Some((10, 10)));
    assert_eq!(
        flow(&app).label(PhasedChoice::Next),
        "Go on anyway: retry phase 2 (20 jobs)"
    );
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("The last phase failed again 10 of 10"),
        "{screen}"
    );
    assert!(
        screen.contains("[ Go on anyway: retry phase 2 (20 jobs) ]"),
        "{screen}"
    );
    // Enter on the highlighted button stops; going on is a deliberate move.
    assert_eq!(flow(&app).focus, 0);
    assert_eq!(app.update(code(KeyCode::Enter)), vec![Effect::RefreshNow]);
    let toast = app.visible_toast().unwrap();
    assert_eq!(
        toast.text,
        "`webhooks`: phased retry: retried 10 of 200 jobs in 1 of 3 phases; 190 not retried — \
         phase 1 (sample): 10 retried, 0 succeeded, 10 failed again, 0 waiting; \
         phase 2 (10%): 20 not run; phase 3 (rest): 170 not run"
    );
}
