//! `jobtop serve [URL|@name …] --listen ADDR`: the command line's side of the metrics
//! endpoint. It resolves each source the way the monitor does (config file, settings,
//! schema detection) and hands `serve` only the read side of each.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use sqlx::postgres::PgConnectOptions;

use super::{GlobalArgs, MonitorArgs, backend_choice, settings};
use crate::backend::SnapshotOptions;
use crate::backend::pg::connect;
use crate::backend::wrappers::shared::SharedOptions;
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

    /// Seconds between polls of each source (0.5 to 60).
    #[arg(short, long, default_value_t = 1.0, value_name = "SECS")]
    pub interval: f64,

    /// A read-only database session (serve never writes a queue either way; read-only, it
    /// also leaves the shared snapshot and polls on its own).
    #[arg(long)]
    pub read_only: bool,

    /// A worker whose heartbeat is older than this many seconds is stale.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub stale_after: u64,

    /// Ready, running and retrying counts stop at this many jobs per queue.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub count_cap: i64,

    /// Bound on every statement, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub statement_timeout: f64,

    /// Poll on our own even when other monitors watch the same database.
    #[arg(long)]
    pub no_share: bool,
}

impl ServeArgs {
    /// The monitor's options that serve has (the same ids, so the config file yields to
    /// them in the same way); the terminal's own stay at their defaults.
    fn monitor(&self) -> MonitorArgs {
        MonitorArgs {
            interval: self.interval,
            read_only: self.read_only,
            stale_after: self.stale_after,
            count_cap: self.count_cap,
            stuck_after: 3600,
            heartbeat_interval: 30.0,
            statement_timeout: self.statement_timeout,
            replica_url: None,
            no_share: self.no_share,
            kiosk: false,
        }
    }
}

pub async fn run(args: ServeArgs, global: &GlobalArgs, explicit: &BTreeSet<String>) -> Result<()> {
    let loaded = crate::config::load(global.config.as_deref())?;
    let urls: Vec<Option<String>> = if args.sources.is_empty() {
        vec![std::env::var("DATABASE_URL").ok()]
    } else {
        args.sources.iter().cloned().map(Some).collect()
    };
    let mut sources = Vec::new();
    for url in &urls {
        let (opts, connection) = super::resolve_target(url.as_deref(), &loaded)?;
        let settings =
            settings::monitor(&loaded.config, &args.monitor(), explicit, connection, None);
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
    let shared = settings
        .share
        .then(|| SharedOptions::new(settings.interval, poll_timeout, settings.session.read_only));
    let backend = backend.watched(&pool, shared);
    let reads = backend.reads().clone();
    let overview = backend.overview().clone();
    drop(backend);
    tracing::info!(%label, %target, backend = reads.name(), "serve: source opened");
    let probe = Some((*pool.connect_options()).clone());
    Ok(Source {
        probe,
        label,
        target,
        reads,
        overview,
        rules: settings.rules.clone(),
        redact: settings.redact.clone(),
        stale_after: settings.stale_after,
        interval: settings.interval,
        poll_timeout,
        snapshot: SnapshotOptions {
            count_cap: settings.count_cap,
            running_by_tenant: settings.rules.needs_tenants(),
            pile_cap: settings.pile_cap,
            ..SnapshotOptions::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Command, parse_from};

    #[test]
    fn flags_given_to_serve_win_over_the_config_file() {
        let cli = parse_from(["jobtop", "serve", "@a", "@b", "--interval", "5"]);
        assert!(cli.explicit.contains("interval"));
        assert!(!cli.explicit.contains("stale_after"));
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.sources, ["@a", "@b"]);
        assert_eq!(args.listen.to_string(), "127.0.0.1:9187");
        let config = crate::config::parse("refresh = \"7s\"\n", "test").unwrap();
        let given = super::settings::monitor(&config, &args.monitor(), &cli.explicit, None, None);
        assert_eq!(given.interval, std::time::Duration::from_secs(5));
        let cli = parse_from(["jobtop", "serve"]);
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve");
        };
        let from_file =
            super::settings::monitor(&config, &args.monitor(), &cli.explicit, None, None);
        assert_eq!(from_file.interval, std::time::Duration::from_secs(7));
    }
}
