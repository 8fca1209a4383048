//! Job lists: keyset pages (never OFFSET) along the partial indexes of the reference schema.
//!
//! Each scope is one or two index ranges whose WHERE repeats the index predicate literally
//! (the planner uses a partial index only when it can prove the predicate); a page is the
//! next `limit` rows after the cursor in (sort key, id) order. The ready bucket is two
//! ranges (queued, retrying) merged by a UNION ALL of two LIMITed scans, because an IN list
//! over the index's second column would otherwise mean sorting the whole backlog.
//!
//! The SQL is assembled from the fixed fragments below only; every user value (queue,
//! worker, filter terms, cursor) is a bind parameter.

use std::time::Duration;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::backend::drill::{
    Cursor, JobPage, JobQuery, JobRow, JobScope, LIST_ERROR_CHARS, ListFilter, Order,
    SCOPE_COUNT_CAP, SortKey,
};
use crate::backend::engine::drill::jobs::payload_condition;
use crate::backend::pg::decode::{self, text};
use crate::backend::pg::sql::{Bind, Sql};
use crate::backend::pile_estimates::planned_rows;
use crate::backend::{Count, JobId, JobState};

/// What a list row reads. Text that may be huge is cut here, in the database.
const COLUMNS: &str = "j.id, substr(j.queue, 1, 200) AS queue, substr(j.kind, 1, 200) AS kind, \
  substr(j.tenant_id, 1, 200) AS tenant_id, \
  CASE WHEN j.state IN ('queued', 'retrying') AND j.run_at <= now() THEN 'ready' \
       WHEN j.state = 'queued' THEN 'scheduled' ELSE j.state::text END AS display_state, \
  j.priority::int AS priority, j.attempts, j.max_attempts, j.run_at, j.created_at, \
  j.started_at, j.finished_at, substr(j.locked_by, 1, 200) AS locked_by, j.heartbeat_at, \
  (SELECT w.last_heartbeat_at FROM jobtop.workers w WHERE w.id = j.locked_by) \
    AS worker_heartbeat_at, \
  substr(j.last_error, 1, $1) AS last_error, \
  coalesce(octet_length(j.last_error), 0)::bigint AS error_bytes";

/// The index ranges of a scope: each a WHERE clause (with `$2`, the scope value, where it
/// needs one). Ready is two ranges.
fn ranges(scope: &JobScope) -> &'static [&'static str] {
    match scope {
        JobScope::Queue { state, .. } => match state {
            JobState::Ready => &[
                "j.state IN ('queued', 'retrying') AND j.queue = $2 \
                 AND j.state = 'queued' AND j.run_at <= now()",
                "j.state IN ('queued', 'retrying') AND j.queue = $2 \
                 AND j.state = 'retrying' AND j.run_at <= now()",
            ],
            JobState::Scheduled => &["j.state IN ('queued', 'retrying') AND j.queue = $2 \
                 AND j.state = 'queued' AND j.run_at > now()"],
            JobState::Retrying => &["j.state IN ('queued', 'retrying') AND j.queue = $2 \
                 AND j.state = 'retrying' AND j.run_at > now()"],
            JobState::Running => &["j.state = 'running' AND j.queue = $2"],
            JobState::Dead => &["j.state = 'dead' AND j.queue = $2"],
            JobState::Succeeded => &["j.state IN ('succeeded', 'cancelled') AND j.queue = $2 \
                 AND j.state = 'succeeded'"],
            JobState::Cancelled => &["j.state IN ('succeeded', 'cancelled') AND j.queue = $2 \
                 AND j.state = 'cancelled'"],
        },
        JobScope::Worker { .. } => &["j.state = 'running' AND j.locked_by = $2"],
        JobScope::Ids { .. } => &["j.id = ANY($2)"],
        // Running too long, or not heard from: by `alive_at!`, as reset-stuck judges.
        JobScope::Stuck { .. } => &[concat!(
            "j.state = 'running' AND (j.started_at < now() - make_interval(secs => $2) OR ",
            alive_at!(),
            " < now() - make_interval(secs => $3))"
        )],
    }
}

