//! Per job kind over a recent window: what succeeded, what failed, how long it ran and
//! waited. Both reads walk a time index backwards and stop after `limit` jobs, so a busy
//! day costs a bounded read; when a limit is reached the report says since when its
//! figures hold.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::backend::drill::{KindsQuery, KindsReport, sort_kinds};
use crate::backend::pg::decode::{self};

/// `$1` window in seconds, `$2` limit. Finished jobs come off `jobs_finished_idx`, failed
/// ones off `jobs_failed_idx`; a job's failed attempts of the window are the entries of
/// its error history stamped inside it (its latest failure is then inside it too).
const KINDS_SQL: &str = r#"
WITH fin AS (
  SELECT j.kind, j.state, j.run_at, j.started_at, j.finished_at
  FROM jobtop.jobs j
  WHERE j.finished_at IS NOT NULL
    AND j.finished_at >= now() - make_interval(secs => $1)
  ORDER BY j.finished_at DESC
  LIMIT $2
), failed AS (
  SELECT j.kind, j.errors, j.failed_at
  FROM jobtop.jobs j
  WHERE j.failed_at IS NOT NULL
    AND j.failed_at >= now() - make_interval(secs => $1)
  ORDER BY j.failed_at DESC
  LIMIT $2
), f AS (
  SELECT fin.kind,
    count(*) FILTER (WHERE fin.state = 'succeeded') AS succeeded,
    count(*) FILTER (WHERE fin.state = 'dead') AS dead,
    percentile_cont(0.5) WITHIN GROUP (
      ORDER BY extract(epoch FROM fin.finished_at - fin.started_at))
      FILTER (WHERE fin.state = 'succeeded' AND fin.started_at IS NOT NULL) AS run_p50,
    percentile_cont(0.95) WITHIN GROUP (
      ORDER BY extract(epoch FROM fin.finished_at - fin.started_at))
      FILTER (WHERE fin.state = 'succeeded' AND fin.started_at IS NOT NULL) AS run_p95,
    percentile_cont(0.5) WITHIN GROUP (
      ORDER BY extract(epoch FROM fin.started_at - fin.run_at))
      FILTER (WHERE fin.state IN ('succeeded', 'dead') AND fin.started_at IS NOT NULL)
      AS wait_p50
  FROM fin
  GROUP BY fin.kind
), e AS (
  SELECT failed.kind, count(*) AS failed_attempts
  FROM failed
  CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(failed.errors) = 'array' THEN failed.errors ELSE '[]'::jsonb END
  ) AS x(entry)
  WHERE CASE WHEN (x.entry ->> 'at') ~ '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d'
             THEN (x.entry ->> 'at')::timestamptz END
        >= now() - make_interval(secs => $1)
  GROUP BY failed.kind
)
SELECT now() AS db_now, substr(coalesce(f.kind, e.kind), 1, 200) AS kind,
  coalesce(f.succeeded, 0) AS succeeded, coalesce(f.dead, 0) AS dead,
  coalesce(e.failed_attempts, 0) AS failed_attempts,
  f.run_p50, f.run_p95, f.wait_p50,
  (SELECT CASE WHEN count(*) >= $2 THEN min(fin.finished_at) END FROM fin) AS fin_since,
  (SELECT CASE WHEN count(*) >= $2 THEN min(failed.failed_at) END FROM failed)
    AS failed_since
FROM f FULL JOIN e ON e.kind = f.kind
"#;

pub async fn kinds(pool: &PgPool, q: &KindsQuery) -> anyhow::Result<KindsReport> {
    let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
    let rows = sqlx::query(KINDS_SQL)
        .bind(q.window.duration().as_secs_f64())
        .bind(q.limit.max(1))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut covered_since: Option<DateTime<Utc>> = None;
    let mut kinds = Vec::with_capacity(rows.len());
    for row in &rows {
        for column in ["fin_since", "failed_since"] {
            if let Some(t) = row.try_get::<Option<DateTime<Utc>>, _>(column)? {
                covered_since = Some(covered_since.map_or(t, |c| c.max(t)));
            }
        }
        kinds.push(decode::kind_stats(row)?);
    }
    sort_kinds(&mut kinds);
    Ok(KindsReport {
        db_now,
        window: q.window,
        kinds,
        covered_since,
        counted_by_hour: false,
    })
}
