//! `jobtop doctor`: checks what the monitor needs from a database and says what to fix.
//!
//! It never runs a monitoring query: each one is only `EXPLAIN`ed, with sequential scans
//! disabled for the transaction, so that a plan still touching the whole jobs table means no
//! index can serve it at all (on a small table the planner would otherwise pick a sequential
//! scan even where a good index exists, and the report would cry wolf).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::Reads;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub message: String,
    /// What to run or change, when there is a concrete fix.
    pub fix: Option<String>,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, message: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            message: message.into(),
            fix: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// A table a backend reads, and the privileges its actions will need.
#[derive(Debug, Clone, PartialEq)]
pub struct TableNeed {
    pub schema: String,
    pub name: String,
    /// Privileges the actions need (`UPDATE`, `DELETE`, `INSERT`); missing ones only warn.
    pub write: Vec<&'static str>,
}

/// One monitoring statement, as the snapshot runs it.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub sql: Arc<str>,
    /// The statement takes `$1`, the count cap + 1.
    pub binds_cap: bool,
    /// The index that keeps it off a whole-table scan.
    pub fix: Option<String>,
}

/// What a backend tells doctor about itself.
#[derive(Debug, Clone, Default)]
pub struct DoctorPlan {
    pub tables: Vec<TableNeed>,
    pub probes: Vec<Probe>,
    /// Tables whose whole-table scans matter (partitions are found from the catalog).
    pub jobs_tables: Vec<(String, String)>,
    /// The jobs table's state (status) column.
    pub state_column: Option<String>,
    /// Findings the backend made when it opened (a missing optional index, a limitation).
    pub findings: Vec<Check>,
}

/// Runs every check for `backend` and returns the report, worst problems included, in order.
pub async fn run(pool: &PgPool, backend: &dyn Reads) -> Vec<Check> {
    let plan = backend.doctor_plan();
    let mut report = vec![server_version(pool).await];
    report.push(Check::new(
        "backend",
        Status::Ok,
        format!("reading the {} schema", backend.name()),
    ));
    for need in &plan.tables {
        report.extend(privileges(pool, need).await);
    }
    let jobs = match jobs_relations(pool, &plan.jobs_tables, plan.state_column.as_deref()).await {
        Ok(set) => set,
        Err(err) => {
            report.push(Check::new(
                "catalog",
                Status::Fail,
                format!("cannot read the catalog: {err}"),
            ));
            return report;
        }
    };
    for probe in &plan.probes {
        report.push(explain(pool, probe, &jobs).await);
    }
    report.extend(plan.findings.iter().cloned());
    report
}

/// The worst status in a report (what `jobtop doctor` exits with).
pub fn worst(report: &[Check]) -> Status {
    if report.iter().any(|c| c.status == Status::Fail) {
        Status::Fail
    } else if report.iter().any(|c| c.status == Status::Warn) {
        Status::Warn
    } else {
        Status::Ok
    }
}

async fn server_version(pool: &PgPool) -> Check {
    let row: Result<(String, String), _> = sqlx::query_as(
        "SELECT current_setting('server_version_num'), current_setting('server_version')",
    )
    .fetch_one(pool)
    .await;
    match row {
        Err(err) => Check::new(
            "server version",
            Status::Fail,
            format!("cannot read it: {err}"),
        ),
        Ok((num, text)) => {
            let num: i64 = num.parse().unwrap_or(0);
            let (status, note) = if num >= 130_000 {
                (Status::Ok, "")
            } else if num >= 120_000 {
                (Status::Warn, " (past its end of life; works, but untested)")
            } else {
                (Status::Fail, " (PostgreSQL 12 or newer is needed)")
            };
            Check::new("server version", status, format!("PostgreSQL {text}{note}"))
        }
    }
}

