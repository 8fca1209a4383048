//! `jobtop [URL]`: the live overview.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::MonitorArgs;
use crate::app::{App, AppConfig};
use crate::backend::connect::{self, SessionSettings};
use crate::backend::native::NativeBackend;
use crate::backend::replica::OnReplica;
use crate::backend::shared::{SharedOptions, SharedSnapshot};
use crate::backend::{Backend, SnapshotOptions};
use crate::terminal::{self, MonitorOptions};

pub fn session_settings(args: &MonitorArgs) -> SessionSettings {
    SessionSettings {
        statement_timeout: Duration::from_secs_f64(args.statement_timeout.clamp(0.1, 600.0)),
        read_only: args.read_only,
        ..SessionSettings::default()
    }
}

/// The database sessions a monitor holds: the primary, where actions go, and where reads
/// go (the same pool, or a read replica's).
pub struct Pools {
    pub primary: PgPool,
    pub replica: Option<PgPool>,
}

pub async fn run(opts: PgConnectOptions, args: &MonitorArgs) -> Result<()> {
    let settings = session_settings(args);
    let interval = Duration::from_secs_f64(args.interval.clamp(0.5, 60.0));
    let poll_timeout = settings.statement_timeout + Duration::from_secs(2);
    let mut described = connect::describe(&opts);
    let primary = connect::connect(opts, &settings).await?;
    let replica = match &args.replica_url {
        Some(url) => {
            let replica_opts = connect::parse_target(Some(url))?;
            described = format!(
                "{described}, reads from {}",
                connect::describe(&replica_opts)
            );
            // A replica refuses writes anyway; saying so keeps even a bug from trying.
            let replica_settings = SessionSettings {
                read_only: true,
                ..settings.clone()
            };
            Some(connect::connect(replica_opts, &replica_settings).await?)
        }
        None => None,
    };
    let pools = Pools { primary, replica };
    let backend = open_backend(&pools, &described, args, interval, poll_timeout).await?;
    let config = AppConfig {
        target: described,
        backend: backend.name().to_string(),
        capabilities: backend.capabilities(),
        read_only: settings.read_only,
        stale_after: Duration::from_secs(args.stale_after),
        oldest_warn: Duration::from_secs(60),
        oldest_critical: Duration::from_secs(300),
    };
    tracing::info!(target = %config.target, backend = %config.backend, "monitor starting");
    let app = App::new(config, interval, Utc::now());
    let opts = MonitorOptions {
        snapshot: SnapshotOptions {
            count_cap: args.count_cap.max(1),
        },
        poll_timeout,
    };
    terminal::run(app, backend, opts).await
}

/// The backend for the schema found, reading from the replica when there is one, else
/// sharing its snapshots with the other monitors unless told not to.
async fn open_backend(
    pools: &Pools,
    described: &str,
    args: &MonitorArgs,
    interval: Duration,
    poll_timeout: Duration,
) -> Result<Arc<dyn Backend>> {
    let reads = pools.replica.as_ref().unwrap_or(&pools.primary);
    let has_schema: Option<String> = sqlx::query_scalar("SELECT to_regclass('jobtop.jobs')::text")
        .fetch_one(reads)
        .await
        .with_context(|| format!("cannot query {described}"))?;
    if has_schema.is_none() {
        bail!(
            "{described} has no job queue that jobtop knows: looked for the reference schema (jobtop.jobs). Apply it with `jobtop migrate URL`."
        );
    }
    Ok(match &pools.replica {
        Some(replica) => {
            let native = NativeBackend::with_replica(pools.primary.clone(), replica.clone());
            Arc::new(OnReplica::new(native, replica.clone()))
        }
        None if args.no_share => Arc::new(NativeBackend::new(pools.primary.clone())),
        None => Arc::new(SharedSnapshot::new(
            NativeBackend::new(pools.primary.clone()),
            &pools.primary,
            SharedOptions::new(interval, poll_timeout, args.read_only),
        )),
    })
}
