//! Errors as one readable line for the header and the terminal: each cause once, the
//! server's message without its source line ("at line 334" is PostgreSQL's C file, not the
//! user's), credentials masked, and what to do where the cause says it.

use sqlx::postgres::PgDatabaseError;

use crate::backend::pg::mask::mask_credentials;

/// The error and its causes joined by ": ", skipping a cause whose text the line already
/// holds (sqlx repeats its source in its own message, which doubled every error), then the
/// advice for the cause, if any.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause_text(cause);
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    if let Some(advice) = advice(err) {
        line.push_str(" — ");
        line.push_str(advice);
    }
    mask_credentials(&line)
}

/// A cause's own words; a server error as the server's message alone.
fn cause_text(cause: &(dyn std::error::Error + 'static)) -> String {
    let server = cause
        .downcast_ref::<PgDatabaseError>()
        .or_else(|| {
            // sqlx hands its server error on boxed.
            cause
                .downcast_ref::<Box<dyn sqlx::error::DatabaseError>>()
                .and_then(|db| db.try_downcast_ref::<PgDatabaseError>())
        })
        .or_else(|| match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) => db.try_downcast_ref::<PgDatabaseError>(),
            _ => None,
        });
    match server {
        Some(db) => db.message().to_string(),
        // "error communicating with database:" adds nothing to its cause, which follows.
        None if matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Io(_))
        ) =>
        {
            String::new()
        }
        None => cause.to_string(),
    }
}

/// What to do about the commonest reasons a database cannot be reached or read.
fn advice(err: &anyhow::Error) -> Option<&'static str> {
    for cause in err.chain() {
        if let Some(sqlx::Error::PoolTimedOut) = cause.downcast_ref::<sqlx::Error>() {
            return Some(
                "no session could be opened in time: the database is away or not answering",
            );
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Some("is the server running, and listening on that host and port?");
                }
                std::io::ErrorKind::NotFound => {
                    return Some("is the server running, with its socket in that directory?");
                }
                _ => {}
            }
        }
        let code = cause
            .downcast_ref::<PgDatabaseError>()
            .map(|db| db.code().to_string())
            .or_else(|| match cause.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
                _ => None,
            });
        match code.as_deref() {
            Some("28P01" | "28000") => {
                return Some("check the user and password (URL, PGPASSWORD or ~/.pgpass)");
            }
            Some("3D000") => return Some("check the database name in the URL"),
            Some("57P01" | "57P02" | "57P03") => {
                return Some("the server is shutting down or starting; jobtop retries");
            }
            Some("53300") => return Some("the server has no free connection slots"),
            Some("42501") => return Some("grant the role what `jobtop doctor` lists"),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_causes_appear_once() {
        let inner = std::io::Error::other("connection reset");
        let err = anyhow::Error::new(inner)
            .context("error communicating with database: connection reset")
            .context("cannot connect to db:5432/app");
        assert_eq!(
            one_line(&err),
            "cannot connect to db:5432/app: error communicating with database: connection reset"
        );
    }

    #[test]
    fn a_refused_connection_says_what_to_check_and_masks_the_url() {
        let inner = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = anyhow::Error::new(inner).context("cannot reach postgres://bob:o@db/app");
        let line = one_line(&err);
        assert!(
            line.starts_with("cannot reach postgres://bob:***@db/app: "),
            "{line}"
        );
        assert!(line.ends_with("is the server running, and listening on that host and port?"));
    }
}
