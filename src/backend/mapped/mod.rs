//! A home-grown queue table, read through a TOML profile (`profile.rs`; shipped ones in
//! `assets/profiles/`).
//!
//! The profile is checked against the catalog when the backend opens: a table or column that
//! does not exist is reported at the line and column of the profile that names it. What the
//! profile leaves out, the monitor does not show (no worker column: no workers pane; no
//! heartbeat column or [workers] table: no heartbeat ages; no pause table: the queue cannot
//! be paused). A NULL run-at is due now where `[nulls] run_at = "now"` says so: a range of
//! its own beside `run_at <= now()`, waiting since created-at.

mod actions;
pub mod draft;
mod lists;
pub mod profile;

use std::sync::Arc;

use sqlx::PgPool;
use toml::Spanned;

use super::doctor::{Check, DoctorPlan, Probe, Status, TableNeed};
use crate::backend::capabilities::{Capabilities, Support, audit_support};
use crate::backend::engine::foreign::Foreign;
use crate::backend::engine::snapshot::{
    MINUTES_FROM, MINUTES_UNTIL, QUEUE_NAMES, Statements, WINDOW_START, capped, capped_pile,
    epoch_minute,
};
use crate::backend::engine::tally::Tally;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::{TimeCol, ident, literal};
use actions::MappedActions;
pub use profile::{Profile, ProfileError, Target};

/// The column a profile key names, as `j."column"`.
fn col(c: &Spanned<String>) -> String {
    format!("j.{}", ident(c.get_ref()))
}

