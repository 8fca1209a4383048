//! Planner estimates for the counts too big to count: a queue's dead-letter pile past the
//! count cap is shown as "~45k" (the planner's estimate) rather than "10k+".
//!
//! Counting a million dead jobs would read a million index entries on every poll; the
//! planner's statistics (per-column, and the `(queue, state)` statistics object of the
//! schema, so a pile in one queue is not spread over all of them) give the figure for the
//! price of planning one query. They change only when the table is analyzed, so each
//! queue's estimate is kept for a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::{Postgres, Transaction};

use crate::backend::model::{Count, QueueStats};

/// How long an estimate is reused.
const KEEP: Duration = Duration::from_secs(60);

/// The same predicate as the dead count of the overview (and `jobs_dead_idx`).
const ESTIMATE_DEAD_SQL: &str =
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM jobtop.jobs j WHERE j.state = 'dead' AND j.queue = $1";

/// Estimates per queue, with when they were taken.
#[derive(Debug, Default)]
pub struct EstimateCache {
    dead: Mutex<HashMap<String, (Instant, i64)>>,
}

impl EstimateCache {
    fn get(&self, queue: &str) -> Option<i64> {
        let map = self.dead.lock().unwrap_or_else(|e| e.into_inner());
        map.get(queue)
            .filter(|(at, _)| at.elapsed() < KEEP)
            .map(|(_, v)| *v)
    }

    fn put(&self, queue: &str, value: i64) {
        let mut map = self.dead.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (at, _)| at.elapsed() < KEEP);
        map.insert(queue.to_string(), (Instant::now(), value));
    }
}

/// Replaces each dead count that reached the cap with the planner's estimate, when the
/// estimate says more than the cap.
pub async fn dead_past_the_cap(
    tx: &mut Transaction<'static, Postgres>,
    queues: &mut [QueueStats],
    cache: &EstimateCache,
) -> anyhow::Result<()> {
    for q in queues.iter_mut().filter(|q| q.dead.capped) {
        let estimate = match cache.get(&q.name) {
            Some(v) => v,
            None => {
                let plan: serde_json::Value = sqlx::query_scalar(ESTIMATE_DEAD_SQL)
                    .bind(&q.name)
                    .fetch_one(&mut **tx)
                    .await?;
                let rows = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0) as i64;
                cache.put(&q.name, rows);
                rows
            }
        };
        if estimate > q.dead.value {
            q.dead = Count {
                value: estimate,
                capped: false,
                estimated: true,
            };
        }
    }
    Ok(())
}
