//! `jobtop pause QUEUE [--reason TEXT]`: workers stop claiming from the queue.

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::Action;

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct PauseArgs {
    /// The queue to pause.
    pub queue: String,
    /// Why, for the other operators (shown next to PAUSED and in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: PauseArgs) -> Result<()> {
    let action = Action::Pause {
        queue: args.queue,
        reason: args.reason.filter(|r| !r.trim().is_empty()),
    };
    act::run(&args.act, action).await
}