fn in_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opens the table `profile` describes, in `schema` when given (else the profile's
/// schema, else the first one on the search path that has the table).
pub async fn open(pool: PgPool, profile: Profile, schema: Option<&str>) -> anyhow::Result<Foreign> {
    let schema = match schema.or(profile.schema.as_ref().map(|s| s.get_ref().as_str())) {
        Some(s) => s.to_string(),
        None => {
            let found: Option<String> = sqlx::query_scalar(
                "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = to_regclass(format('%I', $1::text))",
            )
            .bind(profile.table.get_ref())
            .fetch_optional(&pool)
            .await?;
            found.ok_or_else(|| {
                profile.error_at(
                    &profile.table,
                    format!(
                        "table {:?} not found on the search path (set `schema`)",
                        profile.table.get_ref()
                    ),
                )
            })?
        }
    };
    let Some(table) = TableInfo::load(&pool, &schema, profile.table.get_ref()).await? else {
        return Err(profile
            .error_at(
                &profile.table,
                format!("table {schema}.{} not found", profile.table.get_ref()),
            )
            .into());
    };
    for (key, column) in profile.columns.named() {
        if !table.has(column.get_ref()) {
            return Err(profile
                .error_at(
                    column,
                    format!(
                        "column {:?} (for `{key}`) not found in {schema}.{}",
                        column.get_ref(),
                        table.name
                    ),
                )
                .into());
        }
    }
    for column in &profile.nulls.never_null {
        if !table.has(column.get_ref()) {
            return Err(profile
                .error_at(
                    column,
                    format!(
                        "column {:?} (in `never_null`) not found in {schema}.{}",
                        column.get_ref(),
                        table.name
                    ),
                )
                .into());
        }
    }
    let workers_table = match &profile.workers {
        None => None,
        Some(w) => {
            let ws = w
                .schema
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_else(|| schema.clone());
            let Some(info) = TableInfo::load(&pool, &ws, w.table.get_ref()).await? else {
                return Err(profile
                    .error_at(
                        &w.table,
                        format!("workers table {ws}.{} not found", w.table.get_ref()),
                    )
                    .into());
            };
            for c in [&w.id, &w.heartbeat] {
                if !info.has(c.get_ref()) {
                    return Err(profile
                        .error_at(
                            c,
                            format!("column {:?} not found in {ws}.{}", c.get_ref(), info.name),
                        )
                        .into());
                }
            }
            Some(info)
        }
    };
    let heartbeat = lists::heartbeat(&profile, &table, workers_table.as_ref());
    let pause_table = match &profile.pause {
        None => None,
        Some(p) => {
            let ps = p
                .schema
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_else(|| schema.clone());
            let Some(info) = TableInfo::load(&pool, &ps, p.table.get_ref()).await? else {
                return Err(profile
                    .error_at(
                        &p.table,
                        format!("pause table {ps}.{} not found", p.table.get_ref()),
                    )
                    .into());
            };
            let cols = [
                Some(&p.queue),
                Some(&p.paused_at),
                p.paused_by.as_ref(),
                p.reason.as_ref(),
            ];
            for c in cols.into_iter().flatten() {
                if !info.has(c.get_ref()) {
                    return Err(profile
                        .error_at(
                            c,
                            format!("column {:?} not found in {ps}.{}", c.get_ref(), info.name),
                        )
                        .into());
                }
            }
            Some(info)
        }
    };
    let built = Builder {
        profile: &profile,
        table: &table,
        pause: pause_table.as_ref(),
        workers: workers_table.as_ref(),
        heartbeat: heartbeat.as_ref(),
    };
    let statements = built.statements();
    let mut plan = built.plan(&statements);
    let actions = MappedActions::new(&profile, &table, pause_table.as_ref(), heartbeat.as_ref());
    let drill = lists::drill_table(&profile, &table, heartbeat.clone(), actions.jobs.clone());
    plan.probes.extend(drill.probes());
    plan.findings.extend(drill.findings());
    let mut action_caps = actions.capabilities;
    action_caps.audit = audit_support(crate::backend::pg::audit::audit_table(&pool).await?);
    let c = &profile.columns;
    let no_pause = "the profile names no [pause] table";
    let capabilities = Capabilities {
        actions: action_caps,
        pause: Support::when(profile.pause.is_some(), no_pause),
        heartbeats: Support::when(
            heartbeat.is_some(),
            "the profile names no heartbeat column and no [workers] table",
        ),
        workers: Support::when(c.worker.is_some(), "the profile names no worker column"),
        error_history: Support::when(
            c.errors.is_some(),
            "the profile names no error history column",
        ),
        tenants: Support::when(c.tenant.is_some(), "the profile names no tenant column"),
        throughput: Support::when(
            statements.minutes.is_some(),
            "the profile names no finish time with an index to count completions by",
        ),
        pause_visible: Support::when(profile.pause.is_some(), no_pause),
        failed_attempts: Support::No("a profile keeps no time of the attempts that were retried"),
        failures: Support::Yes,
    };
    Ok(Foreign {
        name: "mapped",
        pool,
        statements,
        capabilities,
        doctor: plan,
        drill,
        actions: Box::new(actions),
        kinds: None,
        schema: table.schema.clone(),
        profile: Some(profile.name.clone()),
        caches: Default::default(),
    })
}

/// Which jobs of a status value a count takes, by their run-at time and attempts.
#[derive(Debug, Clone, Copy)]
enum Part {
    All,
    Due,
    /// Due because its run-at time is NULL (`[nulls] run_at = "now"`).
    DueNull,
    Future,
    FutureFirst,
    FutureAgain,
}

impl Part {
    /// Its column in the single pass over unindexed values.
    fn column(self) -> &'static str {
        match self {
            Part::All => "n_all",
            Part::Due => "n_due",
            Part::DueNull => "n_due_null",
            Part::Future => "n_future",
            Part::FutureFirst => "n_future_first",
            Part::FutureAgain => "n_future_again",
        }
    }
}

/// Conditions on a job's run-at time and attempts (None where the profile has no column).
struct Times {
    due: Option<String>,
    /// Due as well: run-at NULL, where the profile says that means now.
    due_null: Option<String>,
    future: Option<String>,
    first: Option<String>,
    again: Option<String>,
    /// Where a ready job's wait starts: run-at, else created-at.
    since: Option<TimeCol>,
    /// Where the wait of a ready job without a run-at time starts: created-at.
    null_since: Option<TimeCol>,
    /// When a running job started.
    started: Option<TimeCol>,
}

fn join(a: &Option<String>, b: &Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a} AND {b}")),
        (Some(a), None) => Some(a.clone()),
        (None, b) => b.clone(),
    }
}

/// Builds the statements from a profile checked against the catalog.
struct Builder<'a> {
    profile: &'a Profile,
    table: &'a TableInfo,
    pause: Option<&'a TableInfo>,
    workers: Option<&'a TableInfo>,
    /// When a running job's worker last showed signs of life.
    heartbeat: Option<&'a TimeCol>,
}