/// Binds the scope's values as `$2` (and `$3`), right after `$1`.
fn bind_scope(sql: &mut Sql, scope: &JobScope) {
    let (first, second) = match scope {
        JobScope::Queue { queue, .. } => (Bind::Text(Some(queue.clone())), None),
        JobScope::Worker { worker } => (Bind::Text(Some(worker.clone())), None),
        JobScope::Ids { ids } => (Bind::Ints(JobId::ints(ids)), None),
        JobScope::Stuck {
            running_longer_than,
            stale_after,
        } => (
            Bind::Float(secs(*running_longer_than)),
            Some(Bind::Float(secs(*stale_after))),
        ),
    };
    sql.bind_index(first);
    if let Some(second) = second {
        sql.bind_index(second);
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn key_column(key: SortKey) -> &'static str {
    match key {
        SortKey::RunAt => "run_at",
        SortKey::StartedAt => "started_at",
        SortKey::FinishedAt => "finished_at",
        SortKey::Id => "id",
    }
}

/// `ORDER BY` for the key, in table-qualified (`j.`) or output-column form.
fn order_by(sql: &mut Sql, key: SortKey, order: Order, qualified: bool) {
    let q = if qualified { "j." } else { "" };
    let dir = match order {
        Order::OldestFirst => "",
        Order::NewestFirst => " DESC",
    };
    sql.push(" ORDER BY ");
    if key != SortKey::Id {
        sql.push(q).push(key_column(key)).push(dir).push(", ");
    }
    sql.push(q).push("id").push(dir);
}

/// Placeholder numbers of the filter and cursor values, bound once, used in every range.
struct Shared {
    id: Option<usize>,
    kind: Option<usize>,
    tenant: Option<usize>,
    error: Option<usize>,
    /// The payload term's condition, its values bound once.
    payload: Option<String>,
    cursor_key: Option<usize>,
    cursor_id: Option<usize>,
    limit: usize,
}

fn bind_shared(sql: &mut Sql, filter: &ListFilter, after: Option<&Cursor>, limit: usize) -> Shared {
    let payload = filter
        .payload
        .as_ref()
        .map(|term| payload_condition("j.payload", false, term, sql));
    let mut add = |b: Bind| sql.bind_index(b);
    Shared {
        payload,
        id: filter.id.as_ref().map(|v| add(Bind::Int(bigint_id(v)))),
        kind: filter.kind.clone().map(|v| add(Bind::Text(Some(v)))),
        tenant: filter.tenant.clone().map(|v| add(Bind::Text(Some(v)))),
        error: filter
            .error_text
            .as_deref()
            .map(|v| add(Bind::from(format!("%{}%", escape_like(v))))),
        cursor_key: after.and_then(|c| c.key).map(|k| add(Bind::Time(k))),
        cursor_id: after.map(|c| add(Bind::Int(bigint_id(&c.id)))),
        limit: add(Bind::Int(limit as i64)),
    }
}

/// `%`, `_` and `\` typed by the user match themselves.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn filter_terms(sql: &mut Sql, shared: &Shared) {
    if let Some(n) = shared.id {
        sql.push(" AND j.id = ").placeholder(n);
    }
    if let Some(n) = shared.kind {
        sql.push(" AND j.kind = ").placeholder(n);
    }
    if let Some(n) = shared.tenant {
        sql.push(" AND j.tenant_id = ").placeholder(n);
    }
    if let Some(n) = shared.error {
        sql.push(" AND j.last_error ILIKE ").placeholder(n);
    }
    if let Some(condition) = &shared.payload {
        sql.push(condition);
    }
}

fn keyset(sql: &mut Sql, key: SortKey, order: Order, shared: &Shared) {
    let Some(id) = shared.cursor_id else { return };
    let op = match order {
        Order::OldestFirst => " > ",
        Order::NewestFirst => " < ",
    };
    match (key, shared.cursor_key) {
        (SortKey::Id, _) => {
            sql.push(" AND j.id").push(op).placeholder(id);
        }
        // The cursor row had no key: it is in the NULL tail (last ascending, first
        // descending), which is ordered by id alone.
        (_, None) => {
            let (lead, tail) = match order {
                Order::OldestFirst => (" AND j.", " IS NULL AND j.id > "),
                Order::NewestFirst => (" AND (j.", " IS NOT NULL OR j.id < "),
            };
            sql.push(lead)
                .push(key_column(key))
                .push(tail)
                .placeholder(id);
            if order == Order::NewestFirst {
                sql.push(")");
            }
        }
        (_, Some(k)) => {
            sql.push(" AND (j.")
                .push(key_column(key))
                .push(", j.id)")
                .push(op)
                .push("(")
                .placeholder(k)
                .push(", ")
                .placeholder(id)
                .push(")");
        }
    }
}

/// The page query: `$1` error length, `$2`(, `$3`) the scope, then filter, cursor, limit.
/// The reference schema's ids are bigints from 1 up: a text id (a uuid typed in a filter)
/// names none of them, and neither does 0.
fn bigint_id(id: &JobId) -> i64 {
    id.as_int().unwrap_or(0)
}

pub(super) fn page_sql(q: &JobQuery) -> Sql {
    let mut sql = Sql::default();
    sql.bind_index(Bind::Int4(LIST_ERROR_CHARS));
    bind_scope(&mut sql, &q.scope);
    // One row more than the page tells whether another page follows.
    let shared = bind_shared(&mut sql, &q.filter, q.after.as_ref(), q.limit + 1);
    let key = q.scope.sort_key();
    let ranges = ranges(&q.scope);
    let union = ranges.len() > 1;
    if union {
        sql.push("SELECT * FROM (");
    }
    for (i, range) in ranges.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push("(SELECT ")
            .push(COLUMNS)
            .push(" FROM jobtop.jobs j WHERE ")
            .push(range);
        filter_terms(&mut sql, &shared);
        keyset(&mut sql, key, q.order, &shared);
        order_by(&mut sql, key, q.order, true);
        sql.push(" LIMIT ").placeholder(shared.limit).push(")");
    }
    if union {
        sql.push(") u");
        order_by(&mut sql, key, q.order, false);
        sql.push(" LIMIT ").placeholder(shared.limit);
    }
    sql
}

