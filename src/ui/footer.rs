//! The footer: the main keys, as many as fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text;
use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::BINDINGS;

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for b in BINDINGS {
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
