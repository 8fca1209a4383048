//! The overview's data from the `jobtop` schema, in one read-only transaction (so every
//! figure, and every age, is measured at the same `now()`).
//!
//! Every query is bounded by live rows or by the last hour, never by the table: counts are
//! `count(*)` over a `LIMIT cap + 1` range of a partial index, one range per queue and
//! state, and the literal predicate of the index is repeated in each WHERE (the planner
//! uses a partial index only when it can prove the predicate from the query).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::Caches;
use super::minutes::MINUTES_SQL;
use crate::backend::minute_cache;
use crate::backend::model::{
    Count, HISTORY_MINUTES, MinuteBucket, PauseInfo, QueueStats, Snapshot, SnapshotOptions,
    TenantRunning, WorkerInfo,
};
use crate::backend::pg::decode;
use crate::backend::pile_estimates::{self, Pile, PileSql, Piles};

/// Per queue: its pause, six capped counts and the oldest ready job, each index read once
/// for every queue when that is cheap, else per queue.
///
/// Once: one pass over each live-state partial index (pending, running, dead), grouped by
/// queue, when the pass ends within its bound (`bound`: 100 rows a queue + 1,000): with
/// many small queues that is a few hundred buffers where ten ranges a queue cost twenty
/// buffers a queue. A pass that reaches the bound (a big backlog or dead pile) leaves its
/// figures to the per-queue ranges below (`CASE`: a subplan runs only where it is chosen).
///
/// Per queue: ready is counted in two ranges (queued, retrying) because each is then a
/// tight `(queue, state, run_at)` range. The longest-running job is the front of the
/// queue's `(queue, started_at)` running range, and the dead of the last hour the tail of
/// its `(queue, finished_at)` dead range: both index-only.
///
/// Both ways, scheduled, retrying (backing off) and dead stop at a small cap (`$2`): past it
/// they are estimated (`estimate.rs`); the rest at the count cap (`$1`). The outer join keeps
/// one row, and so `now()`, when there is no queue at all.
pub(super) const QUEUES_SQL: &str = r#"
WITH bound AS MATERIALIZED (SELECT 100 * count(*) + 1000 AS rows FROM jobtop.queues),
pending AS MATERIALIZED (
  SELECT j.queue, j.state, j.run_at FROM jobtop.jobs j
  WHERE j.state IN ('queued', 'retrying') LIMIT (SELECT b.rows FROM bound b)),
running AS MATERIALIZED (
  SELECT j.queue, j.started_at FROM jobtop.jobs j
  WHERE j.state = 'running' LIMIT (SELECT b.rows FROM bound b)),
dead AS MATERIALIZED (
  SELECT j.queue, j.finished_at FROM jobtop.jobs j
  WHERE j.state = 'dead' LIMIT (SELECT b.rows FROM bound b)),
whole AS MATERIALIZED (
  SELECT (SELECT count(*) FROM pending) < b.rows AS pending,
         (SELECT count(*) FROM running) < b.rows AS running,
         (SELECT count(*) FROM dead) < b.rows AS dead
  FROM bound b),
pending_by_queue AS (
  SELECT p.queue,
    count(*) FILTER (WHERE p.state = 'queued' AND p.run_at <= now()) AS ready_queued,
    count(*) FILTER (WHERE p.state = 'retrying' AND p.run_at <= now()) AS ready_retrying,
    count(*) FILTER (WHERE p.state = 'queued' AND p.run_at > now()) AS scheduled,
    count(*) FILTER (WHERE p.state = 'retrying' AND p.run_at > now()) AS retrying,
    min(p.run_at) FILTER (WHERE p.run_at <= now()) AS oldest_ready_at
  FROM pending p GROUP BY p.queue),
running_by_queue AS (
  SELECT r.queue, count(*) AS running, min(r.started_at) AS oldest_running_started_at
  FROM running r GROUP BY r.queue),
dead_by_queue AS (
  SELECT d.queue, count(*) AS dead,
    count(*) FILTER (WHERE d.finished_at >= now() - interval '1 hour') AS dead_last_hour
  FROM dead d GROUP BY d.queue)