async fn privileges(pool: &PgPool, need: &TableNeed) -> Vec<Check> {
    let table = format!("{}.{}", need.schema, need.name);
    let name = format!("privileges on {table}");
    let exists: Result<bool, _> = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2)",
    )
    .bind(&need.schema)
    .bind(&need.name)
    .fetch_one(pool)
    .await;
    match exists {
        Ok(true) => {}
        Ok(false) => return vec![Check::new(name, Status::Fail, "the table does not exist")],
        Err(err) => return vec![Check::new(name, Status::Fail, err.to_string())],
    }
    let mut wanted = vec!["SELECT"];
    wanted.extend(need.write.iter().copied());
    let mut missing_read = false;
    let mut missing_write = Vec::new();
    for privilege in wanted {
        let granted: Result<bool, _> = sqlx::query_scalar(
            "SELECT has_table_privilege(format('%I.%I', $1::text, $2::text), $3)",
        )
        .bind(&need.schema)
        .bind(&need.name)
        .bind(privilege)
        .fetch_one(pool)
        .await;
        match granted {
            Ok(true) => {}
            Ok(false) if privilege == "SELECT" => missing_read = true,
            Ok(false) => missing_write.push(privilege),
            Err(err) => return vec![Check::new(name, Status::Fail, err.to_string())],
        }
    }
    let quoted = crate::backend::pg::sql::qualified(&need.schema, &need.name);
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool)
        .await
        .unwrap_or_else(|_| "your_role".into());
    let role = crate::backend::pg::sql::ident(&role);
    let mut out = Vec::new();
    if missing_read {
        out.push(
            Check::new(
                name.clone(),
                Status::Fail,
                "this role cannot read it (SELECT)",
            )
            .with_fix(format!("GRANT SELECT ON {quoted} TO {role};")),
        );
    } else if missing_write.is_empty() {
        let what = if need.write.is_empty() {
            "can read it".to_string()
        } else {
            format!("can read it and act on it ({})", need.write.join(", "))
        };
        out.push(Check::new(name.clone(), Status::Ok, what));
    }
    if !missing_write.is_empty() {
        out.push(
            Check::new(
                name,
                Status::Warn,
                format!(
                    "can read it, but actions will be refused: no {} privilege",
                    missing_write.join(", ")
                ),
            )
            .with_fix(format!(
                "GRANT {} ON {quoted} TO {role};",
                missing_write.join(", ")
            )),
        );
    }
    out
}

/// The jobs tables with every partition under them, as (schema, name), and their indexes.
async fn jobs_relations(
    pool: &PgPool,
    tables: &[(String, String)],
    state_column: Option<&str>,
) -> Result<JobsTables, sqlx::Error> {
    let mut jobs = JobsTables {
        state_column: state_column.map(str::to_string),
        ..JobsTables::default()
    };
    for (schema, name) in tables {
        let rows: Vec<RelationIndexRow> = sqlx::query_as(
            "WITH RECURSIVE tree(oid) AS ( \
               SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = $1 AND c.relname = $2 \
               UNION ALL \
               SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid) \
             SELECT n.nspname::text, c.relname::text, ic.relname::text, a.attname::text, \
                    coalesce(x.indpred IS NOT NULL, false) \
             FROM tree t JOIN pg_class c ON c.oid = t.oid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_index x ON x.indrelid = c.oid \
             LEFT JOIN pg_class ic ON ic.oid = x.indexrelid \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]",
        )
        .bind(schema)
        .bind(name)
        .fetch_all(pool)
        .await?;
        for (schema, rel, index, lead, partial) in rows {
            jobs.relations.insert((schema, rel));
            if let Some(index) = index {
                jobs.indexes.insert(
                    index,
                    IndexShape {
                        lead: lead.unwrap_or_default(),
                        partial,
                    },
                );
            }
        }
    }
    Ok(jobs)
}

/// (schema, relation, index name, index's first key column, index is partial)
type RelationIndexRow = (String, String, Option<String>, Option<String>, bool);

#[derive(Debug, Clone, Default)]
struct IndexShape {
    /// The first key column ("" for an expression).
    lead: String,
    partial: bool,
}

#[derive(Debug, Default)]
struct JobsTables {
    relations: HashSet<(String, String)>,
    /// Index name -> shape, for the indexes of those relations.
    indexes: HashMap<String, IndexShape>,
    /// The column that holds a job's state: filtering on it after the fact, rather than in
    /// the index condition, means reading every job of every state.
    state_column: Option<String>,
}

async fn explain(pool: &PgPool, probe: &Probe, jobs: &JobsTables) -> Check {
    let name = format!("query plan: {}", probe.name);
    let plan = match explain_json(pool, probe).await {
        Ok(plan) => plan,
        Err(err) => return Check::new(name, Status::Fail, format!("cannot plan it: {err}")),
    };
    let mut scans = Vec::new();
    whole_table_scans(&plan, jobs, false, &mut scans);
    scans.sort();
    scans.dedup();
    if scans.is_empty() {
        return Check::new(
            name,
            Status::Ok,
            "every read of the jobs table is bounded by an index",
        );
    }
    let cost = match measure(pool, probe).await {
        Ok((ms, buffers)) => format!(
            "measured here: {ms:.1} ms and {buffers} buffers each time",
            buffers = crate::backend::actions::thousands(buffers.max(0) as u64)
        ),
        Err(_) => format!("measured here: more than {} s", MEASURE_TIMEOUT.as_secs()),
    };
    let check = Check::new(
        name,
        Status::Warn,
        format!(
            "reads all of {} (or all its jobs of a queue) each time it runs; slow on a big \
             table ({cost})",
            scans.join(", ")
        ),
    );
    match &probe.fix {
        Some(fix) => check.with_fix(fix.clone()),
        None => check,
    }
}

