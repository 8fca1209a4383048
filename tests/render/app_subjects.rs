//! Where Enter in the alerts pane and `d` inside a queue lead (issue 18): to the alert's own
//! subject, never the overview's selection under the pane; to the queue's own dead letters,
//! as the breadcrumb says.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::views::View;
use jobtop::app::{App, Effect, Msg};
use jobtop::backend::JobState;
use jobtop::backend::drill::{JobScope, Request};

use crate::ui_data::{app_with_data, render};

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn enter() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

/// Selects the alerts pane's row whose subject reads `label`.
fn select_alert(app: &mut App, label: &str) {
    app.update(key('a'));
    app.update(key('g'));
    for _ in 0..app.alerts.display_order().len() {
        let i = app.alerts_selected.unwrap_or(0);
        if app.alerts.display_order()[i].key.subject.label() == label {
            return;
        }
        app.update(key('j'));
    }
    panic!("no alert on {label}");
}

fn top_scope(app: &App) -> &JobScope {
    match app.top_view() {
        Some(View::Jobs(v)) => &v.scope,
        other => panic!("{other:?}"),
    }
}

#[test]
fn enter_in_the_alerts_pane_opens_the_alerts_subject_not_the_selected_queue() {
    let mut app = app_with_data(chrono::Duration::zero());
    assert_eq!(app.selected_queue.as_deref(), Some("billing"));
    select_alert(&mut app, "queue webhooks");
    app.update(enter());
    assert!(!app.show_alerts, "the pane makes way for the subject");
    assert_eq!(
        top_scope(&app),
        &JobScope::Queue {
            queue: "webhooks".into(),
            state: JobState::Dead
        },
        "a dead-letter alert opens the queue's dead jobs"
    );
    assert_eq!(app.selected_queue.as_deref(), Some("webhooks"));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("webhooks › dead"), "{screen}");

    // A worker's alert opens the jobs it holds.
    let mut app = app_with_data(chrono::Duration::zero());
    select_alert(&mut app, "worker worker-dead");
    app.update(enter());
    assert_eq!(
        top_scope(&app),
        &JobScope::Worker {
            worker: "worker-dead".into()
        }
    );

    // A backlog alert opens the ready jobs of its queue.
    let mut app = app_with_data(chrono::Duration::zero());
    select_alert(&mut app, "queue mailers");
    app.update(enter());
    assert_eq!(
        top_scope(&app),
        &JobScope::Queue {
            queue: "mailers".into(),
            state: JobState::Ready
        }
    );
}

#[test]
fn d_inside_a_queue_lists_that_queues_dead_letters() {
    let mut app = app_with_data(chrono::Duration::zero());
    for _ in 0..4 {
        if app.selected_queue.as_deref() == Some("webhooks") {
            break;
        }
        app.update(key('j'));
    }
    app.update(enter());
    let effects = app.update(key('d'));
    let query = effects
        .iter()
        .find_map(|e| match e {
            Effect::Load {
                request: Request::DeadLetters(q),
                ..
            } => Some(q.clone()),
            _ => None,
        })
        .expect("a dead-letters load");
    assert_eq!(query.queue.as_deref(), Some("webhooks"));
    assert!(
        app.breadcrumb().last().unwrap().ends_with("in webhooks"),
        "{:?}",
        app.breadcrumb()
    );

    // From the overview, every queue's.
    let mut app = app_with_data(chrono::Duration::zero());
    let effects = app.update(key('d'));
    assert!(effects.iter().any(|e| matches!(e,
        Effect::Load { request: Request::DeadLetters(q), .. } if q.queue.is_none())));
}
