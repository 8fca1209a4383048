//! pg-boss's actions, as pg-boss's own API does them (`retry`, `resume`, `cancel`,
//! `deleteJob`, version 10 on), on uuid-keyed jobs.
//!
//! - retry: a dead job (`failed`) -> `retry` with `completed_on` cleared, as pg-boss's
//!   `retry` does, and one more attempt: pg-boss always adds one to `retry_limit`; jobtop
//!   raises it to `retry_count + 1` only where the job has used its attempts, which comes to
//!   the same for a job that failed on its last attempt, while one pg-boss sent to its
//!   dead-letter queue early keeps the attempts it had left. A cancelled job -> `created`, as
//!   pg-boss's `resume` does. A retrying or
//!   scheduled job keeps its state. All of them become due now (`start_after = now()`): a
//!   retry in jobtop means "run it now", and a job resumed with its old `start_after` would
//!   show in the oldest-ready age as if it had waited since before it was cancelled.
//!   `keep_until` slides with `start_after` by the job's own retention window, as pg-boss's
//!   `updateJob` does when it moves `start_after`: pg-boss's maintenance deletes a waiting job
//!   past its `keep_until`, so a job retried weeks after it was created would otherwise be
//!   deleted before it ran. A job waiting on other jobs (`blocked`) keeps waiting for them;
//!   the retry only drops its wait for time. The dead-letter copy pg-boss made of a failed
//!   job stays where it is (pg-boss's retry leaves it too).
//! - cancel: ready, scheduled or retrying (`created`, `retry`) -> `cancelled`,
//!   `completed_on = now()`. pg-boss also cancels `active` jobs, in the row only: the worker
//!   is not told, runs on, and its result is dropped. jobtop refuses running jobs instead.
//! - delete: dead or cancelled jobs, as `deleteJob` does.
//! - purge: completed, failed or cancelled jobs whose `completed_on` is before the cutoff,
//!   as pg-boss's maintenance deletes finished jobs past their retention (11 on; 10 moves
//!   them to its `archive` table first, which purge does not touch). Through the parent
//!   `job`, keyed by (name, id), so partitions are included.
//! - discard, pause, reset stuck: not offered (see `actions::schema_reason`).
//!
//! Every statement finds a job by its queue and id, the key of pg-boss's `job` (a table
//! partitioned by queue name, or a plain table with primary key (name, id)); an id alone
//! cannot use that key and reads every job. Measured on 2 M jobs in 203 queues (40 with a
//! partition of their own, 163 sharing pg-boss's default partition), PostgreSQL 15:
//! - a plan by ids, which knows no queue, joins through `queue`: one probe of the (name, id)
//!   key per queue, each pruned at run time to that queue's partition: 4 to 14 ms for 3 ids,
//!   where the id alone read the whole table in 145 ms;
//! - a plan by queue and state reads that queue's jobs through the same key (pg-boss has no
//!   index on state for failed or cancelled jobs): 45 ms for a queue of 11,000 jobs;
//! - a batch names the queues its plan saw (`{queues}`, bound as a parameter), so it probes
//!   those queues only: 13 to 17 ms for 1,000 ids of one queue, in custom and generic plans
//!   alike (`j.name = ANY($2)` on the job table itself is not pruned in a generic plan: 51 ms);
//! - a plan whose jobs span more queues than it lists (`PLAN_NAMES`) leaves `{queues}` NULL and
//!   each batch joins every queue: a probe per queue or a scan of the table, whichever the
//!   planner finds cheaper; 150 to 410 ms a batch of 1,000 here.
//!
//! Changing jobs one by one can break a queue's policy (pg-boss's unique indexes on singleton
//! keys, e.g. two cancelled `stately` jobs resumed together): the batch then fails whole, as
//! pg-boss's own call would, and says why.

use sqlx::PgPool;

use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, JobTarget, Plan};
use crate::backend::capabilities::Support;
use async_trait::async_trait;

use crate::backend::engine::actions::{
    self as kit, GUARD, IDS, JobTable, PURGEABLE, QUEUES, SEVERAL_TABLES,
};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::engine::states::StateMap;
use crate::backend::engine::states::time_column;
use crate::backend::pg::catalog::TableInfo;

#[derive(Debug, Clone)]
pub struct PgBossActions {
    pub jobs: JobTable,
}

