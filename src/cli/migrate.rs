//! `jobtop migrate [URL] [--side-tables]`: apply the reference schema, or only jobtop's side
//! tables next to another system's queue.

use anyhow::Result;

use crate::backend::native;
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::pg::side_tables;

pub async fn run(url: Option<&str>, side_tables_only: bool) -> Result<()> {
    let opts = super::target(url)?;
    let pool = connect::connect(opts.clone(), &SessionSettings::default()).await?;
    let what = if side_tables_only {
        side_tables::install(&pool).await?;
        "side tables (jobtop.audit, jobtop.snapshot_cache) applied"
    } else {
        native::migrate(&pool).await?;
        "reference schema applied"
    };
    println!("jobtop: {what} to {}", connect::describe(&opts));
    Ok(())
}
