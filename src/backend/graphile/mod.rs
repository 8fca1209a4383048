//! graphile-worker (Node.js): the `graphile_worker` schema (or the one it was configured
//! with). From version 0.16 the tables are `_private_jobs`, `_private_tasks` and
//! `_private_job_queues` (with a `jobs` view over them); 0.13 to 0.15 named them `jobs`,
//! `tasks` and `job_queues`. Older layouts are not read.
//!
//! graphile-worker has no state column; states are derived from columns:
//! locked (`locked_at` set) -> running; attempts exhausted (`attempts >= max_attempts`, not
//! locked) -> dead; otherwise ready when `run_at` has come, else retrying when it has been
//! attempted before, else scheduled. Completed jobs are deleted, and nothing is ever
//! cancelled, so those buckets and completions per minute do not exist.
//!
//! Its "queues" are serialisation lanes (often one per entity), and most jobs have none; the
//! monitor groups by task identifier instead, which is what an operator asks about. No
//! pause, no heartbeats; workers are the `locked_by` ids of running jobs; only the last
//! error is kept. Actions go through graphile's own admin functions (`graphile_actions`).

mod actions;
pub mod schedules;
mod states;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use crate::backend::actions::ActionKind;
use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::engine::drill::{DrillTable, time_column};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::Statements;
use crate::backend::engine::tally::{Tally, every_unless_small};
use crate::backend::graphile::actions::{self as admin, GraphileActions, Tables};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "graphile-worker";

/// How often the waiting jobs are counted for every task where no index holds them by task.
const WAITING_EVERY: Duration = Duration::from_secs(15);

