//! The monitor's action flows as pure state: keys and answers in, dialogs and effects out.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::actions::{Choice, Dialog, Level, parse_audit_filter};
use jobtop::app::{App, Effect, Msg, Pane};
use jobtop::backend::drill::Response;
use jobtop::backend::{Action, AuditEntry, JobFilter, JobId, JobState, JobTarget, Plan};

use crate::actions_ui::*;
use crate::drill_data;
use crate::ui_data;
use crate::ui_data::{app_with_data, t0};

fn select_queue(app: &mut App, name: &str) {
    app.update(key('g'));
    for _ in 0..10 {
        if app.selected_queue.as_deref() == Some(name) {
            return;
        }
        app.update(key('j'));
    }
    panic!("no queue {name}");
}

fn dialog(app: &App) -> &Dialog {
    app.actions.dialog.as_ref().expect("a dialog is open")
}

#[test]
fn retry_on_a_queue_plans_its_dead_jobs_and_confirms_starting_on_cancel() {
    let mut app = app_with_data(chrono::Duration::zero());
    select_queue(&mut app, "webhooks");
    let effects = app.update(key('R'));
    let (request, action) = planned_request(&effects);
    assert_eq!(
        action,
        Action::Retry(JobTarget::Matching {
            filter: JobFilter::queue("webhooks", JobState::Dead),
            limit: None
        })
    );
    assert!(matches!(dialog(&app), Dialog::Looking { .. }));

    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(dead_retry("webhooks", "hook.deliver", 37))),
    });
    let Dialog::Confirm(c) = dialog(&app) else {
        panic!("{:?}", dialog(&app))
    };
    assert_eq!(
        c.choices,
        vec![Choice::Cancel, Choice::Phased, Choice::Proceed]
    );
    assert_eq!(c.focus, 0, "starts on Cancel");
    assert_eq!(c.label(Choice::Phased), "Retry in phases: 10 → 4 → 23");
    assert_eq!(c.label(Choice::Proceed), "Retry all 37 at once");
    assert_eq!(c.word(), None, "37 jobs need no typing");

    // Enter on Cancel does nothing at all.
    let effects = app.update(code(KeyCode::Enter));
    assert!(effects.is_empty());
    assert!(app.actions.dialog.is_none());
    assert_eq!(app.visible_toast().unwrap().text, "nothing done");
}

#[test]
fn a_plain_run_shows_progress_stops_on_esc_and_reports() {
    let mut app = app_with_data(chrono::Duration::zero());
    let plan = dead_retry("webhooks", "hook.deliver", 3_000);
    confirm(&mut app, plan);
    // Over 100 jobs: the queue name must be typed; Enter before that only hints.
    app.update(code(KeyCode::Left)); // to "All at once"
    let effects = app.update(code(KeyCode::Enter));
    assert!(effects.is_empty());
    let Dialog::Confirm(c) = dialog(&app) else {
        panic!()
    };
    assert_eq!(
        c.hint.as_deref(),
        Some("type `webhooks` exactly to confirm")
    );
    typed(&mut app, "webhooks");
    let effects = app.update(code(KeyCode::Enter));
    let (run, plan) = run_of(&effects);
    assert_eq!(plan.ids.len(), 3_000);

    app.update(Msg::ActionProgress {
        run,
        progress: Box::new(outcome(&plan, 1_000, 1, false)),
    });
    let Dialog::Running(r) = dialog(&app) else {
        panic!()
    };
    assert_eq!(r.progress.as_ref().unwrap().changed, 1_000);
    assert_eq!(
        app.update(code(KeyCode::Esc)),
        vec![Effect::StopAction { run }]
    );
    assert!(
        app.update(code(KeyCode::Esc)).is_empty(),
        "stopping asks only once"
    );
    let mut stopped = outcome(&plan, 1_000, 1, true);
    stopped.stopped = true;
    let effects = app.update(Msg::ActionDone {
        run,
        result: Ok(Box::new(stopped)),
    });
    assert!(effects.contains(&Effect::RefreshNow));
    assert!(app.actions.dialog.is_none());
    let toast = app.visible_toast().unwrap();
    assert_eq!(toast.level, Level::Warn);
    assert_eq!(
        toast.text,
        "`webhooks`: retried 1,000 of 3,000 jobs; stopped after batch 1 of 3; 2,000 not touched"
    );
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(11)));
    assert!(app.visible_toast().is_none(), "the toast fades");
}

