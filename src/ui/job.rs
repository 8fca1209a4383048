//! One job: its fields and timeline on top (a fixed number of lines, `DETAIL_HEAD_LINES`),
//! then the error history or the payload, scrolled up, down and sideways.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthChar;

use super::load::load_status;
use super::text::sanitize;
use super::theme::Theme;
use super::when;
use crate::app::json::{DocLine, Tone};
use crate::app::views::{DetailPane, JobView};
use crate::app::{App, DETAIL_HEAD_LINES, human_bytes};
use crate::backend::JobState;
use crate::backend::drill::{JobDetail, PayloadForm};

/// Characters of one line drawn at most (lines are cut, and scrolled sideways).
const LINE_CHARS: usize = 20_000;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &JobView, theme: &Theme) {
    let [head, body] =
        Layout::vertical([Constraint::Length(DETAIL_HEAD_LINES), Constraint::Min(1)]).areas(area);
    let Some(detail) = view.job() else {
        let msg = match &view.detail {
            Some(None) => format!(" no job #{} (it was deleted, or never existed)", view.id),
            _ => format!(" job #{}", view.id),
        };
        let mut spans = vec![Span::styled(msg, theme.title)];
        spans.extend(load_status(&view.load, app.now, theme));
        frame.render_widget(Paragraph::new(Line::from(spans)), head);
        return;
    };
    frame.render_widget(Paragraph::new(head_lines(detail, view, app, theme)), head);

    let lines = view.lines();
    let height = body.height as usize;
    let scroll = view.scroll().min(lines.len().saturating_sub(height));
    let shown: Vec<Line> = lines
        .iter()
        .skip(scroll)
        .take(height)
        .map(|l| doc_line(l, view.hscroll, theme))
        .collect();
    frame.render_widget(Paragraph::new(shown), body);
}

fn head_lines<'a>(d: &JobDetail, view: &JobView, app: &App, theme: &Theme) -> Vec<Line<'a>> {
    let clock = app.now;
    let j = &d.job;
    let now = d.db_now;
    // Times on the day the job was created (else today) are shown without their date.
    let day = j.created_at.unwrap_or(now);
    let s = |v: &str| sanitize(v, 300).into_owned();
    let label = |t: &'static str| Span::styled(t, theme.dim);
    let state_style = match j.state {
        JobState::Dead => theme.alarm_banner,
        JobState::Retrying => theme.notice_banner,
        JobState::Succeeded => theme.ok,
        _ => theme.title,
    };
    let mut title = vec![
        Span::styled(format!(" #{} ", j.id), theme.title),
        Span::styled(format!(" {} ", j.state.as_str()), state_style),
        Span::raw(" "),
        Span::styled(s(&j.queue), theme.header_key),
        Span::styled(" › ", theme.dim),
        Span::styled(s(&j.kind), theme.title),
    ];
    title.extend(load_status(&view.load, clock, theme));

    let timeline = timeline(d, theme);
    let bytes = |n: i64| human_bytes(n);
    vec![
        Line::from(title),
        Line::from(vec![
            label(" tenant "),
            Span::raw(s(j.tenant.as_deref().unwrap_or("–"))),
            label("  attempts "),
            Span::raw(super::jobs::attempts(j)),
            label("  priority "),
            Span::raw(j.priority.map_or("–".into(), |p| p.to_string())),
            label("  worker "),
            Span::raw(s(j.worker.as_deref().unwrap_or("–"))),
            label("  heartbeat "),
            Span::raw(when::relative(j.heartbeat_at, now)),
        ]),
        Line::from(vec![
            label(" created "),
            Span::raw(when::stamp(j.created_at)),
            Span::styled(" UTC", theme.dim),
            label("  run at "),
            Span::raw(when::stamp_on(j.run_at, day)),
            Span::styled(format!(" ({})", when::relative(j.run_at, now)), theme.dim),
        ]),
        Line::from(vec![
            label(" started "),
            Span::raw(when::stamp_on(j.started_at, day)),
            label("  finished "),
            Span::raw(when::stamp_on(j.finished_at, day)),
            label("  failed "),
            Span::raw(when::stamp_on(d.failed_at, day)),
        ]),
        Line::from(timeline),
        Line::from(vec![
            label(" idempotency key "),
            Span::raw(s(d.idempotency_key.as_deref().unwrap_or("–"))),
            label("  payload "),
            Span::raw(match d.payload {
                Some(_) => bytes(d.payload_bytes),
                None => "–".into(),
            }),
            label("  errors "),
            Span::raw(d.error_count.to_string()),
            label("  last error "),
            Span::raw(if j.error_bytes > 0 {
                bytes(j.error_bytes)
            } else {
                "–".into()
            }),
        ]),
        Line::from(vec![
            label(" last error: "),
            Span::styled(
                s(app
                    .masked(j.last_error.as_deref().unwrap_or("–"))
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("–")),
                theme.warn,
            ),
        ]),
        pane_tabs(d, view, theme),
    ]
}

