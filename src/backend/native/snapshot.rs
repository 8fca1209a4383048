//! The overview's data from the `jobtop` schema, in one read-only transaction (so every
//! figure, and every age, is measured at the same `now()`).
//!
//! Every query is bounded by live rows or by the last hour, never by the table: counts are
//! `count(*)` over a `LIMIT cap + 1` range of a partial index, one range per queue and
//! state, and the literal predicate of the index is repeated in each WHERE (the planner
//! uses a partial index only when it can prove the predicate from the query).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::backend::model::{
    Count, KindStats, MinuteBucket, PauseInfo, QueueStats, Snapshot, SnapshotOptions,
    TenantRunning, WorkerInfo,
};

/// Minutes of completion history per queue; the last one is the current, open minute.
pub const HISTORY_MINUTES: usize = 60;

/// Per queue: its pause, six capped counts and the oldest ready job. Ready is counted in two
/// ranges (queued, retrying) because each is then a tight `(queue, state, run_at)` range.
/// The longest-running job is the front of the queue's `(queue, started_at)` running range,
/// and the dead of the last hour the tail of its `(queue, finished_at)` dead range: both
/// index-only. The outer join keeps one row, and so `now()`, when there is no queue at all.
const QUEUES_SQL: &str = r#"
SELECT n.db_now, q.name, q.paused_at, q.paused_by, q.pause_reason,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'queued' AND j.run_at <= now() LIMIT $1) c) AS ready_queued,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'retrying' AND j.run_at <= now() LIMIT $1) c) AS ready_retrying,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'queued' AND j.run_at > now() LIMIT $1) c) AS scheduled,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'retrying' AND j.run_at > now() LIMIT $1) c) AS retrying,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state = 'running' AND j.queue = q.name LIMIT $1) c) AS running,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state = 'dead' AND j.queue = q.name LIMIT $1) c) AS dead,
  LEAST(
    (SELECT min(j.run_at) FROM jobtop.jobs j
       WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
         AND j.state = 'queued' AND j.run_at <= now()),
    (SELECT min(j.run_at) FROM jobtop.jobs j
       WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
         AND j.state = 'retrying' AND j.run_at <= now())
  ) AS oldest_ready_at,
  (SELECT min(j.started_at) FROM jobtop.jobs j
     WHERE j.state = 'running' AND j.queue = q.name) AS oldest_running_started_at,
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state = 'dead' AND j.queue = q.name
       AND j.finished_at >= now() - interval '1 hour' LIMIT $1) c) AS dead_last_hour
FROM (SELECT now() AS db_now) n
LEFT JOIN jobtop.queues q ON true
ORDER BY q.name
"#;

/// Succeeded jobs and failed attempts per queue and minute since the start of the minute
/// 59 minutes ago, as epoch minutes (time-zone proof). Failed attempts are the `errors`
/// entries of the jobs whose latest failure (`failed_at`) falls in the window: a job that
/// failed earlier in the hour has its latest failure in the hour too.
///
/// The same scan also totals the window per (queue, kind) through a second grouping set:
/// `kind` is in the covering finished index and the failed half reads the job rows anyway,
/// so the per-kind failure rate costs no extra pass. `per_kind` tells the two sets apart.
const MINUTES_SQL: &str = r#"
SELECT j.queue, j.kind,
       floor(extract(epoch FROM j.finished_at) / 60)::bigint AS minute,
       GROUPING(j.kind) = 0 AS per_kind,
       count(*) AS succeeded,
       0::bigint AS failed
FROM jobtop.jobs j
WHERE j.finished_at IS NOT NULL
  AND j.finished_at >= to_timestamp(floor(extract(epoch FROM now()) / 60) * 60 - 59 * 60)
  AND j.state = 'succeeded'
GROUP BY GROUPING SETS ((j.queue, 3), (j.queue, j.kind))
UNION ALL
SELECT j.queue, j.kind,
       floor(extract(epoch FROM (e.entry ->> 'at')::timestamptz) / 60)::bigint AS minute,
       GROUPING(j.kind) = 0 AS per_kind,
       0::bigint AS succeeded,
       count(*) AS failed
