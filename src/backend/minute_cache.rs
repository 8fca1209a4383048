//! The throughput history's cache: completions per queue, kind and minute over the last hour,
//! read incrementally by every schema (the reference one and the engine's).
//!
//! Re-reading the whole hour on every poll costs in proportion to the hour's traffic: at a
//! hundred failed attempts a second that is a third of a million `errors` entries to unnest,
//! about a second per poll. A minute that ended a while ago does not change any more, so the
//! backend keeps the minutes it has read and re-reads only the recent ones.
//!
//! "A while ago" is one whole minute: `complete()` and `fail()` stamp a row with their
//! transaction's start time, so a row can become visible after its minute has ended, but
//! only as late as the writing transaction's length. The still-open minute and the one
//! before it are re-read on every poll; a transaction that commits more than a minute after
//! it started is counted only by a full re-read: a new monitor, a clock step, and every
//! `FULL_REREAD_EVERY` minutes, so that rows that arrive late (a long transaction, history
//! loaded by hand, a restored backup) show up within minutes instead of never.
//!
//! Minutes once read are kept even when their rows later go away (a purge, a retried job
//! losing its `finished_at`): the history says what happened, not what is left.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

use crate::backend::model::HISTORY_MINUTES;
use crate::backend::model::{KindOutcomes, MinuteBucket, QueueStats};

/// Minutes re-read on every poll: the open one and the one before it.
const REREAD_MINUTES: i64 = 2;

/// The whole hour is read again this often (in minutes of the database clock).
pub const FULL_REREAD_EVERY: i64 = 5;

/// Per kind, per epoch minute.
type ByKind = HashMap<String, BTreeMap<i64, MinuteBucket>>;

/// The minutes read so far, shared by the polls of one backend.
#[derive(Debug, Default)]
pub struct MinuteCache {
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// Minutes before this one are final; `None` until the first read.
    final_before: Option<i64>,
    /// The epoch minute of the last read that covered the whole hour.
    last_full: Option<i64>,
    /// The database clock of the read that filled the cache: an older read (two polls
    /// overlapping) must not overwrite a newer one.
    read_at: Option<DateTime<Utc>>,
    /// A read had rows without a kind (the table has no kind column: the statement says so
    /// with a NULL kind; a NULL in a kind column is read as 'unknown'): no per-kind figures.
    kindless: bool,
    /// Per queue, kind and minute.
    buckets: HashMap<String, ByKind>,
}

/// One row of `MINUTES_SQL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteRow {
    pub queue: String,
    /// `None` where the table keeps no kind.
    pub kind: Option<String>,
    pub minute: i64,
    pub succeeded: i64,
    pub failed: i64,
}

impl MinuteCache {
    /// Forgets everything: the next read covers the whole hour.
    pub fn clear(&self) {
        *self.lock() = CacheState::default();
    }

    /// The first epoch minute a read at `current` (the epoch minute of the database clock)
    /// must cover.
    pub fn read_from(&self, current: i64) -> i64 {
        let window_start = current - (HISTORY_MINUTES as i64 - 1);
        let state = self.lock();
        if state
            .last_full
            .is_none_or(|m| current - m >= FULL_REREAD_EVERY || m > current)
        {
            return window_start;
        }
        match state.final_before {
            // A clock that went back would leave stale "final" minutes ahead of it.
            Some(f) if f <= current => f.max(window_start),
            _ => window_start,
        }
    }

