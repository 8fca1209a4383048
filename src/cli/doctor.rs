//! `jobtop doctor [URL]`: what the monitor needs from this database, and what to fix.

use std::time::Duration;

use anyhow::Result;

use super::{Exit, GlobalArgs, backend_choice};
use crate::backend::doctor::{self, Status};
use crate::backend::pg::connect::{self, SessionSettings};
use crate::ui::text::sanitize;

/// The longest a doctor run may take once connected.
const DOCTOR_LIMIT: Duration = Duration::from_secs(60);

pub async fn run(url: Option<&str>, _global: &GlobalArgs) -> Result<()> {
    let opts = super::target(url)?;
    let described = connect::describe(&opts);
    let settings = SessionSettings {
        read_only: true,
        ..SessionSettings::default()
    };
    let pool = connect::connect(opts, &settings).await?;
    println!("jobtop doctor: {described}");
    let checks = async {
        let backend = backend_choice::open(&pool, &described).await?;
        Ok::<_, anyhow::Error>(doctor::run(&pool, backend.reads().as_ref()).await)
    };
    // Each statement is bounded by the server; a server that stops answering is bounded here.
    let report = tokio::time::timeout(DOCTOR_LIMIT, checks)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{described} stopped answering: doctor gave up after {}s",
                DOCTOR_LIMIT.as_secs()
            )
        })??;
    for check in &report {
        let mark = match check.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        println!("{mark} {}: {}", check.name, sanitize(&check.message, 2_000));
        if let Some(fix) = &check.fix {
            println!("       fix: {}", sanitize(fix, 2_000));
        }
    }
    let indexes = crate::backend::index_advice::named(&report).len();
    if indexes > 0 {
        println!(
            "{indexes} index(es) named above: `jobtop migrate --indexes` builds exactly these \
             (CONCURRENTLY, each skipped if it exists)"
        );
    }
    pool.close().await;
    match doctor::worst(&report) {
        Status::Ok => Ok(()),
        Status::Warn => Err(Exit(1).into()),
        Status::Fail => Err(Exit(2).into()),
    }
}
