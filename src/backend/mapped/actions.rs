//! Actions on a home-grown table, as its profile's `[actions]` and `[pause]` describe them
//! (see assets/profiles/README.md). Each action sets the status value the profile names;
//! the rest follows from the columns it names: a retried or reset job is due now with its
//! worker and heartbeat cleared, a cancelled or discarded one gets its finish time, a
//! retried one loses it and, when attempts and max attempts are known, gets one more
//! attempt if it has used them all. The error columns are kept. A column declared NOT NULL,
//! or listed in `[nulls] never_null`, is never cleared: it keeps its value.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool, Row};
use toml::Spanned;

use super::profile::Profile;
use crate::backend::actions::{Action, ActionKind, BatchDone, BatchStep, Plan};
use crate::backend::capabilities::{ActionCapabilities, Support};
use crate::backend::engine::actions::{
    self as kit, GUARD, IDS, JobTable, STALE_SECS, alive_before,
};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::{TimeCol, ident, literal};
use async_trait::async_trait;

fn col(c: &Spanned<String>) -> String {
    format!("j.{}", ident(c.get_ref()))
}

/// The last error as text: a JSON error shows as its `message` where it has one, a JSON
/// string as the string, any other JSON as its text.
fn error_text(e: &Spanned<String>, table: &TableInfo) -> String {
    match table.columns.get(e.get_ref()).map(String::as_str) {
        Some("jsonb") => format!("coalesce({c} ->> 'message', {c} #>> '{{}}')", c = col(e)),
        Some("json") => format!(
            "coalesce(({c})::jsonb ->> 'message', ({c})::jsonb #>> '{{}}')",
            c = col(e)
        ),
        _ => format!("({})::text", col(e)),
    }
}

/// The pause table's statements.
#[derive(Debug, Clone)]
struct PauseSql {
    read: String,
    pause: String,
    insert: String,
    resume: String,
    /// What `pause` and `insert` bind, in order.
    binds: Vec<PauseBind>,
}

#[derive(Debug, Clone, Copy)]
enum PauseBind {
    Queue,
    Actor,
    Reason,
}

#[derive(Debug, Clone)]
pub struct MappedActions {
    pub jobs: JobTable,
    pub capabilities: ActionCapabilities,
    pause: Option<PauseSql>,
}

