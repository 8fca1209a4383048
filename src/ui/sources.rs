//! Several sources on one screen: a line per source in the header (its schema, totals,
//! alerts and how fresh its data is, or why it has none), then every queue of every
//! source in one table with a SOURCE column. A source's own views and dialogs are drawn
//! by the one-source code, over this screen or in its place.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph};

use super::queues::{self, QueueCol};
use super::table::{Column, Fitted, SelectableTable, left, pane_block, window};
use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;
use crate::app::actions::Level;
use crate::app::alerts::AlertState;
use crate::app::sources::{Row, Sources};
use crate::backend::Count;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Source,
    Queue(QueueCol),
}

/// The one-source columns with SOURCE after the alert marker; on a narrow screen it keeps
/// a short width, as the queue name does.
fn columns() -> Vec<Column<Col>> {
    let mut out = Vec::with_capacity(queues::COLUMNS.len() + 1);
    for (i, c) in queues::COLUMNS.iter().enumerate() {
        if i == 1 {
            out.push(left(Col::Source, "SOURCE", 7, 14, 0));
        }
        out.push(Column {
            id: Col::Queue(c.id),
            title: c.title,
            spec: c.spec,
            right: c.right,
        });
    }
    out
}

/// Width a source's header line needs to say everything.
const SOURCE_LINE_WIDTH: u16 = 80;

/// Side by side on a wide screen (a wall screen holds two or more columns of sources).
fn header_columns(width: u16) -> usize {
    (width / SOURCE_LINE_WIDTH).max(1) as usize
}

/// Which source goes where in the header: sources without fresh data first, each on a
/// whole line (their error needs the room; on a screen too short for every source they are
/// the ones that must show), then the others in columns, then a count of those left out.
struct HeaderPlan {
    full: Vec<usize>,
    columns: Vec<Vec<usize>>,
    hidden: Vec<usize>,
    /// Lines the sources take (the count of hidden ones not included).
    rows: usize,
}

/// At most a third of the screen goes to the sources.
fn header_plan(screen: &Sources, width: u16, height: u16) -> HeaderPlan {
    let cap = (height / 3).max(2) as usize;
    let (failing, fresh): (Vec<usize>, Vec<usize>) =
        (0..screen.sources.len()).partition(|&i| screen.sources[i].app.failure.is_some());
    let full_rows = failing.len().min(cap);
    let per_row = header_columns(width);
    let column_rows = fresh.len().div_ceil(per_row).min(cap - full_rows);
    let mut hidden: Vec<usize> = failing[full_rows..].to_vec();
    let in_columns = fresh.len().min(column_rows * per_row);
    hidden.extend(&fresh[in_columns..]);
    let columns = if column_rows == 0 {
        Vec::new()
    } else {
        fresh[..in_columns]
            .chunks(column_rows)
            .map(<[usize]>::to_vec)
            .collect()
    };
    HeaderPlan {
        full: failing[..full_rows].to_vec(),
        columns,
        hidden,
        rows: full_rows + column_rows,
    }
}

pub fn draw(frame: &mut Frame, screen: &Sources) {
    let theme = Theme::named(screen.theme);
    let area = frame.area();
    if let Some(app) = screen.covering() {
        return super::draw(frame, app);
    }
    frame.render_widget(Block::default().style(theme.base), area);
    if area.width < super::MIN_WIDTH || area.height < super::MIN_HEIGHT {
        let msg = format!(
            "terminal too small: need {}×{}, have {}×{}",
            super::MIN_WIDTH,
            super::MIN_HEIGHT,
            area.width,
            area.height
        );
        frame.render_widget(Paragraph::new(Line::from(msg)), area);
        return;
    }
    let plan = header_plan(screen, area.width, area.height);
    let header_height = 1 + plan.rows as u16 + u16::from(!plan.hidden.is_empty());
    let [header_area, body_area, footer_area] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, header_area, screen, &plan, &theme);
    if screen.kiosk {
        let firing = firing_lines(screen, &theme);
        let alerts_height = (firing.len() as u16).min(body_area.height / 2);
        let [alerts_area, queues_area] =
            Layout::vertical([Constraint::Length(alerts_height), Constraint::Min(4)])
                .areas(body_area);
        frame.render_widget(Paragraph::new(firing), alerts_area);
        queues_table(frame, queues_area, screen, &theme);
    } else if screen.show_alerts {
        alerts_pane(frame, body_area, screen, &theme);
    } else {
        // The selected queue's source's workers, under the queues as on one source's screen.
        let workers_height = (body_area.height * 2 / 5).clamp(4, 16);
        let [queues_area, workers_area] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(workers_height)])
                .areas(body_area);
        queues_table(frame, queues_area, screen, &theme);
        match screen.selected_source() {
            Some(source) => super::workers::draw(frame, workers_area, &source.app, &theme),
            None => frame.render_widget(
                pane_block(" Workers ".to_string(), false, &theme),
                workers_area,
            ),
        }
    }
    footer(frame, footer_area, screen, &theme);
    if let Some(app) = screen.overlaying() {
        super::overlays(frame, area, body_area, app, &theme);
    }
}

