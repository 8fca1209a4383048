//! What the benchmark measures besides the overview poll itself: each overview query on its
//! own under `EXPLAIN (ANALYZE, BUFFERS)` (another schema's statements too), and which server
//! processes serve a given application.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{AssertSqlSafe, PgPool};

use super::minutes::MINUTES_SQL;
use super::snapshot::{QUEUES_SQL, WORKERS_SQL};

const CURRENT_MINUTE_SQL: &str = "SELECT floor(extract(epoch FROM now()) / 60)::bigint";

const PIDS_SQL: &str = "SELECT pid FROM pg_stat_activity WHERE application_name = $1";

/// One query the benchmark runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The overview's per-queue counts, capped at `cap`.
    Queues {
        cap: i64,
    },
    /// The throughput history from epoch minute `from` on.
    Minutes {
        from: i64,
    },
    Workers,
}

enum Bind {
    None,
    /// A minutes statement's range: from this epoch minute up to now.
    From(i64),
    Caps(i64, i64),
}

impl Probe {
    fn sql_and_bind(&self) -> (&'static str, Bind) {
        match self {
            Probe::Queues { cap } => (
                QUEUES_SQL,
                Bind::Caps(
                    cap.saturating_add(1),
                    (*cap).min(crate::backend::PILE_CAP).saturating_add(1),
                ),
            ),
            Probe::Minutes { from } => (MINUTES_SQL, Bind::From(*from)),
            Probe::Workers => (WORKERS_SQL, Bind::None),
        }
    }

    /// The SQL text, for the report.
    pub fn sql(&self) -> &'static str {
        self.sql_and_bind().0
    }
}

/// What `EXPLAIN (ANALYZE, BUFFERS)` says about one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PlanFigures {
    pub execution_ms: f64,
    pub planning_ms: f64,
    /// Shared buffers found in cache and read in, over the whole plan.
    pub buffers_hit: i64,
    pub buffers_read: i64,
    pub rows: i64,
}

impl PlanFigures {
    pub fn buffers(&self) -> i64 {
        self.buffers_hit + self.buffers_read
    }
}

/// Runs a monitoring statement (`cap`: it binds `$1`) under `EXPLAIN (ANALYZE, BUFFERS)`;
/// for another schema's statements, which doctor lists.
pub async fn explain_text(pool: &PgPool, sql: &str, cap: Option<i64>) -> Result<PlanFigures> {
    let text = AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"));
    let query = sqlx::query_scalar::<_, serde_json::Value>(text);
    let query = match cap {
        Some(cap) => query.bind(cap),
        None => query,
    };
    Ok(plan_figures(&query.fetch_one(pool).await?))
}

/// Runs a monitoring statement and fetches every row; the wall time seen by the client.
pub async fn run_text(pool: &PgPool, sql: &str, cap: Option<i64>) -> Result<Duration> {
    let query = sqlx::query(AssertSqlSafe(sql.to_string()));
    let query = match cap {
        Some(cap) => query.bind(cap),
        None => query,
    };
    let started = Instant::now();
    query.fetch_all(pool).await?;
    Ok(started.elapsed())
}

/// Runs `probe` under `EXPLAIN (ANALYZE, BUFFERS)`.
pub async fn explain(pool: &PgPool, probe: &Probe) -> Result<PlanFigures> {
    let (sql, bind) = probe.sql_and_bind();
    // `sql` is one of this file's constants.
    let text = AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"));
    let query = sqlx::query_scalar::<_, serde_json::Value>(text);
    let query = match bind {
        Bind::None => query,
        Bind::From(v) => query.bind(v).bind(f64::INFINITY),
        Bind::Caps(a, b) => query.bind(a).bind(b),
    };
    let plan = query
        .fetch_one(pool)
        .await
        .with_context(|| format!("EXPLAIN of {probe:?}"))?;
    Ok(plan_figures(&plan))
}

fn plan_figures(explained: &serde_json::Value) -> PlanFigures {
    let top = &explained[0];
    let node = &top["Plan"];
    let int = |v: &serde_json::Value| v.as_i64().unwrap_or(0);
    PlanFigures {
        execution_ms: top["Execution Time"].as_f64().unwrap_or(0.0),
        planning_ms: top["Planning Time"].as_f64().unwrap_or(0.0),
        buffers_hit: int(&node["Shared Hit Blocks"]),
        buffers_read: int(&node["Shared Read Blocks"]),
        rows: int(&node["Actual Rows"]),
    }
}

/// Runs `probe` and fetches every row; the wall time seen by the client.
pub async fn run(pool: &PgPool, probe: &Probe) -> Result<Duration> {
    let (sql, bind) = probe.sql_and_bind();
    let query = sqlx::query(sql);
    let query = match bind {
        Bind::None => query,
        Bind::From(v) => query.bind(v).bind(f64::INFINITY),
        Bind::Caps(a, b) => query.bind(a).bind(b),
    };
    let started = Instant::now();
    query
        .fetch_all(pool)
        .await
        .with_context(|| format!("running {probe:?}"))?;
    Ok(started.elapsed())
}

/// The epoch minute of the database clock.
pub async fn current_minute(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(CURRENT_MINUTE_SQL)
        .fetch_one(pool)
        .await?)
}

/// Server process ids of the sessions that carry `application_name`.
pub async fn pids_of(pool: &PgPool, application_name: &str) -> Result<Vec<i32>> {
    Ok(sqlx::query_scalar(PIDS_SQL)
        .bind(application_name)
        .fetch_all(pool)
        .await?)
}

/// The server process serving this session, the server's version and its connection limit.
pub async fn server_facts(pool: &PgPool) -> Result<(i32, String, i64)> {
    Ok(sqlx::query_as(
        "SELECT pg_backend_pid(), current_setting('server_version'),
                current_setting('max_connections')::bigint",
    )
    .fetch_one(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_figures_come_from_the_top_node() {
        let v = serde_json::json!([{
            "Plan": {"Node Type": "Aggregate", "Actual Rows": 3,
                     "Shared Hit Blocks": 120, "Shared Read Blocks": 5,
                     "Plans": [{"Shared Hit Blocks": 100}]},
            "Planning Time": 0.2, "Execution Time": 1.5
        }]);
        let f = plan_figures(&v);
        assert_eq!((f.buffers(), f.rows), (125, 3));
        assert_eq!((f.execution_ms, f.planning_ms), (1.5, 0.2));
    }
}
