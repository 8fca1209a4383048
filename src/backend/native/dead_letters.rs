//! Dead letters of a window, grouped by error signature. The database collapses jobs whose
//! queue, kind and (cut) message are identical; the signature grouping (which must be the
//! same for every backend) happens in `signature`.

use sqlx::{PgPool, Row};

use crate::backend::JobId;
use crate::backend::drill::{DeadLetterQuery, DeadLetterReport};
use crate::backend::pg::decode::text;
use crate::backend::signature::{DeadJobs, group_by_signature};

/// Per queue, the newest dead jobs of the window straight off `jobs_dead_idx`
/// (queue, finished_at) WHERE state = 'dead'; the newest `$3` of them overall are grouped.
/// `$1` window in seconds, `$2` kind or NULL, `$3` limit, `$4` message length.
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

/// Characters of a message that are read: enough for its first line.
const MESSAGE_CHARS: i32 = 300;

pub async fn dead_letters(pool: &PgPool, q: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
    let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
    let rows = sqlx::query(DEAD_SQL)
        .bind(q.window.duration().as_secs_f64())
        .bind(q.kind.as_deref())
        .bind(q.limit.max(1))
        .bind(MESSAGE_CHARS)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut jobs = 0;
    let mut oldest = None;
    let mut read = Vec::with_capacity(rows.len());
    for row in &rows {
        jobs = row.try_get("jobs")?;
        oldest = row.try_get("oldest")?;
        read.push(DeadJobs {
            queue: text(row, "queue")?,
            kind: text(row, "kind")?,
            message: text(row, "message")?,
            first_seen: row.try_get("first_seen")?,
            last_seen: row.try_get("last_seen")?,
            ids: row
                .try_get::<Vec<i64>, _>("ids")?
                .into_iter()
                .map(JobId::Int)
                .collect(),
        });
    }
    let capped = jobs >= q.limit.max(1);
    Ok(DeadLetterReport {
        db_now,
        window: q.window,
        groups: group_by_signature(read),
        jobs,
        capped,
        covered_since: if capped { oldest } else { None },
    })
}
