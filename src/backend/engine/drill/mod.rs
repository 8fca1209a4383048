//! The drill-down reads (job lists, one job in full, dead letters, per-kind figures,
//! tenants) on someone else's queue table: River, Oban, a mapped profile, and any backend
//! that describes its table the same way. Written once, driven by a `DrillTable` each
//! backend builds when it opens: the `JobTable` its actions already use, the optional
//! columns a list and a detail show, and for each display state the index ranges that list
//! it in order.
//!
//! How a list stays on indexes: each display state is one or more ranges (River's ready
//! jobs are `available`, due `scheduled` and due `retryable`), each read in (sort time, id)
//! order after the keyset cursor and cut at the page size; the ranges are merged and cut
//! again. Where the index puts a priority before the time (River and Oban:
//! `(state, queue, priority, scheduled_at, id)`), a range is read one priority "lane" at a
//! time, so each lane is an ordered index range. A sort column that may be NULL gets a
//! second branch for its NULL rows, ordered by id, after (oldest first) or before (newest
//! first) the others, as PostgreSQL orders NULLs.
//!
//! Rows are selected whole (`j.*`) inside the ranges and turned into list columns only
//! after the page is cut, so a long error or a big array is read for the rows shown, not
//! for every row a range offered; long text is cut in SQL, with its full length reported.
//!
//! Every statement is assembled from identifiers the catalog or a validated profile gave;
//! every value the operator typed (queue, worker, filter terms, cursor, ids) is a bind
//! parameter, and ids are cast to the id column's own type so its index is used.

mod attempts;
mod dead_letters;
mod job;
pub(crate) mod jobs;
mod kinds;
mod tenants;

use chrono::{DateTime, Utc};
use sqlx::Postgres;
use sqlx::postgres::PgRow;

use crate::backend::doctor::{Check, Probe, Status};
use crate::backend::drill::{
    DeadLetterQuery, DeadWindow, HistoryWindow, JobQuery, JobRow, JobScope, KindsQuery, Order,
    PAGE_SIZE, SortKey,
};
use crate::backend::engine::actions::JobTable;
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::decode::{self, opt_text};
use crate::backend::pg::sql::TimeCol;

pub use crate::backend::engine::states::{Range, Sort, StateList, StateMap, time_column};

pub use attempts::failed_attempts;
pub use dead_letters::dead_letters;
pub use job::job;
pub use jobs::{explain, page};
pub use kinds::kinds;
pub use tenants::tenants;

/// A job table as the drill-down reads it. Expressions use the alias `j`; every optional
/// field is `None` where the schema has no such thing, and the views then show a dash.
#[derive(Debug, Clone)]
pub struct DrillTable {
    /// Ids, queue, kind, state conditions, worker, tenant, last error (text), and when a
    /// running job last showed signs of life: shared with the actions.
    pub jobs: JobTable,
    /// Integer expressions.
    pub priority: Option<String>,
    pub attempts: Option<String>,
    pub max_attempts: Option<String>,
    /// When a waiting job is due.
    pub run_at: Option<TimeCol>,
    pub created_at: Option<TimeCol>,
    pub started_at: Option<TimeCol>,
    /// When a job in any finished state finished, as a `timestamptz` expression.
    pub finished_at: Option<String>,
    pub heartbeat_at: Option<TimeCol>,
    /// The payload: json, jsonb or text; bytea where `payload_binary`.
    pub payload: Option<String>,
    /// The payload is bytea: read as bytes and decoded by `pg::decode::payload`.
    pub payload_binary: bool,
    /// One entry per failed attempt.
    pub history: Option<ErrorHistory>,
    /// The column the laned ranges pin one value at a time, and where the values come from.
    pub lanes: Option<Lanes>,
}

#[derive(Debug, Clone)]
pub struct Lanes {
    /// `j.priority`.
    pub column: String,
    pub values: LaneValues,
}

#[derive(Debug, Clone)]
pub enum LaneValues {
    /// The schema bounds them (River: 1 to 4).
    Fixed(Vec<i32>),
    /// The ones present, found by a skip scan over the index.
    SkipScan,
}

