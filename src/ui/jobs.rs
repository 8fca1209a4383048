//! A list of jobs: state tabs (for a queue), what the list is and where in it the page is,
//! then one row per job with its last error on one line.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use super::load::{failure, loading};
use super::table::{Column, Fitted, SelectableTable, left, right, widened, widest};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use crate::app::App;
use crate::app::filter;
use crate::app::views::JobsView;
use crate::backend::drill::{JobRow, JobScope, SortKey};
use crate::backend::{Count, JobId, JobState};

#[derive(Clone, Copy, PartialEq, Eq)]
enum JobCol {
    Mark,
    Id,
    State,
    Kind,
    Tenant,
    Attempts,
    When,
    Worker,
    Beat,
    Queue,
    Error,
}

/// The columns a list shows, in order. The last error comes last and takes what is left;
/// on a narrow screen the tenant of a queue's jobs gives way to it, and in lists of
/// running jobs the queue and worker matter more than the error.
fn columns(scope: &JobScope, width: u16) -> Vec<Column<JobCol>> {
    let running = matches!(
        scope,
        JobScope::Queue {
            state: JobState::Running,
            ..
        } | JobScope::Stuck { .. }
            | JobScope::Worker { .. }
    );
    let mixed_states = matches!(scope, JobScope::Ids { .. });
    let when_title = match (scope, scope.sort_key()) {
        (JobScope::Worker { .. }, _) | (_, SortKey::StartedAt) => "STARTED",
        (_, SortKey::RunAt) => "RUN AT",
        (_, SortKey::FinishedAt) => "FINISHED",
        (_, SortKey::Id) => "CHANGED",
    };
    let mut cols = vec![
        left(JobCol::Mark, "", 1, 1, 0),
        right(JobCol::Id, "ID", 8, 10, 0),
    ];
    if mixed_states {
        cols.push(left(JobCol::State, "STATE", 9, 9, 1));
    }
    if !matches!(scope, JobScope::Queue { .. }) {
        let priority = if running { 3 } else { 6 };
        cols.push(left(JobCol::Queue, "QUEUE", 8, 16, priority));
    }
    cols.push(left(JobCol::Kind, "KIND", 10, 24, 1));
    if width >= 100 || !matches!(scope, JobScope::Queue { .. }) {
        cols.push(left(JobCol::Tenant, "TENANT", 8, 14, 7));
    }
    cols.push(left(JobCol::Attempts, "TRY", 5, 5, 3));
    cols.push(left(JobCol::When, when_title, 10, 10, 2));
    if running || mixed_states {
        let priority = if running { 4 } else { 8 };
        cols.push(left(JobCol::Worker, "WORKER", 10, 18, priority));
    }
    if matches!(scope, JobScope::Stuck { .. } | JobScope::Worker { .. }) {
        cols.push(left(JobCol::Beat, "W.BEAT", 8, 8, 2));
    }
    cols.push(left(JobCol::Error, "LAST ERROR", 16, 400, 5));
    cols
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &JobsView, theme: &Theme) {
    let tabs = matches!(view.scope, JobScope::Queue { .. });
    let [tabs_area, status_area, table_area] = Layout::vertical([
        Constraint::Length(if tabs { 1 } else { 0 }),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    if tabs {
        let line = tab_line(app, view, area.width, theme);
        // A blank, then each tab and a bar.
        super::hits::tabs(tabs_area, &line, |i| (i % 2 == 1).then_some(i / 2));
        frame.render_widget(Paragraph::new(line), tabs_area);
    }
    frame.render_widget(Paragraph::new(status_line(app, view, theme)), status_area);

    let now = view
        .page
        .as_ref()
        .map(|p| p.db_now)
        .or_else(|| app.db_now())
        .unwrap_or(app.now);
    // An id is never cut: the ID column is as wide as the widest number on the page.
    let id_width = widest(view.rows().iter().filter_map(|r| match &r.id {
        JobId::Int(n) => Some(n.to_string()),
        JobId::Text(_) => None,
    }));
    let cols = widened(&columns(&view.scope, table_area.width), |c| match c {
        JobCol::Id => id_width,
        _ => 0,
    });
    // The last error comes last and takes what is left.
    let columns = Fitted::with_filler(&cols, table_area.width, cols.len() - 1);
    let rows: Vec<Row> = view
        .rows()
        .iter()
        .map(|r| columns.row(|c, w| cell(c, w, r, view, app, now, theme)))
        .collect();
    let empty = match (&view.page, view.load.is_loading()) {
        (_, true) => "loading…",
        (None, false) => "no data",
        (Some(_), false) if view.filter.id.is_some() => {
            "no such job in this list (on the overview, / and an id opens any job)"
        }
        (Some(_), false) if !view.filter.is_empty() => "no job matches the filter",
        (Some(_), false) if view.pages.len() > 1 => "no more jobs (PgUp goes back)",
        (Some(_), false) => "no jobs",
    };
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(view.selected_index())
        .empty(Line::styled(format!("  {empty}"), theme.dim))
        .render(frame, table_area);
}

/// The state tabs of a queue with their counts; the overview's counts for live states,
/// the page's own count for the current tab when the overview has none.
fn tab_line<'a>(app: &App, view: &JobsView, width: u16, theme: &Theme) -> Line<'a> {
    let JobScope::Queue { queue, state } = &view.scope else {
        return Line::default();
    };
    let stats = app
        .shown()
        .and_then(|r| r.snapshot.queues.iter().find(|q| &q.name == queue));
    let count_of = |s: JobState| -> Option<Count> {
        let from_page = view
            .page
            .as_ref()
            .filter(|_| s == *state)
            .map(|p| p.scope_count);
        let from_overview = stats.and_then(|q| match s {
            JobState::Ready => Some(q.ready),
            JobState::Scheduled => Some(q.scheduled),
            JobState::Running => Some(q.running),
            JobState::Retrying => Some(q.retrying),
            JobState::Dead => Some(q.dead),
            JobState::Succeeded | JobState::Cancelled => None,
        });
        from_page.or(from_overview)
    };
    let short = width < 100;
    let mut spans = vec![Span::raw(" ")];
    for s in JobState::ALL {
        let label = if short { short_label(s) } else { s.as_str() };
        let text = match count_of(s) {
            Some(c) => format!(" {label} {} ", text::count(c)),
            None => format!(" {label} "),
        };
        let style = if s == *state {
            theme.selected
        } else if s == JobState::Dead && count_of(s).is_some_and(|c| c.value > 0) {
            theme.warn
        } else {
            theme.text
        };
        spans.push(Span::styled(text, style));
        spans.push(Span::styled("│", theme.dim));
    }
    spans.pop();
    Line::from(spans)
}

fn short_label(s: JobState) -> &'static str {
    match s {
        JobState::Ready => "ready",
        JobState::Scheduled => "sched",
        JobState::Running => "run",
        JobState::Retrying => "retry",
        JobState::Dead => "dead",
        JobState::Cancelled => "cancel",
        JobState::Succeeded => "done",
    }
}

fn status_line<'a>(app: &App, view: &JobsView, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    // A failure first: it must not be the part a narrow screen cuts off.
    spans.extend(failure(&view.load, theme));
    // What the next action key will act on, before anything that may be cut.
    if view.all_matching {
        spans.push(Span::styled(" ALL THAT MATCH ", theme.notice_banner));
        spans.push(Span::raw(" "));
    } else if !view.marked.is_empty() {
        spans.push(Span::styled(
            format!(" {} MARKED ", view.marked.len()),
            theme.notice_banner,
        ));
        spans.push(Span::raw(" "));
    }
    let what = match &view.scope {
        JobScope::Queue { .. } => None,
        JobScope::Worker { worker } => Some(format!("held by {}", sanitize(worker, 100))),
        JobScope::Ids { ids } => Some(format!("{} jobs of the group", ids.len())),
        JobScope::Stuck {
            running_longer_than,
            stale_after,
        } => Some(format!(
            "running > {} or worker silent > {}",
            text::age(chrono::Duration::from_std(*running_longer_than).unwrap_or_default()),
            text::age(chrono::Duration::from_std(*stale_after).unwrap_or_default()),
        )),
    };
    if let Some(what) = what {
        spans.push(Span::styled(what, theme.title));
        spans.push(Span::styled(" · ", theme.dim));
    }
    let rows = view.rows().len();
    spans.push(Span::raw(format!(
        "page {}{} · {} rows",
        view.page_number(),
        if view.page.as_ref().is_some_and(|p| p.has_more) {
            "+"
        } else {
            ""
        },
        rows
    )));
    spans.push(Span::styled(" · ", theme.dim));
    spans.push(Span::raw(format!(
        "{} by {}",
        view.order.label(),
        view.scope.sort_key().label()
    )));
    if !view.filter.is_empty() {
        spans.push(Span::styled(" · ", theme.dim));
        spans.push(Span::styled(
            format!("filter {}", sanitize(&filter::describe(&view.filter), 200)),
            theme.notice_banner,
        ));
    }
    spans.extend(loading(&view.load, app.now, theme));
    Line::from(spans)
}

