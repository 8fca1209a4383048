//! River (riverqueue.com, Go): `river_job` and `river_queue` in the schema River was
//! migrated into.
//!
//! States map onto the display buckets as: `available` -> ready; `scheduled` -> scheduled, or
//! ready once due (River's scheduler moves it within seconds; a due one that stays is a sign
//! the leader is not running); `retryable` -> retrying, or ready once due; `pending` (waiting
//! on something other than time) -> scheduled; `running` -> running; `discarded` -> dead;
//! `completed` -> succeeded; `cancelled` -> cancelled.
//!
//! River keeps no worker heartbeats: workers are the clients named last in the running jobs'
//! `attempted_by`. Pauses live in `river_queue.paused_at`.

mod actions;
pub mod schedules;
mod states;

use std::sync::Arc;

use anyhow::bail;
use sqlx::PgPool;

use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::engine::drill::{
    self as drill, DrillTable, ErrorHistory, HistoryShape, LaneValues,
};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::prioritized::Prioritized;
use crate::backend::engine::snapshot::{QUEUE_NAMES, Statements};
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::{TimeCol, qualified};
use crate::backend::river::actions::RiverActions;

/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "river";

/// Why River shows no throughput: what counts completions fast is missing.
const NO_FINALIZED_INDEX: &str = "no index on (state, finalized_at) and the table is over 8 MB: \
     throughput and failure rate are not shown (jobtop doctor names the index)";

/// Opens the River tables in `schema` (`public` unless River was migrated elsewhere).
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Foreign> {
    let Some(jobs) = TableInfo::load(&pool, schema, "river_job").await? else {
        bail!("no river_job table in schema {schema}");
    };
    let queues = TableInfo::load(&pool, schema, "river_queue").await?;
    let t = jobs.qualified();
    // `pending` arrived with River's migration 4; naming a label the enum lacks is an error.
    let labels: Vec<String> = sqlx::query_scalar(
        "SELECT e.enumlabel::text FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid \
         WHERE a.attrelid = format('%I.%I', $1::text, 'river_job')::regclass AND a.attname = 'state'",
    )
    .bind(schema)
    .fetch_all(&pool)
    .await?;
    let shape = Prioritized {
        table: t.clone(),
        scheduled_at: TimeCol::new("j.scheduled_at", jobs.is_naive_timestamp("scheduled_at")),
        lanes: LaneValues::Fixed(vec![1, 2, 3, 4]),
        available: "available",
        scheduled: "scheduled",
        retryable: "retryable",
        running: "running",
        started_at: TimeCol::new("j.attempted_at", jobs.is_naive_timestamp("attempted_at")),
        discarded: "discarded",
        waiting: labels
            .iter()
            .any(|l| l == "pending")
            .then_some("pending")
            .into_iter()
            .collect(),
        finished: ["completed", "discarded", "cancelled"]
            .into_iter()
            .map(|s| (s, TimeCol::new("j.finalized_at", false)))
            .collect(),
        succeeded: "completed",
        kind: "j.kind",
    };
    let audit = crate::backend::pg::audit::audit_table(&pool).await?;
    // river_queue keeps when, not who or why: a pause made through jobtop says both.
    let (by, why, join) = if audit {
        (
            "pa.actor",
            "pa.reason",
            crate::backend::pg::audit::pause_audit_join("n.name", "rq.paused_at"),
        )
    } else {
        ("NULL::text", "NULL::text", String::new())
    };
    // The names read on the slower clock, and the queues River's clients registered (a
    // small table, read on every poll, so a queue a client starts working shows at once).
    let queue_list = match &queues {
        Some(q) => format!(
            "SELECT n.name, rq.paused_at, {by} AS paused_by, {why} AS pause_reason \
             FROM (SELECT unnest({QUEUE_NAMES}) AS name UNION SELECT name FROM {rq}) n \
             LEFT JOIN {rq} rq ON rq.name = n.name {join}",
            rq = q.qualified()
        ),
        None => format!(
            "SELECT unnest({QUEUE_NAMES}) AS name, NULL::timestamptz AS paused_at, \
             NULL::text AS paused_by, NULL::text AS pause_reason"
        ),
    };
    let throughput = jobs.has_index_for("finalized_at", &["state"]) || jobs.is_small();
    let statements = Statements {
        queues: Arc::from(shape.queues_sql(&queue_list)),
        queue_names: Some(Arc::from(shape.names_sql())),
        minutes: throughput.then(|| Arc::from(shape.minutes_sql())),
        workers: Some(Arc::from(
            shape.workers_sql("j.attempted_by[array_upper(j.attempted_by, 1)]"),
        )),
        tallies: Vec::new(),
    };
    let fetch_index = format!(
        "CREATE INDEX CONCURRENTLY river_job_prioritized_fetching_index ON {t} \
         (state, queue, priority, scheduled_at, id);"
    );
    let finalized_index = format!(
        "CREATE INDEX CONCURRENTLY river_job_state_and_finalized_at_index ON {t} \
         (state, finalized_at) WHERE finalized_at IS NOT NULL;"
    );
    let mut plan = DoctorPlan {
        tables: vec![TableNeed {
            schema: schema.to_string(),
            name: "river_job".into(),
            write: vec!["UPDATE", "DELETE"],
        }],
        probes: vec![Probe {
            name: "queue counts".into(),
            sql: statements.queues_probe(),
            binds_cap: true,
            fix: Some(fetch_index.clone()),
        }],
        jobs_tables: vec![(schema.to_string(), "river_job".into())],
        state_column: Some("state".into()),
        findings: Vec::new(),
    };
    if let Some(sql) = &statements.minutes {
        plan.probes.push(Probe {
            name: "completions per minute".into(),
            sql: crate::backend::engine::snapshot::minutes_probe(sql),
            binds_cap: false,
            fix: Some(finalized_index.clone()),
        });
    } else {
        plan.findings.push(
            Check::new("completions per minute", Status::Warn, NO_FINALIZED_INDEX)
                .with_fix(finalized_index.clone()),
        );
        // What reading them would cost without the index, measured by doctor.
        plan.probes.push(Probe {
            name: "completions per minute, were they read without the index".into(),
            sql: crate::backend::engine::snapshot::minutes_probe(&shape.minutes_sql()),
            binds_cap: false,
            fix: Some(finalized_index.clone()),
        });
    }
    if let Some(sql) = &statements.workers {
        plan.probes.push(Probe {
            name: "workers".into(),
            sql: sql.clone(),
            binds_cap: false,
            fix: Some(fetch_index.clone()),
        });
    }
    if queues.is_some() {
        plan.tables.push(TableNeed {
            schema: schema.to_string(),
            name: "river_queue".into(),
            write: vec!["UPDATE", "INSERT"],
        });
    } else {
        plan.findings.push(Check::new(
            "pauses",
            Status::Warn,
            format!(
                "no {} table (River older than its migration 4): pauses are not shown",
                qualified(schema, "river_queue")
            ),
        ));
    }
    let states = states::state_map(&shape, &jobs, &fetch_index, &finalized_index);
    let actions = RiverActions::new(
        schema,
        &t,
        queues.as_ref().map(|q| q.qualified()),
        &labels,
        states,
    );
    let drill = drill_table(&actions, &jobs);
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());
    let no_river_queue =
        "this River schema has no river_queue table (River before its migration 4)";
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: Support::Yes,
            cancel: Support::Yes,
            discard: Support::Yes,
            delete: Support::Yes,
            reset_stuck: Support::No(
                "River's rescuer moves stuck running jobs back to retryable (or discarded) \
                 itself, after RescueStuckJobsAfter (1 hour by default)",
            ),
            purge: Support::Yes,
            audit: audit_support(audit),
        },
        pause: Support::when(queues.is_some(), no_river_queue),
        heartbeats: Support::No("River keeps no worker heartbeats"),
        workers: Support::Yes,
        error_history: Support::Yes,
        tenants: Support::No("River has no tenants"),
        throughput: Support::when(throughput, NO_FINALIZED_INDEX),
        pause_visible: Support::when(queues.is_some(), no_river_queue),
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
        schema: schema.to_string(),
        profile: None,
        caches: Default::default(),
    })
}

