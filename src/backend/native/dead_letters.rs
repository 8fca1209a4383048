//! Dead letters of a window, grouped by error signature. The database collapses jobs whose
//! queue, kind and (cut) message are identical; the signature grouping (which must be the
//! same for every backend) happens in `signature`.

use sqlx::PgPool;

use crate::backend::drill::{DeadLetterQuery, DeadLetterReport};
use crate::backend::pg::decode::{self};

/// Per queue, the newest dead jobs of the window straight off `jobs_dead_idx`
/// (queue, finished_at) WHERE state = 'dead'; the newest `$3` of them overall are grouped.
/// `$1` window in seconds, `$2` kind or NULL, `$3` limit, `$4` message length, `$5` queue or
/// NULL.
const DEAD_SQL: &str = r#"
WITH dead AS (
  SELECT d.*
  FROM jobtop.queues q
  CROSS JOIN LATERAL (
    SELECT j.id, j.queue, j.kind, j.finished_at,
           substr(coalesce(j.last_error, ''), 1, $4) AS message
    FROM jobtop.jobs j
    WHERE j.state = 'dead' AND j.queue = q.name
      AND j.finished_at >= now() - make_interval(secs => $1)
      AND ($2::text IS NULL OR j.kind = $2)
    ORDER BY j.finished_at DESC
    LIMIT $3
  ) d
  WHERE ($5::text IS NULL OR q.name = $5)
  ORDER BY d.finished_at DESC
  LIMIT $3
)
SELECT now() AS db_now,
  substr(d.queue, 1, 200) AS queue, substr(d.kind, 1, 200) AS kind, d.message,
  min(d.finished_at) AS first_seen, max(d.finished_at) AS last_seen,
  array_agg(d.id) AS ids,
  (SELECT count(*) FROM dead) AS jobs,
  (SELECT min(finished_at) FROM dead) AS oldest
FROM dead d
GROUP BY d.queue, d.kind, d.message
"#;

/// Characters of a message that are read: enough for its first line (the failed attempts'
/// read takes as many).
pub(super) const MESSAGE_CHARS: i32 = 300;

pub async fn dead_letters(pool: &PgPool, q: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
    let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
    let rows = sqlx::query(DEAD_SQL)
        .bind(q.window.duration().as_secs_f64())
        .bind(q.kind.as_deref())
        .bind(q.limit.max(1))
        .bind(MESSAGE_CHARS)
        .bind(q.queue.as_deref())
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    decode::dead_letter_report(&rows, q, db_now)
}
