//! `jobtop cancel ID…`: ready, scheduled or retrying jobs become cancelled. Running jobs are
//! left alone: a state change cannot stop a worker.

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::{Action, JobId, JobTarget};

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct CancelArgs {
    /// The jobs to cancel.
    #[arg(required = true)]
    pub ids: Vec<JobId>,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: CancelArgs) -> Result<()> {
    act::run(&args.act, Action::Cancel(JobTarget::Ids(args.ids))).await
}
