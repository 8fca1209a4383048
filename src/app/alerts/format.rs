//! Alert figures as text, the same on screen, in `check` lines and in logs.

use super::book::{Alert, Unit};

/// `7m00s`, `45s`, `2h05m`, `3d04h`.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `3`, `2.5`, `0.25`: no trailing zeros.
pub fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn measure(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => age(v),
        Unit::Jobs => format!("{}", v.round() as i64),
        Unit::Ratio => {
            let pct = v * 100.0;
            if pct > 0.0 && pct < 0.1 {
                "<0.1%".to_string()
            } else {
                format!("{pct:.1}%")
            }
        }
        Unit::PerMinute => format!("{}/min", number(v)),
        Unit::Runs => format!("{} in a row", v.round() as i64),
    }
}

impl Alert {
    pub fn value_text(&self) -> String {
        match self.value {
            None => "never".to_string(),
            Some(v) if self.at_least => format!("{}+", measure(v, self.unit)),
            Some(v) if self.estimated => format!("~{}", measure(v, self.unit)),
            Some(v) => measure(v, self.unit),
        }
    }

    pub fn threshold_text(&self) -> String {
        measure(self.threshold, self.unit)
    }

    /// `oldest ready job 7m00s > 5m00s`.
    pub fn comparison(&self) -> String {
        format!(
            "{} {} > {}",
            self.key.rule.title(),
            self.value_text(),
            self.threshold_text()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures() {
        assert_eq!(measure(420.0, Unit::Seconds), "7m00s");
        assert_eq!(measure(300.0, Unit::Seconds), "5m00s");
        assert_eq!(measure(0.125, Unit::Ratio), "12.5%");
        assert_eq!(measure(0.0004, Unit::Ratio), "<0.1%");
        assert_eq!(measure(1000.0, Unit::Jobs), "1000");
        assert_eq!(measure(120.0, Unit::PerMinute), "120/min");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(2.5), "2.5");
    }
}
