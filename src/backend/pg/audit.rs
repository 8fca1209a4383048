//! `jobtop.audit`: every action's row, written in the same transaction as the change it
//! records, and read back for the audit view.

use serde_json::Value;
use sqlx::{PgPool, Postgres, Row};

use crate::backend::actions::{
    ActionOutcome, AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep, Plan, Progress,
};
use crate::backend::model::JobId;
use crate::backend::pg::sql::Sql;

/// The operator and the database role, as one actor string.
const AUDIT_INSERT_SQL: &str = "INSERT INTO jobtop.audit \
     (actor, action, queue, job_ids, job_keys, count, params, outcome, detail) \
     VALUES ($1 || ' (' || current_user || ')', $2, $3, $4, $9, $5, \
             $6::jsonb || jsonb_build_object('batch_at', now()), $7, $8) RETURNING id";

const AUDIT_UPDATE_SQL: &str = "UPDATE jobtop.audit a SET \
     job_ids = CASE WHEN $2::bigint[] IS NULL THEN a.job_ids \
                    ELSE coalesce(a.job_ids, '{}') || $2 END, \
     job_keys = CASE WHEN $7::text[] IS NULL THEN a.job_keys \
                    ELSE coalesce(a.job_keys, '{}') || $7 END, \
     count = coalesce(a.count, 0) + $3, outcome = $4, detail = $5, \
     params = $6::jsonb || jsonb_build_object('batch_at', now()) \
     WHERE a.id = $1";

/// A run's row says `running` until its last batch, and `batch_at` is when its latest batch
/// committed. A batch is bounded by the statement timeout, so a row still running with no
/// batch for this long belongs to a run that is gone: a command that exited (or was killed)
/// while the database was away, which no living process will ever close.
pub const ABANDONED_AFTER_MINUTES: i64 = 15;

fn abandoned(alias: &str) -> String {
    format!(
        "(coalesce(({alias}.params->>'running')::boolean, false) \
         AND ({alias}.params->>'batch_at')::timestamptz \
             < now() - make_interval(mins => {ABANDONED_AFTER_MINUTES}))"
    )
}

/// What an abandoned run's row says: "in progress (batch 1 of 4)" becomes what happened.
pub fn interrupted_detail(detail: &str) -> String {
    const OPEN: &str = "in progress (batch ";
    let reason =
        format!("its run stopped answering (no batch for {ABANDONED_AFTER_MINUTES} minutes)");
    if let Some(at) = detail.find(OPEN)
        && let Some(len) = detail[at..].find(')')
    {
        let batches = &detail[at + OPEN.len()..at + len];
        let (before, after) = (&detail[..at], &detail[at + len + 1..]);
        return format!("{before}interrupted after batch {batches}: {reason}{after}");
    }
    format!("{detail}; interrupted: {reason}")
}

/// Closes the rows of abandoned runs (`ABANDONED_AFTER_MINUTES`), each by a conditional
/// update, so two operators closing the same row close it once. Returns how many it closed.
pub async fn close_abandoned(pool: &PgPool) -> anyhow::Result<u64> {
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.id, a.detail FROM jobtop.audit a WHERE {}",
        abandoned("a")
    )))
    .fetch_all(pool)
    .await?;
    let mut closed = 0;
    for (id, detail) in rows {
        let detail = interrupted_detail(detail.as_deref().unwrap_or(""));
        closed += sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobtop.audit a SET detail = $2, \
             params = a.params || jsonb_build_object('running', false, 'interrupted', true) \
             WHERE a.id = $1 AND {}",
            abandoned("a")
        )))
        .bind(id)
        .bind(detail)
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(closed)
}

const AUDIT_CLOSE_SQL: &str =
    "UPDATE jobtop.audit a SET outcome = $2, detail = $3, params = $4 WHERE a.id = $1";

