//! A home-grown queue table, read through a TOML profile (`profile.rs`; shipped ones in
//! `assets/profiles/`).
//!
//! The profile is checked against the catalog when the backend opens: a table or column that
//! does not exist is reported at the line and column of the profile that names it. What the
//! profile leaves out, the monitor does not show (no worker column: no workers pane; no
//! heartbeat column: no heartbeat ages; no pause table: the queue cannot be paused).

pub mod profile;

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::PgPool;
use toml::Spanned;

use super::doctor::{Check, Plan, Probe, Status, TableNeed};
use super::sqlkit::{
    self, Statements, TableInfo, TimeCol, WINDOW_START, capped, epoch_minute, ident, literal,
};
use super::{Backend, Capabilities, Snapshot, SnapshotOptions};
pub use profile::{Profile, ProfileError, Target};

pub struct MappedBackend {
    pool: PgPool,
    profile_name: String,
    schema: String,
    statements: Statements,
    capabilities: Capabilities,
    plan: Plan,
}

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

impl MappedBackend {
    /// Opens the table `profile` describes, in `schema` when given (else the profile's
    /// schema, else the first one on the search path that has the table).
    pub async fn open(
        pool: PgPool,
        profile: Profile,
        schema: Option<&str>,
    ) -> anyhow::Result<MappedBackend> {
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
        };
        let statements = built.statements();
        let plan = built.plan(&statements);
        let c = &profile.columns;
        let capabilities = Capabilities {
            pause: profile.pause.is_some(),
            heartbeats: c.heartbeat_at.is_some(),
            workers: c.worker.is_some(),
            error_history: c.errors.is_some(),
            tenants: c.tenant.is_some(),
            throughput: statements.minutes.is_some(),
            pause_visible: profile.pause.is_some(),
            failed_attempts: false,
        };
        Ok(MappedBackend {
            pool,
            profile_name: profile.name.clone(),
            schema: table.schema.clone(),
            statements,
            capabilities,
            plan,
        })
    }

    /// The profile's name (shown next to the backend name).
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// The schema the table was found in.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

