//! Styles. The default keeps to the terminal's 16 ANSI colours so it follows the user's
//! palette; every state also has a word or symbol, never colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub title: Style,
    pub text: Style,
    pub dim: Style,
    pub header_key: Style,
    pub ok: Style,
    pub warn: Style,
    pub critical: Style,
    /// Banners that must not be missed: STALE, FROZEN, PAUSED.
    pub alarm_banner: Style,
    pub notice_banner: Style,
    pub selected: Style,
    pub selected_unfocused: Style,
    pub column_header: Style,
    pub border: Style,
    pub border_focused: Style,
    pub spark: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
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
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            column_header: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            spark: Style::new().fg(Color::Green),
        }
    }
}
