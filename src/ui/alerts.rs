//! The alerts pane (`a`): firing, then pending, then resolved in the last hour; each with
//! severity, rule, subject, value, threshold and since when.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::columns::{ColumnSpec, fit};
use super::markers;
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;
use crate::app::alerts::{Alert, AlertState, Severity, format};
use crate::app::keymap::{KeyContext, hint_line};
use crate::app::selection;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Marker,
    State,
    Severity,
    Rule,
    Subject,
    Value,
    Threshold,
    Since,
    For,
    Ended,
    Detail,
}

const COLUMNS: [(Col, &str, ColumnSpec); 11] = [
    (Col::Marker, "", spec(2, 2, 0)),
    (Col::State, "STATE", spec(8, 8, 0)),
    (Col::Severity, "SEV", spec(4, 4, 1)),
    (Col::Rule, "RULE", spec(16, 22, 1)),
    (Col::Subject, "SUBJECT", spec(18, 40, 0)),
    (Col::Value, "VALUE", spec(7, 9, 2)),
    (Col::Threshold, "LIMIT", spec(7, 9, 3)),
    (Col::Since, "SINCE", spec(8, 8, 5)),
    (Col::For, "FOR", spec(6, 7, 2)),
    (Col::Ended, "ENDED", spec(8, 8, 6)),
    (Col::Detail, "DETAIL", spec(10, 80, 7)),
];

const fn spec(min: u16, max: u16, priority: u8) -> ColumnSpec {
    ColumnSpec { min, max, priority }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tally = app.alerts.tally();
    let title = format!(
        " Alerts: {} firing, {} pending, {} resolved in the last hour — {} ",
        tally.firing(),
        tally.pending,
        tally.resolved,
        hint_line(KeyContext::Alerts)
    );
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border_focused)
        .title(Span::styled(title, theme.title));
    let inner_height = area.height.saturating_sub(1);
    let [table_area, legend_area] = if inner_height >= 4 {
        let table = Rect {
            height: area.height - 1,
            ..area
        };
        let legend = Rect {
            y: area.y + area.height - 1,
            height: 1,
            ..area
        };
        [table, legend]
    } else {
        [area, Rect::default()]
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
    let alerts = app.alerts.display_order();
    let rows: Vec<Row> = alerts
        .iter()
        .map(|a| {
            Row::new(
                shown
                    .iter()
                    .map(|(col, _, width)| cell(*col, *width, a, app, theme)),
            )
            .style(row_style(a, theme))
        })
        .collect();
    let table = Table::new(rows, shown.iter().map(|(_, _, w)| Constraint::Length(*w)))
        .header(header)
        .column_spacing(1)
        .block(block)
        .row_highlight_style(theme.selected);
    let selected = app.alerts_selected.index(&selection::rows(alerts.len()));
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, table_area, &mut state);
    if alerts.is_empty() && table_area.height > 3 {
        let msg = match app.alerts.evaluated_at {
            Some(_) => "  no alerts: every rule is quiet",
            None => "  no alerts yet: rules are evaluated on each poll",
        };
        frame.render_widget(
            Line::styled(msg, theme.ok),
            Rect {
                y: table_area.y + 2,
                height: 1,
                ..table_area
            },
        );
    }
    if legend_area.height > 0 {
        frame.render_widget(
            Line::styled(
                " !! critical firing   ! warning firing   ? pending: holds, waiting out its `for`",
                theme.dim,
            ),
            legend_area,
        );
    }
}

fn row_style(a: &Alert, theme: &Theme) -> ratatui::style::Style {
    match (a.state, a.severity) {
        (AlertState::Firing, Severity::Critical) => theme.critical,
        (AlertState::Firing, Severity::Warning) => theme.warn,
        (AlertState::Pending, _) => theme.text,
        (AlertState::Resolved, _) => theme.dim,
    }
}

fn clock(app: &App, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&app.utc_offset)
        .format("%H:%M:%S")
        .to_string()
}

fn cell<'a>(col: Col, width: u16, a: &Alert, app: &App, theme: &Theme) -> Cell<'a> {
    let fit = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    match col {
        Col::Marker => {
            let worst = (a.state != AlertState::Resolved).then_some((a.state, a.severity));
            markers::cell(worst, theme)
        }
        Col::State => Cell::from(a.state.as_str().to_uppercase()),
        Col::Severity => Cell::from(match a.severity {
            Severity::Critical => "CRIT",
            Severity::Warning => "WARN",
        }),
        Col::Rule => Cell::from(fit(a.key.rule.title())),
        Col::Subject => Cell::from(fit(&a.key.subject.label())),
        Col::Value => right(a.value_text()),
        Col::Threshold => right(format!(">{}", a.threshold_text())),
        Col::Since => Cell::from(clock(app, a.since)),
        Col::For => {
            let end = a.resolved_at.unwrap_or(app.now);
            right(format::age(
                (end - a.since).num_milliseconds().max(0) as f64 / 1000.0,
            ))
        }
        Col::Ended => Cell::from(a.resolved_at.map(|t| clock(app, t)).unwrap_or_default()),
        Col::Detail => Cell::from(fit(a.detail.as_deref().unwrap_or(""))),
    }
}
