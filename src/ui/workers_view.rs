//! Every worker in full: where it runs, since when, its heartbeat, the jobs it holds;
//! STALE when its heartbeat is old, CRASHED when it went quiet holding jobs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::columns::{ColumnSpec, fit};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use crate::app::App;
use crate::app::views::WorkersView;

const COLUMNS: [(&str, ColumnSpec); 8] = [
    (
        "WORKER",
        ColumnSpec {
            min: 12,
            max: 30,
            priority: 0,
        },
    ),
    (
        "STATUS",
        ColumnSpec {
            min: 17,
            max: 17,
            priority: 0,
        },
    ),
    (
        "JOBS",
        ColumnSpec {
            min: 4,
            max: 5,
            priority: 1,
        },
    ),
    (
        "BEAT",
        ColumnSpec {
            min: 7,
            max: 7,
            priority: 1,
        },
    ),
    (
        "HOST",
        ColumnSpec {
            min: 10,
            max: 24,
            priority: 3,
        },
    ),
    (
        "PID",
        ColumnSpec {
            min: 7,
            max: 7,
            priority: 5,
        },
    ),
    (
        "STARTED",
        ColumnSpec {
            min: 10,
            max: 10,
            priority: 4,
        },
    ),
    (
        "QUEUES",
        ColumnSpec {
            min: 8,
            max: 80,
            priority: 2,
        },
    ),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &WorkersView, theme: &Theme) {
    let [title_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let (Some(received), Some(now)) = (app.shown(), app.db_now()) else {
        frame.render_widget(
            Line::styled(" waiting for the first poll…", theme.dim),
            title_area,
        );
        return;
    };
    let workers = &received.snapshot.workers;
    let order = app.worker_order();
    let stale: Vec<bool> = workers
        .iter()
        .map(|w| app.is_stale(w.heartbeat_age(now)))
        .collect();
    let crashed = workers
        .iter()
        .zip(&stale)
        .filter(|(w, s)| **s && w.running_jobs > 0)
        .count();
    let mut title = vec![Span::raw(format!(
        " {} workers · {} stale",
        workers.len(),
        stale.iter().filter(|s| **s).count()
    ))];
    if crashed > 0 {
        title.push(Span::raw(" · "));
        title.push(Span::styled(
            format!(" {crashed} went quiet holding jobs "),
            theme.alarm_banner,
        ));
    }
    title.push(Span::styled(
        format!(
            "  (stale after {})",
            text::age(chrono::Duration::from_std(app.config.stale_after).unwrap_or_default())
        ),
        theme.dim,
    ));
    frame.render_widget(Paragraph::new(Line::from(title)), title_area);

    let specs: Vec<ColumnSpec> = COLUMNS.iter().map(|(_, s)| *s).collect();
    let widths = fit(&specs, table_area.width, 1);
    let header = Row::new(
        COLUMNS
            .iter()
            .zip(&widths)
            .filter(|(_, w)| **w > 0)
            .map(|((t, _), _)| Cell::from(*t)),
    )
    .style(theme.column_header);
    let rows: Vec<Row> = order
        .iter()
        .map(|&i| {
            let w = &workers[i];
            let fit = |s: &str, col: usize| {
                text::truncate(&sanitize(s, 500), widths[col] as usize).into_owned()
            };
            let status = match (stale[i], w.running_jobs) {
                (true, n) if n > 0 => {
                    Cell::from(format!("CRASHED holds {n}")).style(theme.alarm_banner)
                }
                (true, _) => Cell::from("STALE").style(theme.warn),
                (false, _) => Cell::from("ok").style(theme.ok),
            };
            let beat = Cell::from(
                Line::from(w.heartbeat_age(now).map_or("–".into(), text::age)).right_aligned(),
            );
            let cells = [
                Cell::from(fit(&w.id, 0)),
                status,
                Cell::from(Line::from(w.running_jobs.to_string()).right_aligned()),
                if stale[i] {
                    beat.style(theme.critical)
                } else {
                    beat
                },
                Cell::from(fit(w.host.as_deref().unwrap_or("–"), 4)),
                Cell::from(Line::from(w.pid.map_or("–".into(), |p| p.to_string())).right_aligned()),
                Cell::from(Line::from(when::relative(w.started_at, now)).right_aligned()),
                Cell::from(fit(&w.queues.join(","), 7)),
            ];
            Row::new(
                cells
                    .into_iter()
                    .zip(&widths)
                    .filter(|(_, w)| **w > 0)
                    .map(|(c, _)| c),
            )
        })
        .collect();
    let selected = view
        .selected
        .as_ref()
        .and_then(|id| order.iter().position(|&i| &workers[i].id == id));
    let table = Table::new(
        rows,
        widths
            .iter()
            .filter(|w| **w > 0)
            .map(|w| Constraint::Length(*w)),
    )
    .header(header)
    .column_spacing(1)
    .row_highlight_style(theme.selected);
    frame.render_stateful_widget(
        table,
        table_area,
        &mut TableState::default().with_selected(selected),
    );
    if workers.is_empty() {
        frame.render_widget(
            Line::styled("  no workers have registered", theme.dim),
            Rect {
                y: table_area.y + 1,
                height: 1,
                ..table_area
            },
        );
    }
}
