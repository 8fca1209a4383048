//! `jobtop discard ID…`: ready, scheduled or retrying jobs move to the dead-letter queue
//! (poison jobs that must not run).

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::{Action, JobId, JobTarget};

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct DiscardArgs {
    /// The jobs to discard.
    #[arg(required = true)]
    pub ids: Vec<JobId>,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: DiscardArgs) -> Result<()> {
    act::run(&args.act, Action::Discard(JobTarget::Ids(args.ids))).await
}
