//! Where a click lands: the tables and tabs a frame drew, so that the terminal can turn a
//! mouse position into `Msg::Mouse`. Drawing stays a function of `&App`; while
//! `draw_with_hits` runs, the tables and tab lines also note where they went (a table knows
//! its rows' place and how far it scrolled to show its selection), and it hands the notes
//! back with the frame.

use std::cell::RefCell;

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::Line;

use crate::app::sources::Sources;
use crate::app::{App, Mouse, Table};

thread_local! {
    /// The notes of the frame being drawn by `draw_with_hits`; `None` otherwise.
    static NOTES: RefCell<Option<Vec<Hit>>> = const { RefCell::new(None) };
}

#[derive(Debug, Clone, PartialEq)]
enum Hit {
    /// Rows `first..first + area.height` of `table`, of `count` in all.
    Rows {
        area: Rect,
        table: Table,
        first: usize,
        count: usize,
    },
    Tab {
        area: Rect,
        index: usize,
    },
}

/// The clickable places of one frame, later ones drawn over earlier ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits(Vec<Hit>);

impl Hits {
    /// What a click at column `x`, row `y` lands on.
    pub fn at(&self, x: u16, y: u16) -> Option<Mouse> {
        let at = Position { x, y };
        self.0.iter().rev().find_map(|hit| match hit {
            Hit::Rows {
                area,
                table,
                first,
                count,
            } if area.contains(at) => {
                let row = first + (y - area.y) as usize;
                (row < *count).then_some(Mouse::Row { table: *table, row })
            }
            Hit::Tab { area, index } if area.contains(at) => Some(Mouse::Tab(*index)),
            _ => None,
        })
    }
}

/// Draws the frame and says where its tables and tabs are.
pub fn draw_with_hits(frame: &mut Frame, app: &App) -> Hits {
    noting(|| super::draw(frame, app))
}

/// The screen of several sources, drawn, and where its tables and tabs are: the merged
/// queues, the workers of the selected queue's source, or a source's own view over them.
pub fn draw_sources_with_hits(frame: &mut Frame, screen: &Sources) -> Hits {
    noting(|| super::sources::draw(frame, screen))
}

fn noting(draw: impl FnOnce()) -> Hits {
    NOTES.with(|n| *n.borrow_mut() = Some(Vec::new()));
    draw();
    Hits(NOTES.with(|n| n.borrow_mut().take()).unwrap_or_default())
}

fn note(hit: Hit) {
    NOTES.with(|n| {
        if let Some(notes) = n.borrow_mut().as_mut() {
            notes.push(hit);
        }
    });
}

/// A table's rows: `area` holds rows `first..` of `count`.
pub(super) fn rows(area: Rect, table: Table, first: usize, count: usize) {
    note(Hit::Rows {
        area,
        table,
        first,
        count,
    });
}

/// The tabs of a line drawn at `area`: `tabs` gives, for a span's index, the tab it is.
pub(super) fn tabs(area: Rect, line: &Line, tabs: impl Fn(usize) -> Option<usize>) {
    let mut x = area.x;
    for (i, span) in line.spans.iter().enumerate() {
        let width = span.width() as u16;
        if let Some(index) = tabs(i) {
            let area = Rect {
                x,
                width,
                height: 1,
                ..area
            }
            .intersection(area);
            note(Hit::Tab { area, index });
        }
        x = x.saturating_add(width);
    }
}
