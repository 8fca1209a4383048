//! procrastinate (Python), version 3: `procrastinate_jobs`, `procrastinate_events` and
//! `procrastinate_workers` (3.1 on) in the schema it was installed in (`public` unless its
//! connection's search path says otherwise).
//!
//! States map onto the display buckets as (see `states`): `todo` -> ready when due (a NULL
//! `scheduled_at` is due at once), else retrying when it has been attempted, else
//! scheduled; `doing` (and the legacy `aborting`) -> running; `failed` -> dead;
//! `succeeded` -> succeeded; `cancelled` and `aborted` -> cancelled.
//!
//! There is no queue table: a queue is a `queue_name` some job carries, found by a skip
//! scan over procrastinate's index on it. A job keeps no time of its own but
//! `scheduled_at`; procrastinate's triggers write every status change to its events table
//! (`deferred`, `started`, `succeeded`, `failed`, `deferred_for_retry`, ... each with its
//! time), and that is where the oldest ready job's wait, a job's start and finish, the
//! per-kind figures and completions per minute are read. No error text is kept at all,
//! only when attempts failed. Workers are `procrastinate_workers` rows with their
//! heartbeat; the jobs they run point at them (`worker_id`), and a job whose worker was
//! pruned as stalled keeps none. Which queues a worker listens to is not recorded.
//!
//! procrastinate's own indexes are for fetching: none holds the status per queue, and the
//! events have an index on `job_id` only. Without an index on (queue_name, status) each
//! poll reads only the running jobs (the queue names, a skip scan over every job, on the
//! slower clock of `engine::queue_list`); the waiting jobs are counted for
//! every queue in one pass every 15 s and the failed ones every 5 minutes (`unindexed`,
//! shown with "~" between passes), where per-queue counts took 169 s a poll at 10 M rows.
//! Completions per minute are shown once an index on the events' (type, at) exists. Doctor
//! names the indexes (`jobtop migrate --indexes` builds them): (queue_name, status,
//! scheduled_at, id) for exact capped counts every poll and the waiting lists, a partial
//! one on failed jobs for the dead list and the dead letters, and the events' (type, at).
//! No pause in procrastinate 3: a worker takes the queues it was started with.

mod actions;
mod kinds;
pub mod schedules;
mod states;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use crate::backend::actions::ActionKind;
use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::drill::{HistoryWindow, KindsQuery};
use crate::backend::engine::drill::{DrillTable, time_column};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, QUEUE_NAMES, Statements, epoch_minute,
};
use crate::backend::engine::tally::{Tally, every_unless_small};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::{TableInfo, enum_of};
use crate::backend::pg::sql::{TimeCol, literal};
use crate::backend::procrastinate::actions::{ProcrastinateActions, Tables};
use crate::backend::procrastinate::kinds::EventKinds;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "procrastinate";

/// Why completions per minute are not shown on procrastinate's own indexes.
const NO_EVENTS_INDEX: &str = "procrastinate's events have no index on (type, at) and are over 8 MB: \
     throughput and failure rate are not shown (jobtop doctor names the index)";

const NO_PAUSE: &str =
    "procrastinate 3 has no pause: each worker takes the queues it was started with";

/// `'a', 'b'` of the labels `wanted` that `labels` holds (`NULL` when none: an empty IN list
/// is not SQL).
fn label_list(labels: &[String], wanted: &[&str]) -> String {
    let present: Vec<String> = wanted
        .iter()
        .filter(|w| labels.iter().any(|l| l == *w))
        .map(|w| literal(w))
        .collect();
    if present.is_empty() {
        "NULL".into()
    } else {
        present.join(", ")
    }
}

