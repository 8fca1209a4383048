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
    let (identity, freshness) = top_line(app, theme, area.width as usize);
    let right_width = (freshness.width() as u16).min(area.width);
    let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_width)])
        .areas(Rect { height: 1, ..area });
    frame.render_widget(Paragraph::new(identity), left);
    frame.render_widget(Paragraph::new(freshness), right);
    let mut rest = vec![totals_line(app, theme, area.width as usize)];
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

/// How much of the top line to say, from everything to the least: which database is
/// watched goes last, so the freshness words, the read-write mode, the backend and the
/// title give way before the target is shortened (in the middle, `target`).
#[derive(Clone, Copy)]
struct Detail {
    title: bool,
    backend: bool,
    read_write: bool,
    freshness: Freshness,
}

#[derive(Clone, Copy, PartialEq)]
enum Freshness {
    /// `every 1s · updated 0.4s ago`
    Full,
    /// `updated 0.4s ago`
    Updated,
    /// `0.4s ago`
    Age,
}

#[rustfmt::skip]
const DETAILS: [Detail; 6] = [
    Detail { title: true, backend: true, read_write: true, freshness: Freshness::Full },
    Detail { title: true, backend: true, read_write: true, freshness: Freshness::Updated },
    Detail { title: true, backend: true, read_write: false, freshness: Freshness::Updated },
    Detail { title: true, backend: true, read_write: false, freshness: Freshness::Age },
    Detail { title: true, backend: false, read_write: false, freshness: Freshness::Age },
    Detail { title: false, backend: false, read_write: false, freshness: Freshness::Age },
];

/// The identity (left) and the freshness (right) that fit `width` together: the first
/// level of detail with room for the whole target, else the least with the target cut.
fn top_line<'a>(app: &App, theme: &Theme, width: usize) -> (Line<'a>, Line<'a>) {
    let target = sanitize(&app.config.target, 200).into_owned();
    for detail in DETAILS {
        let identity = identity_line(app, theme, detail, &target);
        let freshness = freshness_line(app, theme, detail.freshness);
        if identity.width() + freshness.width() <= width {
            return (identity, freshness);
        }
    }
    let least = DETAILS[DETAILS.len() - 1];
    let freshness = freshness_line(app, theme, least.freshness);
    let without_target = identity_line(app, theme, least, "").width();
    let room = width.saturating_sub(freshness.width() + without_target);
    let identity = identity_line(app, theme, least, &shorten_target(&target, room));
    (identity, freshness)
}

/// `user@host:port/db` in `max` cells: the host shortens in the middle first, then the
/// user, and the port and database stay whole while they can, so the screen still says
/// which database it is.
pub fn shorten_target(target: &str, max: usize) -> String {
    if text::width(target) <= max {
        return target.to_string();
    }
    let (user, rest) = match target.rsplit_once('@') {
        Some((user, rest)) => (format!("{user}@"), rest),
        None => (String::new(), target),
    };
    let (host, port_db) = match rest.rfind(':') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => ("", rest),
    };
    let fixed = text::width(port_db);
    // The host keeps a few cells on each side of its ellipsis while the user can give way.
    let host_min = text::width(host).min(7);
    let user_room = max.saturating_sub(fixed + host_min);
    let user = text::truncate_middle(&user, user_room.max(if user.is_empty() { 0 } else { 2 }))
        .into_owned();
    let host_room = max.saturating_sub(fixed + text::width(&user));
    if host_room >= host_min.min(3) && fixed + text::width(&user) < max {
        let host = text::truncate_middle(host, host_room);
        return format!("{user}{host}{port_db}");
    }
    text::truncate_middle(target, max).into_owned()
}

fn identity_line<'a>(app: &App, theme: &Theme, detail: Detail, target: &str) -> Line<'a> {
    let mut spans = Vec::new();
    if detail.title {
        spans.push(Span::styled(" jobtop ", theme.title));
    } else {
        spans.push(Span::raw(" "));
    }
    if detail.backend {
        spans.push(Span::raw(format!("{} · ", app.config.backend)));
        if let Some(source) = &app.source {
            spans.push(Span::raw(format!("{} · ", sanitize(source, 80))));
        }
    }
    // Read-only is a warning and stays; read-write is the usual case and gives way.
    if app.config.read_only {
        spans.push(Span::styled("read-only", theme.warn));
        spans.push(Span::raw(" · "));
    } else if detail.read_write {
        spans.push(Span::raw("read-write · "));
    }
    spans.push(Span::styled(target.to_string(), theme.header_key));
    Line::from(spans)
}

