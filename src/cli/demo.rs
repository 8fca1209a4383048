//! `jobtop demo`: a throwaway cluster, a simulated workload, and the monitor on it.

use anyhow::{Result, bail};

use super::DemoArgs;
use crate::backend::pg::connect;
use crate::demo::{self, SimulatorConfig};

pub async fn run(args: DemoArgs) -> Result<()> {
    if !(args.rate > 0.0 && args.rate <= 10_000.0) {
        bail!("--rate must be between 0 and 10000 jobs per second");
    }
    let cfg = SimulatorConfig {
        rate: args.rate,
        workers: args.workers.max(2),
        seed: args.seed,
    };
    if args.no_ui {
        return demo::run_no_ui(args.url, cfg).await;
    }
    // The cluster (when we started one) lives until this function returns: dropping it
    // stops the server and removes its folder, also when the monitor fails.
    let (options, _cluster) = match &args.url {
        Some(url) => {
            let options = connect::parse_target(Some(url))?;
            demo::migrate_at(options.clone()).await?;
            (options, None)
        }
        None => {
            let db = demo::start_demo_database().await?;
            tracing::info!(url = %db.url, "demo cluster started");
            (db.options.clone(), Some(db))
        }
    };
    let pool = demo::simulator_pool(options.clone(), &cfg).await?;
    let simulator = demo::spawn_simulator(pool, cfg);
    // The monitor's first poll reads the hour of completions behind the sparklines: wait
    // the second or two it takes to write them, so they are full on the first frame.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while simulator
        .stats
        .history
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && !simulator.is_finished()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let result = super::monitor::run(options, &args.monitor).await;
    if let Err(err) = simulator.stop().await {
        tracing::warn!("the simulator stopped with an error: {err:#}");
    }
    result
}
