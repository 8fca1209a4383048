//! pg-boss (Node.js), version 10 and later: `job` (partitioned by queue name, or a plain
//! table) and `queue` in the `pgboss` schema (or the schema pg-boss was configured with).
//!
//! States map onto the display buckets as: `created` -> ready when `start_after` has come,
//! else scheduled; `retry` -> ready when due, else retrying; `active` -> running; `failed` ->
//! dead (retries exhausted; pg-boss may also have copied it to a dead-letter queue);
//! `completed` -> succeeded; `cancelled` -> cancelled. Newer versions hold jobs waiting on
//! other jobs (`blocked`): those count as scheduled where an index finds them, else not at
//! all (doctor says so and names the index).
//!
//! pg-boss has no pause and no error history (`output` keeps the last error); its workers
//! are known from 12's `instance` table (one row per PgBoss object, with heartbeats). Retry, cancel and delete work as pg-boss's own calls do (`pgboss_actions`). A
//! retried attempt leaves no failure time, so failures per minute are jobs that failed for
//! good.
//!
//! Versions: 10 partitions `job` by queue name, a partition per queue; 11 and 12 keep
//! ordinary queues in the shared default partition `job_common` and give a queue created
//! with `partition: true` its own; 12.20 on can be installed unpartitioned. pg-boss creates
//! its indexes on each partition, never on the parent (`TableInfo` finds them there). Its
//! fetch index `(name, start_after) WHERE state < 'active'` (10, 11) or `(name, priority,
//! created_on, start_after)` (12) serves the waiting counts; 12's live index `(name, state,
//! blocked, start_after)` serves running, dead and blocked counts, and its `(name,
//! completed_on)` the completions per minute. Before 12 doctor names the indexes to add.
//! Every figure is counted from the rows: pg-boss 11 on also caches per-queue counts in
//! `queue`, refreshed by its supervisor about once a minute, which jobtop never reads (they
//! would show an action's effect a minute late). 12.12 on keeps per-job heartbeats
//! (`heartbeat_on` every `heartbeat_seconds`, where the queue asks for them): a running job
//! not heard from is stuck, and pg-boss's supervisor fails it itself.
//!
//! Several pg-boss schemas may live in one database (12 installed beside 10, which it
//! cannot migrate): detection finds each by its tables and `job_state` enum.

mod actions;
pub mod schedules;
mod states;

use std::sync::Arc;

use anyhow::bail;
use sqlx::PgPool;

use crate::backend::actions::ActionKind;
use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::engine::drill::{DrillTable, time_column};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, Statements, capped, capped_pile, epoch_minute,
};
use crate::backend::engine::tally::Tally;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pgboss::actions::PgBossActions;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "pg-boss";

/// Why pg-boss shows no throughput without the index.
const NO_COMPLETED_INDEX: &str =
    "pg-boss has no index on completed_on: throughput and failure rate are not shown";

