//! The alerts pane, the wall screen (`--kiosk`) and the monochrome theme drawn into
//! ratatui's TestBackend (snapshots in `tests/render/snapshots/`).

use crate::ui_data;
use crate::ui_data::{app_with_data, buffer, render, snapshot, snapshot_at, t0};
use jobtop::app::{App, Msg, ThemeName};
use ratatui::style::{Color, Modifier};

fn secs(s: i64) -> chrono::DateTime<chrono::Utc> {
    t0() + chrono::Duration::seconds(s)
}

/// The fixture after six minutes of polls: the backlog alert has fired too, and a dead
/// letter alert resolved along the way.
fn app_with_history() -> App {
    let mut app = app_with_data(chrono::Duration::zero());
    for s in [60, 120, 180, 240, 300, 360] {
        let mut next = snapshot_at(chrono::Duration::seconds(s));
        if s >= 300 {
            next.queues[2].dead = jobtop::backend::Count::exact(0);
        }
        app.update(Msg::Polled {
            result: Ok(next),
            at: secs(s),
        });
    }
    app.update(Msg::Tick(secs(362)));
    app
}

fn kiosk(mut app: App) -> App {
    app.kiosk = true;
    app.theme = ThemeName::choose(None, true, None);
    app
}

#[test]
fn alerts_pane_160x48() {
    let mut app = app_with_history();
    app.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('a'),
    )));
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Alerts: 3 firing, 0 pending, 1 resolved"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn alerts_pane_80x24() {
    let mut app = app_with_history();
    app.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('a'),
    )));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn kiosk_80x24() {
    let app = kiosk(app_with_history());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("12:06:02"), "the clock: {screen}");
    assert!(screen.contains("data 2s old"), "the data age: {screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn kiosk_160x48() {
    let app = kiosk(app_with_history());
    insta::assert_snapshot!(render(&app, 160, 48));
}

