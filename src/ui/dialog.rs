//! A centred popup with a border and wrapped text: what every action dialog is drawn in.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::text::{self, sanitize};
use super::theme::Theme;

/// Widest a dialog gets, so lines stay readable on a wide screen.
const MAX_WIDTH: u16 = 84;

/// Text cells inside a dialog drawn in `area`.
pub fn inner_width(area: Rect) -> usize {
    dialog_width(area).saturating_sub(4) as usize
}

fn dialog_width(area: Rect) -> u16 {
    MAX_WIDTH.min(area.width.saturating_sub(2))
}

/// Draws `lines` (already wrapped to `inner_width`) in a bordered popup centred in `area`.
pub fn draw(frame: &mut Frame, area: Rect, title: &str, border: Style, lines: Vec<Line>) {
    let width = dialog_width(area);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = centred(area, width, height);
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(format!(" {title} "), border));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let padded = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), padded);
}

/// An overlay's frame (the help, the audit pane): `area` cleared, a focused border, the
/// title. Returns the inside.
pub fn overlay(frame: &mut Frame, area: Rect, title: String, theme: &Theme) -> Rect {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    inner
}

/// A `width` × `height` rectangle in the middle of `area`.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    popup
}

/// Database text, sanitized and wrapped at word boundaries to `width` cells, one `Line`
/// per row in `style`.
pub fn wrapped(raw: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    wrap(&sanitize(raw, 2_000), width)
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect()
}

/// Word wrap by display width; a word longer than a row is cut across rows.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    for word in s.split(' ') {
        let w = text::width(word);
        if used > 0 && used + 1 + w > width {
            rows.push(std::mem::take(&mut row));
            used = 0;
        }
        if used > 0 {
            row.push(' ');
            used += 1;
        }
        if w <= width {
            row.push_str(word);
            used += w;
            continue;
        }
        for c in word.chars() {
            let cw = text::width(c.encode_utf8(&mut [0; 4]));
            if used + cw > width {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            row.push(c);
            used += cw;
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

/// A row of buttons, the focused one highlighted; one per row when they do not fit.
pub fn buttons(labels: &[String], focus: usize, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let total: usize = labels.iter().map(|l| text::width(l) + 6).sum();
    let button = |i: usize, label: &str| {
        let style = if i == focus {
            theme.selected
        } else {
            theme.text
        };
        Span::styled(format!("[ {} ]", sanitize(label, 200)), style)
    };
    if total <= width {
        let mut spans = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw("   "));
            }
            spans.push(button(i, l));
        }
        vec![Line::from(spans)]
    } else {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| Line::from(button(i, l)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_and_cuts_long_ones() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
    }
}
