//! The project's own reference schema (`migrations/`, schema `jobtop`).

mod migrate;
mod snapshot;

use async_trait::async_trait;
use sqlx::PgPool;

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
}
