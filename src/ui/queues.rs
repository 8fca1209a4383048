//! The queues table: backlog per state, oldest ready age, throughput, failures, sparkline.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::markers;
use super::table::{Column, Fitted, SelectableTable, left, pane_block, widened, window};
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::sort::RATE_WINDOW_MINUTES;
use crate::app::{App, Pane, QueueColumn};
use crate::backend::drill::HistoryWindow;
use crate::backend::{MinuteBucket, QueueStats};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum QueueCol {
    /// The alert marker: `!!` critical, `! ` warning, `? ` pending.
    Marker,
    Sorted(QueueColumn),
    Trend,
}

/// Every column, in display order, with how much it matters on a narrow screen. The titles
/// are `header_cell`'s: the sorted column is marked.
#[rustfmt::skip]
pub(super) const COLUMNS: [Column<QueueCol>; 12] = [
    left(QueueCol::Marker,                               "", 2, 2, 0),
    left(QueueCol::Sorted(QueueColumn::Name),            "", 12, 20, 0),
    left(QueueCol::Sorted(QueueColumn::Ready),           "", 6, 7, 1),
    left(QueueCol::Sorted(QueueColumn::Scheduled),       "", 6, 7, 7),
    left(QueueCol::Sorted(QueueColumn::Running),         "", 5, 6, 3),
    left(QueueCol::Sorted(QueueColumn::Retrying),        "", 6, 6, 6),
    left(QueueCol::Sorted(QueueColumn::Dead),            "", 6, 6, 4),
    left(QueueCol::Sorted(QueueColumn::OldestReady),     "", 9, 9, 2),
    left(QueueCol::Sorted(QueueColumn::SucceededPerMin), "", 6, 6, 8),
    left(QueueCol::Sorted(QueueColumn::FailedPerMin),    "", 6, 6, 9),
    left(QueueCol::Sorted(QueueColumn::FailureRate),     "", 6, 6, 5),
    left(QueueCol::Trend,                                "", 12, 60, 10),
];

const PAUSED: &str = " PAUSED";
const PAUSED_SHORT: &str = " [P]";

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.pane == Pane::Queues;
    let title = match app.shown() {
        Some(r) => match &app.queue_filter {
            Some(f) => format!(
                " Queues ({} of {}, /{}) ",
                app.queue_order().len(),
                r.snapshot.queues.len(),
                text::sanitize(f, 40)
            ),
            None => format!(" Queues ({}) ", r.snapshot.queues.len()),
        },
        None => " Queues ".to_string(),
    };
    let block = pane_block(title, focused, theme);

    let Some(received) = app.shown() else {
        let waiting = Table::new(
            vec![Row::new(vec![Cell::from("waiting for the first poll…")]).style(theme.dim)],
            [Constraint::Fill(1)],
        )
        .block(block);
        frame.render_widget(waiting, area);
        return;
    };
    let now = app.db_now().unwrap_or(received.snapshot.db_now);

    let columns = Fitted::new(&figure_columns(&received.snapshot.queues), area.width);
    let header = Row::new(
        columns
            .columns()
            .map(|(col, _)| header_cell(col, app, theme)),
    )
    .style(theme.column_header);
    let order = app.queue_order();
    // The wall screen has no selection to show.
    let shown = window(
        order.len(),
        app.selected_queue_row().filter(|_| !app.kiosk),
        area,
    );
    let rows: Vec<Row> = order[shown.rows.clone()]
        .iter()
        .map(|&i| {
            let q = &received.snapshot.queues[i];
            columns.row(|col, width| cell(col, width, q, now, app, theme))
        })
        .collect();
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::Queues)
        .header(header)
        .pane(block, focused, theme)
        .window(&shown)
        .empty(Line::styled(
            "  no queues yet: nothing has been enqueued",
            theme.dim,
        ))
        .render(frame, area);
}

