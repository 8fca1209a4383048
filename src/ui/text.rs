//! Turning database values into terminal text: sanitized, measured, and formatted.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

use crate::backend::Count;

/// Database text made safe for the terminal: control characters, escape sequences and
/// bidi overrides are shown escaped (`\x1b`), never emitted. Stops after `max_chars`
/// characters with an ellipsis so a 10 MB value costs no more than a short one.
pub fn sanitize(raw: &str, max_chars: usize) -> Cow<'_, str> {
    let needs_work = raw
        .chars()
        .take(max_chars + 1)
        .enumerate()
        .any(|(i, c)| i >= max_chars || is_unsafe(c));
    if !needs_work {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len().min(max_chars * 4));
    for (i, c) in raw.chars().enumerate() {
        if i >= max_chars {
            out.push('…');
            break;
        }
        if is_unsafe(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

/// Bidi embeddings, overrides, isolates and marks reorder what follows them on screen.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Format and invisible characters: terminals disagree on their width (a soft hyphen is
/// 1 cell here, 0 there; a variation selector widens the character before it), so a
/// cell count computed here would not match the screen and leave stray characters behind.
/// Shown escaped, they are visible and one cell each.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}'                       // soft hyphen
        | '\u{034f}'                     // combining grapheme joiner
        | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' // Hangul fillers
        | '\u{180b}'..='\u{180f}'         // Mongolian variation selectors and vowel separator
        | '\u{200b}'..='\u{200d}'         // zero-width space, non-joiner, joiner
        | '\u{2028}' | '\u{2029}'         // line and paragraph separators
        | '\u{2060}'..='\u{2064}'         // word joiner, invisible operators
        | '\u{206a}'..='\u{206f}'         // deprecated format characters
        | '\u{fe00}'..='\u{fe0f}'         // variation selectors
        | '\u{feff}'                     // byte order mark, zero-width no-break space
        | '\u{fff9}'..='\u{fffb}'         // interlinear annotation
        | '\u{1bca0}'..='\u{1bca3}'       // shorthand format controls
        | '\u{1d173}'..='\u{1d17a}'       // musical format controls
        | '\u{e0000}'..='\u{e007f}'       // tag characters
        | '\u{e0100}'..='\u{e01ef}'       // variation selectors supplement
    )
}