/// Opens procrastinate's tables in `schema`.
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let Some(jobs) = TableInfo::load(&pool, schema, "procrastinate_jobs").await? else {
        bail!("no procrastinate_jobs table in schema {schema}");
    };
    let Some(events) = TableInfo::load(&pool, schema, "procrastinate_events").await? else {
        bail!("no procrastinate_events table in schema {schema}");
    };
    if !jobs.has("status") || !jobs.has("queue_name") || !jobs.has("scheduled_at") {
        bail!(
            "{schema}.procrastinate_jobs lacks status, queue_name or scheduled_at: not a \
             procrastinate schema jobtop can read"
        );
    }
    // procrastinate 3.1 added the workers and the jobs' pointer to them.
    let workers = match TableInfo::load(&pool, schema, "procrastinate_workers").await? {
        Some(w) if jobs.has("worker_id") && w.has("last_heartbeat") => Some(w),
        _ => None,
    };
    let (status_type, statuses) = enum_of(&pool, &jobs, "status").await?;
    let (_, event_types) = enum_of(&pool, &events, "type").await?;
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = $1 AND p.proname LIKE 'procrastinate\\_%' ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&pool)
    .await?;
    let has_function = |name: &str| functions.iter().any(|f| f == name);

    let t = jobs.qualified();
    let ev = events.qualified();
    let from = format!("{t} j");
    let count_fix = format!(
        "CREATE INDEX CONCURRENTLY procrastinate_jobs_jobtop_queue_status ON {t} \
         (queue_name, status, scheduled_at, id);"
    );
    let events_fix = format!(
        "CREATE INDEX CONCURRENTLY procrastinate_events_jobtop_type_at ON {ev} (type, at);"
    );
    let dead_fix = format!(
        "CREATE INDEX CONCURRENTLY procrastinate_jobs_jobtop_failed ON {t} (id) \
         WHERE status = 'failed';"
    );
    let states = states::state_map(&jobs, &statuses, &count_fix, &dead_fix);
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
    // When the longest-running job started: the earliest last `started` of the running
    // jobs, one range at a time (doing, aborting) so that each stays an index range.
    let running_since: Vec<String> = states
        .list(JobState::Running)
        .map(|l| l.ranges.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "(SELECT min(s.at) FROM {from} CROSS JOIN LATERAL ( \
                   SELECT max(e.at) AS at FROM {ev} e \
                   WHERE e.job_id = j.id AND e.type = 'started') s \
                 WHERE {cond} AND j.queue_name = q.name)",
                cond = r.cond
            )
        })
        .collect();
    let running_since = match running_since.len() {
        0 => "NULL::timestamptz".to_string(),
        _ => format!("LEAST({})", running_since.join(", ")),
    };
    // The oldest ready job: among those scheduled, the earliest due; among those never
    // scheduled (due when deferred), the first deferred, whose time only its
    // `deferred` event keeps.
    let names_cte = format!(
        "names(name) AS ( \
           (SELECT j.queue_name FROM {from} ORDER BY j.queue_name LIMIT 1) \
           UNION ALL \
           SELECT (SELECT j.queue_name FROM {from} WHERE j.queue_name > n.name \
                   ORDER BY j.queue_name LIMIT 1) \
           FROM names n WHERE n.name IS NOT NULL)"
    );
    // The skip scan holds every job, finished ones too: read on the slower clock
    // (`engine::queue_list`), each poll taking the list as `$3`.
    let names_sql = format!(
        "WITH RECURSIVE {names_cte} SELECT n.name::text AS name FROM names n \
         WHERE n.name IS NOT NULL"
    );
    let names_cte = format!("names(name) AS (SELECT unnest({QUEUE_NAMES}))");
    let queues_sql = format!(
        "WITH RECURSIVE {names_cte} \
         SELECT q.name::text AS name, NULL::timestamptz AS paused_at, \
           NULL::text AS paused_by, NULL::text AS pause_reason, \
           {ready} AS ready, {scheduled} AS scheduled, {retrying} AS retrying, \
           {running} AS running, {dead} AS dead, \
           LEAST( \
             (SELECT min(j.scheduled_at) FROM {from} \
              WHERE j.status = 'todo' AND j.scheduled_at <= now() AND j.queue_name = q.name), \
             (SELECT min(e.at) FROM {ev} e WHERE e.type = 'deferred' AND e.job_id = \
                (SELECT min(j.id) FROM {from} WHERE j.status = 'todo' \
                 AND j.scheduled_at IS NULL AND j.queue_name = q.name)) \
           ) AS oldest_ready_at, {running_since} AS oldest_running_at \
         FROM names q WHERE q.name IS NOT NULL ORDER BY q.name",
        ready = count(JobState::Ready),
        scheduled = pile(JobState::Scheduled),
        retrying = pile(JobState::Retrying),
        running = count(JobState::Running),
        dead = pile(JobState::Dead),
    );
    // Without an index on (queue_name, status) each count above is a bitmap scan of every
    // job of the queue, finished ones included (169 s a poll at 10 M rows). Then the live
    // jobs (todo, doing: procrastinate's own partial index holds them) are counted for
    // every queue in one pass each poll, and the failed ones, which only a read of the
    // whole table finds, in one pass on the slower clock (`tally`).
    let indexed = jobs.has_index_for("status", &["queue_name"]);
    let (queues_sql, tallies) = if indexed {
        (queues_sql, Vec::new())
    } else {
        unindexed(&names_cte, &jobs, &ev, &states, &statuses)
    };
    // A worker's queues are not recorded (it listens to those it was started with):
    // they are left empty, "any", so that a live worker running one queue's jobs is
    // not taken for one that cannot serve the others.
    let workers_sql = workers.as_ref().map(|w| {
        format!(
            "SELECT w.id::text AS id, NULL::text AS host, NULL::int AS pid, \
               ARRAY[]::text[] AS queues, \
               NULL::timestamptz AS started_at, w.last_heartbeat AS last_heartbeat_at, \
               (SELECT count(*) FROM {from} WHERE j.worker_id = w.id AND j.status = 'doing') \
                 AS running_jobs \
             FROM {workers} w ORDER BY w.id",
            workers = w.qualified(),
        )
    });
    let failed_types = label_list(&event_types, &["failed", "deferred_for_retry"]);
    let throughput = events.has_index_for("at", &["type"]) || events.is_small();
    let minutes_sql = format!(
        "SELECT j.queue_name::text AS queue, j.task_name::text AS kind, {minute} AS minute, \
           count(*) FILTER (WHERE e.type = 'succeeded') AS succeeded, \
           count(*) FILTER (WHERE e.type <> 'succeeded') AS failed \
         FROM {ev} e JOIN {from} ON j.id = e.job_id \
         WHERE e.type IN ('succeeded', {failed_types}) AND e.at >= {MINUTES_FROM} AND e.at < {MINUTES_UNTIL} \
         GROUP BY 1, 2, 3",
        minute = epoch_minute("e.at"),
    );
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: Some(Arc::from(names_sql)),
        minutes: throughput.then(|| Arc::from(minutes_sql)),
        workers: workers_sql.map(Arc::from),
        tallies,
    };

    let workers_table = workers.as_ref().map(|w| w.qualified());
    let actions = ProcrastinateActions::new(
        &Tables {
            jobs: &t,
            workers: workers_table.as_deref(),
            events: &ev,
            status_type: &status_type,
            retry_failed: has_function("procrastinate_retry_job_v2"),
        },
        states,
    );
    let kinds = EventKinds {
        jobs: t.clone(),
        events: ev.clone(),
        due_types: label_list(
            &event_types,
            &["deferred", "deferred_for_retry", "retried", "scheduled"],
        ),
        failed_types: failed_types.clone(),
    };
    let drill = drill_table(&actions, &jobs, &ev, workers_table.as_deref(), &event_types);

    let version = if has_function("procrastinate_retry_job_v2") {
        "3.4 or later (procrastinate_retry_job_v2)"
    } else if workers.is_some() {
        "3.1 to 3.3 (workers, no procrastinate_retry_job_v2)"
    } else {
        "before 3.1 (no procrastinate_workers)"
    };
    let mut plan = DoctorPlan {
        tables: vec![
            TableNeed {
                schema: schema.to_string(),
                name: "procrastinate_jobs".into(),
                write: vec!["UPDATE", "DELETE"],
            },
            // procrastinate's triggers write each status change here as the role that
            // changes the job (and its sequence needs USAGE, which is not checked).
            TableNeed {
                schema: schema.to_string(),
                name: "procrastinate_events".into(),
                write: vec!["INSERT"],
            },
        ],
        probes: vec![Probe {
            name: "queue counts".into(),
            sql: statements.queues_probe(),
            binds_cap: true,
            fix: Some(count_fix.clone()),
        }],
        jobs_tables: vec![
            (schema.to_string(), "procrastinate_jobs".into()),
            (schema.to_string(), "procrastinate_events".into()),
        ],
        state_column: Some("status".into()),
        findings: vec![Check::new(
            "schema version",
            Status::Ok,
            format!("procrastinate {version}"),
        )],
    };
    for tally in &statements.tallies {
        plan.probes.push(tally.probe(Some(count_fix.clone())));
    }
    if let Some(w) = &workers {
        plan.tables.push(TableNeed {
            schema: schema.to_string(),
            name: w.name.clone(),
            write: vec![],
        });
        plan.probes.push(Probe {
            name: "workers".into(),
            sql: statements.workers.clone().expect("workers statement"),
            binds_cap: false,
            fix: None,
        });
    }
    if TableInfo::load(&pool, schema, "procrastinate_periodic_defers")
        .await?
        .is_some()
    {
        // Its trigger unlinks a deleted job's periodic defers.
        plan.tables.push(TableNeed {
            schema: schema.to_string(),
            name: "procrastinate_periodic_defers".into(),
            write: vec!["UPDATE"],
        });
    }
    if !jobs.has_index_for("status", &["queue_name"]) {
        plan.findings.push(
            Check::new(
                "queue counts",
                Status::Warn,
                "procrastinate has no index on (queue_name, status): each count, the oldest \
                 ready job and the job lists read the queue's jobs, finished ones included",
            )
            .with_fix(count_fix.clone()),
        );
    }
    match &statements.minutes {
        Some(sql) => plan.probes.push(Probe {
            name: "completions per minute".into(),
            sql: crate::backend::engine::snapshot::minutes_probe(sql),
            binds_cap: false,
            fix: Some(events_fix.clone()),
        }),
        None => plan.findings.push(
            Check::new("completions per minute", Status::Warn, NO_EVENTS_INDEX)
                .with_fix(events_fix.clone()),
        ),
    }
    plan.probes.extend(drill.probes());
    plan.probes.push(Probe {
        name: "per-kind figures".into(),
        sql: kinds
            .sql(&KindsQuery {
                window: HistoryWindow::Hour,
                limit: 20_000,
            })
            .inlined()
            .into(),
        binds_cap: false,
        fix: Some(events_fix),
    });
    plan.findings.extend(drill.findings());

    let heartbeats = Support::when(workers.is_some(), actions::NO_WORKERS);
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.support(ActionKind::Retry),
            cancel: actions.support(ActionKind::Cancel),
            discard: Support::No(
                "procrastinate's tools cannot fail a job that has not run: cancel it instead",
            ),
            delete: actions.support(ActionKind::Delete),
            reset_stuck: actions.support(ActionKind::ResetStuck),
            purge: actions.support(ActionKind::Purge),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause: Support::No(NO_PAUSE),
        heartbeats,
        workers: heartbeats,
        error_history: Support::No(
            "procrastinate keeps no error text: its events say when an attempt failed, not why",
        ),
        tenants: Support::No("procrastinate has no tenants"),
        throughput: Support::when(throughput, NO_EVENTS_INDEX),
        pause_visible: Support::No(NO_PAUSE),
        // Every failed attempt has its event (`failed`, or `deferred_for_retry` when it
        // will be retried): the per-kind figures count them, and so do completions per
        // minute wherever they are shown.
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
        kinds: Some(Box::new(kinds)),
        schema: schema.to_string(),
        profile: None,
        caches: Default::default(),
    })
}

