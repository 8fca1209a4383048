//! Actions on the reference schema: plans (reads), batches (one conditional statement each,
//! plus the audit row, in one transaction), the audit log and job-state look-ups.
//!
//! Statements that depend on the target are assembled from the fixed fragments below and
//! numbered placeholders; every value the operator typed travels as a bind parameter.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::backend::actions::{
    Action, ActionKind, BATCH_SIZE, BatchDone, BatchStep, JobFilter, JobTarget,
    MAX_JOBS_PER_ACTION, Plan, take,
};
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::audit::commit_batch;
use crate::backend::pg::sql::Sql;

/// A job's display bucket, computed the way the overview counts them.
const DISPLAY_STATE: &str = "CASE WHEN j.state IN ('queued', 'retrying') AND j.run_at <= now() \
     THEN 'ready' WHEN j.state = 'queued' THEN 'scheduled' ELSE j.state::text END";

/// Finds the jobs of one display state through the partial index that holds them (the
/// literal index predicate comes first, so the planner can use the index).
fn state_scan(state: JobState) -> &'static str {
    match state {
        JobState::Ready => "j.state IN ('queued', 'retrying') AND j.run_at <= now()",
        JobState::Scheduled => {
            "j.state IN ('queued', 'retrying') AND j.state = 'queued' AND j.run_at > now()"
        }
        JobState::Retrying => {
            "j.state IN ('queued', 'retrying') AND j.state = 'retrying' AND j.run_at > now()"
        }
        JobState::Running => "j.state = 'running'",
        JobState::Dead => "j.state = 'dead'",
        // No partial index of their own: the finished-jobs index is the narrowest path.
        JobState::Cancelled => "j.finished_at IS NOT NULL AND j.state = 'cancelled'",
        JobState::Succeeded => "j.finished_at IS NOT NULL AND j.state = 'succeeded'",
    }
}

/// The condition a batch re-checks on each row, so that a job that moved on since the plan
/// is left alone.
fn state_guard(state: JobState) -> &'static str {
    match state {
        JobState::Ready => "(j.state IN ('queued', 'retrying') AND j.run_at <= now())",
        JobState::Scheduled => "(j.state = 'queued' AND j.run_at > now())",
        JobState::Retrying => "(j.state = 'retrying' AND j.run_at > now())",
        JobState::Running => "j.state = 'running'",
        JobState::Dead => "j.state = 'dead'",
        JobState::Cancelled => "j.state = 'cancelled'",
        JobState::Succeeded => "j.state = 'succeeded'",
    }
}

/// The statement of one batch, up to its state guard. Each keeps a literal `state IN (…)`
/// of the raw states the action may touch, whatever the guard adds.
fn batch_head(kind: ActionKind) -> Option<&'static str> {
    Some(match kind {
        // Error history and last_error stay: the operator wants to know why it failed.
        ActionKind::Retry => {
            "UPDATE jobtop.jobs j SET state = 'queued', run_at = now(), finished_at = NULL, \
             locked_by = NULL, heartbeat_at = NULL, \
             max_attempts = greatest(j.max_attempts, j.attempts + 1) \
             WHERE j.id = ANY($1) AND j.state IN ('dead', 'cancelled', 'queued', 'retrying')"
        }
        ActionKind::Cancel => {
            "UPDATE jobtop.jobs j SET state = 'cancelled', finished_at = now(), \
             locked_by = NULL, heartbeat_at = NULL \
             WHERE j.id = ANY($1) AND j.state IN ('queued', 'retrying')"
        }
        ActionKind::Discard => {
            "UPDATE jobtop.jobs j SET state = 'dead', finished_at = now(), \
             locked_by = NULL, heartbeat_at = NULL \
             WHERE j.id = ANY($1) AND j.state IN ('queued', 'retrying')"
        }
        ActionKind::Delete => {
            "DELETE FROM jobtop.jobs j WHERE j.id = ANY($1) AND j.state IN ('dead', 'cancelled')"
        }
        // Still stale when the batch runs: a worker that came back keeps its job.
        ActionKind::ResetStuck => concat!(
            "UPDATE jobtop.jobs j SET state = 'queued', run_at = now(), \
             locked_by = NULL, heartbeat_at = NULL \
             WHERE j.id = ANY($1) AND j.state IN ('running') AND ",
            alive_at!(),
            " < now() - make_interval(secs => $2)"
        ),
        // Pause, resume and purge have statements of their own; schedules are not the queue's.
        _ => return None,
    })
}

