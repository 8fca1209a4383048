//! The command line: arguments and what each command does.

mod act;
mod backend_choice;
mod bench;
mod cancel;
mod check;
mod config;
mod demo;
mod discard;
mod doctor;
mod exit;
mod migrate;
pub mod monitor;
mod oneshot;
mod output;
mod pause;
mod profile;
mod purge;
mod reset_stuck;
mod resume;
mod retry;
mod schedule;
mod serve;
mod settings;
pub(crate) mod oneshot_doc {
    //! What `jobtop serve` borrows from `snapshot --json`: the document and its input.
    pub use super::oneshot::OneShot;
    pub use super::snapshot::document;
}
mod snapshot;
pub mod sources;
mod values;

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;

pub use exit::Exit;

use crate::backend::pg::connect;

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

    /// postgres://user@host:port/db?sslmode=require, or @name for a connection (or a
    /// screen of several) of the config file (else the PG* variables are used). Several
    /// put every source on one screen.
    #[arg(env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub urls: Vec<String>,

    #[command(flatten)]
    pub monitor: MonitorArgs,

    #[command(flatten)]
    pub global: GlobalArgs,

    /// The monitor options given on the command line or in the environment, which win over
    /// the config file (the rest come from the file, else their defaults).
    #[arg(skip)]
    pub explicit: BTreeSet<String>,
}

impl Cli {
    /// The one source, when one is given.
    pub fn url(&self) -> Option<&str> {
        self.urls.first().map(String::as_str)
    }

    /// The live monitor (one source or several), whose work is many small waits: the
    /// screen's loop runs on the main thread and the pollers need one worker thread; a
    /// second one only added cross-thread wake-ups (a tenth of a 20-source wall's CPU).
    pub fn one_worker_thread(&self) -> bool {
        self.command.is_none()
    }

    /// Commands that run without a log file when it cannot be opened.
    pub fn logs_optional(&self) -> bool {
        matches!(
            self.command,
            Some(Command::Check(_) | Command::Snapshot(_) | Command::Config)
        )
    }
}

/// Parses the process's arguments, noting which monitor options were given explicitly.
pub fn parse() -> Cli {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = globals_after_command(args.into_iter().map(Into::into).collect());
    let matches = Cli::command()
        .try_get_matches_from(&args)
        .unwrap_or_else(|err| refuse(err, &args));
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| refuse(err, &args));
    if let (None, Some(word)) = (&cli.command, cli.url()) {
        not_a_command(word, &cli.urls[1..]);
    }
    // A subcommand's own monitor flags (`serve --interval 5`) count as given too.
    let levels = std::iter::once(&matches).chain(matches.subcommand().map(|(_, sub)| sub));
    for level in levels {
        for id in level.ids() {
            let id = id.as_str();
            if matches!(
                level.value_source(id),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            ) {
                cli.explicit.insert(id.to_string());
            }
        }
    }
    cli
}

/// The options every command takes (`--config`, `--log-file`, ...) moved after the command
/// when they come before it: clap counts them as the monitor's own arguments there, which
/// conflict with a command (`jobtop --config f check @demo` was refused).
fn globals_after_command(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const GLOBAL: [&str; 5] = [
        "--config",
        "--log-file",
        "--backend",
        "--schema",
        "--profile",
    ];
    let commands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let mut i = 1;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        let name = arg.split('=').next().unwrap_or(arg);
        if GLOBAL.contains(&name) {
            i += if arg.contains('=') { 1 } else { 2 };
        } else if commands.iter().any(|c| c == arg) {
            if i > 1 {
                let command = args.remove(i);
                args.insert(1, command);
            }
            break;
        } else {
            break;
        }
    }
    args
}

/// A command-line error, printed with every credential masked (clap repeats the argument
/// it could not place, a URL with its password among them), and exit status 2; `check`
/// exits 3 (UNKNOWN) as a monitoring system expects of a plugin that could not run.
fn refuse(err: clap::Error, args: &[std::ffi::OsString]) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    eprint!(
        "{}",
        crate::backend::pg::mask::mask_credentials(&err.render().to_string())
    );
    let check = args.iter().skip(1).any(|a| a == "check");
    std::process::exit(if check { 3 } else { 2 });
}

