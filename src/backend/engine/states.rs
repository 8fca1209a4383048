//! A schema's state map: how its rows fall into the model's display buckets, declared once
//! per schema. The job lists read each bucket's ranges; the actions' guards and a job's
//! display state are the same ranges joined, so the rows listed under a state and the rows
//! an action on that state may touch cannot disagree.

use crate::backend::engine::snapshot::{capped, capped_pile};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::TimeCol;

/// Every display bucket a schema's jobs can be in, each with the index ranges that list it.
/// Buckets are disjoint; a state without one holds no jobs on this schema.
#[derive(Debug, Clone, Default)]
pub struct StateMap {
    lists: Vec<StateList>,
}

impl StateMap {
    pub fn new(lists: Vec<StateList>) -> StateMap {
        StateMap { lists }
    }

    pub fn lists(&self) -> &[StateList] {
        &self.lists
    }

    pub fn list(&self, state: JobState) -> Option<&StateList> {
        self.lists.iter().find(|l| l.state == state)
    }

    /// The bucket as one condition (its ranges joined); `None` where the schema has none.
    pub fn condition(&self, state: JobState) -> Option<String> {
        let list = self.list(state)?;
        Some(match list.ranges.as_slice() {
            [] => "false".to_string(),
            [one] => format!("({})", one.cond),
            many => {
                let parts: Vec<String> = many.iter().map(|r| format!("({})", r.cond)).collect();
                format!("({})", parts.join(" OR "))
            }
        })
    }

    /// The condition the bucket's pile is estimated by (`StateList::estimate`, else its
    /// own).
    pub fn estimate_condition(&self, state: JobState) -> Option<String> {
        match &self.list(state)?.estimate {
            Some(cond) => Some(format!("({cond})")),
            None => self.condition(state),
        }
    }

    /// The overview's count of the bucket in one queue: each range counted up to the cap
    /// (`capped`, `$1`) with `pin` (the queue condition) added, summed. `None` where the
    /// schema has no such bucket.
    pub fn capped_count(&self, state: JobState, from: &str, pin: &str) -> Option<String> {
        self.count_with(capped, state, from, pin)
    }

    /// The same for a pile (scheduled, retrying, dead): each range counted up to the pile
    /// cap (`capped_pile`, `$2`), past which the engine estimates it.
    pub fn pile_count(&self, state: JobState, from: &str, pin: &str) -> Option<String> {
        self.count_with(capped_pile, state, from, pin)
    }

    fn count_with(
        &self,
        count: fn(&str, &str) -> String,
        state: JobState,
        from: &str,
        pin: &str,
    ) -> Option<String> {
        let list = self.list(state)?;
        let parts: Vec<String> = list
            .ranges
            .iter()
            .map(|r| count(from, &format!("{} AND {pin}", r.cond)))
            .collect();
        Some(match parts.len() {
            0 => "0::bigint".to_string(),
            1 => parts.into_iter().next().unwrap_or_default(),
            _ => format!("({})", parts.join(" + ")),
        })
    }

    /// A job's display state, as a `text` expression (NULL for a job in none).
    pub fn display_state(&self) -> String {
        let arms: Vec<String> = self
            .lists
            .iter()
            .filter_map(|l| {
                self.condition(l.state)
                    .map(|c| format!("WHEN {c} THEN '{}'", l.state.as_str()))
            })
            .collect();
        format!("CASE {} END", arms.join(" "))
    }

    /// The states as one condition; a state this schema has no bucket for matches nothing.
    pub fn guard(&self, states: &[JobState]) -> String {
        let parts: Vec<String> = states
            .iter()
            .map(|s| self.condition(*s).unwrap_or_else(|| "false".into()))
            .collect();
        if parts.is_empty() {
            "false".into()
        } else {
            format!("({})", parts.join(" OR "))
        }
    }
}

/// How one display state is listed.
#[derive(Debug, Clone)]
pub struct StateList {
    pub state: JobState,
    /// Disjoint conditions whose union is the state; each one an index range once the
    /// queue (and lane) is pinned.
    pub ranges: Vec<Range>,
    /// The time the list is ordered by (with the id): run at for waiting states, started
    /// for running, the finish time for finished ones. `None`: by id alone.
    pub sort: Option<Sort>,
    /// The index that keeps this list off a whole-table read (for `jobtop doctor`).
    pub fix: Option<String>,
    /// An index gives the list its order, so a page stops after its rows. Without one a
    /// page sorts every job of the state (doctor warns, naming `fix`); running jobs are few
    /// enough to sort.
    pub ordered: bool,
    /// The rows a page reads in id order (a list without a sort time, or a sort time's NULL
    /// rows) come off an index in that order once the queue is pinned, so such a page stops
    /// after its rows. Without it those rows are read whole and sorted, which suits the few
    /// a running list holds.
    pub id_ordered: bool,
    /// The condition the planner estimates the state's pile by (`pile_estimates`), where
    /// the state's own misleads it: the same rows or nearly, without a column whose tie to
    /// the rest the planner cannot see (River's scheduled jobs by their state alone: the
    /// due ones among them leave it within seconds). `None`: the state's condition.
    pub estimate: Option<String>,
}

impl StateList {
    pub fn new(state: JobState, ranges: Vec<Range>, sort: Option<Sort>) -> StateList {
        StateList {
            state,
            ranges,
            sort,
            fix: None,
            ordered: true,
            id_ordered: false,
            estimate: None,
        }
    }

    pub fn estimated_by(mut self, cond: impl Into<String>) -> StateList {
        self.estimate = Some(cond.into());
        self
    }

    pub fn with_fix(mut self, fix: Option<String>) -> StateList {
        self.fix = fix;
        self
    }

    pub fn ordered(mut self, ordered: bool) -> StateList {
        self.ordered = ordered;
        self
    }

    pub fn id_ordered(mut self, id_ordered: bool) -> StateList {
        self.id_ordered = id_ordered;
        self
    }
}

#[derive(Debug, Clone)]
pub struct Range {
    pub cond: String,
    /// For a range read lane by lane: the part of `cond` the index answers before the lane
    /// column (the state), over which a skip scan finds the lanes present.
    pub lane_prefix: Option<String>,
}

impl Range {
    pub fn plain(cond: impl Into<String>) -> Range {
        Range {
            cond: cond.into(),
            lane_prefix: None,
        }
    }

    pub fn laned(cond: impl Into<String>, prefix: impl Into<String>) -> Range {
        Range {
            cond: cond.into(),
            lane_prefix: Some(prefix.into()),
        }
    }
}

/// A list's sort time.
#[derive(Debug, Clone)]
pub struct Sort {
    pub col: TimeCol,
    /// The column may be NULL in the list's ranges (its NULL rows are read apart).
    pub nullable: bool,
}

impl Sort {
    pub fn new(col: TimeCol, nullable: bool) -> Sort {
        Sort { col, nullable }
    }

    /// By the table's `column`, where it has one.
    pub fn by(table: &TableInfo, column: &str) -> Option<Sort> {
        time_column(table, column).map(|t| Sort::new(t, table.nullable(column)))
    }
}

/// The table's `column` (as `j.column`) as a time, where it has one.
pub fn time_column(table: &TableInfo, column: &str) -> Option<TimeCol> {
    table
        .has(column)
        .then(|| TimeCol::new(format!("j.{column}"), table.is_naive_timestamp(column)))
}
