//! A queue's normal backlog: an exponentially weighted moving average of its ready count,
//! weighted by the time between samples, so it means the same at any refresh interval.
//!
//! While the backlog is above normal the average learns ten times slower: an incident
//! should not teach the baseline that it is normal within the ten minutes it takes to
//! fire, yet a lasting change of load is learned in the end (and the alert then resolves).

use chrono::{DateTime, Utc};

/// How much slower the baseline learns from samples that are above normal.
const ANOMALY_SLOWDOWN: f64 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub value: f64,
    pub updated_at: DateTime<Utc>,
    /// When the first sample was taken.
    pub since: DateTime<Utc>,
}

impl Baseline {
    pub fn start(sample: f64, now: DateTime<Utc>) -> Baseline {
        Baseline {
            value: sample,
            updated_at: now,
            since: now,
        }
    }

    /// The baseline after one more sample at `now`, over a time constant of `window_secs`.
    pub fn learn(
        self,
        sample: f64,
        now: DateTime<Utc>,
        window_secs: f64,
        anomalous: bool,
    ) -> Baseline {
        let dt = (now - self.updated_at).num_milliseconds().max(0) as f64 / 1000.0;
        let tau = window_secs.max(1.0) * if anomalous { ANOMALY_SLOWDOWN } else { 1.0 };
        let alpha = 1.0 - (-dt / tau).exp();
        Baseline {
            value: self.value + alpha * (sample - self.value),
            updated_at: now,
            since: self.since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_depends_on_elapsed_time_not_on_sample_count() {
        let t0 = DateTime::<Utc>::from_timestamp(1_000_000, 0).unwrap();
        let mut every_second = Baseline::start(0.0, t0);
        for s in 1..=600 {
            every_second =
                every_second.learn(100.0, t0 + chrono::Duration::seconds(s), 3600.0, false);
        }
        let once = Baseline::start(0.0, t0).learn(
            100.0,
            t0 + chrono::Duration::seconds(600),
            3600.0,
            false,
        );
        assert!((every_second.value - once.value).abs() < 1e-6);
        // Ten minutes over a one-hour window: 1 - e^(-1/6) of the way.
        assert!((once.value - 100.0 * (1.0 - (-1.0f64 / 6.0).exp())).abs() < 1e-9);
        let slow = Baseline::start(0.0, t0).learn(
            100.0,
            t0 + chrono::Duration::seconds(600),
            3600.0,
            true,
        );
        assert!(slow.value < once.value / 5.0);
    }
}
