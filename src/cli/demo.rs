//! `jobtop demo`: a throwaway cluster, a simulated workload, and the monitor on it.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::DemoArgs;
use crate::demo::{self, DEMO_DATABASE, SimulatorConfig};

/// How long in-flight simulated jobs may finish after `q` when they run against a database
/// that stays (`--url`); a throwaway cluster goes at once.
const GRACE_ON_A_KEPT_DATABASE: Duration = Duration::from_secs(2);

pub async fn run(args: DemoArgs) -> Result<()> {
    if !(args.rate > 0.0 && args.rate <= 10_000.0) {
        bail!("--rate must be between 0 and 10000 jobs per second");
    }
    let cfg = SimulatorConfig {
        rate: args.rate,
        workers: args.workers.max(2),
        seed: args.seed,
    };
    // A URL, or @name of the config file's connections, as everywhere else.
    let target = args
        .url
        .as_deref()
        .map(|u| super::target(Some(u)))
        .transpose()?;
    if args.no_ui {
        return demo::run_no_ui(target, cfg).await;
    }
    let started = Instant::now();
    // The cluster (when we started one) lives until this function returns: dropping it
    // stops the server and removes its folder, also when the monitor fails.
    let (options, cluster, note) = match target {
        Some(options) => {
            step(started, "migrating the reference schema");
            demo::migrate_at(options.clone()).await?;
            (options, None, None)
        }
        None => {
            step(started, "starting a throwaway PostgreSQL");
            let db = demo::start_demo_database().await?;
            tracing::info!(url = %db.url, "demo cluster started");
            let url = db.cluster.short_url(DEMO_DATABASE);
            eprintln!(
                "jobtop demo: PostgreSQL {} in {}\n  try the CLI beside it:  jobtop snapshot '{url}'",
                db.cluster.version(),
                db.cluster.dir().display()
            );
            let note = format!("try the CLI beside it:  jobtop snapshot '{url}'");
            (db.options.clone(), Some(db), Some(note))
        }
    };
    step(started, "writing an hour of history");
    let pool = demo::simulator_pool(options.clone(), &cfg).await?;
    let simulator = demo::spawn_simulator(pool, cfg);
    // The monitor's first poll reads the hour of completions behind the sparklines: wait
    // the second or two it takes to write them, so they are full on the first frame.
    let deadline = Instant::now() + Duration::from_secs(15);
    while simulator
        .stats
        .history
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && !simulator.is_finished()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    step(started, "starting the monitor");
    let result = super::monitor::run_noted(options, &args.monitor, note).await;
    let stopping = Instant::now();
    let grace = match cluster {
        Some(_) => Duration::ZERO,
        None => GRACE_ON_A_KEPT_DATABASE,
    };
    if let Err(err) = simulator.stop_within(grace).await {
        tracing::warn!("the simulator stopped with an error: {err:#}");
    }
    drop(cluster);
    tracing::info!(took = ?stopping.elapsed(), "demo stopped");
    result
}

/// A line of progress while the demo starts, before the monitor takes the screen.
fn step(started: Instant, what: &str) {
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "jobtop demo: {what}… ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
}
