//! The schedules view (`C`): every schedule the database knows, its last run, the next one
//! due, its failures in 24 h and a strip of its recent runs; pg_net's last hour above it;
//! and, on Enter, one schedule's run history.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use super::table::{Column, Fitted, SelectableTable, left, narrow_note, right};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use crate::app::App;
use crate::app::views::{ScheduleRunsView, SchedulesView};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun, Schedules};

#[derive(Clone, Copy)]
enum Col {
    Source,
    Name,
    Expression,
    Last,
    Took,
    Status,
    Next,
    Failures,
    Runs,
    Message,
}

#[rustfmt::skip]
const COLUMNS: [Column<Col>; 10] = [
    // With several sources (pg_cron beside a queue's own) the source outlives the expression.
    left(Col::Source,     "SOURCE",  7, 9, 3),
    left(Col::Name,       "NAME",    14, 28, 0),
    left(Col::Expression, "SCHEDULE", 9, 16, 4),
    // "15m48s ago" whole: a right-aligned cell too narrow loses its first digit.
    right(Col::Last,      "LAST",    10, 10, 1),
    right(Col::Took,      "TOOK",    6, 7, 6),
    left(Col::Status,     "STATUS",  9, 9, 0),
    right(Col::Next,      "NEXT",    9, 9, 2),
    right(Col::Failures,  "FAIL24H", 7, 7, 5),
    left(Col::Runs,       "RUNS",    8, 20, 2),
    left(Col::Message,    "MESSAGE", 12, 200, 1),
];

/// What a run looks like in a strip and a status cell.
fn status_style(status: RunStatus, theme: &Theme) -> Style {
    match status {
        RunStatus::Succeeded => theme.ok,
        RunStatus::Failed | RunStatus::Stuck => theme.critical,
        RunStatus::Running => theme.text,
        RunStatus::Queued | RunStatus::Fired => theme.dim,
    }
}

fn mark(status: RunStatus) -> char {
    match status {
        RunStatus::Succeeded => '●',
        RunStatus::Failed => '✗',
        RunStatus::Running => '▶',
        RunStatus::Stuck => '!',
        RunStatus::Queued => '·',
        RunStatus::Fired => '○',
    }
}

/// The grace the missed-run rule gives this schedule, if the rule is on for it.
fn missed(app: &App, s: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let r = app.rules.schedule_missed(&s.source, &s.name)?;
    s.missed_since(
        now,
        chrono::Duration::milliseconds((r.threshold * 1000.0) as i64),
    )
}

/// Oldest run on the left, newest on the right; a gap of more than one and a half periods
/// between two runs shows a missed run (`○`), as does a missed run due now.
fn strip(s: &Schedule, missed_now: bool, width: usize, theme: &Theme) -> Line<'static> {
    let mut marks: Vec<Span> = Vec::new();
    let mut previous: Option<DateTime<Utc>> = None;
    for run in s.runs.iter().rev() {
        if let (Some(period), Some(before), Some(at)) = (s.period_seconds, previous, run.started_at)
            && (at - before).num_milliseconds() as f64 > period * 1500.0
        {
            marks.push(Span::styled("○", theme.warn));
        }
        previous = run.started_at.or(previous);
        marks.push(Span::styled(
            mark(run.status).to_string(),
            status_style(run.status, theme),
        ));
    }
    if missed_now {
        marks.push(Span::styled("○", theme.critical));
    }
    let skip = marks.len().saturating_sub(width);
    Line::from(marks.into_iter().skip(skip).collect::<Vec<_>>())
}

fn title(app: &App, schedules: &Schedules, now: DateTime<Utc>, theme: &Theme) -> Line<'static> {
    let list = &schedules.schedules;
    let failing = list
        .iter()
        .filter(|s| s.last_run().is_some_and(|r| r.status == RunStatus::Failed))
        .count();
    let missed = list
        .iter()
        .filter(|s| missed(app, s, now).is_some())
        .count();
    let inactive = list.iter().filter(|s| !s.active).count();
    let mut spans = vec![Span::raw(format!(" {} schedules", list.len()))];
    for (n, what, style) in [
        (failing, "failing", theme.critical),
        (missed, "missed", theme.critical),
        (inactive, "deactivated", theme.text),
    ] {
        if n > 0 {
            spans.push(Span::raw(" · "));
            spans.push(Span::styled(format!("{n} {what}"), style));
        }
    }
    Line::from(spans)
}