fn freshness_line<'a>(app: &App, theme: &Theme, how: Freshness) -> Line<'a> {
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
    if how == Freshness::Full {
        spans.push(Span::raw(format!("every {} · ", interval(app.interval))));
    }
    match (app.data_age(), how) {
        (Some(age), Freshness::Age) => spans.push(Span::raw(format!("{} ago ", text::age(age)))),
        (Some(age), _) => spans.push(Span::raw(format!("updated {} ago ", text::age(age)))),
        (None, _) => spans.push(Span::styled("connecting… ", theme.dim)),
    }
    Line::from(spans)
}

/// The alert tally: critical, warning, pending, or "alerts ok"; a source's line on the
/// several-sources screen ends with it too.
pub(super) fn alerts_spans<'a>(app: &App, theme: &Theme) -> Vec<Span<'a>> {
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
    spans.pop();
    spans
}

/// The totals, each whole or not at all: a figure is never cut (`dead ~141` for `~1409`).
/// What does not fit gives way, the least important first.
fn totals_line<'a>(app: &App, theme: &Theme, width: usize) -> Line<'a> {
    // (spans, priority: 0 is kept longest)
    let mut items: Vec<(Vec<Span<'a>>, u8)> = Vec::new();
    let alerts = alerts_spans(app, theme);
    if !alerts.is_empty() {
        items.push((alerts, 0));
    }
    if let (Some(received), Some(now)) = (app.shown(), app.db_now()) {
        let snap = &received.snapshot;
        let sum = |f: fn(&crate::backend::QueueStats) -> crate::backend::Count| {
            snap.queues.iter().map(f).sum::<crate::backend::Count>()
        };
        let ready = sum(|q| q.ready);
        let dead = sum(|q| q.dead);
        let paused = snap.queues.iter().filter(|q| q.paused.is_some()).count();
        if app.config.capabilities.workers.yes() {
            let stale: Vec<_> = snap
                .workers
                .iter()
                .filter(|w| app.is_stale(w.heartbeat_age(now)))
                .collect();
            let stuck: i64 = stale.iter().map(|w| w.running_jobs).sum();
            let live = snap.workers.len() - stale.len();
            let mut spans = vec![Span::raw(format!("workers {live} live"))];
            if !stale.is_empty() {
                spans.push(Span::raw(", "));
                let (what, style) = if stuck > 0 {
                    (
                        format!("{} stale ({stuck} stuck)", stale.len()),
                        theme.critical,
                    )
                } else {
                    (format!("{} stale", stale.len()), theme.warn)
                };
                spans.push(Span::styled(what, style));
            }
            items.push((spans, 3));
        }
        items.push((vec![Span::raw(format!("ready {}", text::count(ready)))], 1));
        let dead_style = if dead.value > 0 {
            theme.warn
        } else {
            theme.text
        };
        items.push((
            vec![Span::styled(
                format!("dead {}", text::count(dead)),
                dead_style,
            )],
            2,
        ));
        if paused > 0 {
            items.push((
                vec![Span::styled(format!("{paused} paused"), theme.warn)],
                4,
            ));
        }
    }
    // The most important first, each where it still fits; shown in their own order.
    let mut by_priority: Vec<usize> = (0..items.len()).collect();
    by_priority.sort_by_key(|&i| (items[i].1, i));
    let mut keep = vec![false; items.len()];
    let mut used = 1;
    for i in by_priority {
        let cost = items[i].0.iter().map(|s| s.width()).sum::<usize>()
            + if used > 1 { SEP.chars().count() } else { 0 };
        if used + cost <= width {
            keep[i] = true;
            used += cost;
        }
    }
    let shown = items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item));
    let mut spans = vec![Span::raw(" ")];
    for (i, (item, _)) in shown.enumerate() {
        if i > 0 {
            spans.push(Span::raw(SEP));
        }
        spans.extend(item);
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
