//! pg-boss's state map. Waiting jobs are `created` or `retry` below `active`, spelled as
//! the predicate of pg-boss's fetch index (`state < 'active'`, and `NOT blocked` since
//! jobs can wait on others) so that those states use that index; a job waiting on another
//! one (`blocked`) is scheduled. Lists are ordered by when a job is due, started or
//! finished.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;

/// Jobs waiting on others. The states spelled twice: `< 'active'` as doctor's own blocked
/// index's predicate, `IN ('created', 'retry')` (the same jobs) so that the planner can
/// prove pg-boss 12's live index (`state IN ('created', 'retry', 'active', 'failed')`)
/// holds them.
pub const BLOCKED: &str = "j.state < 'active' AND j.state IN ('created', 'retry') AND j.blocked";

/// `fix`: the index that keeps every list on a range (pg-boss's own per-state indexes).
pub fn state_map(jobs: &TableInfo, fix: &str) -> StateMap {
    let blocked = jobs.has("blocked");
    let waiting = if blocked {
        "j.state < 'active' AND NOT j.blocked"
    } else {
        "j.state < 'active'"
    };
    let mut scheduled = vec![Range::plain(format!(
        "{waiting} AND j.state = 'created' AND j.start_after > now()"
    ))];
    if blocked {
        scheduled.push(Range::plain(BLOCKED));
    }
    // A finished job (pg-boss sets completed_on as it completes, fails or cancels one):
    // spelled with pg-boss 12's (name, completed_on) WHERE completed_on IS NOT NULL index's
    // predicate where that index exists, so the finished lists read it in order.
    let finished_index = jobs.has_index_where("completed_on", &["name"], |p| {
        p.is_some_and(|p| p.contains("completed_on IS NOT NULL"))
    });
    let finished = |state: &str| {
        if finished_index {
            format!("(j.state = '{state}' AND j.completed_on IS NOT NULL)")
        } else {
            format!("j.state = '{state}'")
        }
    };
    let sort = |c: &str| Sort::by(jobs, c);
    let list = |state: JobState, cond: String, by: &str| {
        StateList::new(state, vec![Range::plain(cond)], sort(by)).with_fix(Some(fix.to_string()))
    };
    StateMap::new(vec![
        list(
            JobState::Ready,
            format!("({waiting} AND j.start_after <= now())"),
            "start_after",
        ),
        StateList::new(JobState::Scheduled, scheduled, sort("start_after"))
            .with_fix(Some(fix.to_string())),
        list(
            JobState::Retrying,
            format!("({waiting} AND j.state = 'retry' AND j.start_after > now())"),
            "start_after",
        ),
        list(JobState::Running, "j.state = 'active'".into(), "started_on"),
        list(JobState::Dead, finished("failed"), "completed_on"),
        list(JobState::Succeeded, finished("completed"), "completed_on"),
        list(JobState::Cancelled, finished("cancelled"), "completed_on"),
    ])
}