const PAUSE_SQL: &str = "UPDATE jobtop.queues q SET paused_at = now(), \
     paused_by = $2 || ' (' || current_user || ')', pause_reason = $3 \
     WHERE q.name = $1 AND q.paused_at IS NULL";

const RESUME_SQL: &str = "UPDATE jobtop.queues q SET paused_at = NULL, paused_by = NULL, \
     pause_reason = NULL WHERE q.name = $1 AND q.paused_at IS NOT NULL";

/// Oldest finished first, straight off the finished-jobs index; rows another session holds
/// are left for the next batch rather than waited for.
/// One batch: its rows picked once (a materialized CTE: a `LIMIT … SKIP LOCKED` subquery
/// that a plan re-ran would take the next rows too, and a batch would become the whole
/// purge), then deleted with state and age checked again.
const PURGE_SQL: &str = "WITH picked AS MATERIALIZED ( \
       SELECT k.id FROM jobtop.jobs k \
       WHERE k.finished_at IS NOT NULL AND k.finished_at < $1 \
         AND k.state = ANY($2::text[]::jobtop.job_state[]) \
         AND ($3::text IS NULL OR k.queue = $3) \
       ORDER BY k.finished_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
     DELETE FROM jobtop.jobs j USING picked p \
     WHERE j.id = p.id AND j.finished_at < $1 AND j.state = ANY($2::text[]::jobtop.job_state[]) \
     RETURNING j.id";

const PURGE_PLAN_SQL: &str = "WITH c AS (SELECT now() - make_interval(secs => $1) AS cutoff) \
     SELECT c.cutoff, (SELECT count(*) FROM jobtop.jobs j \
       WHERE j.finished_at IS NOT NULL AND j.finished_at < c.cutoff \
         AND j.state = ANY($2::text[]::jobtop.job_state[]) \
         AND ($3::text IS NULL OR j.queue = $3)) AS n \
     FROM c";

const QUEUE_SQL: &str =
    "SELECT q.paused_at, q.paused_by, q.pause_reason FROM jobtop.queues q WHERE q.name = $1";

const JOB_STATES_SQL: &str = "SELECT j.id, CASE WHEN j.state IN ('queued', 'retrying') \
     AND j.run_at <= now() THEN 'ready' WHEN j.state = 'queued' THEN 'scheduled' \
     ELSE j.state::text END AS state FROM jobtop.jobs j WHERE j.id = ANY($1)";

fn parse_state(s: &str) -> anyhow::Result<JobState> {
    JobState::parse(s).ok_or_else(|| anyhow::anyhow!("unknown job state {s:?}"))
}

fn job_row(row: &PgRow) -> anyhow::Result<(JobId, String, String, JobState)> {
    Ok((
        JobId::Int(row.try_get("id")?),
        row.try_get("queue")?,
        row.try_get("kind")?,
        parse_state(row.try_get::<&str, _>("state")?)?,
    ))
}

pub async fn plan(pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
    match action {
        Action::Pause { queue, .. } | Action::Resume { queue } => {
            plan_pause(pool, action, queue).await
        }
        Action::Purge {
            states,
            older_than,
            queue,
        } => plan_purge(pool, action, states, older_than.as_secs_f64(), queue).await,
        Action::ResetStuck {
            queue,
            worker,
            stale_after,
        } => {
            let mut sql = Sql::new(
                "SELECT j.id, j.queue, j.kind, 'running' AS state FROM jobtop.jobs j \
                 WHERE j.state = 'running'",
            );
            let stale = sql.bind(stale_after.as_secs_f64());
            sql.push(&format!(
                " AND {} < now() - make_interval(secs => {stale})",
                alive_at!()
            ));
            if let Some(q) = queue {
                let p = sql.bind(q.clone());
                sql.push(&format!(" AND j.queue = {p}"));
            }
            if let Some(w) = worker {
                let p = sql.bind(w.clone());
                sql.push(&format!(" AND j.locked_by = {p}"));
            }
            let lim = sql.bind(MAX_JOBS_PER_ACTION as i64 + 1);
            sql.push(&format!(" ORDER BY j.id LIMIT {lim}"));
            let rows = sql.query().fetch_all(pool).await?;
            let rows = rows
                .iter()
                .map(job_row)
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Plan::from_rows(action.clone(), rows, MAX_JOBS_PER_ACTION))
        }
        _ => {
            let target = action
                .job_target()
                .ok_or_else(|| anyhow::anyhow!("{:?} has no job target", action.kind()))?;
            plan_jobs(pool, action, target).await
        }
    }
}