/// The first word where a source goes is not one: a command after the monitor's options
/// (`jobtop --interval 2 check URL`: says where it goes, the rest masked), or a mistyped one.
fn not_a_command(word: &str, rest: &[String]) {
    if word.contains(':') || word.starts_with('@') {
        return;
    }
    let command = Cli::command();
    if command.get_subcommands().any(|c| c.get_name() == word) {
        let rest: Vec<String> = rest
            .iter()
            .map(|u| crate::backend::pg::mask::mask_credentials(u))
            .collect();
        eprintln!(
            "jobtop: `{word}` is a command and comes first, before its options: jobtop {word} {} (the options before it are the monitor's)",
            crate::ui::text::sanitize(&rest.join(" "), 200)
        );
        std::process::exit(2);
    }
    let near = command
        .get_subcommands()
        .map(|c| c.get_name())
        .filter(|name| edit_distance(name, word) <= 2 || name.starts_with(word))
        .min_by_key(|name| edit_distance(name, word));
    let hint = match near {
        Some(name) => format!(" (did you mean `jobtop {name}`?)"),
        None => " (see `jobtop --help`)".to_string(),
    };
    eprintln!(
        "jobtop: '{}' is neither a command nor a database URL{hint}; a database is postgres://user@host:port/db or @name",
        crate::ui::text::sanitize(word, 80)
    );
    std::process::exit(2);
}

/// Levenshtein distance, for suggesting the command a mistyped word meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[derive(Args, Debug, Clone)]
pub struct MonitorArgs {
    /// Seconds between refreshes (0.5 to 60).
    #[arg(short, long, default_value_t = 1.0, value_name = "SECS", value_parser = values::seconds(0.5..=60.0))]
    pub interval: f64,

    /// Refuse every action; the database session itself is read-only.
    #[arg(long)]
    pub read_only: bool,

    /// A worker whose heartbeat is older than this many seconds is stale.
    #[arg(long, default_value_t = 60, value_name = "SECS", value_parser = values::whole(1..=values::LONGEST_SECS as u64))]
    pub stale_after: u64,

    /// Ready, running and retrying counts stop at this many jobs per queue ("10k+");
    /// scheduled and dead ones are counted up to 100 (or the dead-letter alert's
    /// threshold), then estimated ("~45k").
    #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = values::whole(1..=1_000_000_000i64))]
    pub count_cap: i64,

    /// A running job older than this many seconds is listed as stuck (`s`).
    #[arg(long, default_value_t = 3600, value_name = "SECS", value_parser = values::whole(1..=values::LONGEST_SECS as u64))]
    pub stuck_after: u64,

    /// How often your workers send heartbeats, for the tenants view's heartbeat budget.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = values::seconds(0.1..=3600.0))]
    pub heartbeat_interval: f64,

    /// Bound on every monitoring statement, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS", value_parser = values::seconds(0.1..=600.0))]
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

    /// The wall screen: read-only, no key but quit, firing alerts on top in large rows,
    /// high contrast, the bell on each new critical alert.
    #[arg(long)]
    pub kiosk: bool,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Read this queue schema instead of detecting one: native, river, oban, pg-boss,
    /// graphile-worker, procrastinate, pgqueuer, pgmq, solid-queue, good-job; schedules (a database with pg_cron and no queue).
    #[arg(long, global = true, value_name = "NAME")]
    pub backend: Option<crate::backend::detect::BackendKind>,

    /// The schema (or Oban prefix) the queue's tables are in, when detection finds several.
    #[arg(long, global = true, value_name = "SCHEMA")]
    pub schema: Option<String>,

    /// A home-grown queue table described by a TOML profile: a file, or a shipped profile's
    /// name (job_queue, jobforge, cepro).
    #[arg(long, global = true, value_name = "FILE|NAME")]
    pub profile: Option<PathBuf>,

