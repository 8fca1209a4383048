//! `jobtop profile new`: a first profile for a home-grown table, drafted from its columns
//! (the catalog) and the status values it holds (one bounded read). Every line jobtop had to
//! guess says `# guess: check`, so the user knows what to read before trusting it.

use std::fmt::Write;

use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::ident;

/// Status values read at most: a queue table uses a handful.
const STATUS_VALUES: i64 = 50;

const GUESS: &str = "# guess: check";

/// Profile keys and the column names that usually hold them, most likely first.
const COLUMN_NAMES: [(&str, &[&str]); 16] = [
    ("id", &["id", "job_id", "uuid"]),
    ("status", &["status", "state", "job_status"]),
    ("queue", &["queue", "queue_name", "channel", "topic"]),
    (
        "kind",
        &[
            "kind",
            "type",
            "job_type",
            "task",
            "task_name",
            "name",
            "job_class",
        ],
    ),
    (
        "run_at",
        &[
            "run_at",
            "scheduled_at",
            "available_at",
            "scheduled_for",
            "run_after",
            "not_before",
            "execute_at",
            "due_at",
        ],
    ),
    (
        "created_at",
        &["created_at", "inserted_at", "enqueued_at", "created"],
    ),
    (
        "started_at",
        &[
            "started_at",
            "attempted_at",
            "picked_at",
            "locked_at",
            "claimed_at",
        ],
    ),
    (
        "finished_at",
        &[
            "finished_at",
            "completed_at",
            "done_at",
            "ended_at",
            "processed_at",
        ],
    ),
    (
        "attempts",
        &[
            "attempts",
            "attempt",
            "attempt_count",
            "retries",
            "retry_count",
            "tries",
        ],
    ),
    (
        "max_attempts",
        &["max_attempts", "max_retries", "max_tries"],
    ),
    (
        "worker",
        &[
            "worker",
            "worker_id",
            "locked_by",
            "claimed_by",
            "picked_by",
        ],
    ),
    (
        "heartbeat_at",
        &[
            "heartbeat_at",
            "heartbeat",
            "last_heartbeat",
            "last_heartbeat_at",
            "locked_at",
        ],
    ),
    ("tenant", &["tenant", "tenant_id", "account_id"]),
    (
        "error",
        &["last_error", "error", "error_message", "failure"],
    ),
    ("errors", &["errors", "error_history"]),
    (
        "payload",
        &["payload", "args", "arguments", "data", "params", "body"],
    ),
];

/// Words in status values and the state each suggests.
const STATUS_WORDS: [(&str, &[&str]); 7] = [
    (
        "running",
        &[
            "running",
            "processing",
            "in_progress",
            "active",
            "locked",
            "started",
            "working",
            "picked",
            "claimed",
        ],
    ),
    (
        "succeeded",
        &[
            "done",
            "completed",
            "complete",
            "succeeded",
            "success",
            "finished",
            "processed",
            "ok",
        ],
    ),
    (
        "dead",
        &["failed", "error", "errored", "dead", "discarded", "fatal"],
    ),
    (
        "retrying",
        &["retry", "retrying", "retryable", "failed_retry", "backoff"],
    ),
    (
        "cancelled",
        &["cancelled", "canceled", "aborted", "skipped"],
    ),
    ("scheduled", &["scheduled", "delayed", "deferred"]),
    (
        "queued",
        &[
            "pending",
            "queued",
            "new",
            "waiting",
            "available",
            "ready",
            "enqueued",
            "todo",
        ],
    ),
];

/// Heartbeat columns of a workers table.
const WORKER_HEARTBEATS: [&str; 5] = [
    "last_seen",
    "last_seen_at",
    "heartbeat",
    "heartbeat_at",
    "last_heartbeat_at",
];

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The state a status value suggests, if any.
pub fn guess_state(value: &str) -> Option<&'static str> {
    let v = value.to_lowercase().replace(['-', ' '], "_");
    STATUS_WORDS
        .iter()
        .find(|(_, words)| words.contains(&v.as_str()))
        .map(|(state, _)| *state)
}

