//! Solid Queue (Rails 8's default Active Job backend), version 1: `solid_queue_jobs` and
//! one table per execution state, in the schema Rails migrated it into (`public` of the
//! app's database, or of a separate "queue" database; detection reads whichever the URL
//! names).
//!
//! A job's state is the execution table that holds it (see `states`): ready, scheduled,
//! blocked (by a concurrency limit, shown with the scheduled jobs), claimed (running,
//! by a `solid_queue_processes` row whose heartbeat says it lives), failed (dead, with its
//! error as JSON text: class, message, backtrace); a `finished_at` is success, kept only
//! with `preserve_finished_jobs` (Solid Queue's default; `clear_finished_jobs_after` then
//! deletes them). Solid Queue keeps one error per job, the last: a retry by Active Job's
//! `retry_on` is a new job, and attempts before it leave no row.
//!
//! Cost: the execution tables hold only live jobs and are small; `solid_queue_jobs` holds
//! the finished ones too. The overview reads the execution tables (ready along Solid
//! Queue's (queue_name, priority, job_id) index; scheduled and blocked ones have no index
//! on their queue and are read whole, which doctor names), finds the queues by a skip scan
//! over the jobs' (queue_name, finished_at) index, and counts completions per minute along
//! the jobs' finished_at index and failures by the failed executions' time. Failed
//! executions carry no queue (their job does), so no index can hold the dead piles by
//! queue: they are counted for every queue in one pass every 5 minutes (`engine::tally`,
//! "~" in between, the planner's estimate where no pass is at hand on a big table, and
//! counted again after an audited action).
//! Lists read a queue's unfinished jobs along (queue_name, finished_at) and keep those the
//! execution table holds; succeeded ones come off the same index in finish order.

pub mod schedules;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "solid-queue";
mod actions;
mod states;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use crate::backend::actions::ActionKind;
use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::engine::actions::{JobTable, alive_before};
use crate::backend::engine::drill::DrillTable;
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, Statements, capped, capped_pile, epoch_minute, minutes_probe,
};
use crate::backend::engine::tally::{Tally, every_unless_small};
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::TimeCol;
use crate::backend::solidqueue::actions::{SolidQueueActions, Tables};
use crate::backend::solidqueue::states::Executions;

/// The tables every Solid Queue 1.x schema has, besides `solid_queue_jobs`.
const EXECUTION_TABLES: [&str; 5] = [
    "solid_queue_ready_executions",
    "solid_queue_scheduled_executions",
    "solid_queue_blocked_executions",
    "solid_queue_claimed_executions",
    "solid_queue_failed_executions",
];

/// How often the dead piles are counted: one pass joining every failed execution to its
/// job (at 10 M rows, 145,000 of them), as good_job's discarded jobs.
const DEAD_EVERY: Duration = Duration::from_secs(300);

const NO_STUCK_RESET: &str = "Solid Queue recovers these itself: its supervisor prunes a process \
     whose heartbeat stopped and fails the jobs it had claimed (ProcessPrunedError), which retry \
     then takes";

const NO_CANCEL: &str = "Solid Queue has no cancelled or discarded state: Mission Control's \
     discard deletes the job, which jobtop offers on failed jobs as delete";

/// The UTC `timestamp` columns Rails writes, as `timestamptz`.
fn utc(expr: &str) -> String {
    TimeCol::new(expr, true).read()
}

