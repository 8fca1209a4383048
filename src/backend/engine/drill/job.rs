//! One job in full: every column the schema has, the payload and the error history, each
//! cut by the database at the detail limits (a 10 MB payload never crosses the wire whole;
//! its full size is reported).

use crate::backend::pg::sql::{Bind, Sql};
use sqlx::{PgPool, Row};

use crate::backend::JobId;
use crate::backend::drill::{DetailLimits, JobDetail, PayloadForm};
use crate::backend::engine::drill::{DrillTable, job_row};
use crate::backend::pg::decode::{self, opt_text};

/// The job's row. The payload is turned into text once (OFFSET 0 keeps the subquery from
/// being folded into three conversions); a binary one is cut as bytes and decoded here.
fn job_sql(t: &DrillTable, id: &JobId, limits: &DetailLimits) -> Sql {
    let mut sql = Sql::default();
    let error_chars = sql.bind(Bind::Int4(limits.error_chars));
    let id = sql.bind(Bind::Text(Some(id.to_string())));
    let payload_chars = sql.bind(Bind::Int4(limits.payload_chars));
    let payload = match (&t.payload, t.payload_binary) {
        (Some(p), true) => format!("({p})::bytea"),
        (Some(p), false) => format!("({p})::text"),
        (None, _) => "NULL::text".to_string(),
    };
    let (size, cut) = if t.payload_binary {
        ("octet_length(p.t)", "octet_length(p.t)")
    } else {
        ("octet_length(p.t)", "char_length(p.t)")
    };
    let error_count = t
        .history
        .as_ref()
        .map_or("0::bigint".to_string(), |h| h.count());
    sql.push(&format!(
        "SELECT now() AS db_now, {columns}, \
           substr(p.t, 1, {payload_chars}) AS payload, \
           coalesce({size}, 0)::bigint AS payload_bytes, \
           coalesce({cut} > {payload_chars}, false) AS payload_truncated, \
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
    let truncated: bool = row.try_get("payload_truncated")?;
    let payload = match (&t.payload, t.payload_binary) {
        (None, _) => None,
        (Some(_), true) => Some(match row.try_get::<Option<Vec<u8>>, _>("payload")? {
            Some(bytes) => decode::payload(&bytes, truncated),
            None => ("null".into(), PayloadForm::Json),
        }),
        (Some(_), false) => Some((
            opt_text(&row, "payload")?.unwrap_or_else(|| "null".into()),
            PayloadForm::Json,
        )),
    };
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
        payload: payload.as_ref().map(|(text, _)| text.clone()),
        payload_bytes: row.try_get("payload_bytes")?,
        payload_truncated: truncated,
        payload_form: payload.map_or(PayloadForm::Json, |(_, form)| form),
        errors,
        error_count: row.try_get("error_count")?,
    }))
}
