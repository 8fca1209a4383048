//! The screen while a drill-down view is open: header, breadcrumb, the view, and a footer
//! with the keys that view answers to (or the `/` prompt).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{
    breadcrumb, dead_letters, header, job, jobs, kinds, prompt, tenants, text, workers_view,
};
use crate::app::focus::Focus;
use crate::app::{App, View};
use crate::backend::drill::JobScope;

fn areas(area: Rect, app: &App) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(prompt::height(app, area.width)),
    ])
    .areas(area)
}

/// Where the view itself is drawn (overlays such as the audit pane cover it).
pub fn body_area(area: Rect, app: &App) -> Rect {
    areas(area, app)[2]
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(view) = app.top_view() else {
        return;
    };
    let [header_area, crumb_area, body, footer_area] = areas(area, app);
    header::draw(frame, header_area, app, theme);
    breadcrumb::draw(frame, crumb_area, app, theme);
    match view {
        View::Jobs(v) => jobs::draw(frame, body, app, v, theme),
        View::Job(v) => job::draw(frame, body, app, v, theme),
        View::DeadLetters(v) => dead_letters::draw(frame, body, app, v, theme),
        View::Workers(v) => workers_view::draw(frame, body, app, v, theme),
        View::Kinds(v) => kinds::draw(frame, body, app, v, theme),
        View::Tenants(v) => tenants::draw(frame, body, app, v, theme),
    }
    if app.is_open(Focus::Prompt) {
        prompt::draw(frame, footer_area, app, theme);
    } else if app.visible_toast().is_some() {
        // An action's result outranks the key hints.
        super::footer::draw(frame, footer_area, app, theme);
    } else {
        footer(frame, footer_area, view, app.config.read_only, theme);
    }
}

/// The keys of the view on top, most useful first, as many as fit.
fn footer(frame: &mut Frame, area: Rect, view: &View, read_only: bool, theme: &Theme) {
    let mut keys: Vec<(&str, &str)> = view_keys(view).to_vec();
    if !read_only && matches!(view, View::Jobs(_) | View::Job(_)) {
        // Action keys come right after the way back: they are what a list is opened for.
        let at = keys.len().min(2);
        let acts: &[(&str, &str)] = match view {
            View::Jobs(_) => &[
                ("v", "mark"),
                ("V", "all"),
                ("R c D X", "retry cancel discard delete"),
            ],
            _ => &[("R c D X", "retry cancel discard delete")],
        };
        for (i, k) in acts.iter().enumerate() {
            keys.insert(at + i, *k);
        }
    }
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (key, label) in keys {
        let cost = text::width(key) + text::width(label) + 3;
        if used + cost > area.width as usize {
            break;
        }
        used += cost;
        spans.push(Span::styled(key, theme.header_key));
        spans.push(Span::raw(format!(" {label}  ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.dim), area);
}

/// The keys of each view, most useful first.
fn view_keys(view: &View) -> &'static [(&'static str, &'static str)] {
    match view {
        View::Jobs(v) => match v.scope {
            JobScope::Queue { .. } => &[
                ("Esc", "back"),
                ("Enter", "job"),
                ("Tab ←→", "state"),
                ("/", "filter"),
                ("PgDn PgUp", "page"),
                ("o", "order"),
                ("y", "copy id"),
                ("?", "help"),
            ],
            _ => &[
                ("Esc", "back"),
                ("Enter", "job"),
                ("/", "filter"),
                ("PgDn PgUp", "page"),
                ("o", "order"),
                ("y", "copy id"),
                ("?", "help"),
            ],
        },
        View::Job(_) => &[
            ("Esc", "back"),
            ("Tab", "errors/payload"),
            ("↑↓ PgUp PgDn", "scroll"),
            ("←→", "sideways"),
            ("y", "copy id"),
            ("?", "help"),
        ],
        View::DeadLetters(_) => &[
            ("Esc", "back"),
            ("Enter", "jobs"),
            ("Tab ←→", "1h/24h/7d"),
            ("?", "help"),
        ],
        View::Workers(_) => &[("Esc", "back"), ("Enter", "jobs held"), ("?", "help")],
        View::Kinds(_) => &[
            ("Esc", "back"),
            ("Enter", "dead letters"),
            ("Tab ←→", "1h/1d"),
            ("?", "help"),
        ],
        View::Tenants(_) => &[("Esc", "back"), ("r", "refresh"), ("?", "help")],
    }
}
