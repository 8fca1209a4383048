//! pgmq (Supabase Queues), version 1: `pgmq.meta` names the queues; each queue is a table
//! pair, `q_<name>` (its messages) and `a_<name>` (its archive), created by `pgmq.create`.
//!
//! States (see `states`): a message is visible (ready) once its visibility timeout `vt` has
//! passed, in flight (running) while the timeout a read set runs (`read_ct` counts the
//! reads: jobtop's attempts), delayed (scheduled) when sent with a delay and not read yet;
//! an archived message is done (succeeded). There is no failed, retrying or cancelled
//! state, no worker and no heartbeat: a reader holds a message only until its timeout
//! passes, and jobtop cannot tell a slow reader from a dead one. A deleted message (the
//! usual end of a processed one) leaves no trace: throughput counts archived messages
//! only.
//!
//! Queues come and go as tables, so the statements are built over the queues `pgmq.meta`
//! names whose tables exist: a UNION ALL with one branch per queue, rebuilt when the queue
//! list changes, which is read every `REFRESH` (a small table, not the catalog) and at
//! once when a statement fails (a dropped queue). Each branch reads pgmq's own index on
//! `vt` (counts capped, the oldest visible message its first entry) and on the archive's
//! `archived_at` (the last hour's archived messages): no finished row is read per poll
//! beyond that hour's.

mod actions;
mod states;

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::PgPool;

use crate::backend::actions::{Action, BatchStep, Plan};
use crate::backend::actions::{AuditEnd, AuditEntry, AuditFilter, BatchDone};
use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::drill::HistoryWindow;
use crate::backend::drill::{
    DeadLetterQuery, DeadLetterReport, DetailLimits, FailedAttemptsQuery, JobDetail, JobPage,
    JobQuery, KindsQuery, KindsReport, TenantsQuery, TenantsReport,
};
use crate::backend::engine::actions::JobTable;
use crate::backend::engine::drill::DrillTable;
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, Statements, epoch_minute, minutes_probe,
};
use crate::backend::gate::WriteKey;
use crate::backend::history::HistoryReport;
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::sql::{TimeCol, literal, qualified};
use crate::backend::pgmq::actions::PgmqActions;
use crate::backend::{Overview, Reads, Snapshot, SnapshotOptions, Writes, doctor};

/// How often the queue list is read again: the engine's clock for every queue list.
pub const REFRESH: Duration = crate::backend::engine::queue_list::QUEUE_LIST_EVERY;

const NO_WORKERS: &str = "pgmq keeps no workers or heartbeats: a reader holds a message only \
     until its visibility timeout passes, then it is visible again";

/// pgmq's queues, watched: the statements of the queues it had when last looked at.
pub struct Pgmq {
    pool: PgPool,
    schema: String,
    current: RwLock<Arc<Foreign>>,
    /// The queue list the statements were built for, and when it was read.
    looked: Mutex<(Vec<String>, Instant)>,
}

/// The queues `pgmq.meta` names whose two tables exist (a queue being created or dropped
/// may lack them).
async fn queue_names(pool: &PgPool, schema: &str) -> anyhow::Result<Vec<String>> {
    let meta = qualified(schema, "meta");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT m.queue_name::text FROM {meta} m \
         WHERE to_regclass(format('%I.%I', $1::text, 'q_' || lower(m.queue_name))) IS NOT NULL \
           AND to_regclass(format('%I.%I', $1::text, 'a_' || lower(m.queue_name))) IS NOT NULL \
         ORDER BY 1"
    )))
    .bind(schema)
    .fetch_all(pool)
    .await?)
}

/// Opens pgmq in `schema` (`pgmq` where it installs itself).
pub async fn open(pool: PgPool, schema: &str) -> anyhow::Result<Pgmq> {
    let queues = queue_names(&pool, schema).await?;
    let foreign = build(&pool, schema, &queues).await?;
    Ok(Pgmq {
        pool,
        schema: schema.to_string(),
        current: RwLock::new(Arc::new(foreign)),
        looked: Mutex::new((queues, Instant::now())),
    })
}

