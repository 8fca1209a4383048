//! `jobtop retry --queue Q --state dead [--kind K] [--limit N]`, or `jobtop retry ID…`:
//! jobs become ready now, their error history kept.

use anyhow::Result;
use clap::Args;

use super::act::{self, ActArgs};
use crate::backend::{Action, JobFilter, JobId, JobState, JobTarget};

#[derive(Args, Debug)]
#[command(after_help = act::EXIT_STATUS_HELP)]
pub struct RetryArgs {
    /// These jobs (instead of --queue/--kind/--error/--limit).
    #[arg(conflicts_with_all = ["queue", "kind", "error", "limit"])]
    pub ids: Vec<JobId>,
    /// Jobs of this queue (else of every queue).
    #[arg(long)]
    pub queue: Option<String>,
    /// Jobs in this state: dead, retrying, scheduled or cancelled.
    #[arg(long, default_value = "dead", value_parser = act::parse_state)]
    pub state: JobState,
    /// Jobs of this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Jobs whose last error contains this text.
    #[arg(long, value_name = "TEXT")]
    pub error: Option<String>,
    /// At most this many, oldest first.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: RetryArgs) -> Result<()> {
    let target = if args.ids.is_empty() {
        JobTarget::Matching {
            filter: JobFilter {
                queue: args.queue,
                state: Some(args.state),
                kind: args.kind,
                text: args.error,
                ..JobFilter::default()
            },
            limit: args.limit,
        }
    } else {
        JobTarget::Ids(args.ids)
    };
    act::run(&args.act, Action::Retry(target)).await
}
