//! Completions beyond the hour: per queue and hour over the last 24 hours or 7 days, and per
//! kind over the window, for the overview's chart and the kinds view.
//!
//! Built from the same minutes statement as the live hour (`Statements::minutes`), read one
//! range of closed hours at a time (`$1..$2`, bounded by the schema's time index). A closed
//! hour does not change any more (two minutes after its end, as the minute cache reasons),
//! so each is read once:
//! - where jobtop's side tables are installed (`rollups`), the first monitor to need an hour
//!   reads it and writes it there, under a lock that keeps twenty monitors from reading the
//!   same hour twenty times; every other monitor reads the stored hour instead of the jobs;
//! - otherwise (or on a read-only session) each monitor reads the hours it needs itself and
//!   keeps them in memory (`hours::HourCache`).
//!
//! The first look at a week costs 168 hour reads: they are spread over several requests
//! (`FILL_BUDGET`), newest first, and the report says how many hours are still missing,
//! so the chart fills from the right while the user watches instead of one long statement.
//! The open hours are read on every request.

mod hours;
mod rollups;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool, Row};

pub use hours::HourCache;
use hours::HourRows;

use crate::backend::drill::HistoryWindow;
use crate::backend::model::MinuteBucket;

/// A closed hour is final this many minutes after its end (the minute cache's re-read rule).
const SETTLE_MINUTES: i64 = 2;

/// Hours read from the jobs per request, at most: one statement each range of this many.
const CHUNK_HOURS: i64 = 6;

/// Past this much time spent reading closed hours, a request returns what it has; the next
/// one goes on.
const FILL_BUDGET: Duration = Duration::from_millis(300);

/// What the chart and the kinds view show over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryReport {
    pub window: HistoryWindow,
    pub db_now: DateTime<Utc>,
    /// The epoch hour of each queue's first bucket; one bucket per hour, the open one last.
    pub first_hour: i64,
    pub queues: BTreeMap<String, Vec<MinuteBucket>>,
    /// Succeeded and failed attempts per kind over the window; empty where the table keeps
    /// no kind.
    pub kinds: BTreeMap<String, (u64, u64)>,
    /// Closed hours not read yet: the next requests read them.
    pub missing_hours: i64,
    /// The closed hours came from jobtop's side table (shared by every monitor).
    pub shared: bool,
}

impl HistoryReport {
    /// Every hour of the window is in.
    pub fn complete(&self) -> bool {
        self.missing_hours == 0
    }
}

/// Whose hours a row of the side table holds: the backend's name and its database schema
/// ("river@public"), so two queue systems in one database keep two histories.
pub fn source_key(name: &str, schema: &str) -> String {
    format!("{name}@{schema}")
}

/// Forgets every hour stored for `source` (the benchmark's first look starts from none).
pub async fn forget(pool: &PgPool, source: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    rollups::delete_before(&mut tx, source, i64::MAX).await?;
    tx.commit().await?;
    Ok(())
}

/// One row of a statement grouped by hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HourRow {
    pub hour: i64,
    pub queue: String,
    /// `None` where the table keeps no kind.
    pub kind: Option<String>,
    pub succeeded: i64,
    pub failed: i64,
}

/// Reads the window's history with the schema's minutes statement (`minutes_sql`, which
/// binds `$1` and `$2` as epoch minutes); `source` names the backend and schema for the
/// side table (`name@schema`).
pub async fn read(
    pool: &PgPool,
    minutes_sql: &str,
    source: &str,
    cache: &HourCache,
    window: HistoryWindow,
) -> anyhow::Result<HistoryReport> {
    let (db_now,): (DateTime<Utc>,) = sqlx::query_as("SELECT now()").fetch_one(pool).await?;
    let current_minute = db_now.timestamp().div_euclid(60);
    let current_hour = current_minute.div_euclid(60);
    let first_hour = current_hour - (window.hours() - 1);
    // Hours before this one are closed for good.
    let closed_end = (current_minute - SETTLE_MINUTES)
        .div_euclid(60)
        .max(first_hour);
    cache.forget_before(current_hour - (HistoryWindow::Week.hours() - 1));

    let side = cache.side_access(pool).await?;
    let mut missing = cache.missing(first_hour, closed_end);
    if side.present && !missing.is_empty() {
        let stored = rollups::read(pool, source, &missing)
            .await
            .context("reading stored hours")?;
        cache.insert(stored);
        missing = cache.missing(first_hour, closed_end);
    }
    let started = Instant::now();
    // Newest first: the right of the chart fills first.
    for range in ranges(&missing, CHUNK_HOURS).into_iter().rev() {
        if started.elapsed() >= FILL_BUDGET {
            break;
        }
        let filled = if side.writable {
            match rollups::fill(pool, minutes_sql, source, range.clone()).await? {
                Some(hours) => hours,
                // Another monitor is filling: its hours arrive with a later request.
                None => break,
            }
        } else {
            read_hours(pool, minutes_sql, range.start, range.end as f64)
                .await
                .map(|rows| HourRows::group(range.clone(), rows))?
        };
        cache.insert(filled);
    }
    let open = read_hours(pool, minutes_sql, closed_end, f64::INFINITY)
        .await
        .context("reading the open hours")?;
    let open = HourRows::group(closed_end..current_hour + 1, open);
    let missing_hours = cache.missing(first_hour, closed_end).len() as i64;
    Ok(cache.report(
        window,
        db_now,
        first_hour,
        &open,
        missing_hours,
        side.present,
    ))
}

/// The minutes statement over the epoch hours `from..until`, grouped by hour on the server
/// (a week of minutes per queue and kind would be a million rows to ship).
pub(crate) async fn read_hours<'c, E>(
    executor: E,
    minutes_sql: &str,
    from: i64,
    until: f64,
) -> anyhow::Result<Vec<HourRow>>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let sql = format!(
        "SELECT m.minute / 60 AS hour, m.queue, m.kind, \
           sum(m.succeeded)::bigint AS succeeded, sum(m.failed)::bigint AS failed \
         FROM ({minutes_sql}) m GROUP BY 1, 2, 3"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(from * 60)
        .bind(until * 60.0)
        .fetch_all(executor)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(HourRow {
                hour: row.try_get("hour")?,
                queue: row.try_get("queue")?,
                kind: row.try_get("kind")?,
                succeeded: row.try_get("succeeded")?,
                failed: row.try_get("failed")?,
            })
        })
        .collect()
}

/// Sorted hours cut into runs of consecutive hours, none longer than `longest`.
fn ranges(hours: &[i64], longest: i64) -> Vec<std::ops::Range<i64>> {
    let mut out: Vec<std::ops::Range<i64>> = Vec::new();
    for &h in hours {
        match out.last_mut() {
            Some(r) if r.end == h && r.end - r.start < longest => r.end = h + 1,
            _ => out.push(h..h + 1),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_hours_are_read_in_short_runs_of_consecutive_hours() {
        assert_eq!(
            ranges(&[1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 20], 6),
            vec![1..4, 5..11, 11..13, 20..21]
        );
        assert!(ranges(&[], 6).is_empty());
    }
}
