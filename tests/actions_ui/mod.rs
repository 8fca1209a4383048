//! Plans and outcomes for action state and rendering tests, built without a database.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::{App, Effect, Msg};
use jobtop::backend::actions::Progress;
use jobtop::backend::{Action, ActionOutcome, JobFilter, JobId, JobState, JobTarget, Plan};

pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.update(key(c));
    }
}

/// A plan over `n` jobs of one queue, kind and state, ids 1000.., as the backend makes it.
pub fn plan(action: Action, queue: &str, kind: &str, state: JobState, n: i64) -> Plan {
    let rows = (0..n)
        .map(|i| {
            (
                JobId::Int(1000 + i),
                queue.to_string(),
                kind.to_string(),
                state,
            )
        })
        .collect();
    Plan::from_rows(action, rows, 100_000)
}

pub fn dead_retry(queue: &str, kind: &str, n: i64) -> Plan {
    plan(
        Action::Retry(JobTarget::Matching {
            filter: JobFilter::queue(queue, JobState::Dead),
            limit: None,
        }),
        queue,
        kind,
        JobState::Dead,
        n,
    )
}

/// The request id of the `PlanAction` among `effects`.
pub fn planned_request(effects: &[Effect]) -> (u64, Action) {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::PlanAction { request, action } => Some((*request, (**action).clone())),
            _ => None,
        })
        .expect("a PlanAction effect")
}

pub fn run_of(effects: &[Effect]) -> (u64, Plan) {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::RunAction { run, plan } => Some((*run, (**plan).clone())),
            _ => None,
        })
        .expect("a RunAction effect")
}

/// What the backend would report after changing `changed` of the plan's jobs.
pub fn outcome(plan: &Plan, changed: u64, batches: u32, finished: bool) -> ActionOutcome {
    let mut o = ActionOutcome::of(
        plan,
        &Progress {
            attempted: plan.eligible.min(batches as u64 * 1000),
            changed,
            batches,
        },
        finished,
    );
    o.changed_ids = plan.ids.iter().take(changed as usize).cloned().collect();
    o
}

/// Drives an app through R on `queue` up to the confirmation of `plan`.
pub fn confirm(app: &mut App, plan: Plan) {
    let effects = app.request_action(plan.action.clone(), true);
    let (request, _) = planned_request(&effects);
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(plan)),
    });
}
