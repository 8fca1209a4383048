//! Adds the database's schedules (`backend::schedules`) to every snapshot of the overview
//! in front of which it stands. It stands outermost: behind a shared snapshot each monitor
//! still reads its own schedules (a few small statements), so the published snapshot stays
//! the queue's alone. Which sources there are is found on the first poll that reaches the
//! database (a wall screen may start while it is away) and kept.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::backend::schedules::{QueueSchema, Sources};
use crate::backend::{Overview, Snapshot, SnapshotOptions};

pub struct WithSchedules {
    inner: Arc<dyn Overview>,
    pool: PgPool,
    /// The watched queue's backend and schema, for its own schedules.
    queue: (&'static str, String),
    sources: OnceCell<Sources>,
}

impl WithSchedules {
    pub fn new(
        inner: Arc<dyn Overview>,
        pool: PgPool,
        backend: &'static str,
        schema: String,
    ) -> WithSchedules {
        WithSchedules {
            inner,
            pool,
            queue: (backend, schema),
            sources: OnceCell::new(),
        }
    }
}

#[async_trait]
impl Overview for WithSchedules {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        let mut snapshot = self.inner.snapshot(opts).await?;
        let sources = self
            .sources
            .get_or_try_init(|| {
                Sources::detect_with(
                    &self.pool,
                    QueueSchema {
                        backend: self.queue.0,
                        schema: &self.queue.1,
                    },
                )
            })
            .await?;
        snapshot.schedules = Some(Box::new(sources.read(&self.pool).await));
        Ok(snapshot)
    }

    fn source(&self) -> Option<String> {
        self.inner.source()
    }
}