    /// Where logs go (default: the user's state directory, jobtop/jobtop.log).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// The config file (default: jobtop/config.toml in the user's config directory).
    #[arg(long, global = true, value_name = "PATH", env = "JOBTOP_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// A throwaway local PostgreSQL with a live simulated workload, and the monitor on it.
    Demo(DemoArgs),
    /// Apply the reference schema (schema `jobtop`) to a database, or only jobtop's side tables.
    Migrate {
        #[arg(env = "DATABASE_URL", hide_env_values = true)]
        url: Option<String>,
        /// Only jobtop's side tables (the audit trail actions need and the shared snapshot's
        /// cache), next to another system's queue (River, Oban, pg-boss, ...); not the
        /// reference schema.
        #[arg(long, conflicts_with = "indexes")]
        side_tables: bool,
        /// Only the indexes `jobtop doctor` names for the queue schema found there (built
        /// `CONCURRENTLY`, each skipped if it exists); refused in read-only mode.
        #[arg(long)]
        indexes: bool,
    },
    /// Pause a queue: workers stop claiming from it; its backlog stays.
    Pause(pause::PauseArgs),
    /// Resume a paused queue.
    Resume(resume::ResumeArgs),
    /// Retry jobs now (dead ones by default), keeping their error history.
    Retry(retry::RetryArgs),
    /// Cancel ready, scheduled or retrying jobs.
    Cancel(cancel::CancelArgs),
    /// Move ready, scheduled or retrying jobs to the dead-letter queue.
    Discard(discard::DiscardArgs),
    /// Put running jobs of workers that stopped heartbeating back to ready.
    ResetStuck(reset_stuck::ResetStuckArgs),
    /// Delete old finished jobs in batches.
    Purge(purge::PurgeArgs),
    /// Activate, deactivate or run now one of the database's schedules (pg_cron, pg-boss).
    Schedule(schedule::ScheduleArgs),
    /// Evaluate the alert rules once, for monitoring systems: exit 0 OK, 1 WARNING,
    /// 2 CRITICAL, 3 UNKNOWN (the database cannot be reached or read).
    Check(CheckArgs),
    /// One snapshot of every queue and worker, and the firing alerts, for scripts.
    Snapshot(SnapshotArgs),
    /// Print the effective configuration, defaults included, passwords masked.
    Config,
    /// Check what the monitor needs from a database (privileges, version, index-backed
    /// queries) and say what to fix: exit 0 all good, 1 warnings, 2 failures.
    Doctor {
        #[arg(env = "DATABASE_URL", hide_env_values = true)]
        url: Option<String>,
    },
    /// Profiles for home-grown queue tables: `profile new URL TABLE` drafts one.
    Profile {
        #[command(subcommand)]
        command: profile::ProfileCommand,
    },
    /// Serve what jobtop sees over HTTP for Prometheus and monitors: `/metrics`
    /// (OpenMetrics), `/snapshot` (the JSON of `snapshot --json`), `/healthz`. One poller
    /// per source, whatever the number of scrapers; read-only.
    Serve(serve::ServeArgs),
    /// Measure what watching costs: a generated table, the overview against the naive
    /// count, many watchers, the terminal side, on the reference schema or (`--backend`) a
    /// queue system's own. Prints a table, optionally writes JSON.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The server to measure on: the benchmark creates its own database there
    /// (jobtop_bench_<backend>_<rows>[_backlog]; `--backend` picks the schema) and leaves the URL's database alone.
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
    #[arg(long, default_value_t = 10_000, value_name = "N")]
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
    /// Build the indexes `jobtop doctor` names (as `jobtop migrate --indexes` does) on the
    /// generated table before measuring: the schema as doctor would leave it.
    #[arg(long)]
    pub with_indexes: bool,
    /// Skip the drill-down views and the history past the hour (the poll, the naive count
    /// and the watchers only).
    #[arg(long)]
    pub no_drill: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Database URLs or @names (else DATABASE_URL, else the PG* variables); with several,
    /// one line per source and the worst status.
    #[arg(env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// One JSON document instead of the plugin's lines.
    #[arg(long)]
    pub json: bool,
    /// Give up (UNKNOWN) after this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = values::seconds(0.5..=600.0))]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// Database URLs or @names (else DATABASE_URL, else the PG* variables); with several,
    /// every source (`{"sources": [...]}` in JSON).
    #[arg(env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// JSON in the documented schema (docs/snapshot-schema.md); without it, a short table.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = values::seconds(0.5..=600.0))]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Jobs enqueued per second across all queues.
    #[arg(long, default_value_t = 20.0, value_parser = values::seconds(0.0..=100_000.0))]
    pub rate: f64,
    /// Simulated worker processes.
    #[arg(long, default_value_t = 8)]
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
    let _ = CONFIG_PATH.set(cli.global.config.clone());
    backend_choice::remember(crate::backend::detect::Selection {
        backend: cli.global.backend,
        schema: cli.global.schema.clone(),
        profile: cli.global.profile.clone(),
    });
    match cli.command {
        Some(Command::Migrate {
            url,
            side_tables,
            indexes,
        }) => {
            if indexes {
                migrate::indexes(url.as_deref(), cli.monitor.read_only).await
            } else {
                migrate::run(url.as_deref(), side_tables).await
            }
        }
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::Pause(args)) => pause::run(args).await,
        Some(Command::Resume(args)) => resume::run(args).await,
        Some(Command::Schedule(args)) => schedule::run(args).await,
        Some(Command::Retry(args)) => retry::run(args).await,
        Some(Command::Cancel(args)) => cancel::run(args).await,
        Some(Command::Discard(args)) => discard::run(args).await,
        Some(Command::ResetStuck(args)) => reset_stuck::run(args).await,
        Some(Command::Purge(args)) => purge::run(args).await,
        Some(Command::Check(args)) => check::run(&args, &cli.global).await,
        Some(Command::Snapshot(args)) => snapshot::run(&args, &cli.global).await,
        Some(Command::Config) => config::run(&cli.global),
        Some(Command::Doctor { url }) => doctor::run(url.as_deref(), &cli.global).await,
        Some(Command::Bench(args)) => bench::run(args).await,
        Some(Command::Serve(args)) => serve::run(args, &cli.global, &cli.explicit).await,
        Some(Command::Profile { command }) => profile::run(command).await,
        None => {
            let loaded = crate::config::load(cli.global.config.as_deref())?;
            let specs = sources::resolve(&cli.urls, &loaded)?;
            let global = backend_choice::selection();
            let no_color = std::env::var("NO_COLOR").ok();
            let mut opened = Vec::new();
            for spec in specs {
                let settings = settings::monitor(
                    &loaded.config,
                    &cli.monitor,
                    &cli.explicit,
                    spec.connection.as_ref(),
                    no_color.as_deref(),
                );
                let selection = spec.selection(&global)?;
                opened.push((spec, settings, selection));
            }
            match opened.len() {
                1 => {
                    let (spec, settings, selection) = opened.remove(0);
                    monitor::run_with(spec.opts, &settings, &selection).await
                }
                _ => monitor::run_sources(opened).await,
            }
        }
    }
}

