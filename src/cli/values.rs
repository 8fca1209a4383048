//! Value parsers for every number and duration on the command line: a value out of range,
//! not a number, infinite or NaN is refused with what is allowed, never a panic later.

use std::ops::RangeInclusive;

/// Seconds within `range`, as a clap value parser.
pub fn seconds(range: RangeInclusive<f64>) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s: &str| {
        let value: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("not a number of seconds: {s}"))?;
        if value.is_finite() && range.contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "{s} is out of range: from {} to {} seconds",
                range.start(),
                range.end()
            ))
        }
    }
}

/// A whole number within `range`, as a clap value parser.
pub fn whole<T>(range: RangeInclusive<T>) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
{
    move |s: &str| {
        let value: T = s.trim().parse().map_err(|_| {
            format!(
                "not a whole number from {} to {}: {s}",
                range.start(),
                range.end()
            )
        })?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "{s} is out of range: from {} to {}",
                range.start(),
                range.end()
            ))
        }
    }
}

/// Ten years: longer than any wait or age a monitor deals in, and far from overflow.
pub const LONGEST_SECS: f64 = 10.0 * 365.0 * 86_400.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_infinite_and_huge_values_are_refused() {
        let interval = seconds(0.5..=60.0);
        assert_eq!(interval("2"), Ok(2.0));
        for bad in ["nan", "NaN", "inf", "-1", "0.1", "61", "x"] {
            assert!(interval(bad).is_err(), "{bad}");
        }
        let age = whole(1..=LONGEST_SECS as u64);
        assert!(age("18446744073709551615").is_err());
        assert!(age("18446744073709551616").is_err());
        assert_eq!(age("60"), Ok(60));
    }
}
