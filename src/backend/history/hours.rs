//! The closed hours a monitor has read (from the jobs or the side table), per queue and per
//! kind: a week is 168 small maps, whatever the number of jobs.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{HistoryReport, HourRow};
use crate::backend::drill::HistoryWindow;
use crate::backend::model::MinuteBucket;

/// Completions in one hour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourRows {
    pub by_queue: HashMap<String, MinuteBucket>,
    pub by_kind: HashMap<String, (u64, u64)>,
}

impl HourRows {
    /// Every hour of `hours`, an hour without rows as an empty one (it was read: nothing
    /// ended in it).
    pub(crate) fn group(hours: Range<i64>, rows: Vec<HourRow>) -> BTreeMap<i64, HourRows> {
        let mut out: BTreeMap<i64, HourRows> = hours.map(|h| (h, HourRows::default())).collect();
        for row in rows {
            if let Some(hour) = out.get_mut(&row.hour) {
                hour.add(row);
            }
        }
        out
    }

    pub(crate) fn add(&mut self, row: HourRow) {
        let ok = u32::try_from(row.succeeded.max(0)).unwrap_or(u32::MAX);
        let failed = u32::try_from(row.failed.max(0)).unwrap_or(u32::MAX);
        let q = self.by_queue.entry(row.queue).or_default();
        q.succeeded = q.succeeded.saturating_add(ok);
        q.failed = q.failed.saturating_add(failed);
        if let Some(kind) = row.kind {
            let k = self.by_kind.entry(kind).or_default();
            k.0 += ok as u64;
            k.1 += failed as u64;
        }
    }
}

/// Whether jobtop's side table for hours is there, and whether this session may write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideAccess {
    pub present: bool,
    pub writable: bool,
}

const SIDE_FACTS_SQL: &str = "\
SELECT to_regclass('jobtop.throughput_hours') IS NOT NULL \
         AND to_regclass('jobtop.throughput_hours_read') IS NOT NULL AS present, \
       current_setting('transaction_read_only') = 'off' AND NOT pg_is_in_recovery() \
         AND to_regclass('jobtop.throughput_hours') IS NOT NULL \
         AND has_table_privilege('jobtop.throughput_hours', 'INSERT, DELETE') \
         AND has_table_privilege('jobtop.throughput_hours_read', 'INSERT, DELETE') AS writable";

/// The hours read so far, shared by the requests of one backend.
#[derive(Debug, Default)]
pub struct HourCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    side: Option<SideAccess>,
    hours: BTreeMap<i64, HourRows>,
}

impl HourCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asked once: the side tables do not come and go during a session.
    pub async fn side_access(&self, pool: &PgPool) -> anyhow::Result<SideAccess> {
        if let Some(side) = self.lock().side {
            return Ok(side);
        }
        let (present, writable): (bool, bool) =
            sqlx::query_as(SIDE_FACTS_SQL).fetch_one(pool).await?;
        let side = SideAccess { present, writable };
        self.lock().side = Some(side);
        Ok(side)
    }

    pub fn forget_before(&self, hour: i64) {
        let mut state = self.lock();
        state.hours = state.hours.split_off(&hour);
    }

    /// The hours of `from..until` not read yet, oldest first.
    pub fn missing(&self, from: i64, until: i64) -> Vec<i64> {
        let state = self.lock();
        (from..until)
            .filter(|h| !state.hours.contains_key(h))
            .collect()
    }

    pub fn insert(&self, hours: BTreeMap<i64, HourRows>) {
        self.lock().hours.extend(hours);
    }

    /// The window from `first_hour` on: closed hours from the cache, the rest from `open`.
    pub fn report(
        &self,
        window: HistoryWindow,
        db_now: DateTime<Utc>,
        first_hour: i64,
        open: &BTreeMap<i64, HourRows>,
        missing_hours: i64,
        shared: bool,
    ) -> HistoryReport {
        let state = self.lock();
        let slots = window.hours() as usize;
        let mut queues: BTreeMap<String, Vec<MinuteBucket>> = BTreeMap::new();
        let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (slot, hour) in (first_hour..first_hour + slots as i64).enumerate() {
            let Some(rows) = open.get(&hour).or_else(|| state.hours.get(&hour)) else {
                continue;
            };
            for (queue, bucket) in &rows.by_queue {
                let buckets = queues
                    .entry(queue.clone())
                    .or_insert_with(|| vec![MinuteBucket::default(); slots]);
                buckets[slot] = *bucket;
            }
            for (kind, (ok, failed)) in &rows.by_kind {
                let k = kinds.entry(kind.clone()).or_default();
                k.0 += ok;
                k.1 += failed;
            }
        }
        HistoryReport {
            window,
            db_now,
            first_hour,
            queues,
            kinds,
            missing_hours,
            shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: i64, queue: &str, kind: &str, ok: i64, failed: i64) -> HourRow {
        HourRow {
            hour,
            queue: queue.into(),
            kind: Some(kind.into()),
            succeeded: ok,
            failed,
        }
    }

    #[test]
    fn the_report_puts_each_hour_in_its_slot_and_totals_kinds_over_the_window() {
        let cache = HourCache::default();
        cache.insert(HourRows::group(
            10..13,
            vec![
                row(10, "mail", "send", 5, 1),
                row(12, "mail", "send", 7, 0),
                row(12, "hooks", "post", 1, 3),
            ],
        ));
        assert_eq!(cache.missing(9, 14), vec![9, 13]);
        let open = HourRows::group(13..14, vec![row(13, "mail", "send", 2, 2)]);
        let report = cache.report(
            HistoryWindow::Day,
            DateTime::default(),
            13 - 23,
            &open,
            1,
            false,
        );
        let mail: Vec<(u32, u32)> = report.queues["mail"]
            .iter()
            .map(|b| (b.succeeded, b.failed))
            .collect();
        assert_eq!(mail.len(), 24);
        assert_eq!(&mail[20..], &[(5, 1), (0, 0), (7, 0), (2, 2)]);
        assert_eq!(report.kinds["send"], (14, 3));
        assert_eq!(report.kinds["post"], (1, 3));
        assert!(!report.complete());
        cache.forget_before(12);
        assert_eq!(cache.missing(10, 13), vec![10, 11]);
    }
}
