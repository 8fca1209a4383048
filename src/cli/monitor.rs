//! `jobtop [URL]`: the live overview (and, with `--kiosk`, the wall screen).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{Local, Offset, Utc};
use sqlx::postgres::PgConnectOptions;

use super::settings::{self, MonitorSettings};
use super::{MonitorArgs, backend_choice};
use crate::app::{App, AppConfig};
use crate::backend::connect;
use crate::backend::detect::{self, BackendKind, Detected};
use crate::backend::{Backend, SnapshotOptions};
use crate::terminal::{self, MonitorOptions};

/// The monitor with the command line's settings alone (no config file): for `jobtop demo`.
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
        backend_choice::open(&pool, &described).await?
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
/// the screen says what it is waiting for. Until the catalog can be read, the schema is
/// taken to be the one `--backend` names, else the reference one.
async fn open_kiosk(
    opts: PgConnectOptions,
    settings: &MonitorSettings,
    described: &str,
) -> Result<Arc<dyn Backend>> {
    let pool = connect::connect_lazy(opts, &settings.session);
    let reachable = pool.acquire().await.map(drop);
    match reachable {
        Ok(()) => backend_choice::open(&pool, described).await,
        Err(err) => {
            tracing::warn!("{described} unreachable at start-up, waiting for it: {err:#}");
            let mut selection = backend_choice::selection();
            let assumed = Detected {
                backend: selection.backend.take().unwrap_or(BackendKind::Native),
                schema: String::new(),
                profile: None,
            };
            let schema = selection
                .schema
                .unwrap_or_else(|| assumed.backend.default_schema().to_string());
            detect::open(&pool, &Detected { schema, ..assumed }).await
        }
    }
}