/// The columns, each figure column as wide as its widest count: a count is never cut.
pub(super) fn figure_columns(queues: &[QueueStats]) -> Vec<Column<QueueCol>> {
    widened(&COLUMNS, |col| {
        let count: fn(&QueueStats) -> crate::backend::Count = match col {
            QueueCol::Sorted(QueueColumn::Ready) => |q| q.ready,
            QueueCol::Sorted(QueueColumn::Scheduled) => |q| q.scheduled,
            QueueCol::Sorted(QueueColumn::Running) => |q| q.running,
            QueueCol::Sorted(QueueColumn::Retrying) => |q| q.retrying,
            QueueCol::Sorted(QueueColumn::Dead) => |q| q.dead,
            _ => return 0,
        };
        queues
            .iter()
            .map(|q| text::count_width(count(q)))
            .max()
            .unwrap_or(0)
    })
}

pub(super) fn header_cell<'a>(col: QueueCol, app: &App, theme: &Theme) -> Cell<'a> {
    let c = match col {
        QueueCol::Sorted(c) => c,
        QueueCol::Marker => return Cell::from(""),
        QueueCol::Trend => return trend_header(app, theme),
    };
    let title = if app.queue_sort.column == c {
        let arrow = if app.queue_sort.descending {
            "▼"
        } else {
            "▲"
        };
        format!("{}{arrow}", c.title())
    } else {
        c.title().to_string()
    };
    let cell = Cell::from(align_right(title, c));
    if app.queue_sort.column == c {
        cell.style(theme.header_key)
    } else {
        cell
    }
}

fn align_right(title: String, c: QueueColumn) -> Line<'static> {
    if c == QueueColumn::Name {
        Line::from(title)
    } else {
        Line::from(title).right_aligned()
    }
}

pub(super) fn cell<'a>(
    col: QueueCol,
    width: u16,
    q: &QueueStats,
    now: chrono::DateTime<chrono::Utc>,
    app: &App,
    theme: &Theme,
) -> Cell<'a> {
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let (ok_rate, fail_rate) = q.per_minute(RATE_WINDOW_MINUTES);
    // A schema that keeps no failures has no failure figures to show, not zeros; nor has
    // one whose completions are not read (no index to read them by: the chart says why).
    let throughput = app.config.capabilities.throughput.yes();
    let failures = app.config.capabilities.failures.yes() && throughput;
    match col {
        QueueCol::Marker => markers::cell(app.alerts.worst_for_queue(&q.name), theme),
        QueueCol::Sorted(QueueColumn::Name) => name_cell(q, width, theme),
        QueueCol::Sorted(QueueColumn::Ready) => right(text::count(q.ready)),
        QueueCol::Sorted(QueueColumn::Scheduled) => right(text::count(q.scheduled)),
        QueueCol::Sorted(QueueColumn::Running) => right(text::count(q.running)),
        QueueCol::Sorted(QueueColumn::Retrying) => right(text::count(q.retrying)),
        QueueCol::Sorted(QueueColumn::Dead) => {
            let c = right(text::count(q.dead));
            if q.dead.value > 0 {
                c.style(theme.warn)
            } else {
                c
            }
        }
        QueueCol::Sorted(QueueColumn::OldestReady) => oldest_cell(q, now, app, theme),
        QueueCol::Sorted(QueueColumn::SucceededPerMin) if !throughput => right("–".into()),
        QueueCol::Sorted(QueueColumn::SucceededPerMin) => right(text::rate(ok_rate)),
        QueueCol::Sorted(QueueColumn::FailedPerMin) if !failures => right("–".into()),
        QueueCol::Sorted(QueueColumn::FailedPerMin) => {
            let c = right(text::rate(fail_rate));
            if fail_rate > 0.0 {
                c.style(theme.warn)
            } else {
                c
            }
        }
        QueueCol::Sorted(QueueColumn::FailureRate) => {
            let rate = q.failure_rate().filter(|_| failures);
            let c = right(text::percent(rate));
            c.style(markers::rate_style(
                rate,
                app.rules.failure_rate(&q.name),
                theme,
            ))
        }
        QueueCol::Trend => trend_cell(q, width, app, theme),
    }
}

