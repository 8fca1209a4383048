//! `jobtop demo`: a throwaway PostgreSQL cluster with the reference schema, and a workload
//! simulator running inside the process to give the monitor something to watch.

pub mod cluster;
pub mod simulator;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backend::native;
use crate::backend::pg::{admin, connect};
pub use cluster::Cluster;
pub use simulator::{SimulatorConfig, Stats};

/// The database the demo creates in its throwaway cluster.
pub const DEMO_DATABASE: &str = "jobtop";

/// A throwaway cluster holding a migrated `jobtop` database. Dropping it removes the cluster.
#[derive(Debug)]
pub struct DemoDatabase {
    pub options: PgConnectOptions,
    /// For the user to point another `jobtop` or `psql` at (no password in it: trust auth).
    pub url: String,
    pub cluster: Cluster,
}

/// Starts a cluster, creates the `jobtop` database in it and applies the migrations.
pub async fn start_demo_database() -> Result<DemoDatabase> {
    // With pg_cron installed the demo shows schedules too: it must be preloaded.
    let with_cron = cluster::extension_installed("pg_cron");
    let cluster = tokio::task::spawn_blocking(move || {
        let settings: Vec<(&str, String)> = if with_cron {
            vec![
                ("shared_preload_libraries", "pg_cron".into()),
                ("cron.database_name", DEMO_DATABASE.into()),
                ("cron.use_background_workers", "on".into()),
                ("max_worker_processes", "32".into()),
            ]
        } else {
            Vec::new()
        };
        Cluster::start_with(std::process::id(), &settings)
    })
    .await
    .context("the cluster start-up task failed")??;
    let mut conn = PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .context("cannot connect to the throwaway cluster")?;
    admin::create_database(&mut conn, DEMO_DATABASE, None).await?;
    conn.close().await?;
    let options = cluster.connect_options(DEMO_DATABASE);
    migrate_at(options.clone()).await?;
    if with_cron {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        if let Err(err) = crate::backend::cron::demo::schedule_jobs(&pool).await {
            tracing::warn!("the demo's pg_cron jobs were not scheduled: {err:#}");
        }
        pool.close().await;
    }
    Ok(DemoDatabase {
        url: cluster.url(DEMO_DATABASE),
        options,
        cluster,
    })
}

pub async fn migrate_at(options: PgConnectOptions) -> Result<()> {
    // One bounded session first: its error is the cause (refused, no such host), which a
    // pool's "timed out" would hide.
    connect::connect_once(&options)
        .await
        .with_context(|| format!("cannot connect to {}", connect::describe(&options)))?
        .close()
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .context("cannot connect to migrate")?;
    let result = native::migrate(&pool).await;
    pool.close().await;
    result
}

/// The simulator's own pool: a connection per worker would be wasteful, one for all would
/// serialize them; in between.
pub async fn simulator_pool(options: PgConnectOptions, cfg: &SimulatorConfig) -> Result<PgPool> {
    let size = (cfg.workers as u32 + 4).clamp(4, 24);
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(
            options
                .application_name("jobtop-demo-simulator")
                .log_statements(tracing::log::LevelFilter::Trace)
                .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(1)),
        )
        .await
        .context("the simulator cannot connect")
}

/// A simulator running in the background of this process.
pub struct RunningSimulator {
    pub stats: Arc<Stats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl RunningSimulator {
    /// True when the simulator ended on its own (it only does on a set-up error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks the simulator to stop, lets in-flight jobs finish (a few seconds at most), and
    /// returns its set-up error if it had one.
    pub async fn stop(self) -> Result<()> {
        self.stop_within(Duration::MAX).await
    }

    /// Like `stop`, but in-flight jobs get only `grace` to finish; then the simulator is
    /// dropped where it stands (a throwaway cluster about to go needs no tidy end).
    pub async fn stop_within(mut self, grace: Duration) -> Result<()> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(grace, &mut self.task).await {
            Ok(joined) => joined.context("the simulator task failed")?,
            Err(_) => {
                self.task.abort();
                Ok(())
            }
        }
    }
}

/// Starts the simulator on the current tokio runtime.
pub fn spawn_simulator(pool: PgPool, cfg: SimulatorConfig) -> RunningSimulator {
    let (stop, shutdown) = watch::channel(false);
    let stats = Arc::new(Stats::default());
    let task = tokio::spawn(simulator::run_with_stats(
        pool,
        cfg,
        shutdown,
        stats.clone(),
    ));
    RunningSimulator { stats, stop, task }
}

/// `jobtop demo --no-ui`: runs the simulator until Ctrl-C, against `target` (migrated
/// first) or, without one, a throwaway cluster whose URL it prints for a monitor to watch.
pub async fn run_no_ui(target: Option<PgConnectOptions>, cfg: SimulatorConfig) -> Result<()> {
    let (options, demo) = match target {
        Some(options) => {
            migrate_at(options.clone()).await?;
            println!(
                "jobtop demo: simulating against {}",
                connect::describe(&options)
            );
            (options, None)
        }
        None => {
            let demo = start_demo_database().await?;
            println!(
                "jobtop demo: throwaway {} in {}",
                demo.cluster.version(),
                demo.cluster.dir().display()
            );
            println!(
                "watch it with:  jobtop '{}'",
                demo.cluster.short_url(DEMO_DATABASE)
            );
            (demo.options.clone(), Some(demo))
        }
    };
    println!(
        "rate {}/s, {} workers, seed {}; Ctrl-C to stop",
        cfg.rate, cfg.workers, cfg.seed
    );
    let pool = simulator_pool(options, &cfg).await?;
    let sim = spawn_simulator(pool.clone(), cfg);
    let mut report = tokio::time::interval(Duration::from_secs(10));
    report.tick().await;
    loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                result.context("cannot listen for Ctrl-C")?;
                break;
            }
            _ = report.tick() => {
                if sim.is_finished() {
                    break;
                }
                println!("{}", sim.stats.summary());
            }
        }
    }
    let stats = sim.stats.clone();
    let result = sim.stop().await;
    pool.close().await;
    println!("stopped: {}", stats.summary());
    // The cluster (if any) goes with `demo` here, after every session is closed.
    drop(demo);
    result
}