/// Opens Solid Queue's tables in `schema`.
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let Some(jobs) = TableInfo::load(&pool, schema, "solid_queue_jobs").await? else {
        bail!("no solid_queue_jobs table in schema {schema}");
    };
    let mut exec = Vec::new();
    for name in EXECUTION_TABLES {
        match TableInfo::load(&pool, schema, name).await? {
            Some(t) => exec.push(t.qualified()),
            None => bail!("no {name} table in schema {schema}: not a Solid Queue 1.x schema"),
        }
    }
    for c in [
        "queue_name",
        "class_name",
        "finished_at",
        "scheduled_at",
        "concurrency_key",
    ] {
        if !jobs.has(c) {
            bail!("{schema}.solid_queue_jobs has no {c} column: not a Solid Queue 1.x schema");
        }
    }
    let pauses = TableInfo::load(&pool, schema, "solid_queue_pauses").await?;
    let processes = TableInfo::load(&pool, schema, "solid_queue_processes").await?;
    let recurring = TableInfo::load(&pool, schema, "solid_queue_recurring_tasks").await?;
    let Some(pauses) = pauses else {
        bail!("no solid_queue_pauses table in schema {schema}: not a Solid Queue 1.x schema");
    };
    let Some(processes) = processes else {
        bail!("no solid_queue_processes table in schema {schema}: not a Solid Queue 1.x schema");
    };
    let (ready, scheduled, blocked, claimed, failed) =
        (&exec[0], &exec[1], &exec[2], &exec[3], &exec[4]);
    let t = jobs.qualified();
    let p = pauses.qualified();
    let procs = processes.qualified();
    let from = format!("{t} j");
    let e = Executions {
        ready,
        scheduled,
        blocked,
        claimed,
        failed,
    };
    let states = states::state_map(&e);

    // Per queue, from the execution tables (ready ones on Solid Queue's poll_by_queue
    // index). Claimed and failed executions carry no queue: their job does. Claimed ones
    // are as few as the workers' threads: their jobs are looked up by id once a poll
    // (`running`), not once per queue (20 queues made that 16,000 lookups for 400 claimed
    // jobs). Failed ones pile up, and a queue's were found by walking its unfinished jobs
    // for those with one (7.5k buffers a poll at 10 M, capped at 100): they are counted in
    // the pass below instead.
    let count_running = capped("running x", "x.queue_name = q.name");
    let dead_pass = Tally {
        sql: Arc::from(format!(
            "SELECT j.queue_name::text AS name, count(*) AS dead \
             FROM {failed} x JOIN {from} ON j.id = x.job_id \
             WHERE j.finished_at IS NULL GROUP BY 1"
        )),
        every: every_unless_small(&jobs, DEAD_EVERY),
        estimate_first: true,
        bitmap_scan: false,
    };
    // The oldest ready job is Solid Queue's own latency (its earliest ready execution),
    // read over at most the cap's rows in its poll order (priority, job id): a backlog
    // beyond the cap is not read whole for it.
    let by_own_queue = |table: &str| capped(&format!("{table} x"), "x.queue_name = q.name");
    let pile_by_own_queue =
        |table: &str| capped_pile(&format!("{table} x"), "x.queue_name = q.name");
    let queues_sql = format!(
        "WITH RECURSIVE names(name) AS ( \
           (SELECT j.queue_name FROM {from} ORDER BY j.queue_name LIMIT 1) \
           UNION ALL \
           SELECT (SELECT j.queue_name FROM {from} WHERE j.queue_name > n.name \
                   ORDER BY j.queue_name LIMIT 1) \
           FROM names n WHERE n.name IS NOT NULL), \
         q(name) AS ( \
           SELECT n.name FROM names n WHERE n.name IS NOT NULL \
           UNION SELECT p.queue_name FROM {p} p), \
         running(queue_name, created_at) AS MATERIALIZED ( \
           SELECT j.queue_name, x.created_at FROM {claimed} x \
           JOIN {from} ON j.id = x.job_id WHERE j.finished_at IS NULL) \
         SELECT q.name::text AS name, \
           (SELECT {paused_at} FROM {p} p WHERE p.queue_name = q.name) AS paused_at, \
           NULL::text AS paused_by, NULL::text AS pause_reason, \
           {count_ready} AS ready, \
           ({count_scheduled} + {count_blocked}) AS scheduled, \
           0::bigint AS retrying, \
           {count_running} AS running, 0::bigint AS dead, \
           (SELECT min(r.at) FROM (SELECT {ready_at} AS at FROM {ready} x \
              WHERE x.queue_name = q.name LIMIT $1) r) AS oldest_ready_at, \
           (SELECT min({claimed_at}) FROM running x WHERE x.queue_name = q.name) \
             AS oldest_running_at \
         FROM q ORDER BY q.name",
        paused_at = utc("p.created_at"),
        count_ready = by_own_queue(ready),
        count_scheduled = pile_by_own_queue(scheduled),
        count_blocked = pile_by_own_queue(blocked),
        ready_at = utc("x.created_at"),
        claimed_at = utc("x.created_at"),
    );
    // Succeeded along the jobs' finished_at index; failed by when their failed execution
    // was written (the failed executions are read whole: no index on their time), each
    // job's queue looked up by its id.
    let minutes_sql = format!(
        "SELECT j.queue_name::text AS queue, j.class_name::text AS kind, {minute} AS minute, \
           count(*) AS succeeded, 0::bigint AS failed \
         FROM {from} WHERE j.finished_at >= timezone('UTC', {MINUTES_FROM}) \
           AND j.finished_at < timezone('UTC', {MINUTES_UNTIL}) GROUP BY 1, 2, 3 \
         UNION ALL \
         SELECT j.queue_name::text, j.class_name::text, {failed_minute}, 0::bigint, count(*) \
         FROM {failed} x JOIN {from} ON j.id = x.job_id \
         WHERE x.created_at >= timezone('UTC', {MINUTES_FROM}) \
           AND x.created_at < timezone('UTC', {MINUTES_UNTIL}) GROUP BY 1, 2, 3",
        minute = epoch_minute(&utc("j.finished_at")),
        failed_minute = epoch_minute(&utc("x.created_at")),
    );
    // Workers are the processes of kind Worker (dispatchers, schedulers and supervisors
    // run no jobs). Their queues are in the metadata JSON text, as "*" (any), "a,b" or a
    // list; read by pattern so that a malformed value cannot fail the poll.
    let workers_sql = format!(
        "SELECT p.id::text AS id, p.hostname::text AS host, p.pid AS pid, \
           ARRAY(SELECT btrim(v) FROM regexp_split_to_table( \
               coalesce(substring(p.metadata FROM '\"queues\":\\s*\"([^\"]*)\"'), \
                        regexp_replace(substring(p.metadata FROM '\"queues\":\\s*\\[([^]]*)\\]'), \
                                       '\"', '', 'g'), ''), ',') AS v \
             WHERE btrim(v) NOT IN ('', '*')) AS queues, \
           {started} AS started_at, {beat} AS last_heartbeat_at, \
           (SELECT count(*) FROM {claimed} x WHERE x.process_id = p.id) AS running_jobs \
         FROM {procs} p WHERE p.kind = 'Worker' ORDER BY p.id",
        started = utc("p.created_at"),
        beat = utc("p.last_heartbeat_at"),
    );
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: None,
        minutes: Some(Arc::from(minutes_sql)),
        workers: Some(Arc::from(workers_sql)),
        tallies: vec![dead_pass],
    };

    // A claimed job lives while its process beats; one whose process row is gone has none.
    let alive_at = format!(
        "(SELECT coalesce(max({beat}), '-infinity'::timestamptz) \
          FROM {claimed} c LEFT JOIN {procs} p ON p.id = c.process_id WHERE c.job_id = j.id)",
        beat = utc("p.last_heartbeat_at"),
    );
    // The error Solid Queue wrote as JSON text: class and message, read by pattern (a cast
    // would fail the read on a malformed row); the whole text where they are not found.
    let error = format!(
        "(SELECT coalesce(substring(f.error FROM '\"exception_class\":\"((?:[^\"\\\\]|\\\\.)*)\"') \
           || ': ' || replace(substring(f.error FROM '\"message\":\"((?:[^\"\\\\]|\\\\.)*)\"'), \
                              '\\\"', '\"'), f.error) \
         FROM {failed} f WHERE f.job_id = j.id)"
    );
    let table = JobTable {
        from: from.clone(),
        id: "j.id".into(),
        created_at: None,
        id_type: "bigint".into(),
        queue: "j.queue_name".into(),
        kind: "j.class_name".into(),
        states,
        worker: Some(format!(
            "(SELECT c.process_id FROM {claimed} c WHERE c.job_id = j.id)"
        )),
        tenant: None,
        error: Some(error),
        stale: Some(alive_before(&alive_at)),
        batches: Vec::new(),
        discard_message: false,
        finished_at: Some(TimeCol::new("j.finished_at", true)),
        from_states: Vec::new(),
    };
    let actions = SolidQueueActions::new(
        &Tables {
            jobs: &t,
            ready,
            blocked,
            failed,
            pauses: &p,
        },
        table,
    );
    let drill = DrillTable {
        jobs: actions.jobs.clone(),
        priority: Some("j.priority".into()),
        // Active Job's count of runs, in the arguments it serialized.
        attempts: Some(
            "(substring(j.arguments FROM '\"executions\":\\s*(\\d{1,9})[,}]'))::int".into(),
        ),
        max_attempts: None,
        run_at: Some(TimeCol::new("j.scheduled_at", true)),
        created_at: Some(TimeCol::new("j.created_at", true)),
        started_at: Some(states::claimed_at(claimed)),
        finished_at: Some(format!(
            "coalesce({}, {})",
            utc("j.finished_at"),
            states::failed_at(failed).read()
        )),
        heartbeat_at: Some(TimeCol::new(
            format!(
                "(SELECT p.last_heartbeat_at FROM {claimed} c JOIN {procs} p \
                  ON p.id = c.process_id WHERE c.job_id = j.id)"
            ),
            true,
        )),
        payload: Some("j.arguments".into()),
        payload_binary: false,
        history: None,
        lanes: None,
    };

    let version = if recurring.is_some() {
        "1.x (solid_queue_recurring_tasks present)"
    } else {
        "before 1.0 (no solid_queue_recurring_tasks): read as 1.x"
    };
    let queue_fix = |table: &str, name: &str, rest: &str| {
        format!("CREATE INDEX CONCURRENTLY {name} ON {table} (queue_name{rest});")
    };
    let mut plan = DoctorPlan {
        tables: vec![
            TableNeed {
                schema: schema.to_string(),
                name: "solid_queue_jobs".into(),
                write: vec!["DELETE"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "solid_queue_failed_executions".into(),
                write: vec!["DELETE"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "solid_queue_ready_executions".into(),
                write: vec!["INSERT"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "solid_queue_blocked_executions".into(),
                write: vec!["INSERT"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "solid_queue_pauses".into(),
                write: vec!["INSERT", "DELETE"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "solid_queue_processes".into(),
                write: vec![],
            },
        ],
        probes: vec![
            Probe {
                name: "queue counts".into(),
                sql: statements.queues_probe(),
                binds_cap: true,
                fix: None,
            },
            Probe {
                name: "completions per minute".into(),
                sql: minutes_probe(statements.minutes.as_deref().expect("minutes statement")),
                binds_cap: false,
                fix: None,
            },
            Probe {
                name: "workers".into(),
                sql: statements.workers.clone().expect("workers statement"),
                binds_cap: false,
                fix: None,
            },
        ],
        jobs_tables: vec![(schema.to_string(), "solid_queue_jobs".into())],
        state_column: None,
        findings: vec![
            Check::new(
                "schema version",
                Status::Ok,
                format!("Solid Queue {version}"),
            ),
            // Solid Queue indexes these by time and concurrency key, for its dispatcher.
            Check::new(
                "scheduled and blocked counts",
                Status::Warn,
                "Solid Queue's scheduled and blocked executions have no index on queue_name: \
                 each poll reads them whole (they hold only jobs not yet due or blocked)",
            )
            .with_fix(format!(
                "{} {}",
                queue_fix(
                    scheduled,
                    "solid_queue_scheduled_executions_jobtop_queue",
                    ""
                ),
                queue_fix(blocked, "solid_queue_blocked_executions_jobtop_queue", "")
            )),
            Check::new(
                "failures per minute",
                Status::Warn,
                "Solid Queue's failed executions are indexed by job only: each poll reads them \
                 whole (they are kept until retried or discarded)",
            )
            .with_fix(format!(
                "CREATE INDEX CONCURRENTLY solid_queue_failed_executions_jobtop_created_at \
                 ON {failed} (created_at);"
            )),
            // No index fixes this one: the queue is on the job, not on its failed execution.
            Check::new(
                "dead counts",
                Status::Warn,
                "Solid Queue's failed executions carry no queue (their job does): the dead \
                 jobs are counted for every queue in one pass every 5 minutes (shown with ~ \
                 in between, and counted again after an action), not each poll",
            ),
        ],
    };
    for tally in &statements.tallies {
        plan.probes.push(tally.probe(None));
    }
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());

    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.jobs.support(ActionKind::Retry, "not offered"),
            cancel: Support::No(NO_CANCEL),
            discard: Support::No(NO_CANCEL),
            delete: actions.jobs.support(ActionKind::Delete, "not offered"),
            reset_stuck: Support::No(NO_STUCK_RESET),
            purge: actions.jobs.support(ActionKind::Purge, "not offered"),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause: Support::Yes,
        heartbeats: Support::Yes,
        workers: Support::Yes,
        error_history: Support::No(
            "Solid Queue keeps one error per job, the last: a retry by retry_on is a new job",
        ),
        tenants: Support::No("Solid Queue has no tenants"),
        throughput: Support::Yes,
        pause_visible: Support::Yes,
        failed_attempts: Support::No(
            "Solid Queue records a failure only when a job fails for good; attempts retried by \
             retry_on leave no failed execution",
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
