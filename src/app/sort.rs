//! Ordering of the queues table.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::backend::{Count, QueueStats};

/// The sortable columns of the queues table, in the order `<`/`>` walk them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueColumn {
    Name,
    Ready,
    Scheduled,
    Running,
    Retrying,
    Dead,
    OldestReady,
    SucceededPerMin,
    FailedPerMin,
    FailureRate,
}

impl QueueColumn {
    pub const ALL: [QueueColumn; 10] = [
        QueueColumn::Name,
        QueueColumn::Ready,
        QueueColumn::Scheduled,
        QueueColumn::Running,
        QueueColumn::Retrying,
        QueueColumn::Dead,
        QueueColumn::OldestReady,
        QueueColumn::SucceededPerMin,
        QueueColumn::FailedPerMin,
        QueueColumn::FailureRate,
    ];

    pub fn title(self) -> &'static str {
        match self {
            QueueColumn::Name => "QUEUE",
            QueueColumn::Ready => "READY",
            QueueColumn::Scheduled => "SCHED",
            QueueColumn::Running => "RUN",
            QueueColumn::Retrying => "RETRY",
            QueueColumn::Dead => "DEAD",
            QueueColumn::OldestReady => "OLDEST",
            QueueColumn::SucceededPerMin => "OK/m",
            QueueColumn::FailedPerMin => "FAIL/m",
            QueueColumn::FailureRate => "FAIL%",
        }
    }

    fn step(self, by: isize) -> QueueColumn {
        let len = Self::ALL.len() as isize;
        let at = Self::ALL.iter().position(|c| *c == self).unwrap_or(0) as isize;
        Self::ALL[(at + by).rem_euclid(len) as usize]
    }

    pub fn next(self) -> QueueColumn {
        self.step(1)
    }

    pub fn prev(self) -> QueueColumn {
        self.step(-1)
    }

    /// Numbers read best largest first; names alphabetically.
    pub fn natural_descending(self) -> bool {
        self != QueueColumn::Name
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSort {
    pub column: QueueColumn,
    pub descending: bool,
}

impl Default for QueueSort {
    fn default() -> Self {
        QueueSort {
            column: QueueColumn::Name,
            descending: false,
        }
    }
}

/// The minutes that "per minute" figures average over.
pub const RATE_WINDOW_MINUTES: usize = 5;

fn count_key(c: Count) -> (i64, bool) {
    (c.value, c.capped)
}

fn compare(a: &QueueStats, b: &QueueStats, column: QueueColumn, now: DateTime<Utc>) -> Ordering {
    let f64_cmp = |x: f64, y: f64| x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    match column {
        QueueColumn::Name => a.name.cmp(&b.name),
        QueueColumn::Ready => count_key(a.ready).cmp(&count_key(b.ready)),
        QueueColumn::Scheduled => count_key(a.scheduled).cmp(&count_key(b.scheduled)),
        QueueColumn::Running => count_key(a.running).cmp(&count_key(b.running)),
        QueueColumn::Retrying => count_key(a.retrying).cmp(&count_key(b.retrying)),
        QueueColumn::Dead => count_key(a.dead).cmp(&count_key(b.dead)),
        QueueColumn::OldestReady => a.oldest_ready_age(now).cmp(&b.oldest_ready_age(now)),
        QueueColumn::SucceededPerMin => f64_cmp(
            a.per_minute(RATE_WINDOW_MINUTES).0,
            b.per_minute(RATE_WINDOW_MINUTES).0,
        ),
        QueueColumn::FailedPerMin => f64_cmp(
            a.per_minute(RATE_WINDOW_MINUTES).1,
            b.per_minute(RATE_WINDOW_MINUTES).1,
        ),
        QueueColumn::FailureRate => f64_cmp(
            a.failure_rate().unwrap_or(-1.0),
            b.failure_rate().unwrap_or(-1.0),
        ),
    }
}

/// Two queues of different sources, each aged by its own database's clock; ties by name.
pub fn compare_across(
    a: (&QueueStats, DateTime<Utc>),
    b: (&QueueStats, DateTime<Utc>),
    sort: QueueSort,
) -> Ordering {
    let primary = match sort.column {
        QueueColumn::OldestReady => a.0.oldest_ready_age(a.1).cmp(&b.0.oldest_ready_age(b.1)),
        column => compare(a.0, b.0, column, a.1),
    };
    let primary = if sort.descending {
        primary.reverse()
    } else {
        primary
    };
    primary.then_with(|| a.0.name.cmp(&b.0.name))
}

/// Indices of `queues` in display order; ties fall back to the name so rows never jump.
pub fn sorted_indices(queues: &[QueueStats], sort: QueueSort, now: DateTime<Utc>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..queues.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&queues[i], &queues[j]);
        let primary = compare(a, b, sort.column, now);
        let primary = if sort.descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then_with(|| a.name.cmp(&b.name))
    });
    order
}

