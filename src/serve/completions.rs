//! Succeeded and failed completions as Prometheus counters, from the per-minute throughput.
//!
//! The snapshot carries the last hour of completions per queue and minute, not a running
//! total, and jobtop keeps no state between runs (serve is read-only). A counter that
//! `rate()` and `increase()` read correctly across jobtop restarts is built thus:
//!
//! - Only *final* minutes are counted: the minute cache re-reads the open minute and the one
//!   before it on every poll (a row is stamped with its transaction's start, so it can
//!   appear after its minute ended); minutes older than that do not change. A minute is
//!   added once, when it becomes final, so the counter only grows; the figures lag the
//!   database by one to two minutes, which a `rate()` over 5 minutes or more absorbs.
//! - The hour already in the history at start-up is *not* added: the counter starts at 0
//!   when serve starts. A restart is then an ordinary counter reset (the value drops to 0),
//!   which `rate()` detects and bridges; had it started at the hour's total, a restart
//!   would count that hour a second time (a drop from N to the hour's total reads as a
//!   reset followed by the whole hour again). What a restart loses instead is the minutes
//!   that became final while no serve was running (about one for a quick restart): an
//!   undercount, never a double count.
//! - While the database is away nothing is added; on its return every minute that became
//!   final meanwhile and is still in the hour's history is added in one step.
//!
//! A fixed origin (completions since an epoch) cannot be computed from an hour of history,
//! and a deterministic origin that moves (since the top of each hour) would reset on its
//! own every hour, where a reset followed by one busy minute can be read as no reset at all.
//! `jobtop_completions_counted_since_timestamp_seconds` says when counting began: the
//! counter's created time (the encoder writes no `_created` series).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::backend::Snapshot;

/// The open minute and the one before it are re-read on every poll (`minute_cache`).
const NOT_FINAL_MINUTES: i64 = 2;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub succeeded: u64,
    /// Attempts that ended in failure (retried or dead).
    pub failed: u64,
}

#[derive(Debug, Default)]
pub struct Completions {
    /// Epoch minutes up to and including this one are counted.
    counted_through: Option<i64>,
    /// When counting began (the database clock of the first snapshot).
    pub since: Option<DateTime<Utc>>,
    /// Per queue that has completion history; queues stay once seen.
    pub per_queue: BTreeMap<String, Totals>,
}

impl Completions {
    pub fn observe(&mut self, snap: &Snapshot) {
        let now_minute = snap.db_now.timestamp().div_euclid(60);
        let final_through = now_minute - NOT_FINAL_MINUTES;
        let from = match self.counted_through {
            Some(from) => from,
            None => {
                self.since = Some(snap.db_now);
                final_through
            }
        };
        for q in snap.queues.iter().filter(|q| !q.minutes.is_empty()) {
            let totals = self.per_queue.entry(q.name.clone()).or_default();
            // The last bucket is the open minute.
            let first = now_minute - (q.minutes.len() as i64 - 1);
            for (minute, bucket) in (first..).zip(&q.minutes) {
                if minute > from && minute <= final_through {
                    totals.succeeded += u64::from(bucket.succeeded);
                    totals.failed += u64::from(bucket.failed);
                }
            }
        }
        // A clock that stepped back counts nothing until it is past where it was.
        self.counted_through = Some(from.max(final_through));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{MinuteBucket, QueueStats};
    use chrono::TimeZone;

    fn snap(minute: i64, second: i64, buckets: &[(u32, u32)]) -> Snapshot {
        let mut q = QueueStats::new("mail");
        q.minutes = buckets
            .iter()
            .map(|&(succeeded, failed)| MinuteBucket { succeeded, failed })
            .collect();
        Snapshot {
            db_now: Utc.timestamp_opt(minute * 60 + second, 0).unwrap(),
            queues: vec![q],
            workers: vec![],
            count_cap: 100,
            running_by_tenant: None,
            schedules: None,
        }
    }

    #[test]
    fn counts_each_final_minute_once_and_never_the_history_before_start() {
        let mut c = Completions::default();
        // Minutes 97..=100 with 100 open: the hour before start is not counted.
        c.observe(&snap(100, 5, &[(1, 0), (2, 0), (3, 1), (4, 0)]));
        assert_eq!(c.per_queue["mail"], Totals::default());
        // Same minute again: nothing new is final.
        c.observe(&snap(100, 30, &[(1, 0), (2, 0), (3, 1), (9, 0)]));
        assert_eq!(c.per_queue["mail"], Totals::default());
        // Minute 101 opens: minute 99 becomes final (re-read figures for 99 and 100 count).
        c.observe(&snap(101, 1, &[(2, 0), (5, 2), (9, 3), (0, 0)]));
        assert_eq!(
            c.per_queue["mail"],
            Totals {
                succeeded: 5,
                failed: 2
            }
        );
        // The database was away for minutes 102..=104: all final ones are added at once.
        c.observe(&snap(105, 0, &[(9, 3), (1, 0), (1, 1), (1, 0), (7, 0)]));
        assert_eq!(
            c.per_queue["mail"],
            Totals {
                succeeded: 5 + 9 + 1 + 1,
                failed: 2 + 3 + 1
            }
        );
        // A clock step back adds nothing.
        c.observe(&snap(103, 0, &[(100, 100), (100, 100), (0, 0)]));
        assert_eq!(c.per_queue["mail"].succeeded, 16);
    }
}