/// Builds the statements from a profile checked against the catalog.
struct Builder<'a> {
    profile: &'a Profile,
    table: &'a TableInfo,
    pause: Option<&'a TableInfo>,
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

    fn count(&self, value: &str, extra: Option<String>) -> String {
        let cond = match extra {
            Some(extra) => format!("{} AND {extra}", self.status_in_queue(value)),
            None => self.status_in_queue(value),
        };
        capped(&self.from(), &cond)
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
            minutes: self.throughput().then(|| Arc::from(self.minutes_sql())),
            workers: self
                .profile
                .columns
                .worker
                .as_ref()
                .map(|w| Arc::from(self.workers_sql(w))),
        }
    }

    fn queues_sql(&self) -> String {
        let p = self.profile;
        let c = &p.columns;
        let run_at = c.run_at.as_ref().map(|r| self.time(r));
        let due = run_at.as_ref().map(|r| r.cmp_now("<="));
        let future = run_at.as_ref().map(|r| r.cmp_now(">"));
        let first_attempt = c
            .attempts
            .as_ref()
            .map(|a| format!("coalesce({}, 0) = 0", col(a)));
        let attempted = c.attempts.as_ref().map(|a| format!("{} > 0", col(a)));
        let both = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a} AND {b}")),
            (Some(a), None) => Some(a.clone()),
            (None, b) => b.clone(),
        };

        let (mut ready, mut scheduled, mut retrying) = (Vec::new(), Vec::new(), Vec::new());
        for v in p.values(Target::Ready) {
            ready.push(self.count(v, None));
        }
        for v in p.values(Target::Scheduled) {
            scheduled.push(self.count(v, None));
        }
        for v in p.values(Target::Queued) {
            match &future {
                None => ready.push(self.count(v, None)),
                Some(f) => {
                    ready.push(self.count(v, due.clone()));
                    if attempted.is_some() {
                        scheduled.push(self.count(v, both(&future, &first_attempt)));
                        retrying.push(self.count(v, both(&future, &attempted)));
                    } else {
                        scheduled.push(self.count(v, Some(f.clone())));
                    }
                }
            }
        }
        for v in p.values(Target::Retrying) {
            match &future {
                None => retrying.push(self.count(v, None)),
                Some(f) => {
                    ready.push(self.count(v, due.clone()));
                    retrying.push(self.count(v, Some(f.clone())));
                }
            }
        }
        let running: Vec<String> = p
            .values(Target::Running)
            .into_iter()
            .map(|v| self.count(v, None))
            .collect();
        let dead: Vec<String> = p
            .values(Target::Dead)
            .into_iter()
            .map(|v| self.count(v, None))
            .collect();

        // Oldest ready: the earliest due time among waiting statuses; without a run-at
        // column, the earliest creation time; without either, unknown.
        let since = run_at
            .clone()
            .or_else(|| c.created_at.as_ref().map(|ca| self.time(ca)));
        let mut firsts = Vec::new();
        if let Some(since) = &since {
            let waiting: Vec<&str> = [Target::Ready, Target::Queued, Target::Retrying]
                .into_iter()
                .flat_map(|t| p.values(t))
                .collect();
            for v in waiting {
                let cond = match &due {
                    Some(d) => format!("{} AND {d}", self.status_in_queue(v)),
                    None => self.status_in_queue(v),
                };
                firsts.push(format!(
                    "(SELECT {read} FROM {from} WHERE {cond} ORDER BY {expr} LIMIT 1)",
                    read = since.read(),
                    from = self.from(),
                    expr = since.expr,
                ));
            }
        }
        let oldest = if firsts.is_empty() {
            "NULL::timestamptz".to_string()
        } else {
            format!("LEAST({})", firsts.join(", "))
        };

        // Queue names: those with jobs not yet finished (or dead), those finished in the
        // history window when it is readable, and those the pause table names.
        let listed: Vec<&str> = [
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
        let status = col(&c.status);
        let names = match &c.queue {
            Some(q) => {
                let qtype = self
                    .table
                    .columns
                    .get(q.get_ref())
                    .cloned()
                    .unwrap_or_else(|| "text".into());
                let mut parts = vec![format!(
                    "SELECT DISTINCT {q} AS queue FROM {from} WHERE {status} IN ({list})",
                    q = col(q),
                    from = self.from(),
                    list = in_list(&listed),
                )];
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
                        pt = pt.qualified(),
                    ));
                }
                parts.join(" UNION ")
            }
            None => format!("SELECT {} AS queue", self.queue_expr()),
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
        format!(
            "WITH n AS ({names}), \
             q AS (SELECT n.queue, pz.paused_at, pz.paused_by, pz.pause_reason FROM n {pause_join}) \
             SELECT q.queue::text AS name, q.paused_at, q.paused_by, q.pause_reason, \
               {ready} AS ready, {scheduled} AS scheduled, {retrying} AS retrying, \
               {running} AS running, {dead} AS dead, {oldest} AS oldest_ready_at \
             FROM q WHERE q.queue IS NOT NULL ORDER BY 1",
            ready = Self::sum(ready),
            scheduled = Self::sum(scheduled),
            retrying = Self::sum(retrying),
            running = Self::sum(running),
            dead = Self::sum(dead),
        )
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
            "SELECT {queue}::text AS queue, {minute} AS minute, \
               count(*) FILTER (WHERE {status} IN ({ok})) AS succeeded, {failed_count} AS failed \
             FROM {from} WHERE {status} IN ({ended}) AND {f} >= {since} GROUP BY 1, 2",
            queue = self.queue_expr(),
            minute = epoch_minute(&fin.read()),
            ok = in_list(&ok),
            ended = in_list(&ended),
            from = self.from(),
            f = fin.expr,
            since = fin.value(WINDOW_START),
        )
    }

    fn workers_sql(&self, worker: &Spanned<String>) -> String {
        let p = self.profile;
        let c = &p.columns;
        let heartbeat = match &c.heartbeat_at {
            Some(h) => format!("max({})", self.time(h).read()),
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

    fn plan(&self, statements: &Statements) -> Plan {
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
        let mut plan = Plan {
            tables: vec![TableNeed {
                schema: self.table.schema.clone(),
                name: self.table.name.clone(),
                write: vec!["UPDATE", "DELETE"],
            }],
            probes: vec![Probe {
                name: "queue counts".into(),
                sql: statements.queues.clone(),
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
                sql: sql.clone(),
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

#[async_trait]
impl Backend for MappedBackend {
    fn name(&self) -> &'static str {
        "mapped"
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        sqlkit::snapshot(&self.pool, &self.statements, opts)
            .await
            .with_context(|| format!("profile {}", self.profile_name))
    }

    fn doctor_plan(&self) -> Plan {
        self.plan.clone()
    }
}
