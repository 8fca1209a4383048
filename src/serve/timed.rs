//! The overview with a stopwatch: how long the last poll took, for `jobtop_poll_duration_seconds`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::backend::{Overview, Snapshot, SnapshotOptions};

pub struct Timed {
    inner: Arc<dyn Overview>,
    last: Mutex<Option<Duration>>,
}

impl Timed {
    pub fn new(inner: Arc<dyn Overview>) -> Timed {
        Timed {
            inner,
            last: Mutex::new(None),
        }
    }

    /// The last poll that ended (a poll cut off by the poller's timeout never ends here).
    pub fn last(&self) -> Option<Duration> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Overview for Timed {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        let started = Instant::now();
        let result = self.inner.snapshot(opts).await;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(started.elapsed());
        result
    }

    fn source(&self) -> Option<String> {
        self.inner.source()
    }
}