/// Display width in terminal cells.
pub fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Cut to at most `max` cells in the middle, keeping both ends (a host's name and its
/// number, a path's last part): `ip-10-0-1…compute.internal`.
pub fn truncate_middle(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max <= 1 {
        return truncate(s, max);
    }
    let room = max - 1;
    let tail_room = room / 2;
    let head_room = room - tail_room;
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_room {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used_tail = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used_tail + w > room - used {
            break;
        }
        used_tail += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    Cow::Owned(head)
}

/// Cut to at most `max` cells, marking the cut with an ellipsis.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

/// `1234`, `12.3k`, `10k+` for a capped count, `~1.2M` for an estimate.
pub fn count(c: Count) -> String {
    let n = human_number(c.value);
    match (c.capped, c.estimated) {
        (true, _) => format!("{n}+"),
        (false, true) => format!("~{n}"),
        _ => n,
    }
}

/// The width of `count(c)`, built only for the counts that abbreviate: the queues pane
/// measures its columns over every queue each frame, ten thousand of them at scale.
pub fn count_width(c: Count) -> usize {
    let abs = c.value.unsigned_abs();
    if abs >= 10_000 {
        return width(&count(c));
    }
    let digits = abs.checked_ilog10().map_or(1, |d| d as usize + 1);
    digits + usize::from(c.value < 0) + usize::from(c.capped || c.estimated)
}

pub fn human_number(n: i64) -> String {
    let abs = n.unsigned_abs();
    if abs < 10_000 {
        n.to_string()
    } else if abs < 1_000_000 {
        trim_decimal(n as f64 / 1_000.0, "k")
    } else if abs < 1_000_000_000 {
        trim_decimal(n as f64 / 1_000_000.0, "M")
    } else {
        trim_decimal(n as f64 / 1_000_000_000.0, "G")
    }
}

fn trim_decimal(v: f64, unit: &str) -> String {
    if v.abs() >= 100.0 || (v.fract().abs() < 0.05) {
        format!("{v:.0}{unit}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// `0.4s`, `45s`, `3m12s`, `2h05m`, `3d04h`: two units at most.
pub fn age(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let s = ms / 1000;
    if s < 10 && ms % 1000 != 0 && s < 1 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A per-minute rate: `0`, `0.4`, `12`, `1.2k`.
pub fn rate(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v < 10.0 {
        format!("{v:.1}")
    } else {
        human_number(v.round() as i64)
    }
}

pub fn percent(v: Option<f64>) -> String {
    match v {
        None => "–".to_string(),
        Some(v) if v > 0.0 && v < 0.001 => "<0.1%".to_string(),
        Some(v) => format!("{:.1}%", v * 100.0),
    }
}

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values as bar characters, scaled to their own maximum; zero stays blank
/// and any non-zero value shows at least the lowest bar.
/// Values summed in runs so that all of them fit in `width` bars, the last run ending with
/// the last value (a week of hours in a 40-column chart: 42 bars of 4 hours, newest right).
pub fn fit(values: &[u32], width: usize) -> Vec<u32> {
    if width == 0 || values.len() <= width {
        return values.to_vec();
    }
    let per_bar = values.len().div_ceil(width);
    let mut bars: Vec<u32> = values
        .rchunks(per_bar)
        .map(|run| run.iter().fold(0u32, |a, v| a.saturating_add(*v)))
        .collect();
    bars.reverse();
    bars
}

pub fn sparkline(values: &[u32], width: usize) -> String {
    let recent = &values[values.len().saturating_sub(width)..];
    let max = recent.iter().copied().max().unwrap_or(0);
    let mut out: String = " ".repeat(width - recent.len());
    for &v in recent {
        let level = if v == 0 || max == 0 {
            0
        } else {
            ((v as u64 * 8).div_ceil(max as u64)).clamp(1, 8) as usize
        };
        out.push(BARS[level]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_series_is_summed_into_runs_that_end_with_the_newest_value() {
        assert_eq!(fit(&[1, 2, 3], 5), vec![1, 2, 3]);
        assert_eq!(fit(&[1, 2, 3, 4, 5], 2), vec![3, 12]);
        let week = vec![1u32; 168];
        let bars = fit(&week, 40);
        assert!(bars.len() <= 40);
        assert_eq!(bars.iter().sum::<u32>(), 168);
        assert_eq!(*bars.last().unwrap(), 5);
    }

    #[test]
    fn escape_sequences_never_pass() {
        let s = sanitize("a\x1b[2Jb\x07c\u{9b}d\u{202e}e", 100);
        assert_eq!(s, "a\\x1b[2Jb\\x07c\\x9bd\\u{202e}e");
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn long_values_are_cut() {
        let big = "x".repeat(10_000_000);
        let s = sanitize(&big, 50);
        assert_eq!(s.chars().count(), 51);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn truncate_measures_wide_characters() {
        assert_eq!(truncate("日本語テキスト", 7), "日本語…");
        assert_eq!(width(&truncate("日本語テキスト", 7)), 7);
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn a_counts_width_is_the_width_of_its_text() {
        for value in [
            0, 7, 10, 999, 9_999, 10_000, 12_345, 999_999, 1_234_567, -42,
        ] {
            for (capped, estimated) in [(false, false), (true, false), (false, true)] {
                let c = Count {
                    value,
                    capped,
                    estimated,
                };
                assert_eq!(count_width(c), width(&count(c)), "{c:?}");
            }
        }
    }

    #[test]
    fn counts_and_ages() {
        assert_eq!(count(Count::capped_at(10_001, 10_000)), "10k+");
        assert_eq!(count(Count::exact(1234)), "1234");
        assert_eq!(
            count(Count {
                value: 1_234_567,
                capped: false,
                estimated: true
            }),
            "~1.2M"
        );
        assert_eq!(age(chrono::Duration::milliseconds(400)), "0.4s");
        assert_eq!(age(chrono::Duration::seconds(192)), "3m12s");
        assert_eq!(age(chrono::Duration::seconds(7500)), "2h05m");
    }

    #[test]
    fn sparkline_scales_to_max() {
        assert_eq!(sparkline(&[0, 1, 8], 3), " ▁█");
        assert_eq!(sparkline(&[4], 3), "  █");
    }
}
