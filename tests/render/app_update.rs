//! `App::update` as a pure function: keys, selection across refreshes, freeze, stale marking.

use std::time::Duration;

use crate::ui_data::{app_with_data, queue, snapshot, t0};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::{Effect, Msg, Pane, QueueColumn};

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn first_snapshot_selects_the_first_row_and_keys_move_it() {
    let mut app = app_with_data(chrono::Duration::zero());
    // Sorted by name: billing, default, mailers, reports, webhooks.
    assert_eq!(app.selected_queue.as_deref(), Some("billing"));
    app.update(key('j'));
    app.update(code(KeyCode::Down));
    assert_eq!(app.selected_queue.as_deref(), Some("mailers"));
    app.update(key('k'));
    assert_eq!(app.selected_queue.as_deref(), Some("default"));
    app.update(key('G'));
    assert_eq!(app.selected_queue.as_deref(), Some("webhooks"));
    app.update(code(KeyCode::Down));
    assert_eq!(
        app.selected_queue.as_deref(),
        Some("webhooks"),
        "stays on the last row"
    );
    app.update(key('g'));
    assert_eq!(app.selected_queue.as_deref(), Some("billing"));
}

#[test]
fn selection_follows_the_queue_across_refreshes_and_resorts() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(app.selected_queue.as_deref(), Some("mailers"));
    assert_eq!(app.selected_queue_row(), Some(2));

    // A new queue that sorts before it arrives: the row number changes, the queue does not.
    let mut next = snapshot();
    next.queues.push(queue("aardvark", 1, Some(1)));
    app.update(Msg::Polled {
        result: Ok(next),
        at: t0() + chrono::Duration::seconds(1),
    });
    assert_eq!(app.selected_queue.as_deref(), Some("mailers"));
    assert_eq!(app.selected_queue_row(), Some(3));

    // Sort by READY (descending): mailers has the largest backlog and moves to the top.
    app.update(key('>'));
    assert_eq!(app.queue_sort.column, QueueColumn::Ready);
    assert!(app.queue_sort.descending);
    assert_eq!(app.selected_queue_row(), Some(0));
    app.update(key('I'));
    assert!(!app.queue_sort.descending);
    assert_eq!(app.selected_queue.as_deref(), Some("mailers"));

    // The selected queue disappears: the selection moves to the first row.
    let mut gone = snapshot();
    gone.queues.retain(|q| q.name != "mailers");
    app.update(Msg::Polled {
        result: Ok(gone),
        at: t0() + chrono::Duration::seconds(2),
    });
    assert_eq!(app.selected_queue_row(), Some(0));
}

#[test]
fn tab_switches_panes_and_workers_list_stuck_first() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(code(KeyCode::Tab));
    assert_eq!(app.pane, Pane::Workers);
    // The stale worker holding jobs is listed first.
    assert_eq!(app.selected_worker.as_deref(), Some("worker-dead"));
    app.update(key('j'));
    assert_eq!(app.selected_worker.as_deref(), Some("worker-a"));
    assert_eq!(
        app.selected_queue.as_deref(),
        Some("billing"),
        "queue selection untouched"
    );
}

#[test]
fn freeze_keeps_the_screen_while_data_keeps_arriving() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key(' '));
    assert!(app.is_frozen());
    let mut next = snapshot();
    next.queues[0].ready.value = 999;
    app.update(Msg::Polled {
        result: Ok(next),
        at: t0() + chrono::Duration::seconds(1),
    });
    let shown = &app.shown().unwrap().snapshot;
    assert_eq!(
        shown.queues[0].ready.value, 12,
        "frozen screen keeps its data"
    );
    assert_eq!(
        app.latest.as_ref().unwrap().snapshot.queues[0].ready.value,
        999,
        "data kept arriving"
    );
    app.update(key(' '));
    assert!(!app.is_frozen());
    assert_eq!(app.shown().unwrap().snapshot.queues[0].ready.value, 999);
}

#[test]
fn failed_polls_keep_the_last_data_and_mark_it_stale() {
    let mut app = app_with_data(chrono::Duration::zero());
    let t1 = t0() + chrono::Duration::seconds(1);
    app.update(Msg::Polled {
        result: Err("connection refused".into()),
        at: t1,
    });
    app.update(Msg::Polled {
        result: Err("connection refused".into()),
        at: t1 + chrono::Duration::seconds(2),
    });
    let failure = app.failure.clone().expect("marked stale");
    assert_eq!(failure.failures, 2);
    assert_eq!(failure.since, t1);
    assert_eq!(
        app.shown().unwrap().snapshot.queues.len(),
        5,
        "last good data stays"
    );
    assert_eq!(app.data_age(), Some(chrono::Duration::seconds(3)));

    app.update(Msg::Polled {
        result: Ok(snapshot()),
        at: t1 + chrono::Duration::seconds(4),
    });
    assert!(app.failure.is_none(), "recovers by itself");
    assert_eq!(app.data_age(), Some(chrono::Duration::zero()));
}

#[test]
fn ages_grow_between_polls_from_the_database_clock() {
    let app = app_with_data(chrono::Duration::seconds(5));
    let q = &app.shown().unwrap().snapshot.queues[1];
    assert_eq!(q.name, "mailers");
    assert_eq!(
        q.oldest_ready_age(app.db_now().unwrap()),
        Some(chrono::Duration::seconds(425))
    );
}

#[test]
fn interval_keys_clamp_and_refresh_is_an_effect() {
    let mut app = app_with_data(chrono::Duration::zero());
    assert_eq!(
        app.update(key('+')),
        vec![Effect::SetInterval(Duration::from_secs(2))]
    );
    assert_eq!(
        app.update(key('-')),
        vec![Effect::SetInterval(Duration::from_secs(1))]
    );
    assert_eq!(
        app.update(key('-')),
        vec![Effect::SetInterval(Duration::from_millis(500))]
    );
    assert_eq!(app.update(key('-')), vec![], "0.5 s is the floor");
    for _ in 0..20 {
        app.update(key('+'));
    }
    assert_eq!(app.interval, Duration::from_secs(60), "60 s is the ceiling");
    assert_eq!(app.update(key('r')), vec![Effect::RefreshNow]);
}

#[test]
fn help_overlay_swallows_keys_until_closed_and_q_quits() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key('?'));
    assert!(app.show_help);
    app.update(key('j'));
    assert_eq!(
        app.selected_queue.as_deref(),
        Some("billing"),
        "keys do not leak through"
    );
    app.update(code(KeyCode::Esc));
    assert!(!app.show_help);
    assert_eq!(app.update(key('q')), vec![Effect::Quit]);
    let mut app = app_with_data(chrono::Duration::zero());
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(app.update(ctrl_c), vec![Effect::Quit]);
}