/// How often the waiting jobs are counted where no index holds them by queue: one pass
/// over procrastinate's partial index on `todo` jobs (300,000 at 10 M rows, 10k buffers).
const WAITING_EVERY: Duration = Duration::from_secs(15);

/// How often the failed jobs are counted where no index holds them by queue: a read of
/// the whole jobs table (about as long as the naive count), once every five minutes.
const FAILED_EVERY: Duration = Duration::from_secs(300);

/// The overview on procrastinate's own indexes, where no index holds a status by queue:
/// each poll only the running jobs (its partial index on
/// `doing`), for every queue at once; the waiting jobs (`todo`: ready, scheduled, retrying,
/// the oldest ready) in one pass over its partial index on them every `WAITING_EVERY`; the
/// failed ones (and any legacy `aborting` one, which 3.x no longer writes) in one read of
/// the table every `FAILED_EVERY`. Between passes their figures say "~".
fn unindexed(
    names_cte: &str,
    jobs: &TableInfo,
    ev: &str,
    states: &crate::backend::engine::states::StateMap,
    statuses: &[String],
) -> (String, Vec<Tally>) {
    let t = jobs.qualified();
    let cond = |state| states.condition(state).unwrap_or_else(|| "false".into());
    let sql = format!(
        "WITH RECURSIVE {names_cte}, \
         running AS ( \
           SELECT j.queue_name AS name, count(*) AS n, min(s.at) AS at \
           FROM {t} j CROSS JOIN LATERAL ( \
             SELECT max(e.at) AS at FROM {ev} e WHERE e.job_id = j.id AND e.type = 'started') s \
           WHERE j.status = 'doing' GROUP BY 1) \
         SELECT q.name::text AS name, NULL::timestamptz AS paused_at, \
           NULL::text AS paused_by, NULL::text AS pause_reason, \
           0::bigint AS ready, 0::bigint AS scheduled, 0::bigint AS retrying, \
           LEAST(coalesce(r.n, 0), $1) AS running, 0::bigint AS dead, \
           NULL::timestamptz AS oldest_ready_at, r.at AS oldest_running_at \
         FROM names q LEFT JOIN running r ON r.name = q.name \
         WHERE q.name IS NOT NULL ORDER BY q.name"
    );
    let waiting = format!(
        "SELECT w.name, w.ready, w.scheduled, w.retrying, \
           LEAST(w.due_at, (SELECT min(e.at) FROM {ev} e \
                            WHERE e.type = 'deferred' AND e.job_id = w.first_unscheduled)) \
             AS oldest_ready_at \
         FROM (SELECT j.queue_name::text AS name, \
                 count(*) FILTER (WHERE {ready}) AS ready, \
                 count(*) FILTER (WHERE {scheduled}) AS scheduled, \
                 count(*) FILTER (WHERE {retrying}) AS retrying, \
                 min(j.scheduled_at) FILTER (WHERE j.scheduled_at <= now()) AS due_at, \
                 min(j.id) FILTER (WHERE j.scheduled_at IS NULL) AS first_unscheduled \
               FROM {t} j WHERE j.status = 'todo' GROUP BY 1) w",
        ready = cond(JobState::Ready),
        scheduled = cond(JobState::Scheduled),
        retrying = cond(JobState::Retrying),
    );
    let aborting = statuses.iter().any(|l| l == "aborting");
    let failed = format!(
        "SELECT j.queue_name::text AS name, count(*) FILTER (WHERE j.status = 'failed') AS dead{also} \
         FROM {t} j WHERE j.status IN ('failed'{more}) GROUP BY 1",
        also = if aborting {
            ", count(*) FILTER (WHERE j.status = 'aborting') AS also_running"
        } else {
            ""
        },
        more = if aborting { ", 'aborting'" } else { "" },
    );
    (
        sql,
        vec![
            Tally {
                sql: Arc::from(waiting),
                every: every_unless_small(jobs, WAITING_EVERY),
                estimate_first: false,
                bitmap_scan: false,
            },
            // A read of the whole table: on a big one a poll without a pass at hand
            // estimates the failed jobs rather than wait for it.
            Tally {
                sql: Arc::from(failed),
                every: every_unless_small(jobs, FAILED_EVERY),
                estimate_first: true,
                bitmap_scan: false,
            },
        ],
    )
}

