//! The queues table: backlog per state, oldest ready age, throughput, failures, sparkline.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::columns::{ColumnSpec, fit};
use super::markers;
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::sort::RATE_WINDOW_MINUTES;
use crate::app::{App, Pane, QueueColumn};
use crate::backend::QueueStats;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    /// The alert marker: `!!` critical, `! ` warning, `? ` pending.
    Marker,
    Sorted(QueueColumn),
    Trend,
}

/// Every column, in display order, with how much it matters on a narrow screen.
#[rustfmt::skip]
const COLUMNS: [(Col, ColumnSpec); 12] = [
    (Col::Marker,                               ColumnSpec { min: 2, max: 2, priority: 0 }),
    (Col::Sorted(QueueColumn::Name),            ColumnSpec { min: 12, max: 20, priority: 0 }),
    (Col::Sorted(QueueColumn::Ready),           ColumnSpec { min: 6, max: 7, priority: 1 }),
    (Col::Sorted(QueueColumn::Scheduled),       ColumnSpec { min: 6, max: 7, priority: 7 }),
    (Col::Sorted(QueueColumn::Running),         ColumnSpec { min: 5, max: 6, priority: 3 }),
    (Col::Sorted(QueueColumn::Retrying),        ColumnSpec { min: 6, max: 6, priority: 6 }),
    (Col::Sorted(QueueColumn::Dead),            ColumnSpec { min: 6, max: 6, priority: 4 }),
    (Col::Sorted(QueueColumn::OldestReady),     ColumnSpec { min: 9, max: 9, priority: 2 }),
    (Col::Sorted(QueueColumn::SucceededPerMin), ColumnSpec { min: 6, max: 6, priority: 8 }),
    (Col::Sorted(QueueColumn::FailedPerMin),    ColumnSpec { min: 6, max: 6, priority: 9 }),
    (Col::Sorted(QueueColumn::FailureRate),     ColumnSpec { min: 6, max: 6, priority: 5 }),
    (Col::Trend,                                ColumnSpec { min: 12, max: 60, priority: 10 }),
];

const PAUSED: &str = " PAUSED";
const PAUSED_SHORT: &str = " [P]";

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.pane == Pane::Queues;
    let title = match app.shown() {
        Some(r) => format!(" Queues ({}) ", r.snapshot.queues.len()),
        None => " Queues ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(title, theme.title));

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

    let specs: Vec<ColumnSpec> = COLUMNS.iter().map(|(_, s)| *s).collect();
    let widths = fit(&specs, area.width, 1);
    let shown: Vec<(Col, u16)> = COLUMNS
        .iter()
        .zip(&widths)
        .filter(|(_, w)| **w > 0)
        .map(|((c, _), w)| (*c, *w))
        .collect();

    let header = Row::new(shown.iter().map(|(col, _)| header_cell(*col, app, theme)))
        .style(theme.column_header);
    let rows: Vec<Row> = app
        .queue_order()
        .into_iter()
        .map(|i| {
            let q = &received.snapshot.queues[i];
            Row::new(
                shown
                    .iter()
                    .map(|(col, w)| cell(*col, *w, q, now, app, theme)),
            )
        })
        .collect();
    let empty = rows.is_empty();

    let table = Table::new(rows, shown.iter().map(|(_, w)| Constraint::Length(*w)))
        .header(header)
        .column_spacing(1)
        .flex(ratatui::layout::Flex::Start)
        .block(block)
        .row_highlight_style(if focused {
            theme.selected
        } else {
            theme.selected_unfocused
        });
    // The wall screen has no selection to show.
    let selected = if app.kiosk {
        None
    } else {
        app.selected_queue_row()
    };
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
    if empty && area.height > 3 {
        let msg = Line::styled("  no queues yet: nothing has been enqueued", theme.dim);
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

fn header_cell<'a>(col: Col, app: &App, theme: &Theme) -> Cell<'a> {
    let c = match col {
        Col::Sorted(c) => c,
        Col::Marker => return Cell::from(""),
        Col::Trend => return Cell::from("DONE/min, 1h"),
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

fn cell<'a>(
    col: Col,
    width: u16,
    q: &QueueStats,
    now: chrono::DateTime<chrono::Utc>,
    app: &App,
    theme: &Theme,
) -> Cell<'a> {
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let (ok_rate, fail_rate) = q.per_minute(RATE_WINDOW_MINUTES);
    match col {
        Col::Marker => markers::cell(app.alerts.worst_for_queue(&q.name), theme),
        Col::Sorted(QueueColumn::Name) => name_cell(q, width, theme),
        Col::Sorted(QueueColumn::Ready) => right(text::count(q.ready)),
        Col::Sorted(QueueColumn::Scheduled) => right(text::count(q.scheduled)),
        Col::Sorted(QueueColumn::Running) => right(text::count(q.running)),
        Col::Sorted(QueueColumn::Retrying) => right(text::count(q.retrying)),
        Col::Sorted(QueueColumn::Dead) => {
            let c = right(text::count(q.dead));
            if q.dead.value > 0 {
                c.style(theme.warn)
            } else {
                c
            }
        }
        Col::Sorted(QueueColumn::OldestReady) => oldest_cell(q, now, app, theme),
        Col::Sorted(QueueColumn::SucceededPerMin) => right(text::rate(ok_rate)),
        Col::Sorted(QueueColumn::FailedPerMin) => {
            let c = right(text::rate(fail_rate));
            if fail_rate > 0.0 {
                c.style(theme.warn)
            } else {
                c
            }
        }
        Col::Sorted(QueueColumn::FailureRate) => {
            let rate = q.failure_rate();
            let c = right(text::percent(rate));
            match rate {
                Some(r) if r >= 0.10 => c.style(theme.critical),
                Some(r) if r > 0.0 => c.style(theme.warn),
                _ => c,
            }
        }
        Col::Trend => {
            if q.minutes.is_empty() {
                return Cell::from("no history").style(theme.dim);
            }
            let done: Vec<u32> = q.minutes.iter().map(|m| m.succeeded + m.failed).collect();
            Cell::from(text::sparkline(&done, width as usize)).style(theme.spark)
        }
    }
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
