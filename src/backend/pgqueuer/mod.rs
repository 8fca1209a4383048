//! PgQueuer (Python), version 1: the `pgqueuer` table of live jobs, the `pgqueuer_log` of
//! every status change and `pgqueuer_statistics` (the log folded per second), in the schema
//! it was installed in (`public` unless `PGQUEUER_SCHEMA` said otherwise).
//!
//! A job's `entrypoint` is its queue and its kind at once. States map onto the display
//! buckets as (see `states`): `queued` -> ready once `execute_after` has passed, else
//! retrying when attempted before, else scheduled; `picked` -> running; `failed` (1.0 on, an
//! entrypoint that holds its failures) -> dead. A job that finishes (`successful`,
//! `exception`, `canceled`, `deleted`) is deleted from `pgqueuer` as its final row goes into
//! the log: PgQueuer keeps no finished job to list, only the log rows, which is where
//! completions and failures per minute, a job's start and its last traceback are read.
//!
//! No worker table either: a worker (a queue manager) shows in the jobs it holds
//! (`queue_manager_id`), with each job's own heartbeat, as PgQueuer's `pgq workers` shows
//! them; an idle worker leaves no trace. A picked job whose heartbeat stopped is stuck;
//! PgQueuer's workers re-pick such jobs themselves once the heartbeat is older than their
//! `heartbeat_timeout`.
//!
//! Cost: PgQueuer's partial indexes on queued jobs ((entrypoint, execute_after) and
//! (entrypoint, priority, id)) hold every waiting count, list and queue name as an index
//! range or a skip scan; picked jobs are few (an index on picked heartbeats); the log's
//! index on `created` bounds completions per minute to the last hour's rows. Held failures
//! have no index of PgQueuer's, and its queued index does not tell a retry from a later
//! job: without doctor's indexes for them (`jobtop migrate --indexes`) the dead and
//! retrying counts are taken for every entrypoint in one read of the table every 30 s
//! (shown with "~" in between), not per queue each poll.
//! Not read: pause (PgQueuer has none), tenants, schedules (`pgqueuer_schedules`), and a
//! table name prefix (`PGQUEUER_PREFIX`): jobtop finds the tables by their default names.

mod actions;
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
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, Statements, WINDOW_START, capped, epoch_minute, minutes_probe,
};
use crate::backend::engine::tally::{Tally, every_unless_small};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::{TableInfo, enum_of};
use crate::backend::pg::sql::TimeCol;
use crate::backend::pgqueuer::actions::{PgQueuerActions, Tables};

/// How often what no index holds by queue is counted (`tally`): the table holds live
/// jobs and held failures only, so one read of it is short.
const TALLY_EVERY: Duration = Duration::from_secs(30);

const NO_PAUSE: &str =
    "PgQueuer has no pause: a worker takes the entrypoints it registered until it stops";

const NO_LOG_INDEX: &str = "pgqueuer_log has no index on created: throughput and failure rate \
     are not shown (jobtop doctor names the index)";

