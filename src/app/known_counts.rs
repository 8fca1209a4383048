//! One pile, one number. A big pile (scheduled, retrying, dead) is an estimate in the
//! overview, while a queue's job list counts its tab exactly and an action's confirmation
//! counts the jobs it would change: three figures for one pile on one screen ("~1316" in the
//! header, "Retry 1,326", "dead 1368"). The exact counts those reads bring are laid over
//! the estimate of the same pile in every snapshot for a while, so the header, the queue's
//! row, the sort, the alerts and the tabs all show the counted figure.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::backend::{Count, JobState, Snapshot};

/// An exact count stands in for the estimate this long after it was read: the job list
/// re-reads it on every poll while open, so it lapses only once nobody looks at the pile,
/// and then the estimate (which the statistics keep close) comes back.
const KEEP: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnownCounts {
    counts: HashMap<(String, JobState), (i64, DateTime<Utc>)>,
}

impl KnownCounts {
    pub fn record(&mut self, queue: &str, state: JobState, value: i64, at: DateTime<Utc>) {
        self.counts.insert((queue.to_string(), state), (value, at));
    }

    /// Replaces every estimated pile the counts know (and forgets those too old).
    pub fn apply(&mut self, snapshot: &mut Snapshot, now: DateTime<Utc>) {
        self.counts.retain(|_, (_, at)| now - *at <= KEEP);
        if self.counts.is_empty() {
            return;
        }
        for q in &mut snapshot.queues {
            for (state, count) in [
                (JobState::Scheduled, &mut q.scheduled),
                (JobState::Retrying, &mut q.retrying),
                (JobState::Dead, &mut q.dead),
            ] {
                if !count.estimated {
                    continue;
                }
                if let Some((value, _)) = self.counts.get(&(q.name.clone(), state)) {
                    *count = Count::exact(*value);
                }
            }
        }
    }
}

impl super::App {
    /// A pile counted exactly: shown at once, and laid over the next polls' estimates.
    pub(super) fn count_known(&mut self, queue: &str, state: JobState, value: i64) {
        let now = self.now;
        self.known_counts.record(queue, state, value, now);
        if let Some(latest) = self.latest.as_mut() {
            self.known_counts.apply(&mut latest.snapshot, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::QueueStats;

    fn snapshot(dead: Count) -> Snapshot {
        let mut q = QueueStats::new("webhooks");
        q.dead = dead;
        Snapshot {
            db_now: DateTime::default(),
            queues: vec![q],
            workers: Vec::new(),
            count_cap: 10_000,
            running_by_tenant: None,
            schedules: None,
        }
    }

    #[test]
    fn a_counted_pile_replaces_the_estimate_until_it_is_too_old() {
        let t0 = DateTime::<Utc>::default();
        let mut known = KnownCounts::default();
        known.record("webhooks", JobState::Dead, 1368, t0);
        let estimated = Count {
            value: 1316,
            capped: false,
            estimated: true,
        };
        let mut snap = snapshot(estimated);
        known.apply(&mut snap, t0 + TimeDelta::seconds(30));
        assert_eq!(snap.queues[0].dead, Count::exact(1368));

        // A count the poll made itself is fresher than any recorded one.
        let mut counted = snapshot(Count::exact(1370));
        known.apply(&mut counted, t0 + TimeDelta::seconds(30));
        assert_eq!(counted.queues[0].dead, Count::exact(1370));

        let mut later = snapshot(estimated);
        known.apply(&mut later, t0 + TimeDelta::seconds(61));
        assert_eq!(later.queues[0].dead, estimated);
    }
}
