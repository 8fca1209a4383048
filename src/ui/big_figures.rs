//! Figures drawn large for the wall screen, readable across a room: each a number in
//! block glyphs (`tui-big-text`, half-height pixels: eight columns and four rows a glyph) over a caption.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use tui_big_text::{BigText, PixelSize};

/// Rows the strip takes: the glyphs and their caption.
pub const HEIGHT: u16 = 5;

/// Columns one glyph takes at the size drawn.
const GLYPH_WIDTH: usize = 8;

pub struct BigFigure {
    /// Short: digits, `k`, `+`, `~` (each glyph is eight columns wide).
    pub value: String,
    pub caption: String,
    pub style: Style,
}

/// The figures side by side in `area` (`HEIGHT` rows), each in an equal share of the
/// width; a figure whose glyphs do not fit its share is drawn at normal size instead.
pub fn draw(frame: &mut Frame, area: Rect, figures: &[BigFigure]) {
    if figures.is_empty() {
        return;
    }
    let cells = Layout::horizontal(vec![Constraint::Fill(1); figures.len()]).split(area);
    for (figure, &cell) in figures.iter().zip(cells.iter()) {
        let [glyphs, caption] =
            Layout::vertical([Constraint::Length(HEIGHT - 1), Constraint::Length(1)]).areas(cell);
        let wide = figure.value.chars().count() * GLYPH_WIDTH + 1;
        if usize::from(glyphs.width) >= wide {
            let big = BigText::builder()
                .pixel_size(PixelSize::HalfHeight)
                .style(figure.style)
                .lines(vec![Line::from(figure.value.clone())])
                .build();
            frame.render_widget(
                big,
                Rect {
                    x: glyphs.x + 1,
                    width: glyphs.width - 1,
                    ..glyphs
                },
            );
        } else {
            frame.render_widget(
                Paragraph::new(format!(" {}", figure.value)).style(figure.style),
                glyphs,
            );
        }
        frame.render_widget(
            Paragraph::new(format!(" {}", figure.caption)).style(figure.style),
            caption,
        );
    }
}
