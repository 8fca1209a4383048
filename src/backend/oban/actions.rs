//! Oban's actions, as Oban's own API does them (`retry_job`, `cancel_job`, `delete_job`,
//! `pause_queue`, `resume_queue`). Oban stores UTC in `timestamp without time zone`, so
//! every time written is `timezone('UTC', now())`.
//!
//! - retry: not available or executing -> `available`, `scheduled_at` now, the finish
//!   times cleared, `max_attempts` raised to `attempt + 1` when the job used them all.
//! - cancel: ready, scheduled or retrying -> `cancelled`, `cancelled_at` now (an executing
//!   job is left alone: Oban would signal its node to kill it; jobtop does not).
//! - discard: ready, scheduled or retrying -> `discarded`, `discarded_at` now.
//! - delete: discarded or cancelled jobs.
//! - purge: completed, discarded or cancelled jobs whose own finish time (`completed_at`,
//!   `discarded_at`, `cancelled_at`) is before the cutoff, as Oban's pruner takes them.
//! - pause / resume: Oban's signal notification on `<prefix>.oban_signal`, to every node.
//!   Oban keeps a pause in its nodes' memory: the database cannot say whether a queue is
//!   paused, and a node started later runs it.

use sqlx::PgPool;

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use crate::backend::capabilities::Support;
use async_trait::async_trait;

use crate::backend::engine::actions::{self as kit, GUARD, IDS, JobTable};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::engine::states::StateMap;
use crate::backend::pg::sql::TimeCol;

#[derive(Debug, Clone)]
pub struct ObanActions {
    pub jobs: JobTable,
    /// `<prefix>.oban_signal`.
    channel: String,
}

impl ObanActions {
    /// `table` is the qualified `oban_jobs`; `labels` its state enum's values; `has` says
    /// which columns it has (older Oban lacks `cancelled_at`, `discarded_at`).
    pub fn new(
        prefix: &str,
        table: &str,
        scheduled_at: &TimeCol,
        labels: &[String],
        has: impl Fn(&str) -> bool,
        states: StateMap,
    ) -> ObanActions {
        let label = |l: &str| labels.iter().any(|x| x == l);
        let now = scheduled_at.value("now()");
        let cancelled = label("cancelled");
        let mut cleared = vec!["completed_at = NULL".to_string()];
        for column in ["cancelled_at", "discarded_at"] {
            if has(column) {
                cleared.push(format!("{column} = NULL"));
            }
        }
        let finished = if cancelled {
            "('executing', 'completed', 'discarded', 'cancelled')"
        } else {
            "('executing', 'completed', 'discarded')"
        };
        let mut batches = vec![
            (
                ActionKind::Retry,
                format!(
                    "UPDATE {table} j SET state = 'available', scheduled_at = {now}, \
                     max_attempts = greatest(j.max_attempts, j.attempt + 1), {cleared} \
                     WHERE j.id = ANY({IDS}) AND j.state NOT IN ('available', 'executing') \
                     AND {GUARD} RETURNING j.id",
                    cleared = cleared.join(", ")
                ),
            ),
            (
                ActionKind::Delete,
                format!(
                    "DELETE FROM {table} j WHERE j.id = ANY({IDS}) AND j.state IN ({dead}) \
                     AND {GUARD} RETURNING j.id",
                    dead = if cancelled {
                        "'discarded', 'cancelled'"
                    } else {
                        "'discarded'"
                    }
                ),
            ),
        ];
        if cancelled && has("cancelled_at") {
            batches.push((
                ActionKind::Cancel,
                format!(
                    "UPDATE {table} j SET state = 'cancelled', cancelled_at = {now} \
                     WHERE j.id = ANY({IDS}) AND j.state NOT IN {finished} AND {GUARD} RETURNING j.id"
                ),
            ));
        }
        if has("discarded_at") {
            batches.push((
                ActionKind::Discard,
                format!(
                    "UPDATE {table} j SET state = 'discarded', discarded_at = {now} \
                     WHERE j.id = ANY({IDS}) AND j.state NOT IN {finished} AND {GUARD} RETURNING j.id"
                ),
            ));
        }
        // Each finished state by its own time, as Oban's pruner reads them.
        let ends: Vec<String> = [
            ("completed", "completed_at"),
            ("discarded", "discarded_at"),
            ("cancelled", "cancelled_at"),
        ]
        .into_iter()
        .filter(|(state, column)| label(state) && has(column))
        .map(|(state, column)| format!(" WHEN '{state}' THEN j.{column}"))
        .collect();
        let finished_at = (!ends.is_empty()).then(|| {
            TimeCol::new(
                format!("(CASE j.state::text{} END)", ends.concat()),
                scheduled_at.naive,
            )
        });
        ObanActions {
            jobs: JobTable {
                from: format!("{table} j"),
                id: "j.id".into(),
                id_type: "bigint".into(),
                created_at: None,
                queue: "j.queue".into(),
                kind: "j.worker".into(),
                states,
                worker: Some("j.attempted_by[1]".into()),
                tenant: None,
                error: Some("(j.errors[array_upper(j.errors, 1)] ->> 'error')".into()),
                stale: None,
                batches,
                discard_message: false,
                finished_at,
                from_states: Vec::new(),
            },
            channel: format!("{prefix}.oban_signal"),
        }
    }

    pub fn support(&self, kind: ActionKind) -> Support {
        self.jobs.support(
            kind,
            "this Oban schema has no cancelled_at or discarded_at column for it (Oban before 2.x)",
        )
    }
}

#[async_trait]
impl SchemaActions for ObanActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        match action {
            Action::Pause { queue, .. } | Action::Resume { queue } => Ok(kit::queue_plan(
                action,
                queue,
                Some(
                    "Oban keeps pauses in its nodes' memory: this signals every running node; \
                     the database cannot show whether the queue is paused, and a node started \
                     later is not paused"
                        .into(),
                ),
            )),
            _ => kit::plan(pool, &self.jobs, action).await,
        }
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let (signal, queue) = match &step.plan.action {
            Action::Pause { queue, .. } => ("pause", queue),
            Action::Resume { queue } => ("resume", queue),
            _ => return kit::apply_jobs(pool, &self.jobs, step).await,
        };
        let mut tx = pool.begin().await?;
        // Delivered at commit, together with the audit row; "any" addresses every node.
        sqlx::query(
            "SELECT pg_notify($1, json_build_object('action', $2::text, 'queue', $3::text, \
             'ident', 'any')::text)",
        )
        .bind(&self.channel)
        .bind(signal)
        .bind(queue)
        .execute(&mut *tx)
        .await?;
        kit::commit(tx, step, 1, Vec::new(), 1, true).await
    }
}
