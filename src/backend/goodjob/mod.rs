//! good_job (Rails), version 4: one `good_jobs` table whose columns say a job's state
//! (see `states`), `good_job_executions` with one row per attempt (its error, process and
//! duration), `good_job_processes` (each process's state JSON and `updated_at`, refreshed
//! while it lives), `good_job_settings` (pauses, from 4.x) and `good_job_batches`, in the
//! schema Rails migrated them into.
//!
//! A running job points at its process (`locked_by_id`, 4.x); good_job also holds an
//! advisory lock on it, which only the session holding it can see. A job keeps its last
//! error; every attempt's error is in its executions, read as the job's error history.
//! Cron keys (`cron_key`, `cron_at`) are schedules (`schedules.rs`).
//!
//! Cost: good_job's indexes serve the overview: queues by a skip scan over its
//! queue_name index on the slower clock (`engine::queue_list`), ready and scheduled jobs as ranges of (queue_name, scheduled_at, id)
//! on unfinished jobs, completions per minute along its finished_at index. Running,
//! retrying and discarded jobs have no index by queue: they are counted for every queue in
//! one pass over the unfinished jobs every 30 s and one over the discarded jobs every 5
//! minutes (shown with "~" in between; `engine::tally`), each one every poll once doctor's
//! index for it exists (`jobtop migrate --indexes`).

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
use crate::backend::engine::actions::{JobTable, alive_before};
use crate::backend::engine::drill::{DrillTable, ErrorHistory, HistoryShape};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, QUEUE_NAMES, Statements, capped, epoch_minute, minutes_probe,
};
use crate::backend::engine::tally::{Tally, every_unless_small};
use crate::backend::goodjob::actions::{GoodJobActions, Tables};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::TimeCol;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "good_job";

/// How often what no index holds by queue among the unfinished jobs is counted (`tally`):
/// one pass over them.
const TALLY_EVERY: Duration = Duration::from_secs(30);

/// How often the discarded jobs are counted where no index holds them by queue: a read of
/// about the whole table, as procrastinate's failed jobs.
const DISCARDED_EVERY: Duration = Duration::from_secs(300);

const NO_SETTINGS: &str =
    "this good_job schema has no good_job_settings table (added by good_job's 4.x migrations)";

const NO_STUCK_RESET: &str = "good_job recovers these itself: it deletes a process record whose \
     lock or heartbeat is gone, releases its jobs (locked_by_id), and a worker takes them again \
     as interrupted";

/// The UTC `timestamp` columns Rails writes, as `timestamptz`.
fn utc(expr: &str) -> String {
    TimeCol::new(expr, true).read()
}

