//! Per job kind over the last hour or day, worst failure rate first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::columns::{ColumnSpec, fit};
use super::load::{failure, loading};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use crate::app::App;
use crate::app::views::KindsView;
use crate::backend::drill::KindWindow;

const COLUMNS: [(&str, ColumnSpec); 8] = [
    (
        "KIND",
        ColumnSpec {
            min: 12,
            max: 40,
            priority: 0,
        },
    ),
    (
        "OK",
        ColumnSpec {
            min: 7,
            max: 7,
            priority: 1,
        },
    ),
    (
        "FAILED",
        ColumnSpec {
            min: 7,
            max: 7,
            priority: 1,
        },
    ),
    (
        "DEAD",
        ColumnSpec {
            min: 6,
            max: 6,
            priority: 1,
        },
    ),
    (
        "FAIL%",
        ColumnSpec {
            min: 6,
            max: 6,
            priority: 0,
        },
    ),
    (
        "RUN p50",
        ColumnSpec {
            min: 7,
            max: 8,
            priority: 2,
        },
    ),
    (
        "RUN p95",
        ColumnSpec {
            min: 7,
            max: 8,
            priority: 3,
        },
    ),
    (
        "WAIT p50",
        ColumnSpec {
            min: 8,
            max: 8,
            priority: 2,
        },
    ),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &KindsView, theme: &Theme) {
    let [title_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut title = vec![Span::raw(" ")];
    title.extend(failure(&view.load, theme));
    for w in KindWindow::ALL {
        let style = if w == view.window {
            theme.selected
        } else {
            theme.dim
        };
        title.push(Span::styled(format!(" {} ", w.label()), style));
    }
    // Where the schema keeps no time per failed attempt, only jobs that failed for good
    // can be counted in a window.
    title.push(Span::styled(
        if app.config.capabilities.failed_attempts {
            "  worst first · failed = attempts · run = succeeded · wait = due → start"
        } else {
            "  worst first · failed = jobs that failed for good · run = succeeded · wait = due → start"
        },
        theme.dim,
    ));
    if let Some(since) = view
        .report
        .as_ref()
        .and_then(|r| r.covered_since.map(|s| (s, r.db_now)))
    {
        title.push(Span::styled(
            format!(
                " · busy: newest jobs only, since {}",
                when::relative(Some(since.0), since.1)
            ),
            theme.warn,
        ));
    }
    title.extend(loading(&view.load, app.now, theme));
    frame.render_widget(Paragraph::new(Line::from(title)), title_area);

    let Some(report) = &view.report else {
        frame.render_widget(
            Line::styled("  loading…", theme.dim),
            Rect {
                height: 1,
                ..table_area
            },
        );
        return;
    };
    let specs: Vec<ColumnSpec> = COLUMNS.iter().map(|(_, s)| *s).collect();
    let widths = fit(&specs, table_area.width, 1);
    let header = Row::new(COLUMNS.iter().zip(&widths).filter(|(_, w)| **w > 0).map(
        |((t, _), _)| {
            if *t == "KIND" {
                Cell::from(*t)
            } else {
                Cell::from(Line::from(*t).right_aligned())
            }
        },
    ))
    .style(theme.column_header);
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let rows: Vec<Row> = report
        .kinds
        .iter()
        .map(|k| {
            let rate = k.failure_rate();
            let rate_style = match rate {
                Some(r) if r >= 0.2 => theme.critical,
                Some(r) if r > 0.0 => theme.warn,
                _ => theme.text,
            };
            let cells = [
                Cell::from(
                    text::truncate(&sanitize(&k.kind, 300), widths[0] as usize).into_owned(),
                ),
                right(text::human_number(k.succeeded)),
                right(text::human_number(k.failed_attempts)),
                right(text::human_number(k.dead)).style(if k.dead > 0 {
                    theme.warn
                } else {
                    theme.text
                }),
                right(text::percent(rate)).style(rate_style),
                right(when::secs(k.run_p50)),
                right(when::secs(k.run_p95)),
                right(when::secs(k.wait_p50)),
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
    let empty = rows.is_empty();
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
        &mut TableState::default().with_selected(view.selected_index()),
    );
    if empty {
        frame.render_widget(
            Line::styled(
                format!(
                    "  no job finished or failed in the last {}",
                    view.window.label()
                ),
                theme.dim,
            ),
            Rect {
                y: table_area.y + 1,
                height: 1,
                ..table_area
            },
        );
    }
}
