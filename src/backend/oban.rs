//! Oban (Elixir): `oban_jobs` in its prefix schema (`public` by default, any schema with the
//! `prefix` option).
//!
//! States map onto the display buckets as: `available` -> ready; `scheduled` -> scheduled, or
//! ready once due (Oban's stager moves it within a second); `retryable` -> retrying, or ready
//! once due; `suspended` (held back, newer Oban) -> scheduled; `executing` -> running;
//! `discarded` -> dead; `completed` -> succeeded; `cancelled` -> cancelled.
//!
//! Ecto stores UTC in `timestamp without time zone`; every time column is read as UTC.
//! Oban keeps a paused queue in its nodes' memory (a pause is a `signal` notification), so
//! whether a queue is paused cannot be read from the database. Workers are the nodes named
//! first in the executing jobs' `attempted_by`; there are no heartbeats. `completed_at` has
//! no index in Oban's own migrations, so completions per minute appear only once one exists.

use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;
use sqlx::PgPool;

use super::actions::{
    Action, ActionCapabilities, ActionKind, AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep,
};
use super::doctor::{Check, Plan, Probe, Status, TableNeed};
use super::foreign_actions as kit;
use super::model::{JobId, JobState};
use super::oban_actions::ObanActions;
use super::prioritized::{Lanes, Prioritized};
use super::sqlkit::{self, Statements, TableInfo, TimeCol};
use super::{Backend, Capabilities, Snapshot, SnapshotOptions};

pub struct ObanBackend {
    pool: PgPool,
    actions: ObanActions,
    statements: Statements,
    capabilities: Capabilities,
    plan: Plan,
}

impl ObanBackend {
    /// Opens `oban_jobs` in the prefix schema `prefix`.
    pub async fn open(pool: PgPool, prefix: &str) -> anyhow::Result<ObanBackend> {
        let Some(jobs) = TableInfo::load(&pool, prefix, "oban_jobs").await? else {
            bail!("no oban_jobs table in schema {prefix}");
        };
        let t = jobs.qualified();
        let labels: Vec<String> = sqlx::query_scalar(
            "SELECT e.enumlabel::text FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid \
             WHERE a.attrelid = format('%I.%I', $1::text, 'oban_jobs')::regclass AND a.attname = 'state'",
        )
        .bind(prefix)
        .fetch_all(&pool)
        .await?;
        let time =
            |column: &str| TimeCol::new(format!("j.{column}"), jobs.is_naive_timestamp(column));
        let shape = Prioritized {
            table: t.clone(),
            scheduled_at: time("scheduled_at"),
            lanes: Lanes::SkipScan,
            available: "available",
            scheduled: "scheduled",
            retryable: "retryable",
            running: "executing",
            discarded: "discarded",
            waiting: labels
                .iter()
                .any(|l| l == "suspended")
                .then_some("suspended")
                .into_iter()
                .collect(),
            // Older Oban lacks `discarded_at` / `cancelled_at` (and the `cancelled` state).
            finished: [
                ("completed", "completed_at"),
                ("discarded", "discarded_at"),
                ("cancelled", "cancelled_at"),
            ]
            .into_iter()
            .filter(|(state, column)| jobs.has(column) && labels.iter().any(|l| l == state))
            .map(|(state, column)| (state, time(column)))
            .collect(),
            succeeded: "completed",
        };
        let queue_list = "SELECT DISTINCT p.queue AS name, NULL::timestamptz AS paused_at, \
                          NULL::text AS paused_by, NULL::text AS pause_reason FROM pairs p";
        let throughput = jobs.has_index_for("completed_at", &["state"]);
        let statements = Statements {
            queues: Arc::from(shape.queues_sql(queue_list)),
            minutes: throughput.then(|| Arc::from(shape.minutes_sql())),
            workers: Some(Arc::from(shape.workers_sql("j.attempted_by[1]"))),
        };
        let fetch_index = format!(
            "CREATE INDEX CONCURRENTLY oban_jobs_state_queue_priority_scheduled_at_id_index ON {t} \
             (state, queue, priority, scheduled_at, id);"
        );
        let completed_index = format!(
            "CREATE INDEX CONCURRENTLY oban_jobs_state_completed_at_index ON {t} (state, completed_at);"
        );
        let version: Option<String> = sqlx::query_scalar(
            "SELECT obj_description(format('%I.%I', $1::text, 'oban_jobs')::regclass, 'pg_class')",
        )
        .bind(prefix)
        .fetch_one(&pool)
        .await?;
        let mut plan = Plan {
            tables: vec![TableNeed {
                schema: prefix.to_string(),
                name: "oban_jobs".into(),
                write: vec!["UPDATE", "DELETE"],
            }],
            probes: vec![
                Probe {
                    name: "queue counts".into(),
                    sql: statements.queues.clone(),
                    binds_cap: true,
                    fix: Some(fetch_index.clone()),
                },
                Probe {
                    name: "workers".into(),
                    sql: statements.workers.clone().expect("workers statement"),
                    binds_cap: false,
                    fix: Some(fetch_index),
                },
            ],
            jobs_tables: vec![(prefix.to_string(), "oban_jobs".into())],
            state_column: Some("state".into()),
            findings: vec![Check::new(
                "schema version",
                Status::Ok,
                format!("Oban migration {}", version.as_deref().unwrap_or("unknown")),
            )],
        };
        match &statements.minutes {
            Some(sql) => plan.probes.push(Probe {
                name: "completions per minute".into(),
                sql: sql.clone(),
                binds_cap: false,
                fix: Some(format!(
                    "{completed_index} -- and Oban's own (state, discarded_at), (state, cancelled_at)"
                )),
            }),
            None => plan.findings.push(
                Check::new(
                    "completions per minute",
                    Status::Warn,
                    "Oban has no index on completed_at: throughput and failure rate are not shown",
                )
                .with_fix(completed_index),
            ),
        }
        plan.findings.push(Check::new(
            "pauses",
            Status::Warn,
            "Oban keeps pauses in its nodes' memory: whether a queue is paused is not shown",
        ));
        let actions = ObanActions::new(prefix, &t, &time("scheduled_at"), &labels, |c| jobs.has(c));
        let capabilities = Capabilities {
            actions: ActionCapabilities {
                retry: actions.can(ActionKind::Retry),
                cancel: actions.can(ActionKind::Cancel),
                discard: actions.can(ActionKind::Discard),
                delete: actions.can(ActionKind::Delete),
                reset_stuck: false,
                purge: false,
                audit: kit::audit_table(&pool).await?,
            },
            pause: true,
            heartbeats: false,
            workers: true,
            error_history: true,
            tenants: false,
            throughput,
            pause_visible: false,
            failed_attempts: true,
        };
        Ok(ObanBackend {
            pool,
            actions,
            statements,
            capabilities,
            plan,
        })
    }
}

#[async_trait]
impl Backend for ObanBackend {
    fn name(&self) -> &'static str {
        "oban"
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        sqlkit::snapshot(&self.pool, &self.statements, opts).await
    }

    fn doctor_plan(&self) -> Plan {
        self.plan.clone()
    }

    async fn plan_action(&self, action: &Action) -> anyhow::Result<super::Plan> {
        self.actions.plan(&self.pool, action).await
    }

    async fn apply_batch(&self, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        self.actions.apply(&self.pool, step).await
    }

    async fn finish_audit(&self, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        kit::finish_audit(&self.pool, end).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        kit::audit_log(&self.pool, filter).await
    }

    async fn job_states(&self, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        kit::job_states(&self.pool, &self.actions.jobs, ids).await
    }
}
