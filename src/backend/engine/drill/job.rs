//! One job in full: every column the schema has, the payload and the error history, each
//! cut by the database at the detail limits (a 10 MB payload never crosses the wire whole;
//! its full size is reported).

use crate::backend::pg::sql::{Bind, Sql};
use sqlx::{PgPool, Row};

use crate::backend::JobId;
use crate::backend::drill::{DetailLimits, JobDetail};
use crate::backend::engine::drill::{DrillTable, job_row};
use crate::backend::pg::decode::{self, opt_text};

/// The job's row. The payload is turned into text once (OFFSET 0 keeps the subquery from
/// being folded into three conversions).
fn job_sql(t: &DrillTable, id: &JobId, limits: &DetailLimits) -> Sql {
    let mut sql = Sql::default();
    let error_chars = sql.bind(Bind::Int4(limits.error_chars));
    let id = sql.bind(Bind::Text(Some(id.to_string())));
    let payload_chars = sql.bind(Bind::Int4(limits.payload_chars));
    let payload = t
        .payload
        .as_ref()
        .map_or("NULL::text".to_string(), |p| format!("({p})::text"));
    let error_count = t
        .history
        .as_ref()
        .map_or("0::bigint".to_string(), |h| h.count());
    sql.push(&format!(
        "SELECT now() AS db_now, {columns}, \
           substr(p.t, 1, {payload_chars}) AS payload, \
           coalesce(octet_length(p.t), 0)::bigint AS payload_bytes, \
           coalesce(char_length(p.t) > {payload_chars}, false) AS payload_truncated, \
           {error_count} AS error_count \
         FROM {from} {last_error} \
         CROSS JOIN LATERAL (SELECT {payload} AS t OFFSET 0) p \
         WHERE {id_col} = {id_cast}",
        columns = t.row_columns(None, &error_chars, false),
        from = t.jobs.from,
        last_error = t.last_error_join(),
        id_col = t.jobs.id,
        id_cast = t.id_cast(&id),
    ));
    sql
}

/// The newest attempts' errors first. Entries are read as text and parsed in Rust, so an
/// entry of an unexpected shape shows as what it is instead of failing the query.
fn errors_sql(t: &DrillTable, id: &JobId, limits: &DetailLimits) -> Option<Sql> {
    let h = t.history.as_ref()?;
    let mut sql = Sql::default();
    let error_chars = sql.bind(Bind::Int4(limits.error_chars));
    let id = sql.bind(Bind::Text(Some(id.to_string())));
    let entries = sql.bind(Bind::Int4(limits.errors));
    let worker = h.worker.as_deref().unwrap_or("NULL");
    sql.push(&format!(
        "SELECT h.at, h.attempt, substr(h.worker, 1, 200) AS worker, \
           substr(h.err, 1, {error_chars}) AS error, \
           coalesce(octet_length(h.err), 0)::bigint AS error_bytes \
         FROM {from} CROSS JOIN LATERAL ( \
           SELECT ({at})::text AS at, ({attempt})::text AS attempt, ({worker})::text AS worker, \
             coalesce(({error})::text, e.entry::text) AS err, e.ord \
           FROM {elements}) h \
         WHERE {id_col} = {id_cast} \
         ORDER BY h.ord DESC LIMIT {entries}",
        from = t.jobs.from,
        at = h.at,
        attempt = h.attempt,
        error = h.error,
        elements = h.elements(),
        id_col = t.jobs.id,
        id_cast = t.id_cast(&id),
    ));
    Some(sql)
}

pub async fn job(
    pool: &PgPool,
    t: &DrillTable,
    id: &JobId,
    limits: &DetailLimits,
) -> anyhow::Result<Option<JobDetail>> {
    if !t.accepts(id) {
        return Ok(None);
    }
    let (mut tx, _) = crate::backend::engine::drill::begin(pool).await?;
    let sql = job_sql(t, id, limits);
    let Some(row) = sql.query().fetch_optional(&mut *tx).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let error_rows = match errors_sql(t, id, limits) {
        Some(sql) => sql.query().fetch_all(&mut *tx).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let Some(job) = job_row(&row)? else {
        // A status value the profile does not map: not a job the monitor can show.
        return Ok(None);
    };
    let errors = error_rows
        .iter()
        .map(decode::attempt_error)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(JobDetail {
        db_now: row.try_get("db_now")?,
        job,
        failed_at: None,
        idempotency_key: None,
        payload: match t.payload {
            Some(_) => Some(opt_text(&row, "payload")?.unwrap_or_else(|| "null".into())),
            None => None,
        },
        payload_bytes: row.try_get("payload_bytes")?,
        payload_truncated: row.try_get("payload_truncated")?,
        errors,
        error_count: row.try_get("error_count")?,
    }))
}
