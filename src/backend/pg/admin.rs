//! Creating and dropping whole databases, for the demo and the test harness.

use anyhow::{Context, Result};
use sqlx::postgres::PgConnection;

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `CREATE DATABASE name [TEMPLATE template]`. Creating from a template copies it file by
/// file, far faster than migrating again; the template must have no open sessions.
pub async fn create_database(
    conn: &mut PgConnection,
    name: &str,
    template: Option<&str>,
) -> Result<()> {
    let mut sql = format!("CREATE DATABASE {}", quote_ident(name));
    if let Some(template) = template {
        sql.push_str(" TEMPLATE ");
        sql.push_str(&quote_ident(template));
    }
    // Identifiers only, quoted above; no value reaches this string.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    Ok(())
}

/// Drops a database, ending its sessions first (PostgreSQL 13+; older servers only when
/// nobody is connected).
pub async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<()> {
    let forced = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    if sqlx::query(sqlx::AssertSqlSafe(forced))
        .execute(&mut *conn)
        .await
        .is_ok()
    {
        return Ok(());
    }
    let plain = format!("DROP DATABASE IF EXISTS {}", quote_ident(name));
    sqlx::query(sqlx::AssertSqlSafe(plain))
        .execute(conn)
        .await
        .with_context(|| format!("cannot drop database {name}"))?;
    Ok(())
}

/// Whether a database of that name exists.
pub async fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(conn)
            .await?,
    )
}
