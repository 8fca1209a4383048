//! Per job kind over a recent window: what succeeded, what failed, how long it ran and
//! waited. Finished jobs come off each finished state's ranges newest first and stop at
//! `limit`, so a busy day costs a bounded read; when the limit is reached the report says
//! since when its figures hold.
//!
//! Failed attempts: where the error history stamps each attempt (River, Oban), the entries
//! inside the window of the jobs finished in it and of the jobs still retrying or running;
//! elsewhere only jobs that failed for good can be placed in a window, and those are the
//! failures counted (the capability `failed_attempts` says which).

use crate::backend::pg::sql::{Bind, Sql};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::backend::drill::{KindsQuery, KindsReport, sort_kinds};
use crate::backend::engine::drill::DrillTable;
use crate::backend::model::JobState;
use crate::backend::pg::decode::{self};

/// The statement, or `None` when the schema can place nothing in a window.
pub(super) fn kinds_sql(t: &DrillTable, q: &KindsQuery) -> Option<Sql> {
    let mut sql = Sql::default();
    let window = sql.bind(Bind::Float(q.window.duration().as_secs_f64()));
    let limit = sql.bind(Bind::Int(q.limit.max(1)));
    let since = format!("now() - make_interval(secs => {window})");
    let from = &t.jobs.from;
    let history = t.history.as_ref().filter(|h| h.timed);

    let mut finished = Vec::new();
    for state in [JobState::Succeeded, JobState::Dead] {
        let Some(list) = t.list(state) else { continue };
        let Some(sort) = &list.sort else { continue };
        for range in &list.ranges {
            finished.push(format!(
                "(SELECT j.*, '{state}'::text AS jobtop_state, {fin} AS jobtop_fin, {carried} \
                 FROM {from} \
                 WHERE ({cond}) AND {col} >= {since_col} ORDER BY {col} DESC LIMIT {limit})",
                state = state.as_str(),
                fin = sort.col.read(),
                carried = t.carried(),
                cond = range.cond,
                col = sort.col.expr,
                since_col = sort.col.value(&since),
            ));
        }
    }
    if finished.is_empty() && history.is_none() {
        return None;
    }
    let fin = if finished.is_empty() {
        format!(
            "SELECT j.*, NULL::text AS jobtop_state, NULL::timestamptz AS jobtop_fin, {} \
             FROM {from} WHERE false",
            t.carried()
        )
    } else {
        format!(
            "SELECT * FROM ({}) j ORDER BY j.jobtop_fin DESC LIMIT {limit}",
            finished.join(" UNION ALL ")
        )
    };
    let time = |c: &Option<crate::backend::pg::sql::TimeCol>| {
        c.as_ref()
            .map_or("NULL::timestamptz".to_string(), |c| c.read())
    };
    let started = time(&t.started_at);
    let run_at = time(&t.run_at);
    let kind = "j.jobtop_kind";
    let mut ctes = vec![
        format!("fin AS ({fin})"),
        format!(
            "f AS (SELECT {kind} AS kind, \
               count(*) FILTER (WHERE j.jobtop_state = 'succeeded') AS succeeded, \
               count(*) FILTER (WHERE j.jobtop_state = 'dead') AS dead, \
               percentile_cont(0.5) WITHIN GROUP ( \
                 ORDER BY extract(epoch FROM j.jobtop_fin - {started})) \
                 FILTER (WHERE j.jobtop_state = 'succeeded' AND {started} IS NOT NULL) AS run_p50, \
               percentile_cont(0.95) WITHIN GROUP ( \
                 ORDER BY extract(epoch FROM j.jobtop_fin - {started})) \
                 FILTER (WHERE j.jobtop_state = 'succeeded' AND {started} IS NOT NULL) AS run_p95, \
               percentile_cont(0.5) WITHIN GROUP ( \
                 ORDER BY extract(epoch FROM {started} - {run_at})) \
                 FILTER (WHERE {started} IS NOT NULL AND {run_at} IS NOT NULL) AS wait_p50 \
             FROM fin j GROUP BY 1)"
        ),
    ];
    let failed = match history {
        Some(h) => {
            // Jobs still retrying or running hold failed attempts too.
            let mut in_flight = Vec::new();
            for state in [JobState::Retrying, JobState::Running] {
                let Some(list) = t.list(state) else { continue };
                for range in &list.ranges {
                    let order = match &list.sort {
                        Some(s) => format!("{} DESC", s.col.expr),
                        None => format!("{} DESC", t.jobs.id),
                    };
                    in_flight.push(format!(
                        "(SELECT j.*, {carried} FROM {from} WHERE ({cond}) \
                         ORDER BY {order} LIMIT {limit})",
                        cond = range.cond,
                        carried = t.carried(),
                    ));
                }
            }
            let attempts = |source: &str| {
                format!(
                    "SELECT {kind} AS kind FROM {source} j CROSS JOIN LATERAL {elements} \
                     WHERE {at} >= {since}",
                    elements = h.elements(),
                    at = h.at_time(),
                )
            };
            let mut parts = vec![attempts("fin")];
            if !in_flight.is_empty() {
                ctes.push(format!(
                    "flight AS (SELECT * FROM ({}) j LIMIT {limit})",
                    in_flight.join(" UNION ALL ")
                ));
                parts.push(attempts("flight"));
            }
            ctes.push(format!(
                "e AS (SELECT x.kind, count(*) AS failed_attempts FROM ({}) x GROUP BY 1)",
                parts.join(" UNION ALL ")
            ));
            "coalesce(e.failed_attempts, 0)"
        }
        None => {
            ctes.push(
                "e AS (SELECT NULL::text AS kind, 0::bigint AS failed_attempts WHERE false)".into(),
            );
            "coalesce(f.dead, 0)"
        }
    };
    sql.push(&format!(
        "WITH {ctes} \
         SELECT now() AS db_now, substr(coalesce(f.kind, e.kind), 1, 200) AS kind, \
           coalesce(f.succeeded, 0) AS succeeded, coalesce(f.dead, 0) AS dead, \
           {failed} AS failed_attempts, f.run_p50, f.run_p95, f.wait_p50, \
           (SELECT CASE WHEN count(*) >= {limit} THEN min(fin.jobtop_fin) END FROM fin) \
             AS fin_since \
         FROM f FULL JOIN e ON coalesce(e.kind, '') = coalesce(f.kind, '')",
        ctes = ctes.join(", "),
    ));
    Some(sql)
}

pub async fn kinds(pool: &PgPool, t: &DrillTable, q: &KindsQuery) -> anyhow::Result<KindsReport> {
    let (mut tx, db_now) = crate::backend::engine::drill::begin(pool).await?;
    let rows = match kinds_sql(t, q) {
        Some(sql) => sql.query().fetch_all(&mut *tx).await?,
        None => Vec::new(),
    };
    tx.commit().await?;

    let mut covered_since: Option<DateTime<Utc>> = None;
    let mut kinds = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(t) = row.try_get::<Option<DateTime<Utc>>, _>("fin_since")? {
            covered_since = Some(covered_since.map_or(t, |c| c.max(t)));
        }
        kinds.push(decode::kind_stats(row)?);
    }
    sort_kinds(&mut kinds);
    Ok(KindsReport {
        db_now,
        window: q.window,
        kinds,
        covered_since,
        counted_by_hour: false,
    })
}
