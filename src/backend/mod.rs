//! The one seam where SQL lives: a module per queue schema, each mapping its schema onto
//! the normalized model (`model`) and carrying out the actions it supports.

pub mod admin;
pub mod connect;
pub mod model;
pub mod native;
pub mod native_worker;

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

    // ---- actions (pause, retry, cancel, ...) go below ----
}