/// `river_job` for the drill-down: the job table of the actions (its state map included);
/// an error entry's worker is the client that made that attempt (`attempted_by` gains one
/// per attempt, and River keeps only its last 100).
fn drill_table(actions: &RiverActions, jobs: &TableInfo) -> DrillTable {
    let time = |c: &str| TimeCol::new(format!("j.{c}"), jobs.is_naive_timestamp(c));
    DrillTable {
        jobs: actions.jobs.clone(),
        priority: Some("j.priority".into()),
        attempts: Some("j.attempt".into()),
        max_attempts: Some("j.max_attempts".into()),
        run_at: Some(time("scheduled_at")),
        created_at: Some(time("created_at")),
        started_at: Some(time("attempted_at")),
        finished_at: Some(time("finalized_at").read()),
        heartbeat_at: None,
        payload: Some("j.args".into()),
        payload_binary: false,
        history: Some(ErrorHistory {
            column: "j.errors".into(),
            shape: HistoryShape::PgArray,
            at: "e.entry ->> 'at'".into(),
            attempt: "e.entry ->> 'attempt'".into(),
            error: "nullif(concat_ws(E'\\n', e.entry ->> 'error', \
                    nullif(e.entry ->> 'trace', '')), '')"
                .into(),
            worker: Some(
                "j.attempted_by[(CASE WHEN (e.entry ->> 'attempt') ~ '^[0-9]{1,9}$' \
                 THEN (e.entry ->> 'attempt')::int END) \
                 - (j.attempt - coalesce(cardinality(j.attempted_by), 0))]"
                    .into(),
            ),
            timed: true,
        }),
        lanes: Some(drill::Lanes {
            column: "j.priority".into(),
            values: LaneValues::Fixed(vec![1, 2, 3, 4]),
        }),
    }
}