    /// Takes in the rows of a read that covered `from..=current` at database time `at`,
    /// then fills every queue's 60 buckets (the current minute last) and its per-kind
    /// totals over them.
    pub fn merge_and_fill(
        &self,
        at: DateTime<Utc>,
        from: i64,
        rows: Vec<MinuteRow>,
        queues: &mut [QueueStats],
    ) {
        let current = at.timestamp().div_euclid(60);
        let window_start = current - (HISTORY_MINUTES as i64 - 1);
        let mut state = self.lock();
        let newest = state.read_at.is_none_or(|prev| at >= prev);
        state.kindless |= rows.iter().any(|r| r.kind.is_none());
        let fresh = group(rows);
        if newest {
            if state.final_before.is_none_or(|f| f > current || from > f) {
                // First read, clock went back, or a gap the read did not cover.
                state.buckets.clear();
            }
            for kinds in state.buckets.values_mut() {
                for minutes in kinds.values_mut() {
                    minutes.retain(|&m, _| m >= window_start && m < from);
                }
                kinds.retain(|_, minutes| !minutes.is_empty());
            }
            state.buckets.retain(|_, kinds| !kinds.is_empty());
            for (queue, kinds) in &fresh {
                let cached = state.buckets.entry(queue.clone()).or_default();
                for (kind, minutes) in kinds {
                    cached
                        .entry(kind.clone())
                        .or_default()
                        .extend(minutes.iter().map(|(m, b)| (*m, *b)));
                }
            }
            state.final_before = Some(from.max(current - (REREAD_MINUTES - 1)));
            state.read_at = Some(at);
            if from <= window_start {
                state.last_full = Some(current);
            }
        }
        let empty = ByKind::new();
        for q in queues.iter_mut() {
            // An overlapping older read answers from its own rows for what it read, and
            // from the cache for the minutes before.
            let cached = state.buckets.get(&q.name).unwrap_or(&empty);
            let own = fresh.get(&q.name).unwrap_or(&empty);
            let mut slots = vec![MinuteBucket::default(); HISTORY_MINUTES];
            let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for kind in cached.keys().chain(own.keys()) {
                if kinds.contains_key(kind.as_str()) {
                    continue;
                }
                let mut total = (0u64, 0u64);
                for (slot, bucket) in slots.iter_mut().enumerate() {
                    let minute = window_start + slot as i64;
                    let source = if newest || minute < from { cached } else { own };
                    if let Some(b) = source.get(kind).and_then(|m| m.get(&minute)) {
                        bucket.succeeded = bucket.succeeded.saturating_add(b.succeeded);
                        bucket.failed = bucket.failed.saturating_add(b.failed);
                        total.0 += b.succeeded as u64;
                        total.1 += b.failed as u64;
                    }
                }
                kinds.insert(kind, total);
            }
            q.minutes = slots;
            if state.kindless {
                q.kinds = None;
                continue;
            }
            q.kinds = Some(
                kinds
                    .into_iter()
                    .filter(|(_, (ok, failed))| ok + failed > 0)
                    .map(|(kind, (succeeded, failed))| KindOutcomes {
                        kind: kind.to_string(),
                        succeeded,
                        failed,
                    })
                    .collect(),
            );
        }
    }

