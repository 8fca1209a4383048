//! The mouse, from the position the terminal reports to the state: what a frame drew where
//! (`ui::hits`), a click selecting a row or switching a tab, the wheel; and Ctrl-Z.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::views::View;
use jobtop::app::{App, Effect, Mouse, Msg, Pane, Table};
use jobtop::backend::JobState;
use jobtop::backend::drill::{JobScope, Request, Response};
use jobtop::ui::hits::{Hits, draw_with_hits};

use crate::drill_data::{answer, code, dead_report, load, page};
use crate::ui_data::app_on_screen;

fn app() -> App {
    app_on_screen(chrono::Duration::zero(), 80, 24)
}

/// The frame as lines of text, and where its tables and tabs are.
fn frame(app: &App) -> (Vec<String>, Hits) {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    let mut hits = Hits::default();
    terminal.draw(|f| hits = draw_with_hits(f, app)).unwrap();
    let buffer = terminal.backend().buffer();
    let lines = (0..24)
        .map(|y| (0..80).map(|x| buffer[(x, y)].symbol()).collect())
        .collect();
    (lines, hits)
}

/// Where `text` is on screen (the first place), as the terminal reports a click on it.
fn find(lines: &[String], text: &str) -> (u16, u16) {
    for (y, line) in lines.iter().enumerate() {
        if let Some(byte) = line.find(text) {
            return (line[..byte].chars().count() as u16, y as u16);
        }
    }
    panic!("{text:?} is not on screen:\n{}", lines.join("\n"))
}

fn click(app: &mut App, text: &str) -> Vec<Effect> {
    let (lines, hits) = frame(app);
    // The first place `text` is drawn that answers a click (the header's totals name the
    // same words as the tabs, and are not clickable).
    let mouse = lines
        .iter()
        .enumerate()
        .flat_map(|(y, line)| {
            line.match_indices(text)
                .map(move |(byte, _)| (line[..byte].chars().count() as u16, y as u16))
        })
        .find_map(|(x, y)| hits.at(x + 1, y))
        .unwrap_or_else(|| panic!("nothing to click at {text:?}:\n{}", lines.join("\n")));
    app.update(Msg::Mouse(mouse))
}

#[test]
fn a_click_selects_the_row_under_it_in_either_pane() {
    let mut app = app();
    click(&mut app, "webhooks");
    assert_eq!(*app.selected_queue, Some("webhooks".to_string()));
    assert_eq!(app.pane, Pane::Queues);
    click(&mut app, "worker-m");
    assert_eq!(app.pane, Pane::Workers);
    assert_eq!(*app.selected_worker, Some("worker-m".to_string()));
    // A header or a border selects nothing.
    let (lines, hits) = frame(&app);
    let (x, y) = find(&lines, "QUEUE");
    assert_eq!(hits.at(x, y), None);
}

#[test]
fn a_click_on_a_tab_switches_to_it_and_rows_of_a_view_select() {
    let mut app = app();
    answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Jobs(page(1..40, JobState::Ready, false)),
    );
    let (_, request) = load(&click(&mut app, "dead"));
    match request {
        Request::Jobs(q) => assert!(matches!(
            q.scope,
            JobScope::Queue {
                state: JobState::Dead,
                ..
            }
        )),
        other => panic!("{other:?}"),
    }
    app.update(code(KeyCode::Esc));
    answer(
        &mut app,
        code(KeyCode::Char('d')),
        Response::DeadLetters(dead_report()),
    );
    click(&mut app, "HTTP <n>");
    let Some(View::DeadLetters(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(v.selected.as_deref(), Some("HTTP <n> from '?'"));
    // The window tabs: 7d.
    let (_, request) = load(&click(&mut app, "7d"));
    assert!(matches!(request, Request::DeadLetters(q) if q.window.label() == "7d"));
}

#[test]
fn the_wheel_moves_three_rows_and_ctrl_z_suspends_from_anywhere() {
    let mut app = app();
    let first = app.queue_names()[0].clone();
    assert_eq!(*app.selected_queue, Some(first));
    app.update(Msg::Mouse(Mouse::Wheel(1)));
    assert_eq!(app.selected_queue_row(), Some(3));
    app.update(Msg::Mouse(Mouse::Wheel(-1)));
    assert_eq!(app.selected_queue_row(), Some(0));
    let ctrl_z = Msg::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    assert!(matches!(app.update(ctrl_z.clone())[..], [Effect::Suspend]));
    // With the prompt open too: the letters are text, Ctrl-Z is not.
    app.update(code(KeyCode::Char('/')));
    assert!(matches!(app.update(ctrl_z)[..], [Effect::Suspend]));
    // Clicks do not reach under the prompt.
    assert!(
        app.update(Msg::Mouse(Mouse::Row {
            table: Table::Queues,
            row: 2
        }))
        .is_empty()
    );
    assert_eq!(app.selected_queue_row(), Some(0));
}