impl MappedActions {
    /// `heartbeat` is when a running job's worker last showed signs of life, from the job's
    /// row or the profile's [workers] table.
    pub fn new(
        profile: &Profile,
        table: &TableInfo,
        pause: Option<&TableInfo>,
        heartbeat: Option<&TimeCol>,
    ) -> MappedActions {
        let c = &profile.columns;
        let t = table.qualified();
        let time =
            |s: &Spanned<String>| TimeCol::new(col(s), table.is_naive_timestamp(s.get_ref()));
        // The drill-down lists the same rows range by range.
        let states = super::lists::state_map(profile, table);

        // A column declared NOT NULL, or one the profile keeps from NULL, is left as it is
        // where an action would clear it.
        let clearable = |s: &&Spanned<String>| {
            table.nullable(s.get_ref())
                && !profile
                    .nulls
                    .never_null
                    .iter()
                    .any(|k| k.get_ref() == s.get_ref())
        };
        let clear = |s: &Option<Spanned<String>>| {
            s.as_ref()
                .filter(clearable)
                .map(|c| format!("{} = NULL", ident(c.get_ref())))
        };
        let now_of = |s: &Spanned<String>| time(s).value("now()");
        let clear_lock: Vec<String> = [&c.worker, &c.heartbeat_at]
            .into_iter()
            .filter_map(clear)
            .collect();
        let a = &profile.actions;
        let id = col(&c.id);
        let mut batches = Vec::new();
        let mut statement =
            |kind: ActionKind, to: &Spanned<String>, mut set: Vec<String>, extra: &str| {
                set.insert(
                    0,
                    format!("{} = {}", ident(c.status.get_ref()), literal(to.get_ref())),
                );
                batches.push((
                kind,
                format!(
                    "UPDATE {t} j SET {} WHERE {id} = ANY({IDS}) AND {GUARD}{extra} RETURNING {id}",
                    set.join(", ")
                ),
            ));
            };
        if let Some(to) = &a.retry {
            let mut set = clear_lock.clone();
            if let Some(r) = &c.run_at {
                set.push(format!("{} = {}", ident(r.get_ref()), now_of(r)));
            }
            set.extend(clear(&c.finished_at));
            if let (Some(at), Some(max)) = (&c.attempts, &c.max_attempts) {
                set.push(format!(
                    "{m} = greatest({mc}, coalesce({ac}, 0) + 1)",
                    m = ident(max.get_ref()),
                    mc = col(max),
                    ac = col(at)
                ));
            }
            statement(ActionKind::Retry, to, set, "");
        }
        for (kind, to) in [
            (ActionKind::Cancel, &a.cancel),
            (ActionKind::Discard, &a.discard),
        ] {
            if let Some(to) = to {
                let mut set = clear_lock.clone();
                if let Some(f) = &c.finished_at {
                    set.push(format!("{} = {}", ident(f.get_ref()), now_of(f)));
                }
                statement(kind, to, set, "");
            }
        }
        let alive_at = match (heartbeat, &c.started_at) {
            (Some(h), Some(s)) => Some(format!("coalesce({}, {})", h.read(), time(s).read())),
            (Some(h), None) => Some(h.read()),
            (None, Some(s)) => Some(time(s).read()),
            (None, None) => None,
        };
        let stale = alive_at.as_deref().map(alive_before);
        if let (Some(to), Some(stale)) = (&a.reset_stuck, &stale) {
            let mut set = clear_lock.clone();
            if let Some(r) = &c.run_at {
                set.push(format!("{} = {}", ident(r.get_ref()), now_of(r)));
            }
            // Still stale when the batch runs: a worker that came back keeps its job.
            let extra = format!(" AND {}", stale.replace(STALE_SECS, "$2"));
            statement(ActionKind::ResetStuck, to, set, &extra);
        }
        if a.delete {
            batches.push((
                ActionKind::Delete,
                format!("DELETE FROM {t} j WHERE {id} = ANY({IDS}) AND {GUARD} RETURNING {id}"),
            ));
        }
        let has = |k: ActionKind| batches.iter().any(|(x, _)| *x == k);
        let offered = |k: ActionKind| {
            Support::when(has(k), "the profile's [actions] section does not offer it")
        };
        let capabilities = ActionCapabilities {
            retry: offered(ActionKind::Retry),
            cancel: offered(ActionKind::Cancel),
            discard: offered(ActionKind::Discard),
            delete: offered(ActionKind::Delete),
            reset_stuck: offered(ActionKind::ResetStuck),
            // Deleting rows is the profile's to allow; their age is its finished-at column.
            purge: Support::when(
                a.purge && c.finished_at.is_some(),
                "the profile's [actions] section does not offer it (purge = true), or it \
                 names no finished_at column",
            ),
            audit: Support::No(crate::backend::actions::AUDIT_REQUIRED),
        };
        let pause = match (&profile.pause, pause) {
            (Some(p), Some(pt)) => {
                let pt_name = pt.qualified();
                let q = ident(p.queue.get_ref());
                let naive = pt.is_naive_timestamp(p.paused_at.get_ref());
                let at_name = ident(p.paused_at.get_ref());
                let at = TimeCol::new(format!("p.{at_name}"), naive);
                let now = at.value("now()");
                // $1 is the queue; the actor and the reason follow where the table keeps them.
                let mut binds = vec![PauseBind::Queue];
                let mut set = vec![format!("{at_name} = {now}")];
                let mut cols = vec![q.clone(), at_name.clone()];
                let mut vals = vec!["$1".to_string(), now.clone()];
                let mut resume = vec![format!("{at_name} = NULL")];
                for (column, bind) in [
                    (&p.paused_by, PauseBind::Actor),
                    (&p.reason, PauseBind::Reason),
                ] {
                    if let Some(column) = column {
                        binds.push(bind);
                        let n = ident(column.get_ref());
                        set.push(format!("{n} = ${}", binds.len()));
                        cols.push(n.clone());
                        vals.push(format!("${}", binds.len()));
                        resume.push(format!("{n} = NULL"));
                    }
                }
                Some(PauseSql {
                    read: format!(
                        "SELECT {} AS paused_at FROM {pt_name} p WHERE p.{q}::text = $1 \
                         ORDER BY {} DESC NULLS LAST LIMIT 1",
                        at.read(),
                        at.expr
                    ),
                    pause: format!(
                        "UPDATE {pt_name} p SET {} WHERE p.{q}::text = $1 AND {} IS NULL",
                        set.join(", "),
                        at.expr
                    ),
                    insert: format!(
                        "INSERT INTO {pt_name} ({}) SELECT {} WHERE NOT EXISTS \
                         (SELECT 1 FROM {pt_name} p WHERE p.{q}::text = $1)",
                        cols.join(", "),
                        vals.join(", ")
                    ),
                    resume: format!(
                        "UPDATE {pt_name} p SET {} WHERE p.{q}::text = $1 AND {} IS NOT NULL",
                        resume.join(", "),
                        at.expr
                    ),
                    binds,
                })
            }
            _ => None,
        };
        let id_type = table
            .columns
            .get(c.id.get_ref())
            .cloned()
            .unwrap_or_else(|| "text".into());
        let integer_id = matches!(id_type.as_str(), "bigint" | "integer" | "smallint");
        MappedActions {
            jobs: JobTable {
                from: format!("{t} j"),
                id,
                id_type: id_type.clone(),
                // A uuid or text id says nothing of age; the creation time does.
                created_at: (!integer_id)
                    .then(|| c.created_at.as_ref().map(|s| time(s).read()))
                    .flatten(),
                queue: match (&c.queue, &profile.queue_name) {
                    (Some(q), _) => col(q),
                    (None, Some(n)) => literal(n),
                    (None, None) => literal(table.name.as_str()),
                },
                kind: c.kind.as_ref().map(col).unwrap_or_else(|| "NULL".into()),
                states,
                worker: c.worker.as_ref().map(col),
                tenant: c.tenant.as_ref().map(col),
                error: c.error.as_ref().map(|e| error_text(e, table)),
                stale,
                batches,
                discard_message: false,
                finished_at: a.purge.then(|| c.finished_at.as_ref().map(time)).flatten(),
                from_states: Vec::new(),
            },
            capabilities,
            pause,
        }
    }
}

