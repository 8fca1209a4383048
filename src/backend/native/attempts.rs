//! One kind's failed attempts of a window, grouped by error signature as the dead letters
//! are. The jobs that failed in the window come off `jobs_failed_idx` (failed_at) newest
//! first, as the kinds view reads them, cut at the limit; each entry of a job's error
//! history stamped inside the window is one attempt.

use sqlx::PgPool;

use crate::backend::drill::{DeadLetterReport, FailedAttemptsQuery};
use crate::backend::native::dead_letters::MESSAGE_CHARS;
use crate::backend::pg::decode;

/// `$1` window in seconds, `$2` kind, `$3` limit, `$4` message length.
const ATTEMPTS_SQL: &str = r#"
WITH failed AS (
  SELECT j.id, j.queue, j.kind, j.errors
  FROM jobtop.jobs j
  WHERE j.failed_at IS NOT NULL
    AND j.failed_at >= now() - make_interval(secs => $1)
    AND j.kind = $2
  ORDER BY j.failed_at DESC
  LIMIT $3
), att AS (
  SELECT a.* FROM (
    SELECT failed.id, failed.queue, failed.kind,
      substr(coalesce(x.entry ->> 'error', x.entry ->> 'message', ''), 1, $4) AS message,
      CASE WHEN (x.entry ->> 'at') ~ '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d'
           THEN (x.entry ->> 'at')::timestamptz END AS seen
    FROM failed
    CROSS JOIN LATERAL jsonb_array_elements(
      CASE WHEN jsonb_typeof(failed.errors) = 'array' THEN failed.errors ELSE '[]'::jsonb END
    ) AS x(entry)
  ) a
  WHERE a.seen >= now() - make_interval(secs => $1)
  ORDER BY a.seen DESC
  LIMIT $3
)
SELECT now() AS db_now,
  substr(a.queue, 1, 200) AS queue, substr(a.kind, 1, 200) AS kind, a.message,
  min(a.seen) AS first_seen, max(a.seen) AS last_seen,
  array_agg(a.id ORDER BY a.seen DESC) AS ids,
  (SELECT count(*) FROM att) AS jobs,
  (SELECT min(seen) FROM att) AS oldest
FROM att a
GROUP BY a.queue, a.kind, a.message
"#;

pub async fn failed_attempts(
    pool: &PgPool,
    q: &FailedAttemptsQuery,
) -> anyhow::Result<DeadLetterReport> {
    let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
    let rows = sqlx::query(ATTEMPTS_SQL)
        .bind(q.window.duration().as_secs_f64())
        .bind(&q.kind)
        .bind(q.limit.max(1))
        .bind(MESSAGE_CHARS)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    decode::dead_letter_report(&rows, &q.as_dead_letters(), db_now)
}
