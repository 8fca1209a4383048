//! Running and ready jobs per tenant, for the heartbeat budget (the JobForge runbook's
//! "expected heartbeats per minute"). Running jobs are few and read in full off the
//! running index; the ready backlog is read at most `ready_cap` jobs per queue and range,
//! so a million-job backlog costs what ten thousand do (counts then read "N+").

use std::collections::BTreeMap;

use sqlx::{PgPool, Row};

use crate::backend::Count;
use crate::backend::drill::{TenantStats, TenantsQuery, TenantsReport};
use crate::backend::pg::decode::opt_text;

/// `$1` stale after, in seconds.
const RUNNING_SQL: &str = r#"
SELECT substr(j.tenant_id, 1, 200) AS tenant, count(*) AS running,
  count(*) FILTER (WHERE j.heartbeat_at >= now() - make_interval(secs => $1)) AS beating
FROM jobtop.jobs j
WHERE j.state = 'running'
GROUP BY 1
"#;

/// `$1` cap per queue and range. `capped` marks a (queue, range) that reached the cap. The
/// ORDER BY is what keeps each range an index scan that stops at the cap: without it a
/// LIMIT looks cheap enough to the planner to find by scanning the table.
const READY_SQL: &str = r#"
SELECT substr(r.tenant_id, 1, 200) AS tenant, count(*) AS ready,
  bool_or(r.n >= $1) AS capped
FROM jobtop.queues q
CROSS JOIN LATERAL (
  SELECT t.tenant_id, count(*) OVER () AS n FROM (
    SELECT j.tenant_id FROM jobtop.jobs j
    WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
      AND j.state = 'queued' AND j.run_at <= now()
    ORDER BY j.run_at
    LIMIT $1) t
  UNION ALL
  SELECT t.tenant_id, count(*) OVER () AS n FROM (
    SELECT j.tenant_id FROM jobtop.jobs j
    WHERE j.state IN ('queued', 'retrying') AND j.queue = q.name
      AND j.state = 'retrying' AND j.run_at <= now()
    ORDER BY j.run_at
    LIMIT $1) t
) r
GROUP BY 1
"#;

pub async fn tenants(pool: &PgPool, q: &TenantsQuery) -> anyhow::Result<TenantsReport> {
    let (mut tx, db_now) = crate::backend::pg::read::begin(pool).await?;
    let running = sqlx::query(RUNNING_SQL)
        .bind(q.stale_after.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
    let ready = sqlx::query(READY_SQL)
        .bind(q.ready_cap.max(1))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut by_tenant: BTreeMap<Option<String>, TenantStats> = BTreeMap::new();
    let entry = |m: &mut BTreeMap<Option<String>, TenantStats>, t: Option<String>| {
        m.entry(t.clone())
            .or_insert_with(|| TenantStats {
                tenant: t,
                running: 0,
                beating: 0,
                ready: Count::default(),
            })
            .clone()
    };
    for row in &running {
        let tenant = opt_text(row, "tenant")?;
        let mut s = entry(&mut by_tenant, tenant.clone());
        s.running = row.try_get("running")?;
        s.beating = row.try_get("beating")?;
        by_tenant.insert(tenant, s);
    }
    for row in &ready {
        let tenant = opt_text(row, "tenant")?;
        let mut s = entry(&mut by_tenant, tenant.clone());
        s.ready = Count {
            value: row.try_get("ready")?,
            capped: row.try_get::<Option<bool>, _>("capped")?.unwrap_or(false),
            estimated: false,
        };
        by_tenant.insert(tenant, s);
    }
    let mut tenants: Vec<TenantStats> = by_tenant.into_values().collect();
    crate::backend::drill::sort_tenants(&mut tenants);
    Ok(TenantsReport { db_now, tenants })
}
