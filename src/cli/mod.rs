//! The command line: arguments and what each command does.

mod bench;
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

    /// Ready, running and retrying counts stop at this many jobs per queue ("1000+");
    /// scheduled and dead ones are counted up to 100, then estimated ("~45k").
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub count_cap: i64,

    /// Bound on every monitoring statement, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub statement_timeout: f64,

    /// Read everything the monitor shows from this read replica; actions still go to the
    /// primary (the main URL).
    #[arg(
        long,
        value_name = "URL",
        env = "JOBTOP_REPLICA_URL",
        hide_env_values = true
    )]
    pub replica_url: Option<String>,

    /// Poll on our own even when other monitors watch the same database (by default they
    /// share one snapshot, taken by an elected leader).
    #[arg(long)]
    pub no_share: bool,
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
    /// Measure what watching costs: a generated table, the overview against the naive
    /// count, many watchers, the terminal side. Prints a table, optionally writes JSON.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The server to measure on: the benchmark creates its own database there
    /// (jobtop_bench_<rows>[_backlog]) and leaves the URL's database alone.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// Jobs in the generated table (about 97% finished over 30 days).
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Add a backlog of ready jobs piled up in three queues.
    #[arg(long)]
    pub backlog: bool,
    /// The backlog's size.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub backlog_jobs: i64,
    /// Generate the table again even when the database already holds it.
    #[arg(long)]
    pub regenerate: bool,
    /// Overview polls timed back to back.
    #[arg(long, default_value_t = 100)]
    pub polls: usize,
    /// Runs of the naive count.
    #[arg(long, default_value_t = 5)]
    pub naive_runs: usize,
    /// Seconds each watcher scenario runs.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Watchers that each poll on their own (0 to skip).
    #[arg(long, default_value_t = 20)]
    pub alone: usize,
    /// Watcher counts to measure with the shared snapshot (0 to skip).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 20, 100])]
    pub shared: Vec<usize>,
    /// The live-count cap the overview is measured with.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub count_cap: i64,
    /// Skip the terminal side.
    #[arg(long)]
    pub no_ui: bool,
    /// Only the frame measurements: no database, no monitor process.
    #[arg(long)]
    pub ui_only: bool,
    /// Seconds the real monitor process is watched.
    #[arg(long, default_value_t = 30)]
    pub monitor_seconds: u64,
    /// Also write the figures as JSON.
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
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
        Some(Command::Bench(args)) => bench::run(args).await,
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