/// created → due → started → finished, with the time spent between each step.
fn timeline<'a>(d: &JobDetail, theme: &Theme) -> Vec<Span<'a>> {
    let j = &d.job;
    let mut spans = vec![Span::styled(" created", theme.dim)];
    let step = |spans: &mut Vec<Span<'a>>,
                gap: &str,
                from: Option<DateTime<Utc>>,
                to: Option<DateTime<Utc>>,
                name: String| {
        spans.push(Span::styled(
            format!(" ─{gap}{}→ ", when::between(from, to)),
            theme.header_key,
        ));
        spans.push(Span::styled(name, theme.dim));
    };
    step(&mut spans, "", j.created_at, j.run_at, "due".into());
    if j.started_at.is_some() {
        step(
            &mut spans,
            "wait ",
            j.run_at,
            j.started_at,
            "started".into(),
        );
    }
    if j.finished_at.is_some() {
        step(
            &mut spans,
            "ran ",
            j.started_at,
            j.finished_at,
            j.state.as_str().to_string(),
        );
    } else if j.state == JobState::Running {
        step(
            &mut spans,
            "running ",
            j.started_at,
            Some(d.db_now),
            "now".into(),
        );
    }
    spans
}

fn pane_tabs<'a>(d: &JobDetail, view: &JobView, theme: &Theme) -> Line<'a> {
    let tab = |pane: DetailPane, text: String| {
        let style = if view.pane == pane {
            theme.selected
        } else {
            theme.dim
        };
        Span::styled(text, style)
    };
    let lines = view.lines().len();
    Line::from(vec![
        Span::raw(" "),
        tab(DetailPane::Errors, format!(" Errors ({}) ", d.error_count)),
        Span::styled("│", theme.dim),
        tab(
            DetailPane::Payload,
            match d.payload {
                Some(_) => format!(
                    " Payload ({}{}) ",
                    match d.payload_form {
                        PayloadForm::Json => "",
                        PayloadForm::Text => "binary, as text, ",
                        PayloadForm::Hex => "binary, hex, ",
                    },
                    human_bytes(d.payload_bytes)
                ),
                None => " Payload (none kept) ".into(),
            },
        ),
        Span::styled(
            format!(
                "  line {} of {}{}",
                (view.scroll() + 1).min(lines),
                lines,
                if view.hscroll > 0 {
                    format!(" · column {}", view.hscroll + 1)
                } else {
                    String::new()
                }
            ),
            theme.dim,
        ),
    ])
}

fn tone_style(tone: Tone, theme: &Theme) -> Style {
    match tone {
        Tone::Plain | Tone::Error => theme.text,
        Tone::Dim | Tone::Punct => theme.dim,
        Tone::Label => theme.title,
        Tone::Warn => theme.warn,
        Tone::Key => theme.header_key,
        Tone::Str => theme.ok,
        Tone::Num => theme.warn,
        Tone::Literal => theme.title,
    }
}

/// A document line sanitized, with its first `skip` columns scrolled away.
fn doc_line<'a>(line: &DocLine, skip: usize, theme: &Theme) -> Line<'a> {
    let mut to_skip = skip;
    let mut spans = Vec::with_capacity(line.len() + 1);
    spans.push(Span::raw(" "));
    for (tone, raw) in line {
        let clean = sanitize(raw, LINE_CHARS);
        let mut kept = String::new();
        for c in clean.chars() {
            let w = c.width().unwrap_or(0);
            if to_skip > 0 {
                // A wide character cut in half leaves a blank.
                if w > to_skip {
                    kept.push(' ');
                }
                to_skip = to_skip.saturating_sub(w);
                continue;
            }
            kept.push(c);
        }
        if !kept.is_empty() {
            spans.push(Span::styled(kept, tone_style(*tone, theme)));
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sideways_scroll_counts_cells() {
        let theme = Theme::default();
        let line: DocLine = vec![(Tone::Plain, "ab日本c".into())];
        let text = |l: Line| {
            l.spans
                .iter()
                .map(|s| s.content.to_string())
                .collect::<String>()
        };
        // One column of margin, then the line from the first column not scrolled away.
        assert_eq!(text(doc_line(&line, 0, &theme)), " ab日本c");
        assert_eq!(text(doc_line(&line, 2, &theme)), " 日本c");
        assert_eq!(text(doc_line(&line, 3, &theme)), "  本c");
        assert_eq!(text(doc_line(&line, 6, &theme)), " c");
        let hostile: DocLine = vec![(Tone::Error, "\x1b[2J".into())];
        assert_eq!(text(doc_line(&hostile, 0, &theme)), " \\x1b[2J");
    }
}