/// Opens good_job's tables in `schema`.
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let Some(jobs) = TableInfo::load(&pool, schema, "good_jobs").await? else {
        bail!("no good_jobs table in schema {schema}");
    };
    let Some(executions) = TableInfo::load(&pool, schema, "good_job_executions").await? else {
        bail!(
            "no good_job_executions table in schema {schema}: good_job before 3.x's \
             execution split, which jobtop does not read"
        );
    };
    for c in [
        "queue_name",
        "scheduled_at",
        "performed_at",
        "finished_at",
        "error",
        "serialized_params",
        "job_class",
    ] {
        if !jobs.has(c) {
            bail!("{schema}.good_jobs has no {c} column: run good_job's 4.x migrations");
        }
    }
    let processes = TableInfo::load(&pool, schema, "good_job_processes").await?;
    let settings = TableInfo::load(&pool, schema, "good_job_settings").await?;
    let locked_by = jobs.has("locked_by_id");
    let t = jobs.qualified();
    let ex = executions.qualified();
    let from = format!("{t} j");
    let states = states::state_map();
    let count = |state| {
        states
            .capped_count(state, &from, "j.queue_name = q.name")
            .unwrap_or_else(|| "0::bigint".into())
    };
    let pile = |state| {
        states
            .pile_count(state, &from, "j.queue_name = q.name")
            .unwrap_or_else(|| "0::bigint".into())
    };
    let settings_t = settings.as_ref().map(|s| s.qualified());
    // A queue is paused while its name is in the `pauses` setting's list; the setting's
    // last change is as close to "since when" as good_job records.
    let (paused_names, paused_at) = match &settings_t {
        Some(s) => (
            format!(
                " UNION SELECT v.name FROM {s} s, \
                   jsonb_array_elements_text(CASE WHEN jsonb_typeof(s.value -> 'queues') = 'array' \
                     THEN s.value -> 'queues' ELSE '[]'::jsonb END) v(name) \
                 WHERE s.key = 'pauses'"
            ),
            format!(
                "(SELECT {at} FROM {s} s WHERE s.key = 'pauses' AND s.value -> 'queues' ? q.name)",
                at = utc("s.updated_at")
            ),
        ),
        None => (String::new(), "NULL::timestamptz".into()),
    };
    let ready_conds: Vec<String> = states
        .list(JobState::Ready)
        .map(|l| l.ranges.iter().map(|r| r.cond.clone()).collect())
        .unwrap_or_default();
    // What no index holds by queue as good_job ships (running jobs, discarded jobs) is
    // counted for every queue in passes on slower clocks (`tally`, below); with doctor's
    // index for one, it is counted each poll instead. Jobs due later are always counted in
    // the pass.
    let pinned = |parts: &[&str]| {
        jobs.has_index_where("queue_name", &[], |p| {
            p.is_some_and(|p| parts.iter().all(|part| p.contains(part)))
        })
    };
    let tally_running = !pinned(&["performed_at IS NOT NULL"]);
    let tally_dead = !pinned(&["error IS NOT NULL", "finished_at IS NOT NULL"]);
    let cond = |state| states.condition(state).unwrap_or_else(|| "false".into());
    // Two passes: the unfinished jobs (a few percent of the table, a bitmap over one of
    // good_job's indexes on unfinished jobs) every `TALLY_EVERY`; the discarded ones,
    // spread over the whole table among the succeeded (at 10 M rows the pass read the
    // table, 5 s), every `DISCARDED_EVERY`, estimated while no pass is at hand. Jobs due
    // later are always in the first: per queue past the pile cap the planner takes
    // `scheduled_at` as unrelated to the job being unfinished, and says "100+" or a figure
    // far under the pile.
    let mut live = vec![format!(
        "count(*) FILTER (WHERE {}) AS scheduled, count(*) FILTER (WHERE {}) AS retrying",
        cond(JobState::Scheduled),
        cond(JobState::Retrying)
    )];
    if tally_running {
        live.push(format!(
            "count(*) FILTER (WHERE {running}) AS running, \
             min({performed}) FILTER (WHERE {running}) AS oldest_running_at",
            running = cond(JobState::Running),
            performed = utc("j.performed_at"),
        ));
    }
    let mut tallies = vec![Tally {
        sql: Arc::from(format!(
            "SELECT j.queue_name::text AS name, {} FROM {from} \
             WHERE j.finished_at IS NULL AND j.queue_name IS NOT NULL GROUP BY 1",
            live.join(", ")
        )),
        every: every_unless_small(&jobs, TALLY_EVERY),
        estimate_first: false,
        // good_job's indexes on unfinished jobs lead with priority, which is one value
        // for most applications' jobs: the planner then walks one in priority order,
        // a buffer per job, rather than read their pages once. No predicate keeps
        // those indexes out and the bitmap in: every one shares `finished_at IS NULL`.
        bitmap_scan: true,
    }];
    if tally_dead {
        tallies.push(Tally {
            sql: Arc::from(format!(
                "SELECT j.queue_name::text AS name, count(*) AS dead FROM {from} \
                 WHERE {} AND j.queue_name IS NOT NULL GROUP BY 1",
                cond(JobState::Dead)
            )),
            every: every_unless_small(&jobs, DISCARDED_EVERY),
            estimate_first: true,
            bitmap_scan: false,
        });
    }
    let running_cte = if tally_running {
        String::new()
    } else {
        format!(
            ", running(queue_name, performed_at) AS MATERIALIZED ( \
               SELECT j.queue_name, j.performed_at FROM {from} \
               WHERE j.finished_at IS NULL AND j.performed_at IS NOT NULL)"
        )
    };
    // Running jobs are found once a poll (along doctor's index when it is there), not once
    // per queue: per queue, each count walked the queue's unfinished jobs twice.
    // The queue names: a skip scan over good_job's queue_name index, which holds every
    // job, finished ones too, read on the slower clock (`engine::queue_list`).
    let names_sql = format!(
        "WITH RECURSIVE names(name) AS ( \
           (SELECT j.queue_name FROM {from} WHERE j.queue_name IS NOT NULL \
            ORDER BY j.queue_name LIMIT 1) \
           UNION ALL \
           SELECT (SELECT j.queue_name FROM {from} WHERE j.queue_name > n.name \
                   ORDER BY j.queue_name LIMIT 1) \
           FROM names n WHERE n.name IS NOT NULL) \
         SELECT n.name::text AS name FROM names n WHERE n.name IS NOT NULL"
    );
    let queues_sql = format!(
        "WITH q(name) AS (SELECT unnest({QUEUE_NAMES}){paused_names}){running_cte} \
         SELECT q.name::text AS name, {paused_at} AS paused_at, \
           NULL::text AS paused_by, NULL::text AS pause_reason, \
           {ready} AS ready, {scheduled} AS scheduled, {retrying} AS retrying, \
           {running} AS running, {dead} AS dead, \
           LEAST( \
             (SELECT min({sched}) FROM {from} WHERE {due} AND j.queue_name = q.name), \
             (SELECT min({created}) FROM {from} WHERE {unscheduled} AND j.queue_name = q.name) \
           ) AS oldest_ready_at, \
           {oldest_running} AS oldest_running_at \
         FROM q ORDER BY q.name",
        ready = count(JobState::Ready),
        scheduled = "0::bigint",
        retrying = "0::bigint",
        running = if tally_running {
            "0::bigint".into()
        } else {
            capped("running x", "x.queue_name = q.name")
        },
        dead = if tally_dead {
            "0::bigint".into()
        } else {
            pile(JobState::Dead)
        },
        oldest_running = if tally_running {
            "NULL::timestamptz".to_string()
        } else {
            format!(
                "(SELECT min({performed}) FROM running j WHERE j.queue_name = q.name)",
                performed = utc("j.performed_at")
            )
        },
        sched = utc("j.scheduled_at"),
        created = utc("j.created_at"),
        due = ready_conds[0],
        unscheduled = ready_conds[1],
    );
    // Jobs that finished in the window, along good_job's finished_at index: without an
    // error they succeeded, with one they were discarded. Attempts that failed and were
    // retried are in the executions, which have no index on their time.
    let minutes_sql = format!(
        "SELECT j.queue_name::text AS queue, coalesce(j.job_class::text, 'unknown') AS kind, {minute} AS minute, \
           count(*) FILTER (WHERE j.error IS NULL) AS succeeded, \
           count(*) FILTER (WHERE j.error IS NOT NULL) AS failed \
         FROM {from} WHERE j.finished_at IS NOT NULL \
           AND j.finished_at >= timezone('UTC', {MINUTES_FROM}) \
           AND j.finished_at < timezone('UTC', {MINUTES_UNTIL}) GROUP BY 1, 2, 3",
        minute = epoch_minute(&utc("j.finished_at")),
    );
    // good_job's queue strings ("*", "-excluded", "+ordered", "a,b;c" pools) are not a
    // plain list: a worker's queues are left empty, "any".
    let procs_t = processes.as_ref().map(|p| p.qualified());
    let workers_sql = procs_t.as_ref().map(|p| {
        let running = if locked_by {
            format!(
                "(SELECT count(*) FROM {from} WHERE j.locked_by_id = p.id \
                  AND j.finished_at IS NULL)"
            )
        } else {
            "0::bigint".into()
        };
        format!(
            "SELECT p.id::text AS id, p.state ->> 'hostname' AS host, \
               CASE WHEN jsonb_typeof(p.state -> 'pid') = 'number' \
                 AND (p.state ->> 'pid') ~ '^\\d{{1,9}}$' THEN (p.state ->> 'pid')::int END AS pid, \
               ARRAY[]::text[] AS queues, {started} AS started_at, \
               {beat} AS last_heartbeat_at, {running} AS running_jobs \
             FROM {p} p ORDER BY p.created_at, p.id",
            started = utc("p.created_at"),
            beat = utc("p.updated_at"),
        )
    });
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: Some(Arc::from(names_sql)),
        minutes: Some(Arc::from(minutes_sql)),
        workers: workers_sql.map(Arc::from),
        tallies,
    };

    // A running job lives while the process that locked it refreshes its record.
    let stale = match (&procs_t, locked_by) {
        (Some(p), true) => Some(alive_before(&format!(
            "coalesce((SELECT {beat} FROM {p} p WHERE p.id = j.locked_by_id), \
             '-infinity'::timestamptz)",
            beat = utc("p.updated_at")
        ))),
        _ => None,
    };
    let table = JobTable {
        from: from.clone(),
        id: "j.id".into(),
        created_at: Some("j.created_at".into()),
        id_type: "uuid".into(),
        queue: "j.queue_name".into(),
        kind: "j.job_class".into(),
        states,
        worker: locked_by.then(|| "j.locked_by_id".into()),
        tenant: None,
        error: Some("j.error".into()),
        stale,
        batches: Vec::new(),
        discard_message: false,
        finished_at: Some(TimeCol::new(
            "j.finished_at",
            jobs.is_naive_timestamp("finished_at"),
        )),
        from_states: Vec::new(),
    };
    let actions = GoodJobActions::new(
        &Tables {
            jobs: &t,
            executions: &ex,
            settings: settings_t.as_deref(),
        },
        table,
    );
    // Every failed attempt, from the executions (good_job's (active_job_id, created_at)
    // index), as a JSON array the engine reads like any error history.
    let history = ErrorHistory {
        column: format!(
            "(SELECT jsonb_agg(jsonb_build_object('at', {at}, 'attempt', x.n, \
               'error', x.error, 'worker', x.process_id) ORDER BY x.n) \
             FROM (SELECT y.*, row_number() OVER (ORDER BY y.created_at, y.id) AS n \
                   FROM {ex} y WHERE y.active_job_id = j.id) x \
             WHERE x.error IS NOT NULL)",
            at = utc("coalesce(x.finished_at, x.created_at)"),
        ),
        ..ErrorHistory::json("", HistoryShape::JsonArray, false)
    };
    let drill = DrillTable {
        jobs: actions.jobs.clone(),
        priority: Some("j.priority".into()),
        attempts: jobs
            .has("executions_count")
            .then(|| "coalesce(j.executions_count, 0)".into()),
        max_attempts: None,
        run_at: Some(TimeCol::new("j.scheduled_at", true)),
        created_at: Some(TimeCol::new("j.created_at", true)),
        started_at: Some(TimeCol::new("j.performed_at", true)),
        finished_at: Some(utc("j.finished_at")),
        heartbeat_at: match (&procs_t, locked_by) {
            (Some(p), true) => Some(TimeCol::new(
                format!("(SELECT p.updated_at FROM {p} p WHERE p.id = j.locked_by_id)"),
                true,
            )),
            _ => None,
        },
        payload: Some("j.serialized_params".into()),
        payload_binary: false,
        history: Some(history),
        lanes: None,
    };

    let version = if jobs.has("lock_type") && settings.is_some() {
        "4.x (lock_type, good_job_settings)"
    } else {
        "3.x (its 4.x migrations not run): read as far as its columns go"
    };
    let dead_fix = format!(
        "CREATE INDEX CONCURRENTLY good_jobs_jobtop_queue_discarded ON {t} \
         (queue_name, finished_at) WHERE finished_at IS NOT NULL AND error IS NOT NULL;"
    );
    let running_fix = format!(
        "CREATE INDEX CONCURRENTLY good_jobs_jobtop_queue_running ON {t} \
         (queue_name, performed_at) WHERE finished_at IS NULL AND performed_at IS NOT NULL;"
    );
    // The indexes that are missing, each for a figure now on the slower clock.
    let fixes = [(tally_dead, dead_fix), (tally_running, running_fix)]
        .into_iter()
        .filter(|(missing, _)| *missing)
        .map(|(_, fix)| fix)
        .collect::<Vec<_>>()
        .join(" ");
    let mut plan = DoctorPlan {
        tables: vec![
            TableNeed {
                schema: schema.to_string(),
                name: "good_jobs".into(),
                write: vec!["UPDATE", "DELETE"],
            },
            TableNeed {
                schema: schema.to_string(),
                name: "good_job_executions".into(),
                write: vec!["DELETE"],
            },
        ],
        probes: vec![Probe {
            name: "queue counts".into(),
            sql: statements.queues_probe(),
            binds_cap: true,
            fix: (!fixes.is_empty()).then(|| fixes.clone()),
        }],
        jobs_tables: vec![
            (schema.to_string(), "good_jobs".into()),
            (schema.to_string(), "good_job_executions".into()),
        ],
        state_column: None,
        findings: vec![Check::new(
            "schema version",
            Status::Ok,
            format!("good_job {version}"),
        )],
    };
    for tally in &statements.tallies {
        plan.probes.push(tally.probe(Some(fixes.clone())));
    }
    if !statements.tallies.is_empty() {
        plan.findings.push(
            Check::new(
                "dead, running and retrying counts",
                Status::Warn,
                "good_job has no index on discarded, running or retrying jobs by queue: those \
                 counts are taken for every queue in one pass over its unfinished jobs every \
                 30 s and one over its discarded jobs every 5 minutes (shown with ~ in \
                 between), not each poll",
            )
            .with_fix(fixes.clone()),
        );
    }
    if let Some(sql) = &statements.minutes {
        plan.probes.push(Probe {
            name: "completions per minute".into(),
            sql: minutes_probe(sql),
            binds_cap: false,
            fix: None,
        });
    }
    if let Some(p) = &processes {
        plan.tables.push(TableNeed {
            schema: schema.to_string(),
            name: p.name.clone(),
            write: vec![],
        });
        if let Some(sql) = &statements.workers {
            plan.probes.push(Probe {
                name: "workers".into(),
                sql: sql.clone(),
                binds_cap: false,
                fix: None,
            });
        }
    }
    if let Some(s) = &settings {
        plan.tables.push(TableNeed {
            schema: schema.to_string(),
            name: s.name.clone(),
            write: vec!["INSERT", "UPDATE"],
        });
    }
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());

    let heartbeats = Support::when(
        processes.is_some() && locked_by,
        "this good_job schema keeps no processes or job locks (good_job before 4.x)",
    );
    let pause = Support::when(settings.is_some(), NO_SETTINGS);
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.jobs.support(ActionKind::Retry, "not offered"),
            cancel: Support::No(
                "good_job has no cancelled state: its dashboard's discard finishes a job with an \
                 error (discard)",
            ),
            discard: actions.jobs.support(ActionKind::Discard, "not offered"),
            delete: actions.jobs.support(ActionKind::Delete, "not offered"),
            reset_stuck: Support::No(NO_STUCK_RESET),
            purge: actions.jobs.support(ActionKind::Purge, "not offered"),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause,
        heartbeats,
        workers: Support::when(processes.is_some(), "no good_job_processes table"),
        error_history: Support::Yes,
        tenants: Support::No("good_job has no tenants"),
        throughput: Support::Yes,
        pause_visible: pause,
        failed_attempts: Support::No(
            "good_job's executions, which keep each failed attempt, have no index on their \
             time: failures per minute count discarded jobs only",
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
