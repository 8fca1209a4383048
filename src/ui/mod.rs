//! Drawing: pure functions of `&App`, one file per pane.

mod breadcrumb;
pub mod columns;
mod dead_letters;
mod drill;
mod footer;
mod header;
mod help;
mod job;
mod jobs;
mod kinds;
mod prompt;
mod queues;
mod tenants;
pub mod text;
pub mod theme;
mod when;
mod workers;
mod workers_view;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::app::App;
use theme::Theme;

/// Below this the screen cannot say anything useful.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme::default();
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small: need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(Line::from(msg)).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    if app.top_view().is_some() {
        drill::draw(frame, area, app, &theme);
        if app.show_help {
            help::draw(frame, area, app, &theme);
        }
        return;
    }
    let body = area.height.saturating_sub(3);
    let workers_height = (body * 2 / 5).clamp(4, 16);
    let [header_area, queues_area, workers_area, footer_area] = Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Min(4),
        Constraint::Length(workers_height),
        Constraint::Length(prompt::height(app, area.width)),
    ])
    .areas(area);
    header::draw(frame, header_area, app, &theme);
    queues::draw(frame, queues_area, app, &theme);
    workers::draw(frame, workers_area, app, &theme);
    if app.drill.input.is_some() {
        prompt::draw(frame, footer_area, app, &theme);
    } else if let Some(n) = app.drill.notice.as_ref().filter(|n| n.until > app.now) {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!(" {}", text::sanitize(&n.text, 200)),
                theme.notice_banner,
            )),
            footer_area,
        );
    } else {
        footer::draw(frame, footer_area, app, &theme);
    }
    if app.show_help {
        help::draw(frame, area, app, &theme);
    }
}