FROM jobtop.jobs j
CROSS JOIN LATERAL jsonb_array_elements(j.errors) AS e(entry)
WHERE j.failed_at IS NOT NULL
  AND j.failed_at >= to_timestamp(floor(extract(epoch FROM now()) / 60) * 60 - 59 * 60)
  AND (e.entry ->> 'at')::timestamptz
      >= to_timestamp(floor(extract(epoch FROM now()) / 60) * 60 - 59 * 60)
GROUP BY GROUPING SETS ((j.queue, 3), (j.queue, j.kind))
"#;

/// Running jobs per tenant, index-only on `jobs_running_tenant_idx` (migration 0003).
const TENANTS_SQL: &str = r#"
SELECT j.tenant_id, count(*) AS running
FROM jobtop.jobs j
WHERE j.state = 'running'
GROUP BY j.tenant_id
ORDER BY j.tenant_id
"#;

/// Workers seen in the last 24 hours, and any worker id still holding running jobs (even
/// one that never registered, or went quiet long ago: its jobs are stuck).
const WORKERS_SQL: &str = r#"
WITH holders AS (
  SELECT j.locked_by AS id, count(*) AS running_jobs
  FROM jobtop.jobs j
  WHERE j.state = 'running' AND j.locked_by IS NOT NULL
  GROUP BY j.locked_by
)
SELECT coalesce(w.id, h.id) AS id, w.hostname, w.pid, coalesce(w.queues, '{}') AS queues,
       w.started_at, w.last_heartbeat_at, coalesce(h.running_jobs, 0) AS running_jobs
FROM jobtop.workers w
FULL JOIN holders h ON h.id = w.id
WHERE h.id IS NOT NULL OR w.last_heartbeat_at >= now() - interval '24 hours'
ORDER BY 1
"#;

pub async fn snapshot(pool: &PgPool, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
    let cap = opts.count_cap.max(0);
    // Repeatable read: the queries see one snapshot, and one now().
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let (db_now, mut queues) = read_queues(&mut tx, cap).await?;
    read_minutes(&mut tx, db_now, &mut queues).await?;
    let workers = read_workers(&mut tx).await?;
    let running_by_tenant = if opts.running_by_tenant {
        Some(read_tenants(&mut tx).await?)
    } else {
        None
    };
    tx.commit().await?;
    Ok(Snapshot {
        db_now,
        queues,
        workers,
        count_cap: cap,
        running_by_tenant,
    })
}

async fn read_queues(
    tx: &mut Transaction<'static, Postgres>,
    cap: i64,
) -> anyhow::Result<(DateTime<Utc>, Vec<QueueStats>)> {
    let rows = sqlx::query(QUEUES_SQL)
        .bind(cap.saturating_add(1))
        .fetch_all(&mut **tx)
        .await?;
    let mut db_now = None;
    let mut queues = Vec::with_capacity(rows.len());
    for row in rows {
        db_now = Some(row.try_get::<DateTime<Utc>, _>("db_now")?);
        let Some(name) = row.try_get::<Option<String>, _>("name")? else {
            continue;
        };
        let count = |column: &str| -> anyhow::Result<Count> {
            Ok(Count::capped_at(row.try_get::<i64, _>(column)?, cap))
        };
        let mut stats = QueueStats::new(name);
        // Both ready ranges were capped separately; their sum is capped again.
        let ready =
            row.try_get::<i64, _>("ready_queued")? + row.try_get::<i64, _>("ready_retrying")?;
        stats.ready = Count::capped_at(ready, cap);
        stats.scheduled = count("scheduled")?;
        stats.retrying = count("retrying")?;
        stats.running = count("running")?;
        stats.dead = count("dead")?;
        stats.oldest_ready_at = row.try_get("oldest_ready_at")?;
        stats.paused = row
            .try_get::<Option<DateTime<Utc>>, _>("paused_at")?
            .map(|at| -> anyhow::Result<PauseInfo> {
                Ok(PauseInfo {
                    at,
                    by: row.try_get("paused_by")?,
                    reason: row.try_get("pause_reason")?,
                })
            })
            .transpose()?;
        stats.oldest_running_started_at = row.try_get("oldest_running_started_at")?;
        stats.dead_last_hour = Some(count("dead_last_hour")?);
        stats.minutes = vec![MinuteBucket::default(); HISTORY_MINUTES];
        stats.kinds = Some(Vec::new());
        queues.push(stats);
    }
    let db_now = db_now.ok_or_else(|| anyhow::anyhow!("the queues query returned no row"))?;
    Ok((db_now, queues))
}

