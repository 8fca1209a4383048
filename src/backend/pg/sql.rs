//! Quoting of the trusted identifiers statements are built from (found in the catalog or
//! written in a profile by the operator, never typed at run time), time columns, and the
//! one builder for statements assembled at run time.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Postgres};

/// A double-quoted identifier; safe for any name the catalog can hold.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A single-quoted literal. Only for values from the catalog or a validated profile (status
/// values must be literals so the planner can match partial-index predicates).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A timestamp column as the monitor reads it. Ecto (Oban) and some home-grown tables store
/// UTC in `timestamp without time zone`; comparisons then convert the other side, so that an
/// index on the column stays usable.
#[derive(Debug, Clone)]
pub struct TimeCol {
    pub expr: String,
    pub naive: bool,
}

impl TimeCol {
    pub fn new(expr: impl Into<String>, naive: bool) -> TimeCol {
        TimeCol {
            expr: expr.into(),
            naive,
        }
    }

    /// The column as a `timestamptz`.
    pub fn read(&self) -> String {
        if self.naive {
            format!("({} AT TIME ZONE 'UTC')", self.expr)
        } else {
            self.expr.clone()
        }
    }

    /// A `timestamptz` expression converted to the column's own type, for comparisons.
    pub fn value(&self, tz_expr: &str) -> String {
        if self.naive {
            format!("timezone('UTC', {tz_expr})")
        } else {
            tz_expr.to_string()
        }
    }

    /// `column <op> now()`, sargable.
    pub fn cmp_now(&self, op: &str) -> String {
        format!("{} {op} {}", self.expr, self.value("now()"))
    }
}

/// A value bound to a placeholder of an assembled statement.
#[derive(Debug, Clone)]
pub enum Bind {
    Int4(i32),
    Int(i64),
    Float(f64),
    Text(Option<String>),
    Texts(Vec<String>),
    Ints(Vec<i64>),
    Time(DateTime<Utc>),
}

impl From<i32> for Bind {
    fn from(v: i32) -> Bind {
        Bind::Int4(v)
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}
impl From<f64> for Bind {
    fn from(v: f64) -> Bind {
        Bind::Float(v)
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Text(Some(v))
    }
}
impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Bind {
        Bind::Text(v)
    }
}
impl From<Vec<String>> for Bind {
    fn from(v: Vec<String>) -> Bind {
        Bind::Texts(v)
    }
}
impl From<Vec<i64>> for Bind {
    fn from(v: Vec<i64>) -> Bind {
        Bind::Ints(v)
    }
}
impl From<DateTime<Utc>> for Bind {
    fn from(v: DateTime<Utc>) -> Bind {
        Bind::Time(v)
    }
}

/// The one way a statement is assembled at run time: text from trusted fragments (fixed
/// SQL, or identifiers from the catalog or a validated profile) and every value bound to a
/// numbered placeholder, `$1` first.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, fragment: &str) -> &mut Sql {
        self.text.push_str(fragment);
        self
    }

    /// Binds a value; returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Bind>) -> String {
        format!("${}", self.bind_index(value))
    }

    /// Binds a value; returns its placeholder's number, to use it again (`placeholder`).
    pub fn bind_index(&mut self, value: impl Into<Bind>) -> usize {
        self.binds.push(value.into());
        self.binds.len()
    }

    /// Writes the placeholder of a value bound earlier.
    pub fn placeholder(&mut self, n: usize) -> &mut Sql {
        self.text.push_str(&format!("${n}"));
        self
    }

    /// Puts `fragment` before the statement (`EXPLAIN ...`).
    pub fn prepend(&mut self, fragment: &str) -> &mut Sql {
        self.text.insert_str(0, fragment);
        self
    }

    /// How many values are bound.
    pub fn bound(&self) -> usize {
        self.binds.len()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn query(&self) -> Query<'_, Postgres, PgArguments> {
        // Trusted fragments only (see above); every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(self.text.clone()));
        for b in &self.binds {
            q = match b.clone() {
                Bind::Int4(v) => q.bind(v),
                Bind::Int(v) => q.bind(v),
                Bind::Float(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
                Bind::Texts(v) => q.bind(v),
                Bind::Ints(v) => q.bind(v),
                Bind::Time(v) => q.bind(v),
            };
        }
        q
    }

    /// The statement with its values written in as typed literals, for `EXPLAIN` by doctor
    /// (which binds nothing). Only for the statements doctor probes, whose values are ours.
    pub fn inlined(&self) -> String {
        let mut text = self.text.clone();
        for (i, b) in self.binds.iter().enumerate().rev() {
            let value = match b {
                Bind::Int4(v) => format!("{v}::int4"),
                Bind::Int(v) => format!("{v}::int8"),
                Bind::Float(v) => format!("{v}::float8"),
                Bind::Text(Some(v)) => format!("{}::text", literal(v)),
                Bind::Text(None) => "NULL::text".into(),
                Bind::Texts(v) => format!(
                    "ARRAY[{}]::text[]",
                    v.iter().map(|s| literal(s)).collect::<Vec<_>>().join(", ")
                ),
                Bind::Ints(v) => format!(
                    "ARRAY[{}]::int8[]",
                    v.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Bind::Time(v) => format!("{}::timestamptz", literal(&v.to_rfc3339())),
            };
            text = text.replace(&format!("${}", i + 1), &value);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("s", "t"), "\"s\".\"t\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn naive_time_columns_compare_in_utc() {
        let c = TimeCol::new("j.completed_at", true);
        assert_eq!(c.read(), "(j.completed_at AT TIME ZONE 'UTC')");
        assert_eq!(c.cmp_now(">="), "j.completed_at >= timezone('UTC', now())");
        let t = TimeCol::new("j.run_at", false);
        assert_eq!(t.cmp_now("<="), "j.run_at <= now()");
    }

    #[test]
    fn inlined_values_replace_the_highest_placeholders_first() {
        let mut sql = Sql::default();
        let mut phs = Vec::new();
        for i in 0..11 {
            phs.push(sql.bind(Bind::Int(i)));
        }
        sql.push(&format!("SELECT {} + {}", phs[1], phs[10]));
        assert_eq!(sql.inlined(), "SELECT 1::int8 + 10::int8");
        let mut sql = Sql::default();
        let p = sql.bind(Bind::Text(Some("it's".into())));
        sql.push(&format!("SELECT {p}"));
        assert_eq!(sql.inlined(), "SELECT 'it''s'::text");
    }
}