async fn plan_jobs(pool: &PgPool, action: &Action, target: &JobTarget) -> anyhow::Result<Plan> {
    let kind = action.kind();
    match target {
        JobTarget::Ids(ids) => {
            let distinct: BTreeSet<&JobId> = ids.iter().collect();
            let given = distinct.len() as u64;
            // A text id (a uuid) names no job of the reference schema: it counts as missing.
            let ids: Vec<i64> = distinct.into_iter().filter_map(JobId::as_int).collect();
            let sql = format!(
                "SELECT j.id, j.queue, j.kind, {DISPLAY_STATE} AS state \
                 FROM jobtop.jobs j WHERE j.id = ANY($1) ORDER BY j.id"
            );
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(&ids)
                .fetch_all(pool)
                .await?;
            let found = rows
                .iter()
                .map(job_row)
                .collect::<anyhow::Result<Vec<_>>>()?;
            let missing = given - found.len() as u64;
            let mut plan = Plan::from_rows(action.clone(), found, MAX_JOBS_PER_ACTION);
            plan.missing = missing;
            Ok(plan)
        }
        JobTarget::Matching { filter, limit } => {
            let take = take(*limit);
            let states = filter.states_for(kind, kind.from_states());
            let mut sql = Sql::new("SELECT * FROM (");
            let lim = sql.bind(take as i64 + 1);
            for (i, state) in states.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ALL ");
                }
                sql.push(&format!(
                    "(SELECT j.id, j.queue, j.kind, '{}' AS state FROM jobtop.jobs j WHERE {}",
                    state.as_str(),
                    state_scan(*state)
                ));
                push_filter(&mut sql, filter);
                sql.push(&format!(" ORDER BY j.id LIMIT {lim})"));
            }
            sql.push(") t ORDER BY t.id");
            let rows = sql.query().fetch_all(pool).await?;
            let rows = rows
                .iter()
                .map(job_row)
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Plan::from_rows(action.clone(), rows, take))
        }
    }
}

fn push_filter(sql: &mut Sql, filter: &JobFilter) {
    let columns: [(&str, &Option<String>); 4] = [
        ("j.queue", &filter.queue),
        ("j.kind", &filter.kind),
        ("j.tenant_id", &filter.tenant),
        ("j.locked_by", &filter.worker),
    ];
    for (column, value) in columns {
        if let Some(v) = value {
            let p = sql.bind(v.clone());
            sql.push(&format!(" AND {column} = {p}"));
        }
    }
    if let Some(text) = &filter.text {
        let p = sql.bind(text.to_lowercase());
        sql.push(&format!(" AND strpos(lower(j.last_error), {p}) > 0"));
    }
}

async fn plan_pause(pool: &PgPool, action: &Action, queue: &str) -> anyhow::Result<Plan> {
    let row = sqlx::query(QUEUE_SQL)
        .bind(queue)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        anyhow::bail!("there is no queue named `{queue}`");
    };
    let paused_at: Option<DateTime<Utc>> = row.try_get("paused_at")?;
    let paused_by: Option<String> = row.try_get("paused_by")?;
    let reason: Option<String> = row.try_get("pause_reason")?;
    let mut plan = Plan::empty(action.clone());
    plan.queues = vec![queue.to_string()];
    plan.queue_count = 1;
    let pausing = matches!(action, Action::Pause { .. });
    match (pausing, paused_at) {
        (true, Some(at)) => {
            plan.note = Some(format!(
                "queue `{queue}` is already paused (by {} since {}{})",
                paused_by.as_deref().unwrap_or("unknown"),
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ));
        }
        (false, None) => plan.note = Some(format!("queue `{queue}` is not paused")),
        _ => plan.eligible = 1,
    }
    Ok(plan)
}