/// A job's error history: an array with one entry per failed attempt.
#[derive(Debug, Clone)]
pub struct ErrorHistory {
    /// `j.errors`.
    pub column: String,
    pub shape: HistoryShape,
    /// Text expressions over one entry, `e.entry` (jsonb), and the job `j`.
    pub at: String,
    pub attempt: String,
    pub error: String,
    pub worker: Option<String>,
    /// Entries carry the time of their attempt: failed attempts of a window can be counted.
    pub timed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryShape {
    /// A PostgreSQL array of jsonb (River, Oban).
    PgArray,
    /// A JSON array in a json or jsonb column.
    JsonArray,
}

impl ErrorHistory {
    /// Entries written as `{"at": …, "attempt": …, "error": …, "worker": …}` (the
    /// reference schema's shape; `message` is read where `error` is missing).
    pub fn json(column: impl Into<String>, shape: HistoryShape, timed: bool) -> ErrorHistory {
        ErrorHistory {
            column: column.into(),
            shape,
            at: "e.entry ->> 'at'".into(),
            attempt: "e.entry ->> 'attempt'".into(),
            error: "coalesce(e.entry ->> 'error', e.entry ->> 'message', e.entry #>> '{}')".into(),
            worker: Some("e.entry ->> 'worker'".into()),
            timed,
        }
    }

    /// The entries as a set of `e(entry jsonb, ord bigint)`.
    fn elements(&self) -> String {
        match self.shape {
            HistoryShape::PgArray => {
                format!("unnest({}) WITH ORDINALITY AS e(entry, ord)", self.column)
            }
            HistoryShape::JsonArray => format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof(({c})::jsonb) = 'array' \
                 THEN ({c})::jsonb ELSE '[]'::jsonb END) WITH ORDINALITY AS e(entry, ord)",
                c = self.column
            ),
        }
    }

    fn count(&self) -> String {
        match self.shape {
            HistoryShape::PgArray => format!("coalesce(cardinality({}), 0)::bigint", self.column),
            HistoryShape::JsonArray => format!(
                "(CASE WHEN jsonb_typeof(({c})::jsonb) = 'array' \
                 THEN jsonb_array_length(({c})::jsonb) ELSE 0 END)::bigint",
                c = self.column
            ),
        }
    }

    /// The entry's time as a `timestamptz` (NULL when unreadable); a time written without
    /// a zone is UTC.
    fn at_time(&self) -> String {
        format!(
            "(CASE WHEN ({at}) ~ '^\\d{{4}}-\\d\\d-\\d\\d[T ]\\d\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?(Z|[+-]\\d\\d(:?\\d\\d)?)$' \
               THEN ({at})::timestamptz \
             WHEN ({at}) ~ '^\\d{{4}}-\\d\\d-\\d\\d[T ]\\d\\d:\\d\\d(:\\d\\d(\\.\\d+)?)?$' \
               THEN ({at})::timestamp AT TIME ZONE 'UTC' END)",
            at = self.at
        )
    }
}

impl DrillTable {
    pub fn list(&self, state: JobState) -> Option<&StateList> {
        self.jobs.states.list(state)
    }

    /// Whether `id` can name a job of this table: the text of an id must cast to the id
    /// column's type, or the statement fails instead of finding nothing.
    pub fn accepts(&self, id: &JobId) -> bool {
        let ty = self.jobs.id_type.as_str();
        match (ty, id) {
            ("bigint", JobId::Int(_)) | ("numeric", JobId::Int(_)) => true,
            ("integer", JobId::Int(n)) => i32::try_from(*n).is_ok(),
            ("smallint", JobId::Int(n)) => i16::try_from(*n).is_ok(),
            ("bigint" | "integer" | "smallint" | "numeric", JobId::Text(_)) => false,
            ("uuid", JobId::Text(t)) => is_uuid(t),
            ("uuid", JobId::Int(_)) => false,
            _ => true,
        }
    }

    fn id_cast(&self, placeholder: &str) -> String {
        format!("CAST({placeholder} AS {})", self.jobs.id_type)
    }

    /// What a range selects besides the job's own columns (`j.*`): its queue and kind,
    /// whose expressions may name another table of the `FROM` (graphile-worker's task
    /// identifier), as `jobtop_queue` and `jobtop_kind`. Every other expression names `j`
    /// only.
    fn carried(&self) -> String {
        format!(
            "({})::text AS jobtop_queue, ({})::text AS jobtop_kind",
            self.jobs.queue, self.jobs.kind
        )
    }

