//! pgmq's state map, over the union of every queue's message table and archive (`mod.rs`
//! builds it: an archived message shows with a NULL `vt`). A message in its queue table is
//! visible (ready) once its visibility timeout `vt` has passed; before that it is in flight
//! (running) when a reader has taken it (`read_ct > 0`: `pgmq.read` sets `vt` ahead and
//! counts the read), else delayed (scheduled: sent with a delay). An archived message is
//! done (succeeded). pgmq has no failure, retry or cancelled state: a message whose reader
//! gave up is visible again when its `vt` passes, and a deleted message leaves nothing.
//!
//! The conditions hold over one queue table as they are (its `vt` is never NULL), so the
//! actions check them on that table, and each is a range of pgmq's own index on `vt`;
//! finished messages are listed by `archived_at`, pgmq's index on the archive.

use crate::backend::engine::states::{Range, Sort, StateList, StateMap};
use crate::backend::model::JobState;
use crate::backend::pg::sql::TimeCol;

/// Visible: the visibility timeout has passed.
pub const READY: &str = "j.vt <= now()";
/// Sent with a delay, not read yet.
pub const DELAYED: &str = "j.vt > now() AND j.read_ct = 0";
/// Read, and its visibility timeout still running.
pub const IN_FLIGHT: &str = "j.vt > now() AND j.read_ct > 0";
/// Archived (the union gives archived messages no `vt`).
pub const ARCHIVED: &str = "j.vt IS NULL";

pub fn state_map() -> StateMap {
    let vt = Some(Sort::new(TimeCol::new("j.vt", false), false));
    let one = |cond: &str| vec![Range::plain(cond)];
    StateMap::new(vec![
        StateList::new(JobState::Ready, one(READY), vt.clone()),
        StateList::new(JobState::Scheduled, one(DELAYED), vt),
        // In-flight messages are few enough to read whole and sort.
        StateList::new(JobState::Running, one(IN_FLIGHT), None),
        StateList::new(
            JobState::Succeeded,
            one(ARCHIVED),
            Some(Sort::new(TimeCol::new("j.archived_at", false), false)),
        ),
    ])
}
