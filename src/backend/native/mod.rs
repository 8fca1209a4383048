//! The project's own reference schema (`migrations/`, schema `jobtop`).

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
use super::{Backend, Capabilities, Snapshot, SnapshotOptions};

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
        }
    }

    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        snapshot::snapshot(&self.pool, opts).await
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
