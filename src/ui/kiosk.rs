//! The wall screen (`--kiosk`): one layout that fits the whole picture. A title bar with the
//! clock and the data's age, firing alerts in thick bands, the queues table below. Whatever
//! the database does, something is on screen: the last data marked stale, or why there is
//! none yet.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::big_figures::{self, BigFigure};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::{markers, queues, workers};
use crate::app::App;
use crate::app::alerts::{Alert, AlertState, RuleId, Severity, Subject};

/// A band: its text and style, drawn `height` rows tall (the text on the middle row).
struct Band {
    spans: Vec<Span<'static>>,
    style: Style,
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut y = area.y;
    let bottom = area.y + area.height;
    title_bar(
        frame,
        Rect {
            y,
            height: 1,
            ..area
        },
        app,
        theme,
    );
    y += 1;
    // A screen with room: what matters most in figures large enough to read across a room.
    if area.width >= BIG_FIGURES_FROM.0 && area.height >= BIG_FIGURES_FROM.1 {
        let strip = Rect {
            y: y + 1,
            height: big_figures::HEIGHT,
            ..area
        };
        big_figures::draw(frame, strip, &headline(app, theme));
        y += big_figures::HEIGHT + 2;
    }
    // The footer row is kept, and the queues table gets its border, its column header and
    // its rows (at most half the screen): the alerts take the rest.
    let footer_y = bottom - 1;
    let body = footer_y.saturating_sub(y);
    let queue_rows = app.shown().map_or(1, |r| r.snapshot.queues.len()) as u16;
    let budget = body.saturating_sub((queue_rows + 2).clamp(3, body / 2));

    let mut bands = Vec::new();
    if let Some(band) = failure_band(app, theme) {
        bands.push(band);
    }
    let firing: Vec<&Alert> = shown_alerts(app, AlertState::Firing);
    for a in &firing {
        bands.push(alert_band(a, app, theme));
    }
    if firing.is_empty() && app.failure.is_none() {
        bands.push(all_clear_band(app, theme));
    }
    let pending = pending_line(app, theme);
    let pending_rows = u16::from(pending.is_some());

    // Thick bands when they all fit, else one row each, else as many as fit and a count.
    let available = budget.saturating_sub(pending_rows);
    let thick = bands.len() as u16 * 3 <= available;
    let band_height = if thick { 3 } else { 1 };
    let fit = (available / band_height) as usize;
    let hidden = bands.len().saturating_sub(fit);
    let shown = if hidden > 0 {
        fit.saturating_sub(1)
    } else {
        bands.len()
    };
    for band in bands.iter().take(shown) {
        draw_band(
            frame,
            Rect {
                y,
                height: band_height,
                ..area
            },
            band,
        );
        y += band_height;
    }
    if hidden > 0 {
        let more = bands.len() - shown;
        let line = Line::from(Span::styled(
            format!(" +{more} more firing: see the queues below"),
            theme.alarm_banner,
        ));
        frame.render_widget(
            Paragraph::new(line).style(theme.alarm_banner),
            Rect {
                y,
                height: 1,
                ..area
            },
        );
        y += 1;
    }
    if let Some(line) = pending {
        frame.render_widget(
            Paragraph::new(line),
            Rect {
                y,
                height: 1,
                ..area
            },
        );
        y += 1;
    }
    // The queues, then, in the room left, the workers (a dead one is on its row there).
    let rest = footer_y.saturating_sub(y);
    let queues_height = if app.config.capabilities.workers.yes() && rest >= queue_rows + 3 + 5 {
        queue_rows + 3
    } else {
        rest
    };
    if queues_height > 0 {
        queues::draw(
            frame,
            Rect {
                y,
                height: queues_height,
                ..area
            },
            app,
            theme,
        );
    }
    let workers_height = rest - queues_height;
    if workers_height > 0 {
        workers::draw(
            frame,
            Rect {
                y: y + queues_height,
                height: workers_height,
                ..area
            },
            app,
            theme,
        );
    }
    footer(
        frame,
        Rect {
            y: footer_y,
            height: 1,
            ..area
        },
        app,
        theme,
    );
}

fn title_bar(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let clock = app.now.with_timezone(&app.utc_offset).format("%H:%M:%S");
    let mut right = vec![Span::styled(format!(" {clock} "), theme.title_bar)];
    match (app.data_age(), app.is_data_stale()) {
        (Some(age), false) => right.push(Span::styled(
            format!(" data {} old ", text::age(age)),
            theme.title_bar,
        )),
        (Some(age), true) => right.push(Span::styled(
            format!(" STALE: data {} old ", text::age(age)),
            theme.alarm_banner,
        )),
        (None, _) => right.push(Span::styled(" NO DATA YET ", theme.notice_banner)),
    }
    let right = Line::from(right);
    let right_width = (right.width() as u16).min(area.width);
    let left = Line::from(vec![
        Span::styled(" JOBTOP ", theme.title_bar),
        Span::styled(
            format!("{} ", sanitize(&app.config.target, 200)),
            theme.title_bar,
        ),
    ]);
    frame.render_widget(Paragraph::new(left).style(theme.title_bar), area);
    frame.render_widget(
        Paragraph::new(right).style(theme.title_bar),
        Rect {
            x: area.x + area.width - right_width,
            width: right_width,
            ..area
        },
    );
}