impl Pgmq {
    fn current(&self) -> Arc<Foreign> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the queue list again when it is due (or `now`), and rebuilds the statements
    /// when it changed.
    async fn refresh(&self, now: bool) -> anyhow::Result<()> {
        {
            let looked = self.looked.lock().unwrap_or_else(|e| e.into_inner());
            if !now && looked.1.elapsed() < REFRESH {
                return Ok(());
            }
        }
        let queues = queue_names(&self.pool, &self.schema).await?;
        let changed = {
            let mut looked = self.looked.lock().unwrap_or_else(|e| e.into_inner());
            looked.1 = Instant::now();
            let changed = looked.0 != queues;
            looked.0 = queues.clone();
            changed
        };
        if changed {
            let foreign = build(&self.pool, &self.schema, &queues).await?;
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(foreign);
        }
        Ok(())
    }
}

/// The union of every queue's messages and archive as one job table, `j`: an id of
/// `queue:msg_id`, the queue, and the message columns; an archived message has no `vt`.
fn union(schema: &str, queues: &[String]) -> String {
    if queues.is_empty() {
        return "(SELECT NULL::text AS id, NULL::text AS queue, NULL::bigint AS msg_id, \
                 NULL::int AS read_ct, NULL::timestamptz AS enqueued_at, \
                 NULL::timestamptz AS last_read_at, NULL::timestamptz AS vt, \
                 NULL::timestamptz AS archived_at, NULL::jsonb AS message WHERE false) j"
            .into();
    }
    let branches: Vec<String> = queues
        .iter()
        .flat_map(|name| {
            let q = qualified(schema, &format!("q_{}", name.to_lowercase()));
            let a = qualified(schema, &format!("a_{}", name.to_lowercase()));
            let lit = literal(name);
            let prefix = literal(&format!("{name}:"));
            [
                format!(
                    "SELECT {prefix} || m.msg_id AS id, {lit}::text AS queue, m.msg_id, \
                       m.read_ct, m.enqueued_at, m.last_read_at, m.vt, \
                       NULL::timestamptz AS archived_at, m.message FROM {q} m"
                ),
                format!(
                    "SELECT {prefix} || m.msg_id AS id, {lit}::text AS queue, m.msg_id, \
                       m.read_ct, m.enqueued_at, m.last_read_at, NULL::timestamptz AS vt, \
                       m.archived_at, m.message FROM {a} m"
                ),
            ]
        })
        .collect();
    format!("({}) j", branches.join(" UNION ALL "))
}

