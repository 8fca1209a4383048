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

mod actions;
pub mod schedules;
mod states;

use std::sync::Arc;

use anyhow::bail;
use sqlx::PgPool;

use crate::backend::actions::ActionKind;
use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::engine::drill::{
    self as drill, DrillTable, ErrorHistory, HistoryShape, LaneValues,
};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::prioritized::Prioritized;
use crate::backend::engine::snapshot::{QUEUE_NAMES, Statements};
use crate::backend::oban::actions::ObanActions;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::TimeCol;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "oban";

/// Why Oban shows no throughput as its migrations leave it.
const NO_COMPLETED_INDEX: &str = "Oban has no index on completed_at and its table is over 8 MB: \
     throughput and failure rate are not shown (jobtop doctor names the index)";

/// Opens `oban_jobs` in the prefix schema `prefix`.
pub async fn open(pool: PgPool, prefix: &str) -> anyhow::Result<Foreign> {
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
    let time = |column: &str| TimeCol::new(format!("j.{column}"), jobs.is_naive_timestamp(column));
    let shape = Prioritized {
        table: t.clone(),
        scheduled_at: time("scheduled_at"),
        lanes: LaneValues::SkipScan,
        available: "available",
        scheduled: "scheduled",
        retryable: "retryable",
        running: "executing",
        started_at: time("attempted_at"),
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
        kind: "j.worker",
    };
    let queue_list = format!(
        "SELECT unnest({QUEUE_NAMES}) AS name, NULL::timestamptz AS paused_at, \
         NULL::text AS paused_by, NULL::text AS pause_reason"
    );
    let throughput = jobs.has_index_for("completed_at", &["state"]) || jobs.is_small();
    let statements = Statements {
        queues: Arc::from(shape.queues_sql(&queue_list)),
        queue_names: Some(Arc::from(shape.names_sql())),
        minutes: throughput.then(|| Arc::from(shape.minutes_sql())),
        workers: Some(Arc::from(shape.workers_sql("j.attempted_by[1]"))),
        tallies: Vec::new(),
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
    let mut plan = DoctorPlan {
        tables: vec![TableNeed {
            schema: prefix.to_string(),
            name: "oban_jobs".into(),
            write: vec!["UPDATE", "DELETE"],
        }],
        probes: vec![
            Probe {
                name: "queue counts".into(),
                sql: statements.queues_probe(),
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
            sql: crate::backend::engine::snapshot::minutes_probe(sql),
            binds_cap: false,
            fix: Some(format!(
                "{completed_index} -- and Oban's own (state, discarded_at), (state, cancelled_at)"
            )),
        }),
        None => {
            plan.findings.push(
                Check::new("completions per minute", Status::Warn, NO_COMPLETED_INDEX)
                    .with_fix(completed_index.clone()),
            );
            // What reading them would cost without the index, measured by doctor.
            plan.probes.push(Probe {
                name: "completions per minute, were they read without the index".into(),
                sql: crate::backend::engine::snapshot::minutes_probe(&shape.minutes_sql()),
                binds_cap: false,
                fix: Some(completed_index),
            });
        }
    }
    plan.findings.push(Check::new(
        "pauses",
        Status::Warn,
        "Oban keeps pauses in its nodes' memory: whether a queue is paused is not shown",
    ));
    let states = states::state_map(&shape, &jobs, &labels, &t);
    let actions = ObanActions::new(
        prefix,
        &t,
        &time("scheduled_at"),
        &labels,
        |c| jobs.has(c),
        states,
    );
    let drill = drill_table(&actions, &jobs);
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.support(ActionKind::Retry),
            cancel: actions.support(ActionKind::Cancel),
            discard: actions.support(ActionKind::Discard),
            delete: actions.support(ActionKind::Delete),
            reset_stuck: Support::No(
                "Oban's Lifeline plugin rescues orphaned executing jobs itself",
            ),
            purge: actions.jobs.support(
                ActionKind::Purge,
                "this Oban schema keeps no time of when a job finished",
            ),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause: Support::Yes,
        heartbeats: Support::No("Oban keeps no worker heartbeats in the database"),
        workers: Support::Yes,
        error_history: Support::Yes,
        tenants: Support::No("Oban has no tenants"),
        throughput: Support::when(throughput, NO_COMPLETED_INDEX),
        pause_visible: Support::No(
            "Oban keeps pauses in its nodes' memory: the database does not say whether a \
             queue is paused",
        ),
        failed_attempts: Support::Yes,
        failures: Support::Yes,
    };
    Ok(Foreign {
        name: BACKEND,
        pool,
        statements,
        capabilities,
        doctor: plan,
        drill,
        actions: Box::new(actions),
        kinds: None,
        schema: prefix.to_string(),
        profile: None,
        caches: Default::default(),
    })
}

/// `oban_jobs` for the drill-down: the job table of the actions (its state map included).
/// Every time is naive UTC. `attempted_by` names only the node of the latest attempt, so
/// error entries have no worker.
fn drill_table(actions: &ObanActions, jobs: &TableInfo) -> DrillTable {
    let time = |c: &str| TimeCol::new(format!("j.{c}"), jobs.is_naive_timestamp(c));
    let col = |c: &str| jobs.has(c).then(|| time(c));
    let run_at = time("scheduled_at");
    let finished: Vec<String> = ["completed_at", "discarded_at", "cancelled_at"]
        .into_iter()
        .filter_map(col)
        .map(|c| c.read())
        .collect();
    DrillTable {
        jobs: actions.jobs.clone(),
        priority: Some("j.priority".into()),
        attempts: Some("j.attempt".into()),
        max_attempts: Some("j.max_attempts".into()),
        run_at: Some(run_at.clone()),
        created_at: col("inserted_at"),
        started_at: col("attempted_at"),
        finished_at: (!finished.is_empty()).then(|| format!("coalesce({})", finished.join(", "))),
        heartbeat_at: None,
        payload: Some("j.args".into()),
        payload_binary: false,
        history: Some(ErrorHistory {
            worker: None,
            ..ErrorHistory::json("j.errors", HistoryShape::PgArray, true)
        }),
        lanes: Some(drill::Lanes {
            column: "j.priority".into(),
            values: LaneValues::SkipScan,
        }),
    }
}
