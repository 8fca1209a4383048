//! Times and durations as the drill-down views write them.

use chrono::{DateTime, Utc};

use super::text;

/// `3m12s ago`, `in 45s`, `now`; `–` when there is no time.
pub fn relative(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else {
        return "–".to_string();
    };
    let d = now - t;
    if d.num_milliseconds().abs() < 1000 {
        "now".to_string()
    } else if d > chrono::Duration::zero() {
        format!("{} ago", text::age(d))
    } else {
        format!("in {}", text::age(-d))
    }
}

/// A duration between two moments, or `–`.
pub fn between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => text::age(b - a),
        _ => "–".to_string(),
    }
}

/// Seconds as `340ms`, `3.2s`, `4m05s`.
pub fn secs(s: Option<f64>) -> String {
    match s {
        None => "–".to_string(),
        Some(s) if s < 1.0 => format!("{:.0}ms", (s * 1000.0).max(0.0)),
        Some(s) if s < 10.0 => format!("{s:.1}s"),
        Some(s) => text::age(chrono::Duration::milliseconds((s * 1000.0) as i64)),
    }
}

/// A timestamp in full, UTC.
pub fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map_or("–".to_string(), |t| {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    })
}

/// A timestamp, without its date when that is the date of `day` (UTC).
pub fn stamp_on(t: Option<DateTime<Utc>>, day: DateTime<Utc>) -> String {
    match t {
        Some(t) if t.date_naive() == day.date_naive() => t.format("%H:%M:%S").to_string(),
        other => stamp(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let now = DateTime::<Utc>::from_timestamp(1_000_000, 0).unwrap();
        let s = |n| Some(now + chrono::Duration::seconds(n));
        assert_eq!(relative(s(-192), now), "3m12s ago");
        assert_eq!(relative(s(45), now), "in 45s");
        assert_eq!(relative(s(0), now), "now");
        assert_eq!(relative(None, now), "–");
        assert_eq!(between(s(0), s(62)), "1m02s");
        assert_eq!(secs(Some(0.34)), "340ms");
        assert_eq!(secs(Some(3.21)), "3.2s");
        assert_eq!(secs(Some(245.0)), "4m05s");
        assert_eq!(stamp_on(s(60), now), "13:47:40");
        assert_eq!(stamp_on(s(-86_400), now), "1970-01-11 13:46:40");
    }
}
