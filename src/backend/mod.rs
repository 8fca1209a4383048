//! The one seam where SQL lives: a module per queue schema, each mapping its schema onto
//! the normalized model (`model`) and carrying out the actions it supports.

pub mod connect;
pub mod detect;
pub mod doctor;
pub mod graphile;
pub mod mapped;
pub mod model;
pub mod native;
pub mod oban;
pub mod pgboss;
mod prioritized;
pub mod river;
mod sqlkit;

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

    /// What `jobtop doctor` should check for this backend: tables, privileges, and the
    /// monitoring statements to `EXPLAIN`.
    fn doctor_plan(&self) -> doctor::Plan {
        doctor::Plan::default()
    }
}