/// Opens PgQueuer's tables in `schema`.
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let Some(jobs) = TableInfo::load(&pool, schema, "pgqueuer").await? else {
        bail!("no pgqueuer table in schema {schema}");
    };
    let Some(log) = TableInfo::load(&pool, schema, "pgqueuer_log").await? else {
        bail!("no pgqueuer_log table in schema {schema}");
    };
    let needed = [
        "status",
        "entrypoint",
        "priority",
        "execute_after",
        "heartbeat",
        "updated",
    ];
    if let Some(missing) = needed.iter().find(|c| !jobs.has(c)) {
        bail!(
            "{schema}.pgqueuer has no {missing} column: not a PgQueuer schema jobtop can read \
             (PgQueuer 0.10 or later has them all)"
        );
    }
    let (status_type, labels) = enum_of(&pool, &jobs, "status").await?;
    let held = labels.iter().any(|l| l == "failed");
    let attempts = jobs.has("attempts");

    let t = jobs.qualified();
    let lg = log.qualified();
    let from = format!("{t} j");
    let dead_fix = format!(
        "CREATE INDEX CONCURRENTLY pgqueuer_jobtop_failed ON {t} (entrypoint, id) \
         WHERE status = 'failed';"
    );
    let log_fix =
        format!("CREATE INDEX CONCURRENTLY pgqueuer_log_jobtop_created ON {lg} (created);");
    // PgQueuer's index on queued jobs does not tell a retry from a job scheduled for later:
    // a queue's retrying count reads its later jobs until it has the pile cap's worth of
    // retries (all of them, where retries are few among many scheduled jobs).
    let retrying_fix = format!(
        "CREATE INDEX CONCURRENTLY pgqueuer_jobtop_retrying ON {t} (entrypoint, execute_after) \
         WHERE status = 'queued' AND attempts > 0;"
    );
    let retrying_indexed = jobs.has_index_where("entrypoint", &[], |p| {
        p.is_some_and(|p| p.contains("attempts"))
    });
    let dead_indexed = jobs.has_index_where("entrypoint", &[], |p| {
        p.is_some_and(|p| p.contains("'failed'"))
    });
    let states = states::state_map(&jobs, &labels, &dead_fix);
    let tally_retrying = attempts && !retrying_indexed;
    let tally_dead = held && !dead_indexed;
    let count = |state| {
        states
            .capped_count(state, &from, "j.entrypoint = q.name")
            .unwrap_or_else(|| "0::bigint".into())
    };
    let pile = |state| {
        states
            .pile_count(state, &from, "j.entrypoint = q.name")
            .unwrap_or_else(|| "0::bigint".into())
    };
    // A failed attempt is logged `exception` (deleted), `failed` (held), or `queued` with
    // its traceback (put back by its retry executor).
    let tracebacks = log.has("traceback");
    let mut failed = vec!["l.status = 'exception'".to_string()];
    if held {
        failed.push("l.status = 'failed'".into());
    }
    if tracebacks {
        failed.push("(l.status = 'queued' AND l.traceback IS NOT NULL)".into());
    }
    let failed = failed.join(" OR ");
    let throughput = log.has_index_for("created", &[]);
    // The entrypoints with jobs: a skip scan over PgQueuer's index on queued jobs, the
    // few picked ones, and the held failures (a skip scan on doctor's index, else read).
    let skip_scan = |name: &str, status: &str| {
        format!(
            "{name}(name) AS ( \
               (SELECT j.entrypoint FROM {from} WHERE j.status = '{status}' \
                ORDER BY j.entrypoint LIMIT 1) \
               UNION ALL \
               SELECT (SELECT j.entrypoint FROM {from} WHERE j.status = '{status}' \
                       AND j.entrypoint > n.name ORDER BY j.entrypoint LIMIT 1) \
               FROM {name} n WHERE n.name IS NOT NULL)"
        )
    };
    // Picked jobs are as few as the workers' slots: read once a poll (on PgQueuer's index
    // on picked heartbeats), not once per queue (20 queues made that 8,000 row visits for
    // 400 picked jobs).
    let mut ctes = vec![
        skip_scan("queued", "queued"),
        format!(
            "picked(name, updated) AS MATERIALIZED ( \
               SELECT j.entrypoint, j.updated FROM {from} WHERE j.status = 'picked')"
        ),
    ];
    let mut names = vec![
        "SELECT name FROM queued WHERE name IS NOT NULL".to_string(),
        "SELECT name FROM picked".to_string(),
    ];
    // Without doctor's index the held failures' queues come from the slower pass, which
    // finds them anyway (`tally` below).
    if held && dead_indexed {
        ctes.push(skip_scan("held", "failed"));
        names.push("SELECT name FROM held WHERE name IS NOT NULL".into());
    }
    // A queue whose jobs all finished lives on in the log: listed while the last hour
    // has its completions (the rows completions per minute read anyway).
    if throughput {
        names.push(format!(
            "SELECT l.entrypoint FROM {lg} l WHERE l.created >= {WINDOW_START} \
             AND (l.status = 'successful' OR {failed})"
        ));
    }
    let queues_sql = format!(
        "WITH RECURSIVE {ctes}, names(name) AS ({names}) \
         SELECT q.name::text AS name, NULL::timestamptz AS paused_at, \
           NULL::text AS paused_by, NULL::text AS pause_reason, \
           {ready} AS ready, {scheduled} AS scheduled, {retrying} AS retrying, \
           {running} AS running, {dead} AS dead, \
           (SELECT min(j.execute_after) FROM {from} WHERE j.status = 'queued' \
              AND j.execute_after <= now() AND j.entrypoint = q.name) AS oldest_ready_at, \
           (SELECT min(x.updated) FROM picked x WHERE x.name = q.name) \
             AS oldest_running_at \
         FROM names q ORDER BY q.name",
        ctes = ctes.join(", "),
        names = names.join(" UNION "),
        ready = count(JobState::Ready),
        scheduled = "0::bigint",
        retrying = if tally_retrying {
            "0::bigint".into()
        } else {
            pile(JobState::Retrying)
        },
        running = capped("picked x", "x.name = q.name"),
        dead = if tally_dead {
            "0::bigint".into()
        } else {
            pile(JobState::Dead)
        },
    );
    // Jobs due later: PgQueuer's index on queued jobs holds them by entrypoint, but not
    // whether each is a retry; a capped count per queue checks each row's attempts in the
    // heap (and the planner, expecting the cap's worth soon, reads the table instead:
    // 68k buffers a poll at 10 M rows). They are counted for every entrypoint in one pass
    // over that index's range on the slower clock, retries among them where doctor's
    // index on them is missing; held failures, which no index of PgQueuer's holds, in one
    // read of the table. Between passes their figures say "~".
    let cond = |state| states.condition(state).unwrap_or_else(|| "false".into());
    let mut later = vec![format!(
        "count(*) FILTER (WHERE {}) AS scheduled",
        cond(JobState::Scheduled)
    )];
    if tally_retrying {
        later.push(format!(
            "count(*) FILTER (WHERE {}) AS retrying",
            cond(JobState::Retrying)
        ));
    }
    let mut tallies = vec![Tally {
        sql: Arc::from(format!(
            "SELECT j.entrypoint::text AS name, {} FROM {from} \
             WHERE j.status = 'queued' AND j.execute_after > now() GROUP BY 1",
            later.join(", ")
        )),
        every: every_unless_small(&jobs, TALLY_EVERY),
        estimate_first: false,
        bitmap_scan: false,
    }];
    if tally_dead {
        tallies.push(Tally {
            sql: Arc::from(format!(
                "SELECT j.entrypoint::text AS name, count(*) AS dead FROM {from} \
                 WHERE {} GROUP BY 1",
                cond(JobState::Dead)
            )),
            every: every_unless_small(&jobs, TALLY_EVERY),
            estimate_first: false,
            bitmap_scan: false,
        });
    }
    // A worker is the queue manager its picked jobs name, beating as its freshest job; the
    // entrypoints it serves are not recorded ("any").
    let workers_sql = jobs.has("queue_manager_id").then(|| {
        format!(
            "SELECT j.queue_manager_id::text AS id, NULL::text AS host, NULL::int AS pid, \
               ARRAY[]::text[] AS queues, NULL::timestamptz AS started_at, \
               max(j.heartbeat) AS last_heartbeat_at, count(*) AS running_jobs \
             FROM {from} WHERE j.status = 'picked' AND j.queue_manager_id IS NOT NULL \
             GROUP BY j.queue_manager_id ORDER BY 1"
        )
    });
    let minutes_sql = format!(
        "SELECT l.entrypoint::text AS queue, l.entrypoint::text AS kind, {minute} AS minute, \
           count(*) FILTER (WHERE l.status = 'successful') AS succeeded, \
           count(*) FILTER (WHERE {failed}) AS failed \
         FROM {lg} l \
         WHERE l.created >= {MINUTES_FROM} AND l.created < {MINUTES_UNTIL} AND (l.status = 'successful' OR {failed}) \
         GROUP BY 1, 2, 3",
        minute = epoch_minute("l.created"),
    );
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: None,
        minutes: throughput.then(|| Arc::from(minutes_sql)),
        workers: workers_sql.map(Arc::from),
        tallies,
    };

    let actions = PgQueuerActions::new(
        &Tables {
            jobs: &t,
            log: &lg,
            status_type: &status_type,
            held,
            attempts,
            tracebacks,
        },
        states,
    );
    let drill = drill_table(&actions, &jobs, &lg);

    let version = if held && attempts {
        "1.0 or later (held failed jobs, attempts)"
    } else {
        "before 1.0 (no 'failed' status: a failed job is deleted, nothing to requeue)"
    };
    let mut plan = DoctorPlan {
        tables: vec![
            TableNeed {
                schema: schema.to_string(),
                name: "pgqueuer".into(),
                write: vec!["UPDATE", "DELETE"],
            },
            // Each action logs the change as PgQueuer's own call does.
            TableNeed {
                schema: schema.to_string(),
                name: "pgqueuer_log".into(),
                write: vec!["INSERT"],
            },
        ],
        probes: vec![Probe {
            name: "queue counts".into(),
            sql: statements.queues_probe(),
            binds_cap: true,
            fix: Some(dead_fix.clone()),
        }],
        // The log is read by job id and by time, both on PgQueuer's indexes; its status
        // filters only split those ranges, which the state-column check would take for
        // whole-table reads.
        jobs_tables: vec![(schema.to_string(), "pgqueuer".into())],
        state_column: Some("status".into()),
        findings: vec![Check::new(
            "schema version",
            Status::Ok,
            format!("PgQueuer {version}"),
        )],
    };
    // The pass over later jobs is a range of PgQueuer's own index; the held failures'
    // pass reads the table until doctor's index on them exists.
    for (i, tally) in statements.tallies.iter().enumerate() {
        plan.probes
            .push(tally.probe((i == 1).then(|| dead_fix.clone())));
    }
    if let Some(sql) = &statements.workers {
        plan.probes.push(Probe {
            name: "workers".into(),
            sql: sql.clone(),
            binds_cap: false,
            fix: None,
        });
    }
    if jobs.has("attempts") && !retrying_indexed {
        plan.findings.push(
            Check::new(
                "retrying jobs",
                Status::Warn,
                "PgQueuer's index on queued jobs does not tell a retry from a job scheduled \
                 for later: each queue's retrying count reads its scheduled jobs to find its \
                 retries, a cost that grows with the scheduled pile",
            )
            .with_fix(retrying_fix),
        );
    }
    if held && !dead_indexed {
        plan.findings.push(
            Check::new(
                "failed jobs",
                Status::Warn,
                "PgQueuer has no index on its held failed jobs: the dead counts, the dead \
                 list and the queue names read every live job",
            )
            .with_fix(dead_fix.clone()),
        );
    }
    match &statements.minutes {
        Some(sql) => plan.probes.push(Probe {
            name: "completions per minute".into(),
            sql: minutes_probe(sql),
            binds_cap: false,
            fix: None,
        }),
        None => plan.findings.push(
            Check::new("completions per minute", Status::Warn, NO_LOG_INDEX)
                .with_fix(log_fix.clone()),
        ),
    }
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());

    let workers = Support::when(
        statements.workers.is_some(),
        "this PgQueuer table has no queue_manager_id: which worker holds a job is not kept",
    );
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: actions.support(ActionKind::Retry),
            cancel: actions.support(ActionKind::Cancel),
            discard: Support::No(
                "PgQueuer's tools cannot fail a job that has not run: cancel it instead",
            ),
            delete: actions.support(ActionKind::Delete),
            reset_stuck: Support::No(
                "PgQueuer's workers re-pick a job whose heartbeat is older than their \
                 heartbeat_timeout themselves; its tools only list them (pgq stale)",
            ),
            purge: Support::No(
                "PgQueuer deletes a job's row when it finishes: no finished job is kept to \
                 purge (pgqueuer_log is its status history, which its statistics and jobtop's \
                 throughput read, not jobs)",
            ),
            audit: audit_support(crate::backend::pg::audit::audit_table(&pool).await?),
        },
        pause: Support::No(NO_PAUSE),
        heartbeats: Support::Yes,
        workers,
        error_history: Support::No(
            "PgQueuer logs each failed attempt's traceback in pgqueuer_log; jobtop shows the \
             last one as the job's error",
        ),
        tenants: Support::No("PgQueuer has no tenants"),
        throughput: Support::when(throughput, NO_LOG_INDEX),
        pause_visible: Support::No(NO_PAUSE),
        failed_attempts: Support::when(
            tracebacks,
            "this PgQueuer log keeps no tracebacks: a retried attempt is not told from a requeue",
        ),
        failures: Support::Yes,
    };
    Ok(Foreign {
        name: "pgqueuer",
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

/// The jobs for the drill-down: live jobs only (finished ones are log rows). A job's start
/// is its last `picked` log row; a held failure finished when it was last updated; its
/// heartbeat is its own while picked. The payload is bytes: shown with non-text bytes
/// escaped. The attempt limit lives in the worker's retry executor, not in the table.
fn drill_table(actions: &PgQueuerActions, jobs: &TableInfo, log: &str) -> DrillTable {
    DrillTable {
        jobs: actions.jobs.clone(),
        priority: Some("j.priority".into()),
        attempts: jobs.has("attempts").then(|| "j.attempts".into()),
        max_attempts: None,
        run_at: time_column(jobs, "execute_after"),
        created_at: time_column(jobs, "created"),
        started_at: Some(TimeCol::new(
            format!(
                "(SELECT max(l.created) FROM {log} l \
                 WHERE l.job_id = j.id AND l.status = 'picked')"
            ),
            false,
        )),
        finished_at: Some("CASE WHEN j.status = 'failed' THEN j.updated END".into()),
        heartbeat_at: Some(TimeCol::new(
            "CASE WHEN j.status = 'picked' THEN j.heartbeat END",
            false,
        )),
        payload: jobs
            .has("payload")
            .then(|| "encode(j.payload, 'escape')".into()),
        payload_binary: false,
        history: None,
        lanes: None,
    }
}
