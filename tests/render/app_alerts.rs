//! Alerts inside `App::update`: evaluated on every poll (frozen or not), the bell as an
//! effect, the alerts pane's keys, and the wall screen refusing every key but quit.

use crate::ui_data;
use crate::ui_data::{app_with_data, snapshot, snapshot_at, t0};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::alerts::{AlertKey, AlertState, RuleId, Subject};
use jobtop::app::{Effect, Msg};
use jobtop::backend::Count;

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn secs(s: i64) -> chrono::DateTime<chrono::Utc> {
    t0() + chrono::Duration::seconds(s)
}

fn state(app: &jobtop::app::App, rule: RuleId, subject: Subject) -> Option<AlertState> {
    app.alerts
        .active
        .get(&AlertKey { rule, subject })
        .map(|a| a.state)
}

#[test]
fn the_fixture_fires_what_it_should() {
    let app = app_with_data(chrono::Duration::zero());
    let mailers = Subject::queue("mailers");
    assert_eq!(
        state(&app, RuleId::OldestReady, mailers.clone()),
        Some(AlertState::Firing)
    );
    assert_eq!(
        state(&app, RuleId::Backlog, mailers),
        Some(AlertState::Pending)
    );
    assert_eq!(
        state(&app, RuleId::DeadLetter, Subject::queue("webhooks")),
        Some(AlertState::Firing)
    );
    assert_eq!(
        state(
            &app,
            RuleId::WorkerDown,
            Subject::Worker {
                id: "worker-dead".into()
            }
        ),
        Some(AlertState::Firing)
    );
    assert_eq!(
        app.alerts.active.len(),
        4,
        "{:#?}",
        app.alerts.active.keys()
    );
}

#[test]
fn alerts_keep_moving_while_the_display_is_frozen() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key(' '));
    assert!(app.is_frozen());
    // The backlog stays above 1,000 for five minutes of polls, then the queue drains:
    // the shown copy never changes, the alerts do.
    for s in [60, 120, 180, 240, 300] {
        let next = snapshot_at(chrono::Duration::seconds(s));
        app.update(Msg::Polled {
            result: Ok(next),
            at: secs(s),
        });
    }
    let mailers = Subject::queue("mailers");
    assert_eq!(
        state(&app, RuleId::Backlog, mailers.clone()),
        Some(AlertState::Firing)
    );
    let mut drained = snapshot_at(chrono::Duration::seconds(360));
    drained.queues[1].ready = Count::exact(0);
    drained.queues[1].oldest_ready_at = None;
    app.update(Msg::Polled {
        result: Ok(drained),
        at: secs(360),
    });
    assert_eq!(state(&app, RuleId::Backlog, mailers.clone()), None);
    assert_eq!(state(&app, RuleId::OldestReady, mailers), None);
    let resolved: Vec<RuleId> = app.alerts.resolved.iter().map(|a| a.key.rule).collect();
    assert_eq!(resolved, [RuleId::Backlog, RuleId::OldestReady]);
    // The screen still shows the frozen data.
    let shown = &app.shown().unwrap().snapshot;
    assert_eq!(shown.queues[1].ready, Count::capped_at(10_001, 10_000));
}

#[test]
fn the_bell_rings_once_per_new_critical_when_enabled() {
    let mut app = app_with_data(chrono::Duration::zero());
    // Without the bell: no effect, though two criticals fired.
    assert_eq!(app.alerts.tally().firing_critical, 2);

    let mut app2 =
        jobtop::app::App::new(ui_data::config(), std::time::Duration::from_secs(1), t0());
    app2.bell = true;
    let effects = app2.update(Msg::Polled {
        result: Ok(snapshot()),
        at: t0(),
    });
    assert_eq!(effects, [Effect::Bell]);
    let effects = app2.update(Msg::Polled {
        result: Ok(snapshot()),
        at: secs(1),
    });
    assert!(effects.is_empty(), "already firing: no second bell");

    // A new warning rings nothing; a new critical rings.
    app.bell = true;
    let mut next = snapshot();
    next.queues[0].dead = Count::exact(1);
    assert!(
        app.update(Msg::Polled {
            result: Ok(next.clone()),
            at: secs(1),
        })
        .is_empty()
    );
    next.queues[0].dead_last_hour = Some(Count::exact(500));
    assert_eq!(
        app.update(Msg::Polled {
            result: Ok(next),
            at: secs(2),
        }),
        [Effect::Bell]
    );
}

#[test]
fn failing_polls_raise_database_unreachable_after_two_minutes() {
    let mut app = app_with_data(chrono::Duration::zero());
    let err = || Err("connection refused".to_string());
    app.update(Msg::Polled {
        result: err(),
        at: secs(10),
    });
    assert_eq!(
        state(&app, RuleId::DbUnreachable, Subject::Database),
        Some(AlertState::Pending)
    );
    app.update(Msg::Polled {
        result: err(),
        at: secs(131),
    });
    assert_eq!(
        state(&app, RuleId::DbUnreachable, Subject::Database),
        Some(AlertState::Firing)
    );
    // The queue alerts stay as they were while nothing is known.
    assert_eq!(
        state(&app, RuleId::OldestReady, Subject::queue("mailers")),
        Some(AlertState::Firing)
    );
    let back = snapshot_at(chrono::Duration::seconds(140));
    app.update(Msg::Polled {
        result: Ok(back),
        at: secs(140),
    });
    assert_eq!(state(&app, RuleId::DbUnreachable, Subject::Database), None);
    assert_eq!(app.alerts.resolved[0].key.rule, RuleId::DbUnreachable);
}

#[test]
fn a_opens_the_alerts_pane_keys_scroll_it_and_esc_closes_it() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key('a'));
    assert!(app.show_alerts);
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(app.alerts_selected, Some(2));
    assert_eq!(
        app.selected_queue.as_deref(),
        Some("billing"),
        "the queues keep theirs"
    );
    app.update(key('G'));
    assert_eq!(app.alerts_selected, Some(3));
    app.update(key('j'));
    assert_eq!(app.alerts_selected, Some(3), "stays on the last row");
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert!(!app.show_alerts);
    app.update(key('a'));
    assert_eq!(app.alerts_selected, Some(0));
    app.update(key('a'));
    assert!(!app.show_alerts, "a toggles");
}

#[test]
fn kiosk_refuses_every_key_but_quit() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.kiosk = true;
    let before = (app.interval, app.queue_sort, app.selected_queue.clone());
    for c in ['j', 'k', ' ', 'r', '+', '-', '>', 'I', 'a', '?', 'G', '\t'] {
        assert!(app.update(key(c)).is_empty(), "key {c:?} did something");
    }
    assert!(
        app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)))
            .is_empty()
    );
    assert_eq!(
        (app.interval, app.queue_sort, app.selected_queue.clone()),
        before
    );
    assert!(!app.is_frozen() && !app.show_alerts && !app.show_help);
    assert_eq!(app.update(key('q')), [Effect::Quit]);
    let mut app = app_with_data(chrono::Duration::zero());
    app.kiosk = true;
    assert_eq!(
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        ))),
        [Effect::Quit]
    );
}
