//! `jobtop reset-stuck [--queue Q] [--worker W]`: running jobs whose worker stopped
//! heartbeating go back to ready, their lock cleared.

use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::Action;

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct ResetStuckArgs {
    /// Only jobs of this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Only jobs held by this worker.
    #[arg(long)]
    pub worker: Option<String>,
    /// A worker is stale when its last heartbeat is older than this (30s, 5m, ...).
    #[arg(long, default_value = "60s", value_parser = act::parse_duration, value_name = "DURATION")]
    pub stale_after: Duration,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: ResetStuckArgs) -> Result<()> {
    let action = Action::ResetStuck {
        queue: args.queue,
        worker: args.worker,
        stale_after: args.stale_after,
    };
    act::run(&args.act, action).await
}
