//! `jobtop demo`: a throwaway cluster, a simulated workload, and the monitor on it.

use anyhow::{Result, bail};

use super::DemoArgs;

pub async fn run(args: DemoArgs) -> Result<()> {
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
