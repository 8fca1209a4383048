//! The alert marker on a row: a symbol first, colour second (state never by colour alone).

use ratatui::widgets::Cell;

use super::theme::Theme;
use ratatui::style::Style;

use crate::app::alerts::rules::Resolved;
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

pub fn style(worst: Option<(AlertState, Severity)>, theme: &Theme) -> Style {
    match worst {
        Some((AlertState::Firing, Severity::Critical)) => theme.alarm_banner,
        Some((AlertState::Firing, Severity::Warning)) => theme.notice_banner,
        Some((AlertState::Pending, _)) => theme.warn,
        _ => theme.text,
    }
}

/// A failure rate's colour from the alert rule that watches it: plain at or under its
/// threshold, the rule's severity above it, so yellow means what the alert means (not
/// "anything above zero"). Without a rule, plain.
pub fn rate_style(rate: Option<f64>, rule: Option<Resolved>, theme: &Theme) -> Style {
    match (rate, rule) {
        (Some(rate), Some(rule)) if rate > rule.threshold => match rule.severity {
            Severity::Critical => theme.critical,
            Severity::Warning => theme.warn,
        },
        _ => theme.text,
    }
}

pub fn cell<'a>(worst: Option<(AlertState, Severity)>, theme: &Theme) -> Cell<'a> {
    Cell::from(symbol(worst)).style(style(worst, theme))
}
