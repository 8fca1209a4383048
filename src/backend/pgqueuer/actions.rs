//! PgQueuer's actions, as its own tools do them (its `Queries`, the `pgq requeue` command),
//! one conditional statement per batch, and in the same transaction the row PgQueuer's own
//! call writes to `pgqueuer_log` for each job it changed, so its dashboard, statistics and
//! `job_status` see the change as they would see PgQueuer's.
//!
//! - retry (`requeue_jobs`, `pgq requeue`): a held failed job -> `queued`, due now,
//!   attempts back to 0, no queue manager; logged `queued`. PgQueuer requeues nothing else.
//! - cancel (`mark_job_as_cancelled`): a job not started (`queued`) is deleted and logged
//!   `canceled`. PgQueuer also cancels picked jobs, by a NOTIFY its worker has to honour:
//!   not offered.
//! - delete (as `clear_queue` removes an entrypoint's jobs): a held failed job is deleted
//!   and logged `deleted`.
//! - reset stuck, discard, purge, pause: not offered (see `mod.rs`).
//!
//! Every column written is NOT NULL in PgQueuer's table and gets a value (`now()`, 0, the
//! label), never NULL, except `queue_manager_id`, which PgQueuer itself clears to NULL.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use crate::backend::capabilities::Support;
use crate::backend::engine::actions::{self as kit, GUARD, IDS, JobTable};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::engine::states::StateMap;
use crate::backend::model::{JobId, JobState};

/// What a retry does here, said in its confirmation: not the generic "one more attempt".
const RETRY_EFFECT: &str = "They become queued now with their attempts back to 0, as `pgq \
     requeue` does; their log rows, tracebacks included, are kept.";

/// What the statements need to know of the schema.
pub struct Tables<'a> {
    /// `"schema"."pgqueuer"`.
    pub jobs: &'a str,
    /// `"schema"."pgqueuer_log"`.
    pub log: &'a str,
    /// The status type, qualified.
    pub status_type: &'a str,
    /// The status type has `failed` (held jobs, 1.0 on).
    pub held: bool,
    /// The table counts attempts (retries, 1.0 on).
    pub attempts: bool,
    /// The log keeps tracebacks (where the last error is read).
    pub tracebacks: bool,
}

/// Why a retry or delete is refused where PgQueuer keeps no failed jobs.
pub const NO_HELD: &str = "this PgQueuer schema keeps no failed jobs (its status type has no \
     'failed': PgQueuer before 1.0 deletes a job that failed); nothing to requeue";

#[derive(Debug, Clone)]
pub struct PgQueuerActions {
    pub jobs: JobTable,
    /// `INSERT INTO pgqueuer_log` for changed jobs: `$1` ids, `$2` entrypoints, `$3`
    /// priorities, `$4` the status (text).
    log_insert: String,
}

/// The status PgQueuer logs for a job an action changed.
fn logged_status(kind: ActionKind) -> Option<&'static str> {
    match kind {
        ActionKind::Retry => Some("queued"),
        ActionKind::Cancel => Some("canceled"),
        ActionKind::Delete => Some("deleted"),
        _ => None,
    }
}

