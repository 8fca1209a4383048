//! One job in full: every column, the payload and the error history, each cut by the
//! database at the detail limits so a 10 MB payload never crosses the wire whole.

use sqlx::{PgPool, Row};

use super::jobs::job_row;
use crate::backend::JobId;
use crate::backend::drill::{DetailLimits, JobDetail};
use crate::backend::pg::decode::{self, opt_text, text};

/// `$1` error length, `$2` id, `$3` payload length. The payload is turned into text once
/// (OFFSET 0 keeps the subquery from being folded into three conversions).
const JOB_SQL: &str = r#"
SELECT now() AS db_now,
  j.id, substr(j.queue, 1, 200) AS queue, substr(j.kind, 1, 200) AS kind,
  substr(j.tenant_id, 1, 200) AS tenant_id,
  CASE WHEN j.state IN ('queued', 'retrying') AND j.run_at <= now() THEN 'ready'
       WHEN j.state = 'queued' THEN 'scheduled' ELSE j.state::text END AS display_state,
  j.priority::int AS priority, j.attempts, j.max_attempts, j.run_at, j.created_at,
  j.started_at, j.finished_at, substr(j.locked_by, 1, 200) AS locked_by, j.heartbeat_at,
  (SELECT w.last_heartbeat_at FROM jobtop.workers w WHERE w.id = j.locked_by)
    AS worker_heartbeat_at,
  substr(j.last_error, 1, $1) AS last_error,
  coalesce(octet_length(j.last_error), 0)::bigint AS error_bytes,
  j.failed_at, substr(j.idempotency_key, 1, 500) AS idempotency_key,
  substr(p.t, 1, $3) AS payload, octet_length(p.t)::bigint AS payload_bytes,
  char_length(p.t) > $3 AS payload_truncated,
  CASE WHEN jsonb_typeof(j.errors) = 'array' THEN jsonb_array_length(j.errors) ELSE 0 END
    ::bigint AS error_count
FROM jobtop.jobs j
CROSS JOIN LATERAL (SELECT j.payload::text AS t OFFSET 0) p
WHERE j.id = $2
"#;

/// Newest attempts first. Entries are read as text and parsed in Rust, so an entry of an
/// unexpected shape shows as what it is instead of failing the query.
const ERRORS_SQL: &str = r#"
SELECT e.entry ->> 'at' AS at, e.entry ->> 'attempt' AS attempt,
  substr(e.entry ->> 'worker', 1, 200) AS worker,
  substr(coalesce(e.entry ->> 'error', e.entry::text), 1, $1) AS error,
  coalesce(octet_length(coalesce(e.entry ->> 'error', e.entry::text)), 0)::bigint
    AS error_bytes
FROM jobtop.jobs j
CROSS JOIN LATERAL jsonb_array_elements(
  CASE WHEN jsonb_typeof(j.errors) = 'array' THEN j.errors ELSE '[]'::jsonb END
) WITH ORDINALITY AS e(entry, ord)
WHERE j.id = $2
ORDER BY e.ord DESC
LIMIT $3
"#;

pub async fn job(
    pool: &PgPool,
    id: &JobId,
    limits: &DetailLimits,
) -> anyhow::Result<Option<JobDetail>> {
    // A text id (a uuid typed in a filter) names no job of the reference schema.
    let Some(id) = id.as_int() else {
        return Ok(None);
    };
    let (mut tx, _) = crate::backend::pg::read::begin(pool).await?;
    let Some(row) = sqlx::query(JOB_SQL)
        .bind(limits.error_chars)
        .bind(id)
        .bind(limits.payload_chars)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let error_rows = sqlx::query(ERRORS_SQL)
        .bind(limits.error_chars)
        .bind(id)
        .bind(limits.errors)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    let errors = error_rows
        .iter()
        .map(decode::attempt_error)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(JobDetail {
        db_now: row.try_get("db_now")?,
        job: job_row(&row)?,
        failed_at: row.try_get("failed_at")?,
        idempotency_key: opt_text(&row, "idempotency_key")?,
        payload: Some(text(&row, "payload")?),
        payload_bytes: row.try_get("payload_bytes")?,
        payload_truncated: row.try_get("payload_truncated")?,
        payload_form: Default::default(),
        errors,
        error_count: row.try_get("error_count")?,
    }))
}
