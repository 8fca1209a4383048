//! Ten thousand queues (issue 18): the alert book stays bounded over many polls whose alerts
//! come and go, each row's alert marker is its own, the queues pane draws the rows around
//! the selection as a full table would, and data that arrives late is STALE.

use crossterm::event::{KeyCode, KeyEvent};
use jobtop::app::alerts::{AlertState, RESOLVED_KEPT, RuleId};
use jobtop::app::{App, Msg};
use jobtop::backend::{Count, Snapshot};

use crate::ui_data::{config, queue, render, t0};

const QUEUES: usize = 10_000;

fn name(i: usize) -> String {
    format!("queue_{i:05}")
}

/// Every queue with one ready job (ten minutes old) and `dead` dead ones; no workers.
fn many(dead: i64, at: chrono::DateTime<chrono::Utc>) -> Snapshot {
    let mut s = crate::ui_data::snapshot();
    s.db_now = at;
    s.workers.clear();
    s.queues = (0..QUEUES)
        .map(|i| {
            let mut q = queue(&name(i), 1, Some(600));
            q.dead = Count::exact(dead);
            q
        })
        .collect();
    s
}

fn polled(app: &mut App, snapshot: Snapshot, at: chrono::DateTime<chrono::Utc>) {
    app.update(Msg::Tick(at));
    app.update(Msg::Polled {
        result: Ok(snapshot),
        at,
    });
}

#[test]
fn the_alert_book_stays_bounded_while_ten_thousand_queues_flap() {
    let mut app = App::new(config(), std::time::Duration::from_secs(1), t0());
    // Each queue's dead letters come and go every poll: ten thousand alerts fire and
    // resolve again and again.
    for poll in 0..20 {
        let at = t0() + chrono::Duration::seconds(poll);
        polled(&mut app, many(if poll % 2 == 0 { 2 } else { 0 }, at), at);
        let book = &app.alerts;
        // One oldest-ready and one no-worker alert per queue, and the dead letters.
        assert!(
            book.active.len() <= 3 * QUEUES,
            "poll {poll}: {}",
            book.active.len()
        );
        assert!(
            book.resolved.len() <= RESOLVED_KEPT,
            "poll {poll}: {} resolved alerts kept",
            book.resolved.len()
        );
        assert_eq!(book.baselines.len(), QUEUES);
    }
    // The newest resolved first.
    let last = app.alerts.resolved[0].resolved_at;
    assert_eq!(last, Some(t0() + chrono::Duration::seconds(19)));
    assert!(
        app.alerts
            .resolved
            .iter()
            .all(|a| a.key.rule == RuleId::DeadLetter)
    );
}

#[test]
fn each_row_shows_its_own_queues_worst_alert() {
    let mut app = App::new(config(), std::time::Duration::from_secs(1), t0());
    let mut snap = many(0, t0());
    snap.queues[7].dead = Count::exact(3);
    snap.queues[8].oldest_ready_at = Some(t0());
    polled(&mut app, snap, t0());
    // queue 7: oldest ready (critical, firing) and its dead letters (warning).
    assert_eq!(
        app.alerts.worst_for_queue(&name(7)),
        Some((AlertState::Firing, jobtop::app::alerts::Severity::Critical))
    );
    // queue 8: its ready job is new; only "no worker" holds, pending for its minute.
    assert_eq!(
        app.alerts.worst_for_queue(&name(8)),
        Some((AlertState::Pending, jobtop::app::alerts::Severity::Critical))
    );
    assert_eq!(app.alerts.worst_for_queue("no such queue"), None);
}

#[test]
fn the_queues_pane_shows_the_rows_around_the_selection() {
    let mut app = App::new(config(), std::time::Duration::from_secs(1), t0());
    polled(&mut app, many(2, t0()), t0());
    for _ in 0..40 {
        app.update(Msg::Key(KeyEvent::from(KeyCode::Down)));
    }
    let screen = render(&app, 80, 24);
    // Rows 0..=40 do not fit: the selected one is the pane's last line, as a table of every
    // row scrolled to it would draw it, with the rows above it.
    let lines: Vec<&str> = screen.lines().collect();
    let selected = lines
        .iter()
        .position(|l| l.contains(&name(40)))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(lines[selected - 1].contains(&name(39)), "{screen}");
    assert!(!lines[selected + 1].contains(&name(41)), "{screen}");
    assert!(!screen.contains(&name(0)), "{screen}");
    assert!(screen.contains("Queues (10000)"), "{screen}");
    app.update(Msg::Key(KeyEvent::from(KeyCode::End)));
    let screen = render(&app, 80, 24);
    assert!(screen.contains(&name(QUEUES - 1)), "{screen}");
    app.update(Msg::Key(KeyEvent::from(KeyCode::Home)));
    let screen = render(&app, 80, 24);
    assert!(screen.contains(&name(0)), "{screen}");
}

#[test]
fn data_that_arrives_late_is_stale_at_once() {
    // A loop too busy to keep up: the poll answered at t0+1s, the loop reads it at t0+5s.
    let mut app = App::new(config(), std::time::Duration::from_secs(1), t0());
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(5)));
    let at = t0() + chrono::Duration::seconds(1);
    app.update(Msg::Polled {
        result: Ok(many(2, at)),
        at,
    });
    assert!(app.is_data_stale(), "data 4 s old at a 1 s interval");
    let screen = render(&app, 80, 24);
    assert!(screen.contains("STALE 4s"), "{screen}");
}

#[test]
fn a_poll_learns_each_queues_baseline_in_place() {
    let mut app = App::new(config(), std::time::Duration::from_secs(1), t0());
    polled(&mut app, many(2, t0()), t0());
    let names =
        |app: &App| -> Vec<*const u8> { app.alerts.baselines.keys().map(|k| k.as_ptr()).collect() };
    let before = names(&app);
    let at = t0() + chrono::Duration::seconds(1);
    polled(&mut app, many(2, at), at);
    // The same names where they were: a poll of ten thousand queues copied every name
    // into a new map, and looked each alert up in the last book's.
    assert_eq!(names(&app), before);
    assert!(app.alerts.baselines.values().all(|b| b.updated_at == at));
}

#[test]
fn alerts_carry_over_whatever_order_the_queues_come_in() {
    let mut app = App::new(config(), std::time::Duration::from_secs(1), t0());
    polled(&mut app, many(2, t0()), t0());
    let first = app.alerts.active.clone();
    let at = t0() + chrono::Duration::seconds(1);
    let mut shuffled = many(2, at);
    shuffled.queues.reverse();
    shuffled.queues.swap(17, 4_242);
    polled(&mut app, shuffled, at);
    assert!(app.alerts.resolved.is_empty());
    assert_eq!(app.alerts.active.len(), first.len());
    for (key, alert) in &app.alerts.active {
        let was = &first[key];
        assert_eq!(
            (alert.state, alert.since, alert.fired_at),
            (was.state, was.since, was.fired_at),
            "{key:?}"
        );
    }
}
