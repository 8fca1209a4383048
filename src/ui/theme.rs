//! Styles. The default keeps to the terminal's 16 ANSI colours so it follows the user's
//! palette; high contrast is for a wall screen; monochrome (for `NO_COLOR`) has no colour at
//! all, only bold, underline and reverse. Every state also has a word or symbol, so nothing
//! is told by colour alone.

use ratatui::style::{Color, Modifier, Style};

use crate::app::ThemeName;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// Under everything: the screen's own background and text colour.
    pub base: Style,
    pub title: Style,
    pub text: Style,
    pub dim: Style,
    pub header_key: Style,
    pub ok: Style,
    pub warn: Style,
    pub critical: Style,
    /// Banners that must not be missed: STALE, FROZEN, PAUSED, critical alerts.
    pub alarm_banner: Style,
    /// Warnings that stand out: PAUSED, FROZEN, warning alerts.
    pub notice_banner: Style,
    /// Nothing is firing.
    pub ok_banner: Style,
    pub selected: Style,
    pub selected_unfocused: Style,
    pub column_header: Style,
    pub border: Style,
    pub border_focused: Style,
    pub spark: Style,
    /// The kiosk's title bar with its clock.
    pub title_bar: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            base: Style::new(),
            title: Style::new().add_modifier(Modifier::BOLD),
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            header_key: Style::new().fg(Color::Cyan),
            ok: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            critical: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            alarm_banner: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            notice_banner: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            ok_banner: Style::new()
                .fg(Color::Black)
                .bg(Color::Green)
                .add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            column_header: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            spark: Style::new().fg(Color::Green),
            title_bar: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }
}

impl Theme {
    pub fn named(name: ThemeName) -> Theme {
        match name {
            ThemeName::Default => Theme::default(),
            ThemeName::HighContrast => Theme::high_contrast(),
            ThemeName::Monochrome => Theme::monochrome(),
        }
    }

    /// White on black, bright colours, bold where it matters: legible across a room and
    /// on a cheap panel. No dark grey (it vanishes on black).
    pub fn high_contrast() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            base: Style::new().fg(Color::White).bg(Color::Black),
            title: Style::new().fg(Color::White).add_modifier(bold),
            text: Style::new().fg(Color::White),
            dim: Style::new().fg(Color::Gray),
            header_key: Style::new().fg(Color::LightCyan).add_modifier(bold),
            ok: Style::new().fg(Color::LightGreen).add_modifier(bold),
            warn: Style::new().fg(Color::LightYellow).add_modifier(bold),
            critical: Style::new().fg(Color::LightRed).add_modifier(bold),
            alarm_banner: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(bold),
            notice_banner: Style::new()
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(bold),
            ok_banner: Style::new()
                .fg(Color::Black)
                .bg(Color::LightGreen)
                .add_modifier(bold),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            column_header: Style::new()
                .fg(Color::White)
                .add_modifier(bold | Modifier::UNDERLINED),
            border: Style::new().fg(Color::Gray),
            border_focused: Style::new().fg(Color::LightCyan),
            spark: Style::new().fg(Color::LightGreen),
            title_bar: Style::new()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(bold),
        }
    }

    /// No colour codes at all: bold, underline and reverse, and the symbols the screen
    /// always carries.
    pub fn monochrome() -> Theme {
        let none = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let reversed = Style::new().add_modifier(Modifier::REVERSED);
        Theme {
            base: none,
            title: bold,
            text: none,
            dim: none,
            header_key: bold,
            ok: none,
            warn: bold,
            critical: bold.add_modifier(Modifier::UNDERLINED),
            alarm_banner: reversed.add_modifier(Modifier::BOLD),
            notice_banner: reversed,
            ok_banner: bold,
            selected: reversed,
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            column_header: bold.add_modifier(Modifier::UNDERLINED),
            border: none,
            border_focused: bold,
            spark: none,
            title_bar: reversed.add_modifier(Modifier::BOLD),
        }
    }
}
