//! The screen before the first session: whom jobtop is waiting for, for how long, and how
//! to leave, so a server that never answers never leaves a blank terminal.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::text::sanitize;
use super::theme::Theme;

pub fn draw(frame: &mut Frame, target: &str, waited: Duration, theme: &Theme) {
    let [_, middle, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(2),
        Constraint::Fill(1),
    ])
    .areas(frame.area());
    let lines = vec![
        Line::from(format!(
            "connecting to {} … {}s",
            sanitize(target, 200),
            waited.as_secs()
        ))
        .centered(),
        Line::styled("q or Ctrl-C quits", theme.dim).centered(),
    ];
    frame.render_widget(Paragraph::new(lines), middle);
}
