//! `jobtop migrate [URL] [--side-tables | --indexes]`: apply the reference schema, only
//! jobtop's side tables next to another system's queue, or only the indexes `jobtop doctor`
//! names for the schema found there.

use std::time::Duration;

use anyhow::Result;

use crate::backend::index_advice;
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
            Ok::<_, anyhow::Error>(
                "side tables (the audit trail jobtop.audit, the shared snapshot's cache, stored hours of history and passes) applied",
            )
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

/// `migrate --indexes`: builds exactly the indexes doctor names for the detected schema
/// (`index_advice`), refused in read-only mode (`--read-only`, a read-only connection of
/// the config file, or a read-only server).
pub async fn indexes(url: Option<&str>, read_only: bool) -> Result<()> {
    let connection_read_only = match url.filter(|u| u.starts_with('@')) {
        Some(_) => {
            let loaded =
                crate::config::load(super::CONFIG_PATH.get().cloned().flatten().as_deref())?;
            super::resolve_target(url, &loaded)?
                .1
                .is_some_and(|c| c.read_only)
        }
        None => false,
    };
    if read_only || connection_read_only {
        anyhow::bail!("read-only mode: migrate --indexes builds indexes, so it is refused");
    }
    let opts = super::target(url)?;
    let described = connect::describe(&opts);
    let pool = connect::connect(opts, &SessionSettings::default()).await?;
    let server_read_only: String =
        sqlx::query_scalar("SELECT current_setting('transaction_read_only')")
            .fetch_one(&pool)
            .await?;
    if server_read_only == "on" {
        anyhow::bail!(
            "{described} is read-only (a standby, or default_transaction_read_only): no index can be built there"
        );
    }
    let backend = super::backend_choice::open(&pool, &described).await?;
    let reads = backend.reads();
    let advised = index_advice::advised(&pool, reads.as_ref()).await;
    if advised.is_empty() {
        println!(
            "jobtop: doctor names no index for the {} schema on {described}: nothing to build",
            reads.name()
        );
        return Ok(());
    }
    println!(
        "jobtop: building the {} index(es) doctor names for the {} schema on {described}",
        advised.len(),
        reads.name()
    );
    let built = index_advice::build(&pool, &advised, |sql| println!("  {sql} ...")).await?;
    for b in &built {
        println!("  built in {:.1} s: {}", b.took.as_secs_f64(), b.sql);
    }
    pool.close().await;
    Ok(())
}