/// Writes (or updates) the action's audit row in the batch's transaction and commits both:
/// every backend's batches end here, so no change is committed without its audit row.
pub async fn commit_batch(
    mut tx: sqlx::Transaction<'static, Postgres>,
    step: &BatchStep<'_>,
    changed: u64,
    changed_ids: Vec<JobId>,
    attempted: u64,
    last: bool,
) -> anyhow::Result<BatchDone> {
    let plan = step.plan;
    let kind = plan.kind();
    let after = Progress {
        attempted: step.before.attempted + attempted,
        changed: step.before.changed + changed,
        batches: step.before.batches + 1,
    };
    let outcome = ActionOutcome::of(plan, &after, last);
    // bigint ids in job_ids, uuid and text ids in job_keys; each NULL when it has none.
    let listed = plan.audit_lists_ids();
    let ints: Vec<i64> = JobId::ints(&changed_ids);
    let keys: Vec<String> = changed_ids
        .iter()
        .filter(|id| id.as_int().is_none())
        .map(JobId::to_string)
        .collect();
    let listed_ints = (listed && (keys.is_empty() || !ints.is_empty())).then_some(ints);
    let listed_keys = (listed && !keys.is_empty()).then_some(keys);
    let audit_id = match step.audit_id {
        None => {
            sqlx::query_scalar::<_, i64>(AUDIT_INSERT_SQL)
                .bind(step.actor)
                .bind(kind.name())
                .bind(plan.audit_queue())
                .bind(listed_ints)
                .bind(changed as i64)
                .bind(params_with_progress(plan, &after, !last))
                .bind(outcome.outcome().as_str())
                .bind(outcome.summary())
                .bind(listed_keys)
                .fetch_one(&mut *tx)
                .await?
        }
        Some(id) => {
            sqlx::query(AUDIT_UPDATE_SQL)
                .bind(id)
                .bind(listed_ints)
                .bind(changed as i64)
                .bind(outcome.outcome().as_str())
                .bind(outcome.summary())
                .bind(params_with_progress(plan, &after, !last))
                .bind(listed_keys)
                .execute(&mut *tx)
                .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(BatchDone {
        changed,
        changed_ids,
        attempted,
        audit_id,
        last,
    })
}

fn params_with_progress(plan: &Plan, p: &Progress, running: bool) -> Value {
    let mut params = plan.audit_params();
    if let Value::Object(m) = &mut params {
        m.insert("attempted".into(), p.attempted.into());
        m.insert("batches".into(), p.batches.into());
        m.insert("running".into(), running.into());
    }
    params
}

pub async fn finish_audit(pool: &PgPool, end: &AuditEnd<'_>) -> anyhow::Result<()> {
    let o = end.outcome;
    let mut params = end.plan.audit_params();
    if let Value::Object(m) = &mut params {
        m.insert("batches".into(), o.batches.into());
        m.insert("stopped".into(), o.stopped.into());
        if let Some(err) = &o.error {
            m.insert("error".into(), err.clone().into());
        }
    }
    match end.audit_id {
        Some(id) => {
            sqlx::query(AUDIT_CLOSE_SQL)
                .bind(id)
                .bind(o.outcome().as_str())
                .bind(o.summary())
                .bind(params)
                .execute(pool)
                .await?;
        }
        None => {
            sqlx::query(AUDIT_INSERT_SQL)
                .bind(end.actor)
                .bind(end.plan.kind().name())
                .bind(end.plan.audit_queue())
                .bind(None::<Vec<i64>>)
                .bind(o.changed as i64)
                .bind(params)
                .bind(o.outcome().as_str())
                .bind(o.summary())
                .bind(None::<Vec<String>>)
                .fetch_one(pool)
                .await?;
        }
    }
    Ok(())
}

pub async fn audit_log(pool: &PgPool, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
    let mut sql = Sql::new(format!(
        "SELECT a.id, a.at, a.actor, a.action, a.queue, a.job_ids, a.job_keys, a.count, \
         a.params, a.outcome, a.detail, {} AS abandoned FROM jobtop.audit a WHERE true",
        abandoned("a")
    ));
    if let Some(q) = &filter.queue {
        let p = sql.bind(q.clone());
        sql.push(&format!(" AND a.queue = {p}"));
    }
    if let Some(a) = &filter.action {
        let p = sql.bind(a.clone());
        sql.push(&format!(" AND a.action = {p}"));
    }
    if let Some(actor) = &filter.actor {
        let p = sql.bind(actor.to_lowercase());
        sql.push(&format!(" AND strpos(lower(a.actor), {p}) > 0"));
    }
    if let Some(o) = &filter.outcome {
        let p = sql.bind(o.clone());
        sql.push(&format!(" AND a.outcome = {p}"));
    }
    let limit = sql.bind(filter.limit.clamp(1, 10_000));
    sql.push(&format!(" ORDER BY a.at DESC, a.id DESC LIMIT {limit}"));
    let rows = sql.query().fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                queue: r.try_get("queue")?,
                job_ids: audit_ids(r.try_get("job_ids")?, r.try_get("job_keys")?),
                count: r.try_get("count")?,
                params: r.try_get("params")?,
                outcome: r.try_get("outcome")?,
                detail: match r.try_get::<bool, _>("abandoned")? {
                    // Said as it is even by a read-only session, which cannot close it.
                    true => r
                        .try_get::<Option<String>, _>("detail")?
                        .map(|d| interrupted_detail(&d)),
                    false => r.try_get("detail")?,
                },
            })
        })
        .collect()
}

/// The ids an audit row lists, whichever column holds them.
fn audit_ids(ints: Option<Vec<i64>>, keys: Option<Vec<String>>) -> Option<Vec<JobId>> {
    if ints.is_none() && keys.is_none() {
        return None;
    }
    let ints = ints.into_iter().flatten().map(JobId::Int);
    let keys = keys.into_iter().flatten().map(JobId::from_db);
    Some(ints.chain(keys).collect())
}

/// Whether `jobtop.audit` exists in the form this jobtop writes (with `job_keys`, migration
/// 7): without it no action runs (`Capabilities::refusal`).
pub async fn audit_table(pool: &PgPool) -> anyhow::Result<bool> {
    // From the catalog: `to_regclass` fails for a role without USAGE on the schema.
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'job_keys' \
         AND NOT a.attisdropped \
         WHERE n.nspname = 'jobtop' AND c.relname = 'audit' AND c.relkind IN ('r', 'p'))",
    )
    .fetch_one(pool)
    .await?)
}

/// Who paused a queue and why, for a schema that keeps only when: jobtop's own pause row
/// in the audit, committed in the same transaction as the pause, so stamped with the same
/// `now()`. A join (alias `pa`, columns `actor` and `reason`) for the queue list.
pub fn pause_audit_join(queue: &str, paused_at: &str) -> String {
    format!(
        "LEFT JOIN LATERAL (SELECT a.actor, a.params->>'reason' AS reason FROM jobtop.audit a \
         WHERE a.at = {paused_at} AND a.action = 'pause' AND a.queue = {queue} \
         ORDER BY a.id DESC LIMIT 1) pa ON true"
    )
}