/// A URL, `@name` of the config file's connections, or the `PG*` variables.
pub fn resolve_target<'a>(
    url: Option<&str>,
    loaded: &'a crate::config::Loaded,
) -> Result<(PgConnectOptions, Option<&'a crate::config::Connection>)> {
    match url.and_then(|u| u.strip_prefix('@')) {
        Some(name) => {
            let conn = loaded.config.connection(name, loaded.path.as_deref())?;
            Ok((connect::parse_target(Some(&conn.url))?, Some(conn)))
        }
        None => Ok((target(url)?, None)),
    }
}

/// The config file the command line names (`--config`, `JOBTOP_CONFIG`), for the commands
/// that resolve `@name` without being handed the global options.
static CONFIG_PATH: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// The database to watch: a URL, `@name` of the config file's connections, or the standard
/// `PG*` variables. A URL's notes (parameters not applied) go to stderr.
pub fn target(url: Option<&str>) -> Result<PgConnectOptions> {
    if url.is_none() && !std::env::vars().any(|(k, _)| k.starts_with("PG")) {
        bail!(
            "no database given: pass a URL (jobtop postgres://user@host/db), set DATABASE_URL or the PG* variables, or try `jobtop demo`"
        );
    }
    if let Some(name) = url.and_then(|u| u.strip_prefix('@')) {
        let path = CONFIG_PATH.get().cloned().flatten();
        let loaded = crate::config::load(path.as_deref())?;
        let conn = loaded.config.connection(name, loaded.path.as_deref())?;
        return target(Some(&conn.url));
    }
    let parsed = connect::parse_target_noted(url)?;
    for note in &parsed.notes {
        eprintln!("jobtop: note: {note}");
    }
    Ok(parsed.options)
}
