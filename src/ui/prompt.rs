//! The bottom line while `/` is open: the filter being typed, what is wrong with it, or
//! the warning that a search has no index to use.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::{KeyContext, hint_line};

/// Lines the bottom of the screen needs: one, and more for an error or warning (wrapped).
pub fn height(app: &App, width: u16) -> u16 {
    let Some(input) = &app.drill.input else {
        return 1;
    };
    match input.confirm.as_ref().or(input.error.as_ref()) {
        Some(w) => 1 + (text::width(&sanitize(w, 400)) as u16 + 1).div_ceil(width.max(1)),
        None => 1,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(input) = &app.drill.input else {
        return;
    };
    let hint = if app.top_view().is_none() {
        "job id"
    } else {
        "48213 · kind:K · tenant:T · error text"
    };
    let mut lines = Vec::new();
    if let Some(warning) = input.confirm.as_ref().or(input.error.as_ref()) {
        lines.push(Line::styled(
            format!(" {}", sanitize(warning, 400)),
            theme.warn,
        ));
    }
    let mut prompt = vec![
        Span::styled(" / ", theme.header_key),
        Span::raw(sanitize(input.text.as_str(), 400).into_owned()),
        Span::styled("█", theme.dim),
    ];
    if input.text.is_empty() {
        prompt.push(Span::styled(
            format!("  {hint} · {}", hint_line(KeyContext::Prompt)),
            theme.dim,
        ));
    }
    lines.push(Line::from(prompt));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
