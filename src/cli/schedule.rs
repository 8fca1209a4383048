//! `jobtop schedule activate|deactivate|run-now NAME`: the schedules view's actions from the
//! command line, through the same gate, confirmation and audit as every action command.

use anyhow::Result;
use clap::{Args, Subcommand};

use super::act::{self, ActArgs};
use crate::backend::actions::ScheduleOp;

#[derive(Args, Debug)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub op: ScheduleCommand,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Run a deactivated pg_cron job on its expression again.
    #[command(after_help = act::EXIT_STATUS_HELP)]
    Activate(ScheduleTargetArgs),
    /// Stop a pg_cron job from running until activated (`cron.alter_job`).
    #[command(after_help = act::EXIT_STATUS_HELP)]
    Deactivate(ScheduleTargetArgs),
    /// Enqueue one run of a schedule now, where its queue system does that in SQL (pg-boss).
    #[command(after_help = act::EXIT_STATUS_HELP)]
    RunNow(ScheduleTargetArgs),
}

#[derive(Args, Debug)]
pub struct ScheduleTargetArgs {
    /// The schedule: its name, `source/name` (`pg_cron/nightly`) or `source/id` (`pg_cron/7`).
    pub name: String,
    #[command(flatten)]
    pub act: ActArgs,
}

pub async fn run(args: ScheduleArgs) -> Result<()> {
    let (op, target) = match args.op {
        ScheduleCommand::Activate(t) => (ScheduleOp::Activate, t),
        ScheduleCommand::Deactivate(t) => (ScheduleOp::Deactivate, t),
        ScheduleCommand::RunNow(t) => (ScheduleOp::RunNow, t),
    };
    act::run_on_schedule(&target.act, op, &target.name).await
}
