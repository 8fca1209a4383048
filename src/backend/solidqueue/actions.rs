//! Solid Queue's actions, as Mission Control Jobs (Rails' admin for it) carries them out
//! through Solid Queue's own models, one conditional statement per batch:
//!
//! - retry (`SolidQueue::FailedExecution.retry_all`, Mission Control's "Retry all"): a
//!   failed job's failed execution is deleted and the job dispatched as `Job.dispatch_all`
//!   does: a job without a concurrency key gets a ready execution (queue and priority
//!   from the job); one with a key goes through its semaphore, whose limit only the job's
//!   Ruby class knows, so it gets a blocked execution that expires at once, and Solid
//!   Queue's dispatcher releases it when the semaphore allows (its own path for expired
//!   blocked executions). Like `retry_all`, the job's `executions` counters in its
//!   arguments are left as they are. Only failed jobs are retried.
//! - delete (Mission Control's "Discard" of a failed job, `Execution#discard`): the job
//!   row is deleted; its execution rows go with it (Solid Queue's foreign keys cascade).
//! - pause / resume (`SolidQueue::Queue#pause` / `#resume`): a `solid_queue_pauses` row
//!   for the queue is inserted (once) / deleted; workers skip paused queues when polling.
//! - purge (`SolidQueue::Job.clear_finished_in_batches`): succeeded jobs whose
//!   `finished_at` is before the cutoff, in batches; their execution rows go with them (the
//!   foreign keys cascade). Failed jobs keep no `finished_at` and are not purged.
//! - cancel, discard into dead, reset stuck: not offered (see `mod.rs`).

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use crate::backend::engine::actions::{self as kit, GUARD, IDS, JobTable, SEVERAL_TABLES};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::model::JobState;

/// What a retry does, said in its confirmation.
const RETRY_EFFECT: &str = "They become ready now (a job with a concurrency key waits for its \
     semaphore, blocked); their failed execution goes, and its error with it, as Mission \
     Control's retry does.";

/// The qualified tables the statements write.
pub struct Tables<'a> {
    pub jobs: &'a str,
    pub ready: &'a str,
    pub blocked: &'a str,
    pub failed: &'a str,
    pub pauses: &'a str,
}

/// The retry statement: one CTE deletes the failed executions of the batch's failed jobs
/// (the condition), and the dispatch inserts one execution per job it deleted.
pub fn retry_statement(t: &Tables<'_>) -> String {
    format!(
        "{SEVERAL_TABLES}WITH failed AS ( \
           DELETE FROM {failed} d USING {jobs} j \
           WHERE d.job_id = j.id AND j.id = ANY({IDS}) AND {GUARD} \
           RETURNING j.id, j.queue_name, j.priority, j.concurrency_key), \
         ready AS ( \
           INSERT INTO {ready} (job_id, queue_name, priority, created_at) \
           SELECT f.id, f.queue_name, f.priority, timezone('UTC', now()) FROM failed f \
           WHERE f.concurrency_key IS NULL), \
         blocked AS ( \
           INSERT INTO {blocked} \
             (job_id, queue_name, priority, concurrency_key, expires_at, created_at) \
           SELECT f.id, f.queue_name, f.priority, f.concurrency_key, \
             timezone('UTC', now()), timezone('UTC', now()) FROM failed f \
           WHERE f.concurrency_key IS NOT NULL) \
         SELECT f.id::text FROM failed f",
        failed = t.failed,
        jobs = t.jobs,
        ready = t.ready,
        blocked = t.blocked,
    )
}

#[derive(Debug, Clone)]
pub struct SolidQueueActions {
    pub jobs: JobTable,
    pauses: String,
}

impl SolidQueueActions {
    pub fn new(t: &Tables<'_>, jobs: JobTable) -> SolidQueueActions {
        let mut jobs = jobs;
        jobs.batches = vec![
            (ActionKind::Retry, retry_statement(t)),
            (
                ActionKind::Delete,
                format!(
                    "DELETE FROM {jobs} j WHERE j.id = ANY({IDS}) AND {GUARD} RETURNING j.id",
                    jobs = t.jobs
                ),
            ),
        ];
        jobs.from_states = vec![
            (ActionKind::Retry, vec![JobState::Dead]),
            (ActionKind::Delete, vec![JobState::Dead]),
            // `clear_finished_in_batches` takes jobs with a `finished_at`, which only a
            // success writes; a failed job stays until it is retried or discarded.
            (ActionKind::Purge, vec![JobState::Succeeded]),
        ];
        SolidQueueActions {
            jobs,
            pauses: t.pauses.to_string(),
        }
    }

    async fn plan_pause(
        &self,
        pool: &PgPool,
        action: &Action,
        queue: &str,
    ) -> anyhow::Result<Plan> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {p} p WHERE p.queue_name = $1) AS paused, \
               EXISTS (SELECT 1 FROM {p} p WHERE p.queue_name = $1) \
               OR EXISTS (SELECT 1 FROM {from} WHERE j.queue_name = $1) AS known",
            p = self.pauses,
            from = self.jobs.from,
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(queue)
            .fetch_one(pool)
            .await?;
        if !row.try_get::<bool, _>("known")? {
            anyhow::bail!("there is no queue named `{queue}`");
        }
        let paused: bool = row.try_get("paused")?;
        let mut plan = kit::queue_plan(action, queue, None);
        match (matches!(action, Action::Pause { .. }), paused) {
            (true, true) => {
                plan.eligible = 0;
                plan.note = Some(format!("queue `{queue}` is already paused"));
            }
            (false, false) => {
                plan.eligible = 0;
                plan.note = Some(format!("queue `{queue}` is not paused"));
            }
            _ => {}
        }
        Ok(plan)
    }
}

#[async_trait]
impl SchemaActions for SolidQueueActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        match action {
            Action::Pause { queue, .. } | Action::Resume { queue } => {
                self.plan_pause(pool, action, queue).await
            }
            _ if !self.jobs.offers(action.kind()) => Err(crate::backend::actions::unsupported(
                "solid-queue",
                action.kind(),
            )),
            _ => {
                let mut plan = kit::plan(pool, &self.jobs, action).await?;
                if action.kind() == ActionKind::Retry {
                    plan.effect = Some(RETRY_EFFECT.into());
                }
                if !plan.blocked.is_empty() {
                    plan.note = Some(
                        "Solid Queue (and Mission Control) retry and discard failed jobs only: \
                         jobs in other states keep theirs."
                            .into(),
                    );
                }
                Ok(plan)
            }
        }
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let sql = match &step.plan.action {
            Action::Pause { .. } => format!(
                "INSERT INTO {} (queue_name, created_at) VALUES ($1, timezone('UTC', now())) \
                 ON CONFLICT (queue_name) DO NOTHING",
                self.pauses
            ),
            Action::Resume { .. } => {
                format!("DELETE FROM {} p WHERE p.queue_name = $1", self.pauses)
            }
            _ => return kit::apply_jobs(pool, &self.jobs, step).await,
        };
        let (Action::Pause { queue, .. } | Action::Resume { queue }) = &step.plan.action else {
            unreachable!("matched above");
        };
        let mut tx = pool.begin().await?;
        let n = sqlx::query(AssertSqlSafe(sql))
            .bind(queue)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        kit::commit(tx, step, n, Vec::new(), 1, true).await
    }
}
