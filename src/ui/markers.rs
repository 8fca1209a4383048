//! The alert marker on a row: a symbol first, colour second (state never by colour alone).

use ratatui::widgets::Cell;

use super::theme::Theme;
use crate::app::alerts::{AlertState, Severity};

/// `!!` critical and firing, `! ` warning and firing, `? ` pending, blank otherwise.
pub fn symbol(worst: Option<(AlertState, Severity)>) -> &'static str {
    match worst {
        Some((AlertState::Firing, Severity::Critical)) => "!!",
        Some((AlertState::Firing, Severity::Warning)) => "! ",
        Some((AlertState::Pending, _)) => "? ",
        _ => "  ",
    }
}

pub fn style(worst: Option<(AlertState, Severity)>, theme: &Theme) -> ratatui::style::Style {
    match worst {
        Some((AlertState::Firing, Severity::Critical)) => theme.alarm_banner,
        Some((AlertState::Firing, Severity::Warning)) => theme.notice_banner,
        Some((AlertState::Pending, _)) => theme.warn,
        _ => theme.text,
    }
}

pub fn cell<'a>(worst: Option<(AlertState, Severity)>, theme: &Theme) -> Cell<'a> {
    Cell::from(symbol(worst)).style(style(worst, theme))
}
