//! What a database URL may say, checked the way libpq checks it before sqlx reads it: a
//! PostgreSQL scheme, an empty host meaning the default (`postgres://user@/db?host=/sock`),
//! and only parameters libpq knows. Every message masks the URL's credentials.

use std::str::FromStr;

use anyhow::{Result, bail};
use sqlx::postgres::PgConnectOptions;

use super::mask::mask_credentials;

/// Parameters sqlx applies (its own spellings included).
const APPLIED: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "ssl-mode",
    "ssl-root-cert",
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
    "statement-cache-capacity",
];

/// libpq's other connection parameters (PostgreSQL 17): valid in a URL people copy from
/// their applications' settings, but not applied here. Each is named in a note.
const LIBPQ_NOT_APPLIED: &[&str] = &[
    "passfile",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "requiressl",
    "sslcompression",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslnegotiation",
    "sslcertmode",
    "requirepeer",
    "require_auth",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// A parsed target and the notes worth telling the user (parameters accepted but not applied).
#[derive(Debug)]
pub struct Parsed {
    pub options: PgConnectOptions,
    pub notes: Vec<String>,
}

/// Parses a PostgreSQL URL. Refused, with the reason: another database's scheme, a
/// `postgres:` without `//`, a parameter libpq does not know (libpq refuses those too:
/// a typo such as `sslmdoe=require` must not quietly connect without TLS).
pub fn parse(url: &str) -> Result<Parsed> {
    let shown = mask_credentials(url);
    let Some((scheme, rest)) = url.split_once(':') else {
        bail!(
            "'{shown}' is not a database URL: write postgres://user@host:port/db, or @name for a connection of the config file"
        );
    };
    if !scheme.eq_ignore_ascii_case("postgres") && !scheme.eq_ignore_ascii_case("postgresql") {
        if scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            && rest.starts_with("//")
        {
            bail!(
                "{shown}: jobtop reads PostgreSQL only, and {scheme}:// is not a PostgreSQL URL (write postgres://user@host:port/db)"
            );
        }
        bail!(
            "'{shown}' is not a database URL: write postgres://user@host:port/db, or @name for a connection of the config file"
        );
    }
    let Some(after_slashes) = rest.strip_prefix("//") else {
        bail!("{shown}: a PostgreSQL URL starts with postgres:// (two slashes)");
    };
    let url = default_host(scheme, after_slashes);
    let parsed = url::Url::parse(&url).map_err(|err| {
        anyhow::anyhow!(
            "invalid database URL {shown}: {}",
            mask_credentials(&err.to_string())
        )
    })?;
    let mut notes = Vec::new();
    for (key, _) in parsed.query_pairs() {
        let key = key.as_ref();
        if APPLIED.contains(&key) || key.starts_with("options[") {
            continue;
        }
        if LIBPQ_NOT_APPLIED.contains(&key) {
            notes.push(not_applied(key));
            continue;
        }
        bail!(
            "invalid database URL {shown}: unknown parameter '{}' (libpq refuses it too; see the connection parameters in the PostgreSQL manual)",
            mask_credentials(key)
        );
    }
    let options = PgConnectOptions::from_str(&url).map_err(|err| {
        anyhow::anyhow!(
            "invalid database URL {shown}: {}",
            mask_credentials(&err.to_string())
        )
    })?;
    Ok(Parsed { options, notes })
}

fn not_applied(key: &str) -> String {
    match key {
        "connect_timeout" => {
            "connect_timeout is not applied: jobtop bounds every connection attempt itself".into()
        }
        _ => format!("the URL parameter {key} is valid for libpq but jobtop does not apply it"),
    }
}

/// An empty host means libpq's default (the `PG*` variables, else the local socket): the
/// URL parser refuses user info without a host, so the user info moves into the query.
fn default_host(scheme: &str, after_slashes: &str) -> String {
    let authority_end = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    let (authority, tail) = after_slashes.split_at(authority_end);
    let Some(at) = authority.rfind('@') else {
        return format!("{scheme}://{after_slashes}");
    };
    let (user_info, host_port) = (&authority[..at], &authority[at + 1..]);
    if !host_port.is_empty() && !host_port.starts_with(':') {
        return format!("{scheme}://{after_slashes}");
    }
    let mut moved = Vec::new();
    let (user, password) = match user_info.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (user_info, None),
    };
    if !user.is_empty() {
        moved.push(format!("user={user}"));
    }
    if let Some(password) = password {
        moved.push(format!("password={password}"));
    }
    if let Some(port) = host_port.strip_prefix(':').filter(|p| !p.is_empty()) {
        moved.push(format!("port={port}"));
    }
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    let mut params: Vec<&str> = query.into_iter().filter(|q| !q.is_empty()).collect();
    let moved_refs: Vec<&str> = moved.iter().map(String::as_str).collect();
    params.extend(moved_refs);
    if params.is_empty() {
        format!("{scheme}://{path}")
    } else {
        format!("{scheme}://{path}?{}", params.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_schemes_and_one_slash_are_refused_without_the_password() {
        for (url, says) in [
            ("mysql://root:hunter2@db/app", "PostgreSQL only"),
            ("http://u:hunter2@db/app", "PostgreSQL only"),
            ("postgres:/postgres:hunter2@host/db", "two slashes"),
            ("doctr", "not a database URL"),
        ] {
            let err = parse(url).unwrap_err().to_string();
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn an_empty_host_means_the_default_as_in_libpq() {
        let parsed = parse("postgres://bob:pw@/app?host=/var/run/postgresql").unwrap();
        let opts = parsed.options;
        assert_eq!(opts.get_username(), "bob");
        assert_eq!(opts.get_database(), Some("app"));
        assert_eq!(
            opts.get_socket().map(|s| s.display().to_string()),
            Some("/var/run/postgresql".to_string())
        );
        let with_port = parse("postgresql://bob@:6543/app").unwrap().options;
        assert_eq!(with_port.get_port(), 6543);
        assert_eq!(with_port.get_username(), "bob");
    }

    #[test]
    fn unknown_parameters_are_refused_and_libpq_ones_noted() {
        let err = parse("postgres://h/db?sslmdoe=require")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown parameter 'sslmdoe'"), "{err}");
        let parsed =
            parse("postgres://h/db?target_session_attrs=read-write&sslmode=disable").unwrap();
        assert_eq!(parsed.notes.len(), 1, "{:?}", parsed.notes);
        assert!(parsed.notes[0].contains("target_session_attrs"));
    }
}
