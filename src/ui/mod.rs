//! Drawing: pure functions of `&App`, one file per pane.

mod alerts;
mod audit;
mod big_figures;
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
mod insights;
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

/// `user@host:port/db` shortened as the header shortens it.
pub use header::shorten_target as header_target;

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

/// The heights of the queues pane and of the firing alerts and chart under it; the workers
/// take the rest. The queues get the rows they fill; the workers keep room for theirs (up to
/// two fifths of the screen, as before); rows neither would fill go to the alerts and the
/// chart when there are enough of them and the screen is wide, else to the workers.
fn pane_heights(app: &App, area: Rect) -> (u16, u16) {
    // A pane's title line and column header, then a row each.
    let chrome = 2;
    let (queues, workers) = app.shown().map_or((0, 0), |r| {
        (app.queue_order().len(), r.snapshot.workers.len())
    });
    let height = area.height;
    let workers_need = (workers as u16).saturating_add(chrome);
    let workers_keep = workers_need.min((height * 2 / 5).clamp(4, 16)).max(4);
    let queues_room = height.saturating_sub(workers_keep).max(4);
    let paused_line = paused::wanted(app) as u16;
    let queues_h = (queues as u16)
        .max(1)
        .saturating_add(chrome + paused_line)
        .min(queues_room);
    let spare = height.saturating_sub(queues_h + workers_need);
    let insights = match spare >= insights::MIN_HEIGHT && area.width >= 100 {
        true => spare.min(insights::MAX_HEIGHT),
        false => 0,
    };
    (queues_h, insights)
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
        let (queues_h, insights_h) = pane_heights(app, panes_area);
        let [queues_area, insights_area, workers_area] = Layout::vertical([
            Constraint::Length(queues_h),
            Constraint::Length(insights_h),
            Constraint::Min(4),
        ])
        .areas(panes_area);
        queues::draw(frame, queues_area, app, theme);
        paused::draw(frame, queues_area, app, theme);
        if insights_h > 0 {
            insights::draw(frame, insights_area, app, theme);
        }
        workers::draw(frame, workers_area, app, theme);
    }
    if app.is_open(Focus::Prompt) {
        prompt::draw(frame, footer_area, app, theme);
    } else {
        footer::draw(frame, footer_area, app, theme);
    }
    body_area
}
