//! Closed hours in jobtop's side tables (`migrations/side/0002_throughput_hours.sql`), so
//! that an hour is read from the jobs once per database, not once per monitor.

use std::collections::BTreeMap;
use std::ops::Range;

use sqlx::PgPool;

use super::hours::HourRows;
use super::{HourRow, read_hours};

/// Stored hours are kept this long: the longest window and a day to spare.
const KEEP_HOURS: i64 = 8 * 24;

/// The side tables, hours and the record of hours read.
const TABLES: [&str; 2] = ["jobtop.throughput_hours", "jobtop.throughput_hours_read"];

/// First half of the advisory lock key ("jobh"); the second is a hash of the source.
const LOCK_CLASS: i32 = 0x6A6F_6268;

/// hour, and the hour's queue, kind, succeeded and failed (absent for an empty hour).
type StoredRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The stored hours among `hours`, an hour read but empty as an empty one.
pub async fn read(
    pool: &PgPool,
    source: &str,
    hours: &[i64],
) -> anyhow::Result<BTreeMap<i64, HourRows>> {
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT r.hour, h.queue, h.kind, h.succeeded, h.failed \
             FROM jobtop.throughput_hours_read r \
             LEFT JOIN jobtop.throughput_hours h ON h.source = r.source AND h.hour = r.hour \
             WHERE r.source = $1 AND r.hour = ANY($2)",
    )
    .bind(source)
    .bind(hours)
    .fetch_all(pool)
    .await?;
    let mut out: BTreeMap<i64, HourRows> = BTreeMap::new();
    for (hour, queue, kind, succeeded, failed) in rows {
        let stored = out.entry(hour).or_default();
        if let Some(queue) = queue {
            stored.add(HourRow {
                hour,
                queue,
                kind: kind.filter(|k| !k.is_empty()),
                succeeded: succeeded.unwrap_or(0),
                failed: failed.unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// Reads the closed hours `hours` from the jobs and stores them, in one transaction that
/// holds the source's fill lock; `None` when another monitor holds it (it is filling).
pub async fn fill(
    pool: &PgPool,
    minutes_sql: &str,
    source: &str,
    hours: Range<i64>,
) -> anyhow::Result<Option<BTreeMap<i64, HourRows>>> {
    let mut tx = pool.begin().await?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1, hashtext($2))")
        .bind(LOCK_CLASS)
        .bind(source)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let rows = read_hours(&mut *tx, minutes_sql, hours.start, hours.end as f64).await?;
    sqlx::query(
        "INSERT INTO jobtop.throughput_hours (source, hour, queue, kind, succeeded, failed) \
         SELECT $1, r.hour, r.queue, r.kind, r.succeeded, r.failed \
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
           AS r(hour, queue, kind, succeeded, failed) \
         ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(rows.iter().map(|r| r.hour).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.queue.clone()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.kind.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.succeeded).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.failed).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO jobtop.throughput_hours_read (source, hour) \
         SELECT $1, h FROM generate_series($2::bigint, $3::bigint - 1) AS h \
         ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(hours.start)
    .bind(hours.end)
    .execute(&mut *tx)
    .await?;
    // The oldest hours go as new ones come: one short range delete per fill.
    delete_before(&mut tx, source, hours.end - KEEP_HOURS).await?;
    tx.commit().await?;
    Ok(Some(HourRows::group(hours, rows)))
}

/// Forgets the source's stored hours before `hour` (`i64::MAX`: all of them).
pub(super) async fn delete_before(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    source: &str,
    hour: i64,
) -> anyhow::Result<()> {
    for table in TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE source = $1 AND hour < $2"
        )))
        .bind(source)
        .bind(hour)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
