//! One kind's failed attempts of a window, grouped by error signature as the dead letters
//! are: where the kinds view leads for a kind that fails but whose failures were retried.
//!
//! The jobs come off the same ranges the kinds view reads, each newest first and cut at
//! `limit` (finished jobs inside the window on their finish-time index, jobs still
//! retrying or running by their list's order), so the read is bounded on any table.
//! Where the schema keeps an error history, each entry stamped inside the window is an
//! attempt (River, Oban, good_job's executions); elsewhere a job's last error is its one
//! known attempt: every dead job of the window, and every job waiting for its retry now
//! (pg-boss, graphile-worker, PgQueuer, Solid Queue, a profile).

use sqlx::PgPool;

use crate::backend::drill::{DeadLetterReport, FailedAttemptsQuery, NO_FAILED_ATTEMPTS};
use crate::backend::engine::drill::DrillTable;
use crate::backend::engine::drill::dead_letters::{first_time_set, newest_in_window};
use crate::backend::model::JobState;
use crate::backend::pg::decode;
use crate::backend::pg::sql::{Bind, Sql};

/// Characters of a message that are read: enough for its first line.
const MESSAGE_CHARS: i32 = 300;

/// The statement, or `None` where the schema keeps no error at all.
pub(super) fn attempts_sql(t: &DrillTable, q: &FailedAttemptsQuery) -> Option<Sql> {
    if t.history.is_none() && t.jobs.error.is_none() {
        return None;
    }
    let mut sql = Sql::default();
    let window = sql.bind(Bind::Float(q.window.duration().as_secs_f64()));
    let kind = sql.bind(Bind::Text(Some(q.kind.clone())));
    let limit = sql.bind(Bind::Int(q.limit.max(1)));
    let chars = sql.bind(Bind::Int4(MESSAGE_CHARS));
    let since = format!("now() - make_interval(secs => {window})");
    let from = &t.jobs.from;
    let id = &t.jobs.id;
    let carried = t.carried();
    let kind_term = format!("({})::text = {kind}", t.jobs.kind);
    let fallback = first_time_set([&t.started_at, &t.created_at]);

    // Finished jobs inside the window, on their finish time; the others by their order.
    let (finished, waiting): (&[JobState], &[JobState]) = match &t.history {
        Some(_) => (
            &[JobState::Succeeded, JobState::Dead],
            &[JobState::Retrying, JobState::Running],
        ),
        None => (&[JobState::Dead], &[JobState::Retrying]),
    };
    let mut branches = Vec::new();
    for &state in finished {
        if let Some(list) = t.list(state) {
            branches.extend(newest_in_window(t, list, &kind_term, &since, &limit));
        }
    }
    for &state in waiting {
        let Some(list) = t.list(state) else { continue };
        let order = match &list.sort {
            Some(s) => format!("{} DESC", s.col.expr),
            None => format!("{id} DESC"),
        };
        for range in &list.ranges {
            branches.push(format!(
                "(SELECT j.*, {fallback} AS jobtop_seen, {carried} FROM {from} \
                 WHERE ({cond}) AND {kind_term} ORDER BY {order} LIMIT {limit})",
                cond = range.cond,
            ));
        }
    }
    if branches.is_empty() {
        return None;
    }
    let attempts = match &t.history {
        Some(h) => format!(
            "SELECT ({id})::text AS id, j.jobtop_queue AS queue, j.jobtop_kind AS kind, \
               substr(coalesce(({error})::text, ''), 1, {chars}) AS message, {at} AS seen \
             FROM src j CROSS JOIN LATERAL {elements} WHERE {at} >= {since}",
            error = h.error,
            at = h.at_time(),
            elements = h.elements(),
        ),
        None => format!(
            "SELECT ({id})::text AS id, j.jobtop_queue AS queue, j.jobtop_kind AS kind, \
               substr(coalesce(le.e, ''), 1, {chars}) AS message, j.jobtop_seen AS seen \
             FROM src j {last_error}",
            last_error = t.last_error_join(),
        ),
    };
    sql.push(&format!(
        "WITH src AS (SELECT * FROM ({union}) j), \
         att AS (SELECT * FROM ({attempts}) a ORDER BY a.seen DESC LIMIT {limit}) \
         SELECT now() AS db_now, substr(a.queue, 1, 200) AS queue, \
           substr(a.kind, 1, 200) AS kind, a.message, \
           min(a.seen) AS first_seen, max(a.seen) AS last_seen, \
           array_agg(a.id ORDER BY a.seen DESC) AS ids, \
           (SELECT count(*) FROM att) AS jobs, (SELECT min(seen) FROM att) AS oldest \
         FROM att a GROUP BY a.queue, a.kind, a.message",
        union = branches.join(" UNION ALL "),
    ));
    Some(sql)
}

pub async fn failed_attempts(
    pool: &PgPool,
    name: &str,
    t: &DrillTable,
    q: &FailedAttemptsQuery,
) -> anyhow::Result<DeadLetterReport> {
    let Some(sql) = attempts_sql(t, q) else {
        return Err(crate::backend::unsupported(
            name,
            "failed attempts",
            Some(NO_FAILED_ATTEMPTS),
        ));
    };
    let (mut tx, db_now) = crate::backend::engine::drill::begin(pool).await?;
    let rows = sql.query().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    decode::dead_letter_report(&rows, &q.as_dead_letters(), db_now)
}