/// The smallest screen (columns, rows) that gives the big figures their strip.
const BIG_FIGURES_FROM: (u16, u16) = (90, 36);

/// The firing alerts and the worst backlog, the two figures an on-call glance needs.
fn headline(app: &App, theme: &Theme) -> Vec<BigFigure> {
    let firing = shown_alerts(app, AlertState::Firing);
    let alert_style = if firing.iter().any(|a| a.severity == Severity::Critical) {
        theme.critical
    } else if firing.is_empty() {
        theme.ok
    } else {
        theme.warn
    };
    let mut figures = vec![BigFigure {
        value: firing.len().to_string(),
        caption: match firing.len() {
            1 => "alert firing".into(),
            _ => "alerts firing".into(),
        },
        style: alert_style,
    }];
    let worst = app
        .shown()
        .and_then(|r| r.snapshot.queues.iter().max_by_key(|q| q.ready.value));
    if let Some(q) = worst {
        let backlogged = firing
            .iter()
            .any(|a| matches!(&a.key.subject, Subject::Queue { name } if *name == q.name));
        figures.push(BigFigure {
            value: text::count(q.ready),
            caption: format!("ready in {} (the longest queue)", sanitize(&q.name, 60)),
            style: if backlogged {
                theme.critical
            } else {
                theme.text
            },
        });
    }
    figures
}

/// Alerts in one state, except the database's own while its band already says so.
fn shown_alerts(app: &App, state: AlertState) -> Vec<&Alert> {
    app.alerts.display_order_of(|a| {
        a.state == state && !(app.failure.is_some() && a.key.rule == RuleId::DbUnreachable)
    })
}

/// ` · queue mail`, or nothing for an alert about everything.
fn subject(a: &Alert) -> String {
    if a.key.subject.is_global() {
        String::new()
    } else {
        format!(" · {}", sanitize(&a.key.subject.label(), 200))
    }
}

fn draw_band(frame: &mut Frame, area: Rect, band: &Band) {
    frame.render_widget(Paragraph::new("").style(band.style), area);
    let middle = Rect {
        y: area.y + area.height / 2,
        height: 1,
        ..area
    };
    frame.render_widget(
        Paragraph::new(Line::from(band.spans.clone())).style(band.style),
        middle,
    );
}

fn failure_band(app: &App, theme: &Theme) -> Option<Band> {
    let failure = app.failure.as_ref()?;
    let held = (app.now - failure.since).max(chrono::Duration::zero());
    let since = failure
        .since
        .with_timezone(&app.utc_offset)
        .format("%H:%M:%S");
    let polls = match failure.failures {
        1 => "1 poll failed".to_string(),
        n => format!("{n} polls failed"),
    };
    Some(Band {
        spans: vec![Span::raw(format!(
            " !! DATABASE UNREACHABLE for {} · since {since} · {polls} · retrying",
            text::age(held),
        ))],
        style: theme.alarm_banner,
    })
}

fn alert_band(a: &Alert, app: &App, theme: &Theme) -> Band {
    let style = match a.severity {
        Severity::Critical => theme.alarm_banner,
        Severity::Warning => theme.notice_banner,
    };
    let since = a.since.with_timezone(&app.utc_offset).format("%H:%M");
    Band {
        spans: vec![Span::raw(format!(
            " {} {:<8}  {}{} · {} > {} · since {since}",
            markers::symbol(Some((a.state, a.severity))),
            a.severity.upper(),
            a.key.rule.title(),
            subject(a),
            a.value_text(),
            a.threshold_text(),
        ))],
        style,
    }
}

fn all_clear_band(app: &App, theme: &Theme) -> Band {
    let text = if app.latest.is_none() {
        format!(" … connecting to {}", sanitize(&app.config.target, 200))
    } else {
        " OK · no alert firing".to_string()
    };
    Band {
        spans: vec![Span::raw(text)],
        style: if app.latest.is_none() {
            theme.notice_banner
        } else {
            theme.ok_banner
        },
    }
}

/// `? pending: ready backlog queue mail (1m12s of 5m00s) · …` on one row.
fn pending_line(app: &App, theme: &Theme) -> Option<Line<'static>> {
    // Held as of the last data: during an outage nothing is judged, so the clock stops
    // rather than read "2m of 1m" for an alert that cannot fire.
    let as_of = app.now - app.data_age().unwrap_or_default();
    let pending: Vec<String> = shown_alerts(app, AlertState::Pending)
        .into_iter()
        .map(|a| {
            let held = (as_of - a.since).max(chrono::Duration::zero());
            format!(
                "{}{} ({} of {})",
                a.key.rule.title(),
                subject(a),
                text::age(held),
                text::age(chrono::Duration::from_std(a.for_).unwrap_or_default())
            )
        })
        .collect();
    if pending.is_empty() {
        return None;
    }
    Some(Line::from(vec![
        Span::styled(format!(" ? {} pending: ", pending.len()), theme.warn),
        Span::styled(pending.join(" · "), theme.text),
    ]))
}

fn footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let resolved = app.alerts.resolved.len();
    let text = format!(
        " kiosk · read-only · q quits · refresh every {:.1}s · {resolved} resolved in the last hour",
        app.interval.as_secs_f64()
    );
    frame.render_widget(Paragraph::new(Line::styled(text, theme.dim)), area);
}
