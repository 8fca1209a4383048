//! Applies the embedded reference schema (`migrations/`), then jobtop's side tables
//! (`migrations/side/`, shared with every other queue schema).

use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::backend::pg::side_tables;

/// Where applied migrations are recorded. Not sqlx's default `public._sqlx_migrations`:
/// an application that keeps its own queue in the same database very likely uses sqlx's
/// migrator too, and sharing its table would make each migrator reject the other's history.
const MIGRATIONS_TABLE: &str = "jobtop._sqlx_migrations";

/// Brings the `jobtop` schema up to date. Safe to run from several processes at once: the
/// migrator holds a database-wide advisory lock while it works, so latecomers wait, then
/// find nothing left to apply.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    side_tables::check_reference_can_follow(pool).await?;
    let mut migrator: Migrator = sqlx::migrate!("./migrations");
    migrator.create_schema("jobtop");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
        .run(pool)
        .await
        .context("cannot apply the jobtop schema migrations")?;
    side_tables::install(pool).await
}
