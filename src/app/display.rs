//! How the screen looks: which theme (chosen once at start-up from the config file, `--kiosk`
//! and `NO_COLOR`, then carried in `App` for `ui::draw`), and sizes in words.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThemeName {
    /// The terminal's 16 ANSI colours, so it follows the user's palette.
    #[default]
    Default,
    /// Bright on black, bold, for a wall screen read from across a room.
    HighContrast,
    /// No colour at all: bold, reverse and symbols only.
    Monochrome,
}

impl ThemeName {
    /// `NO_COLOR` (set and not empty, per no-color.org) wins over everything; `--kiosk`
    /// turns the default into high contrast; otherwise the configured theme.
    pub fn choose(configured: Option<ThemeName>, kiosk: bool, no_color: Option<&str>) -> ThemeName {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ThemeName::Monochrome;
        }
        match configured {
            Some(name) => name,
            None if kiosk => ThemeName::HighContrast,
            None => ThemeName::Default,
        }
    }
}

/// `512 B`, `3.4 KB`, `1.2 MB`.
pub fn human_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1024.0 {
        format!("{n:.0} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KB", n / 1024.0)
    } else {
        format!("{:.1} MB", n / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_then_configured_then_kiosk() {
        use ThemeName::*;
        assert_eq!(
            ThemeName::choose(Some(HighContrast), true, Some("1")),
            Monochrome
        );
        assert_eq!(ThemeName::choose(None, false, Some("")), Default);
        assert_eq!(ThemeName::choose(None, true, None), HighContrast);
        assert_eq!(ThemeName::choose(Some(Default), true, None), Default);
        assert_eq!(ThemeName::choose(Some(Monochrome), false, None), Monochrome);
    }
}
