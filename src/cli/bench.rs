//! `jobtop bench`: what watching costs on a realistic table (see `crate::bench`).

use anyhow::Result;

use super::{BenchArgs, backend_choice};
use crate::backend::detect::BackendKind;
use crate::backend::generate::FixtureSpec;
use crate::bench::{self, BenchConfig};

pub async fn run(args: BenchArgs) -> Result<()> {
    // The schema to generate: `--backend` (the reference schema unless given), or a shipped
    // profile's table (`--profile NAME`).
    let selection = backend_choice::selection();
    let profile = selection
        .profile
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let backend = if profile.is_some() {
        BackendKind::Mapped
    } else {
        selection.backend.unwrap_or(BackendKind::Native)
    };
    let server = if args.ui_only && args.url.is_none() {
        crate::backend::pg::connect::parse_target(None)?
    } else {
        super::target(args.url.as_deref())?
    };
    bench::run(BenchConfig {
        server,
        backend,
        profile,
        spec: FixtureSpec {
            rows: args.rows.max(1_000),
            backlog: if args.backlog { args.backlog_jobs } else { 0 },
        },
        regenerate: args.regenerate,
        polls: args.polls.max(1),
        naive_runs: args.naive_runs.max(1),
        seconds: args.seconds.max(1),
        alone_watchers: args.alone,
        shared_watchers: args.shared.into_iter().filter(|&n| n > 0).collect(),
        count_cap: args.count_cap.max(1),
        ui: !args.no_ui,
        ui_only: args.ui_only,
        monitor_seconds: args.monitor_seconds.max(1),
        json_out: args.json_out,
        with_indexes: args.with_indexes,
        drill: !args.no_drill,
    })
    .await?;
    Ok(())
}
