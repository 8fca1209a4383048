//! procrastinate's state map. One status, `todo`, is three buckets: ready once due (a NULL
//! `scheduled_at` is due at once), else retrying when an attempt is behind it (its retry
//! strategy put it back with a later `scheduled_at`), else scheduled. `doing` (and the
//! legacy `aborting`, which procrastinate 3.0 turned into `doing` with `abort_requested`)
//! is running; `failed` is dead; `succeeded` succeeded; `cancelled` (never started) and
//! `aborted` (stopped while it ran, on request) are cancelled.
//!
//! procrastinate keeps no finish or start time on the job (its events table has them), and
//! its own indexes hold no status per queue: lists other than scheduled and retrying (by
//! when they are due) are ordered by id, which is the order jobs were deferred in and the
//! order procrastinate fetches them within a priority. With the index doctor names
//! (`fix`: queue, status, scheduled_at, id) every count and every waiting list is an index
//! range in its order.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap, time_column};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;

/// `labels`: the values of the jobs' status type (a label it lacks is never named: a
/// literal of an unknown label is an error, not an empty match). `dead_fix`: the index that
/// finds failed jobs across queues (the dead letters read them so).
pub fn state_map(jobs: &TableInfo, labels: &[String], fix: &str, dead_fix: &str) -> StateMap {
    let has = |label: &str| labels.iter().any(|l| l == label);
    let status = |label: &str| Range::plain(format!("j.status = '{label}'"));
    let statuses = |names: &[&str]| -> Vec<Range> {
        names.iter().filter(|n| has(n)).map(|n| status(n)).collect()
    };
    // Waiting jobs always have a scheduled_at in these two ranges.
    let due_at = time_column(jobs, "scheduled_at").map(|col| Sort::new(col, false));
    let list = |state: JobState, ranges: Vec<Range>, sort: Option<Sort>| {
        StateList::new(state, ranges, sort).with_fix(Some(fix.to_string()))
    };
    StateMap::new(vec![
        list(
            JobState::Ready,
            vec![
                Range::plain("j.status = 'todo' AND j.scheduled_at IS NULL"),
                Range::plain("j.status = 'todo' AND j.scheduled_at <= now()"),
            ],
            None,
        )
        .id_ordered(true),
        list(
            JobState::Scheduled,
            vec![Range::plain(
                "j.status = 'todo' AND j.scheduled_at > now() AND j.attempts = 0",
            )],
            due_at.clone(),
        ),
        list(
            JobState::Retrying,
            vec![Range::plain(
                "j.status = 'todo' AND j.scheduled_at > now() AND j.attempts > 0",
            )],
            due_at,
        ),
        // Running jobs are few enough to read whole and sort.
        list(JobState::Running, statuses(&["doing", "aborting"]), None),
        // Dead and cancelled jobs are few: read whole and sorted, like running ones.
        // Succeeded ones pile up: a page reads them in id order and stops.
        list(JobState::Dead, statuses(&["failed"]), None).with_fix(Some(dead_fix.to_string())),
        list(JobState::Succeeded, statuses(&["succeeded"]), None).id_ordered(true),
        list(
            JobState::Cancelled,
            statuses(&["cancelled", "aborted"]),
            None,
        ),
    ])
}