/// pg_net's three checks on one line: queued, responses by class, share not 2xx.
fn net_line(app: &App, schedules: &Schedules, theme: &Theme) -> Option<Line<'static>> {
    let net = schedules.net.as_ref()?;
    let share = net.failure_share();
    let mut spans = vec![
        Span::styled(" pg_net ", theme.title),
        Span::raw(format!(
            "queued {} · 1h: 2xx {} · 3xx {} · 4xx {} · 5xx {} · errors {} · ",
            text::count(net.queued),
            net.ok_2xx,
            net.redirect_3xx,
            net.client_4xx,
            net.server_5xx,
            net.errors
        )),
        Span::styled(
            format!("{} not 2xx", text::percent(share)),
            if share.is_some_and(|s| s > 0.0) {
                theme.critical
            } else {
                theme.ok
            },
        ),
    ];
    if let Some(last) = &net.last_error {
        spans.push(Span::styled(
            format!(" · last: {}", sanitize(&app.masked(last), 120)),
            theme.dim,
        ));
    }
    Some(Line::from(spans))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &SchedulesView, theme: &Theme) {
    let (Some(received), Some(now)) = (app.shown(), app.db_now()) else {
        frame.render_widget(
            Line::styled(" waiting for the first poll…", theme.dim),
            area,
        );
        return;
    };
    let Some(schedules) = &received.snapshot.schedules else {
        frame.render_widget(
            Line::styled(" this monitor does not read schedules", theme.dim),
            area,
        );
        return;
    };
    let net = net_line(app, schedules, theme);
    let notes: Vec<Line> = schedules
        .absent
        .iter()
        .map(|a| Line::styled(format!(" {}", sanitize(a, 200)), theme.dim))
        .chain(
            schedules
                .errors
                .iter()
                .map(|e| Line::styled(format!(" {}", sanitize(e, 300)), theme.critical)),
        )
        .collect();
    let [title_area, net_area, table_area, notes_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(net.is_some() as u16),
        Constraint::Min(3),
        Constraint::Length((notes.len() as u16).min(area.height / 4)),
    ])
    .areas(area);
    let mut title_line = title(app, schedules, now, theme);
    title_line
        .spans
        .extend(narrow_note::<Schedule>(&view.narrow, theme));
    frame.render_widget(Paragraph::new(title_line), title_area);
    if let Some(net) = net {
        frame.render_widget(Paragraph::new(net), net_area);
    }
    frame.render_widget(Paragraph::new(notes), notes_area);

    let columns = Fitted::with_filler(&COLUMNS, table_area.width, COLUMNS.len() - 1);
    let rows: Vec<Row> = app
        .schedule_order(&view.narrow)
        .into_iter()
        .map(|i| &schedules.schedules[i])
        .map(|s| {
            let last = s.last_run();
            let missed_at = missed(app, s, now);
            columns.row(|col, width| {
                let fit = |v: &str| text::truncate(&sanitize(v, 500), width as usize).into_owned();
                match col {
                    Col::Source => Cell::from(fit(&s.source)),
                    Col::Name => Cell::from(fit(&s.name)),
                    Col::Expression => Cell::from(fit(&s.expression)),
                    Col::Last => Cell::from(
                        Line::from(when::relative(last.and_then(|r| r.started_at), now))
                            .right_aligned(),
                    ),
                    Col::Took => Cell::from(Line::from(took(last, now)).right_aligned()),
                    Col::Status => status_cell(s, last, missed_at.is_some(), theme),
                    Col::Next => Cell::from(
                        Line::from(match (s.active, s.next_due_at) {
                            (false, _) => "off".to_string(),
                            (true, due) => when::relative(due, now),
                        })
                        .right_aligned(),
                    ),
                    Col::Failures => {
                        let cell =
                            Cell::from(Line::from(text::count(s.failures_24h)).right_aligned());
                        if s.failures_24h.value > 0 {
                            cell.style(theme.critical)
                        } else {
                            cell
                        }
                    }
                    Col::Runs => Cell::from(strip(s, missed_at.is_some(), width as usize, theme)),
                    Col::Message => {
                        let text = match (missed_at, last.and_then(|r| r.message.as_deref())) {
                            (Some(due), _) => {
                                format!("missed the run due {}", when::relative(Some(due), now))
                            }
                            (None, Some(m)) => {
                                app.masked(m).lines().next().unwrap_or("").to_string()
                            }
                            (None, None) => String::new(),
                        };
                        Cell::from(fit(&text))
                    }
                }
            })
        })
        .collect();
    let empty = if schedules.present.is_empty() {
        "  no schedule source in this database (pg_cron, pg_net)"
    } else {
        "  no schedules"
    };
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(
            view.selected
                .index(&app.schedule_keys_narrowed(&view.narrow)),
        )
        .empty(Line::styled(empty, theme.dim))
        .render(frame, table_area);
}

/// How long a run took, or has been running: `40ms`, `3.2s`, `4m05s`.
fn took(run: Option<&ScheduleRun>, now: DateTime<Utc>) -> String {
    when::secs(
        run.and_then(|r| r.duration(now))
            .map(|d| d.num_milliseconds() as f64 / 1000.0),
    )
}

fn status_cell(
    s: &Schedule,
    last: Option<&ScheduleRun>,
    missed: bool,
    theme: &Theme,
) -> Cell<'static> {
    if missed {
        return Cell::from("MISSED").style(theme.alarm_banner);
    }
    match last {
        Some(r) => Cell::from(r.status.as_str()).style(status_style(r.status, theme)),
        None if s.never_ran => Cell::from("never ran").style(theme.dim),
        None => Cell::from("–").style(theme.dim),
    }
}

