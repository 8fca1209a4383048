//! Job lists: keyset pages (never OFFSET) over a state's ranges, lane by lane where the
//! index puts a priority before the time, and the scope's size counted up to a cap.

use crate::backend::pg::sql::{Bind, Sql};
use sqlx::PgPool;

use crate::backend::Count;
use crate::backend::drill::{
    JobPage, JobQuery, JobScope, LIST_ERROR_CHARS, Order, PayloadTerm, SCOPE_COUNT_CAP, SortKey,
};
use crate::backend::engine::drill::{DrillTable, Range, Sort, job_row};
use crate::backend::model::{JobId, JobState};
use crate::backend::pile_estimates::planned_rows;

/// Which jobs a scope is, as SQL: ranges, the condition every range gets (with its values
/// bound), and what the list is ordered by.
struct Scoped {
    ranges: Vec<Range>,
    cond: String,
    sort: Option<Sort>,
    /// Lanes apply: the queue is pinned.
    laned: bool,
    /// Rows read in id order come off an index in that order (`StateList::id_ordered`).
    id_ordered: bool,
}

/// `None`: the scope names no job of this table (a state it has no list for, ids that
/// cannot be its ids).
fn scoped(t: &DrillTable, scope: &JobScope, sql: &mut Sql) -> anyhow::Result<Option<Scoped>> {
    let running = || {
        t.list(JobState::Running)
            .ok_or_else(|| anyhow::anyhow!("this queue schema has no running state"))
    };
    Ok(Some(match scope {
        JobScope::Queue { queue, state } => {
            let Some(list) = t.list(*state) else {
                return Ok(None);
            };
            let p = sql.bind(Bind::Text(Some(queue.clone())));
            Scoped {
                ranges: list.ranges.clone(),
                cond: format!("({})::text = {p}", t.jobs.queue),
                sort: list.sort.clone(),
                laned: true,
                id_ordered: list.id_ordered,
            }
        }
        JobScope::Worker { worker } => {
            let Some(w) = &t.jobs.worker else {
                anyhow::bail!("this queue schema names no worker");
            };
            let p = sql.bind(Bind::Text(Some(worker.clone())));
            Scoped {
                ranges: running()?.ranges.clone(),
                cond: format!("({w})::text = {p}"),
                sort: None,
                laned: false,
                id_ordered: false,
            }
        }
        JobScope::Ids { ids } => {
            let ids: Vec<String> = ids
                .iter()
                .filter(|id| t.accepts(id))
                .map(JobId::to_string)
                .collect();
            if ids.is_empty() {
                return Ok(None);
            }
            let p = sql.bind(Bind::Texts(ids));
            Scoped {
                ranges: vec![Range::plain("true")],
                cond: format!("{} = ANY(CAST({p} AS {}[]))", t.jobs.id, t.jobs.id_type),
                sort: None,
                laned: false,
                id_ordered: false,
            }
        }
        JobScope::Stuck {
            running_longer_than,
            stale_after,
        } => {
            let list = running()?;
            let long = sql.bind(Bind::Float(running_longer_than.as_secs_f64()));
            let stale = sql.bind(Bind::Float(stale_after.as_secs_f64()));
            let mut terms = Vec::new();
            if let Some(s) = &t.started_at {
                terms.push(format!(
                    "{} < {}",
                    s.expr,
                    s.value(&format!("now() - make_interval(secs => {long})"))
                ));
            }
            // Not heard from: exactly as reset-stuck judges.
            if let Some(c) = t.jobs.stale_condition(&stale) {
                terms.push(c);
            }
            if terms.is_empty() {
                anyhow::bail!("this queue schema cannot tell a stuck job from a running one");
            }
            Scoped {
                ranges: list.ranges.clone(),
                cond: format!("({})", terms.join(" OR ")),
                sort: list.sort.clone(),
                laned: false,
                id_ordered: false,
            }
        }
    }))
}

