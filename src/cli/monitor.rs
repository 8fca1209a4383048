//! `jobtop [URL]`: the live overview (and, with `--kiosk`, the wall screen).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{Local, Offset, Utc};
use sqlx::postgres::PgConnectOptions;

use super::settings::{self, MonitorSettings};
use super::sources::SourceSpec;
use super::{MonitorArgs, backend_choice};
use crate::app::sources::Sources;
use crate::app::{App, AppConfig};
use crate::backend::detect::{self, BackendKind, Detected, Selection};
use crate::backend::native::NativeBackend;
use crate::backend::pg::connect;
use crate::backend::wrappers::replica::OnReplica;
use crate::backend::wrappers::shared::SharedOptions;
use crate::backend::{Backend, Capabilities, SnapshotOptions};
use crate::source_runtime::SourceSetup;
use crate::terminal::{self, MonitorOptions};

/// The monitor with the command line's settings alone (no config file): for `jobtop demo`.
pub async fn run(opts: PgConnectOptions, args: &MonitorArgs) -> Result<()> {
    run_noted(opts, args, None).await
}

/// `run`, with a line the overview keeps at its foot (the demo's URL).
pub async fn run_noted(
    opts: PgConnectOptions,
    args: &MonitorArgs,
    note: Option<String>,
) -> Result<()> {
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
    noted(opts, &settings, &backend_choice::selection(), note).await
}

pub async fn run_with(
    opts: PgConnectOptions,
    settings: &MonitorSettings,
    selection: &Selection,
) -> Result<()> {
    noted(opts, settings, selection, None).await
}

async fn noted(
    opts: PgConnectOptions,
    settings: &MonitorSettings,
    selection: &Selection,
    note: Option<String>,
) -> Result<()> {
    let mut described = connect::describe(&opts);
    let poll_timeout = settings.session.statement_timeout + Duration::from_secs(2);
    let replica = match &settings.replica_url {
        Some(url) => {
            let replica = connect::parse_target(Some(url))?;
            described = format!("{described}, reads from {}", connect::describe(&replica));
            Some(replica)
        }
        None => None,
    };
    let open = open_backend(opts, replica, settings, &described, poll_timeout, selection);
    let start = |(backend, probe): (Backend, PgConnectOptions)| {
        let mut app = new_app(
            settings,
            described.clone(),
            backend.name().to_string(),
            backend.capabilities(),
        );
        app.note = note;
        let opts = MonitorOptions {
            snapshot: snapshot_options(settings),
            poll_timeout,
            probe: Some(probe),
        };
        (app, backend, opts)
    };
    terminal::run(&described, settings.theme, open, start).await
}

/// Connects and opens the schema the monitor watches, with what stands in front of it.
async fn open_backend(
    opts: PgConnectOptions,
    replica: Option<PgConnectOptions>,
    settings: &MonitorSettings,
    described: &str,
    poll_timeout: Duration,
    selection: &Selection,
) -> Result<(Backend, PgConnectOptions)> {
    match (settings.kiosk, replica) {
        // The wall screen only reads: with a replica it needs nothing from the primary.
        (true, Some(replica)) => open_kiosk(replica, settings, described, selection).await,
        (true, None) => open_kiosk(opts, settings, described, selection).await,
        (false, Some(replica)) => {
            open_on_replica(opts, replica, settings, described, selection).await
        }
        (false, None) => {
            let pool = connect::connect(opts, &settings.session).await?;
            let backend = backend_choice::open_with(&pool, described, selection).await?;
            let probe = (*pool.connect_options()).clone();
            let shared = settings.share.then(|| {
                SharedOptions::new(settings.interval, poll_timeout, settings.session.read_only)
            });
            Ok((backend.watched(&pool, shared), probe))
        }
    }
}

