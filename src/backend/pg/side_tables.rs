//! jobtop's own tables next to any queue schema (`migrations/side/`): the audit trail, the
//! shared snapshot's cache, the stored hours of history and the stored passes (`tallies`).
//! The reference schema's migrations create them too; these migrations are written to be
//! no-ops there, and are applied after the reference ones, so every later side table
//! reaches both kinds of install.

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

/// Where the side migrations are recorded: apart from the reference schema's history, since
/// either can be installed without the other.
const MIGRATIONS_TABLE: &str = "jobtop._side_migrations";

/// The reference schema's history (`native::migrate`).
const REFERENCE_HISTORY: &str = "jobtop._sqlx_migrations";

/// Installs or updates the side tables. Safe from several processes at once, like the
/// reference migrations (the migrator holds an advisory lock).
pub async fn install(pool: &PgPool) -> anyhow::Result<()> {
    let mut migrator: Migrator = sqlx::migrate!("./migrations/side");
    migrator.create_schema("jobtop");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
        .run(pool)
        .await
        .context("cannot apply jobtop's side tables")
}

/// Refuses to lay the reference schema over side tables installed on their own: its first
/// migration creates the audit table unconditionally and would fail half-way.
pub async fn check_reference_can_follow(pool: &PgPool) -> anyhow::Result<()> {
    let (side_only,): (bool,) = sqlx::query_as(
        "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NULL \
           AND to_regclass('jobtop.audit') IS NOT NULL",
    )
    .bind(MIGRATIONS_TABLE)
    .bind(REFERENCE_HISTORY)
    .fetch_one(pool)
    .await?;
    if side_only {
        bail!(
            "this database has only jobtop's side tables (installed with `jobtop migrate \
             --side-tables`); the reference schema would create them again. Keep the side \
             tables (run `jobtop migrate --side-tables` to update them), or drop schema jobtop \
             first if you want the reference schema here"
        );
    }
    Ok(())
}
