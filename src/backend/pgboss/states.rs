//! pg-boss's state map. Waiting jobs are `created` or `retry` below `active`, spelled as
//! the predicate of pg-boss's fetch index (`state < 'active'`, and `NOT blocked` since
//! jobs can wait on others) so that those states use that index; a job waiting on another
//! one (`blocked`) is scheduled. Lists are ordered by when a job is due, started or
//! finished.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;

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
        scheduled.push(Range::plain("j.state < 'active' AND j.blocked"));
    }
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
        list(JobState::Dead, "j.state = 'failed'".into(), "completed_on"),
        list(
            JobState::Succeeded,
            "j.state = 'completed'".into(),
            "completed_on",
        ),
        list(
            JobState::Cancelled,
            "j.state = 'cancelled'".into(),
            "completed_on",
        ),
    ])
}