/// The filter's terms, values bound.
fn filter_terms(t: &DrillTable, q: &JobQuery, sql: &mut Sql) -> anyhow::Result<String> {
    let f = &q.filter;
    let mut out = String::new();
    if let Some(id) = &f.id {
        if t.accepts(id) {
            let p = sql.bind(Bind::Text(Some(id.to_string())));
            out.push_str(&format!(" AND {} = {}", t.jobs.id, t.id_cast(&p)));
        } else {
            out.push_str(" AND false");
        }
    }
    if let Some(kind) = &f.kind {
        let p = sql.bind(Bind::Text(Some(kind.clone())));
        out.push_str(&format!(" AND ({})::text = {p}", t.jobs.kind));
    }
    if let Some(tenant) = &f.tenant {
        let Some(column) = &t.jobs.tenant else {
            anyhow::bail!("this queue schema has no tenant to filter on");
        };
        let p = sql.bind(Bind::Text(Some(tenant.clone())));
        out.push_str(&format!(" AND ({column})::text = {p}"));
    }
    if let Some(text) = &f.error_text {
        let Some(error) = &t.jobs.error else {
            anyhow::bail!("this queue schema keeps no error text to filter on");
        };
        let p = sql.bind(Bind::Text(Some(text.to_lowercase())));
        out.push_str(&format!(" AND strpos(lower(({error})::text), {p}) > 0"));
    }
    if let Some(term) = &f.payload {
        let Some(payload) = &t.payload else {
            anyhow::bail!("this queue schema keeps no payload to filter on");
        };
        if t.payload_binary && !term.path.is_empty() {
            anyhow::bail!(
                "this queue schema keeps its payload as bytes: payload:TEXT finds text in them, \
                 a path (payload.key:value) needs a JSON payload"
            );
        }
        out.push_str(&payload_condition(payload, t.payload_binary, term, sql));
    }
    Ok(out)
}

/// ` AND …` for a payload term over the payload expression `payload` (json, jsonb or text
/// holding JSON; bytea where `binary`, which only the text search suits: the caller refuses
/// a path there), its values bound.
pub(crate) fn payload_condition(
    payload: &str,
    binary: bool,
    term: &PayloadTerm,
    sql: &mut Sql,
) -> String {
    let v = sql.bind(Bind::Text(Some(term.value.clone())));
    if binary {
        return format!(" AND position(convert_to({v}, 'UTF8') in {payload}) > 0");
    }
    if term.path.is_empty() {
        return format!(" AND strpos(lower(({payload})::text), lower({v})) > 0");
    }
    let path = sql.bind(Bind::Texts(term.path.clone()));
    format!(" AND ({payload})::jsonb #>> CAST({path} AS text[]) = {v}")
}

/// One branch of a page: the rows of `range` whose sort time is set (`keyed`) or NULL,
/// after the cursor condition `extra`, in order, cut at the limit.
#[allow(clippy::too_many_arguments)]
fn branch(
    t: &DrillTable,
    s: &Scoped,
    range: &Range,
    keyed: bool,
    extra: &str,
    filters: &str,
    dir: &str,
    limit: &str,
) -> String {
    let id = &t.jobs.id;
    let (sort_at, order) = match (&s.sort, keyed) {
        (Some(sort), true) => (
            sort.col.read(),
            format!("{}{dir}, {id}{dir}", sort.col.expr),
        ),
        _ => ("NULL::timestamptz".to_string(), format!("{id}{dir}")),
    };
    let null_split = match &s.sort {
        Some(sort) if sort.nullable && keyed => format!(" AND {} IS NOT NULL", sort.col.expr),
        Some(sort) if sort.nullable => format!(" AND {} IS NULL", sort.col.expr),
        _ => String::new(),
    };
    let where_ = format!(
        "({}) AND {}{null_split}{filters}{extra}",
        range.cond, s.cond
    );
    if !keyed && !s.id_ordered {
        // Rows read in id order are few (a worker's, a set of ids, those without a sort
        // time): the fence keeps the planner from walking the whole primary key in id
        // order to avoid sorting them.
        return format!(
            "(SELECT * FROM (SELECT j.*, {sort_at} AS jobtop_sort_at, {carried} FROM {from} \
               WHERE {where_} OFFSET 0) j ORDER BY {order} LIMIT {limit})",
            from = t.jobs.from,
            carried = t.carried(),
        );
    }
    let lanes = if s.laned {
        t.lanes_from(range, &s.cond)
    } else {
        None
    };
    match lanes {
        Some((lanes, column)) => format!(
            "(SELECT x.* FROM {lanes} CROSS JOIN LATERAL (\
               SELECT j.*, {sort_at} AS jobtop_sort_at, {carried} FROM {from} \
               WHERE {where_} AND {column} = l.p ORDER BY {order} LIMIT {limit}) x)",
            from = t.jobs.from,
            carried = t.carried(),
        ),
        None => format!(
            "(SELECT j.*, {sort_at} AS jobtop_sort_at, {carried} FROM {from} WHERE {where_} \
             ORDER BY {order} LIMIT {limit})",
            from = t.jobs.from,
            carried = t.carried(),
        ),
    }
}

