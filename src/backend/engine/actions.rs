//! Job actions on someone else's queue table, shared by the River, Oban, graphile-worker and
//! mapped backends. Each backend describes its table once, at open (`JobTable`): which
//! condition puts a job in each display state, and the one statement per action that its
//! project's own tooling would run. Plans and batches then work as the reference schema's
//! do: a plan resolves the target to ids; a batch is ONE conditional statement over at most
//! `BATCH_SIZE` ids that re-checks the state the plan saw, committed together with its row
//! in `jobtop.audit` (`native::actions::commit_batch`).
//!
//! Every statement is assembled from identifiers the catalog or a validated profile gave;
//! every value the operator typed travels as a bind parameter.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use crate::backend::actions::{
    Action, ActionKind, BATCH_SIZE, BatchDone, BatchStep, JobFilter, JobTarget,
    MAX_JOBS_PER_ACTION, Plan, take,
};
use crate::backend::capabilities::Support;
use crate::backend::engine::states::StateMap;
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::sql::{Sql, TimeCol};

/// Stands for the plan's state guard in a batch statement.
pub const GUARD: &str = "{guard}";
/// Stands for the batch's ids, as an array of the id column's type, in a batch statement.
pub const IDS: &str = "{ids}";
/// Stands for the stale threshold, in seconds, in `JobTable::stale`.
pub const STALE_SECS: &str = "{stale_secs}";
/// Stands for the queues the plan's jobs are in, as a `text[]`, or NULL when the plan saw
/// more queues than it lists (`PLAN_NAMES`), in a batch statement: a table keyed by
/// (queue, id) looks each id up under those queues only.
pub const QUEUES: &str = "{queues}";

/// Stands for the condition a purge batch deletes by (the plan's finished states, finished
/// before the cutoff `$1`, in the queue `$2` when one is named), in a purge statement.
pub const PURGEABLE: &str = "{purgeable}";

/// The `WITH` part of a purge statement that picks one batch's rows, once, as `batch`
/// (`columns` of `table` as `j`): oldest id first along its index, at most `BATCH_SIZE`,
/// rows another session holds left for a later batch. (Picked in a subquery of the
/// `DELETE` instead, a plan that rescans it skips the rows the statement already deleted
/// and picks the next ones: one batch would take them all.)
pub fn purge_pick(table: &str, id: &str, columns: &str) -> String {
    format!(
        "batch AS MATERIALIZED (SELECT {columns} FROM {table} j WHERE {PURGEABLE} \
         ORDER BY {id} LIMIT {BATCH_SIZE} FOR UPDATE OF j SKIP LOCKED)"
    )
}

/// Starts a batch statement that writes several tables at once: one `WITH` of
/// data-modifying parts whose final `SELECT` returns the changed ids as text. Such a
/// statement cannot be nested in another `WITH`, so the engine runs it as it is.
pub const SEVERAL_TABLES: &str = "/* several tables */ ";

/// A job table as the actions see it. Expressions use the alias `j`.
#[derive(Debug, Clone)]
pub struct JobTable {
    /// `"schema"."table" j`.
    pub from: String,
    /// The id column.
    pub id: String,
    /// What orders jobs oldest first where the id does not (a uuid): their creation
    /// time. `None`: the id does.
    pub created_at: Option<String>,
    /// Its SQL type (`bigint`, `uuid`, `text`): ids travel as text and are cast to it, so
    /// the comparison stays on the column's own type and its index.
    pub id_type: String,
    pub queue: String,
    pub kind: String,
    /// The schema's state map: the condition of each display state, as its lists read it.
    pub states: StateMap,
    pub worker: Option<String>,
    pub tenant: Option<String>,
    /// The last error as text.
    pub error: Option<String>,
    /// A running job whose holder has not been heard from for `{stale_secs}` seconds: the
    /// one condition reset-stuck takes jobs by (its plan, and each batch's re-check) and
    /// the stuck list shows them by. `None`: the schema cannot tell. `alive_before` makes
    /// it from a time of last sign of life.
    pub stale: Option<String>,
    /// Per action, its statement: `{ids}` is the batch's ids, `{guard}` the plan's states
    /// re-checked; it returns the ids it changed as its first column. Reset-stuck's takes
    /// the stale threshold in seconds as `$2`; discard's takes, as `$2`, the message the
    /// discarded jobs keep as their last error, when `discard_message` says so; `{queues}`
    /// comes after those. A statement that writes several tables starts with
    /// `SEVERAL_TABLES`.
    pub batches: Vec<(ActionKind, String)>,
    pub discard_message: bool,
    /// When a finished job finished (an expression over `j`): purge deletes the jobs of
    /// the finished states it is asked for whose time is before the cutoff. `None`: the
    /// schema keeps no finished jobs, or no time for them, and purge is not offered. A
    /// statement for `ActionKind::Purge` in `batches` replaces the plain `DELETE` (a
    /// project that removes a job's other rows with it), `{purgeable}` its condition.
    pub finished_at: Option<TimeCol>,
    /// Where the project's own tools take fewer states than the action does elsewhere
    /// (procrastinate retries failed jobs only): per action, the states it takes. A plan
    /// leaves jobs in the others alone. Absent: `ActionKind::from_states`.
    pub from_states: Vec<(ActionKind, Vec<JobState>)>,
}

