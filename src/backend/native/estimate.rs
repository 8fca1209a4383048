//! Planner estimates for the piles too big to count on every poll: the dead-letter jobs (a
//! finished state that only grows), the scheduled ones (due in the future, often many by
//! design) and the retrying ones backing off (after an outage, a queue's worth). Each is
//! counted exactly up to `SnapshotOptions::pile_cap` (100 unless an alert threshold needs
//! more); past that it is shown as the planner's estimate ("~45k"), or as "100+" while the
//! estimate says less.
//!
//! Counting them would read every index entry on every poll: on a table of 10 M jobs with
//! 3% of them live, a cap of 10,000 on scheduled and dead alone costs ~30 ms a poll; at
//! 50 M, counting retrying jobs up to 10,000 was 24k of the poll's 30k buffers (the index
//! entries are few pages, but each checks the visibility map page of a row somewhere in
//! the table). The estimate
//! costs the planning of one query, and the planner's statistics (per column, and the
//! schema's `(queue, state)` statistics object, so a pile in one queue is not spread over
//! all of them) change only when the table is analyzed: each estimate is kept for a minute,
//! and at most a few are taken per poll, so no single poll pays for all of them.
//!
//! The states an operator acts on right now (ready, running) stay exact up to the monitor's
//! count cap.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::{Postgres, Transaction};

use crate::backend::model::{Count, QueueStats};

/// How long an estimate is reused.
const KEEP: Duration = Duration::from_secs(60);

/// New estimates taken per poll, at most.
const PER_POLL: usize = 4;

/// The same predicates as the counts of the overview (and the indexes they use).
const ESTIMATE_DEAD_SQL: &str =
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM jobtop.jobs j WHERE j.state = 'dead' AND j.queue = $1";
const ESTIMATE_SCHEDULED_SQL: &str = "EXPLAIN (FORMAT JSON) SELECT 1 FROM jobtop.jobs j \
     WHERE j.state IN ('queued', 'retrying') AND j.queue = $1 \
       AND j.state = 'queued' AND j.run_at > now()";
const ESTIMATE_RETRYING_SQL: &str = "EXPLAIN (FORMAT JSON) SELECT 1 FROM jobtop.jobs j \
     WHERE j.state IN ('queued', 'retrying') AND j.queue = $1 \
       AND j.state = 'retrying' AND j.run_at > now()";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pile {
    Scheduled,
    Retrying,
    Dead,
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

/// Replaces each scheduled, retrying or dead count that reached its cap with the planner's estimate,
/// when the estimate says more than the cap.
pub async fn past_the_cap(
    tx: &mut Transaction<'static, Postgres>,
    queues: &mut [QueueStats],
    cache: &EstimateCache,
) -> anyhow::Result<()> {
    let mut budget = PER_POLL;
    for q in queues.iter_mut() {
        for pile in [Pile::Scheduled, Pile::Retrying, Pile::Dead] {
            let count = match pile {
                Pile::Scheduled => &mut q.scheduled,
                Pile::Retrying => &mut q.retrying,
                Pile::Dead => &mut q.dead,
            };
            if !count.capped {
                continue;
            }
            let estimate = match cache.get(&q.name, pile) {
                Some(v) => v,
                None if budget > 0 => {
                    budget -= 1;
                    let sql = match pile {
                        Pile::Scheduled => ESTIMATE_SCHEDULED_SQL,
                        Pile::Retrying => ESTIMATE_RETRYING_SQL,
                        Pile::Dead => ESTIMATE_DEAD_SQL,
                    };
                    let plan: serde_json::Value = sqlx::query_scalar(sql)
                        .bind(&q.name)
                        .fetch_one(&mut **tx)
                        .await?;
                    let rows = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0) as i64;
                    cache.put(&q.name, pile, rows);
                    rows
                }
                // Next poll's turn; "100+" until then.
                None => continue,
            };
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
