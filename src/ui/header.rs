//! The header: what is being watched, how fresh the data is, and the totals.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;

const SEP: &str = " │ ";

/// Lines the header needs: a third one carries the error while polls fail.
pub fn height(app: &App) -> u16 {
    if app.failure.is_some() { 3 } else { 2 }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    // Freshness is what matters most, so it is drawn right-aligned and never cut;
    // the database name gives way on a narrow screen.
    let freshness = freshness_line(app, theme);
    let right_width = (freshness.width() as u16).min(area.width);
    let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_width)])
        .areas(Rect { height: 1, ..area });
    frame.render_widget(Paragraph::new(identity_line(app, theme)), left);
    frame.render_widget(Paragraph::new(freshness), right);
    let mut rest = vec![totals_line(app, theme)];
    if let Some(failure) = &app.failure {
        let first_line = failure.message.lines().next().unwrap_or_default();
        rest.push(Line::from(vec![
            Span::styled(" poll failed: ", theme.critical),
            Span::styled(sanitize(first_line, 300).into_owned(), theme.critical),
            Span::styled(
                format!(
                    " ({}× since {}, retrying)",
                    failure.failures,
                    failure.since.format("%H:%M:%S")
                ),
                theme.dim,
            ),
        ]));
    }
    frame.render_widget(
        Paragraph::new(rest),
        Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1),
            ..area
        },
    );
}

fn identity_line<'a>(app: &App, theme: &Theme) -> Line<'a> {
    // The target goes last: on a narrow screen a long socket path is what gets cut.
    Line::from(vec![
        Span::styled(" jobtop ", theme.title),
        Span::raw(format!("{} · ", app.config.backend)),
        match &app.source {
            Some(source) => Span::raw(format!("{} · ", sanitize(source, 80))),
            None => Span::raw(""),
        },
        if app.config.read_only {
            Span::styled("read-only", theme.warn)
        } else {
            Span::raw("read-write")
        },
        Span::raw(" · "),
        Span::styled(
            sanitize(&app.config.target, 200).into_owned(),
            theme.header_key,
        ),
    ])
}

fn freshness_line<'a>(app: &App, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    if app.is_frozen() {
        spans.push(Span::styled(" FROZEN ", theme.notice_banner));
        spans.push(Span::raw(" "));
    }
    if app.is_data_stale() {
        let banner = match app.data_age() {
            Some(age) => format!(" STALE {} ", text::age(age)),
            None => " NO DATA ".to_string(),
        };
        spans.push(Span::styled(banner, theme.alarm_banner));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::raw(format!("every {} · ", interval(app.interval))));
    match app.data_age() {
        Some(age) => spans.push(Span::raw(format!("updated {} ago ", text::age(age)))),
        None => spans.push(Span::styled("connecting… ", theme.dim)),
    }
    Line::from(spans)
}

/// Alerts first: on a narrow screen the end of the line is what gets cut.
fn alerts_spans<'a>(app: &App, theme: &Theme) -> Vec<Span<'a>> {
    let t = app.alerts.tally();
    let mut spans = Vec::new();
    if t.firing_critical > 0 {
        spans.push(Span::styled(
            format!("!! {} CRIT", t.firing_critical),
            theme.alarm_banner,
        ));
        spans.push(Span::raw(" "));
    }
    if t.firing_warning > 0 {
        spans.push(Span::styled(
            format!("! {} WARN", t.firing_warning),
            theme.notice_banner,
        ));
        spans.push(Span::raw(" "));
    }
    if t.pending > 0 {
        spans.push(Span::styled(format!("? {} pending", t.pending), theme.warn));
        spans.push(Span::raw(" "));
    }
    if t.firing() == 0 && t.pending == 0 && app.alerts.evaluated_at.is_some() {
        spans.push(Span::styled("alerts ok", theme.ok));
        spans.push(Span::raw(" "));
    }
    if !spans.is_empty() {
        spans.pop();
        spans.push(Span::raw(SEP));
    }
    spans
}

fn totals_line<'a>(app: &App, theme: &Theme) -> Line<'a> {
    let alerts = alerts_spans(app, theme);
    let (Some(received), Some(now)) = (app.shown(), app.db_now()) else {
        let mut spans = vec![Span::raw(" ")];
        spans.extend(alerts);
        return Line::from(spans);
    };
    let snap = &received.snapshot;
    let sum = |f: fn(&crate::backend::QueueStats) -> crate::backend::Count| {
        snap.queues
            .iter()
            .fold(crate::backend::Count::default(), |acc, q| {
                let c = f(q);
                crate::backend::Count {
                    value: acc.value + c.value,
                    capped: acc.capped || c.capped,
                    estimated: acc.estimated || c.estimated,
                }
            })
    };
    let ready = sum(|q| q.ready);
    let dead = sum(|q| q.dead);
    let paused = snap.queues.iter().filter(|q| q.paused.is_some()).count();

    let mut spans = vec![Span::raw(" ")];
    spans.extend(alerts);
    if app.config.capabilities.workers.yes() {
        let stale: Vec<_> = snap
            .workers
            .iter()
            .filter(|w| app.is_stale(w.heartbeat_age(now)))
            .collect();
        let stuck: i64 = stale.iter().map(|w| w.running_jobs).sum();
        let live = snap.workers.len() - stale.len();
        spans.push(Span::raw(format!("workers {live} live")));
        if !stale.is_empty() {
            spans.push(Span::raw(", "));
            let style = if stuck > 0 {
                theme.critical
            } else {
                theme.warn
            };
            let what = if stuck > 0 {
                format!("{} stale ({stuck} stuck)", stale.len())
            } else {
                format!("{} stale", stale.len())
            };
            spans.push(Span::styled(what, style));
        }
        spans.push(Span::raw(SEP));
    }
    spans.push(Span::raw(format!("ready {}", text::count(ready))));
    spans.push(Span::raw(SEP));
    let dead_style = if dead.value > 0 {
        theme.warn
    } else {
        theme.text
    };
    spans.push(Span::styled(
        format!("dead {}", text::count(dead)),
        dead_style,
    ));
    if paused > 0 {
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(format!("{paused} paused"), theme.warn));
    }
    Line::from(spans)
}

fn interval(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}
