//! River's actions, as River's own client does them (`JobRetry`, `JobCancel`, `JobDelete`,
//! `QueuePause`, `QueueResume`): never touching a running job, and telling running clients
//! about a pause through River's control notification.
//!
//! - retry: not running -> `available`, `scheduled_at = now()`, `finalized_at` cleared,
//!   one more attempt for a job that has used them all; attempts and errors kept.
//! - cancel: ready, scheduled or retrying -> `cancelled`, `finalized_at = now()`. A running
//!   job is left alone (River would ask its client to stop it; jobtop offers nothing that
//!   only pretends to).
//! - discard: ready, scheduled or retrying -> `discarded`, `finalized_at = now()`.
//! - delete: discarded or cancelled jobs.
//! - pause / resume: `river_queue.paused_at` (a row is added for a queue no client has
//!   registered yet), then a notification on `<schema>.river_control` and on the plain
//!   `river_control` older clients listen on.
//! - purge: completed, discarded or cancelled jobs finalized before the cutoff, as River's
//!   job cleaner deletes them (by `finalized_at`, along its (state, finalized_at) index).
//! - reset stuck: not offered; River's rescuer does it.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use async_trait::async_trait;

use crate::backend::engine::actions::{self as kit, GUARD, IDS, JobTable};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::engine::states::StateMap;
use crate::backend::pg::sql::{TimeCol, literal};

/// The River tables the actions use.
#[derive(Debug, Clone)]
pub struct RiverActions {
    pub jobs: JobTable,
    /// `"schema"."river_queue"`, when River is recent enough to have it.
    pub queues: Option<String>,
    job_table: String,
    /// Every label of River's state enum, as a literal list (an index probe per state).
    all_states: String,
    /// Channels River's clients listen on for control messages.
    channels: Vec<String>,
}

impl RiverActions {
    pub fn new(
        schema: &str,
        table: &str,
        queues: Option<String>,
        labels: &[String],
        states: StateMap,
    ) -> RiverActions {
        let live = "j.state NOT IN ('running', 'cancelled', 'completed', 'discarded')";
        let jobs = JobTable {
            from: format!("{table} j"),
            id: "j.id".into(),
            id_type: "bigint".into(),
            created_at: None,
            queue: "j.queue".into(),
            kind: "j.kind".into(),
            states,
            worker: Some("j.attempted_by[array_upper(j.attempted_by, 1)]".into()),
            tenant: None,
            error: Some("(j.errors[array_upper(j.errors, 1)] ->> 'error')".into()),
            stale: None,
            batches: vec![
                (
                    ActionKind::Retry,
                    format!(
                        "UPDATE {table} j SET state = 'available', scheduled_at = now(), \
                         finalized_at = NULL, max_attempts = CASE WHEN j.attempt >= j.max_attempts \
                         THEN j.attempt + 1 ELSE j.max_attempts END \
                         WHERE j.id = ANY({IDS}) AND j.state <> 'running' AND {GUARD} RETURNING j.id"
                    ),
                ),
                (
                    ActionKind::Cancel,
                    format!(
                        "UPDATE {table} j SET state = 'cancelled', finalized_at = now() \
                         WHERE j.id = ANY({IDS}) AND {live} AND {GUARD} RETURNING j.id"
                    ),
                ),
                (
                    ActionKind::Discard,
                    format!(
                        "UPDATE {table} j SET state = 'discarded', finalized_at = now() \
                         WHERE j.id = ANY({IDS}) AND {live} AND {GUARD} RETURNING j.id"
                    ),
                ),
                (
                    ActionKind::Delete,
                    format!(
                        "DELETE FROM {table} j WHERE j.id = ANY({IDS}) \
                         AND j.state IN ('discarded', 'cancelled') AND {GUARD} RETURNING j.id"
                    ),
                ),
            ],
            discard_message: false,
            finished_at: Some(TimeCol::new("j.finalized_at", false)),
            from_states: Vec::new(),
        };
        RiverActions {
            jobs,
            queues,
            job_table: table.to_string(),
            all_states: labels
                .iter()
                .map(|l| literal(l))
                .collect::<Vec<_>>()
                .join(", "),
            channels: vec![format!("{schema}.river_control"), "river_control".into()],
        }
    }

    async fn plan_pause(
        &self,
        pool: &PgPool,
        action: &Action,
        queue: &str,
    ) -> anyhow::Result<Plan> {
        let Some(rq) = &self.queues else {
            anyhow::bail!("this River schema has no river_queue table");
        };
        // Every state listed, so River's (state, queue, ...) index answers the probe.
        let sql = format!(
            "SELECT (SELECT q.paused_at FROM {rq} q WHERE q.name = $1) AS paused_at, \
               EXISTS (SELECT 1 FROM {rq} q WHERE q.name = $1) \
               OR EXISTS (SELECT 1 FROM {t} j WHERE j.state IN ({all}) \
                          AND j.queue = $1) AS known",
            t = self.job_table,
            all = self.all_states,
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(queue)
            .fetch_one(pool)
            .await?;
        let known: bool = row.try_get("known")?;
        if !known {
            anyhow::bail!("there is no queue named `{queue}`");
        }
        let paused_at: Option<DateTime<Utc>> = row.try_get("paused_at")?;
        let mut plan = kit::queue_plan(action, queue, None);
        match (matches!(action, Action::Pause { .. }), paused_at) {
            (true, Some(at)) => {
                plan.eligible = 0;
                plan.note = Some(format!(
                    "queue `{queue}` is already paused (since {})",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ));
            }
            (false, None) => {
                plan.eligible = 0;
                plan.note = Some(format!("queue `{queue}` is not paused"));
            }
            _ => {}
        }
        Ok(plan)
    }
}

#[async_trait]
impl SchemaActions for RiverActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        match action {
            Action::Pause { queue, .. } | Action::Resume { queue } => {
                self.plan_pause(pool, action, queue).await
            }
            _ => kit::plan(pool, &self.jobs, action).await,
        }
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let (pausing, queue) = match &step.plan.action {
            Action::Pause { queue, .. } => (true, queue),
            Action::Resume { queue } => (false, queue),
            _ => return kit::apply_jobs(pool, &self.jobs, step).await,
        };
        let Some(rq) = &self.queues else {
            anyhow::bail!("this River schema has no river_queue table");
        };
        let sql = if pausing {
            format!(
                "INSERT INTO {rq} AS q (name, paused_at, updated_at) VALUES ($1, now(), now()) \
                 ON CONFLICT (name) DO UPDATE SET paused_at = now(), updated_at = now() \
                 WHERE q.paused_at IS NULL"
            )
        } else {
            format!(
                "UPDATE {rq} q SET paused_at = NULL, updated_at = now() \
                 WHERE q.name = $1 AND q.paused_at IS NOT NULL"
            )
        };
        let mut tx = pool.begin().await?;
        let n = sqlx::query(AssertSqlSafe(sql))
            .bind(queue)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            // Sent at commit, with the audit row: clients act at once instead of at their
            // next poll of river_queue.
            sqlx::query(
                "SELECT pg_notify(c, json_build_object('action', $2::text, 'queue', $1::text)::text) \
                 FROM unnest($3::text[]) AS c",
            )
            .bind(queue)
            .bind(if pausing { "pause" } else { "resume" })
            .bind(&self.channels)
            .execute(&mut *tx)
            .await?;
        }
        kit::commit(tx, step, n, Vec::new(), 1, true).await
    }
}
