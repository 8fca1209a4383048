//! `jobtop purge --state succeeded,cancelled --older-than 14d`: deletes old finished jobs in
//! batches, reporting progress.

use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::{Action, JobState};

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct PurgeArgs {
    /// Finished states to delete: succeeded, cancelled, dead (comma-separated).
    #[arg(long, required = true, value_delimiter = ',', value_parser = act::parse_state)]
    pub state: Vec<JobState>,
    /// Only jobs finished longer ago than this (14d, 36h, 2w, ...).
    #[arg(long, required = true, value_parser = act::parse_duration, value_name = "DURATION")]
    pub older_than: Duration,
    /// Only jobs of this queue.
    #[arg(long)]
    pub queue: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: PurgeArgs) -> Result<()> {
    let mut states = args.state;
    states.dedup();
    let action = Action::Purge {
        states,
        older_than: args.older_than,
        queue: args.queue,
    };
    act::run(&args.act, action).await
}