fn header(frame: &mut Frame, area: Rect, screen: &Sources, plan: &HeaderPlan, theme: &Theme) {
    let stale = screen
        .sources
        .iter()
        .filter(|s| s.app.failure.is_some())
        .count();
    let mut first = vec![
        Span::styled(" jobtop ", theme.title),
        Span::raw(format!("{} sources", screen.sources.len())),
    ];
    if stale > 0 {
        first.push(Span::raw(" · "));
        first.push(Span::styled(format!(" {stale} STALE "), theme.alarm_banner));
    }
    if let Some(app) = screen.sources.first().map(|s| &s.app) {
        if app.is_frozen() {
            first.push(Span::raw(" "));
            first.push(Span::styled(" FROZEN ", theme.notice_banner));
        }
        first.push(Span::raw(format!(
            " · every {}",
            text::age(chrono::Duration::from_std(app.interval).unwrap_or_default())
        )));
    }
    let lines = vec![Line::from(first)];
    let label_width = screen
        .sources
        .iter()
        .map(|s| text::width(&s.label))
        .max()
        .unwrap_or(0)
        .min(16);
    frame.render_widget(Paragraph::new(lines), Rect { height: 1, ..area });
    let line = |i: usize, width: u16| {
        let s = &screen.sources[i];
        source_line(&s.label, label_width, width, &s.app, theme)
    };
    let full: Vec<Line> = plan.full.iter().map(|&i| line(i, area.width)).collect();
    let full_rows = full.len() as u16;
    let below = |y: u16, height: u16| Rect {
        y: area.y + 1 + y,
        height,
        ..area
    };
    frame.render_widget(Paragraph::new(full), below(0, full_rows));
    let column_rows = plan.rows as u16 - full_rows;
    let column_width = area.width / header_columns(area.width) as u16;
    for (n, column) in plan.columns.iter().enumerate() {
        let x = area.x + n as u16 * column_width;
        let place = Rect {
            x,
            width: column_width.min(area.right().saturating_sub(x)),
            ..below(full_rows, column_rows)
        };
        let lines: Vec<Line> = column.iter().map(|&i| line(i, place.width)).collect();
        frame.render_widget(Paragraph::new(lines), place);
    }
    if !plan.hidden.is_empty() {
        let stale = plan
            .hidden
            .iter()
            .filter(|&&i| screen.sources[i].app.failure.is_some())
            .count();
        let text = format!(
            " … {} more sources ({stale} stale): Tab shows one at a time",
            plan.hidden.len()
        );
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.dim)),
            below(plan.rows as u16, 1),
        );
    }
}

