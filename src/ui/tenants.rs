//! Running and ready jobs per tenant, and the heartbeats per minute they should send
//! (running jobs with a fresh heartbeat × 60 / heartbeat interval).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use super::load::{first_load, load_status};
use super::table::{Column, Fitted, SelectableTable, left, narrow_note, right};
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;
use crate::app::views::TenantsView;
use crate::backend::drill::TenantStats;

#[derive(Clone, Copy)]
enum TenantCol {
    Tenant,
    Running,
    Beating,
    Ready,
    BeatsPerMinute,
}

#[rustfmt::skip]
const COLUMNS: [Column<TenantCol>; 5] = [
    left(TenantCol::Tenant,          "TENANT",    12, 40, 0),
    right(TenantCol::Running,        "RUNNING",   7, 7, 0),
    right(TenantCol::Beating,        "BEATING",   7, 7, 2),
    right(TenantCol::Ready,          "READY",     7, 7, 1),
    right(TenantCol::BeatsPerMinute, "BEATS/MIN", 9, 9, 0),
];

/// Heartbeats per minute that `jobs` running jobs send at `interval` seconds.
pub fn beats_per_minute(jobs: i64, interval_secs: f64) -> f64 {
    if interval_secs <= 0.0 {
        return 0.0;
    }
    jobs as f64 * 60.0 / interval_secs
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &TenantsView, theme: &Theme) {
    let [title_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let interval = app.config.drill.heartbeat_interval.as_secs_f64();
    let mut title = vec![Span::raw(format!(" heartbeat every {}s", trim(interval)))];
    if let Some(r) = &view.report {
        let beating: i64 = r.tenants.iter().map(|t| t.beating).sum();
        title.push(Span::raw(format!(
            " · {} tenants · {} beats/min expected in all",
            r.tenants.len(),
            trim(beats_per_minute(beating, interval))
        )));
        if r.tenants.iter().any(|t| t.ready.capped) {
            title.push(Span::styled(" · ready: N+ = counted to the cap", theme.dim));
        }
    }
    title.push(Span::styled("  (--heartbeat-interval)", theme.dim));
    title.extend(narrow_note::<TenantStats>(&view.narrow, theme));
    title.extend(load_status(&view.load, app.now, theme));
    frame.render_widget(Paragraph::new(Line::from(title)), title_area);

    if view.report.is_none() {
        return first_load(frame, table_area, theme);
    }
    let columns = Fitted::new(&COLUMNS, table_area.width);
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    // A schema without heartbeats cannot say which running jobs beat: a dash, not a zero.
    let beats = |s: String| {
        if app.config.capabilities.heartbeats.yes() {
            s
        } else {
            "–".to_string()
        }
    };
    let rows: Vec<Row> = view
        .shown()
        .into_iter()
        .map(|t| {
            columns.row(|col, width| match col {
                TenantCol::Tenant => match &t.tenant {
                    Some(name) => Cell::from(
                        text::truncate(&sanitize(name, 300), width as usize).into_owned(),
                    ),
                    None => Cell::from("(no tenant)").style(theme.dim),
                },
                TenantCol::Running => right(text::human_number(t.running)),
                TenantCol::Beating => right(beats(text::human_number(t.beating))),
                TenantCol::Ready => right(text::count(t.ready)),
                TenantCol::BeatsPerMinute => {
                    right(beats(trim(beats_per_minute(t.beating, interval))))
                }
            })
        })
        .collect();
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(view.selected_index())
        .empty(Line::styled("  no running or ready jobs", theme.dim))
        .render(frame, table_area);
}

/// `2`, `2.5`, `0.33`.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_budget() {
        assert_eq!(beats_per_minute(10, 30.0), 20.0);
        assert_eq!(trim(beats_per_minute(1, 45.0)), "1.33");
        assert_eq!(trim(beats_per_minute(0, 30.0)), "0");
        assert_eq!(beats_per_minute(5, 0.0), 0.0);
    }
}
