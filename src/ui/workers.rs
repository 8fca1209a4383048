//! The workers pane: who is alive, who went quiet, and who went quiet holding jobs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use super::markers;
use super::table::{Column, Fitted, SelectableTable, left, pane_block, widest};
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::{App, Pane};
use crate::backend::WorkerInfo;

#[derive(Clone, Copy, PartialEq, Eq)]
enum WorkerCol {
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
const COLUMNS: [Column<WorkerCol>; 8] = [
    left(WorkerCol::Marker, "", 2, 2, 0),
    left(WorkerCol::Id, "WORKER", 12, 30, 0),
    left(WorkerCol::Host, "HOST", 10, 20, 4),
    left(WorkerCol::Pid, "PID", 7, 7, 6),
    left(WorkerCol::Jobs, "JOBS", 4, 5, 2),
    left(WorkerCol::Heartbeat, "BEAT", 7, 7, 1),
    left(WorkerCol::Status, "STATUS", 13, 14, 1),
    left(WorkerCol::Queues, "QUEUES", 8, 60, 5),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.pane == Pane::Workers;
    // On the screen of several sources the pane shows one source's workers: it says whose.
    let of = app
        .source_label
        .as_deref()
        .map(|label| format!(" of {}", sanitize(label, 40)))
        .unwrap_or_default();
    let title = match app.shown() {
        Some(r) => format!(" Workers{of} ({}) ", r.snapshot.workers.len()),
        None => format!(" Workers{of} "),
    };
    let block = pane_block(title, focused, theme);

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

    let columns = Fitted::new(
        &host_room(
            &COLUMNS,
            |c| c == WorkerCol::Host,
            &received.snapshot.workers,
        ),
        area.width,
    );
    let rows: Vec<Row> = app
        .worker_order()
        .into_iter()
        .map(|i| {
            let w = &received.snapshot.workers[i];
            let stale = app.is_stale(w.heartbeat_age(now));
            columns.row(|col, width| match col {
                WorkerCol::Marker => markers::cell(app.alerts.worst_for_worker(&w.id), theme),
                _ => cell(col, width, w, stale, now, theme),
            })
        })
        .collect();
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::Workers)
        .pane(block, focused, theme)
        .selected(app.selected_worker_row().filter(|_| !app.kiosk))
        .empty(Line::styled("  no workers have registered", theme.dim))
        .render(frame, area);
}

/// The host column may grow to the longest host (up to `MAX_HOST`), so where the screen
/// has room a host is whole rather than cut at 20 cells.
pub(super) fn host_room<C: Copy>(
    columns: &[Column<C>],
    is_host: impl Fn(C) -> bool,
    workers: &[WorkerInfo],
) -> Vec<Column<C>> {
    let longest = widest(
        workers
            .iter()
            .map(|w| sanitize(w.host.as_deref().unwrap_or("–"), 500)),
    )
    .min(MAX_HOST);
    columns
        .iter()
        .map(|c| {
            let mut c = *c;
            if is_host(c.id) {
                c.spec.max = c.spec.max.max(longest as u16);
            }
            c
        })
        .collect()
}

const MAX_HOST: usize = 48;

/// A host in `width` cells: the domain gives way first, then the machine's own name is
/// cut in the middle, since hosts of one fleet differ at its end (`ip-10-0-1-23`,
/// `ip-10-0-1-17`): `ip-10-0-1-23.eu-w…`, then `ip-10…1-23`.
pub(super) fn host_text(w: &WorkerInfo, width: u16) -> String {
    let host = sanitize(w.host.as_deref().unwrap_or("–"), 500);
    let width = width as usize;
    let name = host.split('.').next().unwrap_or_default();
    if text::width(&host) <= width || text::width(name) < width {
        return text::truncate(&host, width).into_owned();
    }
    text::truncate_middle(name, width).into_owned()
}

fn cell<'a>(
    col: WorkerCol,
    width: u16,
    w: &WorkerInfo,
    stale: bool,
    now: chrono::DateTime<chrono::Utc>,
    theme: &Theme,
) -> Cell<'a> {
    let fit = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    match col {
        WorkerCol::Marker => Cell::from(""),
        WorkerCol::Id => Cell::from(fit(&w.id)),
        WorkerCol::Host => Cell::from(host_text(w, width)),
        WorkerCol::Pid => {
            Cell::from(Line::from(w.pid.map_or("–".into(), |p| p.to_string())).right_aligned())
        }
        WorkerCol::Jobs => Cell::from(Line::from(w.running_jobs.to_string()).right_aligned()),
        WorkerCol::Heartbeat => {
            let age = w.heartbeat_age(now).map_or("–".to_string(), text::age);
            let c = Cell::from(Line::from(age).right_aligned());
            if stale { c.style(theme.critical) } else { c }
        }
        WorkerCol::Status => match (stale, w.running_jobs) {
            (true, n) if n > 0 => Cell::from(format!("STALE {n} stuck")).style(theme.alarm_banner),
            (true, _) => Cell::from("STALE").style(theme.warn),
            (false, _) => Cell::from("ok").style(theme.ok),
        },
        WorkerCol::Queues => Cell::from(fit(&w.queues.join(","))),
    }
}
