//! Dead letters grouped by error signature: how many, which kinds and queues, since when;
//! the selected group's real message underneath.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::load::{first_load, load_status};
use super::table::{Column, Fitted, SelectableTable, left, narrow_note, widened, widest};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use crate::app::App;
use crate::app::views::DeadLettersView;
use crate::backend::drill::{DeadWindow, ErrorGroup, NO_FAILED_ATTEMPTS};

#[derive(Clone, Copy)]
enum DeadCol {
    Jobs,
    Signature,
    Kinds,
    Queues,
    First,
    Last,
}

/// Every title left-aligned, the counts too: the signature is what is read first.
#[rustfmt::skip]
const COLUMNS: [Column<DeadCol>; 6] = [
    left(DeadCol::Jobs,      "JOBS",            6, 7, 0),
    left(DeadCol::Signature, "ERROR SIGNATURE", 30, 200, 0),
    left(DeadCol::Kinds,     "KINDS",           12, 40, 1),
    left(DeadCol::Queues,    "QUEUES",          10, 30, 3),
    left(DeadCol::First,     "FIRST",           10, 10, 4),
    left(DeadCol::Last,      "LAST",            10, 10, 2),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &DeadLettersView, theme: &Theme) {
    let sample_height = if area.height >= 30 { 8 } else { 4 };
    let [title_area, table_area, sample_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(2),
        Constraint::Length(sample_height),
    ])
    .areas(area);
    let title = title(view, app.now, theme);
    // A blank, then the windows.
    super::hits::tabs(title_area, &title, |i| {
        (1..=DeadWindow::ALL.len()).contains(&i).then(|| i - 1)
    });
    frame.render_widget(Paragraph::new(title), title_area);

    let Some(report) = &view.report else {
        if keeps_no_attempts(view) {
            // Said where the rows would be, not as a failure: nothing went wrong.
            let line = Line::styled(
                format!("  the {} backend: {NO_FAILED_ATTEMPTS}", app.config.backend),
                theme.dim,
            );
            let first_row = Rect {
                height: 1,
                ..table_area
            };
            return frame.render_widget(line, first_row);
        }
        return first_load(frame, table_area, theme);
    };
    let now = report.db_now;
    // The signature is read first: it takes the room it needs before the tallies grow.
    let mut figures = widened(&COLUMNS, |col| match col {
        DeadCol::Jobs => widest(report.groups.iter().map(|g| g.count.to_string())),
        _ => 0,
    });
    let signature_width = widest(report.groups.iter().map(|g| sanitize(&g.signature, 500)));
    let tally_width = |f: fn(&ErrorGroup) -> &[(String, i64)]| {
        widest(report.groups.iter().map(|g| tally(f(g), usize::MAX)))
    };
    for c in &mut figures {
        let need = match c.id {
            DeadCol::Signature => signature_width,
            DeadCol::Kinds => tally_width(|g| &g.kinds),
            DeadCol::Queues => tally_width(|g| &g.queues),
            _ => continue,
        };
        c.spec.max = u16::try_from(need).unwrap_or(u16::MAX).max(c.spec.min);
    }
    if view.attempts {
        // One kind: its column names the newest job of each group instead.
        for c in &mut figures {
            match c.id {
                DeadCol::Jobs => {
                    c.title = "ATTEMPTS";
                    c.spec.min = c.spec.min.max(8);
                    c.spec.max = c.spec.max.max(8);
                }
                DeadCol::Kinds => {
                    c.title = "NEWEST JOB";
                    let need = widest(report.groups.iter().map(newest_job));
                    c.spec.max = u16::try_from(need).unwrap_or(u16::MAX).max(c.spec.min);
                }
                _ => {}
            }
        }
    }
    let columns = Fitted::new(&figures, table_area.width);
    let shown = view.shown();
    let rows: Vec<Row> = shown
        .iter()
        .map(|g| {
            columns.row(|col, width| match col {
                DeadCol::Jobs => Cell::from(Line::from(g.count.to_string()).right_aligned())
                    .style(theme.critical),
                DeadCol::Signature => Cell::from(
                    text::truncate(&sanitize(&app.masked(&g.signature), 500), width as usize)
                        .into_owned(),
                ),
                DeadCol::Kinds if view.attempts => Cell::from(newest_job(g)),
                DeadCol::Kinds => Cell::from(tally(&g.kinds, width as usize)),
                DeadCol::Queues => Cell::from(tally(&g.queues, width as usize)),
                DeadCol::First => {
                    Cell::from(Line::from(when::relative(Some(g.first_seen), now)).right_aligned())
                }
                DeadCol::Last => {
                    Cell::from(Line::from(when::relative(Some(g.last_seen), now)).right_aligned())
                }
            })
        })
        .collect();
    let empty = match &view.kind {
        Some(kind) if view.attempts => format!(
            "  no failed attempts of kind {} in the last {}",
            sanitize(kind, 100),
            view.window.label()
        ),
        Some(kind) => format!(
            "  no dead jobs of kind {} in the last {}",
            sanitize(kind, 100),
            view.window.label()
        ),
        None => format!("  no dead jobs in the last {}", view.window.label()),
    };
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(view.selected_index())
        .empty(Line::styled(empty, theme.dim))
        .render(frame, table_area);
    if let Some(i) = view.selected_index() {
        sample(frame, sample_area, app, shown[i], theme);
    }
}

