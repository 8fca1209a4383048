//! Error signatures: an error message with what changes from job to job (numbers, ids,
//! UUIDs, quoted values) masked, so that one cause is one group in the dead-letter view.
//! Pure, and shared by every backend: each reads its dead jobs, this groups them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::backend::drill::ErrorGroup;
use crate::backend::model::JobId;

/// Characters of the first line that make a signature; the rest of a message (a stack
/// trace, a dump) rarely tells causes apart and would make every message unique.
const SIGNATURE_CHARS: usize = 200;
/// A quote that does not close within this many characters is just an apostrophe.
const MAX_QUOTED: usize = 500;

/// The signature of an error message: its first non-blank line, whitespace collapsed,
/// with quoted values as `'?'`, UUIDs as `<uuid>`, random-looking tokens as `<id>` (see
/// `push_word`), and every other run of digits (with decimal points, so versions and
/// addresses too) as `<n>`.
pub fn error_signature(message: &str) -> String {
    let line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let chars: Vec<char> = line.chars().take(SIGNATURE_CHARS).collect();
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_word = i > 0 && chars[i - 1].is_alphanumeric();
        if is_quote(c)
            && !after_word
            && let Some(end) = closing_quote(&chars, i)
        {
            out.push(c);
            out.push('?');
            out.push(c);
            i = end + 1;
            continue;
        }
        if c.is_alphanumeric() {
            if !after_word && is_uuid_at(&chars, i) {
                out.push_str("<uuid>");
                i += 36;
                continue;
            }
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            let word = &chars[start..i];
            if is_prefixed_id(&chars[..start], word) {
                out.push_str("<id>");
            } else {
                push_word(&mut out, word);
            }
            continue;
        }
        if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if !out.is_empty() && i < chars.len() {
                out.push(' ');
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    // 10.0.3.1, 1.2.3 and 0.25 are one value each.
    while out.contains("<n>.<n>") {
        out = out.replace("<n>.<n>", "<n>");
    }
    out
}

fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '"' | '`')
}

/// The index of the quote closing the one at `open`: the same character, not followed by
/// a letter or digit (so `'it''s'` and `can't` do not end a value early).
fn closing_quote(chars: &[char], open: usize) -> Option<usize> {
    let q = chars[open];
    let limit = chars.len().min(open + 1 + MAX_QUOTED);
    (open + 1..limit)
        .find(|&j| chars[j] == q && chars.get(j + 1).is_none_or(|next| !next.is_alphanumeric()))
}

fn is_uuid_at(chars: &[char], at: usize) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = at;
    for (g, len) in GROUPS.iter().enumerate() {
        if g > 0 {
            if chars.get(i) != Some(&'-') {
                return false;
            }
            i += 1;
        }
        for _ in 0..*len {
            if !chars.get(i).is_some_and(|c| c.is_ascii_hexdigit()) {
                return false;
            }
            i += 1;
        }
    }
    chars.get(i).is_none_or(|c| !c.is_alphanumeric())
}

/// Shortest token after a prefix that is taken for an id: `req_12` stays `req_<n>`.
const MIN_PREFIXED_ID: usize = 4;

/// A token after a lettered prefix and `_` or `-` (`req_9cca63bba9`, `cus_K8s7dJ2mQ1xZ`,
/// `job-2491518528`) is an id whatever its shape: random ids are sometimes all digits, and
/// one error must not split into `req_<id>` and `req_<n>` by chance.
fn is_prefixed_id(before: &[char], word: &[char]) -> bool {
    let [.., prev, sep] = before else {
        return false;
    };
    if !matches!(sep, '_' | '-') || !prev.is_alphanumeric() {
        return false;
    }
    let prefix = before[..before.len() - 1]
        .iter()
        .rev()
        .take_while(|c| c.is_alphanumeric());
    let lettered = prefix.clone().any(|c| c.is_alphabetic());
    lettered && word.len() >= MIN_PREFIXED_ID && word.iter().any(|c| c.is_ascii_digit())
}

