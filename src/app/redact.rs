//! Secrets in payloads and errors masked before anyone sees them: the monitor's screens (a
//! wall screen, a shared incident call), `snapshot --json` and `serve`'s `/snapshot` all
//! pass their job text through one `Redactor`. It works on text, not on parsed JSON, so a
//! payload cut at its size limit (no longer valid JSON) and an error message that quotes
//! one are masked the same way, and keys keep their order.
//!
//! Three passes: the value of every JSON key whose name holds a secret word (`"api_key":
//! …`, objects and arrays whole); values shaped like a secret (a bearer token, a JWT, the
//! config's own patterns); and `word=value` / `word: value` in free text (`?token=…`,
//! `password=…` in a connection error).

use std::borrow::Cow;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

/// What a masked value reads as.
pub const MASK: &str = "[redacted]";

/// Key words whose values are masked unless the config says otherwise.
pub const DEFAULT_KEYS: &[&str] = &[
    "password",
    "passwd",
    "token",
    "secret",
    "authorization",
    "api_key",
    "apikey",
    "cookie",
    "session",
];

/// Values masked wherever they appear: bearer tokens and JWTs.
pub const DEFAULT_PATTERNS: &[&str] = &[
    r"(?i)\bbearer\s+[a-z0-9\-._~+/]+=*",
    r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
];

/// The config file's `[redact]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Keep the built-in key words and patterns beside the ones below.
    pub defaults: bool,
    /// More key words (case-insensitive; a key holding one is a secret: `stripe_api_key`).
    pub keys: Vec<String>,
    /// More value patterns (regular expressions), masked wherever they match.
    pub patterns: Vec<Pattern>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            defaults: true,
            keys: Vec::new(),
            patterns: Vec::new(),
        }
    }
}

/// A regular expression checked when the config file is read, so a bad one stops jobtop
/// with the file's line and column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern(String);

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Regex::new(&s).map_err(|e| format!("not a regular expression: {e}"))?;
        Ok(Pattern(s))
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.0
    }
}

/// Masks secrets in text. `Default` is the built-in set.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Lower case, `-` as `_`.
    keys: Vec<String>,
    patterns: Vec<Regex>,
    /// `word=value` and `word: value` outside JSON.
    key_value: Option<Regex>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(&RedactConfig::default())
    }
}

impl Redactor {
    pub fn new(config: &RedactConfig) -> Redactor {
        let builtin_keys = DEFAULT_KEYS.iter().map(|k| k.to_string());
        let builtin_patterns = DEFAULT_PATTERNS.iter().map(|p| p.to_string());
        let (mut keys, mut patterns): (Vec<String>, Vec<String>) = if config.defaults {
            (builtin_keys.collect(), builtin_patterns.collect())
        } else {
            (Vec::new(), Vec::new())
        };
        keys.extend(config.keys.iter().map(|k| normalize(k)));
        keys.retain(|k| !k.is_empty());
        patterns.extend(config.patterns.iter().map(|p| p.0.clone()));
        let key_value = (!keys.is_empty()).then(|| {
            let words: Vec<String> = keys.iter().map(|k| regex::escape(k)).collect();
            let words = words.join("|").replace('_', "[_-]");
            Regex::new(&format!(
                r#"(?i)\b([a-z0-9_\-]*(?:{words})[a-z0-9_\-]*)(\s*[=:]\s*)("[^"]*"?|'[^']*'?|[^\s&,;'"\]\)}}]+)"#
            ))
            .expect("escaped words make a valid expression")
        });
        Redactor {
            keys,
            patterns: patterns.iter().filter_map(|p| Regex::new(p).ok()).collect(),
            key_value,
        }
    }

    /// Masks nothing (`defaults = false` and no keys or patterns of its own).
    pub fn is_off(&self) -> bool {
        self.keys.is_empty() && self.patterns.is_empty()
    }

    fn secret_key(&self, key: &str) -> bool {
        let key = normalize(key);
        self.keys.iter().any(|k| key.contains(k.as_str()))
    }

    /// `text` with every secret it holds masked.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.is_off() {
            return Cow::Borrowed(text);
        }
        let mut out = self.json_keys(text);
        for pattern in &self.patterns {
            if let Cow::Owned(s) = pattern.replace_all(&out, MASK) {
                out = Cow::Owned(s);
            }
        }
        if let Some(key_value) = &self.key_value {
            let hay: &str = &out;
            let replaced = key_value.replace_all(hay, |c: &Captures| {
                // A value an earlier pass masked already stays as it is.
                let at = c.get(3).map_or(hay.len(), |m| m.start());
                if hay[at..].trim_start_matches(['"', '\'']).starts_with(MASK) {
                    c[0].to_string()
                } else {
                    format!("{}{}{MASK}", &c[1], &c[2])
                }
            });
            if let Cow::Owned(s) = replaced {
                out = Cow::Owned(s);
            }
        }
        if out == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(out.into_owned())
        }
    }

    /// The value of each `"key":` whose key is a secret, replaced by `"[redacted]"`.
    fn json_keys<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'"' {
                i += 1;
                continue;
            }
            let key_end = string_end(bytes, i);
            let mut colon = key_end;
            while colon < bytes.len() && bytes[colon].is_ascii_whitespace() {
                colon += 1;
            }
            let is_key = colon < bytes.len() && bytes[colon] == b':';
            if !is_key || !self.secret_key(&text[i + 1..key_end.saturating_sub(1).max(i + 1)]) {
                i = key_end;
                continue;
            }
            let mut start = colon + 1;
            while start < bytes.len() && bytes[start].is_ascii_whitespace() {
                start += 1;
            }
            let end = value_end(bytes, start);
            if start < end {
                out.push_str(&text[copied..start]);
                out.push('"');
                out.push_str(MASK);
                out.push('"');
                copied = end;
            }
            i = end.max(key_end);
        }
        if copied == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

