//! good_job's actions, as its dashboard (`GoodJob::JobsController`, through
//! `GoodJob::Job`) carries them out, one conditional statement per batch:
//!
//! - retry: a discarded job (finished with an error) as `retry_job` leaves it: the same
//!   row re-enqueued to run now (`finished_at` and `performed_at` cleared, `scheduled_at`
//!   now, Active Job's `executions` one up in its serialized params, `error_event`
//!   `retried`; the error is kept, as good_job keeps it); a scheduled or retrying job as
//!   `reschedule_job` does: due now. Running jobs are left alone (the dashboard cannot
//!   take their lock either).
//! - discard (`discard_job`): an unfinished job not running -> finished now with
//!   `GoodJob::Job::DiscardJobError: <message>` as its error and `error_event`
//!   `discarded`.
//! - delete (`destroy_job`): a discarded job and its executions (good_job's
//!   `dependent: :delete_all` on them).
//! - pause / resume (`GoodJob::Setting.pause(queue:)` / `unpause`): the queue's name added
//!   to / removed from the `queues` list of the `pauses` setting. good_job's workers skip
//!   paused queues only when `enable_pauses` is on (off by default), which the database
//!   does not say: the plan notes it.
//! - purge (`GoodJob.cleanup_preserved_jobs`): finished jobs, succeeded (and discarded
//!   when asked, its `include_discarded`), whose `finished_at` is before the cutoff, with
//!   their executions, in batches along the id.
//! - cancel, reset stuck: not offered (see `mod.rs`).

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use crate::backend::engine::actions::{
    self as kit, GUARD, IDS, JobTable, PURGEABLE, SEVERAL_TABLES,
};
use crate::backend::engine::foreign::SchemaActions;

/// good_job's `error_event` values (its `ErrorEvents` enum).
const ERROR_EVENT_RETRIED: i16 = 3;
const ERROR_EVENT_DISCARDED: i16 = 5;

/// The note on every pause plan.
const PAUSES_NEED_ENABLING: &str = "good_job's workers skip a paused queue only with \
     enable_pauses on (GOOD_JOB_ENABLE_PAUSES; off by default): its dashboard shows pauses \
     either way";

/// The qualified tables the statements write.
pub struct Tables<'a> {
    pub jobs: &'a str,
    pub executions: &'a str,
    pub settings: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct GoodJobActions {
    pub jobs: JobTable,
    settings: Option<String>,
}

impl GoodJobActions {
    pub fn new(t: &Tables<'_>, jobs: JobTable) -> GoodJobActions {
        let table = t.jobs;
        let now = "timezone('UTC', now())";
        let ids = format!("j.id = ANY({IDS})");
        let discarded = "j.finished_at IS NOT NULL AND j.error IS NOT NULL";
        let executions = "CASE WHEN jsonb_typeof(j.serialized_params -> 'executions') = 'number' \
             THEN (j.serialized_params ->> 'executions')::numeric ELSE 0 END + 1";
        let mut jobs = jobs;
        jobs.batches = vec![
            (
                ActionKind::Retry,
                format!(
                    "UPDATE {table} j SET \
                       scheduled_at = {now}, updated_at = {now}, \
                       finished_at = NULL, performed_at = NULL, \
                       serialized_params = CASE WHEN {discarded} \
                         AND jsonb_typeof(j.serialized_params) = 'object' \
                         THEN jsonb_set(j.serialized_params, '{{executions}}', \
                                        to_jsonb({executions})) \
                         ELSE j.serialized_params END, \
                       error_event = CASE WHEN {discarded} THEN {ERROR_EVENT_RETRIED}::smallint \
                         ELSE j.error_event END \
                     WHERE {ids} \
                       AND (j.finished_at IS NULL AND j.performed_at IS NULL OR {discarded}) \
                       AND {GUARD} RETURNING j.id"
                ),
            ),
            (
                ActionKind::Discard,
                format!(
                    "UPDATE {table} j SET finished_at = {now}, updated_at = {now}, \
                       error = 'GoodJob::Job::DiscardJobError: ' || $2, \
                       error_event = {ERROR_EVENT_DISCARDED}::smallint \
                     WHERE {ids} AND j.finished_at IS NULL AND j.performed_at IS NULL \
                     AND {GUARD} RETURNING j.id"
                ),
            ),
            (
                ActionKind::Delete,
                format!(
                    "{SEVERAL_TABLES}WITH gone AS ( \
                       DELETE FROM {table} j WHERE {ids} AND {discarded} AND {GUARD} \
                       RETURNING j.id), \
                     execs AS ( \
                       DELETE FROM {executions} x USING gone g WHERE x.active_job_id = g.id) \
                     SELECT g.id::text FROM gone g",
                    executions = t.executions
                ),
            ),
            // As `cleanup_preserved_jobs`: finished jobs (discarded ones when asked), the
            // oldest first in bounded batches, and their executions with them.
            (
                ActionKind::Purge,
                format!(
                    "{SEVERAL_TABLES}WITH {pick}, \
                     gone AS (DELETE FROM {table} j USING batch b \
                       WHERE j.id = b.id AND {PURGEABLE} RETURNING j.id), \
                     execs AS ( \
                       DELETE FROM {executions} x USING gone g WHERE x.active_job_id = g.id) \
                     SELECT g.id::text FROM gone g",
                    pick = kit::purge_pick(table, "j.id", "j.id"),
                    executions = t.executions
                ),
            ),
        ];
        jobs.discard_message = true;
        GoodJobActions {
            jobs,
            settings: t.settings.map(str::to_string),
        }
    }