/// The statements and reads for this queue list.
async fn build(pool: &PgPool, schema: &str, queues: &[String]) -> anyhow::Result<Foreign> {
    let states = states::state_map();
    let count = |state: JobState, table: &str| {
        states
            .capped_count(state, &format!("{table} j"), "true")
            .unwrap_or_else(|| "0::bigint".into())
    };
    let per_queue: Vec<String> = queues
        .iter()
        .map(|name| {
            let q = qualified(schema, &format!("q_{}", name.to_lowercase()));
            format!(
                "SELECT {lit}::text AS name, NULL::timestamptz AS paused_at, \
                   NULL::text AS paused_by, NULL::text AS pause_reason, \
                   {ready} AS ready, {delayed} AS scheduled, 0::bigint AS retrying, \
                   {in_flight} AS running, 0::bigint AS dead, \
                   (SELECT min(j.vt) FROM {q} j WHERE {visible}) AS oldest_ready_at, \
                   (SELECT min(j.last_read_at) FROM {q} j WHERE {flying}) AS oldest_running_at",
                lit = literal(name),
                ready = count(JobState::Ready, &q),
                delayed = states
                    .pile_count(JobState::Scheduled, &format!("{q} j"), "true")
                    .unwrap_or_else(|| "0::bigint".into()),
                in_flight = count(JobState::Running, &q),
                visible = states::READY,
                flying = states::IN_FLIGHT,
            )
        })
        .collect();
    let queues_sql = if per_queue.is_empty() {
        // `$1` must still be a parameter of the statement.
        "SELECT NULL::text AS name, NULL::timestamptz AS paused_at, NULL::text AS paused_by, \
           NULL::text AS pause_reason, 0::bigint AS ready, 0::bigint AS scheduled, \
           0::bigint AS retrying, 0::bigint AS running, 0::bigint AS dead, \
           NULL::timestamptz AS oldest_ready_at WHERE $1::bigint < 0"
            .to_string()
    } else {
        format!("{} ORDER BY 1", per_queue.join(" UNION ALL "))
    };
    let minutes: Vec<String> = queues
        .iter()
        .map(|name| {
            let a = qualified(schema, &format!("a_{}", name.to_lowercase()));
            format!(
                "SELECT {lit}::text AS queue, NULL::text AS kind, {minute} AS minute, \
                   count(*) AS succeeded, 0::bigint AS failed \
                 FROM {a} j WHERE j.archived_at >= {MINUTES_FROM} \
                   AND j.archived_at < {MINUTES_UNTIL} GROUP BY 3",
                lit = literal(name),
                minute = epoch_minute("j.archived_at"),
            )
        })
        .collect();
    let statements = Statements {
        queues: Arc::from(queues_sql),
        queue_names: None,
        minutes: (!minutes.is_empty()).then(|| Arc::from(minutes.join(" UNION ALL "))),
        workers: None,
        tallies: Vec::new(),
    };

    let from = union(schema, queues);
    let jobs = JobTable {
        from: from.clone(),
        id: "j.id".into(),
        created_at: Some("j.enqueued_at".into()),
        id_type: "text".into(),
        queue: "j.queue".into(),
        // pgmq's messages have no kind: the queue is all there is.
        kind: "j.queue".into(),
        states,
        worker: None,
        tenant: None,
        error: None,
        stale: None,
        batches: Vec::new(),
        discard_message: false,
        finished_at: Some(TimeCol::new("j.archived_at", false)),
        from_states: actions::FROM_STATES
            .iter()
            .map(|(k, s)| (*k, s.to_vec()))
            .collect(),
    };
    let drill = DrillTable {
        jobs: jobs.clone(),
        priority: None,
        attempts: Some("j.read_ct".into()),
        max_attempts: None,
        run_at: Some(TimeCol::new("j.vt", false)),
        created_at: Some(TimeCol::new("j.enqueued_at", false)),
        started_at: Some(TimeCol::new("j.last_read_at", false)),
        finished_at: Some("j.archived_at".into()),
        heartbeat_at: None,
        payload: Some("j.message".into()),
        payload_binary: false,
        history: None,
        lanes: None,
    };
    let actions = PgmqActions::new(jobs, schema, queues.to_vec());

    let mut plan = DoctorPlan {
        tables: vec![TableNeed {
            schema: schema.to_string(),
            name: "meta".into(),
            write: vec![],
        }],
        probes: vec![Probe {
            name: "queue counts".into(),
            sql: statements.queues_probe(),
            binds_cap: true,
            fix: None,
        }],
        jobs_tables: queues
            .iter()
            .map(|n| (schema.to_string(), format!("q_{}", n.to_lowercase())))
            .collect(),
        state_column: None,
        findings: vec![Check::new(
            "queues",
            Status::Ok,
            format!(
                "pgmq: {} queue(s), the list read again every {} s",
                queues.len(),
                REFRESH.as_secs()
            ),
        )],
    };
    for name in queues {
        for prefix in ["q", "a"] {
            plan.tables.push(TableNeed {
                schema: schema.to_string(),
                name: format!("{prefix}_{}", name.to_lowercase()),
                write: if prefix == "q" {
                    vec!["UPDATE", "DELETE"]
                } else {
                    vec!["INSERT"]
                },
            });
        }
    }
    if let Some(sql) = &statements.minutes {
        plan.probes.push(Probe {
            name: "completions per minute".into(),
            sql: minutes_probe(sql),
            binds_cap: false,
            fix: None,
        });
    }
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());

    // Retry, cancel and discard: `actions::FROM_STATES`.
    let capabilities = Capabilities {
        actions: ActionCapabilities {
            retry: Support::Yes,
            cancel: Support::Yes,
            discard: Support::Yes,
            delete: Support::No(
                "pgmq has no dead or cancelled messages to delete: cancel deletes a waiting \
                 message (pgmq.delete)",
            ),
            reset_stuck: Support::No(NO_WORKERS),
            purge: Support::Yes,
            audit: audit_support(crate::backend::pg::audit::audit_table(pool).await?),
        },
        pause: Support::No("pgmq has no pause: readers read whenever they call pgmq.read"),
        heartbeats: Support::No(NO_WORKERS),
        workers: Support::No(NO_WORKERS),
        error_history: Support::No("pgmq keeps no errors: a failed read is only a read_ct"),
        tenants: Support::No("pgmq has no tenants"),
        throughput: Support::Yes,
        pause_visible: Support::No("pgmq has no pause"),
        failed_attempts: Support::No(
            "pgmq keeps no failures: a message read again after its timeout only counts a read",
        ),
        failures: Support::No(
            "pgmq keeps no failures: a message is visible, delayed, in flight or archived",
        ),
    };
    Ok(Foreign {
        name: "pgmq",
        pool: pool.clone(),
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

#[async_trait]
impl Overview for Pgmq {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        self.refresh(false).await?;
        match self.current().snapshot(opts).await {
            Ok(snapshot) => Ok(snapshot),
            // A queue dropped since the list was read: read it again, once.
            Err(_) => {
                self.refresh(true).await?;
                self.current().snapshot(opts).await
            }
        }
    }
}

#[async_trait]
impl Reads for Pgmq {
    fn name(&self) -> &'static str {
        "pgmq"
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    fn capabilities(&self) -> Capabilities {
        self.current().capabilities
    }

    fn doctor_plan(&self) -> doctor::DoctorPlan {
        self.current().doctor.clone()
    }

    async fn jobs(&self, query: &JobQuery) -> anyhow::Result<JobPage> {
        self.current().jobs(query).await
    }

    async fn job(&self, id: &JobId, limits: &DetailLimits) -> anyhow::Result<Option<JobDetail>> {
        self.current().job(id, limits).await
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
        self.current().dead_letters(query).await
    }

    async fn kinds(&self, query: &KindsQuery) -> anyhow::Result<KindsReport> {
        self.current().kinds(query).await
    }

    async fn failed_attempts(
        &self,
        query: &FailedAttemptsQuery,
    ) -> anyhow::Result<DeadLetterReport> {
        self.current().failed_attempts(query).await
    }

    async fn history(&self, window: HistoryWindow) -> anyhow::Result<HistoryReport> {
        self.current().history(window).await
    }

    async fn tenants(&self, query: &TenantsQuery) -> anyhow::Result<TenantsReport> {
        self.current().tenants(query).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        self.current().audit_log(filter).await
    }

    async fn job_states(&self, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        self.current().job_states(ids).await
    }
}

#[async_trait]
impl Writes for Pgmq {
    async fn plan_action(&self, key: WriteKey, action: &Action) -> anyhow::Result<Plan> {
        self.current().plan_action(key, action).await
    }

    async fn apply_batch(&self, key: WriteKey, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        self.current().apply_batch(key, step).await
    }

    async fn finish_audit(&self, key: WriteKey, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        self.current().finish_audit(key, end).await
    }

    async fn close_abandoned(&self, key: WriteKey) -> anyhow::Result<u64> {
        self.current().close_abandoned(key).await
    }
}
