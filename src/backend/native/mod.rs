//! The project's own reference schema (`migrations/`, schema `jobtop`).

pub(crate) mod actions;
mod dead_letters;
mod job;
mod jobs;
mod kinds;
mod migrate;
mod read;
mod snapshot;
mod tenants;
mod text;

use async_trait::async_trait;
use sqlx::PgPool;

use super::drill::{
    DeadLetterQuery, DeadLetterReport, DetailLimits, JobDetail, JobPage, JobQuery, KindsQuery,
    KindsReport, TenantsQuery, TenantsReport,
};
use super::{
    Action, ActionCapabilities, AuditEnd, AuditEntry, AuditFilter, Backend, BatchDone, BatchStep,
    Capabilities, JobState, Plan, Snapshot, SnapshotOptions,
};

pub use migrate::migrate;

/// Reads (and, through actions, changes) a database holding the `jobtop` schema.
#[derive(Debug, Clone)]
pub struct NativeBackend {
    pub pool: PgPool,
}

impl NativeBackend {
    pub fn new(pool: PgPool) -> NativeBackend {
        NativeBackend { pool }
    }

    /// The plan of a job page query, for tests and troubleshooting.
    pub async fn explain_jobs(&self, query: &JobQuery) -> anyhow::Result<String> {
        jobs::explain(&self.pool, query).await
    }
}

#[async_trait]
impl Backend for NativeBackend {
    fn name(&self) -> &'static str {
        "native"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            pause: true,
            heartbeats: true,
            workers: true,
            error_history: true,
            tenants: true,
            throughput: true,
            pause_visible: true,
            failed_attempts: true,
            actions: ActionCapabilities::ALL,
        }
    }

    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        snapshot::snapshot(&self.pool, opts).await
    }

    async fn plan_action(&self, action: &Action) -> anyhow::Result<Plan> {
        actions::plan(&self.pool, action).await
    }

    async fn apply_batch(&self, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        actions::apply_batch(&self.pool, step).await
    }

    async fn finish_audit(&self, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        actions::finish_audit(&self.pool, end).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        actions::audit_log(&self.pool, filter).await
    }

    async fn job_states(&self, ids: &[i64]) -> anyhow::Result<Vec<(i64, JobState)>> {
        actions::job_states(&self.pool, ids).await
    }

    async fn jobs(&self, query: &JobQuery) -> anyhow::Result<JobPage> {
        jobs::page(&self.pool, query).await
    }

    async fn job(&self, id: i64, limits: &DetailLimits) -> anyhow::Result<Option<JobDetail>> {
        job::job(&self.pool, id, limits).await
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
        dead_letters::dead_letters(&self.pool, query).await
    }

    async fn kinds(&self, query: &KindsQuery) -> anyhow::Result<KindsReport> {
        kinds::kinds(&self.pool, query).await
    }

    async fn tenants(&self, query: &TenantsQuery) -> anyhow::Result<TenantsReport> {
        tenants::tenants(&self.pool, query).await
    }
}