/// How many jobs the scope holds, filter aside, counted up to the cap in each range.
pub(super) fn count_sql(scope: &JobScope) -> Sql {
    let mut sql = Sql::default();
    sql.bind_index(Bind::Int(SCOPE_COUNT_CAP + 1));
    bind_scope(&mut sql, scope);
    sql.push("SELECT 0::bigint");
    for range in ranges(scope) {
        sql.push(" + (SELECT count(*) FROM (SELECT 1 FROM jobtop.jobs j WHERE ")
            .push(range)
            .push(" LIMIT $1) c)");
    }
    sql.push(" AS n");
    sql
}

pub(super) fn job_row(row: &PgRow) -> anyhow::Result<JobRow> {
    let state = text(row, "display_state")?;
    let state =
        JobState::parse(&state).ok_or_else(|| anyhow::anyhow!("unknown job state {state:?}"))?;
    decode::job_row(row, state)
}

/// One page, its scope's size and the database clock, all from one snapshot.
pub async fn page(pool: &PgPool, q: &JobQuery) -> anyhow::Result<JobPage> {
    let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
    let page_sql = page_sql(q);
    let rows = page_sql.query().fetch_all(&mut *tx).await?;
    let count_sql = count_sql(&q.scope);
    let n: i64 = count_sql.query().fetch_one(&mut *tx).await?.try_get("n")?;
    let scope_estimate = if n > SCOPE_COUNT_CAP {
        Some(planned_rows(&mut tx, scope_rows_sql(&q.scope)).await?)
    } else {
        None
    };
    tx.commit().await?;

    let mut rows = rows
        .iter()
        .map(job_row)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let has_more = rows.len() > q.limit;
    rows.truncate(q.limit);
    Ok(JobPage {
        db_now,
        rows,
        has_more,
        scope_count: Count::capped_at(n, SCOPE_COUNT_CAP),
        scope_estimate,
    })
}

/// Every job of the scope, filter aside: what the planner estimates when the count
/// reaches its cap.
fn scope_rows_sql(scope: &JobScope) -> Sql {
    let mut sql = Sql::default();
    // `$1` as in `count_sql`, so the ranges' placeholders are the same.
    sql.bind_index(Bind::Int(SCOPE_COUNT_CAP + 1));
    bind_scope(&mut sql, scope);
    let ranges: Vec<String> = ranges(scope).iter().map(|r| format!("({r})")).collect();
    let ranges = if ranges.is_empty() {
        "false".to_string()
    } else {
        ranges.join(" OR ")
    };
    sql.push(&format!("SELECT 1 FROM jobtop.jobs j WHERE {ranges}"));
    sql
}

/// The plan PostgreSQL picks for a page query (text `EXPLAIN`, run with the same session
/// settings as the page itself): for tests and troubleshooting.
pub async fn explain(pool: &PgPool, q: &JobQuery) -> anyhow::Result<String> {
    let (mut tx, _) = crate::backend::pg::read::begin(pool).await?;
    let mut sql = page_sql(q);
    sql.prepend("EXPLAIN ");
    let rows = sql.query().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let lines = rows
        .iter()
        .map(|r| text(r, "QUERY PLAN"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn ready_pages_merge_two_ranges_and_bind_every_value() {
        let q = JobQuery {
            scope: JobScope::Queue {
                queue: "mailers'; DROP TABLE x; --".into(),
                state: JobState::Ready,
            },
            filter: ListFilter {
                error_text: Some("50%_off".into()),
                ..ListFilter::default()
            },
            order: Order::NewestFirst,
            after: Some(Cursor {
                key: Some(DateTime::<Utc>::from_timestamp(0, 0).unwrap()),
                id: JobId::Int(7),
            }),
            limit: 100,
        };
        let sql = page_sql(&q);
        assert!(!sql.text().contains("DROP"), "{}", sql.text());
        assert!(!sql.text().contains("50%"), "{}", sql.text());
        assert_eq!(sql.text().matches("UNION ALL").count(), 1);
        assert_eq!(sql.text().matches("(j.run_at, j.id) < ($4, $5)").count(), 2);
        assert!(
            sql.text()
                .ends_with("ORDER BY run_at DESC, id DESC LIMIT $6")
        );
        assert_eq!(sql.bound(), 6);
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn id_keyed_scopes_page_by_id_alone() {
        let q = JobQuery {
            scope: JobScope::Ids {
                ids: [3, 1, 2].map(JobId::Int).to_vec(),
            },
            filter: ListFilter::default(),
            order: Order::OldestFirst,
            after: Some(Cursor {
                key: None,
                id: JobId::Int(2),
            }),
            limit: 10,
        };
        let sql = page_sql(&q);
        assert!(
            sql.text().contains("j.id = ANY($2) AND j.id > $3"),
            "{}",
            sql.text()
        );
        assert!(
            sql.text().ends_with("ORDER BY j.id LIMIT $4)"),
            "{}",
            sql.text()
        );
    }
}