    async fn plan_pause(
        &self,
        pool: &PgPool,
        action: &Action,
        queue: &str,
    ) -> anyhow::Result<Plan> {
        let Some(settings) = &self.settings else {
            anyhow::bail!("this good_job schema has no good_job_settings table");
        };
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {settings} s WHERE s.key = 'pauses' \
                 AND s.value -> 'queues' ? $1) AS paused, \
               EXISTS (SELECT 1 FROM {from} WHERE j.queue_name = $1) AS known",
            from = self.jobs.from,
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(queue)
            .fetch_one(pool)
            .await?;
        let paused: bool = row.try_get("paused")?;
        if !paused && !row.try_get::<bool, _>("known")? {
            anyhow::bail!("there is no queue named `{queue}`");
        }
        let mut plan = kit::queue_plan(action, queue, Some(PAUSES_NEED_ENABLING.into()));
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
impl SchemaActions for GoodJobActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        match action {
            Action::Pause { queue, .. } | Action::Resume { queue } => {
                self.plan_pause(pool, action, queue).await
            }
            _ if self.jobs.statement(action.kind()).is_none() => Err(
                crate::backend::actions::unsupported("good_job", action.kind()),
            ),
            _ => kit::plan(pool, &self.jobs, action).await,
        }
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let (pausing, queue) = match &step.plan.action {
            Action::Pause { queue, .. } => (true, queue),
            Action::Resume { queue } => (false, queue),
            _ => return kit::apply_jobs(pool, &self.jobs, step).await,
        };
        let Some(settings) = &self.settings else {
            anyhow::bail!("this good_job schema has no good_job_settings table");
        };
        let now = "timezone('UTC', now())";
        // Both change the row only when the queue's presence in the list changes.
        let sql = if pausing {
            format!(
                "INSERT INTO {settings} AS s (key, value, created_at, updated_at) \
                 VALUES ('pauses', jsonb_build_object('queues', jsonb_build_array($1::text), \
                   'job_classes', '[]'::jsonb, 'labels', '[]'::jsonb), {now}, {now}) \
                 ON CONFLICT (key) DO UPDATE SET updated_at = {now}, \
                   value = jsonb_set(CASE WHEN jsonb_typeof(s.value) = 'object' THEN s.value \
                       ELSE '{{}}'::jsonb END, '{{queues}}', \
                     CASE WHEN jsonb_typeof(s.value -> 'queues') = 'array' \
                       THEN s.value -> 'queues' ELSE '[]'::jsonb END || to_jsonb($1::text)) \
                 WHERE NOT coalesce(s.value -> 'queues' ? $1, false)"
            )
        } else {
            format!(
                "UPDATE {settings} s SET updated_at = {now}, \
                   value = jsonb_set(s.value, '{{queues}}', \
                     (SELECT coalesce(jsonb_agg(e), '[]'::jsonb) \
                      FROM jsonb_array_elements(s.value -> 'queues') e \
                      WHERE e <> to_jsonb($1::text))) \
                 WHERE s.key = 'pauses' AND jsonb_typeof(s.value -> 'queues') = 'array' \
                   AND s.value -> 'queues' ? $1"
            )
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
