//! The overview drawn into ratatui's TestBackend, compared with stored snapshot files
//! (`tests/render/snapshots/`; review changes with `cargo insta review`).

use crate::ui_data;
use crate::ui_data::{app_with_data, render, t0};
use jobtop::app::{App, Msg};

#[test]
fn overview_80x24() {
    let app = app_with_data(chrono::Duration::milliseconds(400));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn overview_160x48() {
    let app = app_with_data(chrono::Duration::milliseconds(400));
    insta::assert_snapshot!(render(&app, 160, 48));
}

#[test]
fn stale_and_frozen_160x48() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char(' '),
    )));
    app.update(Msg::Polled {
        result: Err("error communicating with database: Connection refused (os error 111)".into()),
        at: t0() + chrono::Duration::seconds(3),
    });
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(4)));
    let screen = render(&app, 160, 48);
    assert!(screen.contains("STALE 4s"), "{screen}");
    assert!(screen.contains("FROZEN"), "{screen}");
    assert!(
        screen.contains("mailers"),
        "last data stays on screen: {screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn data_older_than_two_intervals_is_stale_while_a_poll_hangs() {
    // The last poll answered at t0; the next has neither answered nor failed.
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(1_900)));
    assert!(!app.is_data_stale());
    let screen = render(&app, 80, 24);
    assert!(!screen.contains(" STALE 1s"), "{screen}");
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(2_100)));
    assert!(app.is_data_stale(), "1 s interval, data 2.1 s old");
    let screen = render(&app, 80, 24);
    assert!(screen.contains("STALE 2s"), "{screen}");
}

#[test]
fn help_overlay_80x24() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('?'),
    )));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn too_small_terminal_says_so() {
    let app = app_with_data(chrono::Duration::zero());
    let screen = render(&app, 40, 10);
    assert!(
        screen.contains("terminal too small: need 60×12"),
        "{screen}"
    );
}

#[test]
fn waiting_for_first_poll() {
    let app = App::new(ui_data::config(), std::time::Duration::from_secs(1), t0());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("connecting…"), "{screen}");
    assert!(screen.contains("waiting for the first poll"), "{screen}");
}

#[test]
fn hostile_names_never_reach_the_terminal_raw() {
    let mut snapshot = ui_data::snapshot();
    snapshot.queues[0].name = "evil\x1b[2J\x1b]0;pwned\x07\u{202e}queue".to_string();
    snapshot.workers[0].id = "w\r\n\x1b[31mred".to_string();
    let app = ui_data::app_polled(ui_data::config(), snapshot);
    for cell in ui_data::buffer(&app, 160, 48).content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || c == '\u{202e}'),
            "raw control character reached the buffer: {:?}",
            cell.symbol()
        );
    }
    let screen = render(&app, 160, 48);
    assert!(screen.contains("evil\\x1b[2J"), "{screen}");
}

#[test]
fn a_schema_that_keeps_no_failures_shows_no_failure_figures() {
    // pgmq keeps no failures: its FAIL/m and FAIL% were never measured, so not 0 and 0.0%.
    let line = |caps: jobtop::backend::Capabilities, queue: &str| {
        let mut config = ui_data::config();
        config.capabilities = caps;
        let screen = render(&ui_data::app_polled(config, ui_data::snapshot()), 160, 48);
        let line = screen
            .lines()
            .find(|l| l.contains(queue))
            .map(str::to_string);
        line.unwrap_or_else(|| panic!("no {queue} row: {screen}"))
    };
    let kept = ui_data::CAPABILITIES;
    let none = jobtop::backend::Capabilities {
        failures: jobtop::backend::Support::No("pgmq keeps no failures"),
        ..kept
    };
    assert!(line(kept, "default").contains("0.0%"));
    assert!(line(kept, "webhooks").contains("6.7%"));
    for queue in ["default", "webhooks"] {
        let row = line(none, queue);
        assert!(!row.contains('%'), "{row}");
        assert_eq!(row.matches('–').count(), 2, "FAIL/m and FAIL% say –: {row}");
    }
    // Nor does the hour's chart count failures: its title gives done only, and where the
    // failed bars would be it says why.
    let mut config = ui_data::config();
    config.capabilities = none;
    let screen = render(&ui_data::app_polled(config, ui_data::snapshot()), 160, 48);
    let title = screen.lines().find(|l| l.contains("Last hour:")).unwrap();
    assert!(
        title.contains("done · peak") && !title.contains("failed"),
        "{title}"
    );
    assert!(screen.contains("pgmq keeps no failures"), "{screen}");
}

#[test]
fn a_schema_whose_completions_are_not_read_says_why_instead_of_zeros() {
    // Oban as it ships, on a big table: no index to read completions by. Zeros would read
    // as an idle queue.
    let why = "Oban has no index on completed_at and its table is over 8 MB: throughput and \
               failure rate are not shown (jobtop doctor names the index)";
    let mut config = ui_data::config();
    config.capabilities = jobtop::backend::Capabilities {
        throughput: jobtop::backend::Support::No(why),
        ..ui_data::CAPABILITIES
    };
    let mut snapshot = ui_data::snapshot();
    for q in &mut snapshot.queues {
        q.minutes.clear();
    }
    let app = ui_data::app_polled(config, snapshot);
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("Last hour: completions not read"),
        "{screen}"
    );
    assert!(
        screen.contains("Oban has no index on completed_at"),
        "{screen}"
    );
    assert!(!screen.contains("0 done"), "{screen}");
    assert!(screen.contains("DONE/min, 1h (not read)"), "{screen}");
    let row = screen.lines().find(|l| l.contains("webhooks")).unwrap();
    assert_eq!(
        row.matches('–').count(),
        3,
        "OK/m, FAIL/m and FAIL% say –: {row}"
    );
    insta::assert_snapshot!(render(&app, 80, 24));
}
