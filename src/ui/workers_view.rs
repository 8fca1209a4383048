//! Every worker in full: where it runs, since when, its heartbeat, the jobs it holds;
//! STALE when its heartbeat is old, with the jobs it holds stuck: the overview's word.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use super::table::{Column, Fitted, SelectableTable, left, narrow_note};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use super::workers::{host_room, host_text};
use crate::app::App;
use crate::app::views::WorkersView;
use crate::backend::WorkerInfo;

#[derive(Clone, Copy)]
enum WorkerDetailCol {
    Worker,
    Status,
    Jobs,
    Beat,
    Host,
    Pid,
    Started,
    Queues,
}

#[rustfmt::skip]
const COLUMNS: [Column<WorkerDetailCol>; 8] = [
    left(WorkerDetailCol::Worker,  "WORKER",  12, 30, 0),
    left(WorkerDetailCol::Status,  "STATUS",  17, 17, 0),
    left(WorkerDetailCol::Jobs,    "JOBS",    4, 5, 1),
    left(WorkerDetailCol::Beat,    "BEAT",    7, 7, 1),
    left(WorkerDetailCol::Host,    "HOST",    10, 24, 2),
    left(WorkerDetailCol::Pid,     "PID",     7, 7, 5),
    left(WorkerDetailCol::Started, "STARTED", 10, 10, 4),
    left(WorkerDetailCol::Queues,  "QUEUES",  8, 80, 3),
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
    let order = app.worker_order_narrowed(&view.narrow);
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
            format!(" {crashed} STALE holding jobs: S resets them "),
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
    title.extend(narrow_note::<WorkerInfo>(&view.narrow, theme));
    frame.render_widget(Paragraph::new(Line::from(title)), title_area);

    let columns = Fitted::new(
        &host_room(&COLUMNS, |c| matches!(c, WorkerDetailCol::Host), workers),
        table_area.width,
    );
    let rows: Vec<Row> = order
        .iter()
        .map(|&i| {
            let w = &workers[i];
            columns.row(|col, width| {
                let fit = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
                match col {
                    WorkerDetailCol::Worker => Cell::from(fit(&w.id)),
                    WorkerDetailCol::Status => match (stale[i], w.running_jobs) {
                        (true, n) if n > 0 => {
                            Cell::from(format!("STALE {n} stuck")).style(theme.alarm_banner)
                        }
                        (true, _) => Cell::from("STALE").style(theme.warn),
                        (false, _) => Cell::from("ok").style(theme.ok),
                    },
                    WorkerDetailCol::Jobs => {
                        Cell::from(Line::from(w.running_jobs.to_string()).right_aligned())
                    }
                    WorkerDetailCol::Beat => {
                        let beat = Cell::from(
                            Line::from(w.heartbeat_age(now).map_or("–".into(), text::age))
                                .right_aligned(),
                        );
                        if stale[i] {
                            beat.style(theme.critical)
                        } else {
                            beat
                        }
                    }
                    WorkerDetailCol::Host => Cell::from(host_text(w, width)),
                    WorkerDetailCol::Pid => Cell::from(
                        Line::from(w.pid.map_or("–".into(), |p| p.to_string())).right_aligned(),
                    ),
                    WorkerDetailCol::Started => {
                        Cell::from(Line::from(when::relative(w.started_at, now)).right_aligned())
                    }
                    WorkerDetailCol::Queues => Cell::from(fit(&w.queues.join(","))),
                }
            })
        })
        .collect();
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(view.selected.index(&app.worker_ids_narrowed(&view.narrow)))
        .empty(Line::styled("  no workers have registered", theme.dim))
        .render(frame, table_area);
}
