//! PgQueuer's state map. Its table holds live jobs only: `queued` is ready once
//! `execute_after` has passed, else retrying when an attempt is behind it (its retry
//! executor put it back with a later `execute_after` and one more attempt), else
//! scheduled; `picked` is running; `failed` (1.x, an entrypoint with `on_failure="hold"`)
//! is dead, kept for requeue. Finished jobs (`successful`, `exception`, `canceled`,
//! `deleted`) are deleted from the table as their row goes into `pgqueuer_log`: there is no
//! succeeded or cancelled list.
//!
//! PgQueuer's own partial index on (entrypoint, execute_after) for queued jobs makes every
//! waiting count and list an index range in its order; picked jobs are few and read whole;
//! failed jobs have no index of PgQueuer's (`dead_fix` is the one doctor names).

use crate::backend::engine::states::{Range, Sort, StateList, StateMap, time_column};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;

/// `labels`: the status type's values (`failed` came with 1.0's held jobs; a label the type
/// lacks is never named). `attempts`: the table counts attempts (PgQueuer's retries).
pub fn state_map(jobs: &TableInfo, labels: &[String], dead_fix: &str) -> StateMap {
    let due = time_column(jobs, "execute_after").map(|col| Sort::new(col, false));
    let waiting = |cond: &str| Range::plain(format!("j.status = 'queued' AND {cond}"));
    let (scheduled, retrying) = if jobs.has("attempts") {
        (
            vec![waiting("j.execute_after > now() AND j.attempts = 0")],
            vec![waiting("j.execute_after > now() AND j.attempts > 0")],
        )
    } else {
        (vec![waiting("j.execute_after > now()")], Vec::new())
    };
    let mut lists = vec![
        StateList::new(
            JobState::Ready,
            vec![waiting("j.execute_after <= now()")],
            due.clone(),
        ),
        StateList::new(JobState::Scheduled, scheduled, due.clone()),
        StateList::new(JobState::Retrying, retrying, due),
        // Running jobs are few enough to read whole and sort.
        StateList::new(
            JobState::Running,
            vec![Range::plain("j.status = 'picked'")],
            None,
        ),
    ];
    if labels.iter().any(|l| l == "failed") {
        // Held failed jobs: read whole and sorted by id, like running ones; with the
        // index doctor names, a queue's are a range.
        lists.push(
            StateList::new(
                JobState::Dead,
                vec![Range::plain("j.status = 'failed'")],
                None,
            )
            .with_fix(Some(dead_fix.to_string())),
        );
    }
    StateMap::new(lists)
}