async fn read_minutes(
    tx: &mut Transaction<'static, Postgres>,
    db_now: DateTime<Utc>,
    queues: &mut [QueueStats],
) -> anyhow::Result<()> {
    let rows = sqlx::query(MINUTES_SQL).fetch_all(&mut **tx).await?;
    let index: HashMap<String, usize> = queues
        .iter()
        .enumerate()
        .map(|(i, q)| (q.name.clone(), i))
        .collect();
    let current_minute = db_now.timestamp().div_euclid(60);
    let mut kinds: Vec<HashMap<String, KindStats>> = vec![HashMap::new(); queues.len()];
    for row in rows {
        let queue: String = row.try_get("queue")?;
        let Some(&qi) = index.get(&queue) else {
            continue;
        };
        if row.try_get::<bool, _>("per_kind")? {
            let kind: String = row.try_get("kind")?;
            let entry = kinds[qi].entry(kind.clone()).or_insert_with(|| KindStats {
                kind,
                succeeded: 0,
                failed: 0,
            });
            entry.succeeded += row.try_get::<i64, _>("succeeded")?.max(0) as u64;
            entry.failed += row.try_get::<i64, _>("failed")?.max(0) as u64;
            continue;
        }
        let minute: i64 = row.try_get("minute")?;
        let Some(slot) = bucket_slot(current_minute, minute) else {
            continue;
        };
        let bucket = &mut queues[qi].minutes[slot];
        bucket.succeeded += clamp_u32(row.try_get("succeeded")?);
        bucket.failed += clamp_u32(row.try_get("failed")?);
    }
    for (queue, by_kind) in queues.iter_mut().zip(kinds) {
        let mut list: Vec<KindStats> = by_kind.into_values().collect();
        list.sort_by(|a, b| a.kind.cmp(&b.kind));
        queue.kinds = Some(list);
    }
    Ok(())
}

async fn read_tenants(
    tx: &mut Transaction<'static, Postgres>,
) -> anyhow::Result<Vec<TenantRunning>> {
    let rows = sqlx::query(TENANTS_SQL).fetch_all(&mut **tx).await?;
    rows.into_iter()
        .map(|row| {
            Ok(TenantRunning {
                tenant: row.try_get("tenant_id")?,
                running: row.try_get("running")?,
            })
        })
        .collect()
}

/// Position of an epoch minute in the history: the current minute is the last slot.
fn bucket_slot(current_minute: i64, minute: i64) -> Option<usize> {
    let back = current_minute - minute;
    (0..HISTORY_MINUTES as i64)
        .contains(&back)
        .then(|| HISTORY_MINUTES - 1 - back as usize)
}

fn clamp_u32(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}

async fn read_workers(tx: &mut Transaction<'static, Postgres>) -> anyhow::Result<Vec<WorkerInfo>> {
    let rows = sqlx::query(WORKERS_SQL).fetch_all(&mut **tx).await?;
    rows.into_iter()
        .map(|row| {
            Ok(WorkerInfo {
                id: row.try_get("id")?,
                host: row.try_get("hostname")?,
                pid: row.try_get("pid")?,
                queues: row.try_get("queues")?,
                started_at: row.try_get("started_at")?,
                last_heartbeat_at: row.try_get("last_heartbeat_at")?,
                running_jobs: row.try_get("running_jobs")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_slots_put_the_current_minute_last() {
        assert_eq!(bucket_slot(1000, 1000), Some(59));
        assert_eq!(bucket_slot(1000, 941), Some(0));
        assert_eq!(bucket_slot(1000, 940), None);
        assert_eq!(bucket_slot(1000, 1001), None);
    }
}
