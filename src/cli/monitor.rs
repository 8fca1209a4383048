//! `jobtop [URL]`: the live overview (and, with `--kiosk`, the wall screen).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{Local, Offset, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::MonitorArgs;
use super::settings::{self, MonitorSettings};
use crate::app::{App, AppConfig};
use crate::backend::connect::{self, SessionSettings};
use crate::backend::native::NativeBackend;
use crate::backend::{Backend, SnapshotOptions};
use crate::terminal::{self, MonitorOptions};

// Kept for `jobtop demo` (written on another branch), which opens its own sessions.
#[allow(dead_code)]
pub fn session_settings(args: &MonitorArgs) -> SessionSettings {
    SessionSettings {
        statement_timeout: Duration::from_secs_f64(args.statement_timeout.clamp(0.1, 600.0)),
        read_only: args.read_only || args.kiosk,
        ..SessionSettings::default()
    }
}

/// The monitor with the command line's settings alone (no config file): for `jobtop demo`.
#[allow(dead_code)]
pub async fn run(opts: PgConnectOptions, args: &MonitorArgs) -> Result<()> {
    let explicit = ["interval", "statement_timeout", "stale_after", "count_cap"]
        .into_iter()
        .map(String::from)
        .collect();
    let settings = settings::monitor(
        &crate::config::Config::default(),
        args,
        &explicit,
        None,
        std::env::var("NO_COLOR").ok().as_deref(),
    );
    run_with(opts, &settings).await
}

pub async fn run_with(opts: PgConnectOptions, settings: &MonitorSettings) -> Result<()> {
    let described = connect::describe(&opts);
    let backend = if settings.kiosk {
        open_kiosk(opts, settings, &described).await?
    } else {
        let pool = connect::connect(opts, &settings.session).await?;
        open_backend(&pool, &described).await?
    };
    let config = AppConfig {
        target: described,
        backend: backend.name().to_string(),
        capabilities: backend.capabilities(),
        read_only: settings.session.read_only,
        stale_after: settings.stale_after,
        oldest_warn: Duration::from_secs(60),
        // The oldest-ready cell turns critical where the alert fires.
        oldest_critical: settings.rules.oldest_ready.threshold.duration(),
        drill: settings.drill.clone(),
    };
    tracing::info!(
        target = %config.target,
        backend = %config.backend,
        kiosk = settings.kiosk,
        "monitor starting"
    );
    let mut app = App::new(config, settings.interval, Utc::now());
    app.rules = settings.rules.clone();
    app.kiosk = settings.kiosk;
    app.bell = settings.bell;
    app.theme = settings.theme;
    app.utc_offset = Local::now().offset().fix();
    let opts = MonitorOptions {
        snapshot: SnapshotOptions {
            count_cap: settings.count_cap,
            running_by_tenant: settings.rules.needs_tenants(),
        },
        poll_timeout: settings.session.statement_timeout + Duration::from_secs(2),
    };
    terminal::run(app, backend, opts).await
}

/// The wall screen starts even while the database is away: the pool connects lazily and
/// the screen says what it is waiting for. The schema is then assumed to be the reference
/// one until it can be read.
async fn open_kiosk(
    opts: PgConnectOptions,
    settings: &MonitorSettings,
    described: &str,
) -> Result<Arc<dyn Backend>> {
    let pool = connect::connect_lazy(opts, &settings.session);
    match detect(&pool).await {
        Ok(true) => Ok(Arc::new(NativeBackend::new(pool))),
        Ok(false) => bail!(no_schema(described)),
        Err(err) => {
            tracing::warn!("{described} unreachable at start-up, waiting for it: {err:#}");
            Ok(Arc::new(NativeBackend::new(pool)))
        }
    }
}

pub(super) async fn open_backend(pool: &PgPool, described: &str) -> Result<Arc<dyn Backend>> {
    let has_schema = detect(pool)
        .await
        .with_context(|| format!("cannot query {described}"))?;
    if !has_schema {
        bail!(no_schema(described));
    }
    Ok(Arc::new(NativeBackend::new(pool.clone())))
}

async fn detect(pool: &PgPool) -> Result<bool> {
    let has_schema: Option<String> = sqlx::query_scalar("SELECT to_regclass('jobtop.jobs')::text")
        .fetch_one(pool)
        .await?;
    Ok(has_schema.is_some())
}

fn no_schema(described: &str) -> String {
    format!(
        "{described} has no job queue that jobtop knows: looked for the reference schema (jobtop.jobs). Apply it with `jobtop migrate URL`."
    )
}
