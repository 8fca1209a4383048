//! Solid Queue's state map. A job's state is the execution table that holds its row:
//! `solid_queue_ready_executions` -> ready; `solid_queue_scheduled_executions` and
//! `solid_queue_blocked_executions` (due, but waiting for its concurrency key's semaphore)
//! -> scheduled; `solid_queue_claimed_executions` -> running; `solid_queue_failed_executions`
//! -> dead; a `finished_at` on the job -> succeeded (kept only while
//! `preserve_finished_jobs` is on). Solid Queue retries by enqueueing a new job, so nothing
//! is "retrying", and it has no cancelled state.
//!
//! Lists read the queue's unfinished jobs along Solid Queue's (queue_name, finished_at)
//! index and keep those the execution table holds (its unique index on job_id); succeeded
//! jobs come off the same index in finish order.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::sql::TimeCol;

/// The qualified execution tables.
pub struct Executions<'a> {
    pub ready: &'a str,
    pub scheduled: &'a str,
    pub blocked: &'a str,
    pub claimed: &'a str,
    pub failed: &'a str,
}

/// `j` is an unfinished job with a row in `table`.
pub fn held_by(table: &str) -> String {
    format!("j.finished_at IS NULL AND EXISTS (SELECT 1 FROM {table} x WHERE x.job_id = j.id)")
}

/// When the job's failed execution was written (its failure), a naive UTC time.
pub fn failed_at(failed: &str) -> TimeCol {
    TimeCol::new(
        format!("(SELECT f.created_at FROM {failed} f WHERE f.job_id = j.id)"),
        true,
    )
}

/// When the job was claimed (started), a naive UTC time.
pub fn claimed_at(claimed: &str) -> TimeCol {
    TimeCol::new(
        format!("(SELECT c.created_at FROM {claimed} c WHERE c.job_id = j.id)"),
        true,
    )
}

pub fn state_map(e: &Executions<'_>) -> StateMap {
    let naive = |c: &str| TimeCol::new(format!("j.{c}"), true);
    StateMap::new(vec![
        StateList::new(JobState::Ready, vec![Range::plain(held_by(e.ready))], None),
        // Blocked jobs were due (their scheduled_at is past): they sort before the
        // scheduled ones.
        StateList::new(
            JobState::Scheduled,
            vec![
                Range::plain(held_by(e.scheduled)),
                Range::plain(held_by(e.blocked)),
            ],
            Some(Sort::new(naive("scheduled_at"), true)),
        )
        .ordered(false),
        // Running jobs are few: read whole and sorted by when they were claimed.
        StateList::new(
            JobState::Running,
            vec![Range::plain(held_by(e.claimed))],
            Some(Sort::new(claimed_at(e.claimed), false)),
        )
        .ordered(false),
        // A failed job is never finished (a retry takes its failed execution away first),
        // which the planner cannot know: with `finished_at IS NULL` it put the 31,894 dead
        // jobs of a queue at 1,490 (10 M rows); without it, at 32,776.
        StateList::new(
            JobState::Dead,
            vec![Range::plain(held_by(e.failed))],
            Some(Sort::new(failed_at(e.failed), false)),
        )
        .ordered(false)
        .estimated_by(format!(
            "EXISTS (SELECT 1 FROM {} x WHERE x.job_id = j.id)",
            e.failed
        )),
        StateList::new(
            JobState::Succeeded,
            vec![Range::plain("j.finished_at IS NOT NULL")],
            Some(Sort::new(naive("finished_at"), false)),
        ),
    ])
}
