//! The queue list on a slower clock, for every schema that lists its queues by a statement
//! of its own (`Statements::queue_names`; pgmq reads `pgmq.meta` on the same clock).
//!
//! Queues come and go rarely, while enumerating them walks an index over every live (or,
//! on some schemas, every) job: a River poll's largest cost at 10 M rows, and 55k of the
//! 69k buffers of a jobforge profile's poll. So the list is read every `QUEUE_LIST_EVERY`,
//! and at once when it may be wrong:
//! - after an action anyone took since it was read (an audit row newer than it: an action
//!   can empty a queue or, through a pause table, name one);
//! - when a poll sees jobs of a queue the list lacks (a pass or the completions per minute
//!   name it): read again on the next poll, once for each such name, so a queue the list
//!   statement never names (its completions kept in the minute cache after a purge) cannot
//!   make every poll read the list.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use crate::backend::engine::tally;

/// How often the queue list is read again.
pub const QUEUE_LIST_EVERY: Duration = Duration::from_secs(30);

/// The list a backend's polls keep, and how often it was read.
#[derive(Debug, Default)]
pub struct QueueList {
    state: Mutex<State>,
    reads: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    listed: Option<Listed>,
    /// Names a poll saw outside the list, read again for once already.
    unlisted: HashSet<String>,
}

#[derive(Debug)]
struct Listed {
    /// When it was read, on this machine's clock (its age says when it is due).
    at: Instant,
    /// When it was read, on the database's clock (actions are compared with it).
    db_at: DateTime<Utc>,
    names: Vec<String>,
}

impl QueueList {
    /// The queue names: the list kept, unless it is due (older than `QUEUE_LIST_EVERY`,
    /// forgotten, or older than an action `actions` tells of), then read by `sql`
    /// (column: name) in the poll's transaction.
    pub async fn names(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        sql: &str,
        actions: &tally::LastAction,
        db_now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<String>> {
        let kept = {
            let state = self.lock();
            state
                .listed
                .as_ref()
                .filter(|l| l.at.elapsed() < QUEUE_LIST_EVERY)
                .map(|l| (l.db_at, l.names.clone()))
        };
        if let Some((db_at, names)) = kept
            && !actions.since(tx, db_at).await?
        {
            return Ok(names);
        }
        let names: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut **tx)
            .await?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.lock().listed = Some(Listed {
            at: Instant::now(),
            db_at: db_now,
            names: names.clone(),
        });
        Ok(names)
    }

    /// Reads the list again on the next poll.
    pub fn forget(&self) {
        self.lock().listed = None;
    }

    /// A poll saw jobs of the queues `seen`: one that `listed` (the names it was given)
    /// lacks, and that was not read again for before, makes the next poll read the list.
    pub fn saw<'a>(&self, listed: &[String], seen: impl IntoIterator<Item = &'a str>) {
        // Linear in the queues: a poll of 10,000 queues sees them all.
        let listed: HashSet<&str> = listed.iter().map(String::as_str).collect();
        let mut state = self.lock();
        let mut due = false;
        for name in seen {
            if !listed.contains(name) && state.unlisted.insert(name.to_string()) {
                due = true;
            }
        }
        if due {
            state.listed = None;
        }
    }

    /// How many times the list was read (the tests tell a poll that read it from one that
    /// did not).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(list: &QueueList, names: &[&str]) {
        list.lock().listed = Some(Listed {
            at: Instant::now(),
            db_at: Utc::now(),
            names: names.iter().map(|n| n.to_string()).collect(),
        });
    }

    #[test]
    fn a_queue_seen_outside_the_list_makes_it_due_once() {
        let list = QueueList::default();
        read(&list, &["a"]);
        let listed = vec!["a".to_string()];
        list.saw(&listed, ["a"]);
        assert!(
            list.lock().listed.is_some(),
            "a listed queue changes nothing"
        );
        list.saw(&listed, ["a", "b"]);
        assert!(list.lock().listed.is_none(), "a new queue: read again");
        read(&list, &["a"]);
        list.saw(&listed, ["b"]);
        assert!(
            list.lock().listed.is_some(),
            "a name the list statement never gives is not read again on every poll"
        );
    }
}
