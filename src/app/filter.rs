//! The `/` filter of a job list, as typed and as understood:
//! `48213` or `#48213` or `id:48213` (job id), `kind:email.send`, `tenant:acme`,
//! `payload.customer_id:4711` (the payload's value at a path; `payload:text` anywhere in it),
//! `error:text` or any other words (text in the last error, case-insensitive).

use crate::backend::JobId;
use crate::backend::drill::{ListFilter, PayloadTerm};

/// Reads what the user typed. Words that are not `key:value` terms are the error text,
/// joined by single spaces.
pub fn parse(input: &str) -> Result<ListFilter, String> {
    let mut filter = ListFilter::default();
    let mut text: Vec<&str> = Vec::new();
    for word in input.split_whitespace() {
        let (key, value) = match word.split_once(':') {
            Some((k, v)) if matches!(k, "id" | "kind" | "tenant" | "error" | "err") => (k, v),
            Some((k, v)) if k == "payload" || k.starts_with("payload.") => {
                filter.payload = Some(payload_term(k, v)?);
                continue;
            }
            _ => ("", word),
        };
        match key {
            "id" => filter.id = Some(parse_id(value)?),
            "kind" => filter.kind = Some(non_empty(value, "kind")?),
            "tenant" => filter.tenant = Some(non_empty(value, "tenant")?),
            "error" | "err" => text.push(value),
            _ => match bare_id(value) {
                Some(id) if filter.id.is_none() && text.is_empty() => filter.id = Some(id),
                _ => text.push(value),
            },
        }
    }
    let text = text.join(" ");
    if !text.is_empty() {
        filter.error_text = Some(text);
    }
    Ok(filter)
}

/// `payload.customer_id:4711` (the value at a path), `payload.order.id:7` (nested),
/// `payload:4711` (the text anywhere in the payload).
fn payload_term(key: &str, value: &str) -> Result<PayloadTerm, String> {
    let path: Vec<String> = match key.strip_prefix("payload.") {
        Some(path) => path.split('.').map(str::to_string).collect(),
        None => Vec::new(),
    };
    if value.is_empty() || path.iter().any(String::is_empty) {
        return Err("payload: write payload.key:value (payload.order.id:7) or payload:text".into());
    }
    Ok(PayloadTerm {
        path,
        value: value.to_string(),
    })
}

fn parse_id(value: &str) -> Result<JobId, String> {
    value.parse()
}

/// A word typed alone that can only be an id: `#123`, `123`, or a uuid.
fn bare_id(value: &str) -> Option<JobId> {
    let value = value.strip_prefix('#').unwrap_or(value);
    let uuid = value.len() == 36
        && value.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Some(JobId::Int(n)),
        _ if uuid => Some(JobId::Text(value.to_ascii_lowercase())),
        _ => None,
    }
}

fn non_empty(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{what}: needs a value, like {what}:name"))
    } else {
        Ok(value.to_string())
    }
}

/// The filter as the view's title shows it.
pub fn describe(filter: &ListFilter) -> String {
    terms(filter, '=', |e| format!("error~\"{e}\""))
}

/// The filter as text the prompt starts with, so that `/` edits the active filter.
pub fn to_input(filter: &ListFilter) -> String {
    terms(filter, ':', str::to_string)
}

/// `#id kind<sep>K tenant<sep>T` and the error text as `error` writes it.
fn terms(filter: &ListFilter, sep: char, error: impl Fn(&str) -> String) -> String {
    let id = filter.id.as_ref().map(|id| format!("#{id}"));
    let kind = filter.kind.as_ref().map(|k| format!("kind{sep}{k}"));
    let tenant = filter.tenant.as_ref().map(|t| format!("tenant{sep}{t}"));
    let text = filter.error_text.as_deref().map(error);
    let payload = filter.payload.as_ref().map(|p| match p.path.is_empty() {
        true => format!("payload{sep}{}", p.value),
        false => format!("payload.{}{sep}{}", p.path.join("."), p.value),
    });
    [id, kind, tenant, payload, text]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A table's `/` filter: every word of `needle` appears in `text`, in any case.
pub fn matches_words(text: &str, needle: &str) -> bool {
    let text = text.to_lowercase();
    needle
        .split_whitespace()
        .all(|word| text.contains(&word.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_free_text() {
        let f = parse("kind:email.send connection  refused tenant:acme").unwrap();
        assert_eq!(f.kind.as_deref(), Some("email.send"));
        assert_eq!(f.tenant.as_deref(), Some("acme"));
        assert_eq!(f.error_text.as_deref(), Some("connection refused"));
        assert_eq!(f.id, None);
        assert_eq!(parse(&to_input(&f)).unwrap(), f);
        assert_eq!(
            describe(&f),
            "kind=email.send tenant=acme error~\"connection refused\""
        );
    }

    #[test]
    fn payload_terms() {
        let f = parse("payload.customer_id:4711 kind:order").unwrap();
        let term = f.payload.clone().unwrap();
        assert_eq!(
            (term.path, term.value.as_str()),
            (vec!["customer_id".to_string()], "4711")
        );
        assert!(f.needs_scan());
        assert_eq!(parse(&to_input(&f)).unwrap(), f);
        let nested = parse("payload.order.id:7").unwrap().payload.unwrap();
        assert_eq!(nested.path, ["order", "id"]);
        assert!(
            parse("payload:acme")
                .unwrap()
                .payload
                .unwrap()
                .path
                .is_empty()
        );
        assert!(parse("payload.:1").is_err());
        assert!(parse("payload.a:").is_err());
    }

    #[test]
    fn ids() {
        assert_eq!(parse("48213").unwrap().id, Some(JobId::Int(48213)));
        assert_eq!(parse("#48213").unwrap().id, Some(JobId::Int(48213)));
        assert_eq!(parse("id:7").unwrap().id, Some(JobId::Int(7)));
        // Text ids exist (home-grown tables); an empty one does not.
        assert_eq!(
            parse("id:job-7").unwrap().id,
            Some(JobId::Text("job-7".into()))
        );
        assert!(parse("id:").is_err());
        // A uuid alone is an id (pg-boss); other words are error text.
        let uuid = "0b9c2a1e-6f1d-4c1b-9a55-3f0e8d7c6b5a";
        assert_eq!(parse(uuid).unwrap().id, Some(JobId::Text(uuid.into())));
        assert_eq!(parse("seven").unwrap().id, None);
        assert!(parse("kind:").is_err());
        // A number inside error text stays text.
        let f = parse("HTTP 503").unwrap();
        assert_eq!(f.id, None);
        assert_eq!(f.error_text.as_deref(), Some("HTTP 503"));
        assert_eq!(
            parse("error:ECONNRESET").unwrap().error_text.as_deref(),
            Some("ECONNRESET")
        );
        assert!(parse("   ").unwrap().is_empty());
        // Colons in free text are text.
        assert_eq!(
            parse("http://x").unwrap().error_text.as_deref(),
            Some("http://x")
        );
    }
}