fn normalize(key: &str) -> String {
    key.trim().to_lowercase().replace('-', "_")
}

/// The index after the string that starts with the quote at `start` (or the text's end,
/// for a string the size limit cut).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index after the JSON value at `start`: a string, an object or array (balanced,
/// strings skipped), or a scalar up to the next `,`, `}`, `]` or line end.
fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        None => start,
        Some(b'"') => string_end(bytes, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        Some(_) => {
            let mut i = start;
            while i < bytes.len() && !matches!(bytes[i], b',' | b'}' | b']' | b'\n' | b'\r') {
                i += 1;
            }
            while i > start && bytes[i - 1].is_ascii_whitespace() {
                i -= 1;
            }
            i
        }
    }
}

/// The schedules' texts in a snapshot (a pg_cron command, a run's message, pg_net's last
/// error), masked in place: what `snapshot --json` and `/snapshot` export.
pub fn snapshot(redactor: &Redactor, snapshot: &mut crate::backend::Snapshot) {
    let Some(schedules) = snapshot.schedules.as_mut() else {
        return;
    };
    let mask = |s: &mut String| {
        if let Cow::Owned(masked) = redactor.text(s) {
            *s = masked;
        }
    };
    for schedule in &mut schedules.schedules {
        if let Some(command) = schedule.command.as_mut() {
            mask(command);
        }
        for run in &mut schedule.runs {
            if let Some(message) = run.message.as_mut() {
                mask(message);
            }
        }
    }
    if let Some(net) = schedules.net.as_mut()
        && let Some(e) = net.last_error.as_mut()
    {
        mask(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        Redactor::default().text(s).into_owned()
    }

    #[test]
    fn secret_keys_lose_their_values_whatever_their_shape() {
        assert_eq!(
            masked(r#"{"user": "ann", "password": "hunter2", "n": 1}"#),
            r#"{"user": "ann", "password": "[redacted]", "n": 1}"#
        );
        assert_eq!(
            masked(r#"{"Stripe-Api-Key":"sk_live_1","auth":{"session":{"id":7}},"x":[1]}"#),
            r#"{"Stripe-Api-Key":"[redacted]","auth":{"session":"[redacted]"},"x":[1]}"#
        );
        assert_eq!(
            masked(r#"{"access_token": 12345, "tokens": ["a", "b"]}"#),
            r#"{"access_token": "[redacted]", "tokens": "[redacted]"}"#
        );
    }

    #[test]
    fn a_cut_payload_is_masked_too() {
        assert_eq!(
            masked(r#"{"a": 1, "secret": "abcdef"#),
            r#"{"a": 1, "secret": "[redacted]""#
        );
    }

    #[test]
    fn tokens_in_free_text_are_masked() {
        assert_eq!(
            masked("401 from api: Authorization: Bearer abc.def-ghi= rejected"),
            "401 from api: Authorization: [redacted] rejected"
        );
        assert_eq!(
            masked("GET /hook?user=4&token=s3cr3t&x=1 failed"),
            "GET /hook?user=4&token=[redacted]&x=1 failed"
        );
        assert_eq!(
            masked("jwt eyJhbGciOi.eyJzdWIiOiIx.sig_abc expired"),
            "jwt [redacted] expired"
        );
        assert_eq!(
            masked(r#"connect failed: password="a b" host=db"#),
            "connect failed: password=[redacted] host=db"
        );
        let plain = "timeout after 30s talking to smtp.example.com";
        assert!(matches!(Redactor::default().text(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn the_config_adds_words_and_patterns_or_drops_the_defaults() {
        let config: RedactConfig =
            toml::from_str("keys = [\"iban\"]\npatterns = ['\\b\\d{16}\\b']").unwrap();
        let r = Redactor::new(&config);
        assert_eq!(
            r.text(r#"{"iban": "DE89", "card": "4111111111111111", "password": "x"}"#),
            r#"{"iban": "[redacted]", "card": "[redacted]", "password": "[redacted]"}"#
        );
        let off: RedactConfig = toml::from_str("defaults = false").unwrap();
        assert!(Redactor::new(&off).is_off());
        assert_eq!(
            Redactor::new(&off).text(r#"{"password": "x"}"#),
            r#"{"password": "x"}"#
        );
        let bad = toml::from_str::<RedactConfig>("patterns = ['(']");
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("not a regular expression")
        );
    }
}