/// `● billing   0.4s river rw  2q  ready 12  run 1  dead 3  !! 1 CRIT`, or the error.
fn source_line<'a>(
    label: &str,
    label_width: usize,
    width: u16,
    app: &App,
    theme: &Theme,
) -> Line<'a> {
    let label = text::truncate(&sanitize(label, 100), label_width).into_owned();
    let pad = " ".repeat(label_width.saturating_sub(text::width(&label)));
    let (mark, mark_style) = match (&app.failure, app.shown()) {
        (Some(_), _) => ("✗", theme.critical),
        (None, Some(_)) => ("●", theme.ok),
        (None, None) => ("…", theme.dim),
    };
    let mut spans = vec![
        Span::styled(format!(" {mark} "), mark_style),
        Span::styled(format!("{label}{pad} "), theme.header_key),
    ];
    // How fresh comes first: on a narrow screen the end of the line is what gets cut.
    if let Some(failure) = &app.failure {
        let age = match app.data_age() {
            Some(age) => format!(" STALE {} ", text::age(age)),
            None => " NO DATA ".to_string(),
        };
        spans.push(Span::styled(age, theme.alarm_banner));
        let first_line = failure.message.lines().next().unwrap_or_default();
        spans.push(Span::styled(
            format!(" {} ", sanitize(first_line, 300)),
            theme.critical,
        ));
        spans.push(Span::styled(
            format!(
                "({}× since {}) {}",
                failure.failures,
                failure.since.format("%H:%M:%S"),
                app.config.backend
            ),
            theme.dim,
        ));
        return Line::from(spans);
    }
    let Some(received) = app.shown() else {
        spans.push(Span::styled("connecting…", theme.dim));
        return Line::from(spans);
    };
    if let Some(age) = app.data_age() {
        spans.push(Span::styled(format!("{:>5} ", text::age(age)), theme.dim));
    }
    spans.push(Span::raw(format!("{} ", app.config.backend)));
    spans.push(if app.config.read_only {
        Span::styled("ro  ", theme.warn)
    } else {
        Span::styled("rw  ", theme.dim)
    });
    let queues = &received.snapshot.queues;
    let sum = |f: fn(&crate::backend::QueueStats) -> Count| queues.iter().map(f).sum::<Count>();
    let dead = sum(|q| q.dead);
    spans.push(Span::raw(format!(
        "{}q  ready {}  run {}  ",
        queues.len(),
        text::count(sum(|q| q.ready)),
        text::count(sum(|q| q.running)),
    )));
    spans.push(Span::styled(
        format!("dead {}  ", text::count(dead)),
        if dead.value > 0 {
            theme.warn
        } else {
            theme.text
        },
    ));
    // The alerts end the line, each whole or left out (never `! 1 WARN ?`), and clear of
    // its last cell: a gap before the next column's line.
    let mut used: usize = spans.iter().map(Span::width).sum();
    for span in super::header::alerts_spans(app, theme) {
        used += span.width();
        if used >= width as usize {
            break;
        }
        spans.push(span);
    }
    Line::from(spans)
}

fn queues_table(frame: &mut Frame, area: Rect, screen: &Sources, theme: &Theme) {
    let rows = screen.rows();
    let queue_count = rows
        .iter()
        .filter(|r| matches!(r, Row::Queue { .. }))
        .count();
    let mut title = format!(" Queues ({queue_count}) ");
    if let Some(only) = screen.only {
        title = format!(" Queues of {} ({queue_count}) ", screen.sources[only].label);
    }
    if !screen.filter.is_empty() {
        title = format!("{title}matching “{}” ", sanitize(&screen.filter, 40));
    }
    let block = pane_block(title, true, theme);
    let all = columns();
    let columns = Fitted::new(&all, area.width);
    let first_app = &screen.sources[0].app;
    let header = ratatui::widgets::Row::new(columns.columns().map(|(col, _)| match col {
        Col::Source => Cell::from("SOURCE"),
        Col::Queue(c) => queues::header_cell(c, first_app, theme),
    }))
    .style(theme.column_header);
    let shown = window(
        rows.len(),
        screen.selected_row().filter(|_| !screen.kiosk),
        area,
    );
    let table_rows = rows[shown.rows.clone()]
        .iter()
        .map(|&row| {
            let source = &screen.sources[row.source()];
            let app = &source.app;
            columns.row(|col, width| match (col, row) {
                (Col::Source, _) => source_cell(&source.label, width, app, theme),
                (Col::Queue(c), Row::Queue { queue, .. }) => {
                    let shown = app.shown().expect("a queue row has data");
                    let now = app.db_now().unwrap_or(shown.snapshot.db_now);
                    queues::cell(c, width, &shown.snapshot.queues[queue], now, app, theme)
                }
                (
                    Col::Queue(QueueCol::Sorted(crate::app::QueueColumn::Name)),
                    Row::NoData { .. },
                ) => no_data_cell(app, theme),
                (Col::Queue(_), Row::NoData { .. }) => Cell::from(""),
            })
        })
        .collect();
    SelectableTable::new(&columns, table_rows, theme)
        .clickable(crate::app::Table::Queues)
        .header(header)
        .pane(block, true, theme)
        .window(&shown)
        .empty(Line::styled("  no queue matches", theme.dim))
        .render(frame, area);
}

/// The source's label; a source whose polls fail says STALE on every one of its rows.
fn source_cell<'a>(label: &str, width: u16, app: &App, theme: &Theme) -> Cell<'a> {
    let label = sanitize(label, 100);
    if app.failure.is_some() {
        let tag = " STALE";
        let room = (width as usize).saturating_sub(tag.len());
        return Cell::from(Line::from(vec![
            Span::raw(text::truncate(&label, room).into_owned()),
            Span::styled(tag, theme.critical),
        ]));
    }
    Cell::from(text::truncate(&label, width as usize).into_owned()).style(theme.header_key)
}

