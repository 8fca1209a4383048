//! Monitoring reads from a read replica (`--replica-url`), so that watching costs the primary
//! nothing; actions still go to the primary (the schema holds both pools). This wraps the
//! overview alone: every other read goes straight to the schema.
//!
//! A replica's figures are as old as its replay: after each snapshot the replica is asked
//! how far behind it is, and the header says so.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use async_trait::async_trait;
use sqlx::PgPool;

use crate::backend::{Overview, Snapshot, SnapshotOptions};

/// Zero while the replica has replayed all the WAL it received (an idle primary sends
/// none, and `now() - pg_last_xact_replay_timestamp()` would grow without any lag), else
/// the age of the last transaction it replayed. NULL when the server is not a standby.
const LAG_SQL: &str = r#"
SELECT CASE
         WHEN NOT pg_is_in_recovery() THEN NULL
         WHEN pg_last_wal_receive_lsn() IS NOT NULL
              AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8
"#;

/// Replication delay as the replica sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lag {
    Seconds(f64),
    /// The replica URL points at a server that is not a standby.
    NotAStandby,
}

/// A backend reading from a replica, with the replica's lag measured after every poll.
pub struct OnReplica<B: ?Sized> {
    inner: Arc<B>,
    replica: PgPool,
    lag: Mutex<Option<Lag>>,
}

impl<B: Overview + ?Sized> OnReplica<B> {
    /// `inner` must already read from `replica` (and write to the primary).
    pub fn new(inner: Arc<B>, replica: PgPool) -> OnReplica<B> {
        OnReplica {
            inner,
            replica,
            lag: Mutex::new(None),
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The lag measured after the last poll.
    pub fn lag(&self) -> Option<Lag> {
        *self.lag.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Asks a server how far its replay is behind.
pub async fn measure_lag(replica: &PgPool) -> Result<Lag> {
    let lag: Option<f64> = sqlx::query_scalar(LAG_SQL).fetch_one(replica).await?;
    Ok(match lag {
        Some(s) => Lag::Seconds(s.max(0.0)),
        None => Lag::NotAStandby,
    })
}

#[async_trait]
impl<B: Overview + ?Sized> Overview for OnReplica<B> {
    fn source(&self) -> Option<String> {
        let lag = match self.lag() {
            Some(Lag::Seconds(s)) => format!("replica lag {s:.1}s"),
            Some(Lag::NotAStandby) => "replica URL is not a standby".to_string(),
            None => "replica".to_string(),
        };
        Some(match self.inner.source() {
            Some(inner) => format!("{inner}, {lag}"),
            None => lag,
        })
    }

    async fn snapshot(&self, opts: &SnapshotOptions) -> Result<Snapshot> {
        let snapshot = self.inner.snapshot(opts).await?;
        let lag = match measure_lag(&self.replica).await {
            Ok(lag) => Some(lag),
            Err(err) => {
                tracing::warn!("cannot measure the replica's lag: {err:#}");
                None
            }
        };
        *self.lag.lock().unwrap_or_else(|e| e.into_inner()) = lag;
        Ok(snapshot)
    }
}