/// `JobTable::stale` for a schema that keeps when a running job last showed signs of life.
pub fn alive_before(alive_at: &str) -> String {
    format!("{alive_at} < now() - make_interval(secs => {STALE_SECS})")
}

impl JobTable {
    /// The jobs table itself: the relation `from` names `j` (pg-boss joins its queue table
    /// first); `None` where `j` is not a table (pgmq's union of queue tables).
    pub fn table(&self) -> Option<&str> {
        let words: Vec<&str> = self.from.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "j")?;
        let table = *words.get(at.checked_sub(1)?)?;
        (!table.contains(['(', ')'])).then_some(table)
    }

    /// `stale` with the threshold as `secs` (a placeholder or a value).
    pub fn stale_condition(&self, secs: &str) -> Option<String> {
        self.stale.as_ref().map(|c| c.replace(STALE_SECS, secs))
    }

    /// `$n` (a `text[]`) as an array of ids of the column's type.
    pub fn ids_param(&self, n: usize) -> String {
        format!("CAST(${n} AS {}[])", self.id_type)
    }

    /// Offered when the table has a statement for `kind` (a purge: when it keeps when
    /// finished jobs finished); else `why`.
    pub fn support(&self, kind: ActionKind, why: &'static str) -> Support {
        Support::when(self.offers(kind), why)
    }

    pub fn offers(&self, kind: ActionKind) -> bool {
        match kind {
            ActionKind::Purge => self.finished_at.is_some(),
            _ => self.statement(kind).is_some(),
        }
    }

    /// The states `kind` takes on this table.
    pub fn from_states(&self, kind: ActionKind) -> &[JobState] {
        self.from_states
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(kind.from_states(), |(_, states)| states.as_slice())
    }

    /// The jobs a purge takes: in one of `states`, finished before `$1`, in the queue `$2`
    /// (or any, when NULL).
    fn purgeable(&self, finished_at: &TimeCol, states: &[JobState]) -> String {
        format!(
            "{guard} AND {at} < {cutoff} AND ($2::text IS NULL OR ({queue})::text = $2)",
            guard = self.states.guard(states),
            at = finished_at.expr,
            cutoff = finished_at.value("$1::timestamptz"),
            queue = self.queue,
        )
    }

    /// One purge batch's pick as `jobtop doctor` plans it (a 30-day cutoff, every queue),
    /// where purge is offered.
    pub fn purge_probe(&self) -> Option<String> {
        let at = self.finished_at.as_ref()?;
        let cond = self
            .purgeable(at, self.from_states(ActionKind::Purge))
            .replace("$1", "(now() - interval '30 days')")
            .replace("$2", "NULL");
        Some(format!(
            "SELECT {id} FROM {from} WHERE {cond} ORDER BY {id} LIMIT {BATCH_SIZE}",
            id = self.id,
            from = self.from,
        ))
    }

    /// One purge batch: the rows `purge_pick` takes, each re-checked as it is deleted.
    fn purge_statement(&self) -> String {
        if let Some(own) = self.statement(ActionKind::Purge) {
            return own.to_string();
        }
        // A schema whose jobs are not one table (pgmq) declares its own purge statement.
        let table = self.table().unwrap_or(&self.from);
        format!(
            "{SEVERAL_TABLES}WITH {pick}, \
             gone AS (DELETE FROM {table} j USING batch b WHERE {id} = b.id AND {PURGEABLE} \
               RETURNING {id} AS id) \
             SELECT id::text FROM gone",
            pick = purge_pick(table, &self.id, &format!("{} AS id", self.id)),
            id = self.id,
        )
    }

    pub fn statement(&self, kind: ActionKind) -> Option<&str> {
        self.batches
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.as_str())
    }
}

