//! Oban's state map, from the state values its overview counts (`Prioritized`): waiting
//! jobs are listed lane by lane along Oban's `(state, queue, priority, scheduled_at, id)`
//! index; finished ones by their own finish time, where older Oban keeps one.

use crate::backend::engine::prioritized::Prioritized;
use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::TimeCol;

pub fn state_map(shape: &Prioritized, jobs: &TableInfo, labels: &[String], t: &str) -> StateMap {
    let time = |c: &str| TimeCol::new(format!("j.{c}"), jobs.is_naive_timestamp(c));
    let sort = |c: &str| jobs.has(c).then(|| Sort::new(time(c), jobs.nullable(c)));
    let ordered = |c: &str| jobs.has_index_for(c, &["state", "queue"]);
    let index = |c: &str| {
        Some(format!(
            "CREATE INDEX CONCURRENTLY oban_jobs_state_{c}_index ON {t} (state, {c});"
        ))
    };
    let fetch = Some(format!(
        "CREATE INDEX CONCURRENTLY oban_jobs_state_queue_priority_scheduled_at_id_index ON {t} \
         (state, queue, priority, scheduled_at, id);"
    ));
    let mut lists = shape.live_lists(sort("scheduled_at"), sort("attempted_at"), fetch);
    let mut finished = vec![
        (JobState::Dead, "discarded", "discarded_at"),
        (JobState::Succeeded, "completed", "completed_at"),
    ];
    if labels.iter().any(|l| l == "cancelled") {
        finished.push((JobState::Cancelled, "cancelled", "cancelled_at"));
    }
    for (state, label, column) in finished {
        lists.push(
            StateList::new(
                state,
                vec![Range::plain(format!("j.state = '{label}'"))],
                sort(column),
            )
            .with_fix(index(column))
            .ordered(ordered(column)),
        );
    }
    StateMap::new(lists)
}