/// The page query, or `None` when the scope names no job of this table.
pub(super) fn page_sql(t: &DrillTable, q: &JobQuery) -> anyhow::Result<Option<Sql>> {
    let mut sql = Sql::default();
    let error_chars = sql.bind(Bind::Int4(LIST_ERROR_CHARS));
    let Some(s) = scoped(t, &q.scope, &mut sql)? else {
        return Ok(None);
    };
    let filters = filter_terms(t, q, &mut sql)?;
    // One row more than the page tells whether another page follows.
    let limit = sql.bind(Bind::Int(q.limit as i64 + 1));
    let key = q.scope.sort_key();
    // A scope ordered by id (workers, id sets) has no sort time whatever its ranges have.
    let sort = if key == SortKey::Id {
        None
    } else {
        s.sort.clone()
    };
    let s = Scoped { sort, ..s };
    let (op, dir) = match q.order {
        Order::OldestFirst => (">", ""),
        Order::NewestFirst => ("<", " DESC"),
    };
    let id = &t.jobs.id;
    let cursor_id = q
        .after
        .as_ref()
        .map(|c| sql.bind(Bind::Text(Some(c.id.to_string()))));
    let cursor_key = q
        .after
        .as_ref()
        .and_then(|c| c.key)
        .map(|k| sql.bind(Bind::Time(k)));
    let after_id = |cursor: &Option<String>| match cursor {
        Some(c) => format!(" AND {id} {op} {}", t.id_cast(c)),
        None => String::new(),
    };
    // (keyed?, cursor condition) for each branch to read.
    let mut parts: Vec<(bool, String)> = Vec::new();
    match &s.sort {
        None => parts.push((false, after_id(&cursor_id))),
        Some(sort) => {
            let keyed_after = match (&cursor_key, &cursor_id) {
                (Some(k), Some(c)) => format!(
                    " AND ({}, {id}) {op} ({}, {})",
                    sort.col.expr,
                    sort.col.value(k),
                    t.id_cast(c)
                ),
                _ => String::new(),
            };
            match (q.after.is_some(), cursor_key.is_some(), q.order) {
                (false, _, _) => {
                    parts.push((true, String::new()));
                    parts.push((false, String::new()));
                }
                (true, true, Order::OldestFirst) => {
                    parts.push((true, keyed_after));
                    parts.push((false, String::new()));
                }
                (true, true, Order::NewestFirst) => parts.push((true, keyed_after)),
                (true, false, Order::OldestFirst) => parts.push((false, after_id(&cursor_id))),
                (true, false, Order::NewestFirst) => {
                    parts.push((false, after_id(&cursor_id)));
                    parts.push((true, String::new()));
                }
            }
            if !sort.nullable {
                parts.retain(|(keyed, _)| *keyed);
            }
        }
    }
    let mut branches = Vec::new();
    for range in &s.ranges {
        for (keyed, extra) in &parts {
            branches.push(branch(t, &s, range, *keyed, extra, &filters, dir, &limit));
        }
    }
    let order = format!("j.jobtop_sort_at{dir}, {id}{dir}");
    let keyed = s.sort.as_ref().map(|_| key);
    sql.push(&format!(
        "SELECT {columns} FROM (SELECT * FROM ({union}) j ORDER BY {order} LIMIT {limit}) j \
         {last_error} ORDER BY {order}",
        columns = t.row_columns(keyed, &error_chars, true),
        union = branches.join(" UNION ALL "),
        last_error = t.last_error_join(),
    ));
    Ok(Some(sql))
}

