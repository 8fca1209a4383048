//! Rows into the model, one decoder per shape whichever schema the row came from.
//!
//! Text columns may not be valid UTF-8: a `SQL_ASCII` database stores whatever bytes it was
//! given, and one bad row must not fail a whole page. Invalid bytes become U+FFFD instead
//! of an error.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Row, TypeInfo, ValueRef};

use crate::backend::drill::{
    AttemptError, DeadLetterQuery, DeadLetterReport, JobRow, KindStats, PayloadForm,
};
use crate::backend::model::{JobId, JobState, WorkerInfo};
use crate::backend::signature::{DeadJobs, group_by_signature};

/// A binary payload (cut at `truncated`) as something to read: its text where it is UTF-8
/// without control characters (JSON when it parses, or is JSON cut short), else a hex dump.
pub fn payload(bytes: &[u8], truncated: bool) -> (String, PayloadForm) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => Some(t),
        // The cut may fall inside a character.
        Err(e) if truncated && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let readable = text.filter(|t| {
        !t.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    });
    if let Some(t) = readable {
        let json = serde_json::from_str::<serde_json::Value>(t).is_ok()
            || (truncated && t.trim_start().starts_with(['{', '[']));
        let form = if json {
            PayloadForm::Json
        } else {
            PayloadForm::Text
        };
        return (t.to_string(), form);
    }
    (hex_dump(bytes), PayloadForm::Hex)
}

/// Offset, 16 bytes in hex, and the printable ASCII among them.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (n, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:08x}  {:<47}  |{ascii}|\n",
            n * 16,
            hex.join(" ")
        ));
    }
    out
}

