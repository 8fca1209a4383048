//! procrastinate's actions, as its own tools do them (its SQL functions, its `JobManager`,
//! the `procrastinate shell` and the Django admin), one conditional statement per batch.
//! Each statement changes the job as the function named does; procrastinate's triggers
//! then record the change in its events table as they would for its own call.
//!
//! - retry (`procrastinate_retry_job_v2`, procrastinate 3.4 on, as the shell's `retry` and
//!   the admin's "Retry Job" call it, with `retry_at` now): a failed job -> `todo`, due now,
//!   `attempts + 1`; priority, queue and lock unchanged. procrastinate retries nothing else
//!   (its function raises for a job in any other status), so neither does jobtop: scheduled,
//!   retrying, cancelled and aborted jobs are left alone. procrastinate also "retries" a
//!   running job; that is its worker's own path, and jobtop offers it only as reset stuck.
//! - cancel (`procrastinate_cancel_job_v1` with `abort = false`, the admin's "Cancel Job
//!   (only 'todo' jobs)"): a job not started (`todo`: ready, scheduled or retrying) ->
//!   `cancelled`. Stopping a running job is procrastinate's "abort", a request its task
//!   has to honour: not offered.
//! - delete: finished jobs that did not succeed (`failed`, `cancelled`, `aborted`), as
//!   `JobManager.delete_old_jobs` does (without its age limit); their events go with them
//!   (ON DELETE CASCADE) and procrastinate's trigger unlinks their periodic defers.
//! - reset stuck: procrastinate's own recipe for stalled jobs (`get_stalled_jobs`, then
//!   `retry_job`, i.e. `procrastinate_retry_job_v2` on a `doing` job): a running job whose
//!   worker stopped beating (or was pruned, leaving `worker_id` NULL) -> `todo`, due now,
//!   `attempts + 1`; one whose abort was requested -> `failed`, as the function does.
//! - purge (`delete_old_jobs`, its `remove_old_jobs` task): succeeded, failed, cancelled or
//!   aborted jobs whose latest event is before the cutoff, with their events (the foreign
//!   key cascades).
//! - discard, pause: not offered (see `mod.rs`).

use async_trait::async_trait;
use sqlx::PgPool;

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use crate::backend::capabilities::Support;
use crate::backend::engine::actions::{
    self as kit, GUARD, IDS, JobTable, STALE_SECS, alive_before,
};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::engine::states::StateMap;
use crate::backend::model::JobState;
use crate::backend::pg::sql::TimeCol;

/// What the statements need to know of the schema.
pub struct Tables<'a> {
    /// `"schema"."procrastinate_jobs"`.
    pub jobs: &'a str,
    /// `"schema"."procrastinate_workers"`, from procrastinate 3.1.
    pub workers: Option<&'a str>,
    /// `"schema"."procrastinate_events"`.
    pub events: &'a str,
    /// The status type, qualified (`"schema"."procrastinate_job_status"`).
    pub status_type: &'a str,
    /// `procrastinate_retry_job_v2` is there (procrastinate 3.4 on).
    pub retry_failed: bool,
}

/// Why a retry is refused on a schema older than procrastinate 3.4.
pub const NO_RETRY: &str = "procrastinate before 3.4 cannot retry a failed job (its schema has no \
     procrastinate_retry_job_v2); upgrade procrastinate";

/// Why reset stuck is refused on a schema older than procrastinate 3.1.
pub const NO_WORKERS: &str = "procrastinate before 3.1 keeps no workers or heartbeats: a stuck job \
     cannot be told from a running one";

#[derive(Debug, Clone)]
pub struct ProcrastinateActions {
    pub jobs: JobTable,
}

