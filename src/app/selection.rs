//! Which row of a list is selected: one type for every list and table on screen.

use std::ops::Deref;

/// The selected row of a list, clamped to it. Lists whose rows have a name (a queue, a
/// job id, an error signature) keep the name as the key, so the selection follows its row
/// across refreshes and re-sorts; `row` is where it was last, where it lands when its row
/// leaves. Lists without names worth following (tenants, audit entries, alerts) use the
/// row numbers as keys.
///
/// No scroll offset is kept: drawing is a function of the state, and a table scrolls to
/// show its selection each time it is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSelection<K> {
    key: Option<K>,
    row: usize,
}

impl<K> Default for ListSelection<K> {
    fn default() -> Self {
        ListSelection { key: None, row: 0 }
    }
}

/// Where a selection whose row left the list lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// On the first row.
    First,
    /// On the row where it was, or the last one if the list got shorter.
    SameRow,
}

/// A list's keys by row, read where they are: a table of ten thousand queues is stepped
/// through without copying ten thousand names into a list of keys first.
pub trait Keys<K> {
    fn len(&self) -> usize;
    fn key(&self, row: usize) -> &K;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Any slice, vector or array of keys.
impl<K, T: AsRef<[K]> + ?Sized> Keys<K> for T {
    fn len(&self) -> usize {
        self.as_ref().len()
    }

    fn key(&self, row: usize) -> &K {
        &self.as_ref()[row]
    }
}

impl<K: PartialEq + Clone> ListSelection<K> {
    /// The row of the selection in `keys`, while its key is there.
    pub fn index(&self, keys: &(impl Keys<K> + ?Sized)) -> Option<usize> {
        let key = self.key.as_ref()?;
        (0..keys.len()).position(|row| keys.key(row) == key)
    }

    /// Selects row `i` (clamped); nothing on an empty list.
    pub fn select(&mut self, keys: &(impl Keys<K> + ?Sized), i: usize) {
        if let Some(last) = keys.len().checked_sub(1) {
            self.row = i.min(last);
            self.key = Some(keys.key(self.row).clone());
        }
    }

    /// Moves `by` rows, staying inside the list; from nothing, counts from the row it was on.
    pub fn step(&mut self, keys: &(impl Keys<K> + ?Sized), by: isize) {
        let at = self.index(keys).unwrap_or(self.row) as isize;
        self.select(keys, at.saturating_add(by).max(0) as usize);
    }

    /// After the list changed: stays on its key if it is still there, else lands on the
    /// fallback; selects nothing in an empty list.
    pub fn settle(&mut self, keys: &(impl Keys<K> + ?Sized), fallback: Fallback) {
        match self.index(keys) {
            Some(i) => self.row = i,
            None if keys.is_empty() => *self = ListSelection::default(),
            None => match fallback {
                Fallback::First => self.select(keys, 0),
                Fallback::SameRow => self.select(keys, self.row),
            },
        }
    }

    /// What is selected.
    pub fn key(&self) -> Option<&K> {
        self.key.as_ref()
    }
}

impl ListSelection<usize> {
    /// Row `row` of a list that selects by row number.
    pub fn at(row: usize) -> ListSelection<usize> {
        ListSelection {
            key: Some(row),
            row,
        }
    }
}

/// The row numbers of a list of `len` rows: the keys of a list that selects by position.
pub fn rows(len: usize) -> Vec<usize> {
    (0..len).collect()
}

/// A selection reads as the key it holds.
impl<K> Deref for ListSelection<K> {
    type Target = Option<K>;

    fn deref(&self) -> &Option<K> {
        &self.key
    }
}

impl<K: PartialEq> PartialEq<Option<K>> for ListSelection<K> {
    fn eq(&self, other: &Option<K>) -> bool {
        self.key == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_its_key_and_lands_when_it_leaves() {
        let keys = ["a", "b", "c"].map(String::from);
        let mut s = ListSelection::default();
        assert_eq!(s.index(&keys), None);
        s.step(&keys, 1);
        assert_eq!(*s, Some("b".to_string()));
        s.step(&keys, isize::MAX / 2);
        assert_eq!(s.index(&keys), Some(2));
        let reordered = ["c", "a", "b"].map(String::from);
        s.settle(&reordered, Fallback::First);
        assert_eq!((s.index(&reordered), s.row), (Some(0), 0));
        let shorter = ["a", "b"].map(String::from);
        s.settle(&shorter, Fallback::SameRow);
        assert_eq!(*s, Some("a".to_string()));
        s.settle(&[], Fallback::First);
        assert_eq!(*s, None);
        let mut by_row = ListSelection::at(5);
        by_row.settle(&rows(3), Fallback::SameRow);
        assert_eq!(*by_row, Some(2));
    }
}