/// The chart's title names its unit and window, and says when the window is still filling
/// or could not be read.
fn trend_header<'a>(app: &App, theme: &Theme) -> Cell<'a> {
    let chart = &app.history;
    if chart.window == HistoryWindow::Hour {
        if !app.config.capabilities.throughput.yes() {
            return Cell::from(Line::from(vec![
                Span::raw("DONE/min, 1h"),
                Span::styled(" (not read)", theme.dim),
            ]));
        }
        return Cell::from("DONE/min, 1h");
    }
    let title = format!("DONE/h, {}", chart.window.label());
    let (note, style) = match (chart.shown(), &chart.error) {
        (_, Some(_)) => (" (unavailable)", theme.warn),
        (None, None) => (" (loading)", theme.dim),
        (Some(r), None) if !r.complete() => (" (filling)", theme.dim),
        _ => ("", theme.text),
    };
    Cell::from(Line::from(vec![
        Span::raw(title),
        Span::styled(note, style),
    ]))
}

fn trend_cell<'a>(q: &QueueStats, width: u16, app: &App, theme: &Theme) -> Cell<'a> {
    let buckets = if app.history.window == HistoryWindow::Hour {
        closed_minutes(&q.minutes)
    } else {
        match app.history.shown() {
            Some(report) => match report.queues.get(&q.name) {
                Some(hours) => hours,
                // A queue without a completion in the window has no row in the report.
                None => {
                    return Cell::from(format!("none in {}", report.window.label()))
                        .style(theme.dim);
                }
            },
            None => return Cell::from(""),
        }
    };
    if buckets.is_empty() {
        return Cell::from("no history").style(theme.dim);
    }
    let mut done: Vec<u32> = buckets.iter().map(|m| m.succeeded + m.failed).collect();
    if app.history.window != HistoryWindow::Hour {
        // Every hour of the window on screen, as wide as the column allows; the hour's
        // chart shows its newest minutes.
        done = text::fit(&done, width as usize);
        let widen = (width as usize / done.len().max(1)).max(1);
        done = done
            .iter()
            .flat_map(|v| std::iter::repeat_n(*v, widen))
            .collect();
    }
    Cell::from(text::sparkline(&done, width as usize)).style(theme.spark)
}

/// The minutes that are over: the last bucket is the minute still open, a fraction of a
/// minute's work, so drawn it would make every queue seem to drop once a minute. Scaling it
/// by its elapsed share would guess from a few seconds (one job at 0:05 reads as 12/min),
/// so the chart shows only what was measured, a minute late.
fn closed_minutes(minutes: &[MinuteBucket]) -> &[MinuteBucket] {
    &minutes[..minutes.len().saturating_sub(1)]
}

fn name_cell<'a>(q: &QueueStats, width: u16, theme: &Theme) -> Cell<'a> {
    let name = sanitize(&q.name, 200);
    if q.paused.is_none() {
        return Cell::from(text::truncate(&name, width as usize).into_owned());
    }
    // The marker must survive a narrow column: it shortens before the name gives way.
    let width = width as usize;
    let tag = if text::width(&name) + PAUSED.len() <= width {
        PAUSED
    } else {
        PAUSED_SHORT
    };
    let room = width.saturating_sub(tag.len());
    Cell::from(Line::from(vec![
        Span::raw(text::truncate(&name, room).into_owned()),
        Span::styled(tag, theme.notice_banner),
    ]))
}

fn oldest_cell<'a>(
    q: &QueueStats,
    now: chrono::DateTime<chrono::Utc>,
    app: &App,
    theme: &Theme,
) -> Cell<'a> {
    let Some(age) = q.oldest_ready_age(now) else {
        return Cell::from(Line::from("–").right_aligned()).style(theme.dim);
    };
    let std_age = age.to_std().unwrap_or(Duration::ZERO);
    let (symbol, style) = if std_age >= app.config.oldest_critical {
        ("!!", theme.critical)
    } else if std_age >= app.config.oldest_warn {
        (" !", theme.warn)
    } else {
        ("  ", Style::default())
    };
    Cell::from(Line::from(format!("{}{symbol}", text::age(age))).right_aligned()).style(style)
}
