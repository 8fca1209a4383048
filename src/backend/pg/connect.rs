//! Opening database sessions the way production databases demand: URL or `PG*` variables,
//! `~/.pgpass`, TLS modes, unix sockets; and the per-session settings that keep a monitor
//! cheap and, in read-only mode, unable to write.

use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use super::mask::mask_credentials;
use super::target;

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

/// Parses a database URL (checked as libpq would, `target::parse`), or reads the standard
/// `PG*` variables when there is none. Passwords come from the URL, `PGPASSWORD` or
/// `~/.pgpass` (sqlx reads both). The error never repeats a password.
pub fn parse_target(url: Option<&str>) -> Result<PgConnectOptions> {
    Ok(parse_target_noted(url)?.options)
}

/// `parse_target`, with the notes worth telling the user (parameters not applied); they
/// are logged too.
pub fn parse_target_noted(url: Option<&str>) -> Result<target::Parsed> {
    let parsed = match url {
        None => target::Parsed {
            options: PgConnectOptions::new(),
            notes: Vec::new(),
        },
        Some(url) => target::parse(url)?,
    };
    for note in &parsed.notes {
        tracing::warn!("{note}");
    }
    Ok(parsed)
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
    mask_credentials(url)
}

/// The settings every monitor session carries, as (name, value).
fn session_settings(settings: &SessionSettings) -> Vec<(&'static str, String)> {
    let mut session = vec![
        (
            "statement_timeout",
            settings.statement_timeout.as_millis().to_string(),
        ),
        ("jit", "off".to_string()),
        ("max_parallel_workers_per_gather", "0".to_string()),
    ];
    if settings.read_only {
        session.push(("default_transaction_read_only", "on".to_string()));
    }
    session
}

/// The session options every monitor connection carries, sent when it starts.
pub fn with_session_settings(
    opts: PgConnectOptions,
    settings: &SessionSettings,
) -> PgConnectOptions {
    let session = session_settings(settings);
    logged(opts, settings).options(session.iter().map(|(k, v)| (*k, v.as_str())))
}

fn logged(opts: PgConnectOptions, settings: &SessionSettings) -> PgConnectOptions {
    opts.application_name(&settings.application_name)
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1))
}

/// How long a monitor waits for a session before calling the poll failed.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How sessions get their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// In the startup packet: the session has them before its first statement.
    Startup,
    /// With `SET` once connected: connection poolers (PgBouncer, Supavisor) refuse startup
    /// parameters they do not know, `options` and sqlx's `extra_float_digits` among them.
    /// In session pooling the settings hold as before; in transaction pooling the pooler
    /// may hand each transaction another server session, so they cannot be relied on.
    AfterConnect,
}

fn refused_by_pooler(err: &sqlx::Error) -> bool {
    err.to_string().contains("unsupported startup parameter")
}

/// Longest wait for a new session, handshake and authentication included: a server (or a
/// stuck pooler, a load balancer) that accepts the connection and never answers must not
/// hold any command for good. libpq's `connect_timeout` has no default; ours does.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One session, given up after `CONNECT_TIMEOUT` with the reason.
pub async fn connect_once(opts: &PgConnectOptions) -> Result<sqlx::PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(connected) => Ok(connected?),
        Err(_) => Err(no_answer()),
    }
}

/// Whether the database answers at all, as cheaply as that can be asked: a new session
/// and `SELECT 1`. The error is the cause (refused, no such host, shutting down), which a
/// pool's "timed out" hides.
pub async fn probe(opts: &PgConnectOptions) -> Result<()> {
    let mut conn = connect_once(opts).await?;
    sqlx::query("SELECT 1").execute(&mut conn).await?;
    let _ = conn.close().await;
    Ok(())
}

fn no_answer() -> anyhow::Error {
    anyhow::anyhow!(
        "no answer within {}s: the server (or a pooler or load balancer in front of it) took the connection but did not respond",
        CONNECT_TIMEOUT.as_secs()
    )
}

/// Tries one session the normal way, to learn whether a pooler stands in front.
async fn delivery(opts: &PgConnectOptions, settings: &SessionSettings) -> Result<Delivery> {
    let first = with_session_settings(opts.clone(), settings);
    let connected = match tokio::time::timeout(CONNECT_TIMEOUT, first.connect()).await {
        Ok(connected) => connected,
        Err(_) => return Err(no_answer()),
    };
    match connected {
        Ok(conn) => {
            let _ = conn.close().await;
            Ok(Delivery::Startup)
        }
        Err(err) if refused_by_pooler(&err) => {
            tracing::warn!(
                "a connection pooler refused the startup settings ({err}); sending them with \
                 SET after connecting"
            );
            Ok(Delivery::AfterConnect)
        }
        Err(err) => Err(err.into()),
    }
}

fn pool_options(settings: &SessionSettings, delivery: Delivery) -> PgPoolOptions {
    let options = PgPoolOptions::new()
        .max_connections(3)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    if delivery == Delivery::Startup {
        return options;
    }
    let set: String = session_settings(settings)
        .iter()
        .map(|(k, v)| format!("SET {k} = '{v}';"))
        .collect();
    options.after_connect(move |conn, _| {
        let set = set.clone();
        Box::pin(async move {
            // Fixed names and values of our own, never user input.
            sqlx::raw_sql(sqlx::AssertSqlSafe(set))
                .execute(conn)
                .await?;
            Ok(())
        })
    })
}

fn connect_options(
    opts: PgConnectOptions,
    settings: &SessionSettings,
    delivery: Delivery,
) -> PgConnectOptions {
    match delivery {
        Delivery::Startup => with_session_settings(opts, settings),
        Delivery::AfterConnect => logged(opts, settings).extra_float_digits(None),
    }
}

/// A small pool: a monitor needs one connection for polling and one for actions. The
/// first session is opened alone, so a failure says why (refused, no such host, auth)
/// rather than only that the pool timed out.
pub async fn connect(opts: PgConnectOptions, settings: &SessionSettings) -> Result<PgPool> {
    let target = describe(&opts);
    let how = delivery(&opts, settings)
        .await
        .with_context(|| format!("cannot connect to {target}"))?;
    // The pool's own attempt is bounded by its acquire timeout.
    pool_options(settings, how)
        .connect_with(connect_options(opts, settings, how))
        .await
        .with_context(|| format!("cannot connect to {target}"))
}

/// The same pool, opened without connecting: the first query connects, and a database
/// that is away is a failed poll, not a failed start (the wall screen starts regardless).
/// A database that answers now is asked whether a pooler stands in front (for no longer
/// than the pool would wait for a session).
pub async fn connect_lazy(opts: PgConnectOptions, settings: &SessionSettings) -> PgPool {
    let asked = tokio::time::timeout(ACQUIRE_TIMEOUT, delivery(&opts, settings)).await;
    let how = match asked {
        Ok(Ok(how)) => how,
        _ => Delivery::Startup,
    };
    pool_options(settings, how).connect_lazy_with(connect_options(opts, settings, how))
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