#[test]
fn kiosk_all_clear_160x48() {
    let mut calm = snapshot();
    calm.queues
        .retain(|q| q.name == "default" || q.name == "billing");
    calm.workers.retain(|w| w.id != "worker-dead");
    let app = kiosk(ui_data::app_polled(ui_data::config(), calm));
    let screen = render(&app, 160, 48);
    assert!(screen.contains("OK · no alert firing"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn kiosk_database_unreachable_keeps_the_last_data_80x24() {
    let mut app = kiosk(app_with_history());
    for s in [363, 400, 500] {
        app.update(Msg::Polled {
            result: Err("error communicating with database: Connection refused".into()),
            at: secs(s),
        });
    }
    app.update(Msg::Tick(secs(501)));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("DATABASE UNREACHABLE"), "{screen}");
    assert!(screen.contains("STALE: data 2m21s old"), "{screen}");
    assert!(screen.contains("mailers"), "the last data stays: {screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn kiosk_is_never_blank_before_the_first_poll() {
    let mut app = kiosk(App::new(
        ui_data::config(),
        std::time::Duration::from_secs(1),
        t0(),
    ));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("NO DATA YET"), "{screen}");
    assert!(screen.contains("connecting to ops@db.internal"), "{screen}");
    app.update(Msg::Polled {
        result: Err("password authentication failed".into()),
        at: secs(3),
    });
    let screen = render(&app, 80, 24);
    assert!(screen.contains("DATABASE UNREACHABLE for 0s"), "{screen}");
    assert!(
        screen.contains("NO DATA YET") && screen.contains("1 poll failed"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

/// Every screen, monochrome: no cell carries a colour, and what colour would have said is
/// still there as a symbol or a word.
#[test]
fn monochrome_emits_no_colour_anywhere() {
    let mut screens = Vec::new();
    let mut normal = app_with_history();
    normal.theme = ThemeName::choose(None, false, Some("1"));
    assert_eq!(normal.theme, ThemeName::Monochrome);
    screens.push(("overview", normal.clone()));
    let mut pane = normal.clone();
    pane.show_alerts = true;
    screens.push(("alerts pane", pane));
    let mut help = normal.clone();
    help.show_help = true;
    screens.push(("help", help));
    let mut stale = normal.clone();
    stale.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char(' '),
    )));
    stale.update(Msg::Polled {
        result: Err("down".into()),
        at: secs(400),
    });
    screens.push(("stale and frozen", stale.clone()));
    let mut wall = stale;
    wall.kiosk = true;
    screens.push(("kiosk", wall));
    for (name, app) in &screens {
        for (w, h) in [(80, 24), (160, 48)] {
            let buf = buffer(app, w, h);
            for (i, cell) in buf.content().iter().enumerate() {
                assert!(
                    cell.fg == Color::Reset && cell.bg == Color::Reset,
                    "{name} {w}x{h}: cell {} at ({}, {}) has fg {:?} bg {:?}",
                    cell.symbol(),
                    i as u16 % w,
                    i as u16 / w,
                    cell.fg,
                    cell.bg
                );
            }
        }
    }
    // The markers and words carry the states.
    let screen = render(&screens[0].1, 160, 48);
    assert!(screen.contains("!! mailers"), "{screen}");
    assert!(screen.contains("!! worker-dead"), "{screen}");
    assert!(screen.contains("STALE 3 stuck"), "{screen}");
    assert!(screen.contains("PAUSED"), "{screen}");
    // Emphasis is made with attributes instead.
    let buf = buffer(&screens[0].1, 160, 48);
    assert!(
        buf.content()
            .iter()
            .any(|c| c.modifier.contains(Modifier::REVERSED))
    );
}

#[test]
fn the_default_and_high_contrast_themes_do_use_colour() {
    let app = app_with_history();
    let buf = buffer(&app, 80, 24);
    assert!(
        buf.content()
            .iter()
            .any(|c| c.fg == Color::Red || c.bg == Color::Red)
    );
    let app = kiosk(app);
    let buf = buffer(&app, 80, 24);
    // High contrast paints its own black background under everything.
    assert!(buf.content().iter().all(|c| c.bg != Color::Reset));
}

/// During an outage nothing is judged: a pending alert's clock stops at the last data
/// rather than read past its `for` for an alert that cannot fire.
#[test]
fn kiosk_pending_clock_stops_while_the_database_is_away() {
    let mut app = kiosk(app_with_data(chrono::Duration::zero()));
    app.update(Msg::Polled {
        result: Ok(snapshot_at(chrono::Duration::seconds(60))),
        at: secs(60),
    });
    app.update(Msg::Tick(secs(61)));
    let before = render(&app, 120, 30);
    let line = before
        .lines()
        .find(|l| l.contains("pending:"))
        .unwrap_or_else(|| panic!("a pending alert: {before}"))
        .to_string();
    assert!(line.contains("of 5m00s"), "{line}");
    for s in [70, 400] {
        app.update(Msg::Polled {
            result: Err("error communicating with database: Connection refused".into()),
            at: secs(s),
        });
    }
    app.update(Msg::Tick(secs(401)));
    let after = render(&app, 120, 30);
    assert!(after.contains("DATABASE UNREACHABLE"), "{after}");
    let line = after
        .lines()
        .find(|l| l.contains("pending:"))
        .unwrap_or_else(|| panic!("still pending: {after}"))
        .to_string();
    assert!(
        !line.contains("6m"),
        "the clock stopped at the last data: {line}"
    );
    assert!(line.contains("of 5m00s"), "{line}");
}

/// Entirely blank rows of a screen.
fn blank_rows(screen: &str) -> usize {
    screen.lines().filter(|l| l.trim().is_empty()).count()
}

/// A big terminal shows the firing alerts and the hour's chart where rows would stay
/// blank; a small one gives its spare rows to the workers.
#[test]
fn overview_uses_a_big_terminal_250x70() {
    let app = app_with_history();
    let screen = render(&app, 250, 70);
    assert!(screen.contains("Firing (3)"), "{screen}");
    assert!(screen.contains("Last hour:"), "{screen}");
    assert!(
        blank_rows(&screen) <= 24,
        "{} blank rows:\n{screen}",
        blank_rows(&screen)
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn overview_shows_firing_alerts_and_the_hour_160x48() {
    let app = app_with_history();
    let screen = render(&app, 160, 48);
    assert!(screen.contains("Firing (3)"), "{screen}");
    assert!(
        blank_rows(&screen) <= 8,
        "{} blank rows:\n{screen}",
        blank_rows(&screen)
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn overview_gives_spare_rows_to_the_workers_80x24() {
    let app = app_with_history();
    let screen = render(&app, 80, 24);
    // Every worker is on screen, and no row is wasted.
    for worker in ["worker-a", "worker-b", "worker-dead", "worker-m"] {
        assert!(screen.contains(worker), "{worker}:\n{screen}");
    }
    assert!(!screen.contains("Firing ("), "no room for more at 80×24");
    // No blank rows between the queues and the workers: what is left is the workers'.
    let lines: Vec<&str> = screen.lines().collect();
    let last_queue = lines.iter().position(|l| l.contains("webhooks")).unwrap();
    assert!(lines[last_queue + 1].contains("Workers (4)"), "{screen}");
    insta::assert_snapshot!(screen);
}
