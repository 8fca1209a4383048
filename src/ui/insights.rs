//! What a big terminal shows between the queues and the workers, where rows would stay
//! blank: the alerts firing now (not only their count in the header), and the last hour's
//! completions and failures per minute over every queue.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};

use super::markers;
use super::table::pane_block;
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;
use crate::app::alerts::{AlertState, Severity};

/// The rows a chart needs to say anything (title, two series, their labels).
pub const MIN_HEIGHT: u16 = 7;
/// More rows than this add nothing.
pub const MAX_HEIGHT: u16 = 32;
/// From this height the alerts sit above a chart as wide as the screen.
const STACKED_FROM: u16 = 16;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let [alerts_area, chart_area] = if area.height >= STACKED_FROM {
        let firing = app.alerts.tally().firing() as u16;
        let alerts = (firing.max(1) + 1).min(area.height / 2);
        Layout::vertical([Constraint::Length(alerts), Constraint::Min(MIN_HEIGHT)]).areas(area)
    } else {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area)
    };
    firing(frame, alerts_area, app, theme);
    chart(frame, chart_area, app, theme);
}

fn firing(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let alerts: Vec<_> = app
        .alerts
        .display_order_of(|a| a.state == AlertState::Firing);
    let block = pane_block(
        format!(" Firing ({}) · a: all alerts ", alerts.len()),
        false,
        theme,
    );
    let inner = block.inner(area);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = alerts
        .iter()
        .take(inner.height as usize)
        .map(|a| {
            let style = match a.severity {
                Severity::Critical => theme.critical,
                Severity::Warning => theme.warn,
            };
            let since = a
                .since
                .with_timezone(&app.utc_offset)
                .format("%H:%M")
                .to_string();
            let what = format!(
                " {} · {} {} since {since}",
                sanitize(&a.key.subject.label(), 80),
                a.key.rule.title(),
                a.value_text()
            );
            Line::from(vec![
                Span::styled(
                    markers::symbol(Some((a.state, a.severity))),
                    markers::style(Some((a.state, a.severity)), theme),
                ),
                Span::styled(
                    text::truncate(&what, width.saturating_sub(2)).into_owned(),
                    style,
                ),
            ])
        })
        .collect();
    if alerts.is_empty() {
        lines.push(Line::styled(" nothing firing", theme.ok));
    } else if alerts.len() > inner.height as usize {
        // The last line says how many more there are.
        lines.pop();
        lines.push(Line::styled(
            format!(" … {} more: a", alerts.len() + 1 - inner.height as usize),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Completions and failures per minute over the last hour, every queue summed.
fn chart(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(why) = app.config.capabilities.throughput.reason() {
        // Zeros here would read as an idle queue; say that they are not read, and why.
        let block = pane_block(" Last hour: completions not read ".into(), false, theme);
        let text = Paragraph::new(Line::styled(format!(" {why}"), theme.dim))
            .wrap(Wrap { trim: false })
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let (mut done, mut failed) = hour(app);
    let total_done: u64 = done.iter().sum();
    let total_failed: u64 = failed.iter().sum();
    // The bars are the closed minutes, as in the queues' sparklines: the open one holds a
    // fraction of a minute's work and would read as a drop once a minute.
    done.pop();
    failed.pop();
    let peak = done.iter().max().copied().unwrap_or(0);
    // A schema that keeps no failures (pgmq) has no failed count to give, not a zero.
    let no_failures = app.config.capabilities.failures.reason();
    let failed_total = match no_failures {
        Some(_) => String::new(),
        None => format!(", {} failed", text::human_number(total_failed as i64)),
    };
    let block = pane_block(
        format!(
            " Last hour: {} done{failed_total} · peak {peak}/min ",
            text::human_number(total_done as i64),
        ),
        false,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let label = 8;
    let [labels, bars] =
        Layout::horizontal([Constraint::Length(label), Constraint::Min(1)]).areas(inner);
    let [done_area, failed_area] =
        Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(bars);
    let [done_label, failed_label] =
        Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(labels);
    let width = bars.width as usize;
    // A bar per minute, as wide as the room allows.
    let fit = |v: &[u64]| -> Vec<u64> {
        let v: Vec<u32> = v.iter().map(|x| (*x).min(u32::MAX as u64) as u32).collect();
        let fitted = text::fit(&v, width);
        let each = (width / fitted.len().max(1)).max(1);
        fitted
            .into_iter()
            .flat_map(|x| std::iter::repeat_n(u64::from(x), each))
            .collect()
    };
    frame.render_widget(
        Sparkline::default().data(fit(&done)).style(theme.ok),
        done_area,
    );
    frame.render_widget(Line::styled(" done", theme.dim), done_label);
    frame.render_widget(Line::styled(" failed", theme.dim), failed_label);
    match no_failures {
        Some(why) => frame.render_widget(
            Paragraph::new(Line::styled(why, theme.dim)).wrap(Wrap { trim: false }),
            failed_area,
        ),
        None => frame.render_widget(
            Sparkline::default()
                .data(fit(&failed))
                .style(theme.critical),
            failed_area,
        ),
    }
}

/// The shown snapshot's minutes, every queue summed, oldest first.
fn hour(app: &App) -> (Vec<u64>, Vec<u64>) {
    let Some(r) = app.shown() else {
        return (Vec::new(), Vec::new());
    };
    let len = r
        .snapshot
        .queues
        .iter()
        .map(|q| q.minutes.len())
        .max()
        .unwrap_or(0);
    let mut done = vec![0u64; len];
    let mut failed = vec![0u64; len];
    for q in &r.snapshot.queues {
        // Aligned on the newest minute.
        let offset = len - q.minutes.len();
        for (i, m) in q.minutes.iter().enumerate() {
            done[offset + i] += u64::from(m.succeeded);
            failed[offset + i] += u64::from(m.failed);
        }
    }
    (done, failed)
}