impl ProcrastinateActions {
    pub fn new(t: &Tables<'_>, states: StateMap) -> ProcrastinateActions {
        let jobs = t.jobs;
        let ids = format!("j.id = ANY({IDS})");
        let mut batches = Vec::new();
        if t.retry_failed {
            batches.push((
                ActionKind::Retry,
                format!(
                    "UPDATE {jobs} j SET status = 'todo', attempts = j.attempts + 1, \
                       scheduled_at = now() \
                     WHERE {ids} AND j.status = 'failed' AND {GUARD} RETURNING j.id"
                ),
            ));
        }
        batches.push((
            ActionKind::Cancel,
            format!(
                "UPDATE {jobs} j SET status = 'cancelled' \
                 WHERE {ids} AND j.status = 'todo' AND {GUARD} RETURNING j.id"
            ),
        ));
        batches.push((
            ActionKind::Delete,
            format!(
                "DELETE FROM {jobs} j \
                 WHERE {ids} AND j.status IN ('failed', 'cancelled', 'aborted') AND {GUARD} \
                 RETURNING j.id"
            ),
        ));
        // A running job's signs of life: its worker's heartbeat; a job whose worker row is
        // gone (pruned as stalled by another worker) has none, as procrastinate's own
        // `select_stalled_jobs_by_heartbeat` sees it.
        let alive_at = t.workers.map(|workers| {
            format!(
                "coalesce((SELECT w.last_heartbeat FROM {workers} w WHERE w.id = j.worker_id), \
                 '-infinity'::timestamptz)"
            )
        });
        // The one staleness condition the stuck list and reset-stuck share.
        let stale = alive_at.as_deref().map(alive_before);
        if let Some(stale) = &stale {
            let status = t.status_type;
            let stale = stale.replace(STALE_SECS, "$2");
            batches.push((
                ActionKind::ResetStuck,
                format!(
                    "UPDATE {jobs} j SET \
                       status = CASE WHEN j.abort_requested THEN 'failed'::{status} \
                         ELSE 'todo'::{status} END, \
                       attempts = CASE WHEN j.abort_requested THEN j.attempts \
                         ELSE j.attempts + 1 END, \
                       scheduled_at = CASE WHEN j.abort_requested THEN j.scheduled_at \
                         ELSE now() END \
                     WHERE {ids} AND j.status = 'doing' AND {GUARD} AND {stale} \
                     RETURNING j.id"
                ),
            ));
        }
        ProcrastinateActions {
            jobs: JobTable {
                from: format!("{jobs} j"),
                id: "j.id".into(),
                created_at: None,
                id_type: "bigint".into(),
                queue: "j.queue_name".into(),
                kind: "j.task_name".into(),
                states,
                worker: Some("j.worker_id".into()),
                tenant: None,
                // procrastinate keeps no error text.
                error: None,
                stale,
                batches,
                discard_message: false,
                // When its last event happened, as procrastinate's `delete_old_jobs` dates a
                // job (its events go with it: their foreign key cascades).
                finished_at: Some(TimeCol::new(
                    format!(
                        "(SELECT max(e.at) FROM {events} e WHERE e.job_id = j.id)",
                        events = t.events
                    ),
                    false,
                )),
                from_states: vec![(ActionKind::Retry, vec![JobState::Dead])],
            },
        }
    }

    pub fn support(&self, kind: ActionKind) -> Support {
        let why = match kind {
            ActionKind::Retry => NO_RETRY,
            ActionKind::ResetStuck => NO_WORKERS,
            _ => "not offered on this procrastinate schema",
        };
        self.jobs.support(kind, why)
    }

    pub fn can(&self, kind: ActionKind) -> bool {
        self.jobs.offers(kind)
    }
}

#[async_trait]
impl SchemaActions for ProcrastinateActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        if !self.can(action.kind()) {
            return Err(crate::backend::actions::unsupported(
                "procrastinate",
                action.kind(),
            ));
        }
        let mut plan = kit::plan(pool, &self.jobs, action).await?;
        if action.kind() == ActionKind::Retry {
            plan.effect = Some(
                "They become due now with one more attempt, as procrastinate's own retry \
                 (procrastinate_retry_job_v2) does; their events are kept."
                    .into(),
            );
        }
        if action.kind() == ActionKind::Retry
            && plan.blocked.iter().any(|(s, _)| *s != JobState::Dead)
        {
            plan.note = Some(
                "procrastinate retries failed jobs only (procrastinate_retry_job_v2): \
                 scheduled, retrying and cancelled jobs keep their state."
                    .into(),
            );
        }
        Ok(plan)
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        kit::apply_jobs(pool, &self.jobs, step).await
    }
}