fn row(r: &PgRow) -> anyhow::Result<Option<(JobId, String, String, JobState)>> {
    let state: Option<String> = r.try_get("state")?;
    let Some(state) = state.as_deref().and_then(JobState::parse) else {
        return Ok(None);
    };
    Ok(Some((
        JobId::from_db(r.try_get("id")?),
        r.try_get::<Option<String>, _>("queue")?.unwrap_or_default(),
        r.try_get::<Option<String>, _>("kind")?.unwrap_or_default(),
        state,
    )))
}

fn filter_sql(t: &JobTable, sql: &mut Sql, filter: &JobFilter) -> anyhow::Result<()> {
    let columns: [(&str, Option<&String>, &Option<String>); 4] = [
        ("queue", Some(&t.queue), &filter.queue),
        ("kind", Some(&t.kind), &filter.kind),
        ("tenant", t.tenant.as_ref(), &filter.tenant),
        ("worker", t.worker.as_ref(), &filter.worker),
    ];
    for (name, column, value) in columns {
        let Some(v) = value else { continue };
        let Some(column) = column else {
            anyhow::bail!("this queue schema has no {name} to filter on");
        };
        let p = sql.bind(v.clone());
        sql.push(&format!(" AND ({column})::text = {p}"));
    }
    if let Some(text) = &filter.text {
        let Some(error) = &t.error else {
            anyhow::bail!("this queue schema keeps no error text to filter on");
        };
        let p = sql.bind(text.to_lowercase());
        sql.push(&format!(" AND strpos(lower({error}), {p}) > 0"));
    }
    Ok(())
}

