//! The status of a view's data, on its title line: the last failure, or "loading…".
//! Shared by the drill-down views (kept apart from `drill`, which draws them).

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::text;
use super::theme::Theme;
use crate::app::views::LoadState;

/// Where a view's table goes, before its first data.
pub fn first_load(frame: &mut Frame, area: Rect, theme: &Theme) {
    let first_line = Rect { height: 1, ..area };
    frame.render_widget(Line::styled("  loading…", theme.dim), first_line);
}

/// A refresh quicker than this is not worth a "loading…" flickering every second.
const SHOW_LOADING_AFTER_MS: i64 = 300;

/// The status of a view's data: the last error (while the last good rows stay), then
/// "loading…" for a first load or a slow one.
pub fn load_status<'a>(load: &LoadState, now: DateTime<Utc>, theme: &Theme) -> Vec<Span<'a>> {
    failure(load, theme)
        .into_iter()
        .chain(loading(load, now, theme))
        .collect()
}

pub fn failure<'a>(load: &LoadState, theme: &Theme) -> Option<Span<'a>> {
    let err = load.error.as_ref()?;
    let message = if err.contains("statement timeout") {
        "failed: took longer than the statement timeout (narrow it, or r to try again)".to_string()
    } else {
        let first = err.lines().next().unwrap_or_default();
        format!("failed: {}", text::sanitize(first, 300))
    };
    Some(Span::styled(format!(" {message} "), theme.critical))
}

pub fn loading<'a>(load: &LoadState, now: DateTime<Utc>, theme: &Theme) -> Option<Span<'a>> {
    let slow = load
        .pending_since
        .is_some_and(|at| (now - at).num_milliseconds() >= SHOW_LOADING_AFTER_MS);
    (load.is_loading() && (load.loaded_at.is_none() || slow))
        .then(|| Span::styled(" loading…", theme.dim))
}
