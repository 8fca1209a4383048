//! The transaction every drill-down read runs in: one snapshot and one `now()` for all its
//! statements, read-only, and planner settings that keep reads on their index order.
//!
//! The planner's row estimates for a queue's slice of a partial index can be off by a
//! hundredfold (queue, state and time are correlated), and when it thinks few rows match a
//! page query it fetches all of them and sorts, or bitmap-scans a whole range to return a
//! LIMIT of it. Without sorts and bitmap scans to choose from, a page reads its index
//! range in order and stops after the page. Settings are `SET LOCAL`: they end with the
//! transaction.
//!
//! A `SQL_ASCII` database stores whatever bytes it was given, and the server refuses to
//! send bytes that are not UTF-8 to a UTF-8 client: one such row would fail every page it
//! is on. There, these reads ask for the bytes as they are (client encoding `SQL_ASCII`)
//! and decode them with replacement characters (`text`). Other databases convert to UTF-8
//! as usual.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

pub async fn begin(
    pool: &PgPool,
) -> anyhow::Result<(Transaction<'static, Postgres>, DateTime<Utc>)> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let db_now: DateTime<Utc> = sqlx::query_scalar(
        "SELECT now() FROM (SELECT set_config('enable_sort', 'off', true), \
         set_config('enable_bitmapscan', 'off', true), set_config('work_mem', '32MB', true), \
         set_config('client_encoding', CASE current_setting('server_encoding') \
           WHEN 'SQL_ASCII' THEN 'SQL_ASCII' ELSE 'UTF8' END, true)) s",
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok((tx, db_now))
}
