//! The footer: the main keys, as many as fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text;
use super::theme::Theme;
use crate::app::App;
use crate::app::actions::Level;
use crate::app::keymap::visible_bindings;

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
    for b in visible_bindings(app.config.read_only) {
        let Some(label) = b.footer else { continue };
        let key = b.keys.split(' ').next().unwrap_or(b.keys);
        let key = if b.keys == "+ -" || b.keys == "< >" {
            b.keys
        } else {
            key
        };
        let cost = text::width(key) + text::width(label) + 3;
        if used + cost > area.width as usize {
            break;
        }
        used += cost;
        spans.push(Span::styled(key.to_string(), theme.header_key));
        spans.push(Span::raw(format!(" {label}  ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.dim), area);
}