#[test]
fn phased_retry_runs_the_sample_watches_it_and_goes_on_only_when_asked() {
    let mut app = app_with_data(chrono::Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "hook.deliver", 200));
    app.update(code(KeyCode::Right)); // Phased
    typed(&mut app, "webhooks");
    let effects = app.update(code(KeyCode::Enter));
    let (run1, phase1) = run_of(&effects);
    assert_eq!(phase1.ids.len(), 10);
    assert_eq!(phase1.phase.as_ref().unwrap().label, "sample");

    let effects = app.update(Msg::ActionDone {
        run: run1,
        result: Ok(Box::new(outcome(&phase1, 10, 1, true))),
    });
    let watch: Vec<JobId> = effects
        .iter()
        .find_map(|e| match e {
            Effect::WatchJobs { ids } => Some(ids.clone()),
            _ => None,
        })
        .expect("watching starts at once");
    assert_eq!(watch, phase1.ids);

    // Live: 7 succeeded, 2 dead again, 1 still running.
    let mut states: Vec<(JobId, JobState)> = watch
        .iter()
        .map(|id| (id.clone(), JobState::Succeeded))
        .collect();
    states[7].1 = JobState::Dead;
    states[8].1 = JobState::Retrying;
    states[9].1 = JobState::Running;
    app.update(Msg::Watched { result: Ok(states) });
    let Dialog::Phased(flow) = dialog(&app) else {
        panic!()
    };
    let t = flow.results[0].tally;
    assert_eq!((t.succeeded, t.failed, t.pending), (7, 2, 1));
    assert_eq!(
        flow.focus, 0,
        "the next phase waits for a deliberate choice"
    );

    // Every poll looks again, never two look-ups at once.
    let polled = |app: &mut App, s: i64| {
        app.update(Msg::Polled {
            result: Ok(ui_data::snapshot()),
            at: t0() + chrono::Duration::seconds(s),
        })
    };
    assert!(matches!(
        polled(&mut app, 1).as_slice(),
        [Effect::WatchJobs { .. }]
    ));
    assert!(polled(&mut app, 2).is_empty());

    // Enter on "Stop here" would end it; go on instead.
    app.update(code(KeyCode::Right));
    let effects = app.update(code(KeyCode::Enter));
    let (run2, phase2) = run_of(&effects);
    assert_eq!(phase2.ids.len(), 20);
    assert!(phase2.ids.iter().all(|id| !phase1.ids.contains(id)));
    assert_eq!(
        app.update(code(KeyCode::Esc)),
        vec![Effect::StopAction { run: run2 }]
    );
    let mut stopped = outcome(&phase2, 0, 0, true);
    stopped.stopped = true;
    app.update(Msg::ActionDone {
        run: run2,
        result: Ok(Box::new(stopped)),
    });
    let Dialog::Phased(flow) = dialog(&app) else {
        panic!()
    };
    assert!(flow.over, "a stopped phase ends the flow");
    assert!(flow.next_phase().is_none());
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(effects, vec![Effect::RefreshNow]);
    assert!(app.actions.dialog.is_none());
    assert_eq!(
        app.visible_toast().unwrap().text,
        "`webhooks`: phased retry: retried 10 of 200 jobs in 2 of 3 phases; 170 not retried — \
         phase 1 (sample): 10 retried, 7 succeeded, 2 failed again, 1 waiting; \
         phase 2 (10%): 0 of 20 retried (stopped); \
         phase 3 (rest): 170 not run"
    );
}

