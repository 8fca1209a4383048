//! Drawing: pure functions of `&App`, one file per pane.

mod alerts;
mod audit;
mod breadcrumb;
pub mod columns;
mod confirm;
pub mod connecting;
mod dead_letters;
pub mod dialog;
mod drill;
mod footer;
mod header;
mod help;
pub mod hits;
mod job;
mod jobs;
mod kinds;
mod kiosk;
mod load;
mod markers;
mod paused;
mod progress;
mod prompt;
mod queues;
mod schedules;
pub mod sources;
mod table;
mod tenants;
pub mod text;
pub mod theme;
mod when;
mod workers;
mod workers_view;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use crate::app::App;
use crate::app::focus::Focus;
use theme::Theme;

/// Below this the screen cannot say anything useful.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme::named(app.theme);
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.base), area);
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
    // One order for what is drawn on top and what has the keys: `App::layers`.
    let body_area = match app.screen() {
        Focus::Kiosk => return kiosk::draw(frame, area, app, &theme),
        Focus::View => {
            drill::draw(frame, area, app, &theme);
            drill::body_area(area, app)
        }
        // The alerts pane opens over a drill-down too, in the overview's frame; Esc goes
        // back to the view.
        _ => overview(frame, area, app, &theme),
    };
    overlays(frame, area, body_area, app, &theme);
}

/// The layers over a screen: help, the audit pane, a dialog.
fn overlays(frame: &mut Frame, area: Rect, body_area: Rect, app: &App, theme: &Theme) {
    for layer in app.layers() {
        match layer {
            Focus::Help => help::draw(frame, area, app, theme),
            Focus::Audit => {
                if let Some(pane) = &app.actions.audit {
                    audit::draw(frame, body_area, pane, theme);
                }
            }
            Focus::Dialog => {
                if let Some(dialog) = &app.actions.dialog {
                    confirm::draw(frame, area, dialog, theme);
                    progress::draw(frame, area, dialog, theme);
                }
            }
            // Screens are drawn above; the prompt is their bottom line.
            Focus::Overview | Focus::View | Focus::Alerts | Focus::Prompt | Focus::Kiosk => {}
        }
    }
}

/// The overview's frame: header, the queues and workers (or the alerts pane), the bottom
/// line. Returns the body's area.
fn overview(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) -> Rect {
    let [header_area, body_area, footer_area] = Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Min(8),
        Constraint::Length(prompt::height(app, area.width)),
    ])
    .areas(area);
    header::draw(frame, header_area, app, theme);
    if app.screen() == Focus::Alerts {
        alerts::draw(frame, body_area, app, theme);
    } else {
        let schedules_line = schedules::overview_line(app, theme);
        let [schedules_area, panes_area, note_area] = Layout::vertical([
            Constraint::Length(schedules_line.is_some() as u16),
            Constraint::Min(4),
            Constraint::Length(app.note.is_some() as u16),
        ])
        .areas(body_area);
        if let Some(note) = &app.note {
            frame.render_widget(Line::styled(format!(" {note}"), theme.dim), note_area);
        }
        if let Some(line) = schedules_line {
            frame.render_widget(line, schedules_area);
        }
        let workers_height = (panes_area.height * 2 / 5).clamp(4, 16);
        let [queues_area, workers_area] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(workers_height)])
                .areas(panes_area);
        queues::draw(frame, queues_area, app, theme);
        paused::draw(frame, queues_area, app, theme);
        workers::draw(frame, workers_area, app, theme);
    }
    if app.is_open(Focus::Prompt) {
        prompt::draw(frame, footer_area, app, theme);
    } else {
        footer::draw(frame, footer_area, app, theme);
    }
    body_area
}