SELECT n.db_now, q.name, q.paused_at, q.paused_by, q.pause_reason,
  CASE WHEN w.pending THEN least(coalesce(p.ready_queued, 0), $1) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'queued' AND j.run_at <= now() LIMIT $1) c) END AS ready_queued,
  CASE WHEN w.pending THEN least(coalesce(p.ready_retrying, 0), $1) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'retrying' AND j.run_at <= now() LIMIT $1) c) END AS ready_retrying,
  CASE WHEN w.pending THEN least(coalesce(p.scheduled, 0), $2) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'queued' AND j.run_at > now() LIMIT $2) c) END AS scheduled,
  CASE WHEN w.pending THEN least(coalesce(p.retrying, 0), $2) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
       AND j.state = 'retrying' AND j.run_at > now() LIMIT $2) c) END AS retrying,
  CASE WHEN w.running THEN least(coalesce(r.running, 0), $1) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state = 'running' AND j.queue = q.name LIMIT $1) c) END AS running,
  CASE WHEN w.dead THEN least(coalesce(d.dead, 0), $2) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state = 'dead' AND j.queue = q.name LIMIT $2) c) END AS dead,
  CASE WHEN w.pending THEN p.oldest_ready_at ELSE LEAST(
    (SELECT min(j.run_at) FROM jobtop.jobs j
       WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
         AND j.state = 'queued' AND j.run_at <= now()),
    (SELECT min(j.run_at) FROM jobtop.jobs j
       WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
         AND j.state = 'retrying' AND j.run_at <= now())
  ) END AS oldest_ready_at,
  CASE WHEN w.running THEN r.oldest_running_started_at ELSE
  (SELECT min(j.started_at) FROM jobtop.jobs j
     WHERE j.state = 'running' AND j.queue = q.name) END AS oldest_running_started_at,
  CASE WHEN w.dead THEN least(coalesce(d.dead_last_hour, 0), $1) ELSE
  (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j
     WHERE j.state = 'dead' AND j.queue = q.name
       AND j.finished_at >= now() - interval '1 hour' LIMIT $1) c) END AS dead_last_hour
FROM (SELECT now() AS db_now) n
CROSS JOIN whole w
LEFT JOIN jobtop.queues q ON true
LEFT JOIN pending_by_queue p ON p.queue = q.name
LEFT JOIN running_by_queue r ON r.queue = q.name
LEFT JOIN dead_by_queue d ON d.queue = q.name
ORDER BY q.name
"#;

/// The piles past the pile cap, with the same predicates as the counts above (and the
/// indexes they use). The waiting ones are estimated by one column each: the planner takes
/// `run_at` as unrelated to the state, and put 1,776 scheduled jobs among 2 M at "100+".
/// Jobs due later are nearly all scheduled (the retrying ones backing off are a few percent
/// of them), and retrying jobs nearly all back off (a due one is picked within seconds).
static PILES: LazyLock<Piles> = LazyLock::new(|| {
    let waiting = "j.state IN ('queued', 'retrying') AND j.run_at > now()";
    let pile = |cond: &str, estimate: &str| {
        PileSql::estimated_by("jobtop.jobs j", cond, estimate, "j.queue")
    };
    Piles {
        table: Some("jobtop.jobs".into()),
        sql: vec![
            (
                Pile::Scheduled,
                pile(
                    &format!("{waiting} AND j.state = 'queued'"),
                    "j.run_at > now()",
                ),
            ),
            (
                Pile::Retrying,
                pile(
                    &format!("{waiting} AND j.state = 'retrying'"),
                    "j.state = 'retrying'",
                ),
            ),
            (Pile::Dead, pile("j.state = 'dead'", "j.state = 'dead'")),
        ],
        audit: true,
    }
});

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
pub(super) const WORKERS_SQL: &str = r#"
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

pub async fn snapshot(
    pool: &PgPool,
    opts: &SnapshotOptions,
    caches: &Caches,
) -> anyhow::Result<Snapshot> {
    let cap = opts.count_cap.max(0);
    // Repeatable read: the queries see one snapshot, and one now().
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let pile_cap = cap.min(opts.pile_cap.max(0));
    let (db_now, mut queues) = read_queues(&mut tx, cap, pile_cap).await?;
    pile_estimates::past_the_cap(
        &mut tx,
        &mut queues,
        &PILES,
        &caches.estimates,
        cap,
        opts.estimates,
    )
    .await?;
    minute_cache::read(&mut tx, MINUTES_SQL, db_now, &mut queues, &caches.minutes).await?;
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
        schedules: None,
    })
}

async fn read_queues(
    tx: &mut Transaction<'static, Postgres>,
    cap: i64,
    small_cap: i64,
) -> anyhow::Result<(DateTime<Utc>, Vec<QueueStats>)> {
    let rows = sqlx::query(QUEUES_SQL)
        .bind(cap.saturating_add(1))
        .bind(small_cap.saturating_add(1))
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
        stats.scheduled = Count::capped_at(row.try_get::<i64, _>("scheduled")?, small_cap);
        stats.retrying = Count::capped_at(row.try_get::<i64, _>("retrying")?, small_cap);
        stats.running = count("running")?;
        stats.dead = Count::capped_at(row.try_get::<i64, _>("dead")?, small_cap);
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

async fn read_workers(tx: &mut Transaction<'static, Postgres>) -> anyhow::Result<Vec<WorkerInfo>> {
    let rows = sqlx::query(WORKERS_SQL).fetch_all(&mut **tx).await?;
    rows.into_iter()
        .map(|row| decode::worker_info(&row, "hostname"))
        .collect()
}
