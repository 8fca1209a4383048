//! Reading text columns that may not be valid UTF-8: a `SQL_ASCII` database stores whatever
//! bytes it was given, and one bad row must not fail a whole page. Invalid bytes become
//! U+FFFD instead of an error.

use sqlx::postgres::PgRow;
use sqlx::{Row, ValueRef};

pub fn opt_text(row: &PgRow, column: &str) -> anyhow::Result<Option<String>> {
    let value = row.try_get_raw(column)?;
    if value.is_null() {
        return Ok(None);
    }
    let bytes = value
        .as_bytes()
        .map_err(|err| anyhow::anyhow!("column {column}: {err}"))?;
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

pub fn text(row: &PgRow, column: &str) -> anyhow::Result<String> {
    Ok(opt_text(row, column)?.unwrap_or_default())
}