    /// The queues with completions in the minutes kept.
    pub fn queues(&self) -> Vec<String> {
        self.lock().buckets.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // The state stays consistent at every await-free step; a panic elsewhere while
        // holding the lock cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn group(rows: Vec<MinuteRow>) -> HashMap<String, ByKind> {
    let mut out: HashMap<String, ByKind> = HashMap::new();
    for row in rows {
        let bucket = out
            .entry(row.queue)
            .or_default()
            .entry(row.kind.unwrap_or_default())
            .or_default()
            .entry(row.minute)
            .or_default();
        bucket.succeeded = bucket.succeeded.saturating_add(clamp_u32(row.succeeded));
        bucket.failed = bucket.failed.saturating_add(clamp_u32(row.failed));
    }
    out
}

fn clamp_u32(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}

/// Reads the minutes not yet final with `sql` (columns queue, kind, minute, succeeded,
/// failed; `$1` the first epoch minute to read), inside the snapshot's transaction, and fills
/// `queues`.
pub async fn read(
    tx: &mut Transaction<'static, Postgres>,
    sql: &str,
    db_now: DateTime<Utc>,
    queues: &mut [QueueStats],
    cache: &MinuteCache,
) -> anyhow::Result<()> {
    let from = cache.read_from(db_now.timestamp().div_euclid(60));
    // Up to now: the open minute is read too.
    let rows = read_rows(&mut **tx, sql, from, f64::INFINITY).await?;
    cache.merge_and_fill(db_now, from, rows, queues);
    Ok(())
}

/// Runs a minutes statement over the epoch minutes `from..until` (`until` exclusive, a float
/// so that the live poll can say infinity).
pub async fn read_rows<'c, E>(
    executor: E,
    sql: &str,
    from: i64,
    until: f64,
) -> anyhow::Result<Vec<MinuteRow>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let rows = sqlx::query(AssertSqlSafe(sql.to_string()))
        .bind(from)
        .bind(until)
        .fetch_all(executor)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(MinuteRow {
                queue: row.try_get("queue")?,
                kind: row.try_get("kind")?,
                minute: row.try_get("minute")?,
                succeeded: row.try_get("succeeded")?,
                failed: row.try_get("failed")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at_minute(m: i64, sec: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(m * 60 + sec, 0).unwrap()
    }

    fn row(queue: &str, minute: i64, succeeded: i64, failed: i64) -> MinuteRow {
        MinuteRow {
            queue: queue.into(),
            kind: Some("k".into()),
            minute,
            succeeded,
            failed,
        }
    }

    fn fill(cache: &MinuteCache, at: DateTime<Utc>, rows: Vec<MinuteRow>) -> Vec<(u32, u32)> {
        let current = at.timestamp().div_euclid(60);
        let from = cache.read_from(current);
        let rows = rows.into_iter().filter(|r| r.minute >= from).collect();
        let mut queues = vec![QueueStats::new("q")];
        cache.merge_and_fill(at, from, rows, &mut queues);
        queues[0]
            .minutes
            .iter()
            .map(|b| (b.succeeded, b.failed))
            .collect()
    }

    #[test]
    fn first_read_covers_the_hour_then_only_the_last_two_minutes() {
        let cache = MinuteCache::default();
        assert_eq!(cache.read_from(1000), 941);
        let got = fill(
            &cache,
            at_minute(1000, 10),
            vec![
                row("q", 941, 1, 0),
                row("q", 990, 2, 1),
                row("q", 1000, 3, 0),
            ],
        );
        assert_eq!(got[0], (1, 0));
        assert_eq!(got[49], (2, 1));
        assert_eq!(got[59], (3, 0));
        assert_eq!(cache.read_from(1000), 999);
        // A later read of minutes 999..=1000 replaces them and keeps the rest.
        let got = fill(&cache, at_minute(1000, 40), vec![row("q", 1000, 7, 2)]);
        assert_eq!((got[0], got[49], got[59]), ((1, 0), (2, 1), (7, 2)));
    }

    #[test]
    fn minutes_slide_out_of_the_window_and_the_previous_minute_is_reread() {
        let cache = MinuteCache::default();
        fill(
            &cache,
            at_minute(1000, 50),
            vec![row("q", 941, 5, 0), row("q", 1000, 1, 0)],
        );
        assert_eq!(cache.read_from(1001), 999);
        // Minute 1000 got a late commit; minute 941 left the window.
        let got = fill(
            &cache,
            at_minute(1001, 5),
            vec![row("q", 1000, 4, 0), row("q", 1001, 1, 1)],
        );
        assert_eq!(got.iter().filter(|b| **b != (0, 0)).count(), 2);
        assert_eq!((got[58], got[59]), ((4, 0), (1, 1)));
    }

    #[test]
    fn the_whole_hour_is_read_again_every_few_minutes() {
        let cache = MinuteCache::default();
        let start = 1_000_000;
        // The first read is empty: the rows of the hour arrive after it.
        fill(&cache, at_minute(start, 10), vec![]);
        for m in 1..FULL_REREAD_EVERY {
            let from = cache.read_from(start + m);
            assert!(
                from >= start + m - 2,
                "minute {m}: only the recent minutes, not {from}"
            );
            fill(&cache, at_minute(start + m, 10), vec![]);
        }
        let current = start + FULL_REREAD_EVERY;
        assert_eq!(
            cache.read_from(current),
            current - (HISTORY_MINUTES as i64 - 1)
        );
        let late = vec![row("q", start - 30, 7, 1)];
        let slots = fill(&cache, at_minute(current, 10), late);
        assert_eq!(
            slots[HISTORY_MINUTES - 1 - (current - (start - 30)) as usize],
            (7, 1)
        );
    }

    #[test]
    fn a_long_pause_or_a_clock_step_back_reads_the_whole_hour_again() {
        let cache = MinuteCache::default();
        fill(&cache, at_minute(1000, 0), vec![row("q", 990, 1, 0)]);
        assert_eq!(cache.read_from(2000), 1941, "an hour later");
        assert_eq!(cache.read_from(990), 931, "clock stepped back");
        let got = fill(&cache, at_minute(990, 0), vec![row("q", 960, 2, 0)]);
        assert_eq!(got.iter().filter(|b| **b != (0, 0)).count(), 1);
        assert_eq!(got[29], (2, 0));
    }

    #[test]
    fn an_older_overlapping_read_does_not_overwrite_a_newer_one() {
        let cache = MinuteCache::default();
        fill(&cache, at_minute(1000, 0), vec![row("q", 995, 1, 0)]);
        let from = cache.read_from(1000);
        let mut queues = vec![QueueStats::new("q")];
        cache.merge_and_fill(
            at_minute(1000, 30),
            from,
            vec![row("q", 1000, 9, 0)],
            &mut queues,
        );
        // A poll that started earlier ends now, with its older view of minute 1000.
        let mut late = vec![QueueStats::new("q")];
        cache.merge_and_fill(
            at_minute(1000, 20),
            from,
            vec![row("q", 1000, 4, 0)],
            &mut late,
        );
        assert_eq!(
            late[0].minutes[59].succeeded, 4,
            "answers with what it read"
        );
        assert_eq!(
            late[0].minutes[54].succeeded, 1,
            "and the cache before that"
        );
        let state = cache.lock();
        assert_eq!(state.read_at, Some(at_minute(1000, 30)));
        assert_eq!(
            state.buckets["q"]["k"][&1000].succeeded, 9,
            "the newer read stays"
        );
    }

    #[test]
    fn kinds_total_the_window_and_queues_sum_their_kinds() {
        let cache = MinuteCache::default();
        let mut rows = vec![row("q", 950, 2, 1), row("q", 1000, 1, 0)];
        rows.push(MinuteRow {
            kind: Some("other".into()),
            ..row("q", 1000, 4, 3)
        });
        rows.push(MinuteRow {
            kind: Some("old".into()),
            ..row("q", 941, 1, 0)
        });
        let from = cache.read_from(1000);
        let mut queues = vec![QueueStats::new("q")];
        cache.merge_and_fill(at_minute(1000, 0), from, rows, &mut queues);
        assert_eq!(
            queues[0].minutes[59],
            MinuteBucket {
                succeeded: 5,
                failed: 3
            }
        );
        let kinds: Vec<(String, u64, u64)> = queues[0]
            .kinds
            .clone()
            .unwrap()
            .into_iter()
            .map(|k| (k.kind, k.succeeded, k.failed))
            .collect();
        assert_eq!(
            kinds,
            [
                ("k".to_string(), 3, 1),
                ("old".to_string(), 1, 0),
                ("other".to_string(), 4, 3)
            ]
        );
        // Minute 941 leaves the window: so does the kind that only ran then. (The re-read
        // of minutes 999..=1001 finds minute 1000 as before.)
        let from = cache.read_from(1001);
        let again = vec![
            row("q", 1000, 1, 0),
            MinuteRow {
                kind: Some("other".into()),
                ..row("q", 1000, 4, 3)
            },
        ];
        cache.merge_and_fill(at_minute(1001, 0), from, again, &mut queues);
        let names: Vec<String> = queues[0]
            .kinds
            .clone()
            .unwrap()
            .into_iter()
            .map(|k| k.kind)
            .collect();
        assert_eq!(names, ["k", "other"]);
    }
}
