//! The one snapshot routine of the schemas built on the engine: runs a backend's statements
//! (built once at open) in one read-only repeatable-read transaction.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use crate::backend::model::{
    Count, HISTORY_MINUTES, MinuteBucket, PauseInfo, QueueStats, Snapshot, SnapshotOptions,
    WorkerInfo,
};
use crate::backend::pg::decode;

/// Start of the history window (the minute 59 minutes before the current one), as a
/// `timestamptz` expression. Epoch arithmetic keeps it independent of the session time zone.
pub const WINDOW_START: &str = "to_timestamp(floor(extract(epoch FROM now()) / 60) * 60 - 59 * 60)";

/// The statements one snapshot runs, built once when the backend opens.
#[derive(Debug, Clone)]
pub struct Statements {
    /// `$1` is the count cap + 1. Columns: name, paused_at, paused_by, pause_reason, ready,
    /// scheduled, retrying, running, dead (bigint), oldest_ready_at (timestamptz); and
    /// optionally `<count>_estimated` (boolean) where a figure may come from a cache or a
    /// planner estimate instead of a count, and `oldest_running_at` (timestamptz: when the
    /// longest-running job started) where the schema keeps a start time, and
    /// `dead_last_hour` (bigint, capped like the counts) where it keeps when jobs died.
    pub queues: Arc<str>,
    /// Columns: queue, minute (epoch minute, bigint), succeeded, failed. `None` where the
    /// schema keeps no affordable completion history.
    pub minutes: Option<Arc<str>>,
    /// Columns: id, host, pid, queues (text[]), started_at, last_heartbeat_at, running_jobs.
    pub workers: Option<Arc<str>>,
}

