//! Per job kind over the last hour or day, worst failure rate first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use super::load::{failure, first_load, loading};
use super::table::{Column, Fitted, SelectableTable, left, narrow_note, right, widened, widest};
use super::text::{self, sanitize};
use super::theme::Theme;
use super::when;
use crate::app::App;
use crate::app::views::KindsView;
use crate::backend::drill::{HistoryWindow, KindStats};

#[derive(Clone, Copy)]
enum KindCol {
    Kind,
    Ok,
    Failed,
    Dead,
    FailureRate,
    RunP50,
    RunP95,
    WaitP50,
}

#[rustfmt::skip]
const COLUMNS: [Column<KindCol>; 8] = [
    left(KindCol::Kind,         "KIND",     12, 40, 0),
    right(KindCol::Ok,          "OK",       7, 7, 1),
    right(KindCol::Failed,      "FAILED",   7, 7, 1),
    right(KindCol::Dead,        "DEAD",     6, 6, 1),
    right(KindCol::FailureRate, "FAIL%",    6, 6, 0),
    right(KindCol::RunP50,      "RUN p50",  7, 8, 2),
    right(KindCol::RunP95,      "RUN p95",  7, 8, 3),
    right(KindCol::WaitP50,     "WAIT p50", 8, 8, 2),
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &KindsView, theme: &Theme) {
    let [title_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut title = vec![Span::raw(" ")];
    title.extend(failure(&view.load, theme));
    let first_tab = title.len();
    for w in HistoryWindow::ALL {
        let style = if w == view.window {
            theme.selected
        } else {
            theme.dim
        };
        title.push(Span::styled(format!(" {} ", w.label()), style));
    }
    // Where the schema keeps no time per failed attempt, only jobs that failed for good
    // can be counted in a window.
    title.push(Span::styled(
        if app.config.capabilities.failed_attempts.yes() {
            "  worst first · failed = attempts · run = succeeded · wait = due → start"
        } else {
            "  worst first · failed = jobs that failed for good · run = succeeded · wait = due → start"
        },
        theme.dim,
    ));
    if let Some(report) = &view.report
        && let Some(since) = report.covered_since
    {
        let since = when::relative(Some(since), report.db_now);
        // Past the hour the counts may come from the hourly history, whole; the times
        // and the dead still come from the newest jobs read.
        let (text, style) = if report.counted_by_hour {
            (
                format!(
                    " · counts: all {}; times and dead: newest since {since}",
                    view.window.label()
                ),
                theme.dim,
            )
        } else {
            (
                format!(" · busy: newest jobs only, since {since}"),
                theme.warn,
            )
        };
        title.push(Span::styled(text, style));
    }
    title.extend(narrow_note::<KindStats>(&view.narrow, theme));
    title.extend(loading(&view.load, app.now, theme));
    let title = Line::from(title);
    let tabs = first_tab..first_tab + HistoryWindow::ALL.len();
    super::hits::tabs(title_area, &title, |i| {
        tabs.contains(&i).then(|| i - first_tab)
    });
    frame.render_widget(Paragraph::new(title), title_area);

    let Some(report) = &view.report else {
        return first_load(frame, table_area, theme);
    };
    let figures = widened(&COLUMNS, |col| {
        let figure: fn(&crate::backend::drill::KindStats) -> i64 = match col {
            KindCol::Ok => |k| k.succeeded,
            KindCol::Failed => |k| k.failed_attempts,
            KindCol::Dead => |k| k.dead,
            _ => return 0,
        };
        widest(report.kinds.iter().map(|k| text::human_number(figure(k))))
    });
    let columns = Fitted::new(&figures, table_area.width);
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let rows: Vec<Row> = view
        .shown()
        .into_iter()
        .map(|k| {
            let rate = k
                .failure_rate()
                .filter(|_| app.config.capabilities.failures.yes());
            // The view spans every queue: the kind's own override applies, no queue's.
            let rule = app.rules.kind_failure_rate("", &k.kind);
            let rate_style = super::markers::rate_style(rate, rule, theme);
            columns.row(|col, width| match col {
                KindCol::Kind => {
                    Cell::from(text::truncate(&sanitize(&k.kind, 300), width as usize).into_owned())
                }
                KindCol::Ok => right(text::human_number(k.succeeded)),
                KindCol::Failed => right(text::human_number(k.failed_attempts)),
                KindCol::Dead => right(text::human_number(k.dead)).style(if k.dead > 0 {
                    theme.warn
                } else {
                    theme.text
                }),
                KindCol::FailureRate => right(text::percent(rate)).style(rate_style),
                KindCol::RunP50 => right(when::secs(k.run_p50)),
                KindCol::RunP95 => right(when::secs(k.run_p95)),
                KindCol::WaitP50 => right(when::secs(k.wait_p50)),
            })
        })
        .collect();
    let empty = format!(
        "  no job finished or failed in the last {}",
        view.window.label()
    );
    SelectableTable::new(&columns, rows, theme)
        .clickable(crate::app::Table::View)
        .selected(view.selected_index())
        .empty(Line::styled(empty, theme.dim))
        .render(frame, table_area);
}