/// How long doctor lets one statement run to measure it.
const MEASURE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a statement that scans the whole table costs on this database: run once under
/// `EXPLAIN (ANALYZE, BUFFERS)`, read-only, bounded by `MEASURE_TIMEOUT`, and rolled back.
async fn measure(pool: &PgPool, probe: &Probe) -> anyhow::Result<(f64, i64)> {
    let timeout = format!(
        "SET LOCAL statement_timeout = {}",
        MEASURE_TIMEOUT.as_millis()
    );
    let plan = explain_in(pool, probe, &timeout, "ANALYZE, BUFFERS, FORMAT JSON").await?;
    let ms = plan[0]["Execution Time"].as_f64().unwrap_or(0.0);
    let top = &plan[0]["Plan"];
    let buffers = ["Shared Hit Blocks", "Shared Read Blocks"]
        .iter()
        .filter_map(|k| top[*k].as_i64())
        .sum();
    Ok((ms, buffers))
}

async fn explain_json(pool: &PgPool, probe: &Probe) -> anyhow::Result<serde_json::Value> {
    explain_in(
        pool,
        probe,
        "SET LOCAL enable_seqscan = off",
        "FORMAT JSON, VERBOSE",
    )
    .await
}

/// `EXPLAIN (<options>)` of a probe in a read-only transaction that `setting` (a `SET
/// LOCAL`) prepares and that is rolled back.
async fn explain_in(
    pool: &PgPool,
    probe: &Probe,
    setting: &str,
    options: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(AssertSqlSafe(setting.to_string()))
        .execute(&mut *tx)
        .await?;
    let sql = format!("EXPLAIN ({options}) {}", probe.sql);
    let query = sqlx::query_scalar::<_, serde_json::Value>(AssertSqlSafe(sql));
    let query = if probe.binds_cap {
        query.bind(10_001_i64)
    } else {
        query
    };
    let plan = query.fetch_one(&mut *tx).await?;
    tx.rollback().await?;
    Ok(plan)
}

/// `text` (a plan condition) mentions `column` as a column reference.
fn mentions(text: &str, column: &str) -> bool {
    if column.is_empty() {
        return false;
    }
    text.match_indices(column).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + column.len()..].chars().next();
        matches!(before, Some('.' | '(' | ' ' | '"'))
            && matches!(after, None | Some(' ' | ')' | ',' | '"' | ':'))
    })
}

