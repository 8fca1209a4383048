//! `jobtop`: command line, logging, start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use sqlx::postgres::{PgConnectOptions, PgPool};

use jobtop::app::{App, AppConfig};
use jobtop::backend::connect::{self, SessionSettings};
use jobtop::backend::native::{self, NativeBackend};
use jobtop::backend::{Backend, SnapshotOptions};
use jobtop::terminal::{self, MonitorOptions};

#[derive(Parser, Debug)]
#[command(
    name = "jobtop",
    version,
    about = "A terminal live monitor for job queues that live in PostgreSQL",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// postgres://user@host:port/db?sslmode=require (else the PG* variables are used).
    #[arg(env = "DATABASE_URL", hide_env_values = true)]
    url: Option<String>,

    #[command(flatten)]
    monitor: MonitorArgs,

    #[command(flatten)]
    global: GlobalArgs,
}

#[derive(Args, Debug, Clone)]
struct MonitorArgs {
    /// Seconds between refreshes (0.5 to 60).
    #[arg(short, long, default_value_t = 1.0, value_name = "SECS")]
    interval: f64,

    /// Refuse every action; the database session itself is read-only.
    #[arg(long)]
    read_only: bool,

    /// A worker whose heartbeat is older than this many seconds is stale.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    stale_after: u64,

    /// Live counts stop at this many jobs per queue and state ("10k+").
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    count_cap: i64,

    /// Bound on every monitoring statement, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    statement_timeout: f64,
}

#[derive(Args, Debug, Clone)]
struct GlobalArgs {
    /// Where logs go (default: the user's state directory, jobtop/jobtop.log).
    #[arg(long, global = true, value_name = "PATH")]
    log_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A throwaway local PostgreSQL with a live simulated workload, and the monitor on it.
    Demo(DemoArgs),
    /// Apply the reference schema (schema `jobtop`) to a database.
    Migrate {
        #[arg(env = "DATABASE_URL", hide_env_values = true)]
        url: Option<String>,
    },
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Jobs enqueued per second across all queues.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Simulated worker processes.
    #[arg(long, default_value_t = 6)]
    workers: usize,
    /// Seed for the simulator's choices, to replay the same scenario.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Simulate against this database instead of a throwaway cluster.
    #[arg(long)]
    url: Option<String>,
    /// Only run the simulator (for load tests); stop with Ctrl-C.
    #[arg(long)]
    no_ui: bool,
    #[command(flatten)]
    monitor: MonitorArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let _log_guard = match init_logging(cli.global.log_file.clone()) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("jobtop: cannot open the log file: {err:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("jobtop: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("jobtop: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Migrate { url }) => {
            let opts = target(url.as_deref())?;
            let pool = connect::connect(opts.clone(), &SessionSettings::default()).await?;
            native::migrate(&pool).await?;
            println!(
                "jobtop: reference schema applied to {}",
                connect::describe(&opts)
            );
            Ok(())
        }
        Some(Command::Demo(args)) => run_demo(args).await,
        None => {
            let opts = target(cli.url.as_deref())?;
            monitor(opts, &cli.monitor).await
        }
    }
}

/// The database to watch: a URL, or the standard `PG*` variables.
fn target(url: Option<&str>) -> Result<PgConnectOptions> {
    if url.is_none() && !std::env::vars().any(|(k, _)| k.starts_with("PG")) {
        bail!(
            "no database given: pass a URL (jobtop postgres://user@host/db), set DATABASE_URL or the PG* variables, or try `jobtop demo`"
        );
    }
    connect::parse_target(url)
}

fn session_settings(args: &MonitorArgs) -> SessionSettings {
    SessionSettings {
        statement_timeout: Duration::from_secs_f64(args.statement_timeout.clamp(0.1, 600.0)),
        read_only: args.read_only,
        ..SessionSettings::default()
    }
}

async fn monitor(opts: PgConnectOptions, args: &MonitorArgs) -> Result<()> {
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

async fn run_demo(args: DemoArgs) -> Result<()> {
    let _ = (
        &args.rate,
        &args.workers,
        &args.seed,
        &args.url,
        &args.no_ui,
        &args.monitor,
    );
    bail!("demo: not built yet")
}

/// Logs go to a file, never to the terminal the UI owns.
fn init_logging(path: Option<PathBuf>) -> Result<tracing_appender::non_blocking::WorkerGuard> {
    let path = match path {
        Some(p) => p,
        None => dirs::state_dir()
            .or_else(dirs::cache_dir)
            .unwrap_or_else(std::env::temp_dir)
            .join("jobtop")
            .join("jobtop.log"),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file_name = path.file_name().context("the log file needs a file name")?;
    let appender = tracing_appender::rolling::never(dir, file_name);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("JOBTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .init();
    Ok(guard)
}