/// How many jobs the scope holds, filter aside, counted up to the cap in each range. A
/// range is counted along the list's own order, so the count takes the page's path and
/// stops at the cap (without an order, a LIMIT can look cheap enough to the planner to
/// find by reading the table).
fn count_sql(t: &DrillTable, scope: &JobScope) -> anyhow::Result<Option<Sql>> {
    let mut sql = Sql::default();
    let Some(s) = scoped(t, scope, &mut sql)? else {
        return Ok(None);
    };
    let cap = sql.bind(Bind::Int(SCOPE_COUNT_CAP + 1));
    let from = &t.jobs.from;
    let order = match (&s.sort, scope.sort_key()) {
        (Some(sort), key) if key != SortKey::Id => format!(" ORDER BY {}", sort.col.expr),
        _ => String::new(),
    };
    let mut terms = vec!["0::bigint".to_string()];
    for range in &s.ranges {
        let lanes = if s.laned {
            t.lanes_from(range, &s.cond)
        } else {
            None
        };
        terms.push(match lanes {
            Some((lanes, column)) => format!(
                "(SELECT coalesce(sum(x.c), 0)::bigint FROM {lanes} CROSS JOIN LATERAL (\
                   SELECT count(*) AS c FROM (SELECT 1 FROM {from} WHERE ({cond}) AND {scope} \
                   AND {column} = l.p{order} LIMIT {cap}) c) x)",
                cond = range.cond,
                scope = s.cond,
            ),
            None => format!(
                "(SELECT count(*) FROM (SELECT 1 FROM {from} WHERE ({cond}) AND {scope}{order} \
                 LIMIT {cap}) c)",
                cond = range.cond,
                scope = s.cond,
            ),
        });
    }
    sql.push(&format!("SELECT {} AS n", terms.join(" + ")));
    Ok(Some(sql))
}

/// One page, its scope's size and the database clock, all from one snapshot.
pub async fn page(pool: &PgPool, t: &DrillTable, q: &JobQuery) -> anyhow::Result<JobPage> {
    let (mut tx, db_now) = crate::backend::engine::drill::begin(pool).await?;
    let (Some(page_sql), Some(count_sql)) = (page_sql(t, q)?, count_sql(t, &q.scope)?) else {
        tx.commit().await?;
        return Ok(JobPage {
            db_now,
            rows: Vec::new(),
            has_more: false,
            scope_count: Count::exact(0),
            scope_estimate: None,
        });
    };
    let rows = page_sql.query().fetch_all(&mut *tx).await?;
    let n: i64 = sqlx::Row::try_get(&count_sql.query().fetch_one(&mut *tx).await?, "n")?;
    let scope_estimate = match (n > SCOPE_COUNT_CAP, scope_rows_sql(t, &q.scope)?) {
        (true, Some(sql)) => Some(planned_rows(&mut tx, sql).await?),
        _ => None,
    };
    tx.commit().await?;
    let has_more = rows.len() > q.limit;
    let mut rows = rows
        .iter()
        .take(q.limit)
        .map(job_row)
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    rows.truncate(q.limit);
    Ok(JobPage {
        db_now,
        rows,
        has_more,
        scope_count: Count::capped_at(n, SCOPE_COUNT_CAP),
        scope_estimate,
    })
}

/// Every job of the scope, filter aside (its ranges joined): what the planner estimates
/// when the count reaches its cap.
fn scope_rows_sql(t: &DrillTable, scope: &JobScope) -> anyhow::Result<Option<Sql>> {
    let mut sql = Sql::default();
    let Some(s) = scoped(t, scope, &mut sql)? else {
        return Ok(None);
    };
    let ranges: Vec<String> = s.ranges.iter().map(|r| format!("({})", r.cond)).collect();
    if ranges.is_empty() {
        return Ok(None);
    }
    sql.push(&format!(
        "SELECT 1 FROM {} WHERE ({}) AND {}",
        t.jobs.from,
        ranges.join(" OR "),
        s.cond
    ));
    Ok(Some(sql))
}

/// The plans PostgreSQL picks for a page query and its count, run with the page's own
/// session settings: for tests and troubleshooting.
pub async fn explain(pool: &PgPool, t: &DrillTable, q: &JobQuery) -> anyhow::Result<String> {
    let (Some(page), Some(count)) = (page_sql(t, q)?, count_sql(t, &q.scope)?) else {
        return Ok(String::new());
    };
    let (mut tx, _) = crate::backend::engine::drill::begin(pool).await?;
    let mut lines = Vec::new();
    for (name, mut sql) in [("page", page), ("count", count)] {
        sql.prepend("EXPLAIN ");
        lines.push(format!("-- {name}"));
        for r in &sql.query().fetch_all(&mut *tx).await? {
            lines.push(sqlx::Row::try_get::<String, _>(r, "QUERY PLAN")?);
        }
    }
    tx.commit().await?;
    Ok(lines.join("\n"))
}