#[async_trait]
impl SchemaActions for MappedActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        let queue = match action {
            Action::Pause { queue, .. } | Action::Resume { queue } => queue,
            _ => return kit::plan(pool, &self.jobs, action).await,
        };
        let Some(p) = &self.pause else {
            anyhow::bail!("the profile names no [pause] table");
        };
        let paused_at: Option<Option<DateTime<Utc>>> = sqlx::query(AssertSqlSafe(p.read.clone()))
            .bind(queue)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get("paused_at"))
            .transpose()?;
        let mut plan = kit::queue_plan(action, queue, None);
        match (matches!(action, Action::Pause { .. }), paused_at.flatten()) {
            (true, Some(at)) => {
                plan.eligible = 0;
                plan.note = Some(format!(
                    "queue `{queue}` is already paused (since {})",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ));
            }
            (false, None) => {
                plan.eligible = 0;
                plan.note = Some(format!("queue `{queue}` is not paused"));
            }
            _ => {}
        }
        Ok(plan)
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let (pausing, queue, reason) = match &step.plan.action {
            Action::Pause { queue, reason } => (true, queue, reason.as_deref()),
            Action::Resume { queue } => (false, queue, None),
            _ => return kit::apply_jobs(pool, &self.jobs, step).await,
        };
        let Some(p) = &self.pause else {
            anyhow::bail!("the profile names no [pause] table");
        };
        let mut tx = pool.begin().await?;
        let n = if pausing {
            let mut n = 0;
            for sql in [&p.pause, &p.insert] {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for b in &p.binds {
                    q = match b {
                        PauseBind::Queue => q.bind(queue.clone()),
                        PauseBind::Actor => q.bind(step.actor.to_string()),
                        PauseBind::Reason => q.bind(reason.map(str::to_string)),
                    };
                }
                n += q.execute(&mut *tx).await?.rows_affected();
            }
            n.min(1)
        } else {
            sqlx::query(AssertSqlSafe(p.resume.clone()))
                .bind(queue)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                .min(1)
        };
        kit::commit(tx, step, n, Vec::new(), 1, true).await
    }
}
