//! Errors as one readable line for the header and the terminal.

/// The error and its causes joined by ": ", skipping a cause whose text the line already
/// holds (sqlx repeats its source in its own message, which doubled every error).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_causes_appear_once() {
        let inner = std::io::Error::other("connection refused");
        let err = anyhow::Error::new(inner)
            .context("error communicating with database: connection refused")
            .context("cannot connect to db:5432/app");
        assert_eq!(
            one_line(&err),
            "cannot connect to db:5432/app: error communicating with database: connection refused"
        );
    }
}
