//! Dead jobs of a window, grouped by error signature: the newest dead jobs of each range of
//! the dead state, read off the finish-time order, the newest `limit` of them grouped.
//! The database collapses jobs whose queue, kind and (cut) message are identical; the
//! signature grouping is the one every backend shares (`signature`).
//!
//! A dead job whose finish time is not set (a home-grown table that does not stamp it)
//! is placed in time by its start, else its run-at, else its creation.

use crate::backend::pg::sql::{Bind, Sql, TimeCol};
use sqlx::PgPool;

use crate::backend::drill::{DeadLetterQuery, DeadLetterReport};
use crate::backend::engine::drill::{DrillTable, StateList};
use crate::backend::model::JobState;
use crate::backend::pg::decode::{self};

/// Characters of a message that are read: enough for its first line.
const MESSAGE_CHARS: i32 = 300;

/// The statement, or `None` where the schema has no dead state.
pub(super) fn dead_sql(t: &DrillTable, q: &DeadLetterQuery) -> Option<Sql> {
    let list = t.list(JobState::Dead)?;
    let mut sql = Sql::default();
    let window = sql.bind(Bind::Float(q.window.duration().as_secs_f64()));
    let kind = sql.bind(Bind::Text(q.kind.clone()));
    let limit = sql.bind(Bind::Int(q.limit.max(1)));
    let chars = sql.bind(Bind::Int4(MESSAGE_CHARS));
    let since = format!("now() - make_interval(secs => {window})");
    let queue = sql.bind(Bind::Text(q.queue.clone()));
    let kind_term = format!(
        "({kind}::text IS NULL OR ({})::text = {kind}) \
         AND ({queue}::text IS NULL OR ({})::text = {queue})",
        t.jobs.kind, t.jobs.queue
    );
    let id = &t.jobs.id;
    let branches = newest_in_window(t, list, &kind_term, &since, &limit);
    if branches.is_empty() {
        return None;
    }
    sql.push(&format!(
        "WITH dead AS ( \
           SELECT ({id})::text AS id, substr(j.jobtop_queue, 1, 200) AS queue, \
             substr(j.jobtop_kind, 1, 200) AS kind, \
             substr(coalesce(le.e, ''), 1, {chars}) AS message, j.jobtop_seen AS seen \
           FROM (SELECT * FROM ({union}) j ORDER BY j.jobtop_seen DESC LIMIT {limit}) j \
           {last_error}) \
         SELECT now() AS db_now, d.queue, d.kind, d.message, \
           min(d.seen) AS first_seen, max(d.seen) AS last_seen, \
           array_agg(d.id ORDER BY d.seen DESC) AS ids, \
           (SELECT count(*) FROM dead) AS jobs, (SELECT min(seen) FROM dead) AS oldest \
         FROM dead d GROUP BY d.queue, d.kind, d.message",
        union = branches.join(" UNION ALL "),
        last_error = t.last_error_join(),
    ));
    Some(sql)
}

/// The first of `columns` that is set on a job, else now(): where a job is placed in time
/// when the time a list sorts it by is not set.
pub(super) fn first_time_set<'a>(columns: impl IntoIterator<Item = &'a Option<TimeCol>>) -> String {
    let times: Vec<String> = columns
        .into_iter()
        .flatten()
        .map(|c| c.read())
        .chain(["now()".to_string()])
        .collect();
    format!("coalesce({})", times.join(", "))
}

/// The newest jobs of `list` (a finished state) inside the window that starts at `since`,
/// that also meet `term`: one branch per range, each read newest first off its sort time and
/// cut at `limit`, with the job's time as `jobtop_seen`. A job whose finish time is not set
/// is placed in time by its start, else its run-at, else its creation.
pub(super) fn newest_in_window(
    t: &DrillTable,
    list: &StateList,
    term: &str,
    since: &str,
    limit: &str,
) -> Vec<String> {
    let from = &t.jobs.from;
    let id = &t.jobs.id;
    let fallback = first_time_set([&t.started_at, &t.run_at, &t.created_at]);
    let carried = t.carried();
    let mut branches = Vec::new();
    for range in &list.ranges {
        if let Some(sort) = &list.sort {
            branches.push(format!(
                "(SELECT j.*, {seen} AS jobtop_seen, {carried} FROM {from} \
                 WHERE ({cond}) AND {col} >= {since_col} AND {term} \
                 ORDER BY {col} DESC LIMIT {limit})",
                seen = sort.col.read(),
                cond = range.cond,
                col = sort.col.expr,
                since_col = sort.col.value(since),
            ));
        }
        let untimed = match &list.sort {
            None => Some(String::new()),
            Some(sort) if sort.nullable => Some(format!(" AND {} IS NULL", sort.col.expr)),
            Some(_) => None,
        };
        if let Some(untimed) = untimed {
            branches.push(format!(
                "(SELECT j.*, {fallback} AS jobtop_seen, {carried} FROM {from} \
                 WHERE ({cond}){untimed} AND {fallback} >= {since} AND {term} \
                 ORDER BY {id} DESC LIMIT {limit})",
                cond = range.cond,
            ));
        }
    }
    branches
}

pub async fn dead_letters(
    pool: &PgPool,
    t: &DrillTable,
    q: &DeadLetterQuery,
) -> anyhow::Result<DeadLetterReport> {
    let (mut tx, db_now) = crate::backend::engine::drill::begin(pool).await?;
    let rows = match dead_sql(t, q) {
        Some(sql) => sql.query().fetch_all(&mut *tx).await?,
        None => Vec::new(),
    };
    tx.commit().await?;

    decode::dead_letter_report(&rows, q, db_now)
}