    /// The columns of a list row, over `j` and `le.e` (its last error): `j` a row of the
    /// table, or with `union` a row of the ranges' union (with `carried` columns).
    /// `keyed` names the column that is the list's sort time, read from the union's
    /// `jobtop_sort_at` so the cursor is the time the list was ordered by.
    fn row_columns(&self, keyed: Option<SortKey>, error_chars: &str, union: bool) -> String {
        let t = &self.jobs;
        let (queue, kind) = if union {
            ("j.jobtop_queue".to_string(), "j.jobtop_kind".to_string())
        } else {
            (t.queue.clone(), t.kind.clone())
        };
        let opt = |e: &Option<String>, cast: &str| match e {
            Some(e) => format!("({e})::{cast}"),
            None => format!("NULL::{cast}"),
        };
        let text = |e: &Option<String>| match e {
            Some(e) => format!("substr(({e})::text, 1, 200)"),
            None => "NULL::text".into(),
        };
        let time = |c: &Option<TimeCol>, key: SortKey| {
            if keyed == Some(key) {
                "j.jobtop_sort_at".to_string()
            } else {
                c.as_ref()
                    .map_or("NULL::timestamptz".to_string(), TimeCol::read)
            }
        };
        let finished = if keyed == Some(SortKey::FinishedAt) {
            "j.jobtop_sort_at".to_string()
        } else {
            self.finished_at
                .clone()
                .unwrap_or_else(|| "NULL::timestamptz".into())
        };
        format!(
            "({id})::text AS id, substr(({queue})::text, 1, 200) AS queue, \
             substr(({kind})::text, 1, 200) AS kind, {tenant} AS tenant_id, \
             {state} AS display_state, {priority} AS priority, {attempts} AS attempts, \
             {max} AS max_attempts, {run_at} AS run_at, {created} AS created_at, \
             {started} AS started_at, {finished} AS finished_at, {worker} AS locked_by, \
             {heartbeat} AS heartbeat_at, NULL::timestamptz AS worker_heartbeat_at, \
             substr(le.e, 1, {error_chars}) AS last_error, \
             coalesce(octet_length(le.e), 0)::bigint AS error_bytes",
            id = t.id,
            tenant = text(&t.tenant),
            state = t.states.display_state(),
            priority = opt(&self.priority, "int"),
            attempts = opt(&self.attempts, "int"),
            max = opt(&self.max_attempts, "int"),
            run_at = time(&self.run_at, SortKey::RunAt),
            created = self
                .created_at
                .as_ref()
                .map_or("NULL::timestamptz".to_string(), TimeCol::read),
            started = time(&self.started_at, SortKey::StartedAt),
            worker = text(&t.worker),
            heartbeat = self
                .heartbeat_at
                .as_ref()
                .map_or("NULL::timestamptz".to_string(), TimeCol::read),
        )
    }

    /// `CROSS JOIN LATERAL` producing `le.e`, the last error as text, evaluated once.
    fn last_error_join(&self) -> String {
        format!(
            "CROSS JOIN LATERAL (SELECT ({})::text AS e OFFSET 0) le",
            self.jobs.error.as_deref().unwrap_or("NULL")
        )
    }

    /// The `FROM` item that yields the lanes of `range` as `l(p)`, given the scope's
    /// condition (the queue).
    fn lanes_from(&self, range: &Range, scope: &str) -> Option<(String, &str)> {
        let lanes = self.lanes.as_ref()?;
        let prefix = range.lane_prefix.as_ref()?;
        let from = match &lanes.values {
            LaneValues::Fixed(values) => {
                let items: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                format!("unnest(ARRAY[{}]::int[]) AS l(p)", items.join(", "))
            }
            LaneValues::SkipScan => format!(
                "(WITH RECURSIVE r(p) AS ( \
                   SELECT min({c}) FROM {t} WHERE ({prefix}) AND {scope} \
                   UNION ALL \
                   SELECT (SELECT min({c}) FROM {t} WHERE ({prefix}) AND {scope} AND {c} > r.p) \
                   FROM r WHERE r.p IS NOT NULL) \
                 SELECT r.p FROM r WHERE r.p IS NOT NULL) AS l(p)",
                c = lanes.column,
                t = self.jobs.from,
            ),
        };
        Some((from, lanes.column.as_str()))
    }

    /// What doctor should say about lists no index keeps in order.
    pub fn findings(&self) -> Vec<Check> {
        self.jobs
            .states
            .lists()
            .iter()
            .filter(|l| !l.ordered)
            .map(|l| {
                let check = Check::new(
                    format!("job list: {}", l.state.as_str()),
                    Status::Warn,
                    format!(
                        "no index keeps this list in order: each page reads and sorts every {} job",
                        l.state.as_str()
                    ),
                );
                match &l.fix {
                    Some(fix) => check.with_fix(fix.clone()),
                    None => check,
                }
            })
            .collect()
    }

