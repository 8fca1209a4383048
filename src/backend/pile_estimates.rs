//! The piles too big to count on every poll: dead jobs (a finished state that only grows),
//! scheduled ones (due in the future, often many by design) and retrying ones backing off
//! (after an outage, a queue's worth). Each is counted exactly up to
//! `SnapshotOptions::pile_cap` (100 unless an alert threshold needs more); past that it is
//! shown as the planner's estimate ("~45k"), or as "100+" while the estimate says less.
//! Every schema does this the same way: the reference one with its own statements, the
//! engine's from their state maps.
//!
//! Counting them would read every index entry on every poll: on a table of 10 M jobs with
//! 3% of them live, a cap of 10,000 on scheduled and dead alone costs ~30 ms a poll, and
//! each entry checks the visibility map page of a row somewhere in a table that churns. The
//! estimate costs the planning of one query; the planner's statistics change only when the
//! table is analyzed, so each estimate is kept for a minute, and at most a few are taken
//! per poll, so no single poll pays for all of them.
//!
//! **An estimate never contradicts an action.** Statistics lag: after `retry --limit 300`
//! of 672 dead jobs the planner still says ~680 until the table is analyzed again. So a
//! queue someone acted on since the table's last analyze (an audit row newer than it, from
//! any monitor or the command line) has its piles counted exactly, up to the count cap,
//! until the statistics catch up.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Postgres, Transaction};

use crate::backend::model::{Count, JobState, QueueStats};

/// How long an estimate is reused.
const KEEP: Duration = Duration::from_secs(60);

/// New estimates taken per poll, at most.
pub const PER_POLL: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pile {
    Scheduled,
    Retrying,
    Dead,
}

impl Pile {
    pub const ALL: [Pile; 3] = [Pile::Scheduled, Pile::Retrying, Pile::Dead];

    pub fn state(self) -> JobState {
        match self {
            Pile::Scheduled => JobState::Scheduled,
            Pile::Retrying => JobState::Retrying,
            Pile::Dead => JobState::Dead,
        }
    }

    fn of(self, q: &mut QueueStats) -> &mut Count {
        match self {
            Pile::Scheduled => &mut q.scheduled,
            Pile::Retrying => &mut q.retrying,
            Pile::Dead => &mut q.dead,
        }
    }
}

/// How to estimate and how to count one pile of one queue (`$1` the queue name).
#[derive(Debug, Clone)]
pub struct PileSql {
    /// `EXPLAIN (FORMAT JSON) SELECT 1 FROM … WHERE <pile> AND <queue> = $1`.
    pub explain: String,
    /// `SELECT count(*) FROM (SELECT 1 FROM … WHERE <pile> AND <queue> = $1 LIMIT $2) c`.
    pub count: String,
}

impl PileSql {
    /// From a `FROM` item (with its alias), the pile's condition, the condition its estimate
    /// is planned by (the pile's own, or rows the planner judges better that are the same
    /// or nearly: `StateList::estimate`) and the queue column.
    pub fn estimated_by(from: &str, condition: &str, estimate: &str, queue: &str) -> PileSql {
        let rows = |cond: &str| format!("SELECT 1 FROM {from} WHERE {cond} AND {queue} = $1");
        PileSql {
            explain: format!("EXPLAIN (FORMAT JSON) {}", rows(estimate)),
            count: format!("SELECT count(*) FROM ({} LIMIT $2) c", rows(condition)),
        }
    }
}

/// A schema's piles: the statements for each, and the table whose statistics the estimates
/// come from (its analyze time ends the exact counting after an action).
#[derive(Debug, Clone)]
pub struct Piles {
    /// `None` where the jobs are not one table (pgmq's union): then a queue acted on is
    /// counted exactly from then on, with no analyze to wait for.
    pub table: Option<String>,
    pub sql: Vec<(Pile, PileSql)>,
    /// Whether `jobtop.audit` exists to tell which queues were acted on.
    pub audit: bool,
}

