//! The audit pane (`L`): who did what, newest first, filterable; the selected row in full.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use super::dialog::{self, wrapped};
use super::table::{Column, Fitted, SelectableTable, left};
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::actions::AuditPane;
use crate::app::keymap::{KeyContext, hint_line};
use crate::backend::AuditEntry;

#[derive(Clone, Copy)]
enum AuditCol {
    At,
    Action,
    Queue,
    Count,
    Outcome,
    Actor,
    Detail,
}

#[rustfmt::skip]
const COLUMNS: [Column<AuditCol>; 7] = [
    left(AuditCol::At,      "AT (UTC)", 14, 14, 0),
    left(AuditCol::Action,  "ACTION",   11, 11, 0),
    left(AuditCol::Queue,   "QUEUE",    10, 20, 1),
    left(AuditCol::Count,   "COUNT",    6, 7, 2),
    left(AuditCol::Outcome, "OUTCOME",  7, 7, 0),
    // Who did it stays at 80 columns; the detail is under the table for the selected row.
    left(AuditCol::Actor,   "ACTOR",    16, 26, 1),
    left(AuditCol::Detail,  "DETAIL",   20, 200, 3),
];

/// Rows under the table that show the selected entry in full.
const DETAIL_ROWS: u16 = 4;

pub fn draw(frame: &mut Frame, area: Rect, pane: &AuditPane, theme: &Theme) {
    let filter = if pane.filter.is_empty() {
        "all".to_string()
    } else {
        sanitize(&pane.filter, 200).into_owned()
    };
    let title = format!(" Audit log — newest first — filter: {filter} ");
    let inner = dialog::overlay(frame, area, title, theme);
    let detail_rows = if inner.height > 10 { DETAIL_ROWS } else { 0 };
    let [table_area, detail_area, help_area] = Layout::vertical([
        Constraint::Min(2),
        Constraint::Length(detail_rows),
        Constraint::Length(1),
    ])
    .areas(inner);

    let columns = Fitted::new(&COLUMNS, table_area.width);
    let rows: Vec<Row> = pane
        .entries
        .iter()
        .map(|e| columns.row(|col, width| cell(col, width, e, theme)))
        .collect();
    let message = if let Some(err) = &pane.error {
        Some(Line::styled(
            format!(" cannot read the audit log: {}", sanitize(err, 300)),
            theme.critical,
        ))
    } else if !pane.loaded {
        Some(Line::styled(" reading…", theme.dim))
    } else if rows.is_empty() {
        Some(Line::styled(
            " no action recorded (with this filter)",
            theme.dim,
        ))
    } else {
        None
    };
    SelectableTable::new(&columns, rows, theme)
        .selected(pane.selected_index())
        .message(message)
        .render(frame, table_area);
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

fn cell<'a>(column: AuditCol, width: u16, e: &AuditEntry, theme: &Theme) -> Cell<'a> {
    let fitted = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    match column {
        AuditCol::At => Cell::from(e.at.format("%m-%d %H:%M:%S").to_string()),
        AuditCol::Action => Cell::from(fitted(&e.action)),
        AuditCol::Queue => Cell::from(fitted(e.queue.as_deref().unwrap_or("–"))),
        AuditCol::Count => Cell::from(
            Line::from(
                e.count
                    .map(text::human_number)
                    .unwrap_or_else(|| "–".to_string()),
            )
            .right_aligned(),
        ),
        AuditCol::Outcome => {
            let style = match e.outcome.as_str() {
                "ok" => theme.ok,
                "partial" => theme.warn,
                _ => theme.critical,
            };
            Cell::from(fitted(&e.outcome)).style(style)
        }
        AuditCol::Actor => Cell::from(fitted(&e.actor)),
        AuditCol::Detail => Cell::from(fitted(&detail(e))),
    }
}

/// The detail, with a pause's reason said in words rather than left inside the JSON.
fn detail(e: &AuditEntry) -> String {
    let detail = e.detail.as_deref().unwrap_or("");
    match e.params.get("reason").and_then(|r| r.as_str()) {
        Some(reason) if !reason.is_empty() && detail.is_empty() => format!("reason: {reason}"),
        Some(reason) if !reason.is_empty() => format!("reason: {reason} · {detail}"),
        _ => detail.to_string(),
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
        detail(e),
        e.params
    )
}
