//! The `?` overlay: every key, from the same table that drives `update`. Two columns where
//! the screen is wide; one that scrolls (↑↓) where it is not.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{dialog, text};
use crate::app::App;
use crate::app::keymap::visible_bindings;

const KEY_WIDTH: usize = 10;
const COLUMN_WIDTH: u16 = 58;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines: Vec<Line> = visible_bindings(app.config.read_only)
        .map(|b| {
            let help = text::truncate(b.help, COLUMN_WIDTH as usize - KEY_WIDTH - 3).into_owned();
            Line::from(vec![
                Span::styled(format!(" {:<KEY_WIDTH$}", b.keys), theme.header_key),
                Span::raw(help),
            ])
        })
        .collect();
    let columns: usize = if area.width >= 2 * COLUMN_WIDTH + 4 {
        2
    } else {
        1
    };
    let per_column = lines.len().div_ceil(columns);
    let room = area.height.saturating_sub(2) as usize;
    let scroll = if per_column > room {
        app.help_scroll.min(per_column - room)
    } else {
        0
    };
    let visible = per_column.min(room);
    let height = (visible as u16 + 2).min(area.height);
    let width = (COLUMN_WIDTH * columns as u16 + 2).min(area.width);
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
    let parts = Layout::horizontal(vec![Constraint::Length(COLUMN_WIDTH); columns]).split(inner);
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