fn no_data_cell<'a>(app: &App, theme: &Theme) -> Cell<'a> {
    match &app.failure {
        Some(f) => Cell::from(format!(
            "✗ {}",
            sanitize(f.message.lines().next().unwrap_or_default(), 300)
        ))
        .style(theme.critical),
        None => Cell::from("connecting…").style(theme.dim),
    }
}

/// Firing alerts of every source, critical first, each naming its source.
fn firing_lines<'a>(screen: &Sources, theme: &Theme) -> Vec<Line<'a>> {
    let mut firing: Vec<(&str, &crate::app::alerts::Alert)> = screen
        .sources
        .iter()
        .flat_map(|s| s.app.alerts.firing().map(move |a| (s.label.as_str(), a)))
        .collect();
    firing.sort_by_key(|(_, a)| std::cmp::Reverse(a.severity));
    firing
        .into_iter()
        .map(|(label, a)| alert_line(label, a, theme))
        .collect()
}

fn alert_line<'a>(label: &str, a: &crate::app::alerts::Alert, theme: &Theme) -> Line<'a> {
    let style = match (a.state, a.severity) {
        (AlertState::Firing, crate::app::alerts::Severity::Critical) => theme.critical,
        (AlertState::Firing, _) => theme.warn,
        _ => theme.dim,
    };
    Line::from(vec![
        Span::styled(
            format!(
                " {:<8} {:<8} ",
                a.state.as_str().to_uppercase(),
                a.severity.as_str()
            ),
            style,
        ),
        Span::styled(format!("{} ", sanitize(label, 40)), theme.header_key),
        Span::raw(format!(
            "› {}  {}  {} (limit {})",
            sanitize(&a.key.subject.label(), 80),
            a.key.rule.title(),
            a.value_text(),
            a.threshold_text()
        )),
    ])
}

/// `a`: every source's alerts (firing, pending, resolved lately), each naming its source.
fn alerts_pane(frame: &mut Frame, area: Rect, screen: &Sources, theme: &Theme) {
    let mut alerts: Vec<(&str, &crate::app::alerts::Alert)> = screen
        .sources
        .iter()
        .flat_map(|s| {
            s.app
                .alerts
                .display_order()
                .into_iter()
                .map(move |a| (s.label.as_str(), a))
        })
        .collect();
    // Firing before pending before resolved, critical first, across sources.
    alerts.sort_by_key(|(_, a)| {
        let state = match a.state {
            AlertState::Firing => 0,
            AlertState::Pending => 1,
            _ => 2,
        };
        (state, std::cmp::Reverse(a.severity))
    });
    let mut lines: Vec<Line> = alerts
        .into_iter()
        .map(|(label, a)| alert_line(label, a, theme))
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("  no alerts in any source", theme.dim));
    }
    let block = pane_block(
        " Alerts of every source — a/Esc close ".to_string(),
        true,
        theme,
    );
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

const HINTS: &str = "↑↓ select  ⏎ open  Tab source  / filter  < > sort  a alerts  H 1h/24h/7d  R retry  p pause  L audit  ? help  q quit";

fn footer(frame: &mut Frame, area: Rect, screen: &Sources, theme: &Theme) {
    let line = if let Some(input) = &screen.filter_input {
        Line::from(vec![
            Span::styled(" filter: ", theme.header_key),
            Span::raw(format!("{}▏", sanitize(input.as_str(), 200))),
            Span::styled("  ⏎ keep  Esc clear", theme.dim),
        ])
    } else if let Some(toast) = screen.visible_toast() {
        let (mark, style) = match toast.level {
            Level::Ok => ("✓", theme.ok),
            Level::Warn => ("!", theme.warn),
            Level::Error => ("✗", theme.critical),
            Level::Info => ("·", theme.text),
        };
        let line = format!(" {mark} {}", sanitize(&toast.text, 2_000));
        Line::styled(
            text::truncate(&line, area.width as usize).into_owned(),
            style,
        )
    } else if screen.kiosk {
        Line::styled(" q quit", theme.dim)
    } else {
        Line::styled(
            text::truncate(&format!(" {HINTS}"), area.width as usize).into_owned(),
            theme.dim,
        )
    };
    frame.render_widget(Paragraph::new(line), area);
}