impl PgBossActions {
    /// `jobs` and `queues` are pg-boss's `job` and `queue` tables.
    pub fn new(jobs: &TableInfo, queues: &TableInfo, states: StateMap) -> PgBossActions {
        let job = jobs.qualified();
        let queue = queues.qualified();
        // Each id under its queue: the plan's queues, or every queue when it saw too many
        // to list.
        let keyed = format!(
            "j.name = q.name AND ({QUEUES} IS NULL OR q.name = ANY({QUEUES})) AND j.id = ANY({IDS})"
        );
        let slide = if jobs.has("keep_until") {
            ", keep_until = now() + (j.keep_until - j.start_after)"
        } else {
            ""
        };
        let batches = vec![
            (
                ActionKind::Retry,
                format!(
                    "UPDATE {job} j SET \
                       state = CASE j.state WHEN 'failed' THEN 'retry' \
                         WHEN 'cancelled' THEN 'created' ELSE j.state END, \
                       retry_limit = CASE WHEN j.state = 'failed' \
                         THEN greatest(j.retry_limit, j.retry_count + 1) ELSE j.retry_limit END, \
                       completed_on = NULL, start_after = now(){slide} \
                     FROM {queue} q WHERE {keyed} \
                     AND j.state IN ('created', 'retry', 'failed', 'cancelled') AND {GUARD} \
                     RETURNING j.id"
                ),
            ),
            (
                ActionKind::Cancel,
                format!(
                    "UPDATE {job} j SET state = 'cancelled', completed_on = now() \
                     FROM {queue} q WHERE {keyed} AND j.state < 'active' AND {GUARD} \
                     RETURNING j.id"
                ),
            ),
            (
                ActionKind::Delete,
                format!(
                    "DELETE FROM {job} j USING {queue} q WHERE {keyed} \
                     AND j.state IN ('failed', 'cancelled') AND {GUARD} RETURNING j.id"
                ),
            ),
            // By (name, id), pg-boss's key, so each row is found in its own partition.
            (
                ActionKind::Purge,
                format!(
                    "{SEVERAL_TABLES}WITH {pick}, \
                     gone AS (DELETE FROM {job} j USING batch b \
                       WHERE j.name = b.name AND j.id = b.id AND {PURGEABLE} RETURNING j.id) \
                     SELECT id::text FROM gone",
                    pick = kit::purge_pick(&job, "j.id", "j.name, j.id"),
                ),
            ),
        ];
        let id_type = jobs
            .columns
            .get("id")
            .cloned()
            .unwrap_or_else(|| "uuid".into());
        PgBossActions {
            jobs: JobTable {
                // Through `queue`, so that a look-up by id probes the (name, id) key of each
                // queue instead of reading every job.
                from: format!("{queue} q JOIN {job} j ON j.name = q.name"),
                id: "j.id".into(),
                id_type,
                // uuids say nothing of age.
                created_at: Some("j.created_on".into()),
                queue: "j.name".into(),
                // A pg-boss queue is one kind of job.
                kind: "j.name".into(),
                states,
                worker: None,
                tenant: None,
                error: Some("coalesce(j.output ->> 'message', j.output::text)".into()),
                stale: heartbeat_stale(jobs),
                batches,
                discard_message: false,
                finished_at: time_column(jobs, "completed_on"),
                from_states: Vec::new(),
            },
        }
    }

    pub fn support(&self, kind: ActionKind) -> Support {
        self.jobs
            .support(kind, "not offered on this pg-boss schema")
    }

    pub fn can(&self, kind: ActionKind) -> bool {
        self.jobs.offers(kind)
    }
}

#[async_trait]
impl SchemaActions for PgBossActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        if !self.can(action.kind()) {
            return Err(crate::backend::actions::unsupported(
                "pg-boss",
                action.kind(),
            ));
        }
        kit::plan(pool, &self.jobs, action).await.map_err(|err| {
            match (action.job_target(), sql_state(&err).as_deref()) {
                // 22P02: invalid text representation (of a uuid).
                (Some(JobTarget::Ids(_)), Some("22P02")) => {
                    anyhow::anyhow!("pg-boss job ids are uuids: {}", db_message(&err))
                }
                _ => err,
            }
        })
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        kit::apply_jobs(pool, &self.jobs, step)
            .await
            .map_err(|err| match sql_state(&err).as_deref() {
                // 23505: a unique index of the queue's policy (one job per singleton key in
                // this state) refused a job's new state.
                Some("23505") => anyhow::anyhow!(
                    "pg-boss's queue policy refused it ({}): another job with the same \
                     singleton key already holds that state; nothing in this batch changed",
                    db_message(&err)
                ),
                _ => err,
            })
    }
}

/// A running job that asked for heartbeats (pg-boss 12.12 on: `heartbeat_seconds` set) and
/// sent none for the stale threshold; until its first beat, its start counts as one. A job
/// without heartbeats cannot be told stuck from slow.
fn heartbeat_stale(jobs: &TableInfo) -> Option<String> {
    (jobs.has("heartbeat_on") && jobs.has("heartbeat_seconds")).then(|| {
        format!(
            "j.state = 'active' AND j.heartbeat_seconds IS NOT NULL AND {}",
            kit::alive_before("coalesce(j.heartbeat_on, j.started_on)")
        )
    })
}

fn database_error(err: &anyhow::Error) -> Option<&dyn sqlx::error::DatabaseError> {
    match err.downcast_ref::<sqlx::Error>()? {
        sqlx::Error::Database(db) => Some(db.as_ref()),
        _ => None,
    }
}

fn sql_state(err: &anyhow::Error) -> Option<String> {
    database_error(err)
        .and_then(|db| db.code())
        .map(|c| c.into_owned())
}

fn db_message(err: &anyhow::Error) -> String {
    database_error(err)
        .map(|db| db.message().to_string())
        .unwrap_or_else(|| err.to_string())
}