fn title<'a>(view: &DeadLettersView, clock: DateTime<Utc>, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for w in DeadWindow::ALL {
        let style = if w == view.window {
            theme.selected
        } else {
            theme.dim
        };
        spans.push(Span::styled(format!(" {} ", w.label()), style));
    }
    let read = if view.attempts {
        "failed attempts"
    } else {
        "dead jobs"
    };
    if let Some(r) = &view.report {
        spans.push(Span::raw(format!(
            "  {} groups · {} {read}",
            r.groups.len(),
            r.jobs
        )));
        if let Some(kind) = &view.kind {
            spans.push(Span::styled(
                format!(" · kind {}", sanitize(kind, 100)),
                theme.notice_banner,
            ));
        }
        if let Some(since) = r.covered_since {
            spans.push(Span::styled(
                format!(
                    " · newest {} only (since {})",
                    r.jobs,
                    when::relative(Some(since), r.db_now)
                ),
                theme.warn,
            ));
        }
    }
    spans.extend(narrow_note::<ErrorGroup>(&view.narrow, theme));
    if !keeps_no_attempts(view) {
        spans.extend(load_status(&view.load, clock, theme));
    }
    Line::from(spans)
}

/// The schema answered that it keeps no failed attempts (`Reads::failed_attempts`).
fn keeps_no_attempts(view: &DeadLettersView) -> bool {
    view.attempts
        && view
            .load
            .error
            .as_deref()
            .is_some_and(|e| e.contains(NO_FAILED_ATTEMPTS))
}

/// The group's newest job, as ids go (`ids` come highest first): `#48213`.
fn newest_job(g: &ErrorGroup) -> String {
    g.ids.first().map_or_else(String::new, |id| {
        sanitize(&format!("#{id}"), 60).into_owned()
    })
}

/// `email.send 30, email.digest 7` in `width` cells: whole items while they fit, then
/// `+2` for the rest; a name shortens in the middle, its count never (`webhooks 4` for
/// 475 would be a wrong figure).
fn tally(items: &[(String, i64)], width: usize) -> String {
    let mut out = String::new();
    for (i, (name, n)) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let item = format!("{sep}{} {n}", sanitize(name, 100));
        let rest = items.len() - i - 1;
        let more = if rest > 0 {
            format!(", +{rest}")
        } else {
            String::new()
        };
        if text::width(&out) + text::width(&item) + text::width(&more) <= width {
            out.push_str(&item);
            continue;
        }
        let left = items.len() - i;
        if i == 0 {
            // The first item shortens its name to keep its count and the others' tally.
            let tail = if left > 1 {
                format!(" {n}, +{}", left - 1)
            } else {
                format!(" {n}")
            };
            let room = width.saturating_sub(text::width(&tail));
            if room >= 2 {
                return format!(
                    "{}{tail}",
                    text::truncate_middle(&sanitize(name, 100), room)
                );
            }
            return format!("+{left}");
        }
        out.push_str(&format!(", +{left}"));
        return out;
    }
    out
}

fn sample(frame: &mut Frame, area: Rect, app: &App, g: &ErrorGroup, theme: &Theme) {
    let mut lines = vec![Line::styled(
        sanitize(&app.masked(&g.signature), 2000).into_owned(),
        theme.title,
    )];
    lines.extend(
        app.masked(&g.sample)
            .split('\n')
            .map(|l| Line::raw(sanitize(l.trim_end_matches('\r'), 2000).into_owned())),
    );
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::TOP)
                .border_style(theme.border)
                .title(Span::styled(
                    format!(
                        " signature, and one of its {} messages · Enter lists the jobs ",
                        g.count
                    ),
                    theme.dim,
                )),
        ),
        area,
    );
}
