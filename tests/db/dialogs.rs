//! The monitor's phased retry against real PostgreSQL (issue 18): into a paused queue it
//! says so and resumes the queue through the gate (audited), a sample that failed whole
//! needs "go on anyway", and the closing summary reports every phase.

use std::time::Duration;

use crossterm::event::KeyCode;
use jobtop::app::actions::{Dialog, PhasedChoice, PhasedRetry};
use jobtop::app::{App, Effect, Msg};
use jobtop::backend::gate::Gate;
use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Action, Backend, JobState};

use crate::actions_ui::{code, planned_request, run_of};
use crate::common;
use crate::helpers::{OPTS, db_now, enqueue_n, matching, queue, run};
use crate::ui_data;

fn flow(app: &App) -> &PhasedRetry {
    match &app.actions.dialog {
        Some(Dialog::Phased(flow)) => flow,
        other => panic!("{other:?}"),
    }
}

/// Plans `effects`' PlanAction through the gate and hands the plan to the app.
async fn plan(app: &mut App, gate: &Gate, effects: &[Effect]) -> Vec<Effect> {
    let (request, action) = planned_request(effects);
    let plan = gate
        .plan(&action)
        .await
        .map(Box::new)
        .map_err(|e| e.to_string());
    app.update(Msg::Planned {
        request,
        result: plan,
    })
}

/// Runs `effects`' RunAction through the gate to its end and hands the outcome to the app.
async fn execute(app: &mut App, gate: &Gate, effects: &[Effect]) -> Vec<Effect> {
    let (run_id, plan) = run_of(effects);
    let outcome = run(gate, &plan).await;
    app.update(Msg::ActionDone {
        run: run_id,
        result: Ok(Box::new(outcome)),
    })
}

async fn poll(app: &mut App, gate: &Gate) {
    let snap = gate.backend().reads().snapshot(&OPTS).await.unwrap();
    let at = app.now + chrono::Duration::seconds(1);
    app.update(Msg::Polled {
        result: Ok(snap),
        at,
    });
}

async fn watch(app: &mut App, gate: &Gate) {
    let ids = flow(app)
        .results
        .iter()
        .flat_map(|r| r.outcome.changed_ids.clone());
    let ids: Vec<_> = ids.collect();
    let states = gate.backend().reads().job_states(&ids).await.unwrap();
    app.update(Msg::Watched { result: Ok(states) });
}

#[tokio::test]
async fn a_phased_retry_into_a_paused_queue_offers_to_resume_it_and_reports_every_phase() {
    let db = common::test_db().await;
    let pool = &db.pool;
    enqueue_n(pool, "mailers", 40).await;
    sqlx::query(
        "UPDATE jobtop.jobs SET state = 'dead', finished_at = now(), last_error = 'smtp down' \
         WHERE queue = 'mailers'",
    )
    .execute(pool)
    .await
    .unwrap();
    let gate = Gate::with_actor(
        Backend::new(NativeBackend::new(pool.clone())),
        false,
        "dana@ops".into(),
    );
    let pause = gate
        .plan(&Action::Pause {
            queue: "mailers".into(),
            reason: Some("smtp relay".into()),
        })
        .await
        .unwrap();
    run(&gate, &pause).await;

    let mut config = ui_data::config();
    config.capabilities = gate.backend().capabilities();
    let mut app = App::new(config, Duration::from_secs(1), db_now(pool).await);
    poll(&mut app, &gate).await;

    // R on the queue's dead jobs, phased: the sample of 10 runs through the gate.
    let effects = app.request_action(Action::Retry(matching("mailers", JobState::Dead)), true);
    plan(&mut app, &gate, &effects).await;
    app.update(code(KeyCode::Right));
    let effects = app.update(code(KeyCode::Enter));
    execute(&mut app, &gate, &effects).await;
    watch(&mut app, &gate).await;
    let t = flow(&app).results[0].tally;
    assert_eq!(
        (t.pending, t.failed),
        (10, 0),
        "ready, waiting in the paused queue"
    );
    assert_eq!(flow(&app).paused_queue.as_deref(), Some("mailers"));
    let screen = ui_data::render(&app, 80, 24);
    assert!(screen.contains("`mailers` is paused"), "{screen}");

    // Resume from the dialog: planned and run through the gate, audited.
    app.update(code(KeyCode::Right));
    assert_eq!(flow(&app).choices()[flow(&app).focus], PhasedChoice::Resume);
    let effects = app.update(code(KeyCode::Enter));
    let effects = plan(&mut app, &gate, &effects).await;
    execute(&mut app, &gate, &effects).await;
    poll(&mut app, &gate).await;
    let snap = gate.backend().reads().snapshot(&OPTS).await.unwrap();
    assert!(queue(&snap, "mailers").paused.is_none());
    assert_eq!(flow(&app).paused_queue, None);
    let resumed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.audit WHERE action = 'resume' AND queue = 'mailers'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(resumed, 1);

    // The sample fails again, all of it: going on is "go on anyway".
    sqlx::query(
        "UPDATE jobtop.jobs SET state = 'dead', finished_at = now() \
         WHERE queue = 'mailers' AND state = 'queued'",
    )
    .execute(pool)
    .await
    .unwrap();
    watch(&mut app, &gate).await;
    assert_eq!(flow(&app).all_failed_again(), Some((10, 10)));
    assert_eq!(
        flow(&app).choices(),
        [PhasedChoice::Stop, PhasedChoice::Next]
    );
    assert_eq!(
        flow(&app).label(PhasedChoice::Next),
        "Go on anyway: retry phase 2 (4 jobs)"
    );
    app.update(code(KeyCode::Right));
    let effects = app.update(code(KeyCode::Enter));
    execute(&mut app, &gate, &effects).await;
    assert!(!flow(&app).over, "phase 3 waits for a choice");
    // Enter on the highlighted "Stop here" closes it with every phase in the summary.
    let effects = app.update(code(KeyCode::Enter));
    assert!(effects.contains(&Effect::RefreshNow));
    assert_eq!(
        app.visible_toast().unwrap().text,
        "`mailers`: phased retry: retried 14 of 40 jobs in 2 of 3 phases; 26 not retried — \
         phase 1 (sample): 10 retried, 0 succeeded, 10 failed again, 0 waiting; \
         phase 2 (10%): 4 retried; phase 3 (rest): 26 not run"
    );
    let retried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.audit WHERE action = 'retry' AND queue = 'mailers'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(retried, 2, "one audit row per phase");
}
