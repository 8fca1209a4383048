//! The overview chart past the hour: `H` asks the backend for 24 hours, then 7 days; the
//! chart says what it shows, fills while hours are missing, and keeps the last hour's
//! minutes a key away.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent};

use jobtop::app::{App, Effect, Msg};
use jobtop::backend::MinuteBucket;
use jobtop::backend::drill::{HistoryWindow, Request, Response};
use jobtop::backend::history::HistoryReport;

use crate::ui_data::{app_with_data, render, t0};

fn press_h(app: &mut App) -> Option<(u64, HistoryWindow)> {
    app.update(Msg::Key(KeyEvent::from(KeyCode::Char('H'))))
        .into_iter()
        .find_map(|e| match e {
            Effect::Load {
                ticket,
                request: Request::History(window),
            } => Some((ticket, window)),
            _ => None,
        })
}

/// Mailers busy by day and quiet at night, webhooks steady.
fn day_report(missing_hours: i64) -> HistoryReport {
    let hours = |f: &dyn Fn(usize) -> u32| -> Vec<MinuteBucket> {
        (0..24)
            .map(|h| MinuteBucket {
                succeeded: f(h),
                failed: 0,
            })
            .collect()
    };
    let mut queues = BTreeMap::new();
    queues.insert(
        "mailers".to_string(),
        hours(&|h| if (8..20).contains(&h) { 900 } else { 40 }),
    );
    queues.insert("webhooks".to_string(), hours(&|_| 300));
    HistoryReport {
        window: HistoryWindow::Day,
        db_now: t0(),
        first_hour: t0().timestamp() / 3600 - 23,
        queues,
        kinds: BTreeMap::new(),
        missing_hours,
        shared: true,
    }
}

#[test]
fn h_switches_the_chart_to_24_hours_and_7_days_and_back() {
    let mut app = app_with_data(chrono::Duration::milliseconds(400));
    assert!(render(&app, 160, 48).contains("DONE/min, 1h"));

    let (ticket, window) = press_h(&mut app).expect("24 h is read from the backend");
    assert_eq!(window, HistoryWindow::Day);
    assert!(render(&app, 160, 48).contains("DONE/h, 24h (loading)"));

    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::History(day_report(6))),
    });
    assert!(render(&app, 160, 48).contains("DONE/h, 24h (filling)"));

    // The next poll asks again soon while hours are missing.
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(5)));
    let effects = app.update(Msg::Polled {
        result: Ok(crate::ui_data::snapshot()),
        at: t0() + chrono::Duration::seconds(5),
    });
    let again = effects.into_iter().find_map(|e| match e {
        Effect::Load {
            ticket,
            request: Request::History(HistoryWindow::Day),
        } => Some(ticket),
        _ => None,
    });
    let again = again.expect("a filling chart asks again");
    app.update(Msg::Loaded {
        ticket: again,
        result: Ok(Response::History(day_report(0))),
    });
    let screen = render(&app, 160, 48);
    assert!(screen.contains("DONE/h, 24h"), "{screen}");
    assert!(!screen.contains("(filling)"), "{screen}");
    insta::assert_snapshot!(screen);

    // A late answer for the old window does not land on the new one.
    let (week_ticket, window) = press_h(&mut app).expect("7 d");
    assert_eq!(window, HistoryWindow::Week);
    app.update(Msg::Loaded {
        ticket: again,
        result: Ok(Response::History(day_report(0))),
    });
    assert!(render(&app, 160, 48).contains("DONE/h, 7d (loading)"));
    app.update(Msg::Loaded {
        ticket: week_ticket,
        result: Err("timed out after 10s".into()),
    });
    assert!(render(&app, 160, 48).contains("DONE/h, 7d (unavailable)"));

    assert!(press_h(&mut app).is_none(), "the hour needs no read");
    assert!(render(&app, 160, 48).contains("DONE/min, 1h"));
}

#[test]
fn the_24_hour_chart_at_80x24() {
    let mut app = app_with_data(chrono::Duration::milliseconds(400));
    let (ticket, _) = press_h(&mut app).unwrap();
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::History(day_report(0))),
    });
    insta::assert_snapshot!(render(&app, 80, 24));
}
