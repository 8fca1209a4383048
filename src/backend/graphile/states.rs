//! graphile-worker's state map. `is_available` (not locked, attempts left) is the literal
//! predicate of graphile's own job indexes; a waiting job with attempts behind it is
//! retrying. Completed jobs are deleted, so nothing is succeeded; a job out of attempts and
//! unlocked is dead. Lists are ordered by run time, lock time, or (dead) the last change.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;

pub fn state_map(jobs: &TableInfo) -> StateMap {
    let available = "j.is_available = true";
    let sort = |c: &str| Sort::by(jobs, c);
    let list = |state: JobState, cond: String, by: &str| {
        StateList::new(state, vec![Range::plain(cond)], sort(by))
    };
    StateMap::new(vec![
        list(
            JobState::Ready,
            format!("({available} AND j.run_at <= now())"),
            "run_at",
        ),
        list(
            JobState::Scheduled,
            format!("({available} AND j.run_at > now() AND j.attempts = 0)"),
            "run_at",
        ),
        list(
            JobState::Retrying,
            format!("({available} AND j.run_at > now() AND j.attempts > 0)"),
            "run_at",
        ),
        list(
            JobState::Running,
            "j.locked_at IS NOT NULL".into(),
            "locked_at",
        ),
        // Spelled with `is_available = false` (the same rows: unlocked and out of attempts)
        // so that doctor's index of the jobs not available holds them, and estimated by it
        // alone past the pile cap: the planner cannot tie attempts to max_attempts.
        list(
            JobState::Dead,
            "(j.is_available = false AND j.locked_at IS NULL)".into(),
            "updated_at",
        )
        .estimated_by("j.is_available = false"),
    ])
}
