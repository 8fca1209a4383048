//! The one seam where SQL lives: a module per queue schema, each mapping its schema onto
//! the normalized model (`model`) and carrying out the actions it supports.

pub mod connect;
pub mod drill;
pub mod model;
pub mod native;
pub mod signature;

use async_trait::async_trait;

pub use model::*;

/// A queue schema, read through the normalized model.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Short name shown in the header ("native", "river", ...).
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Everything the overview shows, in as few round trips as the schema allows.
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot>;

    // ---- drill-down reads (jobs, job detail, error groups, kinds, ...) go below ----

    /// One keyset page of a job list.
    async fn jobs(&self, query: &drill::JobQuery) -> anyhow::Result<drill::JobPage> {
        let _ = query;
        Err(unsupported(self.name(), "job lists"))
    }

    /// One job in full; `None` when no job has that id.
    async fn job(
        &self,
        id: i64,
        limits: &drill::DetailLimits,
    ) -> anyhow::Result<Option<drill::JobDetail>> {
        let _ = (id, limits);
        Err(unsupported(self.name(), "job details"))
    }

    /// Dead jobs of a window grouped by error signature (see `signature`).
    async fn dead_letters(
        &self,
        query: &drill::DeadLetterQuery,
    ) -> anyhow::Result<drill::DeadLetterReport> {
        let _ = query;
        Err(unsupported(self.name(), "dead letters"))
    }

    /// Per-kind outcomes and timings over a window.
    async fn kinds(&self, query: &drill::KindsQuery) -> anyhow::Result<drill::KindsReport> {
        let _ = query;
        Err(unsupported(self.name(), "per-kind figures"))
    }

    /// Running and ready jobs per tenant (where the schema has tenants).
    async fn tenants(&self, query: &drill::TenantsQuery) -> anyhow::Result<drill::TenantsReport> {
        let _ = query;
        Err(unsupported(self.name(), "tenants"))
    }

    // ---- actions (pause, retry, cancel, ...) go below ----
}

/// The error of a read or action a backend does not offer.
pub fn unsupported(backend: &str, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: not supported by the {backend} backend")
}
