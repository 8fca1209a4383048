//! The selectable table every list is drawn with: the columns that fit the width (the
//! most important first), a header, a row per item, the selection highlighted, and a line
//! on the first row when there is something to say instead (nothing to list, an error).

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::columns::{ColumnSpec, fit, fit_with_filler};
use super::theme::Theme;
use crate::app::Table as Clicked;
use crate::app::sort::{Narrow, Sortable};

/// A column a table may show. `C` names it, for the code that fills its cells.
#[derive(Debug, Clone, Copy)]
pub struct Column<C> {
    pub id: C,
    pub title: &'static str,
    pub spec: ColumnSpec,
    /// The title is right-aligned, over numbers.
    pub right: bool,
}

/// A column whose title is left-aligned.
pub const fn left<C>(id: C, title: &'static str, min: u16, max: u16, priority: u8) -> Column<C> {
    Column {
        id,
        title,
        spec: ColumnSpec { min, max, priority },
        right: false,
    }
}

/// A column whose title is right-aligned.
pub const fn right<C>(id: C, title: &'static str, min: u16, max: u16, priority: u8) -> Column<C> {
    Column {
        id,
        title,
        spec: ColumnSpec { min, max, priority },
        right: true,
    }
}

/// `columns` with each figure column made as wide as its widest value (`widest` gives it,
/// 0 where a column holds no figures): a number is never cut, its column gives way whole
/// on a narrow screen instead (`dead ~141` for `~1409` would be a wrong figure).
pub fn widened<C: Copy>(columns: &[Column<C>], widest: impl Fn(C) -> usize) -> Vec<Column<C>> {
    columns
        .iter()
        .map(|c| {
            let need = u16::try_from(widest(c.id)).unwrap_or(u16::MAX);
            let mut c = *c;
            c.spec.min = c.spec.min.max(need);
            c.spec.max = c.spec.max.max(c.spec.min);
            c
        })
        .collect()
}

/// The widest of some texts, in cells.
pub fn widest<S: AsRef<str>>(texts: impl IntoIterator<Item = S>) -> usize {
    texts
        .into_iter()
        .map(|t| super::text::width(t.as_ref()))
        .max()
        .unwrap_or(0)
}

/// The columns that fit, in their order, each with its width.
pub struct Fitted<C> {
    shown: Vec<(Column<C>, u16)>,
}

impl<C: Copy> Fitted<C> {
    /// The columns that fit in `width`; spare room goes to the most important.
    pub fn new(columns: &[Column<C>], width: u16) -> Fitted<C> {
        Fitted::of(columns, &fit(&specs(columns), width, 1))
    }

    /// Like `new`, but column `filler` takes what is left once the others have grown.
    pub fn with_filler(columns: &[Column<C>], width: u16, filler: usize) -> Fitted<C> {
        Fitted::of(columns, &fit_with_filler(&specs(columns), width, 1, filler))
    }

    fn of(columns: &[Column<C>], widths: &[u16]) -> Fitted<C> {
        let shown = columns
            .iter()
            .zip(widths)
            .filter(|(_, w)| **w > 0)
            .map(|(c, w)| (*c, *w))
            .collect();
        Fitted { shown }
    }

    /// The shown columns' ids and widths.
    pub fn columns(&self) -> impl Iterator<Item = (C, u16)> + '_ {
        self.shown.iter().map(|(c, w)| (c.id, *w))
    }

    /// The titles, aligned as their columns ask.
    pub fn header(&self) -> Row<'static> {
        Row::new(self.shown.iter().map(|(c, _)| match c.right {
            true => Cell::from(Line::from(c.title).right_aligned()),
            false => Cell::from(c.title),
        }))
    }

    /// A row: `cell` fills each shown column, given its id and width.
    pub fn row<'a>(&self, mut cell: impl FnMut(C, u16) -> Cell<'a>) -> Row<'a> {
        Row::new(self.shown.iter().map(|(c, w)| cell(c.id, *w)))
    }

    fn widths(&self) -> Vec<Constraint> {
        self.shown
            .iter()
            .map(|(_, w)| Constraint::Length(*w))
            .collect()
    }
}

/// The part of a long list a pane shows: the rows to build and the selection among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub rows: Range<usize>,
    pub selected: Option<usize>,
}