#[test]
fn pause_asks_for_a_reason_and_p_on_a_paused_queue_resumes() {
    let mut app = app_with_data(chrono::Duration::zero());
    select_queue(&mut app, "billing");
    let (request, action) = planned_request(&app.update(key('p')));
    assert_eq!(
        action,
        Action::Pause {
            queue: "billing".into(),
            reason: None
        }
    );
    let mut plan = Plan::empty(action);
    plan.eligible = 1;
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(plan)),
    });
    let Dialog::Confirm(c) = dialog(&app) else {
        panic!()
    };
    assert_eq!(c.input_label().as_deref(), Some("Reason (optional):"));
    // Letters are the reason, even the ones that are keys elsewhere (q, p, R).
    typed(&mut app, "deploy qpR");
    app.update(code(KeyCode::Backspace));
    app.update(code(KeyCode::Tab));
    let (_, plan) = run_of(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        plan.action,
        Action::Pause {
            queue: "billing".into(),
            reason: Some("deploy qp".into())
        }
    );

    let mut app = app_with_data(chrono::Duration::zero());
    select_queue(&mut app, "reports");
    let (_, action) = planned_request(&app.update(key('p')));
    assert_eq!(
        action,
        Action::Resume {
            queue: "reports".into()
        }
    );
}

#[test]
fn reset_stuck_targets_the_selected_queue_or_worker() {
    let mut app = app_with_data(chrono::Duration::zero());
    select_queue(&mut app, "billing");
    let (_, action) = planned_request(&app.update(key('S')));
    assert_eq!(
        action,
        Action::ResetStuck {
            queue: Some("billing".into()),
            worker: None,
            stale_after: Duration::from_secs(60)
        }
    );
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Tab));
    assert_eq!(app.pane, Pane::Workers);
    assert_eq!(app.selected_worker.as_deref(), Some("worker-dead"));
    let (_, action) = planned_request(&app.update(key('S')));
    assert_eq!(
        action,
        Action::ResetStuck {
            queue: None,
            worker: Some("worker-dead".into()),
            stale_after: Duration::from_secs(60)
        }
    );
}

#[test]
fn nothing_to_do_and_errors_are_notices_and_late_answers_are_ignored() {
    let mut app = app_with_data(chrono::Duration::zero());
    let (request, _) = planned_request(
        &app.request_action(Action::Cancel(JobTarget::Ids(vec![JobId::Int(7)])), false),
    );
    let running_only = plan(
        Action::Cancel(JobTarget::Ids(vec![JobId::Int(7)])),
        "q",
        "k",
        JobState::Running,
        1,
    );
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(running_only)),
    });
    let Dialog::Notice { title, lines } = dialog(&app) else {
        panic!()
    };
    assert_eq!(title, "Nothing to cancel; 1 left alone");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("a running job cannot be stopped by a state change")),
        "{lines:?}"
    );
    app.update(code(KeyCode::Enter));
    assert!(app.actions.dialog.is_none());

    // Esc while looking, then the answer arrives: it opens nothing.
    let (request, _) = planned_request(
        &app.request_action(Action::Cancel(JobTarget::Ids(vec![JobId::Int(7)])), false),
    );
    app.update(code(KeyCode::Esc));
    app.update(Msg::Planned {
        request,
        result: Err("boom".into()),
    });
    assert!(app.actions.dialog.is_none());
}

#[test]
fn read_only_refuses_every_action_in_the_app() {
    let mut config = ui_data::config();
    config.read_only = true;
    let mut app = ui_data::app_polled(config, ui_data::snapshot());
    for k in ['p', 'R', 'c', 'D', 'X', 'S', 'v', 'V'] {
        let effects = app.update(key(k));
        assert!(effects.is_empty(), "{k} produced {effects:?}");
        assert!(app.actions.dialog.is_none());
        assert_eq!(
            app.visible_toast().unwrap().text,
            jobtop::backend::gate::READ_ONLY,
            "{k}"
        );
    }
    assert!(
        app.request_action(Action::Retry(JobTarget::Ids(vec![JobId::Int(1)])), false)
            .is_empty()
    );
    // Reading the audit log is not an action.
    assert!(matches!(
        app.update(key('L')).as_slice(),
        [Effect::LoadAudit { .. }]
    ));
}