pub fn opt_text(row: &PgRow, column: &str) -> anyhow::Result<Option<String>> {
    let value = row.try_get_raw(column)?;
    if value.is_null() {
        return Ok(None);
    }
    let bytes = value
        .as_bytes()
        .map_err(|err| anyhow::anyhow!("column {column}: {err}"))?;
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

pub fn text(row: &PgRow, column: &str) -> anyhow::Result<String> {
    Ok(opt_text(row, column)?.unwrap_or_default())
}

/// A job id: a `bigint` column as a number, any other as text (a uuid, or a number read as
/// text, which `JobId::from_db` turns back into one).
pub fn job_id(row: &PgRow, column: &str) -> anyhow::Result<JobId> {
    if is_type(row, column, "INT8")? {
        Ok(JobId::Int(row.try_get(column)?))
    } else {
        Ok(JobId::from_db(text(row, column)?))
    }
}

/// Whether the column's type is `type_name` (as PostgreSQL names it): asked of the column,
/// so that a row of another type is not first decoded into an error.
fn is_type(row: &PgRow, column: &str, type_name: &str) -> anyhow::Result<bool> {
    Ok(row.try_get_raw(column)?.type_info().name() == type_name)
}

/// A job list row: the columns every list statement selects (`id`, `queue`, `kind`,
/// `tenant_id`, `priority`, `attempts`, `max_attempts`, its times, `locked_by`, heartbeats,
/// `last_error` cut in SQL and its full `error_bytes`), in the display state `state`.
pub fn job_row(row: &PgRow, state: JobState) -> anyhow::Result<JobRow> {
    Ok(JobRow {
        id: job_id(row, "id")?,
        queue: text(row, "queue")?,
        kind: text(row, "kind")?,
        tenant: opt_text(row, "tenant_id")?,
        state,
        priority: row.try_get("priority")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: row.try_get("run_at")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        worker: opt_text(row, "locked_by")?,
        heartbeat_at: row.try_get("heartbeat_at")?,
        worker_heartbeat_at: row.try_get("worker_heartbeat_at")?,
        last_error: opt_text(row, "last_error")?,
        error_bytes: row.try_get("error_bytes")?,
    })
}

/// One entry of a job's error history; its time and attempt are whatever text the schema
/// kept, read leniently.
pub fn attempt_error(row: &PgRow) -> anyhow::Result<AttemptError> {
    Ok(AttemptError {
        at: opt_text(row, "at")?.as_deref().and_then(parse_time),
        attempt: opt_text(row, "attempt")?.and_then(|a| a.trim().parse().ok()),
        worker: opt_text(row, "worker")?,
        error: text(row, "error")?,
        error_bytes: row.try_get("error_bytes")?,
    })
}

/// A kind's row of the kinds view.
pub fn kind_stats(row: &PgRow) -> anyhow::Result<KindStats> {
    Ok(KindStats {
        kind: text(row, "kind")?,
        succeeded: row.try_get("succeeded")?,
        failed_attempts: row.try_get("failed_attempts")?,
        dead: row.try_get("dead")?,
        run_p50: row.try_get("run_p50")?,
        run_p95: row.try_get("run_p95")?,
        wait_p50: row.try_get("wait_p50")?,
    })
}

/// A worker, its host in `host_column`.
pub fn worker_info(row: &PgRow, host_column: &str) -> anyhow::Result<WorkerInfo> {
    Ok(WorkerInfo {
        id: row.try_get("id")?,
        host: row.try_get(host_column)?,
        pid: row.try_get("pid")?,
        queues: row.try_get("queues")?,
        started_at: row.try_get("started_at")?,
        last_heartbeat_at: row.try_get("last_heartbeat_at")?,
        running_jobs: row.try_get("running_jobs")?,
    })
}

/// Dead jobs sharing a queue, kind and message; their ids a `bigint[]` or a `text[]`.
fn dead_jobs(row: &PgRow) -> anyhow::Result<DeadJobs> {
    let ids = if is_type(row, "ids", "INT8[]")? {
        let ids: Vec<i64> = row.try_get("ids")?;
        ids.into_iter().map(JobId::Int).collect()
    } else {
        let ids: Vec<String> = row.try_get("ids")?;
        ids.into_iter().map(JobId::from_db).collect()
    };
    Ok(DeadJobs {
        queue: text(row, "queue")?,
        kind: text(row, "kind")?,
        message: text(row, "message")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        ids,
    })
}

/// The dead-letters view from its statement's rows (each with the window's `jobs` and
/// `oldest`): grouped by signature; when the read stopped at the query's limit, the report
/// says how far back it got.
pub fn dead_letter_report(
    rows: &[PgRow],
    q: &DeadLetterQuery,
    db_now: DateTime<Utc>,
) -> anyhow::Result<DeadLetterReport> {
    let mut jobs = 0;
    let mut oldest = None;
    let mut read = Vec::with_capacity(rows.len());
    for row in rows {
        jobs = row.try_get("jobs")?;
        oldest = row.try_get("oldest")?;
        read.push(dead_jobs(row)?);
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

/// Timestamps as `to_json` writes them (`2026-11-22T12:00:00.123456+00:00`), or with a
/// space instead of the `T`; one without a zone (as some queues write UTC) is UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_payloads_decode_to_json_text_or_hex() {
        use crate::backend::drill::PayloadForm;
        assert_eq!(
            payload(b"{\"a\": 1}", false),
            ("{\"a\": 1}".into(), PayloadForm::Json)
        );
        assert_eq!(
            payload(b"hello", false),
            ("hello".into(), PayloadForm::Text)
        );
        // Cut inside a character (é is two bytes) and inside the JSON: still JSON text.
        let cut = &"{\"name\": \"é\"}".as_bytes()[..10];
        assert_eq!(
            payload(cut, true),
            ("{\"name\": \"".into(), PayloadForm::Json)
        );
        let (dump, form) = payload(&[0, 1, b'A'], false);
        assert_eq!(form, PayloadForm::Hex);
        assert_eq!(dump, format!("00000000  {:<47}  |..A|\n", "00 01 41"));
        assert_eq!(payload(&[0xff, 0xfe], false).1, PayloadForm::Hex);
    }

    #[test]
    fn parses_the_timestamps_postgres_writes() {
        let t = parse_time("2026-11-22T12:00:00.123456+00:00").unwrap();
        assert_eq!(t.timestamp(), 1_795_348_800);
        assert!(parse_time("2026-11-22 13:00:00+01").is_some());
        let naive = parse_time("2026-11-22T12:00:00.123456").unwrap();
        assert_eq!(naive.timestamp(), 1_795_348_800);
        assert!(parse_time("yesterday").is_none());
    }
}
