//! Who paused the selected queue, since when, and why: one line under the queues table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;

/// Whether the selected queue is paused: the queues pane then keeps a row for this line.
pub fn wanted(app: &App) -> bool {
    let (Some(received), Some(name)) = (app.shown(), app.selected_queue.as_ref()) else {
        return false;
    };
    let queues = &received.snapshot.queues;
    queues.iter().any(|q| &q.name == name && q.paused.is_some())
}

/// Draws on the last row of `area` when the selected queue is paused and the row is free.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (Some(received), Some(now), Some(name)) =
        (app.shown(), app.db_now(), app.selected_queue.as_ref())
    else {
        return;
    };
    let queues = &received.snapshot.queues;
    // Border, column header and one row per queue come first.
    if (area.height as usize) < queues.len() + 3 {
        return;
    }
    let Some(q) = queues.iter().find(|q| &q.name == name) else {
        return;
    };
    let Some(p) = &q.paused else {
        return;
    };
    let mut spans = vec![
        Span::raw(" "),
        Span::raw(sanitize(&q.name, 100).into_owned()),
        Span::raw(" "),
        Span::styled(" PAUSED ", theme.notice_banner),
        // Most queue systems keep no author of a pause (only jobtop's audit does): say
        // nothing rather than "by unknown".
        Span::raw(match p.by.as_deref() {
            Some(by) => format!(" by {} for {}", sanitize(by, 100), text::age(now - p.at)),
            None => format!(" for {}", text::age(now - p.at)),
        }),
    ];
    if let Some(reason) = p.reason.as_deref().filter(|r| !r.is_empty()) {
        spans.push(Span::raw(format!(": {}", sanitize(reason, 200))));
    }
    spans.push(Span::styled("  (p resumes)", theme.dim));
    frame.render_widget(
        Line::from(spans),
        Rect {
            y: area.y + area.height - 1,
            height: 1,
            ..area
        },
    );
}