/// Queues with an audit row newer than the table's last analyze (`$1`, a relation name, or
/// NULL).
const ACTED_ON_SQL: &str = "SELECT DISTINCT a.queue FROM jobtop.audit a \
     WHERE a.queue IS NOT NULL AND a.at > coalesce( \
       (SELECT greatest(s.last_analyze, s.last_autoanalyze) FROM pg_stat_all_tables s \
        WHERE s.relid = CASE WHEN $1::text IS NULL THEN NULL ELSE to_regclass($1) END), \
       '-infinity')";

/// The rows the planner expects a statement to return: `sql` is run under
/// `EXPLAIN (FORMAT JSON)`, which plans it and reads nothing.
pub async fn planned_rows(
    tx: &mut Transaction<'static, Postgres>,
    mut sql: crate::backend::pg::sql::Sql,
) -> anyhow::Result<i64> {
    sql.prepend("EXPLAIN (FORMAT JSON) ");
    let row = sql.query().fetch_one(&mut **tx).await?;
    let plan: serde_json::Value = sqlx::Row::try_get(&row, 0)?;
    Ok(plan_rows(&plan))
}

/// The top node's row estimate of an `EXPLAIN (FORMAT JSON)` plan.
fn plan_rows(plan: &serde_json::Value) -> i64 {
    plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0) as i64
}

/// Estimates per queue and pile, with when they were taken.
#[derive(Debug, Default)]
pub struct EstimateCache {
    taken: Mutex<HashMap<(String, Pile), (Instant, i64)>>,
}

impl EstimateCache {
    fn get(&self, queue: &str, pile: Pile) -> Option<i64> {
        let map = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(queue.to_string(), pile))
            .filter(|(at, _)| at.elapsed() < KEEP)
            .map(|(_, v)| *v)
    }

    fn put(&self, queue: &str, pile: Pile, value: i64) {
        let mut map = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (at, _)| at.elapsed() < KEEP);
        map.insert((queue.to_string(), pile), (Instant::now(), value));
    }
}

/// Replaces each pile that reached the pile cap: with an exact count (up to `cap`) in a
/// queue acted on since the last analyze, else with the planner's estimate when it says
/// more than the cap; at most `budget` new estimates (`PER_POLL` on a usual poll).
pub async fn past_the_cap(
    tx: &mut Transaction<'static, Postgres>,
    queues: &mut [QueueStats],
    piles: &Piles,
    cache: &EstimateCache,
    cap: i64,
    budget: usize,
) -> anyhow::Result<()> {
    let capped = |q: &QueueStats, pile: Pile| match pile {
        Pile::Scheduled => q.scheduled.capped,
        Pile::Retrying => q.retrying.capped,
        Pile::Dead => q.dead.capped,
    };
    if !queues
        .iter()
        .any(|q| piles.sql.iter().any(|(p, _)| capped(q, *p)))
    {
        return Ok(());
    }
    let acted_on: HashSet<String> = if piles.audit {
        sqlx::query_scalar(ACTED_ON_SQL)
            .bind(&piles.table)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect()
    } else {
        HashSet::new()
    };
    let mut budget = budget;
    for q in queues.iter_mut() {
        for (pile, sql) in &piles.sql {
            if !capped(q, *pile) {
                continue;
            }
            if acted_on.contains(&q.name) {
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.count.clone()))
                    .bind(&q.name)
                    .bind(cap.saturating_add(1))
                    .fetch_one(&mut **tx)
                    .await?;
                *pile.of(q) = Count::capped_at(n, cap);
                continue;
            }
            let estimate = match cache.get(&q.name, *pile) {
                Some(v) => v,
                None if budget > 0 => {
                    budget -= 1;
                    let plan: serde_json::Value =
                        sqlx::query_scalar(AssertSqlSafe(sql.explain.clone()))
                            .bind(&q.name)
                            .fetch_one(&mut **tx)
                            .await?;
                    let rows = plan_rows(&plan);
                    cache.put(&q.name, *pile, rows);
                    rows
                }
                // Next poll's turn; "100+" until then.
                None => continue,
            };
            let count = pile.of(q);
            if estimate > count.value {
                *count = Count {
                    value: estimate,
                    capped: false,
                    estimated: true,
                };
            }
        }
    }
    Ok(())
}