/// What a table's rows are sorted by: a cell's number or text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortValue {
    /// Missing values (a dash on screen) sort below every number.
    Num(Option<f64>),
    Text(String),
}

/// A row of a drill-down table: the columns `<`/`>` walk, the value of each, and the text
/// `/` looks in. One implementation per kind of row; the ordering code is shared.
pub trait Sortable {
    /// The sortable columns, as their headers read.
    const COLUMNS: &'static [&'static str];
    fn sort_value(&self, column: usize, now: DateTime<Utc>) -> SortValue;
    /// The text the table's `/` filter matches, words anywhere in it.
    fn filter_text(&self) -> String;
}

/// A table's sort: `None` keeps the order the data came in (worst first, newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSort {
    pub column: Option<usize>,
    pub descending: bool,
}

impl TableSort {
    /// `<`/`>`: the previous or next column, through "as it came" between the last and the
    /// first; a name sorts A to Z, a number largest first.
    pub fn step<R: Sortable>(self, by: isize) -> TableSort {
        let stops = R::COLUMNS.len() as isize + 1;
        let at = self.column.map_or(0, |c| c as isize + 1);
        let column = match (at + by).rem_euclid(stops) {
            0 => None,
            n => Some(n as usize - 1),
        };
        TableSort {
            column,
            descending: column.is_some_and(|c| c > 0),
        }
    }

    /// The column's header and the direction, for a view's title: `FAIL% ↓`.
    pub fn describe<R: Sortable>(self) -> Option<String> {
        let title = R::COLUMNS.get(self.column?)?;
        Some(format!(
            "{title} {}",
            if self.descending { "↓" } else { "↑" }
        ))
    }
}

/// A table's `/` filter and sort, as the user set them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Narrow {
    /// Words that must all appear (any case) in a row's `filter_text`.
    pub filter: Option<String>,
    pub sort: TableSort,
}

impl Narrow {
    /// Indices of `rows` in display order: those the filter keeps, sorted; ties (and no
    /// sort) keep the data's order, so rows never jump.
    pub fn order<R: Sortable>(&self, rows: &[R], now: DateTime<Utc>) -> Vec<usize> {
        let mut order: Vec<usize> = (0..rows.len())
            .filter(|&i| {
                self.filter
                    .as_deref()
                    .is_none_or(|f| super::filter::matches_words(&rows[i].filter_text(), f))
            })
            .collect();
        if let Some(column) = self.sort.column {
            let key = |i: usize| rows[i].sort_value(column, now);
            order.sort_by(|&a, &b| {
                let o = key(a).partial_cmp(&key(b)).unwrap_or(Ordering::Equal);
                if self.sort.descending { o.reverse() } else { o }
            });
        }
        order
    }

    /// What the view's title says about it: `filter "acme" · sorted by FAIL% ↓`.
    pub fn describe<R: Sortable>(&self) -> Option<String> {
        let filter = self.filter.as_ref().map(|f| format!("/{f}"));
        let sort = self.sort.describe::<R>().map(|s| format!("sorted by {s}"));
        let parts: Vec<String> = [filter, sort].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}