/// The wall screen starts even while the database is away: the pool connects lazily and
/// the screen says what it is waiting for. Until the catalog can be read, the schema is
/// taken to be the one `--backend` names, else the reference one.
async fn open_kiosk(
    opts: PgConnectOptions,
    settings: &MonitorSettings,
    described: &str,
    selection: &Selection,
) -> Result<(Backend, PgConnectOptions)> {
    let pool = connect::connect_lazy(opts, &settings.session).await;
    let probe = (*pool.connect_options()).clone();
    let reachable = pool.acquire().await.map(drop);
    let backend = match reachable {
        Ok(()) => backend_choice::open_with(&pool, described, selection).await,
        Err(err) => {
            tracing::warn!("{described} unreachable at start-up, waiting for it: {err:#}");
            let mut selection = selection.clone();
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
    }?;
    Ok((backend.with_schedules(pool), probe))
}

/// Reads from the replica, actions to the primary (`--replica-url`). Only the reference
/// schema's backend keeps two pools; the others would send their actions to the replica,
/// which refuses them, so they are not offered a replica.
async fn open_on_replica(
    primary: PgConnectOptions,
    replica: PgConnectOptions,
    settings: &MonitorSettings,
    described: &str,
    selection: &Selection,
) -> Result<(Backend, PgConnectOptions)> {
    // A replica refuses writes anyway; saying so keeps even a bug from trying.
    let replica_session = connect::SessionSettings {
        read_only: true,
        ..settings.session.clone()
    };
    let replica = connect::connect(replica, &replica_session).await?;
    let (found, _) = detect::resolve(&replica, selection)
        .await
        .map_err(|err| anyhow::anyhow!("{described}: {err:#}"))?;
    if found.backend != BackendKind::Native {
        anyhow::bail!(
            "--replica-url is supported for the reference schema (jobtop.*) only; {found} would send its actions to the replica"
        );
    }
    let primary = connect::connect(primary, &settings.session).await?;
    let native = NativeBackend::with_replica(primary, replica.clone());
    let probe = (*replica.connect_options()).clone();
    let backend = Backend::new(native)
        .wrap_overview(|reads| Arc::new(OnReplica::new(reads, replica.clone())))
        .with_schedules(replica);
    Ok((backend, probe))
}

/// The screen's state for one source, before its first poll.
fn new_app(
    settings: &MonitorSettings,
    target: String,
    backend: String,
    capabilities: Capabilities,
) -> App {
    let config = AppConfig {
        target,
        backend,
        capabilities,
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
    app.redact = settings.redact.clone();
    app.theme = settings.theme;
    app.utc_offset = Local::now().offset().fix();
    app
}

fn snapshot_options(settings: &MonitorSettings) -> SnapshotOptions {
    SnapshotOptions {
        count_cap: settings.count_cap,
        running_by_tenant: settings.rules.needs_tenants(),
        pile_cap: settings.pile_cap,
        ..SnapshotOptions::default()
    }
}

/// `jobtop @billing @web ...`: every source on one screen, each opened, polled and acted
/// on by its own tasks. A source that cannot be reached at start shows why on its row and
/// is tried again; the others do not wait for it.
pub async fn run_sources(sources: Vec<(SourceSpec, MonitorSettings, Selection)>) -> Result<()> {
    if sources.iter().any(|(_, s, _)| s.replica_url.is_some()) {
        anyhow::bail!("--replica-url names one primary's replica: give one source with it");
    }
    let mut apps = Vec::new();
    let mut setups = Vec::new();
    for (spec, settings, selection) in sources {
        let described = connect::describe(&spec.opts);
        let poll_timeout = settings.session.statement_timeout + Duration::from_secs(2);
        let assumed = selection.backend.map_or("…", |b| b.as_str()).to_string();
        let app = new_app(&settings, described.clone(), assumed, Capabilities::FULL);
        apps.push((spec.label, app));
        setups.push(SourceSetup {
            opts: spec.opts,
            described,
            session: settings.session.clone(),
            selection,
            share: settings.share,
            interval: settings.interval,
            poll_timeout,
            snapshot: snapshot_options(&settings),
        });
    }
    terminal::run_sources(Sources::new(apps, Utc::now()), setups).await
}
