//! A payload laid out as indented JSON lines with a tone per token, once, when it arrives.
//!
//! A tolerant tokenizer rather than a parser: the text may be cut in the middle (a 10 MB
//! payload is loaded with a size limit) or not be JSON at all, and then it is laid out as
//! far as it goes and the rest is shown as it is. Text stays raw here; the UI sanitizes it.

/// What a piece of a document line is, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Dim,
    Label,
    Warn,
    Error,
    Key,
    Str,
    Num,
    Literal,
    Punct,
}

pub type DocLine = Vec<(Tone, String)>;

const INDENT: &str = "  ";

/// Lines past this are summarized in one last line.
pub const MAX_LINES: usize = 50_000;

pub fn pretty_lines(text: &str) -> Vec<DocLine> {
    let mut out = Lines::default();
    let chars: Vec<char> = text.chars().collect();
    let mut depth: usize = 0;
    let mut i = 0;
    while i < chars.len() {
        if out.lines.len() >= MAX_LINES {
            out.lines.push(vec![(
                Tone::Warn,
                format!("… {} more characters not laid out", chars.len() - i),
            )]);
            return out.lines;
        }
        let c = chars[i];
        match c {
            '\n' => {
                out.newline();
                i += 1;
            }
            // Layout owns the spacing of JSON; in text that is not JSON a space is kept.
            c if c.is_whitespace() => {
                if out.current.last().is_some_and(|(t, _)| *t != Tone::Punct) {
                    out.current.push((Tone::Plain, " ".into()));
                }
                i = run_end(&chars, i, |c| c.is_whitespace() && c != '\n');
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let next = next_token(&chars, i + 1);
                if next.map(|j| chars[j]) == Some(close) {
                    out.push(depth, Tone::Punct, format!("{c}{close}"));
                    i = next.unwrap_or(i) + 1;
                } else {
                    out.push(depth, Tone::Punct, c.to_string());
                    depth += 1;
                    out.newline();
                    i += 1;
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                out.newline();
                out.push(depth, Tone::Punct, c.to_string());
                i += 1;
            }
            ',' => {
                out.push(depth, Tone::Punct, ",".into());
                out.newline();
                i += 1;
            }
            ':' => {
                out.push(depth, Tone::Punct, ": ".into());
                i += 1;
            }
            '"' => {
                let end = string_end(&chars, i);
                let s: String = chars[i..end].iter().collect();
                let is_key = next_token(&chars, end).map(|j| chars[j]) == Some(':');
                out.push(depth, if is_key { Tone::Key } else { Tone::Str }, s);
                i = end;
            }
            c if c == '-' || c.is_ascii_digit() => {
                let end = run_end(&chars, i, |c| {
                    c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')
                });
                out.push(depth, Tone::Num, chars[i..end].iter().collect());
                i = end;
            }
            c if c.is_ascii_alphabetic() => {
                let end = run_end(&chars, i, |c| c.is_ascii_alphabetic());
                out.push(depth, Tone::Literal, chars[i..end].iter().collect());
                i = end;
            }
            _ => {
                let end = run_end(&chars, i, |c| {
                    !(c.is_whitespace() || "{}[],:\"".contains(c) || c.is_ascii_alphanumeric())
                })
                .max(i + 1);
                out.push(depth, Tone::Plain, chars[i..end].iter().collect());
                i = end;
            }
        }
    }
    out.finish()
}

#[derive(Default)]
struct Lines {
    lines: Vec<DocLine>,
    current: DocLine,
}

impl Lines {
    fn push(&mut self, depth: usize, tone: Tone, text: String) {
        if self.current.is_empty() && depth > 0 {
            self.current
                .push((Tone::Punct, INDENT.repeat(depth.min(40))));
        }
        self.current.push((tone, text));
    }

    fn newline(&mut self) {
        if !self.current.is_empty() {
            self.lines.push(std::mem::take(&mut self.current));
        }
    }

    fn finish(mut self) -> Vec<DocLine> {
        self.newline();
        self.lines
    }
}

fn next_token(chars: &[char], from: usize) -> Option<usize> {
    (from..chars.len()).find(|&j| !chars[j].is_whitespace())
}

/// The index after the closing quote of the string starting at `start` (or the end of a
/// cut text).
fn string_end(chars: &[char], start: usize) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

fn run_end(chars: &[char], start: usize, keep: impl Fn(char) -> bool) -> usize {
    (start..chars.len())
        .find(|&j| !keep(chars[j]))
        .unwrap_or(chars.len())
}

/// A line's text without tones.
pub fn plain(line: &DocLine) -> String {
    line.iter().map(|(_, s)| s.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> Vec<String> {
        pretty_lines(text).iter().map(plain).collect()
    }

    #[test]
    fn indents_nested_values() {
        assert_eq!(
            render(r#"{"a": 1, "b": [true, null], "c": {}, "d": {"e": "x,y"}}"#),
            vec![
                "{",
                "  \"a\": 1,",
                "  \"b\": [",
                "    true,",
                "    null",
                "  ],",
                "  \"c\": {},",
                "  \"d\": {",
                "    \"e\": \"x,y\"",
                "  }",
                "}",
            ]
        );
        let tones: Vec<Tone> = pretty_lines(r#"{"k": "v"}"#)[1]
            .iter()
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(tones, vec![Tone::Punct, Tone::Key, Tone::Punct, Tone::Str]);
    }

    #[test]
    fn cut_text_is_laid_out_as_far_as_it_goes() {
        assert_eq!(
            render(r#"{"a": [1, 2], "b": "unfinished \" str"#),
            vec![
                "{",
                "  \"a\": [",
                "    1,",
                "    2",
                "  ],",
                "  \"b\": \"unfinished \\\" str"
            ]
        );
        assert_eq!(render("not json at all"), vec!["not json at all"]);
        assert_eq!(render("\"\\"), vec!["\"\\"]);
        assert!(render("").is_empty());
    }

    #[test]
    fn escapes_stay_text() {
        // jsonb writes control characters escaped; they stay escapes here.
        assert_eq!(
            render(r#"{"x": "\u001b[2J"}"#)[1],
            "  \"x\": \"\\u001b[2J\""
        );
    }
}
