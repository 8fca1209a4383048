//! The audit pane (`L`): who did what, newest first, filterable; the selected row in full.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState};

use super::columns::{ColumnSpec, fit};
use super::dialog::wrapped;
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::actions::AuditPane;
use crate::app::keymap::{KeyContext, hint_line};
use crate::backend::AuditEntry;

const COLUMNS: [(&str, ColumnSpec); 7] = [
    (
        "AT (UTC)",
        ColumnSpec {
            min: 14,
            max: 14,
            priority: 0,
        },
    ),
    (
        "ACTION",
        ColumnSpec {
            min: 11,
            max: 11,
            priority: 0,
        },
    ),
    (
        "QUEUE",
        ColumnSpec {
            min: 10,
            max: 20,
            priority: 1,
        },
    ),
    (
        "COUNT",
        ColumnSpec {
            min: 6,
            max: 7,
            priority: 3,
        },
    ),
    (
        "OUTCOME",
        ColumnSpec {
            min: 7,
            max: 7,
            priority: 0,
        },
    ),
    (
        "ACTOR",
        ColumnSpec {
            min: 26,
            max: 26,
            priority: 4,
        },
    ),
    (
        "DETAIL",
        ColumnSpec {
            min: 20,
            max: 200,
            priority: 2,
        },
    ),
];

/// Rows under the table that show the selected entry in full.
const DETAIL_ROWS: u16 = 4;

pub fn draw(frame: &mut Frame, area: Rect, pane: &AuditPane, theme: &Theme) {
    frame.render_widget(Clear, area);
    let filter = if pane.filter.is_empty() {
        "all".to_string()
    } else {
        sanitize(&pane.filter, 200).into_owned()
    };
    let title = format!(" Audit log — newest first — filter: {filter} ");
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let detail_rows = if inner.height > 10 { DETAIL_ROWS } else { 0 };
    let [table_area, detail_area, help_area] = Layout::vertical([
        Constraint::Min(2),
        Constraint::Length(detail_rows),
        Constraint::Length(1),
    ])
    .areas(inner);

    let specs: Vec<ColumnSpec> = COLUMNS.iter().map(|(_, s)| *s).collect();
    let widths = fit(&specs, table_area.width, 1);
    let shown: Vec<(usize, u16)> = widths
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0)
        .map(|(i, w)| (i, *w))
        .collect();
    let header =
        Row::new(shown.iter().map(|(i, _)| Cell::from(COLUMNS[*i].0))).style(theme.column_header);
    let rows: Vec<Row> = pane
        .entries
        .iter()
        .map(|e| Row::new(shown.iter().map(|(i, w)| cell(*i, *w, e, theme))))
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(rows, shown.iter().map(|(_, w)| Constraint::Length(*w)))
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.selected);
    let mut state = TableState::default().with_selected(pane.selected_index());
    frame.render_stateful_widget(table, table_area, &mut state);
    if table_area.height > 2 {
        let message = if let Some(err) = &pane.error {
            Some(Line::styled(
                format!(" cannot read the audit log: {}", sanitize(err, 300)),
                theme.critical,
            ))
        } else if !pane.loaded {
            Some(Line::styled(" reading…", theme.dim))
        } else if empty {
            Some(Line::styled(
                " no action recorded (with this filter)",
                theme.dim,
            ))
        } else {
            None
        };
        if let Some(m) = message {
            frame.render_widget(
                m,
                Rect {
                    y: table_area.y + 1,
                    height: 1,
                    ..table_area
                },
            );
        }
    }
    if detail_rows > 0
        && let Some(entry) = pane.selected_index().map(|i| &pane.entries[i])
    {
        let text = full_entry(entry);
        let lines: Vec<Line> = wrapped(&text, detail_area.width as usize, theme.dim)
            .into_iter()
            .take(detail_rows as usize)
            .collect();
        frame.render_widget(Paragraph::new(lines), detail_area);
    }
    let help = match &pane.editing {
        Some(line) => Line::from(vec![
            Span::styled("filter: ", theme.header_key),
            Span::raw(sanitize(line.as_str(), 200).into_owned()),
            Span::styled("▏", theme.header_key),
            Span::styled(
                format!(
                    "  queue:Q action:A actor:TEXT outcome:ok|partial|failed · {}",
                    hint_line(KeyContext::AuditFilter)
                ),
                theme.dim,
            ),
        ]),
        None => Line::styled(hint_line(KeyContext::Audit), theme.dim),
    };
    frame.render_widget(help, help_area);
}

fn cell<'a>(column: usize, width: u16, e: &AuditEntry, theme: &Theme) -> Cell<'a> {
    let fitted = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    match column {
        0 => Cell::from(e.at.format("%m-%d %H:%M:%S").to_string()),
        1 => Cell::from(fitted(&e.action)),
        2 => Cell::from(fitted(e.queue.as_deref().unwrap_or("–"))),
        3 => Cell::from(
            Line::from(
                e.count
                    .map(text::human_number)
                    .unwrap_or_else(|| "–".to_string()),
            )
            .right_aligned(),
        ),
        4 => {
            let style = match e.outcome.as_str() {
                "ok" => theme.ok,
                "partial" => theme.warn,
                _ => theme.critical,
            };
            Cell::from(fitted(&e.outcome)).style(style)
        }
        5 => Cell::from(fitted(&e.actor)),
        _ => Cell::from(fitted(e.detail.as_deref().unwrap_or(""))),
    }
}

/// The selected entry, every field.
fn full_entry(e: &AuditEntry) -> String {
    let ids = match &e.job_ids {
        Some(ids) if !ids.is_empty() => {
            let shown: Vec<String> = ids.iter().take(20).map(|i| i.to_string()).collect();
            let more = if ids.len() > 20 {
                format!(" … ({} in all)", ids.len())
            } else {
                String::new()
            };
            format!(" · jobs {}{more}", shown.join(","))
        }
        _ => String::new(),
    };
    format!(
        "#{} {} by {}: {}{ids} · params {}",
        e.id,
        e.at.format("%Y-%m-%d %H:%M:%S UTC"),
        e.actor,
        e.detail.as_deref().unwrap_or(""),
        e.params
    )
}
