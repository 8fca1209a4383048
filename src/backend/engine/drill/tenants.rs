//! Running and ready jobs per tenant, where the schema has a tenant: running jobs are few
//! and read whole (up to a generous cap); the ready backlog is read at most `ready_cap`
//! jobs per range, in its index order, so a huge backlog costs what the cap does (counts
//! then read "N+").

use crate::backend::pg::sql::{Bind, Sql};
use std::collections::BTreeMap;

use sqlx::{PgPool, Row};

use crate::backend::Count;
use crate::backend::drill::{TenantStats, TenantsQuery, TenantsReport};
use crate::backend::engine::drill::DrillTable;
use crate::backend::model::JobState;
use crate::backend::pg::decode::opt_text;

/// Running jobs read at most: far more than any fleet runs at once.
const RUNNING_CAP: i64 = 100_000;

fn running_sql(t: &DrillTable, tenant: &str, q: &TenantsQuery) -> Option<Sql> {
    let list = t.list(JobState::Running)?;
    let mut sql = Sql::default();
    let stale = sql.bind(Bind::Float(q.stale_after.as_secs_f64()));
    let cap = sql.bind(Bind::Int(RUNNING_CAP));
    let heartbeat = t
        .heartbeat_at
        .as_ref()
        .map_or("NULL::timestamptz".to_string(), |h| h.read());
    let parts: Vec<String> = list
        .ranges
        .iter()
        .map(|r| {
            format!(
                "(SELECT ({tenant})::text AS tenant, {heartbeat} AS heartbeat_at FROM {from} \
                 WHERE ({cond}) LIMIT {cap})",
                from = t.jobs.from,
                cond = r.cond,
            )
        })
        .collect();
    sql.push(&format!(
        "SELECT substr(r.tenant, 1, 200) AS tenant, count(*) AS running, \
           count(*) FILTER (WHERE r.heartbeat_at >= now() - make_interval(secs => {stale})) \
             AS beating \
         FROM ({}) r GROUP BY 1",
        parts.join(" UNION ALL ")
    ));
    Some(sql)
}

/// `capped` marks a range that reached the cap. The ORDER BY keeps each range an index
/// scan that stops at the cap.
fn ready_sql(t: &DrillTable, tenant: &str, q: &TenantsQuery) -> Option<Sql> {
    let list = t.list(JobState::Ready)?;
    let mut sql = Sql::default();
    let cap = sql.bind(Bind::Int(q.ready_cap.max(1)));
    let parts: Vec<String> = list
        .ranges
        .iter()
        .map(|r| {
            let order = match &list.sort {
                Some(s) => s.col.expr.clone(),
                None => t.jobs.id.clone(),
            };
            format!(
                "(SELECT x.tenant, count(*) OVER () AS n FROM (\
                   SELECT ({tenant})::text AS tenant FROM {from} WHERE ({cond}) \
                   ORDER BY {order} LIMIT {cap}) x)",
                from = t.jobs.from,
                cond = r.cond,
            )
        })
        .collect();
    sql.push(&format!(
        "SELECT substr(r.tenant, 1, 200) AS tenant, count(*) AS ready, \
           bool_or(r.n >= {cap}) AS capped \
         FROM ({}) r GROUP BY 1",
        parts.join(" UNION ALL ")
    ));
    Some(sql)
}

pub async fn tenants(
    pool: &PgPool,
    t: &DrillTable,
    q: &TenantsQuery,
) -> anyhow::Result<TenantsReport> {
    let Some(tenant) = &t.jobs.tenant else {
        anyhow::bail!("this queue schema has no tenants");
    };
    let (mut tx, db_now) = crate::backend::engine::drill::begin(pool).await?;
    let running = match running_sql(t, tenant, q) {
        Some(sql) => sql.query().fetch_all(&mut *tx).await?,
        None => Vec::new(),
    };
    let ready = match ready_sql(t, tenant, q) {
        Some(sql) => sql.query().fetch_all(&mut *tx).await?,
        None => Vec::new(),
    };
    tx.commit().await?;

    let mut by_tenant: BTreeMap<Option<String>, TenantStats> = BTreeMap::new();
    let blank = |tenant: Option<String>| TenantStats {
        tenant,
        running: 0,
        beating: 0,
        ready: Count::default(),
    };
    for row in &running {
        let name = opt_text(row, "tenant")?;
        let s = by_tenant.entry(name.clone()).or_insert_with(|| blank(name));
        s.running = row.try_get("running")?;
        s.beating = row.try_get("beating")?;
    }
    for row in &ready {
        let name = opt_text(row, "tenant")?;
        let s = by_tenant.entry(name.clone()).or_insert_with(|| blank(name));
        s.ready = Count {
            value: row.try_get("ready")?,
            capped: row.try_get::<Option<bool>, _>("capped")?.unwrap_or(false),
            estimated: false,
        };
    }
    let mut tenants: Vec<TenantStats> = by_tenant.into_values().collect();
    crate::backend::drill::sort_tenants(&mut tenants);
    Ok(TenantsReport { db_now, tenants })
}