/// The rows of a `len`-row table that a pane (`pane_block`'s top border, a header line)
/// drawn in `area` shows, the selection in view where ratatui's table scrolls it when drawn
/// from the top (one-line rows, no offset kept): a table of ten thousand rows builds the
/// few dozen on screen, not all of them.
pub fn window(len: usize, selected: Option<usize>, area: Rect) -> Window {
    let body = usize::from(area.height.saturating_sub(2));
    let Some(last) = len.checked_sub(1) else {
        return Window {
            rows: 0..0,
            selected: None,
        };
    };
    let start = match selected.map(|s| s.min(last)) {
        Some(s) if s >= body => s + 1 - body,
        _ => 0,
    };
    Window {
        rows: start..len.min(start + body),
        selected: selected.map(|s| s.min(last) - start),
    }
}

/// A pane's frame: a top border and its title, brighter while it has the focus.
pub fn pane_block(title: String, focused: bool, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::TOP)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(title, theme.title))
}

/// What a view's title says about its `/` filter and `<` `>` sort, while set.
pub fn narrow_note<R: Sortable>(narrow: &Narrow, theme: &Theme) -> Option<Span<'static>> {
    let text = narrow.describe::<R>()?;
    Some(Span::styled(
        format!("  [{}]", super::text::sanitize(&text, 80)),
        theme.warn,
    ))
}

fn specs<C>(columns: &[Column<C>]) -> Vec<ColumnSpec> {
    columns.iter().map(|c| c.spec).collect()
}

/// The table, ready to draw.
pub struct SelectableTable<'a> {
    widths: Vec<Constraint>,
    header: Row<'a>,
    rows: Vec<Row<'a>>,
    selected: Option<usize>,
    highlight: Style,
    block: Option<Block<'a>>,
    message: Option<Line<'a>>,
    /// Which table a click on a row selects in.
    clickable: Option<Clicked>,
    /// The table's row the first of `rows` is (a `window` of a longer table).
    first: usize,
}

impl<'a> SelectableTable<'a> {
    pub fn new<C: Copy>(columns: &Fitted<C>, rows: Vec<Row<'a>>, theme: &Theme) -> Self {
        SelectableTable {
            widths: columns.widths(),
            header: columns.header().style(theme.column_header),
            rows,
            selected: None,
            highlight: theme.selected,
            block: None,
            message: None,
            clickable: None,
            first: 0,
        }
    }

    /// A header of its own (the queues table marks the sorted column).
    pub fn header(mut self, header: Row<'a>) -> Self {
        self.header = header;
        self
    }

    pub fn selected(mut self, row: Option<usize>) -> Self {
        self.selected = row;
        self
    }

    /// Drawn in a pane's frame; a pane without the focus shows its selection dimmer.
    pub fn pane(mut self, block: Block<'a>, focused: bool, theme: &Theme) -> Self {
        self.block = Some(block);
        if !focused {
            self.highlight = theme.selected_unfocused;
        }
        self
    }

    /// Rows selected by a click (`ui::hits`), in `table`.
    pub fn clickable(mut self, table: Clicked) -> Self {
        self.clickable = Some(table);
        self
    }

    /// The rows are a `window` of a longer table: its selection, and where the rows start,
    /// so a click names the table's row and not the window's.
    pub fn window(mut self, shown: &Window) -> Self {
        self.selected = shown.selected;
        self.first = shown.rows.start;
        self
    }

    /// A line drawn on the first row, when there is one below the header.
    pub fn message(mut self, line: Option<Line<'a>>) -> Self {
        self.message = line;
        self
    }

    /// A line drawn on the first row when there are no rows.
    pub fn empty(self, line: Line<'a>) -> Self {
        let empty = self.rows.is_empty();
        self.message(empty.then_some(line))
    }

    pub fn render(self, frame: &mut Frame, area: Rect) {
        let inner = self.block.as_ref().map_or(area, |b| b.inner(area));
        let count = self.rows.len();
        let mut table = Table::new(self.rows, self.widths)
            .header(self.header)
            .column_spacing(1)
            .row_highlight_style(self.highlight);
        if let Some(block) = self.block {
            table = table.block(block);
        }
        let mut state = TableState::default().with_selected(self.selected);
        frame.render_stateful_widget(table, area, &mut state);
        if let Some(clicked) = self.clickable {
            // Under the header line.
            let rows = Rect {
                y: inner.y.saturating_add(1),
                height: inner.height.saturating_sub(1),
                ..inner
            };
            super::hits::rows(
                rows,
                clicked,
                self.first + state.offset(),
                self.first + count,
            );
        }
        if let Some(line) = self.message
            && inner.height >= 2
        {
            let first_row = Rect {
                y: inner.y + 1,
                height: 1,
                ..inner
            };
            frame.render_widget(line, first_row);
        }
    }
}