fn cell<'a>(
    col: JobCol,
    width: u16,
    r: &JobRow,
    view: &JobsView,
    app: &App,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Cell<'a> {
    let fit = |s: &str| text::truncate(&sanitize(s, 500), width as usize).into_owned();
    match col {
        JobCol::Mark => Cell::from(if view.marked.contains(&r.id) {
            "•"
        } else {
            " "
        }),
        JobCol::Id => Cell::from(Line::from(r.id.to_string()).right_aligned()),
        JobCol::State => {
            let style = match r.state {
                JobState::Dead => theme.critical,
                JobState::Retrying => theme.warn,
                JobState::Succeeded => theme.ok,
                _ => theme.text,
            };
            Cell::from(r.state.as_str()).style(style)
        }
        JobCol::Queue => Cell::from(fit(&r.queue)),
        JobCol::Kind => Cell::from(fit(&r.kind)),
        JobCol::Tenant => Cell::from(fit(r.tenant.as_deref().unwrap_or("–"))),
        JobCol::Attempts => Cell::from(Line::from(attempts(r)).right_aligned()),
        JobCol::When => {
            let t = match (&view.scope, view.scope.sort_key()) {
                (JobScope::Worker { .. }, _) | (_, SortKey::StartedAt) => r.started_at,
                (_, SortKey::RunAt) => r.run_at,
                (_, SortKey::FinishedAt) => r.finished_at,
                (_, SortKey::Id) => r.finished_at.or(r.started_at).or(r.run_at),
            };
            Cell::from(Line::from(when::relative(t, now)).right_aligned())
        }
        JobCol::Worker => Cell::from(fit(r.worker.as_deref().unwrap_or("–"))),
        JobCol::Beat => {
            let beat = r.worker_heartbeat_at.or(r.heartbeat_at);
            let stale = app.is_stale(beat.map(|b| (now - b).max(chrono::Duration::zero())));
            let c = Cell::from(
                Line::from(beat.map_or("–".into(), |b| text::age(now - b))).right_aligned(),
            );
            if stale { c.style(theme.critical) } else { c }
        }
        JobCol::Error => {
            let error = app.masked(r.last_error.as_deref().unwrap_or(""));
            let first = error.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Cell::from(fit(first)).style(theme.dim)
        }
    }
}

/// `3/5`; a dash for what the schema does not keep (`2/–` without a maximum).
pub fn attempts(r: &JobRow) -> String {
    let n = |v: Option<i32>| v.map_or("–".to_string(), |v| v.to_string());
    match (r.attempts, r.max_attempts) {
        (None, None) => "–".into(),
        (a, m) => format!("{}/{}", n(a), n(m)),
    }
}