/// The jobs for the drill-down. procrastinate keeps a job's times in its events: created is
/// its first `deferred`, started its last `started`, finished its last end (`succeeded`,
/// `failed`, `cancelled`, `aborted`) while it is in a finished status. A running job's
/// heartbeat is its worker's. No error text, no attempt limit (the retry strategy lives in
/// the task's code).
fn drill_table(
    actions: &ProcrastinateActions,
    jobs: &TableInfo,
    events: &str,
    workers: Option<&str>,
    event_types: &[String],
) -> DrillTable {
    let event_time = |agg: &str, types: &str| {
        format!(
            "(SELECT {agg}(e.at) FROM {events} e WHERE e.job_id = j.id AND e.type IN ({types}))"
        )
    };
    let ends = label_list(
        event_types,
        &["succeeded", "failed", "cancelled", "aborted"],
    );
    DrillTable {
        jobs: actions.jobs.clone(),
        priority: Some("j.priority".into()),
        attempts: Some("j.attempts".into()),
        max_attempts: None,
        run_at: time_column(jobs, "scheduled_at"),
        created_at: Some(TimeCol::new(event_time("min", "'deferred'"), false)),
        started_at: Some(TimeCol::new(event_time("max", "'started'"), false)),
        finished_at: Some(format!(
            "CASE WHEN j.status IN ('succeeded', 'failed', 'cancelled', 'aborted') THEN {} END",
            event_time("max", &ends)
        )),
        heartbeat_at: workers.map(|w| {
            TimeCol::new(
                format!(
                    "(SELECT w.last_heartbeat FROM {w} w \
                     WHERE w.id = j.worker_id AND j.status = 'doing')"
                ),
                false,
            )
        }),
        payload: Some("j.args".into()),
        payload_binary: false,
        history: None,
        lanes: None,
    }
}
