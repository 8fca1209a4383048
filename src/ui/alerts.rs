//! The alerts pane (`a`): firing, then pending, then resolved in the last hour; each with
//! severity, rule, subject, value, threshold and since when.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row};

use super::markers;
use super::table::{Column, Fitted, SelectableTable, left, pane_block};
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;
use crate::app::alerts::{Alert, AlertState, Severity, format};
use crate::app::keymap::{KeyContext, hint_line};
use crate::app::selection;

#[derive(Clone, Copy, PartialEq, Eq)]
enum AlertCol {
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

const COLUMNS: [Column<AlertCol>; 11] = [
    left(AlertCol::Marker, "", 2, 2, 0),
    left(AlertCol::State, "STATE", 8, 8, 0),
    left(AlertCol::Severity, "SEV", 4, 4, 1),
    left(AlertCol::Rule, "RULE", 16, 22, 1),
    left(AlertCol::Subject, "SUBJECT", 18, 40, 0),
    left(AlertCol::Value, "VALUE", 7, 9, 2),
    left(AlertCol::Threshold, "LIMIT", 7, 9, 3),
    left(AlertCol::Since, "SINCE", 8, 8, 5),
    left(AlertCol::For, "FOR", 6, 7, 2),
    left(AlertCol::Ended, "ENDED", 8, 8, 6),
    left(AlertCol::Detail, "DETAIL", 10, 80, 7),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let tally = app.alerts.tally();
    let title = format!(
        " Alerts: {} firing, {} pending, {} resolved in the last hour — {} ",
        tally.firing(),
        tally.pending,
        tally.resolved,
        hint_line(KeyContext::Alerts)
    );
    let block = pane_block(title, true, theme);
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

    let columns = Fitted::new(&COLUMNS, area.width);
    let alerts = app.alerts.display_order();
    let rows: Vec<Row> = alerts
        .iter()
        .map(|a| {
            columns
                .row(|col, width| cell(col, width, a, app, theme))
                .style(row_style(a, theme))
        })
        .collect();
    let empty = match app.alerts.evaluated_at {
        Some(_) => "  no alerts: every rule is quiet",
        None => "  no alerts yet: rules are evaluated on each poll",
    };
    SelectableTable::new(&columns, rows, theme)
        .pane(block, true, theme)
        .selected(app.alerts_selected.index(&selection::rows(alerts.len())))
        .empty(Line::styled(empty, theme.ok))
        .render(frame, table_area);
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

fn cell<'a>(col: AlertCol, width: u16, a: &Alert, app: &App, theme: &Theme) -> Cell<'a> {
    let fit = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    match col {
        AlertCol::Marker => {
            let worst = (a.state != AlertState::Resolved).then_some((a.state, a.severity));
            markers::cell(worst, theme)
        }
        AlertCol::State => Cell::from(a.state.as_str().to_uppercase()),
        AlertCol::Severity => Cell::from(match a.severity {
            Severity::Critical => "CRIT",
            Severity::Warning => "WARN",
        }),
        AlertCol::Rule => Cell::from(fit(a.key.rule.title())),
        AlertCol::Subject => Cell::from(fit(&a.key.subject.label())),
        AlertCol::Value => right(a.value_text()),
        AlertCol::Threshold => right(format!(">{}", a.threshold_text())),
        AlertCol::Since => Cell::from(clock(app, a.since)),
        AlertCol::For => {
            let end = a.resolved_at.unwrap_or(app.now);
            right(format::age(
                (end - a.since).num_milliseconds().max(0) as f64 / 1000.0,
            ))
        }
        AlertCol::Ended => Cell::from(a.resolved_at.map(|t| clock(app, t)).unwrap_or_default()),
        AlertCol::Detail => Cell::from(fit(a.detail.as_deref().unwrap_or(""))),
    }
}
