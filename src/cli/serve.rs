//! `jobtop serve [URL|@name …] --listen ADDR`: the command line's side of the metrics
//! endpoint. It resolves each source the way the monitor does (config file, settings,
//! schema detection) and hands `serve` only the read side of each.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use sqlx::postgres::PgConnectOptions;

use super::{GlobalArgs, MonitorArgs, backend_choice, settings};
use crate::backend::SnapshotOptions;
use crate::backend::pg::connect;
use crate::backend::wrappers::shared::{SharedOptions, SharedSnapshot};
use crate::serve::{ServeOptions, Source};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Databases to watch: URLs or @names of the config file (else DATABASE_URL, else the
    /// PG* variables). Each is polled on its own and labelled `source` in the metrics.
    #[arg(value_name = "URL|@NAME")]
    pub sources: Vec<String>,

    /// Where to listen for HTTP.
    #[arg(long, default_value = "127.0.0.1:9187", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Seconds between reads of each job kind's run and wait times (0: never).
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub kinds_every: f64,

    #[command(flatten)]
    pub monitor: MonitorArgs,
}

pub async fn run(args: ServeArgs, global: &GlobalArgs, explicit: &BTreeSet<String>) -> Result<()> {
    if args.monitor.kiosk {
        bail!("--kiosk is for the terminal monitor, not for serve");
    }
    let loaded = crate::config::load(global.config.as_deref())?;
    let urls: Vec<Option<String>> = if args.sources.is_empty() {
        vec![std::env::var("DATABASE_URL").ok()]
    } else {
        args.sources.iter().cloned().map(Some).collect()
    };
    let mut sources = Vec::new();
    for url in &urls {
        let (opts, connection) = super::resolve_target(url.as_deref(), &loaded)?;
        let settings = settings::monitor(&loaded.config, &args.monitor, explicit, connection, None);
        let label = match url.as_deref() {
            Some(name) if name.starts_with('@') => name.to_string(),
            _ => label_of(&opts),
        };
        if sources.iter().any(|s: &Source| s.label == label) {
            bail!("two sources are both labelled {label}: each database once, please");
        }
        sources.push(open(label, opts, &settings).await?);
    }
    let kinds_every = (args.kinds_every > 0.0)
        .then(|| Duration::from_secs_f64(args.kinds_every.clamp(10.0, 86_400.0)));
    crate::serve::run(
        sources,
        ServeOptions {
            listen: args.listen,
            kinds_every,
        },
    )
    .await
}

/// `host/db` (`host:port/db` off the default port): short, stable, and never a password.
fn label_of(opts: &PgConnectOptions) -> String {
    let host = match opts.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => opts.get_host().to_string(),
    };
    let db = opts.get_database().unwrap_or(opts.get_username());
    match opts.get_port() {
        5432 => format!("{host}/{db}"),
        port => format!("{host}:{port}/{db}"),
    }
}

/// Connects, detects the schema and keeps its read side only: the write side is dropped
/// here, so nothing `serve` holds can change a row. With sharing on (the default) the
/// overview goes through the shared snapshot, so serve and the terminal monitors of one
/// database take one snapshot between them.
async fn open(
    label: String,
    opts: PgConnectOptions,
    settings: &settings::MonitorSettings,
) -> Result<Source> {
    let target = connect::describe(&opts);
    let poll_timeout = settings.session.statement_timeout + Duration::from_secs(2);
    let pool = connect::connect(opts, &settings.session)
        .await
        .with_context(|| format!("source {label}"))?;
    let backend = backend_choice::open(&pool, &target).await?;
    let reads = backend.reads().clone();
    let overview = if settings.share {
        let shared =
            SharedOptions::new(settings.interval, poll_timeout, settings.session.read_only);
        Arc::new(SharedSnapshot::new(reads.clone(), &pool, shared)) as _
    } else {
        reads.clone() as _
    };
    drop(backend);
    tracing::info!(%label, %target, backend = reads.name(), "serve: source opened");
    Ok(Source {
        label,
        target,
        reads,
        overview,
        rules: settings.rules.clone(),
        stale_after: settings.stale_after,
        interval: settings.interval,
        poll_timeout,
        snapshot: SnapshotOptions {
            count_cap: settings.count_cap,
            running_by_tenant: settings.rules.needs_tenants(),
            pile_cap: settings.pile_cap,
        },
    })
}