impl Builder<'_> {
    fn from(&self) -> String {
        format!("{} j", self.table.qualified())
    }

    fn time(&self, c: &Spanned<String>) -> TimeCol {
        TimeCol::new(col(c), self.table.is_naive_timestamp(c.get_ref()))
    }

    /// The queue of a job, as SQL.
    fn queue_expr(&self) -> String {
        match (&self.profile.columns.queue, &self.profile.queue_name) {
            (Some(q), _) => col(q),
            (None, Some(name)) => format!("{}::text", literal(name)),
            (None, None) => unreachable!("a profile has a queue column or a queue name"),
        }
    }

    /// Conditions selecting one status value in the current queue `q`.
    fn status_in_queue(&self, value: &str) -> String {
        let status = col(&self.profile.columns.status);
        match &self.profile.columns.queue {
            Some(q) => format!("{status} = {} AND {} = q.queue", literal(value), col(q)),
            None => format!("{status} = {}", literal(value)),
        }
    }

    /// An index finds this status value (per queue, when there is a queue column): it leads
    /// with the status column (after the queue column, if any), and its predicate, if it has
    /// one, names the value.
    fn indexed(&self, value: &str) -> bool {
        let c = &self.profile.columns;
        let prefix: Vec<&str> = c.queue.iter().map(|q| q.get_ref().as_str()).collect();
        let wanted = literal(value);
        self.table
            .has_index_where(c.status.get_ref(), &prefix, |p| {
                p.is_none_or(|p| p.contains(&wanted))
            })
    }

    /// The time conditions and the "since" column shared by the counting paths.
    fn times(&self) -> Times {
        let c = &self.profile.columns;
        let run_at = c.run_at.as_ref().map(|r| self.time(r));
        let since = run_at
            .clone()
            .or_else(|| c.created_at.as_ref().map(|ca| self.time(ca)));
        let due_null = run_at
            .as_ref()
            .filter(|_| self.profile.null_run_at_is_now)
            .map(|r| format!("{} IS NULL", r.expr));
        Times {
            due: run_at.as_ref().map(|r| r.cmp_now("<=")),
            null_since: due_null
                .as_ref()
                .and(c.created_at.as_ref())
                .map(|ca| self.time(ca)),
            due_null,
            future: run_at.as_ref().map(|r| r.cmp_now(">")),
            first: c
                .attempts
                .as_ref()
                .map(|a| format!("coalesce({}, 0) = 0", col(a))),
            again: c.attempts.as_ref().map(|a| format!("{} > 0", col(a))),
            since,
            started: c.started_at.as_ref().map(|s| self.time(s)),
        }
    }

    /// The number of jobs with status `value` in the current queue that fall in `part`.
    /// Indexed values: a range capped at the count cap. Others: a lookup in `u`, the one
    /// pass over the table that counts every unindexed value for every queue at once.
    fn count(&self, value: &str, part: Part, times: &Times) -> String {
        self.count_with(capped, value, part, times)
    }

    /// The same for a pile (scheduled, retrying, dead): capped at the pile cap, past which
    /// the engine estimates it. Counted to the count cap, a type's scheduled, retrying and
    /// dead jobs cost 10,000 heap fetches each a poll (520k buffers at 10 M rows).
    fn pile(&self, value: &str, part: Part, times: &Times) -> String {
        self.count_with(capped_pile, value, part, times)
    }

    fn count_with(
        &self,
        limit: fn(&str, &str) -> String,
        value: &str,
        part: Part,
        times: &Times,
    ) -> String {
        if !self.indexed(value) {
            return format!(
                "coalesce((SELECT u.{} FROM u WHERE u.queue = q.queue AND u.status = {}), 0)",
                part.column(),
                literal(value)
            );
        }
        let extra = match part {
            Part::All => None,
            Part::Due => times.due.clone(),
            Part::DueNull => times.due_null.clone(),
            Part::Future => times.future.clone(),
            Part::FutureFirst => join(&times.future, &times.first),
            Part::FutureAgain => join(&times.future, &times.again),
        };
        let cond = match extra {
            Some(extra) => format!("{} AND {extra}", self.status_in_queue(value)),
            None => self.status_in_queue(value),
        };
        limit(&self.from(), &cond)
    }

    /// The earliest ready time of jobs with status `value` in the current queue.
    fn first_ready(&self, value: &str, times: &Times) -> Option<String> {
        let since = times.since.as_ref()?;
        if !self.indexed(value) {
            return Some(format!(
                "(SELECT u.first_ready FROM u WHERE u.queue = q.queue AND u.status = {})",
                literal(value)
            ));
        }
        let cond = match &times.due {
            Some(d) => format!("{} AND {d}", self.status_in_queue(value)),
            None => self.status_in_queue(value),
        };
        let first = format!(
            "(SELECT {read} FROM {from} WHERE {cond} ORDER BY {expr} LIMIT 1)",
            read = since.read(),
            from = self.from(),
            expr = since.expr,
        );
        // Jobs due because their run-at is NULL have waited since they were created.
        match (&times.due_null, &times.null_since) {
            (Some(null), Some(created)) => Some(format!(
                "LEAST({first}, (SELECT min({read}) FROM {from} WHERE {cond} AND {null}))",
                read = created.read(),
                from = self.from(),
                cond = self.status_in_queue(value),
            )),
            _ => Some(first),
        }
    }

    /// When the longest-running job with status `value` in the current queue started: its
    /// status range where indexed (running jobs are few), else the one pass in `u`.
    fn first_started(&self, value: &str, times: &Times) -> Option<String> {
        let started = times.started.as_ref()?;
        if !self.indexed(value) {
            return Some(format!(
                "(SELECT u.first_started FROM u WHERE u.queue = q.queue AND u.status = {})",
                literal(value)
            ));
        }
        Some(format!(
            "(SELECT min({read}) FROM {from} WHERE {cond})",
            read = started.read(),
            from = self.from(),
            cond = self.status_in_queue(value),
        ))
    }

    /// The single pass over the unindexed status values, or None when every value has an index.
    fn unindexed_cte(&self, listed: &[&str], times: &Times) -> Option<String> {
        let values: Vec<&str> = listed
            .iter()
            .copied()
            .filter(|v| !self.indexed(v))
            .collect();
        if values.is_empty() {
            return None;
        }
        let filtered = |cond: &Option<String>| match cond {
            Some(c) => format!("count(*) FILTER (WHERE {c})"),
            None => "0::bigint".into(),
        };
        let first_ready = match (&times.since, &times.due) {
            (Some(s), Some(d)) => match (&times.due_null, &times.null_since) {
                (Some(null), Some(created)) => format!(
                    "LEAST(min({}) FILTER (WHERE {d}), min({}) FILTER (WHERE {null}))",
                    s.read(),
                    created.read()
                ),
                _ => format!("min({}) FILTER (WHERE {d})", s.read()),
            },
            (Some(s), None) => format!("min({})", s.read()),
            (None, _) => "NULL::timestamptz".into(),
        };
        let first_started = match &times.started {
            Some(s) => format!("min({})", s.read()),
            None => "NULL::timestamptz".into(),
        };
        Some(format!(
            "u AS MATERIALIZED (SELECT {queue} AS queue, {status}::text AS status, \
               count(*) AS n_all, {due} AS n_due, {due_null} AS n_due_null, {future} AS n_future, \
               {future_first} AS n_future_first, {future_again} AS n_future_again, \
               {first_ready} AS first_ready, {first_started} AS first_started \
             FROM {from} WHERE {status} IN ({list}) GROUP BY 1, 2)",
            queue = self.queue_expr(),
            status = col(&self.profile.columns.status),
            due = filtered(&times.due),
            due_null = filtered(&times.due_null),
            future = filtered(&times.future),
            future_first = filtered(&join(&times.future, &times.first)),
            future_again = filtered(&join(&times.future, &times.again)),
            from = self.from(),
            list = in_list(&values),
        ))
    }

    fn sum(parts: Vec<String>) -> String {
        if parts.is_empty() {
            "0::bigint".into()
        } else {
            parts.join(" + ")
        }
    }

    fn statements(&self) -> Statements {
        Statements {
            queues: Arc::from(self.queues_sql()),
            queue_names: self.names_sql().map(Arc::from),
            minutes: self.throughput().then(|| Arc::from(self.minutes_sql())),
            workers: self
                .profile
                .columns
                .worker
                .as_ref()
                .map(|w| Arc::from(self.workers_sql(w))),
            tallies: self.due_later_pass().into_iter().collect(),
        }
    }

    /// Whether the scheduled and retrying jobs are counted for every queue in one pass
    /// (`due_later_pass`): where a waiting status value has an index, past the pile cap
    /// the planner's estimate of such a range misleads.
    fn counts_due_later_in_a_pass(&self) -> bool {
        self.times().future.is_some()
            && [Target::Queued, Target::Retrying]
                .into_iter()
                .flat_map(|t| self.profile.values(t))
                .any(|v| self.indexed(v))
    }

    fn due_later_pass(&self) -> Option<Tally> {
        if !self.counts_due_later_in_a_pass() {
            return None;
        }
        Tally::due_later(
            &lists::state_map(self.profile, self.table),
            |_| true,
            &self.queue_expr(),
            &self.from(),
            self.table,
        )
    }

    /// Status values a snapshot counts: everything not finished, and dead.
    fn listed(&self) -> Vec<&str> {
        [
            Target::Ready,
            Target::Queued,
            Target::Retrying,
            Target::Scheduled,
            Target::Running,
            Target::Dead,
        ]
        .into_iter()
        .flat_map(|t| self.profile.values(t))
        .collect()
    }

    fn queues_sql(&self) -> String {
        let p = self.profile;
        let c = &p.columns;
        let t = self.times();
        let timed = t.due.is_some();
        let attempts = t.again.is_some();

        let (mut ready, mut scheduled, mut retrying) = (Vec::new(), Vec::new(), Vec::new());
        for v in p.values(Target::Ready) {
            ready.push(self.count(v, Part::All, &t));
        }
        for v in p.values(Target::Scheduled) {
            scheduled.push(self.pile(v, Part::All, &t));
        }
        for v in p.values(Target::Queued) {
            if !timed {
                ready.push(self.count(v, Part::All, &t));
            } else {
                ready.push(self.count(v, Part::Due, &t));
                if t.due_null.is_some() {
                    ready.push(self.count(v, Part::DueNull, &t));
                }
                if attempts {
                    scheduled.push(self.pile(v, Part::FutureFirst, &t));
                    retrying.push(self.pile(v, Part::FutureAgain, &t));
                } else {
                    scheduled.push(self.pile(v, Part::Future, &t));
                }
            }
        }
        for v in p.values(Target::Retrying) {
            if !timed {
                retrying.push(self.pile(v, Part::All, &t));
            } else {
                ready.push(self.count(v, Part::Due, &t));
                if t.due_null.is_some() {
                    ready.push(self.count(v, Part::DueNull, &t));
                }
                retrying.push(self.pile(v, Part::Future, &t));
            }
        }
        let running: Vec<String> = p
            .values(Target::Running)
            .into_iter()
            .map(|v| self.count(v, Part::All, &t))
            .collect();
        let dead: Vec<String> = p
            .values(Target::Dead)
            .into_iter()
            .map(|v| self.pile(v, Part::All, &t))
            .collect();
        if self.counts_due_later_in_a_pass() {
            // Counted in the pass instead.
            scheduled.clear();
            retrying.clear();
        }

        // Oldest ready: the earliest due time among waiting statuses; without a run-at
        // column, the earliest creation time; without either, unknown.
        let firsts: Vec<String> = [Target::Ready, Target::Queued, Target::Retrying]
            .into_iter()
            .flat_map(|target| p.values(target))
            .filter_map(|v| self.first_ready(v, &t))
            .collect();
        let oldest = if firsts.is_empty() {
            "NULL::timestamptz".to_string()
        } else {
            format!("LEAST({})", firsts.join(", "))
        };
        // Longest running: the earliest start among running statuses; without a start
        // column, unknown.
        let started: Vec<String> = p
            .values(Target::Running)
            .into_iter()
            .filter_map(|v| self.first_started(v, &t))
            .collect();
        let oldest_running = if started.is_empty() {
            "NULL::timestamptz".to_string()
        } else {
            format!("LEAST({})", started.join(", "))
        };

        // The queues: those the list (`names_sql`, read on the slower clock) names, and
        // those the one pass over unindexed values sees, which it reads anyway.
        let listed = self.listed();
        let unindexed = self.unindexed_cte(&listed, &t);
        let names = match (&c.queue, self.names_sql()) {
            (Some(q), list) => {
                let mut parts = Vec::new();
                if list.is_some() {
                    parts.push(format!(
                        "SELECT unnest({QUEUE_NAMES})::{qtype} AS queue",
                        qtype = self.queue_type(q)
                    ));
                }
                if unindexed.is_some() {
                    parts.push("SELECT u.queue FROM u".into());
                }
                parts.join(" UNION ")
            }
            (None, _) => format!("SELECT {} AS queue", self.queue_expr()),
        };
        let pause_join = match (&p.pause, self.pause) {
            (Some(pause), Some(pt)) => {
                let at = TimeCol::new(
                    format!("pp.{}", ident(pause.paused_at.get_ref())),
                    pt.is_naive_timestamp(pause.paused_at.get_ref()),
                );
                let opt = |c: &Option<Spanned<String>>| match c {
                    Some(c) => format!("pp.{}::text", ident(c.get_ref())),
                    None => "NULL::text".into(),
                };
                format!(
                    "LEFT JOIN LATERAL (SELECT {at} AS paused_at, {by} AS paused_by, {why} AS pause_reason \
                       FROM {pt} pp WHERE pp.{pq}::text = n.queue::text AND {col} IS NOT NULL \
                       ORDER BY {col} DESC LIMIT 1) pz ON true",
                    at = at.read(),
                    col = at.expr,
                    by = opt(&pause.paused_by),
                    why = opt(&pause.reason),
                    pt = pt.qualified(),
                    pq = ident(pause.queue.get_ref()),
                )
            }
            _ => "LEFT JOIN LATERAL (SELECT NULL::timestamptz AS paused_at, NULL::text AS paused_by, \
                  NULL::text AS pause_reason) pz ON true"
                .into(),
        };
        let ctes = match unindexed {
            Some(u) => format!("{u}, "),
            None => String::new(),
        };
        format!(
            "WITH {ctes}n AS ({names}), \
             q AS (SELECT n.queue, pz.paused_at, pz.paused_by, pz.pause_reason FROM n {pause_join}) \
             SELECT q.queue::text AS name, q.paused_at, q.paused_by, q.pause_reason, \
               {ready} AS ready, {scheduled} AS scheduled, {retrying} AS retrying, \
               {running} AS running, {dead} AS dead, {oldest} AS oldest_ready_at, \
               {oldest_running} AS oldest_running_at \
             FROM q WHERE q.queue IS NOT NULL ORDER BY 1",
            ready = Self::sum(ready),
            scheduled = Self::sum(scheduled),
            retrying = Self::sum(retrying),
            running = Self::sum(running),
            dead = Self::sum(dead),
        )
    }

    /// The queue column's type, as the catalog names it.
    fn queue_type(&self, q: &Spanned<String>) -> String {
        self.table
            .columns
            .get(q.get_ref())
            .cloned()
            .unwrap_or_else(|| "text".into())
    }

    /// The queue list, read on the slower clock (`Statements::queue_names`): the queues
    /// with jobs not yet finished (or dead) on an index, those finished in the history
    /// window when it is readable, and those the pause table names. `None` without a queue
    /// column, or where only the pass over unindexed values finds queues.
    fn names_sql(&self) -> Option<String> {
        let p = self.profile;
        let c = &p.columns;
        let q = c.queue.as_ref()?;
        let status = col(&c.status);
        let mut parts = Vec::new();
        let indexed: Vec<&str> = self
            .listed()
            .into_iter()
            .filter(|v| self.indexed(v))
            .collect();
        // Where an index holds a value's jobs by queue, a skip scan: one probe per queue
        // (doctor's `_jobtop_live` index; 55k buffers read whole at 10 M rows). Else
        // the value's jobs, read whole.
        let (skipped, scanned): (Vec<&str>, Vec<&str>) = indexed.iter().partition(|v| {
            let wanted = literal(v);
            self.table
                .has_index_where(q.get_ref(), &[c.status.get_ref()], |p| {
                    p.is_none_or(|p| p.contains(&wanted))
                })
        });
        let mut ctes = Vec::new();
        for (i, v) in skipped.iter().enumerate() {
            let pin = format!("{status} = {}", literal(v));
            ctes.push(format!(
                "s{i}(queue) AS ( \
                   (SELECT {q} FROM {from} WHERE {pin} ORDER BY {q} LIMIT 1) \
                   UNION ALL \
                   SELECT (SELECT {q} FROM {from} WHERE {pin} AND {q} > s.queue \
                           ORDER BY {q} LIMIT 1) FROM s{i} s WHERE s.queue IS NOT NULL)",
                q = col(q),
                from = self.from(),
            ));
            parts.push(format!("SELECT queue FROM s{i}"));
        }
        if !scanned.is_empty() {
            parts.push(format!(
                "SELECT DISTINCT {q} AS queue FROM {from} WHERE {status} IN ({list})",
                q = col(q),
                from = self.from(),
                list = in_list(&scanned),
            ));
        }
        if self.throughput() {
            let fin = self.time(c.finished_at.as_ref().expect("throughput needs it"));
            let mut ended = p.values(Target::Succeeded);
            ended.extend(p.values(Target::Dead));
            parts.push(format!(
                "SELECT DISTINCT {q} FROM {from} WHERE {status} IN ({list}) AND {f} >= {since}",
                q = col(q),
                from = self.from(),
                list = in_list(&ended),
                f = fin.expr,
                since = fin.value(WINDOW_START),
            ));
        }
        if let (Some(pause), Some(pt)) = (&p.pause, self.pause) {
            parts.push(format!(
                "SELECT pp.{pq}::{qtype} FROM {pt} pp",
                pq = ident(pause.queue.get_ref()),
                qtype = self.queue_type(q),
                pt = pt.qualified(),
            ));
        }
        if parts.is_empty() {
            return None;
        }
        let with = if ctes.is_empty() {
            String::new()
        } else {
            format!("WITH RECURSIVE {} ", ctes.join(", "))
        };
        Some(format!(
            "{with}SELECT DISTINCT n.queue::text AS name FROM ({}) n WHERE n.queue IS NOT NULL",
            parts.join(" UNION ")
        ))
    }

    /// Completions per minute need a finish time, a succeeded status, and an index that
    /// reads the last hour of finished jobs without a pass over the table.
    fn throughput(&self) -> bool {
        let c = &self.profile.columns;
        match &c.finished_at {
            Some(f) => {
                !self.profile.values(Target::Succeeded).is_empty()
                    && self
                        .table
                        .has_index_for(f.get_ref(), &[c.status.get_ref().as_str()])
            }
            None => false,
        }
    }

    fn minutes_sql(&self) -> String {
        let p = self.profile;
        let c = &p.columns;
        let fin = self.time(c.finished_at.as_ref().expect("throughput needs it"));
        let ok = p.values(Target::Succeeded);
        let failed = p.values(Target::Dead);
        let mut ended = ok.clone();
        ended.extend(failed.iter().copied());
        let status = col(&c.status);
        let failed_count = if failed.is_empty() {
            "0::bigint".to_string()
        } else {
            format!("count(*) FILTER (WHERE {status} IN ({}))", in_list(&failed))
        };
        format!(
            "SELECT {queue}::text AS queue, {kind} AS kind, {minute} AS minute, \
               count(*) FILTER (WHERE {status} IN ({ok})) AS succeeded, {failed_count} AS failed \
             FROM {from} WHERE {status} IN ({ended}) AND {f} >= {since} AND {f} < {until} \
             GROUP BY 1, 2, 3",
            queue = self.queue_expr(),
            kind = c.kind.as_ref().map_or("NULL::text".to_string(), |k| {
                format!("coalesce({}::text, 'unknown')", col(k))
            }),
            minute = epoch_minute(&fin.read()),
            ok = in_list(&ok),
            ended = in_list(&ended),
            from = self.from(),
            f = fin.expr,
            since = fin.value(MINUTES_FROM),
            until = fin.value(MINUTES_UNTIL),
        )
    }

    fn workers_sql(&self, worker: &Spanned<String>) -> String {
        let p = self.profile;
        let c = &p.columns;
        let heartbeat = match self.heartbeat {
            Some(h) => format!("max({})", h.read()),
            None => "NULL::timestamptz".into(),
        };
        format!(
            "SELECT {w}::text AS id, NULL::text AS host, NULL::int AS pid, \
               array_agg(DISTINCT {queue}::text ORDER BY {queue}::text) AS queues, \
               NULL::timestamptz AS started_at, {heartbeat} AS last_heartbeat_at, \
               count(*) AS running_jobs \
             FROM {from} WHERE {status} IN ({running}) AND {w} IS NOT NULL \
             GROUP BY 1 ORDER BY 1",
            w = col(worker),
            queue = self.queue_expr(),
            from = self.from(),
            status = col(&c.status),
            running = in_list(&p.values(Target::Running)),
        )
    }

    fn plan(&self, statements: &Statements) -> DoctorPlan {
        let p = self.profile;
        let c = &p.columns;
        let t = self.table.qualified();
        let live: Vec<&str> = [
            Target::Ready,
            Target::Queued,
            Target::Retrying,
            Target::Scheduled,
            Target::Running,
            Target::Dead,
        ]
        .into_iter()
        .flat_map(|t| p.values(t))
        .collect();
        let mut keys = vec![ident(c.status.get_ref())];
        if let Some(q) = &c.queue {
            keys.push(ident(q.get_ref()));
        }
        if let Some(r) = &c.run_at {
            keys.push(ident(r.get_ref()));
        }
        let live_fix = format!(
            "CREATE INDEX CONCURRENTLY {} ON {t} ({}) WHERE {} IN ({});",
            ident(&format!("{}_jobtop_live", self.table.name)),
            keys.join(", "),
            ident(c.status.get_ref()),
            in_list(&live)
        );
        let mut plan = DoctorPlan {
            tables: vec![TableNeed {
                schema: self.table.schema.clone(),
                name: self.table.name.clone(),
                write: vec!["UPDATE", "DELETE"],
            }],
            probes: vec![Probe {
                name: "queue counts".into(),
                sql: statements.queues_probe(),
                binds_cap: true,
                fix: Some(live_fix.clone()),
            }],
            jobs_tables: vec![(self.table.schema.clone(), self.table.name.clone())],
            state_column: Some(c.status.get_ref().clone()),
            findings: vec![Check::new(
                "profile",
                Status::Ok,
                format!("{} ({})", p.name, p.origin()),
            )],
        };
        if let Some(wt) = self.workers {
            plan.tables.push(TableNeed {
                schema: wt.schema.clone(),
                name: wt.name.clone(),
                write: vec![],
            });
        }
        if let Some(pt) = self.pause {
            plan.tables.push(TableNeed {
                schema: pt.schema.clone(),
                name: pt.name.clone(),
                write: vec!["INSERT", "UPDATE", "DELETE"],
            });
        }
        let finished_fix = c.finished_at.as_ref().map(|f| {
            format!(
                "CREATE INDEX CONCURRENTLY {} ON {t} ({});",
                ident(&format!("{}_jobtop_finished", self.table.name)),
                ident(f.get_ref())
            )
        });
        match (&statements.minutes, &finished_fix) {
            (Some(sql), _) => plan.probes.push(Probe {
                name: "completions per minute".into(),
                sql: crate::backend::engine::snapshot::minutes_probe(sql),
                binds_cap: false,
                fix: finished_fix.clone(),
            }),
            (None, Some(fix)) if !p.values(Target::Succeeded).is_empty() => plan.findings.push(
                Check::new(
                    "completions per minute",
                    Status::Warn,
                    "no index on the finished-at column: throughput and failure rate are not shown",
                )
                .with_fix(fix.clone()),
            ),
            _ => plan.findings.push(Check::new(
                "completions per minute",
                Status::Warn,
                "the profile names no finished-at column or no succeeded status: \
                 throughput and failure rate are not shown",
            )),
        }
        for tally in &statements.tallies {
            plan.probes.push(tally.probe(Some(live_fix.clone())));
        }
        if let Some(sql) = &statements.workers {
            plan.probes.push(Probe {
                name: "workers".into(),
                sql: sql.clone(),
                binds_cap: false,
                fix: Some(live_fix),
            });
        }
        plan
    }
}
