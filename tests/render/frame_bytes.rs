//! What a refresh sends to the terminal: a frame identical to the last one sends nothing; a
//! changed frame sends only its changed cells, inside a synchronized update.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::ui_data::{app_with_data, t0};
use jobtop::app::Msg;
use jobtop::terminal::draw_frame;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[test]
fn unchanged_frames_write_nothing_and_changes_write_little() {
    let out = Captured::default();
    let mut terminal = Terminal::with_options(
        CrosstermBackend::new(out.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
        },
    )
    .unwrap();
    let mut app = app_with_data(chrono::Duration::milliseconds(1200));
    let mut last = None;

    assert!(draw_frame(&mut terminal, &app, &mut last).unwrap());
    let first = out.take();
    assert!(first.len() > 2000, "a full first frame: {}", first.len());
    assert!(
        first.starts_with(b"\x1b[?2026h"),
        "synchronized update begins"
    );
    assert!(first.ends_with(b"\x1b[?2026l"), "and ends");

    // A clock tick inside the same second changes nothing on screen.
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(1450)));
    assert!(!draw_frame(&mut terminal, &app, &mut last).unwrap());
    assert!(out.take().is_empty());

    // The next second: ages move, a few cells change.
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(2100)));
    assert!(draw_frame(&mut terminal, &app, &mut last).unwrap());
    let tick = out.take();
    assert!(
        !tick.is_empty() && tick.len() < first.len() / 4,
        "{} bytes",
        tick.len()
    );
    assert!(!draw_frame(&mut terminal, &app, &mut last).unwrap());
    assert!(out.take().is_empty());
}