#[derive(Clone, Copy)]
enum RunCol {
    Run,
    Started,
    Ago,
    Took,
    Status,
    Message,
}

#[rustfmt::skip]
const RUN_COLUMNS: [Column<RunCol>; 6] = [
    right(RunCol::Run,     "RUN",     6, 10, 2),
    left(RunCol::Started,  "STARTED (UTC)", 19, 19, 1),
    right(RunCol::Ago,     "AGO",     9, 10, 3),
    right(RunCol::Took,    "TOOK",    5, 8, 0),
    left(RunCol::Status,   "STATUS",  9, 9, 0),
    left(RunCol::Message,  "MESSAGE", 10, 400, 0),
];

pub fn draw_runs(frame: &mut Frame, area: Rect, app: &App, view: &ScheduleRunsView, theme: &Theme) {
    let [title_area, table_area] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let (Some(s), Some(now)) = (app.schedule(&view.schedule), app.db_now()) else {
        frame.render_widget(
            Line::styled(" this schedule is gone", theme.dim),
            title_area,
        );
        return;
    };
    let head = vec![
        Line::from(vec![
            Span::styled(format!(" {} ", sanitize(&s.key(), 200)), theme.title),
            Span::raw(format!(
                " {} · every {} · next {}{}",
                sanitize(&s.expression, 60),
                s.period_seconds.map_or("?".into(), |p| when::secs(Some(p))),
                when::relative(s.next_due_at, now),
                if s.active { "" } else { " · deactivated" }
            )),
        ]),
        Line::styled(
            format!(
                " {}",
                sanitize(&app.masked(s.command.as_deref().unwrap_or("")), 300)
            ),
            theme.dim,
        ),
    ];
    frame.render_widget(Paragraph::new(head), title_area);
    let columns = Fitted::with_filler(&RUN_COLUMNS, table_area.width, RUN_COLUMNS.len() - 1);
    let rows: Vec<Row> = s
        .runs
        .iter()
        .map(|r| {
            columns.row(|col, width| match col {
                RunCol::Run => Cell::from(Line::from(r.id.clone()).right_aligned()),
                RunCol::Started => Cell::from(
                    r.started_at
                        .map_or("–".into(), |t| t.format("%F %T").to_string()),
                ),
                RunCol::Ago => {
                    Cell::from(Line::from(when::relative(r.started_at, now)).right_aligned())
                }
                RunCol::Took => Cell::from(Line::from(took(Some(r), now)).right_aligned()),
                RunCol::Status => {
                    Cell::from(r.status.as_str()).style(status_style(r.status, theme))
                }
                RunCol::Message => {
                    let m = app.masked(r.message.as_deref().unwrap_or(""));
                    let m = m.as_ref();
                    let more = match r.message_len {
                        Some(n) if n as usize > m.chars().count() => format!(" … ({n} chars)"),
                        _ => String::new(),
                    };
                    let line = format!("{}{more}", m.lines().collect::<Vec<_>>().join(" ⏎ "));
                    Cell::from(text::truncate(&sanitize(&line, 1000), width as usize).into_owned())
                }
            })
        })
        .collect();
    let keys: Vec<usize> = (0..s.runs.len()).collect();
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(view.selected.index(&keys))
        .empty(Line::styled("  no run among the runs read", theme.dim))
        .render(frame, table_area);
}

/// The overview's line when a schedule is wrong (an alert on it, a source that failed to
/// read): what, for which, and the key that shows more. `None` when all is well.
pub fn overview_line(app: &App, theme: &Theme) -> Option<Line<'static>> {
    use crate::app::alerts::Subject;
    let alerts: Vec<String> = app
        .alerts
        .display_order_of(|a| {
            matches!(
                a.key.subject,
                Subject::Schedule { .. } | Subject::Source { .. }
            ) && a.state != crate::app::alerts::AlertState::Resolved
        })
        .into_iter()
        .map(|a| format!("{}: {}", a.key.subject.label(), a.key.rule.title()))
        .collect();
    let errors = app
        .shown()
        .and_then(|r| r.snapshot.schedules.as_ref())
        .map_or(0, |s| s.errors.len());
    if alerts.is_empty() && errors == 0 {
        return None;
    }
    let mut text = alerts.first().cloned().unwrap_or_default();
    if alerts.len() > 1 {
        text.push_str(&format!(" (+{} more)", alerts.len() - 1));
    }
    if errors > 0 {
        if !text.is_empty() {
            text.push_str(" · ");
        }
        text.push_str(&format!("{errors} schedule source(s) unreadable"));
    }
    Some(Line::from(vec![
        Span::styled(" SCHEDULES ", theme.alarm_banner),
        Span::raw(format!(" {} ", sanitize(&text, 300))),
        Span::styled("· C to open", theme.dim),
    ]))
}