/// Runs a backend's statements in one read-only repeatable-read transaction, so every figure
/// and every age is measured at the same `now()`.
pub async fn snapshot(
    pool: &PgPool,
    statements: &Statements,
    opts: &SnapshotOptions,
) -> anyhow::Result<Snapshot> {
    let cap = opts.count_cap.max(0);
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let db_now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let mut queues = read_queues(&mut tx, &statements.queues, cap)
        .await
        .context("reading queue counts")?;
    if let Some(sql) = &statements.minutes {
        read_minutes(&mut tx, sql, db_now, &mut queues)
            .await
            .context("reading completions per minute")?;
    }
    let workers = match &statements.workers {
        Some(sql) => read_workers(&mut tx, sql)
            .await
            .context("reading workers")?,
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(Snapshot {
        db_now,
        queues,
        workers,
        count_cap: cap,
        running_by_tenant: None,
    })
}

async fn read_queues(
    tx: &mut Transaction<'static, Postgres>,
    sql: &Arc<str>,
    cap: i64,
) -> anyhow::Result<Vec<QueueStats>> {
    let rows = sqlx::query(AssertSqlSafe(sql.clone()))
        .bind(cap.saturating_add(1))
        .fetch_all(&mut **tx)
        .await?;
    let mut queues = Vec::with_capacity(rows.len());
    for row in rows {
        // Each count is a sum of ranges capped at cap + 1: any sum above the cap is "at least".
        let count = |column: &str| -> anyhow::Result<Count> {
            let value = row.try_get::<i64, _>(column)?;
            let estimated =
                match row.try_get::<Option<bool>, _>(format!("{column}_estimated").as_str()) {
                    Ok(flag) => flag.unwrap_or(false),
                    Err(sqlx::Error::ColumnNotFound(_)) => false,
                    Err(err) => return Err(err.into()),
                };
            Ok(if estimated {
                Count {
                    value,
                    capped: false,
                    estimated: true,
                }
            } else {
                Count::capped_at(value, cap)
            })
        };
        let mut stats = QueueStats::new(row.try_get::<String, _>("name")?);
        stats.ready = count("ready")?;
        stats.scheduled = count("scheduled")?;
        stats.retrying = count("retrying")?;
        stats.running = count("running")?;
        stats.dead = count("dead")?;
        stats.oldest_ready_at = row.try_get("oldest_ready_at")?;
        stats.oldest_running_started_at =
            match row.try_get::<Option<DateTime<Utc>>, _>("oldest_running_at") {
                Ok(at) => at,
                Err(sqlx::Error::ColumnNotFound(_)) => None,
                Err(err) => return Err(err.into()),
            };
        stats.dead_last_hour = match row.try_get::<Option<i64>, _>("dead_last_hour") {
            Ok(n) => n.map(|n| Count::capped_at(n, cap)),
            Err(sqlx::Error::ColumnNotFound(_)) => None,
            Err(err) => return Err(err.into()),
        };
        stats.paused = match row.try_get::<Option<DateTime<Utc>>, _>("paused_at")? {
            Some(at) => Some(PauseInfo {
                at,
                by: row.try_get("paused_by")?,
                reason: row.try_get("pause_reason")?,
            }),
            None => None,
        };
        queues.push(stats);
    }
    Ok(queues)
}

async fn read_minutes(
    tx: &mut Transaction<'static, Postgres>,
    sql: &Arc<str>,
    db_now: DateTime<Utc>,
    queues: &mut [QueueStats],
) -> anyhow::Result<()> {
    for q in queues.iter_mut() {
        q.minutes = vec![MinuteBucket::default(); HISTORY_MINUTES];
    }
    let rows = sqlx::query(AssertSqlSafe(sql.clone()))
        .fetch_all(&mut **tx)
        .await?;
    let index: HashMap<String, usize> = queues
        .iter()
        .enumerate()
        .map(|(i, q)| (q.name.clone(), i))
        .collect();
    let current = db_now.timestamp().div_euclid(60);
    for row in rows {
        let queue: String = row.try_get("queue")?;
        let Some(&qi) = index.get(&queue) else {
            continue;
        };
        let Some(slot) = minute_slot(current, row.try_get("minute")?) else {
            continue;
        };
        let bucket = &mut queues[qi].minutes[slot];
        bucket.succeeded = bucket
            .succeeded
            .saturating_add(clamp_u32(row.try_get("succeeded")?));
        bucket.failed = bucket
            .failed
            .saturating_add(clamp_u32(row.try_get("failed")?));
    }
    Ok(())
}

async fn read_workers(
    tx: &mut Transaction<'static, Postgres>,
    sql: &Arc<str>,
) -> anyhow::Result<Vec<WorkerInfo>> {
    let rows = sqlx::query(AssertSqlSafe(sql.clone()))
        .fetch_all(&mut **tx)
        .await?;
    rows.into_iter()
        .map(|row| decode::worker_info(&row, "host"))
        .collect()
}

/// Position of an epoch minute in the history: the current minute is the last slot.
pub fn minute_slot(current_minute: i64, minute: i64) -> Option<usize> {
    let back = current_minute - minute;
    (0..HISTORY_MINUTES as i64)
        .contains(&back)
        .then(|| HISTORY_MINUTES - 1 - back as usize)
}

fn clamp_u32(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}

/// `(SELECT count(*) FROM (SELECT 1 FROM <from> WHERE <cond> LIMIT $1) c)`: a count that stops
/// at the cap + 1.
pub fn capped(from: &str, cond: &str) -> String {
    format!("(SELECT count(*) FROM (SELECT 1 FROM {from} WHERE {cond} LIMIT $1) c)")
}

/// The epoch minute of a `timestamptz` expression.
pub fn epoch_minute(tz_expr: &str) -> String {
    format!("floor(extract(epoch FROM {tz_expr}) / 60)::bigint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_slots_put_the_current_minute_last() {
        assert_eq!(minute_slot(1000, 1000), Some(59));
        assert_eq!(minute_slot(1000, 941), Some(0));
        assert_eq!(minute_slot(1000, 940), None);
        assert_eq!(minute_slot(1000, 1001), None);
    }
}
