//! A run in progress (batches, counts, Esc stops between batches) and the phased retry
//! (each phase, how its jobs fare since, and the choice to go on).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::confirm::border;
use super::dialog::{self, wrapped};
use super::theme::Theme;
use crate::app::actions::{Dialog, PhasedRetry, Running};
use crate::app::keymap::{KeyContext, hint_line};
use crate::app::phased::Tally;
use crate::backend::actions::thousands;

pub fn draw(frame: &mut Frame, area: Rect, dialog: &Dialog, theme: &Theme) {
    match dialog {
        Dialog::Running(running) => draw_running(frame, area, running, theme),
        Dialog::Phased(flow) => draw_phased(frame, area, flow, theme),
        _ => {}
    }
}

fn draw_running(frame: &mut Frame, area: Rect, running: &Running, theme: &Theme) {
    let width = dialog::inner_width(area);
    let plan = &running.plan;
    let mut lines = wrapped(plan.question().trim_end_matches('?'), width, theme.title);
    lines.push(Line::default());
    lines.extend(run_lines(running, width, theme));
    lines.push(Line::default());
    lines.push(stop_line(running, theme));
    let title = format!("{} — running", plan.kind().verb());
    dialog::draw(frame, area, &title, border(plan.kind(), theme), lines);
}

/// Counts so far and a bar.
fn run_lines(running: &Running, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let plan = &running.plan;
    let total = plan.total_batches().unwrap_or(0);
    let (batches, changed, skipped) = match &running.progress {
        Some(p) => (p.batches, p.changed, p.skipped),
        None => (0, 0, 0),
    };
    let mut text = format!(
        "batch {batches} of {total} · {} {}",
        thousands(changed),
        plan.kind().past()
    );
    if skipped > 0 {
        text.push_str(&format!(" · {} had moved on", thousands(skipped)));
    }
    let bar_width = width.saturating_sub(6).min(60);
    let done = if total == 0 {
        0
    } else {
        (batches as usize * bar_width / total as usize).min(bar_width)
    };
    let percent = (batches * 100).checked_div(total).unwrap_or(0);
    vec![
        Line::from(text),
        Line::from(vec![
            Span::styled("█".repeat(done), theme.ok),
            Span::styled("░".repeat(bar_width - done), theme.dim),
            Span::raw(format!(" {percent:>3}%")),
        ]),
    ]
}

fn stop_line(running: &Running, theme: &Theme) -> Line<'static> {
    if running.stopping {
        Line::styled("stopping after this batch…", theme.warn)
    } else {
        Line::styled(hint_line(KeyContext::Running), theme.dim)
    }
}

fn draw_phased(frame: &mut Frame, area: Rect, flow: &PhasedRetry, theme: &Theme) {
    let width = dialog::inner_width(area);
    let question = flow.plan.question();
    let mut lines = wrapped(
        &format!("{}, in phases:", question.trim_end_matches('?')),
        width,
        theme.title,
    );
    lines.push(Line::default());
    for (i, (phase, ids)) in flow.phases.iter().enumerate() {
        let head = format!(
            "{} {:<6} {:>6} jobs  ",
            phase.number,
            phase.label,
            thousands(ids.len() as u64)
        );
        let mut spans = vec![Span::styled(head, theme.header_key)];
        if let Some(result) = flow.results.get(i) {
            if result.outcome.changed != ids.len() as u64 {
                spans.push(Span::styled(
                    format!(
                        "{} only {} · ",
                        result.outcome.kind.past(),
                        thousands(result.outcome.changed)
                    ),
                    theme.warn,
                ));
            }
            spans.extend(tally_spans(&result.tally, result.gone, theme));
        } else if i == flow.results.len() && flow.running.is_some() {
            spans.push(Span::styled("running…", theme.warn));
        } else if flow.over {
            spans.push(Span::styled("not run", theme.dim));
        } else if i == flow.results.len() {
            spans.push(Span::styled("next", theme.text));
        } else {
            spans.push(Span::styled("later", theme.dim));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    if let Some(running) = &flow.running {
        lines.extend(run_lines(running, width, theme));
        lines.push(stop_line(running, theme));
    } else if flow.over {
        lines.extend(wrapped(&flow.summary(), width, theme.text));
        lines.push(Line::default());
        lines.extend(dialog::buttons(&["Close".to_string()], 0, width, theme));
    } else {
        lines.push(Line::styled(
            "Live: watch the retried jobs; go on when they succeed.",
            theme.dim,
        ));
        if let Some(queue) = &flow.paused_queue {
            let text = if flow.resuming.is_some() {
                format!("Resuming `{queue}`…")
            } else {
                format!("`{queue}` is paused: the retried jobs wait there until it is resumed.")
            };
            lines.extend(wrapped(&text, width, theme.warn));
        }
        if let Some((failed, retried)) = flow.all_failed_again() {
            lines.extend(wrapped(
                &format!(
                    "The last phase failed again {failed} of {retried}: the cause is likely \
                     still there. Going on retries more jobs into the same failure."
                ),
                width,
                theme.critical,
            ));
        }
        let labels: Vec<String> = flow.choices().iter().map(|c| flow.label(*c)).collect();
        lines.extend(dialog::buttons(&labels, flow.focus, width, theme));
        lines.push(Line::styled(hint_line(KeyContext::Phased), theme.dim));
    }
    dialog::draw(frame, area, "Phased retry", theme.warn, lines);
}

fn tally_spans(t: &Tally, gone: u64, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = vec![
        Span::styled(format!("✓ {} succeeded", t.succeeded), theme.ok),
        Span::raw(" · "),
        Span::styled(
            format!("✗ {} failed again", t.failed),
            if t.failed > 0 {
                theme.critical
            } else {
                theme.text
            },
        ),
        Span::raw(format!(" · {} waiting", t.pending)),
    ];
    if t.other > 0 {
        spans.push(Span::raw(format!(" · {} cancelled", t.other)));
    }
    if gone > 0 {
        spans.push(Span::raw(format!(" · {gone} gone")));
    }
    spans
}
