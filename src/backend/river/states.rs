//! River's state map, from the state values its overview counts (`Prioritized`): waiting
//! jobs are listed one priority at a time along River's
//! `(state, queue, priority, scheduled_at, id)` index; finished ones along
//! `(state, finalized_at)`.

use crate::backend::engine::prioritized::Prioritized;
use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::TimeCol;

pub fn state_map(
    shape: &Prioritized,
    jobs: &TableInfo,
    fetch_index: &str,
    finalized_index: &str,
) -> StateMap {
    let time = |c: &str| TimeCol::new(format!("j.{c}"), jobs.is_naive_timestamp(c));
    let sort = |c: &str| Sort::new(time(c), jobs.nullable(c));
    let mut lists = shape.live_lists(
        Some(sort("scheduled_at")),
        Some(sort("attempted_at")),
        Some(fetch_index.to_string()),
    );
    let by_finish = Some(Sort::new(time("finalized_at"), false));
    let finish_ordered = jobs.has_index_for("finalized_at", &["state", "queue"]);
    for (state, label) in [
        (JobState::Dead, "discarded"),
        (JobState::Succeeded, "completed"),
        (JobState::Cancelled, "cancelled"),
    ] {
        let range = Range::plain(format!(
            "j.state = '{label}' AND j.finalized_at IS NOT NULL"
        ));
        lists.push(
            StateList::new(state, vec![range], by_finish.clone())
                .with_fix(Some(finalized_index.to_string()))
                .ordered(finish_ordered),
        );
    }
    StateMap::new(lists)
}
