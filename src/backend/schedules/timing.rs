//! When a schedule is due, from its expression. Cron syntax is parsed by the `croner` crate
//! (five fields, an optional sixth for seconds, `L`, `#`, names): a parser of our own would
//! have to get day-of-month/day-of-week rules, ranges and steps right again. pg_cron's own
//! interval form (`'5 seconds'`) is read here: it runs a job that long after its last run.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use croner::Cron;

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum Timing {
    /// Every this long after the previous run (pg_cron's `'N seconds'`).
    Every(Duration),
    Cron(Box<Cron>),
}

impl Timing {
    /// `None` for what neither form reads (`@reboot`, a typo): such a schedule shows no next
    /// run and is never judged missed.
    pub fn parse(expression: &str) -> Option<Timing> {
        let text = expression.trim();
        if let Some(every) = seconds_interval(text) {
            return Some(Timing::Every(every));
        }
        let text = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        // pg_cron writes the last day of the month as `$`; croner as `L`.
        Cron::from_str(&text.replace('$', "L"))
            .ok()
            .map(|c| Timing::Cron(Box::new(c)))
    }

    /// The first time after `after` it is due; for an interval, `after` is the last run.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Timing::Every(every) => Some(after + *every),
            Timing::Cron(cron) => cron.find_next_occurrence(&after, false).ok(),
        }
    }

    /// The latest time at or before `at` it was due; an interval has no fixed times.
    pub fn due_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Timing::Every(_) => None,
            Timing::Cron(cron) => cron.find_previous_occurrence(&at, true).ok(),
        }
    }

    /// How long between two runs around `at`: the interval, or the gap from the last due
    /// time to the next (a schedule's gaps differ: `0 9 * * 1-5` has a long weekend).
    pub fn period_at(&self, at: DateTime<Utc>) -> Option<Duration> {
        match self {
            Timing::Every(every) => Some(*every),
            Timing::Cron(cron) => {
                let before = cron.find_previous_occurrence(&at, true).ok()?;
                let next = cron.find_next_occurrence(&before, false).ok()?;
                Some(next - before)
            }
        }
    }
}

/// pg_cron's `'[1-59] seconds'` (also `second`, `secs`).
fn seconds_interval(text: &str) -> Option<Duration> {
    let (n, unit) = text.split_once(char::is_whitespace)?;
    let n: i64 = n.trim().parse().ok()?;
    matches!(unit.trim(), "second" | "seconds" | "sec" | "secs")
        .then_some(n)
        .filter(|n| (1..=59).contains(n))
        .map(Duration::seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, s).unwrap()
    }

    #[test]
    fn intervals_and_cron_give_next_runs_and_periods() {
        let every = Timing::parse("5 seconds").unwrap();
        assert_eq!(every.next_after(at(10, 0, 0)), Some(at(10, 0, 5)));
        assert_eq!(every.period_at(at(10, 0, 0)), Some(Duration::seconds(5)));
        let cron = Timing::parse("*/15 * * * *").unwrap();
        assert_eq!(cron.next_after(at(10, 7, 30)), Some(at(10, 15, 0)));
        assert_eq!(cron.due_at_or_before(at(10, 7, 30)), Some(at(10, 0, 0)));
        assert_eq!(cron.period_at(at(10, 7, 30)), Some(Duration::minutes(15)));
        let daily = Timing::parse("@daily").unwrap();
        assert_eq!(daily.period_at(at(10, 0, 0)), Some(Duration::days(1)));
        assert!(
            Timing::parse("0 0 $ * *").is_some(),
            "pg_cron's last day of month"
        );
        assert!(Timing::parse("@reboot").is_none());
        assert!(Timing::parse("60 seconds").is_none());
    }
}
