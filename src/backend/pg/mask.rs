//! Credentials masked in any text that may hold a connection string: found by the shape of
//! a URL's user info and of a `password=` parameter, never by searching for the password's
//! own text (a password `o` must not turn "error" into "err***r" and so give itself away).

const MASK: &str = "***";

/// `text` with the password of every URL-like word (`scheme:/…user:pw@host`, one slash or
/// two) and the value of every `password=` / `sslpassword=` parameter (URL query or libpq
/// `key=value` conninfo, quoted or not) replaced by `***`.
pub fn mask_credentials(text: &str) -> String {
    mask_parameters(&mask_user_info(text))
}

/// Where a word ends: URLs in messages are separated by blanks or quotes.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')
}

/// The password of `scheme:[/…]user:password@host`: between the first `:` of the user
/// info and the last `@` before the query, whatever characters the password holds.
fn mask_user_info(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = scheme_end(rest) {
        let (head, tail) = rest.split_at(start);
        out.push_str(head);
        let word_end = tail.find(ends_word).unwrap_or(tail.len());
        let word = &tail[..word_end];
        let before_query = &word[..word.find('?').unwrap_or(word.len())];
        match before_query.rfind('@').and_then(|at| {
            let colon = before_query[..at].find(':')?;
            Some((colon, at))
        }) {
            Some((colon, at)) => {
                out.push_str(&word[..=colon]);
                out.push_str(MASK);
                out.push_str(&word[at..]);
            }
            None => out.push_str(word),
        }
        rest = &tail[word_end..];
    }
    out.push_str(rest);
    out
}

/// The byte offset just past the next `scheme:` followed by a slash (the user info starts
/// after the slashes), if any.
fn scheme_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(colon) = text[i..].find(":/").map(|c| c + i) {
        let scheme_start = text[..colon]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
            .map_or(0, |p| p + 1);
        if scheme_start < colon && bytes[scheme_start].is_ascii_alphabetic() {
            let slashes = text[colon + 1..].len() - text[colon + 1..].trim_start_matches('/').len();
            return Some(colon + 1 + slashes);
        }
        i = colon + 2;
    }
    None
}

/// The value of every `password` (or `sslpassword`) parameter.
fn mask_parameters(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password").map(|p| p + search) {
        search = found + "password".len();
        let key_start = if lower[..found].ends_with("ssl") {
            found - 3
        } else {
            found
        };
        let starts_key = lower[..key_start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let after_key = &text[search..];
        let spaces = after_key.len() - after_key.trim_start().len();
        if !starts_key || !after_key[spaces..].starts_with('=') {
            continue;
        }
        let value_start = search + spaces + 1;
        let value_start =
            value_start + (text[value_start..].len() - text[value_start..].trim_start().len());
        let value_end = value_end(&text[value_start..]) + value_start;
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = value_end;
        search = value_end.max(search);
    }
    out.push_str(&text[copied..]);
    out
}

/// Where a parameter's value ends: its closing quote, else a blank, `&` or a quote.
fn value_end(value: &str) -> usize {
    let mut chars = value.char_indices();
    match chars.next() {
        Some((_, quote @ ('\'' | '"'))) => {
            let mut escaped = false;
            for (i, c) in chars {
                match c {
                    '\\' if !escaped => escaped = true,
                    c if c == quote && !escaped => return i + c.len_utf8(),
                    _ => escaped = false,
                }
            }
            value.len()
        }
        _ => value
            .find(|c: char| c == '&' || ends_word(c))
            .unwrap_or(value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_whatever_it_holds() {
        for (text, masked) in [
            (
                "postgres://bob:s3cret@db.example.com:5432/app?sslmode=require",
                "postgres://bob:***@db.example.com:5432/app?sslmode=require",
            ),
            // One slash: not a URL libpq takes, but the password is still one.
            (
                "invalid database URL postgres:/postgres:s3cretPW@host/db: no host",
                "invalid database URL postgres:/postgres:***@host/db: no host",
            ),
            ("postgresql://u:p@ss/w@rd@h/db", "postgresql://u:***@h/db"),
            ("postgres://bob@db/app", "postgres://bob@db/app"),
            (
                "see 'postgres://a:b@h/d' and http://x:y@z/",
                "see 'postgres://a:***@h/d' and http://x:***@z/",
            ),
            ("no url: just a colon/slash", "no url: just a colon/slash"),
        ] {
            assert_eq!(mask_credentials(text), masked, "{text}");
        }
    }

    #[test]
    fn password_parameters_lose_their_value_every_time() {
        for (text, masked) in [
            (
                "postgres://db/app?user=bob&password=s3cret&sslmode=require",
                "postgres://db/app?user=bob&password=***&sslmode=require",
            ),
            (
                "host=db password=one dbname=app password = 'two words'",
                "host=db password=*** dbname=app password = ***",
            ),
            ("sslpassword=k3y PASSWORD=X", "sslpassword=*** PASSWORD=***"),
            (
                "url = \"postgres://h/d?password=a\"",
                "url = \"postgres://h/d?password=***\"",
            ),
            // Not a parameter: the word alone, or as part of another word.
            (
                "password authentication failed; mypassword=x",
                "password authentication failed; mypassword=x",
            ),
        ] {
            assert_eq!(mask_credentials(text), masked, "{text}");
        }
    }

    #[test]
    fn a_short_password_leaves_the_message_alone() {
        let text = "error with configuration: invalid port number";
        assert_eq!(mask_credentials(text), text);
    }
}