    /// `jobtop doctor`'s probes for the drill-down reads: a first page of each state's
    /// list (for a queue named `default`), the dead letters of a day and the kinds of an
    /// hour, each with the index that would keep it off a whole-table read; and one purge
    /// batch where purge is offered.
    pub fn probes(&self) -> Vec<Probe> {
        let mut probes = Vec::new();
        for list in self.jobs.states.lists() {
            let q = JobQuery {
                scope: JobScope::Queue {
                    queue: "default".into(),
                    state: list.state,
                },
                filter: Default::default(),
                order: Order::NewestFirst,
                after: None,
                limit: PAGE_SIZE,
            };
            if let Ok(Some(sql)) = jobs::page_sql(self, &q) {
                probes.push(Probe {
                    name: format!("job list: {}", list.state.as_str()),
                    sql: sql.inlined().into(),
                    binds_cap: false,
                    fix: list.fix.clone(),
                });
            }
        }
        let dead_fix = self.list(JobState::Dead).and_then(|l| l.fix.clone());
        if let Some(sql) = dead_letters::dead_sql(
            self,
            &DeadLetterQuery {
                window: DeadWindow::Day,
                kind: None,
                queue: None,
                limit: 5000,
            },
        ) {
            probes.push(Probe {
                name: "dead letters".into(),
                sql: sql.inlined().into(),
                binds_cap: false,
                fix: dead_fix,
            });
        }
        if let Some(sql) = kinds::kinds_sql(
            self,
            &KindsQuery {
                window: HistoryWindow::Hour,
                limit: 20_000,
            },
        ) {
            let fixes: Vec<String> = [JobState::Succeeded, JobState::Dead]
                .into_iter()
                .filter_map(|s| self.list(s).and_then(|l| l.fix.clone()))
                .collect();
            probes.push(Probe {
                name: "per-kind figures".into(),
                sql: sql.inlined().into(),
                binds_cap: false,
                fix: (!fixes.is_empty()).then(|| fixes.join(" ")),
            });
        }
        // Run only when someone purges, but on the biggest part of the table.
        if let Some(sql) = self.jobs.purge_probe() {
            probes.push(Probe {
                name: "purge, one batch (only when you purge)".into(),
                sql: sql.into(),
                binds_cap: false,
                fix: self.list(JobState::Succeeded).and_then(|l| l.fix.clone()),
            });
        }
        probes
    }
}

/// The transaction every read runs in: the reference schema's (one snapshot and one
/// `now()`, read-only, no sorts or bitmap scans to choose over an ordered index range),
/// and no sequential scans either. Someone else's table has the indexes its project made,
/// and the planner's guesses about them go wrong where columns are correlated (it counts
/// on discarded jobs without a discard time, and reads the table to find none). Where no
/// index serves a read at all, the table is still read, as doctor then says.
async fn begin(
    pool: &sqlx::PgPool,
) -> anyhow::Result<(sqlx::Transaction<'static, Postgres>, DateTime<Utc>)> {
    let (mut tx, now) = crate::backend::pg::read::begin(pool).await?;
    sqlx::query("SELECT set_config('enable_seqscan', 'off', true)")
        .execute(&mut *tx)
        .await?;
    Ok((tx, now))
}

/// `8-4-4-4-12` hex digits, as PostgreSQL writes a uuid (it also reads them without
/// dashes, or in braces: those are accepted too).
fn is_uuid(s: &str) -> bool {
    let s = s.trim();
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && (s.len() == 32 || (s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| &s[i..=i] == "-")))
}

/// A list row as `row_columns` reads it; `None` for a job in no display state (a status
/// value the profile does not map).
fn job_row(row: &PgRow) -> anyhow::Result<Option<JobRow>> {
    let Some(state) = opt_text(row, "display_state")?
        .as_deref()
        .and_then(JobState::parse)
    else {
        return Ok(None);
    };
    decode::job_row(row, state).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_recognised_in_the_forms_postgres_reads() {
        assert!(is_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
        assert!(is_uuid("A0EEBC999C0B4EF8BB6D6BB9BD380A11"));
        assert!(is_uuid("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"));
        assert!(!is_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"));
        assert!(!is_uuid("a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11"));
        assert!(!is_uuid("48213"));
    }
}