impl PgQueuerActions {
    pub fn new(t: &Tables<'_>, states: StateMap) -> PgQueuerActions {
        let jobs = t.jobs;
        let ids = format!("j.id = ANY({IDS})");
        let mut batches = Vec::new();
        if t.held {
            let attempts = if t.attempts { ", attempts = 0" } else { "" };
            batches.push((
                ActionKind::Retry,
                format!(
                    "UPDATE {jobs} j SET status = 'queued', execute_after = now(), \
                       updated = now(), queue_manager_id = NULL{attempts} \
                     WHERE {ids} AND j.status = 'failed' AND {GUARD} RETURNING j.id"
                ),
            ));
            batches.push((
                ActionKind::Delete,
                format!(
                    "DELETE FROM {jobs} j WHERE {ids} AND j.status = 'failed' AND {GUARD} \
                     RETURNING j.id"
                ),
            ));
        }
        batches.push((
            ActionKind::Cancel,
            format!(
                "DELETE FROM {jobs} j WHERE {ids} AND j.status = 'queued' AND {GUARD} \
                 RETURNING j.id"
            ),
        ));
        let log_insert = format!(
            "INSERT INTO {log} (job_id, status, entrypoint, priority) \
             SELECT l.id, CAST($4 AS {status}), l.entrypoint, l.priority \
             FROM unnest(CAST($1 AS bigint[]), CAST($2 AS text[]), CAST($3 AS int[])) \
               AS l(id, entrypoint, priority)",
            log = t.log,
            status = t.status_type,
        );
        PgQueuerActions {
            jobs: JobTable {
                from: format!("{jobs} j"),
                id: "j.id".into(),
                created_at: None,
                id_type: "bigint".into(),
                queue: "j.entrypoint".into(),
                kind: "j.entrypoint".into(),
                states,
                worker: Some("j.queue_manager_id".into()),
                tenant: None,
                // The last failed attempt's exception, from its log row's traceback
                // (PgQueuer's index on the log's (job_id, created)).
                error: t.tracebacks.then(|| {
                    format!(
                        "(SELECT concat_ws(': ', l.traceback ->> 'exception_type', \
                       l.traceback ->> 'exception_message') FROM {log} l \
                     WHERE l.job_id = j.id AND l.traceback IS NOT NULL \
                     ORDER BY l.created DESC, l.id DESC LIMIT 1)",
                        log = t.log
                    )
                }),
                // PgQueuer's heartbeat is per job: a picked job whose heartbeat stopped.
                stale: Some(kit::alive_before("j.heartbeat")),
                batches,
                discard_message: false,
                finished_at: None,
                from_states: vec![
                    (ActionKind::Retry, vec![JobState::Dead]),
                    (ActionKind::Delete, vec![JobState::Dead]),
                    (
                        ActionKind::Cancel,
                        vec![JobState::Ready, JobState::Scheduled, JobState::Retrying],
                    ),
                ],
            },
            log_insert,
        }
    }

    pub fn support(&self, kind: ActionKind) -> Support {
        let why = match kind {
            ActionKind::Retry | ActionKind::Delete => NO_HELD,
            _ => "not offered on this PgQueuer schema",
        };
        self.jobs.support(kind, why)
    }

    pub fn can(&self, kind: ActionKind) -> bool {
        self.jobs.statement(kind).is_some()
    }
}

#[async_trait]
impl SchemaActions for PgQueuerActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        if !self.can(action.kind()) {
            return Err(crate::backend::actions::unsupported(
                "pgqueuer",
                action.kind(),
            ));
        }
        let mut plan = kit::plan(pool, &self.jobs, action).await?;
        if action.kind() == ActionKind::Retry {
            plan.effect = Some(RETRY_EFFECT.into());
        }
        if action.kind() == ActionKind::Retry
            && plan.blocked.iter().any(|(s, _)| *s != JobState::Dead)
        {
            plan.note = Some(
                "PgQueuer requeues held failed jobs only (pgq requeue): waiting jobs keep \
                 their state."
                    .into(),
            );
        }
        Ok(plan)
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let Some(status) = logged_status(step.plan.kind()) else {
            anyhow::bail!("{} is not offered on PgQueuer", step.plan.kind().name());
        };
        let mut tx = pool.begin().await?;
        // The rows are locked before the conditional statement so that what is logged for
        // a deleted job (its entrypoint and priority) is what the statement saw.
        let locked: Vec<(i64, String, i32)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT j.id, j.entrypoint, j.priority FROM {} WHERE j.id = ANY({}) FOR UPDATE",
            self.jobs.from,
            self.jobs.ids_param(1)
        )))
        .bind(JobId::texts(step.ids))
        .fetch_all(&mut *tx)
        .await?;
        let (changed, attempted) = kit::job_batch(&mut tx, &self.jobs, step).await?;
        let logged: Vec<&(i64, String, i32)> = locked
            .iter()
            .filter(|(id, _, _)| changed.contains(&JobId::Int(*id)))
            .collect();
        sqlx::query(AssertSqlSafe(self.log_insert.clone()))
            .bind(logged.iter().map(|r| r.0).collect::<Vec<_>>())
            .bind(logged.iter().map(|r| r.1.clone()).collect::<Vec<_>>())
            .bind(logged.iter().map(|r| r.2).collect::<Vec<_>>())
            .bind(status)
            .execute(&mut *tx)
            .await?;
        let count = changed.len() as u64;
        kit::commit(tx, step, count, changed, attempted, step.last).await
    }
}
