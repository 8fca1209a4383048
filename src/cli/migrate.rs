//! `jobtop migrate [URL] [--side-tables]`: apply the reference schema, or only jobtop's side
//! tables next to another system's queue.

use std::time::Duration;

use anyhow::Result;

use crate::backend::native;
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::pg::side_tables;

/// The longest applying the schema may take once connected.
const MIGRATE_LIMIT: Duration = Duration::from_secs(120);

pub async fn run(url: Option<&str>, side_tables_only: bool) -> Result<()> {
    let opts = super::target(url)?;
    let pool = connect::connect(opts.clone(), &SessionSettings::default()).await?;
    let apply = async {
        if side_tables_only {
            side_tables::install(&pool).await?;
            Ok::<_, anyhow::Error>("side tables (jobtop.audit, jobtop.snapshot_cache) applied")
        } else {
            native::migrate(&pool).await?;
            Ok("reference schema applied")
        }
    };
    // Each statement is bounded by the session's timeout; a server that stops answering
    // is bounded here.
    let what = tokio::time::timeout(MIGRATE_LIMIT, apply)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{} stopped answering: migrate gave up after {}s",
                connect::describe(&opts),
                MIGRATE_LIMIT.as_secs()
            )
        })??;
    println!("jobtop: {what} to {}", connect::describe(&opts));
    Ok(())
}