/// A table that keeps workers' heartbeats: its name says worker and it has an id and a
/// heartbeat-like column.
async fn workers_table(
    pool: &PgPool,
    schema: &str,
) -> anyhow::Result<Option<(TableInfo, String, String)>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname LIKE '%worker%' \
         ORDER BY 1 LIMIT 5",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    for name in names {
        let Some(info) = TableInfo::load(pool, schema, &name).await? else {
            continue;
        };
        let id = ["id", "worker_id", "name"]
            .into_iter()
            .find(|c| info.has(c));
        let hb = WORKER_HEARTBEATS.into_iter().find(|c| info.has(c));
        if let (Some(id), Some(hb)) = (id, hb) {
            return Ok(Some((info, id.to_string(), hb.to_string())));
        }
    }
    Ok(None)
}

/// Drafts a profile for `schema.table` (schema: the first on the search path that has it).
pub async fn draft(pool: &PgPool, schema: Option<&str>, table: &str) -> anyhow::Result<String> {
    let schema = match schema {
        Some(s) => s.to_string(),
        None => sqlx::query_scalar::<_, String>(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass(format('%I', $1::text))",
        )
        .bind(table)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("table {table:?} not found on the search path (give --schema)")
        })?,
    };
    let Some(info) = TableInfo::load(pool, &schema, table).await? else {
        anyhow::bail!("table {schema}.{table} not found");
    };

    // Each column serves one key, the first that claims it.
    let mut taken: Vec<&str> = Vec::new();
    let mut columns: Vec<(&str, String)> = Vec::new();
    for (key, names) in COLUMN_NAMES {
        if key == "heartbeat_at" && !columns.iter().any(|(k, _)| *k == "worker") {
            continue;
        }
        if let Some(found) = names.iter().find(|n| info.has(n) && !taken.contains(n)) {
            taken.push(found);
            columns.push((key, found.to_string()));
        }
    }
    let column = |key: &str| {
        columns
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| c.clone())
    };
    let (Some(_), Some(status)) = (column("id"), column("status")) else {
        let mut names: Vec<&String> = info.columns.keys().collect();
        names.sort();
        anyhow::bail!(
            "{schema}.{table}: no id or status column recognised among {}; a profile needs both",
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };

    // The status values present: a bounded read, bounded in time by the session too.
    let values: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT DISTINCT {s}::text FROM {t} WHERE {s} IS NOT NULL ORDER BY 1 LIMIT {STATUS_VALUES}",
        s = ident(&status),
        t = info.qualified(),
    )))
    .fetch_all(pool)
    .await;

    let workers = match column("worker") {
        Some(_) => workers_table(pool, &schema).await?,
        None => None,
    };
    // With a heartbeat column of its own, the workers table is offered commented out.
    let workers_used = workers.is_some() && column("heartbeat_at").is_none();

    let mut out = String::new();
    let w = &mut out;
    writeln!(
        w,
        "# Drafted by `jobtop profile new` from {schema}.{table}'s columns and status values."
    )?;
    writeln!(
        w,
        "# Lines marked `{GUESS}` are jobtop's guesses: read each before trusting the monitor."
    )?;
    writeln!(
        w,
        "# States: queued (ready once run_at has come, else scheduled, or retrying once attempted),"
    )?;
    writeln!(
        w,
        "# retrying, ready, scheduled, running, succeeded, dead, cancelled."
    )?;
    writeln!(w, "name = {}", quoted(table))?;
    writeln!(w, "schema = {}", quoted(&schema))?;
    writeln!(w, "table = {}", quoted(table))?;
    writeln!(w)?;
    writeln!(w, "[columns]")?;
    for (key, col) in &columns {
        let sure = matches!(*key, "id" | "status") && (col == key);
        let ty = info.columns.get(col).map(String::as_str).unwrap_or("?");
        let line = format!("{key} = {}", quoted(col));
        if sure {
            writeln!(w, "{line:<40}# {ty}")?;
        } else {
            writeln!(w, "{line:<40}{GUESS} ({ty})")?;
        }
    }
    let mut unused: Vec<&String> = info
        .columns
        .keys()
        .filter(|c| !taken.contains(&c.as_str()))
        .collect();
    unused.sort();
    if !unused.is_empty() {
        let list: Vec<&str> = unused.iter().map(|c| c.as_str()).collect();
        writeln!(w, "# not used: {}", list.join(", "))?;
    }

    let run_at = column("run_at");
    if let Some(r) = run_at.as_ref().filter(|r| info.nullable(r)) {
        writeln!(w)?;
        writeln!(w, "[nulls]")?;
        writeln!(
            w,
            "{:<40}{GUESS}: {r} may be NULL; \"now\" counts such a waiting job as due",
            "run_at = \"now\""
        )?;
    }

    if let Some((wt, id, hb)) = &workers {
        let c = if workers_used { "" } else { "# " };
        writeln!(w)?;
        if !workers_used {
            writeln!(
                w,
                "# Or the heartbeats of a workers table (then drop `heartbeat_at` above):"
            )?;
        }
        writeln!(
            w,
            "{c}[workers]                               {GUESS}: the job's worker is this table's {id}"
        )?;
        writeln!(w, "{c}table = {}", quoted(&wt.name))?;
        writeln!(w, "{c}id = {}", quoted(id))?;
        writeln!(w, "{c}heartbeat = {}", quoted(hb))?;
    }

    writeln!(w)?;
    writeln!(w, "[statuses]")?;
    let mut mapped: Vec<(String, &str)> = Vec::new();
    match &values {
        Ok(values) => {
            for v in values {
                let key = quoted(v);
                match guess_state(v) {
                    Some(state) => {
                        writeln!(w, "{:<40}{GUESS}", format!("{key} = {}", quoted(state)))?;
                        mapped.push((v.clone(), state));
                    }
                    None => writeln!(
                        w,
                        "# {key} = \"?\"   # unknown: one of queued, retrying, ready, scheduled, \
                         running, succeeded, dead, cancelled"
                    )?,
                }
            }
            if values.len() as i64 == STATUS_VALUES {
                writeln!(w, "# (the first {STATUS_VALUES} values only)")?;
            }
            if values.is_empty() {
                writeln!(w, "# the table is empty: add its status values by hand")?;
            }
        }
        Err(err) => writeln!(
            w,
            "# could not read the status values ({err}): add them by hand"
        )?,
    }
    // Values a table of this kind usually has, not seen in the rows yet.
    for state in ["queued", "running"] {
        if !mapped.iter().any(|(_, s)| *s == state) {
            let example = if state == "queued" {
                "pending"
            } else {
                "running"
            };
            writeln!(
                w,
                "# {example} = \"{state}\"   # no value seen for {state}: a profile needs one"
            )?;
        }
    }

    let first = |states: &[&str]| {
        mapped
            .iter()
            .find(|(_, s)| states.contains(s))
            .map(|(v, _)| v.clone())
    };
    let waiting = first(&["queued", "retrying", "ready"]);
    writeln!(w)?;
    writeln!(
        w,
        "[actions]                               # leave one out and jobtop does not offer it"
    )?;
    match &waiting {
        Some(v) => {
            writeln!(
                w,
                "{:<40}{GUESS}: dead/cancelled/retrying -> this",
                format!("retry = {}", quoted(v))
            )?;
            let alive =
                column("heartbeat_at").is_some() || workers_used || column("started_at").is_some();
            if alive {
                writeln!(
                    w,
                    "{:<40}{GUESS}: stale running -> this",
                    format!("reset_stuck = {}", quoted(v))
                )?;
            }
        }
        None => writeln!(w, "# retry = \"pending\"")?,
    }
    if let Some(v) = first(&["cancelled"]) {
        writeln!(w, "{:<40}{GUESS}", format!("cancel = {}", quoted(&v)))?;
    }
    if let Some(v) = first(&["dead"]) {
        writeln!(w, "{:<40}{GUESS}", format!("discard = {}", quoted(&v)))?;
    }
    writeln!(
        w,
        "# delete = true                         # dead and cancelled rows may be deleted"
    )?;
    // Purge reads when a job finished: offered (commented) only where a column says it.
    if column("finished_at").is_some() {
        writeln!(
            w,
            "# purge = true                          # finished rows older than a cutoff may be deleted"
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::guess_state;

    #[test]
    fn status_words_map_to_states() {
        assert_eq!(guess_state("Pending"), Some("queued"));
        assert_eq!(guess_state("in-progress"), Some("running"));
        assert_eq!(guess_state("completed"), Some("succeeded"));
        assert_eq!(guess_state("failed"), Some("dead"));
        assert_eq!(guess_state("canceled"), Some("cancelled"));
        assert_eq!(guess_state("zorblax"), None);
    }
}
