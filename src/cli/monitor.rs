//! `jobtop [URL]`: the live overview.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::MonitorArgs;
use crate::app::{App, AppConfig, DrillSettings};
use crate::backend::connect::{self, SessionSettings};
use crate::backend::native::NativeBackend;
use crate::backend::{Backend, SnapshotOptions};
use crate::terminal::{self, MonitorOptions};

pub fn session_settings(args: &MonitorArgs) -> SessionSettings {
    SessionSettings {
        statement_timeout: Duration::from_secs_f64(args.statement_timeout.clamp(0.1, 600.0)),
        read_only: args.read_only,
        ..SessionSettings::default()
    }
}

pub async fn run(opts: PgConnectOptions, args: &MonitorArgs) -> Result<()> {
    let settings = session_settings(args);
    let described = connect::describe(&opts);
    let pool = connect::connect(opts, &settings).await?;
    let backend = open_backend(&pool, &described).await?;
    let config = AppConfig {
        target: described,
        backend: backend.name().to_string(),
        capabilities: backend.capabilities(),
        read_only: settings.read_only,
        stale_after: Duration::from_secs(args.stale_after),
        oldest_warn: Duration::from_secs(60),
        oldest_critical: Duration::from_secs(300),
        drill: DrillSettings {
            stuck_after: Duration::from_secs(args.stuck_after.max(1)),
            heartbeat_interval: Duration::from_secs_f64(args.heartbeat_interval.clamp(0.1, 3600.0)),
            ..DrillSettings::default()
        },
    };
    let interval = Duration::from_secs_f64(args.interval.clamp(0.5, 60.0));
    tracing::info!(target = %config.target, backend = %config.backend, "monitor starting");
    let app = App::new(config, interval, Utc::now());
    let opts = MonitorOptions {
        snapshot: SnapshotOptions {
            count_cap: args.count_cap.max(1),
        },
        poll_timeout: settings.statement_timeout + Duration::from_secs(2),
    };
    terminal::run(app, backend, opts).await
}

async fn open_backend(pool: &PgPool, described: &str) -> Result<Arc<dyn Backend>> {
    let has_schema: Option<String> = sqlx::query_scalar("SELECT to_regclass('jobtop.jobs')::text")
        .fetch_one(pool)
        .await
        .with_context(|| format!("cannot query {described}"))?;
    if has_schema.is_none() {
        bail!(
            "{described} has no job queue that jobtop knows: looked for the reference schema (jobtop.jobs). Apply it with `jobtop migrate URL`."
        );
    }
    Ok(Arc::new(NativeBackend::new(pool.clone())))
}
