//! The project's own reference schema (`migrations/`, schema `jobtop`).

mod actions;
mod migrate;
mod snapshot;

use async_trait::async_trait;
use sqlx::PgPool;

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
}
