//! The workers pane: who is alive, who went quiet, and who went quiet holding jobs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::columns::{ColumnSpec, fit};
use super::markers;
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::{App, Pane};
use crate::backend::WorkerInfo;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Marker,
    Id,
    Host,
    Pid,
    Jobs,
    Heartbeat,
    Status,
    Queues,
}

#[rustfmt::skip]
const COLUMNS: [(Col, &str, ColumnSpec); 8] = [
    (Col::Marker,    "",       ColumnSpec { min: 2, max: 2, priority: 0 }),
    (Col::Id,        "WORKER", ColumnSpec { min: 12, max: 30, priority: 0 }),
    (Col::Host,      "HOST",   ColumnSpec { min: 10, max: 20, priority: 4 }),
    (Col::Pid,       "PID",    ColumnSpec { min: 7, max: 7, priority: 6 }),
    (Col::Jobs,      "JOBS",   ColumnSpec { min: 4, max: 5, priority: 2 }),
    (Col::Heartbeat, "BEAT",   ColumnSpec { min: 7, max: 7, priority: 1 }),
    (Col::Status,    "STATUS", ColumnSpec { min: 13, max: 14, priority: 1 }),
    (Col::Queues,    "QUEUES", ColumnSpec { min: 8, max: 60, priority: 5 }),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.pane == Pane::Workers;
    let title = match app.shown() {
        Some(r) => format!(" Workers ({}) ", r.snapshot.workers.len()),
        None => " Workers ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(title, theme.title));

    if !app.config.capabilities.workers.yes() {
        frame.render_widget(
            Table::new(
                vec![
                    Row::new(vec![Cell::from(format!(
                        "the {} backend has no worker table: no heartbeats to show",
                        app.config.backend
                    ))])
                    .style(theme.dim),
                ],
                [Constraint::Fill(1)],
            )
            .block(block),
            area,
        );
        return;
    }
    let (Some(received), Some(now)) = (app.shown(), app.db_now()) else {
        frame.render_widget(block, area);
        return;
    };

    let specs: Vec<ColumnSpec> = COLUMNS.iter().map(|(_, _, s)| *s).collect();
    let widths = fit(&specs, area.width, 1);
    let shown: Vec<(Col, &str, u16)> = COLUMNS
        .iter()
        .zip(&widths)
        .filter(|(_, w)| **w > 0)
        .map(|((c, t, _), w)| (*c, *t, *w))
        .collect();

    let header = Row::new(shown.iter().map(|(_, t, _)| Cell::from(*t))).style(theme.column_header);
    let rows: Vec<Row> = app
        .worker_order()
        .into_iter()
        .map(|i| {
            let w = &received.snapshot.workers[i];
            let stale = app.is_stale(w.heartbeat_age(now));
            Row::new(shown.iter().map(|(col, _, width)| match col {
                Col::Marker => markers::cell(app.alerts.worst_for_worker(&w.id), theme),
                _ => cell(*col, *width, w, stale, now, theme),
            }))
        })
        .collect();
    let empty = rows.is_empty();

    let table = Table::new(rows, shown.iter().map(|(_, _, w)| Constraint::Length(*w)))
        .header(header)
        .column_spacing(1)
        .flex(ratatui::layout::Flex::Start)
        .block(block)
        .row_highlight_style(if focused {
            theme.selected
        } else {
            theme.selected_unfocused
        });
    let selected = if app.kiosk {
        None
    } else {
        app.selected_worker_row()
    };
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
    if empty && area.height > 3 {
        let msg = Line::styled("  no workers have registered", theme.dim);
        frame.render_widget(
            msg,
            Rect {
                y: area.y + 2,
                height: 1,
                ..area
            },
        );
    }
}

fn cell<'a>(
    col: Col,
    width: u16,
    w: &WorkerInfo,
    stale: bool,
    now: chrono::DateTime<chrono::Utc>,
    theme: &Theme,
) -> Cell<'a> {
    let fit = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    match col {
        Col::Marker => Cell::from(""),
        Col::Id => Cell::from(fit(&w.id)),
        Col::Host => Cell::from(fit(w.host.as_deref().unwrap_or("–"))),
        Col::Pid => {
            Cell::from(Line::from(w.pid.map_or("–".into(), |p| p.to_string())).right_aligned())
        }
        Col::Jobs => Cell::from(Line::from(w.running_jobs.to_string()).right_aligned()),
        Col::Heartbeat => {
            let age = w.heartbeat_age(now).map_or("–".to_string(), text::age);
            let c = Cell::from(Line::from(age).right_aligned());
            if stale { c.style(theme.critical) } else { c }
        }
        Col::Status => match (stale, w.running_jobs) {
            (true, n) if n > 0 => Cell::from(format!("STALE {n} stuck")).style(theme.alarm_banner),
            (true, _) => Cell::from("STALE").style(theme.warn),
            (false, _) => Cell::from("ok").style(theme.ok),
        },
        Col::Queues => Cell::from(fit(&w.queues.join(","))),
    }
}