async fn plan_purge(
    pool: &PgPool,
    action: &Action,
    states: &[JobState],
    older_than_secs: f64,
    queue: &Option<String>,
) -> anyhow::Result<Plan> {
    if states.is_empty() {
        anyhow::bail!("purge needs at least one state");
    }
    if let Some(bad) = states
        .iter()
        .find(|s| !ActionKind::Purge.from_states().contains(s))
    {
        anyhow::bail!(
            "purge deletes finished jobs only (succeeded, cancelled, dead), not {} ones",
            bad.as_str()
        );
    }
    // Finished states are named alike in the display buckets and the schema's enum.
    let names: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
    let row = sqlx::query(PURGE_PLAN_SQL)
        .bind(older_than_secs)
        .bind(&names)
        .bind(queue.as_deref())
        .fetch_one(pool)
        .await?;
    let mut plan = Plan::empty(action.clone());
    plan.cutoff = Some(row.try_get("cutoff")?);
    plan.eligible = row.try_get::<i64, _>("n")?.max(0) as u64;
    plan.states = states.to_vec();
    Ok(plan)
}

pub async fn apply_batch(pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
    let plan = step.plan;
    let kind = plan.kind();
    let mut tx = pool.begin().await?;
    let (changed, changed_ids, attempted, last) = match &plan.action {
        Action::Pause { queue, reason } => {
            let n = sqlx::query(PAUSE_SQL)
                .bind(queue)
                .bind(step.actor)
                .bind(reason.as_deref())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            (n, Vec::new(), 1, true)
        }
        Action::Resume { queue } => {
            let n = sqlx::query(RESUME_SQL)
                .bind(queue)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            (n, Vec::new(), 1, true)
        }
        Action::Purge { states, queue, .. } => {
            let cutoff = plan
                .cutoff
                .ok_or_else(|| anyhow::anyhow!("a purge plan needs its cutoff"))?;
            let names: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
            let ids: Vec<i64> = sqlx::query_scalar(PURGE_SQL)
                .bind(cutoff)
                .bind(&names)
                .bind(queue.as_deref())
                .bind(BATCH_SIZE as i64)
                .fetch_all(&mut *tx)
                .await?;
            let n = ids.len() as u64;
            let ids = ids.into_iter().map(JobId::Int).collect();
            (n, ids, n, n < BATCH_SIZE as u64)
        }
        action => {
            let head = batch_head(kind)
                .ok_or_else(|| anyhow::anyhow!("{} is not a job action", kind.name()))?;
            if plan.states.is_empty() {
                anyhow::bail!("the plan names no state to change");
            }
            let mut sql = Sql::new(head);
            sql.bind_index(JobId::ints(step.ids));
            if let Action::ResetStuck { stale_after, .. } = action {
                sql.bind_index(stale_after.as_secs_f64());
            }
            let guards: Vec<&str> = plan.states.iter().map(|s| state_guard(*s)).collect();
            sql.push(&format!(" AND ({}) RETURNING j.id", guards.join(" OR ")));
            let rows = sql.query().fetch_all(&mut *tx).await?;
            let ids = rows
                .iter()
                .map(|r| r.try_get::<i64, _>(0).map(JobId::Int))
                .collect::<Result<Vec<_>, _>>()?;
            (ids.len() as u64, ids, step.ids.len() as u64, step.last)
        }
    };
    commit_batch(tx, step, changed, changed_ids, attempted, last).await
}

pub async fn job_states(pool: &PgPool, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
    let rows = sqlx::query(JOB_STATES_SQL)
        .bind(JobId::ints(ids))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                JobId::Int(r.try_get("id")?),
                parse_state(r.try_get::<&str, _>("state")?)?,
            ))
        })
        .collect()
}
