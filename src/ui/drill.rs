//! The screen while a drill-down view is open: header, breadcrumb, the view, and a footer
//! with the keys that view answers to (or the `/` prompt).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::theme::Theme;
use super::{
    breadcrumb, dead_letters, footer, header, job, jobs, kinds, prompt, schedules, tenants,
    workers_view,
};
use crate::app::focus::Focus;
use crate::app::{App, View};

fn areas(area: Rect, app: &App) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(prompt::height(app, area.width)),
    ])
    .areas(area)
}

/// Where the view itself is drawn (overlays such as the audit pane cover it).
pub fn body_area(area: Rect, app: &App) -> Rect {
    areas(area, app)[2]
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(view) = app.top_view() else {
        return;
    };
    let [header_area, crumb_area, body, footer_area] = areas(area, app);
    header::draw(frame, header_area, app, theme);
    breadcrumb::draw(frame, crumb_area, app, theme);
    match view {
        View::Jobs(v) => jobs::draw(frame, body, app, v, theme),
        View::Job(v) => job::draw(frame, body, app, v, theme),
        View::DeadLetters(v) => dead_letters::draw(frame, body, app, v, theme),
        View::Workers(v) => workers_view::draw(frame, body, app, v, theme),
        View::Kinds(v) => kinds::draw(frame, body, app, v, theme),
        View::Tenants(v) => tenants::draw(frame, body, app, v, theme),
        View::Schedules(v) => schedules::draw(frame, body, app, v, theme),
        View::ScheduleRuns(v) => schedules::draw_runs(frame, body, app, v, theme),
    }
    if app.is_open(Focus::Prompt) {
        prompt::draw(frame, footer_area, app, theme);
    } else {
        footer::draw(frame, footer_area, app, theme);
    }
}