#[test]
fn job_list_keys_act_on_marks_then_all_that_match_then_the_selected_job() {
    let mut app = app_with_data(chrono::Duration::zero());
    // webhooks (last by name), its dead tab.
    app.update(key('G'));
    app.update(code(KeyCode::Enter));
    for _ in 0..3 {
        app.update(code(KeyCode::Tab));
    }
    drill_data::answer(
        &mut app,
        code(KeyCode::Tab),
        Response::Jobs(drill_data::page(1..6, JobState::Dead, false)),
    );
    assert_eq!(app.breadcrumb(), ["overview", "webhooks", "dead"]);

    // Nothing marked: the selected job.
    let (_, a) = planned_request(&app.update(key('D')));
    assert_eq!(a, Action::Discard(JobTarget::Ids(vec![JobId::Int(1)])));
    app.update(code(KeyCode::Esc));

    // v marks and moves down; space marks too; marking twice unmarks.
    app.update(key('v'));
    app.update(key('v'));
    app.update(key('k'));
    app.update(key('v'));
    app.update(key(' '));
    let (_, a) = planned_request(&app.update(key('c')));
    assert_eq!(
        a,
        Action::Cancel(JobTarget::Ids(vec![JobId::Int(1), JobId::Int(3)]))
    );
    app.update(code(KeyCode::Esc));

    // V: every job the list names, re-read by the gate when it acts; the marks go.
    app.update(key('V'));
    assert!(app.jobs_view().unwrap().marked.is_empty());
    let (request, a) = planned_request(&app.update(key('R')));
    assert_eq!(
        a,
        Action::Retry(JobTarget::Matching {
            filter: JobFilter::queue("webhooks", JobState::Dead),
            limit: None
        })
    );
    // All that match, dead: phasing is offered.
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(dead_retry("webhooks", "hook.deliver", 50))),
    });
    let Dialog::Confirm(c) = dialog(&app) else {
        panic!()
    };
    assert!(c.choices.contains(&Choice::Phased));
}

#[test]
fn the_overview_explains_job_keys_instead_of_guessing_a_target() {
    let mut app = app_with_data(chrono::Duration::zero());
    for k in ['c', 'D', 'X'] {
        assert!(app.update(key(k)).is_empty());
        assert!(app.actions.dialog.is_none());
        assert!(
            app.visible_toast().unwrap().text.contains("mark them (v)"),
            "{k}"
        );
    }
}

#[test]
fn audit_pane_loads_filters_and_closes() {
    let mut app = app_with_data(chrono::Duration::zero());
    let effects = app.update(key('L'));
    assert!(matches!(effects.as_slice(), [Effect::LoadAudit { .. }]));
    let entry = |id: i64, action: &str| AuditEntry {
        id,
        at: t0(),
        actor: "alice@jump-1 (ops)".into(),
        action: action.into(),
        queue: Some("mailers".into()),
        job_ids: None,
        count: Some(3),
        params: serde_json::json!({}),
        outcome: "ok".into(),
        detail: Some("retried 3 jobs".into()),
    };
    app.update(Msg::AuditLoaded {
        result: Ok(vec![entry(2, "retry"), entry(1, "pause")]),
    });
    app.update(key('j'));
    assert_eq!(app.actions.audit.as_ref().unwrap().selected, Some(1));
    // Keys belong to the pane: R does not start a retry here.
    app.update(key('/'));
    typed(&mut app, "queue:mailers failed R");
    let effects = app.update(code(KeyCode::Enter));
    let [Effect::LoadAudit { filter }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(filter.queue.as_deref(), Some("mailers"));
    assert_eq!(filter.outcome.as_deref(), Some("failed"));
    assert_eq!(filter.actor.as_deref(), Some("R"));
    assert!(app.actions.dialog.is_none());
    // Esc clears the filter first, then closes.
    let effects = app.update(code(KeyCode::Esc));
    let [Effect::LoadAudit { filter }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(filter.queue, None);
    assert!(app.actions.audit.as_ref().unwrap().filter.is_empty());
    app.update(code(KeyCode::Esc));
    assert!(app.actions.audit.is_none());
}

#[test]
fn audit_filter_words() {
    let f = parse_audit_filter("retry partial bob queue:q");
    assert_eq!(f.action.as_deref(), Some("retry"));
    assert_eq!(f.outcome.as_deref(), Some("partial"));
    assert_eq!(f.actor.as_deref(), Some("bob"));
    assert_eq!(f.queue.as_deref(), Some("q"));
    assert_eq!(f.limit, 200);
}

#[test]
fn ctrl_c_in_a_dialog_cancels_rather_than_quits() {
    let mut app = app_with_data(chrono::Duration::zero());
    confirm(&mut app, dead_retry("webhooks", "k", 5));
    let effects = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(effects.is_empty());
    assert!(app.actions.dialog.is_none());
}