/// Opens the pg-boss tables in `schema` (`pgboss` by default).
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let Some(jobs) = TableInfo::load(&pool, schema, "job").await? else {
        bail!("no job table in schema {schema}");
    };
    let Some(queues) = TableInfo::load(&pool, schema, "queue").await? else {
        bail!("no queue table in schema {schema} (pg-boss older than version 10?)");
    };
    let t = jobs.qualified();
    let from = format!("{t} j");
    // Partitioned (pg-boss 10 on, unless installed without partitioning): pg-boss puts
    // its indexes on each partition, which `TableInfo` finds.
    let partitioned = jobs.relkind == "p";
    // CONCURRENTLY is refused on a partitioned parent; there the index is built in one go.
    let how = if partitioned {
        "CREATE INDEX"
    } else {
        "CREATE INDEX CONCURRENTLY"
    };
    let count_fix =
        format!("{how} job_jobtop_live ON {t} (name, state) WHERE state IN ('active', 'failed');");
    let state_map = states::state_map(&jobs, &count_fix);
    let blocked = jobs.has("blocked");
    // The fetch index's predicate, repeated literally so the planner can use it.
    let waiting = if blocked {
        "j.name = q.name AND j.state < 'active' AND NOT j.blocked"
    } else {
        "j.name = q.name AND j.state < 'active'"
    };
    // An index on (name, state), or (state, ...), whose predicate (if any) keeps `state`.
    let serves = |state: &str| {
        jobs.has_index_where("state", &["name"], |p| {
            p.is_none_or(|p| p.contains(&format!("'{state}'")))
        })
    };
    // Jobs waiting on others: counted where an index finds them, pg-boss 12's live index
    // (name, state, blocked, ...) or doctor's own.
    let blocked_indexed = serves("created")
        || jobs.has_index_where("name", &[], |p| {
            p.is_some_and(|p| p.contains("blocked") && !p.contains("NOT blocked"))
        });
    // Every figure is counted from the rows. pg-boss's supervisor also caches per-queue
    // counts in `queue` (refreshed about once a minute): read after an action, they would
    // show a retried job as still dead.
    let count = |state: &str| capped(&from, &format!("j.name = q.name AND j.state = '{state}'"));
    let running = count("active");
    let dead = capped_pile(&from, "j.name = q.name AND j.state = 'failed'");
    // The longest-running job, by `started_on`, from the queue's active jobs.
    let oldest_running = format!(
        "(SELECT min(j.started_on) FROM {from} WHERE j.name = q.name AND j.state = 'active')"
    );
    // Jobs due later, and those waiting on others where an index finds them: counted for
    // every queue in one pass (`Tally::due_later`). Per queue past the pile cap the planner
    // took `start_after` as unrelated to the state: "100+" for 1,737 at 2 M rows.
    let due_later = Tally::due_later(
        &state_map,
        |r| blocked_indexed || r.cond != states::BLOCKED,
        "j.name",
        &from,
        &jobs,
    );
    // The longest-waiting ready job. pg-boss 12's fetch index is ordered by priority and
    // creation, not by start_after: there the oldest is the first of each waiting state on
    // its live index (name, state, blocked, start_after), read twice, not a sort of every
    // ready job of the queue.
    let by_state = blocked
        && jobs.has_index_where("start_after", &["name", "state", "blocked"], |p| {
            p.is_some_and(|p| p.contains("'created'") && p.contains("'retry'"))
        });
    // The ready count, likewise: on the fetch index a queue's due jobs are not a range (it
    // is ordered by priority and creation), so the count walked its scheduled ones too (20k
    // buffers a poll at 10 M rows); on the live index, one range per waiting state.
    let ready = if by_state {
        let due = |state: &str| {
            capped(
                &from,
                &format!(
                    "j.name = q.name AND j.state = '{state}' AND NOT j.blocked \
                     AND j.start_after <= now()"
                ),
            )
        };
        format!("({} + {})", due("created"), due("retry"))
    } else {
        capped(&from, &format!("{waiting} AND j.start_after <= now()"))
    };
    let oldest_ready = if by_state {
        let first = |state: &str| {
            format!(
                "(SELECT min(j.start_after) FROM {from} WHERE j.name = q.name \
                 AND j.state = '{state}' AND NOT j.blocked AND j.start_after <= now())"
            )
        };
        format!("least({}, {})", first("created"), first("retry"))
    } else {
        format!(
            "(SELECT j.start_after FROM {from} WHERE {waiting} AND j.start_after <= now() \
             ORDER BY j.start_after LIMIT 1)"
        )
    };
    // Jobs that failed for good in the last hour (the dead-spike alert), on the (name,
    // completed_on) index where there is one (pg-boss 12).
    let finished_by_queue = jobs.has_index_for("completed_on", &["name"]);
    let dead_last_hour = if finished_by_queue {
        capped(
            &from,
            "j.name = q.name AND j.completed_on >= now() - interval '1 hour' AND j.state = 'failed'",
        )
    } else {
        "NULL::bigint".into()
    };
    let queues_sql = format!(
        "SELECT q.name, NULL::timestamptz AS paused_at, NULL::text AS paused_by, \
           NULL::text AS pause_reason, \
           {ready} AS ready, 0::bigint AS scheduled, 0::bigint AS retrying, \
           {running} AS running, {dead} AS dead, \
           {oldest_ready} AS oldest_ready_at, \
           {oldest_running} AS oldest_running_at, {dead_last_hour} AS dead_last_hour \
         FROM {queue_table} q ORDER BY q.name",
        ready = ready,
        queue_table = queues.qualified(),
    );
    // Completions per minute, per queue through pg-boss 12's (name, completed_on) index
    // (one range per queue, each on its partition), or over the window of a (state,
    // completed_on) index.
    let per_queue = finished_by_queue;
    let throughput = per_queue || jobs.has_index_for("completed_on", &["state"]);
    let per_minute = |filter: &str| {
        format!(
            "{minute} AS minute, \
               count(*) FILTER (WHERE j.state = 'completed') AS succeeded, \
               count(*) FILTER (WHERE j.state = 'failed') AS failed \
             FROM {from} WHERE {filter}j.state IN ('completed', 'failed') \
               AND j.completed_on >= {MINUTES_FROM} AND j.completed_on < {MINUTES_UNTIL}",
            minute = epoch_minute("j.completed_on"),
        )
    };
    let minutes_sql = if per_queue {
        format!(
            "SELECT q.name AS queue, q.name AS kind, m.minute, m.succeeded, m.failed \
             FROM {queue_table} q CROSS JOIN LATERAL (SELECT {} GROUP BY 1) m",
            per_minute("j.name = q.name AND "),
            queue_table = queues.qualified(),
        )
    } else {
        format!(
            "SELECT j.name AS queue, j.name AS kind, {} GROUP BY 1, 2, 3",
            per_minute("")
        )
    };
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: None,
        minutes: throughput.then(|| Arc::from(minutes_sql)),
        workers: workers_sql(&pool, schema).await?.map(Arc::from),
        tallies: due_later.into_iter().collect(),
    };
    let blocked_fix =
        format!("{how} job_jobtop_blocked ON {t} (name) WHERE state < 'active' AND blocked;");
    // The shape of pg-boss 12's own job_i16, for the versions before it.
    let completed_fix = format!(
        "{how} job_jobtop_completed ON {t} (name, completed_on) WHERE completed_on IS NOT NULL;"
    );
    let version: Option<i32> = match TableInfo::load(&pool, schema, "version").await? {
        Some(v) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT max(version) FROM {}",
                v.qualified()
            )))
            .fetch_one(&pool)
            .await?
        }
        None => None,
    };
    let mut plan = DoctorPlan {
        tables: vec![
            TableNeed {
                schema: schema.to_string(),
                name: "job".into(),
                write: vec!["UPDATE", "DELETE"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "queue".into(),
                write: vec![],
            },
        ],
        probes: vec![Probe {
            name: "queue counts".into(),
            sql: statements.queues_probe(),
            binds_cap: true,
            fix: Some(count_fix.clone()),
        }],
        jobs_tables: vec![(schema.to_string(), "job".into())],
        state_column: Some("state".into()),
        findings: vec![Check::new(
            "schema version",
            Status::Ok,
            format!(
                "pg-boss schema {}{}",
                version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                if partitioned {
                    ", partitioned job table"
                } else {
                    ""
                }
            ),
        )],
    };
    if !(serves("active") && serves("failed")) {
        plan.findings.push(
            Check::new(
                "running and dead counts",
                Status::Warn,
                "no index on (name, state): running and dead counts read every job of \
                 the queue",
            )
            .with_fix(count_fix.clone()),
        );
    }
    if blocked && !blocked_indexed {
        plan.findings.push(
            Check::new(
                "blocked jobs",
                Status::Warn,
                "jobs waiting on other jobs (blocked) are not counted: no index finds them",
            )
            .with_fix(blocked_fix),
        );
    }
    match &statements.minutes {
        Some(sql) => plan.probes.push(Probe {
            name: "completions per minute".into(),
            sql: crate::backend::engine::snapshot::minutes_probe(sql),
            binds_cap: false,
            fix: Some(completed_fix),
        }),
        None => plan.findings.push(
            Check::new("completions per minute", Status::Warn, NO_COMPLETED_INDEX)
                .with_fix(completed_fix),
        ),
    }
    for tally in &statements.tallies {
        plan.probes.push(tally.probe(None));
    }
    let actions = PgBossActions::new(&jobs, &queues, state_map);
    let drill = drill_table(&actions, &jobs);
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());
    let instances = Support::when(
        statements.workers.is_some(),
        "pg-boss keeps no instance table before 12 (no workers or heartbeats to show)",
    );
    let no_pause =
        "pg-boss has no pause in the database (workers stop polling in their own process)";
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.support(ActionKind::Retry),
            cancel: actions.support(ActionKind::Cancel),
            discard: Support::No(
                "pg-boss's own fail path retries a job that has retries left; cancel it \
                 instead",
            ),
            delete: actions.support(ActionKind::Delete),
            reset_stuck: Support::No(
                "pg-boss's supervisor fails active jobs past their expiry itself",
            ),
            purge: actions.support(ActionKind::Purge),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause: Support::No(no_pause),
        heartbeats: instances,
        workers: instances,
        error_history: Support::No("pg-boss keeps only the last error (its output)"),
        tenants: Support::No("pg-boss has no tenants"),
        throughput: Support::when(throughput, NO_COMPLETED_INDEX),
        pause_visible: Support::No(no_pause),
        failed_attempts: Support::No(
            "pg-boss keeps no time of the attempts that were retried: only jobs that \
             failed for good are counted",
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

/// pg-boss 12's `instance` table as workers: one row per running PgBoss object, its
/// heartbeat every `heartbeat_seconds`, and per `work()` call the queue and the jobs in
/// hand (`workers`). A stopped instance is not a worker; a crashed one (never stopped, its
/// heartbeat silent) shows as a stale worker for an hour, then is history (pg-boss keeps its
/// row for days).
async fn workers_sql(pool: &PgPool, schema: &str) -> anyhow::Result<Option<String>> {
    let Some(instance) = TableInfo::load(pool, schema, "instance").await? else {
        return Ok(None);
    };
    let needed = [
        "id",
        "host",
        "pid",
        "started_on",
        "heartbeat_on",
        "stopped_on",
        "workers",
    ];
    if !needed.iter().all(|c| instance.has(c)) {
        return Ok(None);
    }
    Ok(Some(format!(
        "SELECT i.id::text AS id, i.host, i.pid, \
           ARRAY(SELECT DISTINCT w ->> 'queue' FROM jsonb_array_elements(i.workers) w \
                 WHERE w ->> 'queue' IS NOT NULL ORDER BY 1) AS queues, \
           i.started_on AS started_at, i.heartbeat_on AS last_heartbeat_at, \
           coalesce((SELECT sum((w ->> 'active')::bigint) FROM jsonb_array_elements(i.workers) w), \
                    0)::bigint AS running_jobs \
         FROM {} i \
         WHERE i.stopped_on IS NULL AND i.heartbeat_on >= now() - interval '1 hour' \
         ORDER BY i.started_on, i.id",
        instance.qualified()
    )))
}

/// `job` for the drill-down: waiting jobs by when they are due, running ones by when they
/// started, finished ones by when they finished. pg-boss keeps the last error in `output`
/// and no history; its attempts are `retry_count` of `retry_limit` retries.
fn drill_table(actions: &PgBossActions, jobs: &TableInfo) -> DrillTable {
    let time = |c: &str| time_column(jobs, c);
    DrillTable {
        jobs: actions.jobs.clone(),
        priority: jobs.has("priority").then(|| "j.priority".into()),
        attempts: Some("j.retry_count".into()),
        max_attempts: Some("j.retry_limit + 1".into()),
        run_at: time("start_after"),
        created_at: time("created_on"),
        started_at: time("started_on"),
        finished_at: time("completed_on").map(|t| t.read()),
        heartbeat_at: time("heartbeat_on"),
        payload: Some("j.data".into()),
        payload_binary: false,
        history: None,
        lanes: None,
    }
}
