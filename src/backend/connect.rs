//! Opening database sessions the way production databases demand: URL or `PG*` variables,
//! `~/.pgpass`, TLS modes, unix sockets; and the per-session settings that keep a monitor
//! cheap and, in read-only mode, unable to write.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// How the monitor's sessions are set up.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Every statement is bounded by this.
    pub statement_timeout: Duration,
    /// Opens the session with `default_transaction_read_only=on`, so even a bug cannot write.
    pub read_only: bool,
    pub application_name: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            statement_timeout: Duration::from_secs(5),
            read_only: false,
            application_name: "jobtop".to_string(),
        }
    }
}

/// Parses a database URL, or reads the standard `PG*` variables when there is none.
/// Passwords come from the URL, `PGPASSWORD` or `~/.pgpass` (sqlx reads both).
/// The error never repeats the URL, which may hold a password.
pub fn parse_target(url: Option<&str>) -> Result<PgConnectOptions> {
    match url {
        None => Ok(PgConnectOptions::new()),
        Some(url) => PgConnectOptions::from_str(url).map_err(|err| {
            anyhow::anyhow!(
                "invalid database URL {}: {}",
                redact_url(url),
                redact_message(&err.to_string(), url)
            )
        }),
    }
}

/// `user@host:port/db`, the way the header names a database: never with the password.
pub fn describe(opts: &PgConnectOptions) -> String {
    let db = opts.get_database().unwrap_or(opts.get_username());
    match opts.get_socket() {
        Some(dir) => format!(
            "{}@{}:{}/{}",
            opts.get_username(),
            dir.display(),
            opts.get_port(),
            db
        ),
        None => format!(
            "{}@{}:{}/{}",
            opts.get_username(),
            opts.get_host(),
            opts.get_port(),
            db
        ),
    }
}

/// A URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let redacted = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{}", &userinfo[..colon], &authority[at..]),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let mut out = format!(
        "{}://{}{}",
        &url[..scheme_end],
        redacted,
        &rest[authority_end..]
    );
    // A password may also ride in the query string.
    if let Some(q) = out.find("password=") {
        let end = out[q..].find('&').map(|e| q + e).unwrap_or(out.len());
        out.replace_range(q + "password=".len()..end, "***");
    }
    out
}

/// Removes every occurrence of the URL's password from a message.
fn redact_message(message: &str, url: &str) -> String {
    match password_of(url) {
        Some(pw) if !pw.is_empty() => message.replace(&pw, "***"),
        _ => message.to_string(),
    }
}

fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo[userinfo.find(':')? + 1..].to_string())
}

/// The session options every monitor connection carries.
pub fn with_session_settings(
    opts: PgConnectOptions,
    settings: &SessionSettings,
) -> PgConnectOptions {
    let timeout_ms = settings.statement_timeout.as_millis().to_string();
    let mut session: Vec<(&str, &str)> = vec![
        ("statement_timeout", timeout_ms.as_str()),
        ("jit", "off"),
        ("max_parallel_workers_per_gather", "0"),
    ];
    if settings.read_only {
        session.push(("default_transaction_read_only", "on"));
    }
    opts.application_name(&settings.application_name)
        .options(session)
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1))
}

/// A small pool: a monitor needs one connection for polling and one for actions.
pub async fn connect(opts: PgConnectOptions, settings: &SessionSettings) -> Result<PgPool> {
    let target = describe(&opts);
    PgPoolOptions::new()
        .max_connections(3)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(with_session_settings(opts, settings))
        .await
        .with_context(|| format!("cannot connect to {target}"))
}

/// The same pool, opened without connecting: the first query connects, and a database
/// that is away is a failed poll, not a failed start (the wall screen starts regardless).
pub fn connect_lazy(opts: PgConnectOptions, settings: &SessionSettings) -> PgPool {
    PgPoolOptions::new()
        .max_connections(3)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(with_session_settings(opts, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_authority_and_query() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db.example.com:5432/app?sslmode=require"),
            "postgres://bob:***@db.example.com:5432/app?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/app?user=bob&password=s3cret&sslmode=require"),
            "postgres://db/app?user=bob&password=***&sslmode=require"
        );
        assert_eq!(redact_url("postgres://bob@db/app"), "postgres://bob@db/app");
    }

    #[test]
    fn describe_never_shows_password() {
        let opts = parse_target(Some("postgres://bob:s3cret@db.example.com:6543/app")).unwrap();
        assert_eq!(describe(&opts), "bob@db.example.com:6543/app");
    }

    #[test]
    fn invalid_url_error_hides_password() {
        let err = parse_target(Some("postgres://bob:s3cret@db:notaport/app"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("invalid database URL"), "{err}");
    }
}
