//! The `?` overlay: every key, from the same table that drives `update`. As many columns
//! as the screen holds; a description longer than its column wraps under itself, never
//! cut; what does not fit the height scrolls (↑↓).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::dialog;
use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::visible_bindings;

const KEY_WIDTH: usize = 10;
const COLUMN_WIDTH: u16 = 58;
const MAX_COLUMNS: u16 = 3;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let room_width = area.width.saturating_sub(2);
    let columns = (room_width / COLUMN_WIDTH).clamp(1, MAX_COLUMNS);
    let column_width = COLUMN_WIDTH.min(room_width / columns);
    let lines = lines(app, column_width as usize, theme);
    let columns = columns.min(lines.len().max(1) as u16);
    let per_column = lines.len().div_ceil(columns as usize);
    let room = area.height.saturating_sub(2) as usize;
    let scroll = if per_column > room {
        app.help_scroll.min(per_column - room)
    } else {
        0
    };
    let visible = per_column.min(room);
    let height = (visible as u16 + 2).min(area.height);
    let width = (column_width * columns + 2).min(area.width);
    let popup = dialog::centred(area, width, height);
    let title = if per_column > room {
        format!(
            " Keys {}–{} of {} — ↑↓ scroll, Esc closes ",
            scroll + 1,
            scroll + visible,
            per_column
        )
    } else {
        " Keys — Esc or ? closes ".to_string()
    };
    let inner = dialog::overlay(frame, popup, title, theme);
    let parts =
        Layout::horizontal(vec![Constraint::Length(column_width); columns as usize]).split(inner);
    for (i, part) in parts.iter().enumerate() {
        let column: Vec<Line> = lines
            .iter()
            .skip(i * per_column + scroll)
            .take(visible.min(per_column))
            .cloned()
            .collect();
        frame.render_widget(Paragraph::new(column), *part);
    }
}

/// Every binding: its keys, then its description wrapped to the column, the rows after
/// the first indented under the description.
fn lines<'a>(app: &App, column_width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let room = column_width.saturating_sub(KEY_WIDTH + 1).max(8);
    let mut lines = Vec::new();
    for b in visible_bindings(app.config.read_only) {
        for (i, row) in dialog::wrap(b.help, room).into_iter().enumerate() {
            let keys = if i == 0 { b.keys } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!(" {keys:<KEY_WIDTH$}"), theme.header_key),
                Span::raw(row),
            ]));
        }
    }
    lines
}