async fn fetch(pool: &PgPool, sql: Sql) -> anyhow::Result<Vec<(JobId, String, String, JobState)>> {
    let rows = sql.query().fetch_all(pool).await?;
    Ok(rows
        .iter()
        .map(row)
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

/// What a job action (or reset-stuck) would change.
pub async fn plan(pool: &PgPool, t: &JobTable, action: &Action) -> anyhow::Result<Plan> {
    let kind = action.kind();
    if let Action::Purge {
        states,
        older_than,
        queue,
    } = action
    {
        return plan_purge(pool, t, action, states, older_than.as_secs_f64(), queue).await;
    }
    // Oldest first: by creation time where the table says, then by the id in its own type
    // (numbers as numbers); the id is read as text.
    let select = format!(
        "SELECT {age} AS sort_at, {id} AS sort_id, ({id})::text AS id, \
         ({queue})::text AS queue, ({k})::text AS kind",
        age = t.created_at.as_deref().unwrap_or("NULL::timestamptz"),
        id = t.id,
        queue = t.queue,
        k = t.kind
    );
    if let Action::ResetStuck {
        queue,
        worker,
        stale_after,
    } = action
    {
        let mut sql = Sql::default();
        let secs = sql.bind(stale_after.as_secs_f64());
        let (Some(running), Some(stale)) = (
            t.states.condition(JobState::Running),
            t.stale_condition(&secs),
        ) else {
            anyhow::bail!("this queue schema cannot tell a stuck job from a running one");
        };
        sql.push(&format!(
            "{select}, 'running' AS state FROM {from} WHERE {running} AND {stale}",
            from = t.from
        ));
        let filter = JobFilter {
            queue: queue.clone(),
            worker: worker.clone(),
            ..JobFilter::default()
        };
        filter_sql(t, &mut sql, &filter)?;
        sql.push(&format!(" ORDER BY 1, 2 LIMIT {}", MAX_JOBS_PER_ACTION + 1));
        let rows = fetch(pool, sql).await?;
        return Ok(Plan::from_rows(action.clone(), rows, MAX_JOBS_PER_ACTION));
    }
    let Some(target) = action.job_target() else {
        anyhow::bail!("{} is not a job action", kind.name());
    };
    match target {
        JobTarget::Ids(ids) => {
            let ids: Vec<String> = ids
                .iter()
                .map(JobId::to_string)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut sql = Sql::default();
            let ids_param = sql.bind_index(ids.clone());
            sql.push(&format!(
                "{select}, {state} AS state FROM {from} WHERE {id} = ANY({ids}) ORDER BY 1, 2",
                state = t.states.display_state(),
                from = t.from,
                id = t.id,
                ids = t.ids_param(ids_param),
            ));
            let found = fetch(pool, sql).await?;
            let missing = ids.len() as u64 - found.len() as u64;
            let mut plan = Plan::from_rows_in(
                action.clone(),
                found,
                MAX_JOBS_PER_ACTION,
                t.from_states(kind),
            );
            plan.missing = missing;
            Ok(plan)
        }
        JobTarget::Matching { filter, limit } => {
            let take = take(*limit);
            // The schema's own tool may take fewer states than `ActionKind::from_states`.
            let states = filter.states_for(kind, t.from_states(kind));
            let mut sql = Sql::new("SELECT * FROM (");
            let mut first = true;
            for state in states {
                let Some(cond) = t.states.condition(state) else {
                    continue;
                };
                if !first {
                    sql.push(" UNION ALL ");
                }
                first = false;
                sql.push(&format!(
                    "(SELECT * FROM ({select}, '{}' AS state FROM {} WHERE {cond}",
                    state.as_str(),
                    t.from
                ));
                filter_sql(t, &mut sql, filter)?;
                sql.push(&format!(") s ORDER BY 1, 2 LIMIT {})", take + 1));
            }
            if first {
                return Ok(Plan::from_rows_in(
                    action.clone(),
                    Vec::new(),
                    take,
                    t.from_states(kind),
                ));
            }
            sql.push(") t ORDER BY 1, 2");
            let rows = fetch(pool, sql).await?;
            Ok(Plan::from_rows_in(
                action.clone(),
                rows,
                take,
                t.from_states(kind),
            ))
        }
    }
}

/// How many finished jobs a purge would delete, and its cutoff (fixed now, so the run ends).
async fn plan_purge(
    pool: &PgPool,
    t: &JobTable,
    action: &Action,
    states: &[JobState],
    older_than_secs: f64,
    queue: &Option<String>,
) -> anyhow::Result<Plan> {
    let Some(finished_at) = &t.finished_at else {
        anyhow::bail!("this queue schema keeps no finished jobs to purge");
    };
    let takes = t.from_states(ActionKind::Purge);
    if states.is_empty() {
        anyhow::bail!("purge needs at least one state");
    }
    if let Some(bad) = states.iter().find(|s| !takes.contains(s)) {
        let names: Vec<&str> = takes.iter().map(|s| s.as_str()).collect();
        anyhow::bail!(
            "purge deletes finished jobs only ({}), not {} ones",
            names.join(", "),
            bad.as_str()
        );
    }
    let cutoff: DateTime<Utc> = sqlx::query_scalar("SELECT now() - make_interval(secs => $1)")
        .bind(older_than_secs)
        .fetch_one(pool)
        .await?;
    let sql = format!(
        "SELECT count(*) FROM {from} WHERE {purgeable}",
        from = t.from,
        purgeable = t.purgeable(finished_at, states)
    );
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(cutoff)
        .bind(queue.as_deref())
        .fetch_one(pool)
        .await?;
    let mut plan = Plan::empty(action.clone());
    plan.cutoff = Some(cutoff);
    plan.eligible = n.max(0) as u64;
    plan.states = states.to_vec();
    if let Some(q) = queue {
        plan.queues = vec![q.clone()];
        plan.queue_count = 1;
    }
    Ok(plan)
}

/// One purge batch in `tx`: the ids it deleted. The run ends with a batch that comes up
/// short.
async fn purge_batch(
    tx: &mut Transaction<'static, Postgres>,
    t: &JobTable,
    step: &BatchStep<'_>,
) -> anyhow::Result<Vec<JobId>> {
    let plan = step.plan;
    let (Some(finished_at), Action::Purge { queue, .. }, Some(cutoff)) =
        (&t.finished_at, &plan.action, plan.cutoff)
    else {
        anyhow::bail!("purge is not offered on this queue schema, or its plan has no cutoff");
    };
    if plan.states.is_empty() {
        anyhow::bail!("the plan names no state to purge");
    }
    let sql = t
        .purge_statement()
        .replace(PURGEABLE, &t.purgeable(finished_at, &plan.states));
    let sql = match sql.strip_prefix(SEVERAL_TABLES) {
        Some(own) => own.to_string(),
        None => format!("WITH changed(id) AS ({sql}) SELECT id::text FROM changed"),
    };
    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(cutoff)
        .bind(queue.as_deref())
        .fetch_all(&mut **tx)
        .await?;
    Ok(ids.into_iter().map(JobId::from_db).collect())
}

/// Runs one batch's statement in `tx`: (changed ids, attempted).
pub async fn job_batch(
    tx: &mut Transaction<'static, Postgres>,
    t: &JobTable,
    step: &BatchStep<'_>,
) -> anyhow::Result<(Vec<JobId>, u64)> {
    let plan = step.plan;
    let kind = plan.kind();
    let Some(statement) = t.statement(kind) else {
        anyhow::bail!("{} is not offered on this queue schema", kind.name());
    };
    if plan.states.is_empty() {
        anyhow::bail!("the plan names no state to change");
    }
    let reset = match &plan.action {
        Action::ResetStuck { stale_after, .. } => Some(stale_after.as_secs_f64()),
        _ => None,
    };
    let message = (kind == ActionKind::Discard && t.discard_message)
        .then(|| format!("discarded by jobtop ({})", step.actor));
    let sql = statement
        .replace(GUARD, &t.states.guard(&plan.states))
        .replace(IDS, &t.ids_param(1));
    // After the ids and the statement's own `$2`, if it has one.
    let queues = sql
        .contains(QUEUES)
        .then(|| (plan.queues.len() as u64 == plan.queue_count).then(|| plan.queues.clone()));
    let next = 2 + usize::from(reset.is_some() || message.is_some());
    let sql = sql.replace(QUEUES, &format!("CAST(${next} AS text[])"));
    // The changed ids come back as text whatever the column's type; a statement writing
    // several tables cannot be nested and returns text itself.
    let sql = match sql.strip_prefix(SEVERAL_TABLES) {
        Some(own) => own.to_string(),
        None => format!("WITH changed(id) AS ({sql}) SELECT id::text FROM changed"),
    };
    let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).bind(JobId::texts(step.ids));
    if let Some(secs) = reset {
        q = q.bind(secs);
    }
    if let Some(message) = message {
        q = q.bind(message);
    }
    if let Some(queues) = queues {
        q = q.bind(queues);
    }
    let ids = q.fetch_all(&mut **tx).await?;
    Ok((
        ids.into_iter().map(JobId::from_db).collect(),
        step.ids.len() as u64,
    ))
}

/// A job action's batch, committed with its audit row.
pub async fn apply_jobs(
    pool: &PgPool,
    t: &JobTable,
    step: &BatchStep<'_>,
) -> anyhow::Result<BatchDone> {
    let mut tx = pool.begin().await?;
    if step.plan.kind() == ActionKind::Purge {
        let ids = purge_batch(&mut tx, t, step).await?;
        let n = ids.len() as u64;
        return commit(tx, step, n, ids, n, n < BATCH_SIZE as u64).await;
    }
    let (ids, attempted) = job_batch(&mut tx, t, step).await?;
    commit(tx, step, ids.len() as u64, ids, attempted, step.last).await
}

/// Commits a batch together with its audit row.
pub async fn commit(
    tx: Transaction<'static, Postgres>,
    step: &BatchStep<'_>,
    changed: u64,
    changed_ids: Vec<JobId>,
    attempted: u64,
    last: bool,
) -> anyhow::Result<BatchDone> {
    crate::backend::pg::audit::commit_batch(tx, step, changed, changed_ids, attempted, last).await
}

/// The display state of each job that still exists.
pub async fn job_states(
    pool: &PgPool,
    t: &JobTable,
    ids: &[JobId],
) -> anyhow::Result<Vec<(JobId, JobState)>> {
    let sql = format!(
        "SELECT ({id})::text AS id, {state} AS state FROM {from} WHERE {id} = ANY({ids})",
        id = t.id,
        state = t.states.display_state(),
        from = t.from,
        ids = t.ids_param(1),
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(JobId::texts(ids))
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let state: Option<String> = r.try_get("state")?;
        if let Some(s) = state.as_deref().and_then(JobState::parse) {
            out.push((JobId::from_db(r.try_get("id")?), s));
        }
    }
    Ok(out)
}

/// A plan for a pause or resume that always goes through (the schema cannot say whether
/// the queue is paused, or the statement itself makes it idempotent).
pub fn queue_plan(action: &Action, queue: &str, note: Option<String>) -> Plan {
    let mut plan = Plan::empty(action.clone());
    plan.queues = vec![queue.to_string()];
    plan.queue_count = 1;
    plan.eligible = 1;
    plan.note = note;
    plan
}