/// Opens the graphile-worker tables in `schema` (`graphile_worker` by default).
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let (jobs_name, tasks_name, queues_name) = if TableInfo::load(&pool, schema, "_private_jobs")
        .await?
        .is_some()
    {
        ("_private_jobs", "_private_tasks", "_private_job_queues")
    } else {
        ("jobs", "tasks", "job_queues")
    };
    let Some(jobs) = TableInfo::load(&pool, schema, jobs_name).await? else {
        bail!("no graphile-worker jobs table in schema {schema}");
    };
    if !jobs.has("is_available") || !jobs.has("task_id") {
        bail!(
            "{schema}.{jobs_name} predates graphile-worker 0.13 (no task_id / is_available); \
             upgrade graphile-worker or describe the table with a profile"
        );
    }
    let Some(tasks) = TableInfo::load(&pool, schema, tasks_name).await? else {
        bail!("no {tasks_name} table in schema {schema}");
    };
    let t = jobs.qualified();
    let from = format!("{t} j");
    let states = states::state_map(&jobs);
    // graphile's own indexes hold the waiting jobs by (priority, run_at), with no task to
    // seek on: per task, each count walked every available job (11.5 s a poll at 10 M
    // rows). Without an index by task, the waiting jobs are counted for every task in one
    // pass over graphile's own index on the slower clock (a tally); with doctor's,
    // as capped ranges of it every poll (scheduled and retrying as piles, estimated past
    // the pile cap).
    let waiting_indexed = jobs.has_index_where("task_id", &[], |p| {
        p.is_none_or(|p| p.contains("is_available = true"))
    });
    let waiting_fix = format!(
        "CREATE INDEX CONCURRENTLY jobs_jobtop_waiting ON {t} (task_id, run_at) \
         INCLUDE (attempts) WHERE is_available = true;"
    );
    let count = |state| {
        states
            .capped_count(state, &from, "j.task_id = q.id")
            .unwrap_or_else(|| "0::bigint".into())
    };
    let pile = |state| {
        states
            .pile_count(state, &from, "j.task_id = q.id")
            .unwrap_or_else(|| "0::bigint".into())
    };
    let cond = |state| states.condition(state).unwrap_or_else(|| "false".into());
    let (ready, scheduled, retrying, oldest_ready) = if waiting_indexed {
        (
            count(JobState::Ready),
            pile(JobState::Scheduled),
            pile(JobState::Retrying),
            format!(
                "(SELECT min(j.run_at) FROM {from} WHERE {} AND j.task_id = q.id)",
                cond(JobState::Ready)
            ),
        )
    } else {
        let zero = || "0::bigint".to_string();
        (zero(), zero(), zero(), "NULL::timestamptz".into())
    };
    let tallies = if waiting_indexed {
        Vec::new()
    } else {
        vec![Tally {
            sql: Arc::from(format!(
                "SELECT q.identifier::text AS name, \
                   count(*) FILTER (WHERE {ready}) AS ready, \
                   count(*) FILTER (WHERE {scheduled}) AS scheduled, \
                   count(*) FILTER (WHERE {retrying}) AS retrying, \
                   min(j.run_at) FILTER (WHERE {ready}) AS oldest_ready_at \
                 FROM {from} JOIN {tasks} q ON q.id = j.task_id \
                 WHERE j.is_available = true GROUP BY 1",
                ready = cond(JobState::Ready),
                scheduled = cond(JobState::Scheduled),
                retrying = cond(JobState::Retrying),
                tasks = tasks.qualified(),
            )),
            every: every_unless_small(&jobs, WAITING_EVERY),
            // Waiting jobs, not a dead pile: no estimate stands in for this pass.
            estimate_first: false,
            bitmap_scan: false,
        }]
    };
    // Running and dead per task. With doctor's two indexes on the jobs that are not
    // available, each is a range by task: the running ones (locked, a few hundred) counted,
    // the dead ones (a month of them) counted to the pile cap and estimated past it. As
    // graphile ships, no index holds either: one read of the jobs that are not available
    // (its two conditions are those of the state map's running and dead buckets:
    // graphile's `is_available` is "not locked and attempts left") finds both and the
    // longest-running job, the oldest lock.
    let locked_indexed = jobs.has_index_where("task_id", &[], |p| {
        p.is_some_and(|p| p.contains("locked_at IS NOT NULL"))
    });
    let held_indexed = jobs.has_index_where("task_id", &[], |p| {
        p.is_some_and(|p| p.contains("is_available = false"))
    });
    let by_range = locked_indexed && held_indexed;
    let (held_cte, running, dead, oldest_running) = if by_range {
        (
            String::new(),
            count(JobState::Running),
            pile(JobState::Dead),
            format!(
                "(SELECT min(j.locked_at) FROM {from} WHERE {} AND j.task_id = q.id)",
                cond(JobState::Running)
            ),
        )
    } else {
        (
            format!(
                "WITH held AS MATERIALIZED ( \
                   SELECT j.task_id, \
                     count(*) FILTER (WHERE j.locked_at IS NOT NULL) AS running, \
                     count(*) FILTER (WHERE j.locked_at IS NULL) AS dead, \
                     min(j.locked_at) AS oldest_running \
                   FROM {from} WHERE j.is_available = false GROUP BY j.task_id) "
            ),
            "coalesce(h.running, 0)".into(),
            "coalesce(h.dead, 0)".into(),
            "h.oldest_running".into(),
        )
    };
    let held_join = if by_range {
        ""
    } else {
        " LEFT JOIN held h ON h.task_id = q.id"
    };
    let queues_sql = format!(
        "{held_cte}\
         SELECT q.identifier AS name, NULL::timestamptz AS paused_at, NULL::text AS paused_by, \
           NULL::text AS pause_reason, \
           {ready} AS ready, {scheduled} AS scheduled, {retrying} AS retrying, \
           {running} AS running, {dead} AS dead, \
           {oldest_ready} AS oldest_ready_at, {oldest_running} AS oldest_running_at \
         FROM {tasks} q{held_join} ORDER BY q.identifier",
        tasks = tasks.qualified(),
    );
    // Workers are the lock holders: on doctor's index of locked jobs, a few hundred rows.
    let workers_sql = format!(
        "SELECT j.locked_by AS id, NULL::text AS host, NULL::int AS pid, \
           array_agg(DISTINCT q.identifier ORDER BY q.identifier) AS queues, \
           NULL::timestamptz AS started_at, NULL::timestamptz AS last_heartbeat_at, \
           count(*) AS running_jobs \
         FROM {from} JOIN {tasks} q ON q.id = j.task_id \
         WHERE j.locked_at IS NOT NULL AND j.locked_by IS NOT NULL \
         GROUP BY j.locked_by ORDER BY j.locked_by",
        tasks = tasks.qualified(),
    );
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: None,
        minutes: None,
        workers: Some(Arc::from(workers_sql)),
        tallies,
    };
    let held_fix = format!(
        "CREATE INDEX CONCURRENTLY jobs_jobtop_locked ON {t} (task_id, locked_at) \
         WHERE locked_at IS NOT NULL; \
         CREATE INDEX CONCURRENTLY jobs_jobtop_held ON {t} (task_id) WHERE is_available = false;"
    );
    let version: Option<i32> = match TableInfo::load(&pool, schema, "migrations").await? {
        Some(m) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT max(id) FROM {}",
                m.qualified()
            )))
            .fetch_one(&pool)
            .await?
        }
        None => None,
    };
    let job_queues = TableInfo::load(&pool, schema, queues_name).await?;
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT p.proname::text FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = $1 AND p.proname = ANY($2)",
    )
    .bind(schema)
    .bind(admin::FUNCTIONS.map(|(name, _)| name).to_vec())
    .fetch_all(&pool)
    .await?;
    let actions = GraphileActions::new(
        &Tables {
            schema,
            jobs: &t,
            tasks: &tasks.qualified(),
            job_queues: job_queues.as_ref().map(|q| q.qualified()).as_deref(),
        },
        &functions,
        states,
    );
    let mut plan = DoctorPlan {
        tables: vec![
            TableNeed {
                schema: schema.to_string(),
                name: jobs_name.into(),
                write: vec!["UPDATE", "DELETE"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: tasks_name.into(),
                write: vec![],
            },
        ],
        probes: vec![
            Probe {
                name: "queue counts".into(),
                sql: statements.queues_probe(),
                binds_cap: true,
                fix: Some(held_fix.clone()),
            },
            Probe {
                name: "workers".into(),
                sql: statements.workers.clone().expect("workers statement"),
                binds_cap: false,
                fix: Some(held_fix),
            },
        ],
        jobs_tables: vec![(schema.to_string(), jobs_name.into())],
        state_column: Some("is_available".into()),
        findings: vec![
            Check::new(
                "schema version",
                Status::Ok,
                format!(
                    "graphile-worker migration {}",
                    version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ),
            ),
            Check::new(
                "completions per minute",
                Status::Ok,
                "graphile-worker deletes completed jobs: no throughput history to show",
            ),
        ],
    };
    for tally in &statements.tallies {
        plan.probes.push(tally.probe(Some(waiting_fix.clone())));
    }
    if !waiting_indexed {
        plan.findings.push(
            Check::new(
                "waiting counts",
                Status::Warn,
                "graphile-worker indexes its waiting jobs by priority and run time, not by \
                 task: they are counted for every task in one pass every 15 s (shown with ~ \
                 in between), not each poll",
            )
            .with_fix(waiting_fix),
        );
    }
    let missing: Vec<&str> = admin::FUNCTIONS
        .iter()
        .filter(|(_, kind)| !actions.can(*kind))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        plan.findings.push(Check::new(
            "admin functions",
            Status::Warn,
            format!(
                "no {} in schema {schema} (graphile-worker older than 0.16?): \
                 the actions that need them are not offered",
                missing.join(", ")
            ),
        ));
    }
    if actions.can(ActionKind::ResetStuck)
        && let Some(q) = &job_queues
    {
        plan.tables.push(TableNeed {
            schema: schema.to_string(),
            name: q.name.clone(),
            write: vec!["UPDATE"],
        });
    }
    let drill = drill_table(&actions, &jobs);
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.support(ActionKind::Retry),
            cancel: Support::No(
                "graphile-worker has no cancelled state: discard (D, or `jobtop discard`) \
                 fails the jobs permanently instead",
            ),
            discard: actions.support(ActionKind::Discard),
            delete: actions.support(ActionKind::Delete),
            reset_stuck: actions.support(ActionKind::ResetStuck),
            purge: Support::No("graphile-worker deletes completed jobs itself"),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause: Support::No("graphile-worker has no pause"),
        heartbeats: Support::No("graphile-worker keeps no worker heartbeats"),
        workers: Support::Yes,
        error_history: Support::No("graphile-worker keeps only the last error"),
        tenants: Support::No("graphile-worker has no tenants"),
        throughput: Support::No(
            "graphile-worker deletes jobs when they complete: there is no history to count",
        ),
        pause_visible: Support::No("graphile-worker has no pause"),
        failed_attempts: Support::No(
            "graphile-worker keeps no time of the attempts that were retried",
        ),
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
        schema: schema.to_string(),
        profile: None,
        caches: Default::default(),
    })
}

/// The jobs table for the drill-down: waiting jobs by their run time, running ones by when
/// they were locked, dead ones by their last change (the final failure). Completed jobs are
/// deleted, so nothing is finished; only the last error is kept.
fn drill_table(actions: &GraphileActions, jobs: &TableInfo) -> DrillTable {
    let time = |c: &str| time_column(jobs, c);
    DrillTable {
        jobs: actions.jobs.clone(),
        priority: jobs.has("priority").then(|| "j.priority".into()),
        attempts: Some("j.attempts".into()),
        max_attempts: Some("j.max_attempts".into()),
        run_at: time("run_at"),
        created_at: time("created_at"),
        started_at: time("locked_at"),
        finished_at: None,
        heartbeat_at: None,
        payload: jobs.has("payload").then(|| "j.payload".into()),
        payload_binary: false,
        history: None,
        lanes: None,
    }
}
