//! The command line: arguments and what each command does.

mod demo;
mod migrate;
mod monitor;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;

use crate::backend::connect;

#[derive(Parser, Debug)]
#[command(
    name = "jobtop",
    version,
    about = "A terminal live monitor for job queues that live in PostgreSQL",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// postgres://user@host:port/db?sslmode=require (else the PG* variables are used).
    #[arg(env = "DATABASE_URL", hide_env_values = true)]
    pub url: Option<String>,

    #[command(flatten)]
    pub monitor: MonitorArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Args, Debug, Clone)]
pub struct MonitorArgs {
    /// Seconds between refreshes (0.5 to 60).
    #[arg(short, long, default_value_t = 1.0, value_name = "SECS")]
    pub interval: f64,

    /// Refuse every action; the database session itself is read-only.
    #[arg(long)]
    pub read_only: bool,

    /// A worker whose heartbeat is older than this many seconds is stale.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub stale_after: u64,

    /// Live counts stop at this many jobs per queue and state ("10k+").
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub count_cap: i64,

    /// A running job older than this many seconds is listed as stuck (`s`).
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub stuck_after: u64,

    /// How often your workers send heartbeats, for the tenants view's heartbeat budget.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub heartbeat_interval: f64,

    /// Bound on every monitoring statement, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub statement_timeout: f64,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Where logs go (default: the user's state directory, jobtop/jobtop.log).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// A throwaway local PostgreSQL with a live simulated workload, and the monitor on it.
    Demo(DemoArgs),
    /// Apply the reference schema (schema `jobtop`) to a database.
    Migrate {
        #[arg(env = "DATABASE_URL", hide_env_values = true)]
        url: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Jobs enqueued per second across all queues.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Simulated worker processes.
    #[arg(long, default_value_t = 6)]
    pub workers: usize,
    /// Seed for the simulator's choices, to replay the same scenario.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulate against this database instead of a throwaway cluster.
    #[arg(long)]
    pub url: Option<String>,
    /// Only run the simulator (for load tests); stop with Ctrl-C.
    #[arg(long)]
    pub no_ui: bool,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Migrate { url }) => migrate::run(url.as_deref()).await,
        Some(Command::Demo(args)) => demo::run(args).await,
        None => {
            let opts = target(cli.url.as_deref())?;
            monitor::run(opts, &cli.monitor).await
        }
    }
}

/// The database to watch: a URL, or the standard `PG*` variables.
pub fn target(url: Option<&str>) -> Result<PgConnectOptions> {
    if url.is_none() && !std::env::vars().any(|(k, _)| k.starts_with("PG")) {
        bail!(
            "no database given: pass a URL (jobtop postgres://user@host/db), set DATABASE_URL or the PG* variables, or try `jobtop demo`"
        );
    }
    connect::parse_target(url)
}
