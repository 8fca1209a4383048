//! The footer: the message of the moment, else the keys the screen offers, as many as fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text;
use super::theme::Theme;
use crate::app::App;
use crate::app::actions::Level;
use crate::app::keymap::visible_hints;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(toast) = app.visible_toast() {
        let (mark, style) = match toast.level {
            Level::Ok => ("✓", theme.ok),
            Level::Warn => ("!", theme.warn),
            Level::Error => ("✗", theme.critical),
            Level::Info => ("·", theme.text),
        };
        let line = format!(" {mark} {}", text::sanitize(&toast.text, 2_000));
        let line = text::truncate(&line, area.width as usize).into_owned();
        frame.render_widget(Paragraph::new(Line::styled(line, style)), area);
        return;
    }
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for hint in visible_hints(app.screen_keys(), app.config.read_only) {
        let cost = text::width(hint.keys) + text::width(hint.label) + 3;
        // In order of importance, each that still fits: a long one gives way to the next.
        if used + cost > area.width as usize {
            continue;
        }
        used += cost;
        spans.push(Span::styled(hint.keys, theme.header_key));
        spans.push(Span::raw(format!(" {}  ", hint.label)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.dim), area);
}
