//! The indexes `jobtop doctor` names, built by `jobtop migrate --indexes` (and `bench
//! --with-indexes`). The list is doctor's report itself: every fix of a check that is not
//! ok and creates an index, so what migrate builds is exactly what doctor advised and
//! doctor stops naming it afterwards.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::Reads;
use crate::backend::doctor::{self, Check, Status};

/// Each index a report names, once, as `CREATE INDEX [CONCURRENTLY] IF NOT EXISTS …`
/// (a fix may hold several statements).
pub fn named(report: &[Check]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let fixes = report
        .iter()
        .filter(|c| c.status != Status::Ok)
        .filter_map(|c| c.fix.as_deref());
    for statement in fixes.flat_map(|f| f.split(';')) {
        let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        let Some(rest) = statement.strip_prefix("CREATE INDEX ") else {
            continue;
        };
        let (how, rest) = match rest.strip_prefix("CONCURRENTLY ") {
            Some(rest) => ("CREATE INDEX CONCURRENTLY", rest),
            None => ("CREATE INDEX", rest),
        };
        let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
        let sql = format!("{how} IF NOT EXISTS {rest}");
        if !out.contains(&sql) {
            out.push(sql);
        }
    }
    out
}

/// An index built, and how long it took.
#[derive(Debug, Clone)]
pub struct Built {
    pub sql: String,
    pub took: Duration,
}

/// What doctor names for `backend` on this database.
pub async fn advised(pool: &PgPool, backend: &dyn Reads) -> Vec<String> {
    named(&doctor::run(pool, backend).await)
}

/// Builds each index in turn on one session without a statement timeout (an index over
/// millions of rows takes minutes; `CONCURRENTLY` keeps the queue's writers going
/// meanwhile), calling `progress` before each.
pub async fn build(
    pool: &PgPool,
    statements: &[String],
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Vec<Built>> {
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let mut built = Vec::with_capacity(statements.len());
    for sql in statements {
        progress(sql);
        let started = Instant::now();
        // Doctor's text, built from the catalog's identifiers when the backend opened.
        sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("building {sql}"))?;
        built.push(Built {
            sql: sql.clone(),
            took: started.elapsed(),
        });
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_and_only_from_checks_that_warn() {
        let report = vec![
            Check::new("a", Status::Warn, "").with_fix(
                "CREATE INDEX CONCURRENTLY a_one ON t (x); CREATE INDEX CONCURRENTLY a_two ON t (y)\n  WHERE z;",
            ),
            Check::new("b", Status::Warn, "")
                .with_fix("CREATE INDEX CONCURRENTLY IF NOT EXISTS a_one ON t (x);"),
            Check::new("c", Status::Warn, "").with_fix("GRANT SELECT ON t TO r;"),
            Check::new("d", Status::Warn, "").with_fix("CREATE INDEX p_one ON parted (name);"),
            Check::new("e", Status::Ok, "").with_fix("CREATE INDEX CONCURRENTLY ok ON t (x);"),
        ];
        assert_eq!(
            named(&report),
            [
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_one ON t (x)",
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_two ON t (y) WHERE z",
                "CREATE INDEX IF NOT EXISTS p_one ON parted (name)",
            ]
        );
    }
}