/// Reads of a jobs table that are not bounded by an index: sequential scans; index scans
/// whose condition does not pin the index's first column (a walk of the whole index),
/// unless the index is partial (a walk of its predicate's rows); any scan that leaves the
/// state to a filter, unless a partial index or a range (a time window) bounds it. A scan with no filter feeding a `Limit` stops after the rows it needs
/// (the first step of a skip scan), so it does not count.
fn whole_table_scans(
    node: &serde_json::Value,
    jobs: &JobsTables,
    under_limit: bool,
    out: &mut Vec<String>,
) {
    match node {
        serde_json::Value::Array(items) => {
            for item in items {
                whole_table_scans(item, jobs, under_limit, out);
            }
        }
        serde_json::Value::Object(map) => {
            let text = |key: &str| map.get(key).and_then(|v| v.as_str());
            let kind = text("Node Type").unwrap_or("");
            let on_jobs = matches!((text("Schema"), text("Relation Name")),
                (Some(s), Some(r)) if jobs.relations.contains(&(s.to_string(), r.to_string())));
            let index = text("Index Name").and_then(|i| jobs.indexes.get(i));
            let filter = text("Filter");
            let bounded_by_limit = under_limit && filter.is_none();
            let label = || match (text("Schema"), text("Relation Name"), text("Index Name")) {
                (Some(s), Some(r), _) => format!("{s}.{r}"),
                (_, _, Some(i)) => format!("index {i}"),
                _ => "the jobs table".to_string(),
            };
            let mut whole = false;
            if on_jobs && kind == "Seq Scan" && !bounded_by_limit {
                whole = true;
            }
            if let Some(index) = index {
                let pinned = text("Index Cond").is_some_and(|c| mentions(c, &index.lead));
                if !pinned && !index.partial && !bounded_by_limit {
                    whole = true;
                }
            }
            // Over a partial index the predicate has already narrowed the states, and a
            // range (a time window) bounds the rows by itself: a filter on the state then
            // only splits them (created / retry, say).
            let partial = index.is_some_and(|i| i.partial);
            // A bitmap heap scan carries its index's condition as "Recheck Cond".
            let ranged = text("Index Cond")
                .or(text("Recheck Cond"))
                .is_some_and(|c| {
                    [" > ", " >= ", " < ", " <= "]
                        .iter()
                        .any(|op| c.contains(op))
                });
            if on_jobs
                && !partial
                && !ranged
                && let (Some(f), Some(state)) = (filter, &jobs.state_column)
                && mentions(f, state)
            {
                whole = true;
            }
            if whole {
                out.push(label());
            }
            // A limit bounds its direct input only; deeper nodes (under a sort, an
            // aggregate) may still read everything.
            let limit = kind == "Limit";
            for (key, value) in map {
                let child_limit = match key.as_str() {
                    "Plans" => limit,
                    "Plan" => under_limit,
                    _ => false,
                };
                whole_table_scans(value, jobs, child_limit, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(rels: &[&str], indexes: &[(&str, &str, bool)]) -> JobsTables {
        JobsTables {
            relations: rels
                .iter()
                .map(|t| ("s".to_string(), t.to_string()))
                .collect(),
            indexes: indexes
                .iter()
                .map(|(name, lead, partial)| {
                    (
                        name.to_string(),
                        IndexShape {
                            lead: lead.to_string(),
                            partial: *partial,
                        },
                    )
                })
                .collect(),
            state_column: Some("state".into()),
        }
    }

    fn scans(plan: serde_json::Value, jobs: &JobsTables) -> Vec<String> {
        let mut out = Vec::new();
        whole_table_scans(&plan, jobs, false, &mut out);
        out.sort();
        out
    }

    #[test]
    fn seq_scans_and_walks_of_a_whole_index_are_flagged_on_jobs_tables_only() {
        let jobs = tables(&["jobs", "part"], &[("jobs_pkey", "name", false)]);
        let plan = serde_json::json!([{ "Plan": { "Node Type": "Result", "Plans": [
            { "Node Type": "Seq Scan", "Relation Name": "part", "Schema": "s" },
            { "Node Type": "Seq Scan", "Relation Name": "queue", "Schema": "s" },
            { "Node Type": "Index Only Scan", "Relation Name": "jobs", "Schema": "s",
              "Index Name": "jobs_pkey", "Index Cond": "(id = 1)" },
            { "Node Type": "Index Scan", "Relation Name": "jobs", "Schema": "s",
              "Index Name": "jobs_pkey", "Index Cond": "(j.name = q.name)" }
        ]}}]);
        assert_eq!(scans(plan, &jobs), vec!["s.jobs", "s.part"]);
    }

    #[test]
    fn leaving_the_state_to_a_filter_is_flagged() {
        let jobs = tables(&["jobs"], &[("jobs_pkey", "name", false)]);
        let plan = serde_json::json!({ "Plan": {
            "Node Type": "Index Scan", "Relation Name": "jobs", "Schema": "s",
            "Index Name": "jobs_pkey", "Index Cond": "(j.name = q.name)",
            "Filter": "(j.state = 'active'::s.job_state)" }});
        assert_eq!(scans(plan, &jobs), vec!["s.jobs"]);
    }

    #[test]
    fn a_scan_feeding_a_limit_is_bounded_unless_it_filters() {
        let jobs = tables(&["j", "k"], &[]);
        let plan = serde_json::json!({ "Plan": { "Node Type": "Limit", "Plans": [
            { "Node Type": "Seq Scan", "Relation Name": "j", "Schema": "s" },
            { "Node Type": "Seq Scan", "Relation Name": "k", "Schema": "s", "Filter": "(x > 1)" }
        ]}});
        assert_eq!(scans(plan, &jobs), vec!["s.k"]);
    }

    #[test]
    fn a_full_walk_of_a_partial_index_is_bounded_by_its_predicate() {
        let plan = serde_json::json!({ "Plan": {
            "Node Type": "Index Scan", "Relation Name": "jobs", "Schema": "s",
            "Index Name": "jobs_held", "Filter": "(locked_at IS NOT NULL)" }});
        assert!(
            scans(
                plan.clone(),
                &tables(&["jobs"], &[("jobs_held", "task_id", true)])
            )
            .is_empty()
        );
        assert_eq!(
            scans(plan, &tables(&["jobs"], &[("jobs_held", "task_id", false)])),
            vec!["s.jobs"]
        );
    }

    #[test]
    fn column_mentions_respect_word_boundaries() {
        assert!(mentions("(j.state = 'x'::t)", "state"));
        assert!(mentions("(state = 'x')", "state"));
        assert!(!mentions("(j.unique_states IS NULL)", "state"));
        assert!(!mentions("(j.state_x = 1)", "state"));
    }

    #[test]
    fn worst_status_wins() {
        let ok = Check::new("a", Status::Ok, "");
        let warn = Check::new("b", Status::Warn, "");
        let fail = Check::new("c", Status::Fail, "");
        assert_eq!(worst(std::slice::from_ref(&ok)), Status::Ok);
        assert_eq!(worst(&[ok.clone(), warn.clone()]), Status::Warn);
        assert_eq!(worst(&[warn, fail, ok]), Status::Fail);
    }
}