/// A token of letters and digits: an id when it looks random (hex of 8 or more, or letters
/// and digits alternating), else its digit runs are numbers. So `user975` and `user1225`
/// are both `user<n>`, while `8f3a9c` and `K8s7dJ2mQ1xZ` are `<id>`.
fn push_word(out: &mut String, word: &[char]) {
    let digits = word.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = word.len() - digits;
    let hex = word.iter().all(|c| c.is_ascii_hexdigit());
    let runs = 1 + word
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    let mixed = digits > 0 && letters > 0;
    let id_like = mixed && ((hex && word.len() >= 8) || (runs >= 3 && word.len() >= 6));
    if id_like {
        out.push_str("<id>");
        return;
    }
    let mut in_digits = false;
    for &c in word {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push_str("<n>");
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
}

/// Dead jobs that share queue, kind and (cut) message, as a backend reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadJobs {
    pub queue: String,
    pub kind: String,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub ids: Vec<JobId>,
}

/// Groups dead jobs by the signature of their message: largest group first, then the most
/// recent; inside a group, kinds and queues by frequency and ids highest first.
pub fn group_by_signature(rows: impl IntoIterator<Item = DeadJobs>) -> Vec<ErrorGroup> {
    struct Acc {
        group: ErrorGroup,
        sample_count: usize,
        kinds: HashMap<String, i64>,
        queues: HashMap<String, i64>,
    }
    let mut by_signature: HashMap<String, Acc> = HashMap::new();
    for row in rows {
        let signature = error_signature(&row.message);
        let n = row.ids.len();
        let acc = by_signature
            .entry(signature.clone())
            .or_insert_with(|| Acc {
                group: ErrorGroup {
                    signature,
                    sample: row.message.clone(),
                    count: 0,
                    kinds: Vec::new(),
                    queues: Vec::new(),
                    first_seen: row.first_seen,
                    last_seen: row.last_seen,
                    ids: Vec::new(),
                },
                sample_count: 0,
                kinds: HashMap::new(),
                queues: HashMap::new(),
            });
        // The most common exact message stands for the group.
        if n > acc.sample_count {
            acc.sample_count = n;
            acc.group.sample = row.message;
        }
        acc.group.count += n as i64;
        acc.group.first_seen = acc.group.first_seen.min(row.first_seen);
        acc.group.last_seen = acc.group.last_seen.max(row.last_seen);
        acc.group.ids.extend(row.ids);
        *acc.kinds.entry(row.kind).or_default() += n as i64;
        *acc.queues.entry(row.queue).or_default() += n as i64;
    }
    let by_frequency = |m: HashMap<String, i64>| {
        let mut v: Vec<(String, i64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    let mut groups: Vec<ErrorGroup> = by_signature
        .into_values()
        .map(|mut acc| {
            acc.group.kinds = by_frequency(acc.kinds);
            acc.group.queues = by_frequency(acc.queues);
            acc.group.ids.sort_unstable_by(|a, b| b.cmp(a));
            acc.group.ids.dedup();
            acc.group
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.last_seen.cmp(&a.last_seen))
            .then_with(|| a.signature.cmp(&b.signature))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ids_are_masked() {
        assert_eq!(
            error_signature("connection refused to 10.0.3.1:5432 for job 48213"),
            "connection refused to <n>:<n> for job <n>"
        );
        assert_eq!(
            error_signature("timeout after 30.5s (attempt 3 of 5)"),
            "timeout after <n>s (attempt <n> of <n>)"
        );
        assert_eq!(
            error_signature("order 550e8400-e29b-41d4-a716-446655440000 not found"),
            "order <uuid> not found"
        );
        assert_eq!(
            error_signature("customer cus_K8s7dJ2mQ1xZ has no card; request req_8f3a9c"),
            "customer cus_<id> has no card; request req_<id>"
        );
        assert_eq!(
            error_signature("object deadbeef01 vanished"),
            "object <id> vanished"
        );
        assert_eq!(
            error_signature("mailbox unavailable for user975@example.com"),
            error_signature("mailbox unavailable for user1225@example.com"),
        );
        assert_eq!(
            error_signature("no route to v2 host in 1000ms (utf8, x509)"),
            "no route to v<n> host in <n>ms (utf<n>, x<n>)"
        );
        assert_eq!(
            error_signature("sha 8e296a067a37563370ded05f5a3bf3ec missing"),
            "sha <id> missing"
        );
    }

    #[test]
    fn one_error_is_one_signature_whatever_the_shape_of_its_ids() {
        let hex = error_signature("upstream rejected request req_9cca63bba9 (HTTP 429)");
        let digits = error_signature("upstream rejected request req_2491518528 (HTTP 429)");
        assert_eq!(hex, "upstream rejected request req_<id> (HTTP <n>)");
        assert_eq!(hex, digits);
        assert_eq!(
            error_signature("lost job-84213a"),
            error_signature("lost job-842137")
        );
        // A short suffix is a number; a date keeps its numbers.
        assert_eq!(error_signature("shard_12 down"), "shard_<n> down");
        assert_eq!(error_signature("on 2026-01-05"), "on <n>-<n>-<n>");
    }

    #[test]
    fn quoted_values_are_masked_but_apostrophes_are_not_quotes() {
        assert_eq!(
            error_signature(r#"user "alice@example.com" can't log in to 'eu-west'"#),
            r#"user "?" can't log in to '?'"#
        );
        assert_eq!(
            error_signature("duplicate key value violates unique constraint \"jobs_pkey\""),
            "duplicate key value violates unique constraint \"?\""
        );
        assert_eq!(error_signature("it's 'x"), "it's 'x");
    }

    #[test]
    fn messages_that_differ_only_in_values_share_a_signature() {
        let a = error_signature("HTTP 503 from https://hooks.example.com/h/1234?try=2");
        let b = error_signature("HTTP 502 from https://hooks.example.com/h/98765?try=10");
        assert_eq!(a, b);
        assert_ne!(
            error_signature("SMTP 550 mailbox unavailable"),
            error_signature("SMTP 421 service not available")
        );
    }

    #[test]
    fn only_the_first_line_counts_and_whitespace_collapses() {
        let trace_a = "\n  NoMethodError:   undefined method `name' for nil\n  at app.rb:12\n";
        let trace_b = "NoMethodError: undefined method `name' for nil\n  at app.rb:99";
        assert_eq!(error_signature(trace_a), error_signature(trace_b));
        assert_eq!(
            error_signature(trace_a),
            "NoMethodError: undefined method `name' for nil"
        );
        assert_eq!(error_signature(""), "");
        assert_eq!(error_signature("   \n\t"), "");
    }

    #[test]
    fn huge_and_odd_input_stays_bounded() {
        let huge = format!("boom {}", "x".repeat(5_000_000));
        assert!(error_signature(&huge).chars().count() <= SIGNATURE_CHARS);
        assert_eq!(error_signature("日本 123 エラー"), "日本 <n> エラー");
        assert_eq!(error_signature("a\u{1b}[2Jb 7"), "a\u{1b}[<n>Jb <n>");
    }

    #[test]
    fn groups_merge_rows_and_sort_by_count() {
        let t = |s: i64| DateTime::<Utc>::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let row = |queue: &str, kind: &str, msg: &str, at: i64, ids: &[i64]| DeadJobs {
            queue: queue.into(),
            kind: kind.into(),
            message: msg.into(),
            first_seen: t(at),
            last_seen: t(at + 10),
            ids: ids.iter().copied().map(JobId::Int).collect(),
        };
        let groups = group_by_signature(vec![
            row("mailers", "email.send", "SMTP 550 for user 17", 0, &[1, 5]),
            row("mailers", "email.send", "SMTP 550 for user 18", 20, &[9]),
            row("default", "email.digest", "SMTP 550 for user 19", 5, &[3]),
            row("webhooks", "hook", "HTTP 500", 100, &[7]),
        ]);
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(g.signature, "SMTP <n> for user <n>");
        assert_eq!(g.count, 4);
        assert_eq!(g.ids, vec![9, 5, 3, 1]);
        assert_eq!(
            g.kinds,
            vec![("email.send".into(), 3), ("email.digest".into(), 1)]
        );
        assert_eq!(g.queues, vec![("mailers".into(), 3), ("default".into(), 1)]);
        assert_eq!(g.first_seen, t(0));
        assert_eq!(g.last_seen, t(30));
        assert_eq!(g.sample, "SMTP 550 for user 17");
        assert_eq!(groups[1].signature, "HTTP <n>");
    }
}
