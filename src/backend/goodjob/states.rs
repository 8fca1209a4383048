//! good_job's state map, from the columns its dashboard reads: unfinished and not
//! performed -> ready once `scheduled_at` is past (or NULL), else scheduled, or retrying
//! when an error is kept from an earlier attempt (good_job re-enqueues a job for a retry
//! in place, keeping its last error); `performed_at` set and unfinished -> running;
//! finished with an error -> dead (good_job's "discarded"); finished without -> succeeded.
//! good_job has no cancelled state.
//!
//! The dashboard tells scheduled from retried by Active Job's `executions` in the
//! serialized params (below 2 / above 1), which puts a first retry under "scheduled" and
//! a job without the key under neither; the kept error says the same thing for every job.
//!
//! Waiting jobs are index ranges of good_job's (queue_name, scheduled_at, id) index on
//! unfinished jobs, in due order; finished ones come off its finished_at indexes
//! (discarded: `index_good_jobs_on_discarded`), in finish order.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::sql::TimeCol;

pub fn state_map() -> StateMap {
    let naive = |c: &str| TimeCol::new(format!("j.{c}"), true);
    let now = naive("scheduled_at").value("now()");
    let waiting = "j.finished_at IS NULL AND j.performed_at IS NULL";
    let due_at = Some(Sort::new(naive("scheduled_at"), false));
    StateMap::new(vec![
        StateList::new(
            JobState::Ready,
            vec![
                Range::plain(format!("{waiting} AND j.scheduled_at <= {now}")),
                Range::plain(format!("{waiting} AND j.scheduled_at IS NULL")),
            ],
            Some(Sort::new(naive("scheduled_at"), true)),
        ),
        StateList::new(
            JobState::Scheduled,
            vec![Range::plain(format!(
                "{waiting} AND j.scheduled_at > {now} AND j.error IS NULL"
            ))],
            due_at.clone(),
        ),
        StateList::new(
            JobState::Retrying,
            vec![Range::plain(format!(
                "{waiting} AND j.scheduled_at > {now} AND j.error IS NOT NULL"
            ))],
            due_at,
        ),
        // Running jobs are few: read whole and sorted by when they started.
        StateList::new(
            JobState::Running,
            vec![Range::plain(
                "j.finished_at IS NULL AND j.performed_at IS NOT NULL",
            )],
            Some(Sort::new(naive("performed_at"), false)),
        )
        .ordered(false),
        StateList::new(
            JobState::Dead,
            vec![Range::plain(
                "j.finished_at IS NOT NULL AND j.error IS NOT NULL",
            )],
            Some(Sort::new(naive("finished_at"), false)),
        ),
        StateList::new(
            JobState::Succeeded,
            vec![Range::plain(
                "j.finished_at IS NOT NULL AND j.error IS NULL",
            )],
            Some(Sort::new(naive("finished_at"), false)),
        ),
    ])
}
