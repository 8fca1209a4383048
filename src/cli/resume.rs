//! `jobtop resume QUEUE`: workers claim from the queue again.

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::Action;

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct ResumeArgs {
    /// The queue to resume.
    pub queue: String,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: ResumeArgs) -> Result<()> {
    act::run(&args.act, Action::Resume { queue: args.queue }).await
}
