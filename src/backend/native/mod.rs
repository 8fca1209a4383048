//! The project's own reference schema (`migrations/`, schema `jobtop`).

/// When a running job last showed signs of life: its worker's heartbeat; for a holder that
/// never registered, the job's own heartbeat; for a job with neither, when it started. The
/// one definition the stuck list (`jobs.rs`) and reset-stuck (`actions.rs`, its plan and
/// each batch's re-check) judge a job by, so `S` never takes a job the list does not show.
/// A literal (for `concat!`) over the alias `j`.
macro_rules! alive_at {
    () => {
        "coalesce((SELECT w.last_heartbeat_at FROM jobtop.workers w WHERE w.id = j.locked_by), \
         j.heartbeat_at, j.started_at)"
    };
}

pub(crate) mod actions;
mod attempts;
mod dead_letters;
pub(crate) mod job;
mod jobs;
mod kinds;
mod migrate;
pub mod minutes;
pub mod probe;
pub mod schedules;
mod snapshot;
mod tenants;
pub mod worker;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::PgPool;

use super::doctor::{DoctorPlan, Probe, TableNeed};
use super::drill::{
    DeadLetterQuery, DeadLetterReport, DetailLimits, JobDetail, JobPage, JobQuery, KindsQuery,
    KindsReport, TenantsQuery, TenantsReport,
};
use super::gate::WriteKey;
use super::pg::audit;
use super::{
    Action, AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep, Capabilities, JobId, JobState,
    Overview, Plan, Reads, Snapshot, SnapshotOptions, Writes,
};
use crate::backend::drill::{FailedAttemptsQuery, HistoryWindow};
use crate::backend::history::{self, HistoryReport, HourCache};
use crate::backend::minute_cache::MinuteCache;
use crate::backend::pile_estimates::EstimateCache;

pub use migrate::migrate;

/// Reads (and, through actions, changes) a database holding the `jobtop` schema.
/// The backend's name (`Reads::name`).
pub const BACKEND: &str = "native";

#[derive(Debug, Clone)]
pub struct NativeBackend {
    /// Where monitoring reads go: the primary, or a read replica (`--replica-url`).
    pub pool: PgPool,
    /// Where changes go (actions, audit): always the primary. The same pool as `pool`
    /// unless reads go to a replica.
    pub primary: PgPool,
    /// What polls keep for the next ones.
    caches: Arc<Caches>,
}

/// Kept across polls: closed minutes of the throughput history, planner estimates.
#[derive(Debug, Default)]
pub struct Caches {
    pub minutes: MinuteCache,
    pub hours: HourCache,
    pub estimates: EstimateCache,
}

impl NativeBackend {
    pub fn new(pool: PgPool) -> NativeBackend {
        NativeBackend {
            primary: pool.clone(),
            pool,
            caches: Arc::default(),
        }
    }

    /// Reads from `replica`, writes to `primary`.
    pub fn with_replica(primary: PgPool, replica: PgPool) -> NativeBackend {
        NativeBackend {
            pool: replica,
            primary,
            caches: Arc::default(),
        }
    }

    /// Drops the cached throughput minutes: the next poll reads the whole hour.
    pub fn forget_minutes(&self) {
        self.caches.minutes.clear();
    }

    /// The plan of a job page query, for tests and troubleshooting.
    pub async fn explain_jobs(&self, query: &JobQuery) -> anyhow::Result<String> {
        jobs::explain(&self.pool, query).await
    }
}

#[async_trait]
impl Overview for NativeBackend {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        snapshot::snapshot(&self.pool, opts, &self.caches).await
    }
}

#[async_trait]
impl Reads for NativeBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn schema(&self) -> &str {
        "jobtop"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
    }

    fn doctor_plan(&self) -> DoctorPlan {
        let need = |name: &str, write: Vec<&'static str>| TableNeed {
            schema: "jobtop".into(),
            name: name.into(),
            write,
        };
        let probe = |name: &str, sql: Arc<str>, binds_cap: bool| Probe {
            name: name.into(),
            sql,
            binds_cap,
            fix: None,
        };
        // The queue counts' second cap (`$2`) inlined as the poll binds it by default.
        let queues = snapshot::QUEUES_SQL.replace("$2", &(super::PILE_CAP + 1).to_string());
        DoctorPlan {
            tables: vec![
                need("jobs", vec!["UPDATE", "DELETE"]),
                need("queues", vec!["UPDATE"]),
                need("workers", vec![]),
                need("audit", vec!["INSERT", "UPDATE"]),
            ],
            probes: vec![
                probe("queue counts", Arc::from(queues), true),
                probe(
                    "completions per minute",
                    super::engine::snapshot::minutes_probe(minutes::MINUTES_SQL),
                    false,
                ),
                probe("workers", Arc::from(snapshot::WORKERS_SQL), false),
            ],
            jobs_tables: vec![("jobtop".into(), "jobs".into())],
            state_column: Some("state".into()),
            findings: Vec::new(),
        }
    }

    async fn jobs(&self, query: &JobQuery) -> anyhow::Result<JobPage> {
        jobs::page(&self.pool, query).await
    }

    async fn job(&self, id: &JobId, limits: &DetailLimits) -> anyhow::Result<Option<JobDetail>> {
        job::job(&self.pool, id, limits).await
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
        dead_letters::dead_letters(&self.pool, query).await
    }

    async fn kinds(&self, query: &KindsQuery) -> anyhow::Result<KindsReport> {
        kinds::kinds(&self.pool, query).await
    }

    async fn failed_attempts(
        &self,
        query: &FailedAttemptsQuery,
    ) -> anyhow::Result<DeadLetterReport> {
        attempts::failed_attempts(&self.pool, query).await
    }

    async fn history(&self, window: HistoryWindow) -> anyhow::Result<HistoryReport> {
        let source = history::source_key(self.name(), self.schema());
        history::read(
            &self.pool,
            minutes::MINUTES_SQL,
            &source,
            &self.caches.hours,
            window,
        )
        .await
    }

    async fn tenants(&self, query: &TenantsQuery) -> anyhow::Result<TenantsReport> {
        tenants::tenants(&self.pool, query).await
    }

    // The reads that must see an action's effect at once (the audit log, a phased retry's
    // progress) go to the primary even when monitoring reads go to a replica.

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        audit::audit_log(&self.primary, filter).await
    }

    async fn job_states(&self, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        actions::job_states(&self.primary, ids).await
    }
}

/// Actions always go to the primary.
#[async_trait]
impl Writes for NativeBackend {
    async fn plan_action(&self, _: WriteKey, action: &Action) -> anyhow::Result<Plan> {
        actions::plan(&self.primary, action).await
    }

    async fn apply_batch(&self, _: WriteKey, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        actions::apply_batch(&self.primary, step).await
    }

    async fn finish_audit(&self, _: WriteKey, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        audit::finish_audit(&self.primary, end).await
    }

    async fn close_abandoned(&self, _: WriteKey) -> anyhow::Result<u64> {
        audit::close_abandoned(&self.primary).await
    }
}
