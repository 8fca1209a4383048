//! The project's own reference schema (`migrations/`, schema `jobtop`).

pub mod estimate;
pub mod fixture;
mod migrate;
pub mod minutes;
pub mod probe;
mod snapshot;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::PgPool;

use super::{Backend, Capabilities, Snapshot, SnapshotOptions};
use estimate::EstimateCache;
use minutes::MinuteCache;

pub use migrate::migrate;

/// Reads (and, through actions, changes) a database holding the `jobtop` schema.
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
        snapshot::snapshot(&self.pool, opts, &self.caches).await
    }
}
