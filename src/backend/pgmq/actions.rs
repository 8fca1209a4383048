//! pgmq's actions, with the effect of its own functions, written as conditional statements
//! of ours rather than calls: `pgmq.set_vt`, `pgmq.archive` and `pgmq.delete` touch a
//! message whatever it became since the plan, while a batch must change only the messages
//! still in the state the plan saw (the gate's rule). Each batch runs one statement per
//! queue table it touches, in one transaction with its audit row.
//!
//! - retry ("make visible now", `pgmq.set_vt(queue, msg_id, 0)`): a delayed or in-flight
//!   message becomes visible now; an in-flight one's reader no longer holds it (it can
//!   still delete or archive it by id, as with pgmq's own call).
//! - discard (`pgmq.archive`): a waiting message moves to its queue's archive, columns as
//!   pgmq copies them, `archived_at` now.
//! - cancel (`pgmq.delete`): a waiting message is deleted.
//! - purge: archived messages whose `archived_at` is before the cutoff are deleted from
//!   their queue's archive (`a_<queue>`, along pgmq's `archived_at` index), oldest msg_id
//!   first, at most `BATCH_SIZE` a batch across the queues. The queue tables, where live
//!   messages are, are never touched.
//! - delete, reset stuck, pause: not offered (see `mod.rs`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::actions::{Action, ActionKind, BATCH_SIZE, BatchDone, BatchStep, Plan};
use crate::backend::engine::actions::{self as kit, JobTable};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::sql::qualified;

/// The states each action takes, as pgmq's function would (on a waiting message).
pub const FROM_STATES: [(ActionKind, &[JobState]); 4] = [
    (ActionKind::Retry, &[JobState::Scheduled, JobState::Running]),
    (ActionKind::Discard, &[JobState::Ready, JobState::Scheduled]),
    (ActionKind::Cancel, &[JobState::Ready, JobState::Scheduled]),
    // Archived messages: all a queue's archive holds.
    (ActionKind::Purge, &[JobState::Succeeded]),
];

/// A message's id as jobtop shows it: its queue and its msg_id (each queue numbers its own).
pub fn message_id(queue: &str, msg_id: i64) -> String {
    format!("{queue}:{msg_id}")
}

/// (queue, msg_id) of an id `message_id` made.
fn split(id: &JobId) -> Option<(String, i64)> {
    let text = id.to_string();
    let (queue, n) = text.rsplit_once(':')?;
    Some((queue.to_string(), n.parse().ok()?))
}

#[derive(Debug, Clone)]
pub struct PgmqActions {
    pub jobs: JobTable,
    /// The schema pgmq is installed in.
    schema: String,
    /// The queues whose tables exist, as `pgmq.meta` names them.
    queues: Vec<String>,
}

impl PgmqActions {
    pub fn new(jobs: JobTable, schema: &str, queues: Vec<String>) -> PgmqActions {
        PgmqActions {
            jobs,
            schema: schema.to_string(),
            queues,
        }
    }

    /// The statement for `kind` on one queue: `$1` the msg_ids; returns the changed ones.
    fn statement(&self, kind: ActionKind, queue: &str, guard: &str) -> Option<String> {
        let q = qualified(&self.schema, &format!("q_{}", queue.to_lowercase()));
        let a = qualified(&self.schema, &format!("a_{}", queue.to_lowercase()));
        let pick = format!("j.msg_id = ANY(CAST($1 AS bigint[])) AND {guard}");
        Some(match kind {
            ActionKind::Retry => {
                format!("UPDATE {q} j SET vt = clock_timestamp() WHERE {pick} RETURNING j.msg_id")
            }
            ActionKind::Cancel => format!("DELETE FROM {q} j WHERE {pick} RETURNING j.msg_id"),
            ActionKind::Discard => format!(
                "WITH archived AS (DELETE FROM {q} j WHERE {pick} \
                   RETURNING j.msg_id, j.vt, j.read_ct, j.enqueued_at, j.last_read_at, \
                     j.message, j.headers) \
                 INSERT INTO {a} (msg_id, vt, read_ct, enqueued_at, last_read_at, message, \
                   headers) \
                 SELECT msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers \
                 FROM archived RETURNING msg_id"
            ),
            _ => return None,
        })
    }

    pub fn offers(kind: ActionKind) -> bool {
        FROM_STATES.iter().any(|(k, _)| *k == kind)
    }

    /// One purge batch: archived messages finished before the cutoff, queue by queue, at
    /// most `BATCH_SIZE` in all; the run ends with a batch that comes up short.
    async fn purge(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let (Action::Purge { queue, .. }, Some(cutoff)) = (&step.plan.action, step.plan.cutoff)
        else {
            anyhow::bail!("a purge plan needs its cutoff");
        };
        let queues: Vec<&String> = self
            .queues
            .iter()
            .filter(|q| queue.as_ref().is_none_or(|named| named == *q))
            .collect();
        let mut tx = pool.begin().await?;
        let mut changed = Vec::new();
        for q in queues {
            let left = BATCH_SIZE - changed.len();
            if left == 0 {
                break;
            }
            let a = qualified(&self.schema, &format!("a_{}", q.to_lowercase()));
            let sql = format!(
                "WITH batch AS MATERIALIZED (SELECT j.msg_id FROM {a} j \
                   WHERE j.archived_at < $1 ORDER BY j.msg_id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 DELETE FROM {a} j USING batch b \
                 WHERE j.msg_id = b.msg_id AND j.archived_at < $1 RETURNING j.msg_id"
            );
            let done: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(cutoff)
                .bind(left as i64)
                .fetch_all(&mut *tx)
                .await?;
            changed.extend(done.into_iter().map(|n| JobId::Text(message_id(q, n))));
        }
        let count = changed.len() as u64;
        let last = changed.len() < BATCH_SIZE;
        kit::commit(tx, step, count, changed, count, last).await
    }
}

#[async_trait]
impl SchemaActions for PgmqActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        if !Self::offers(action.kind()) {
            return Err(crate::backend::actions::unsupported("pgmq", action.kind()));
        }
        let mut plan = kit::plan(pool, &self.jobs, action).await?;
        // pgmq's words, not the generic ones: it keeps no errors or attempts, its archive
        // is where finished messages go, and its cancel deletes.
        plan.effect = match action.kind() {
            ActionKind::Retry => Some(
                "They become visible now, as pgmq.set_vt(queue, msg_id, 0) does: the next \
                 read takes them; their read count is kept.",
            ),
            ActionKind::Discard => {
                Some("They move to the queue's archive, as pgmq.archive does, and count as done.")
            }
            ActionKind::Cancel => {
                Some("They are deleted from the queue, as pgmq.delete does; this cannot be undone.")
            }
            _ => None,
        }
        .map(String::from);
        if action.kind() == ActionKind::Retry && plan.states.contains(&JobState::Running) {
            plan.note = Some(
                "In-flight messages become visible now: their readers no longer hold them \
                 (as pgmq.set_vt does)."
                    .into(),
            );
        }
        Ok(plan)
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let kind = step.plan.kind();
        if kind == ActionKind::Purge {
            return self.purge(pool, step).await;
        }
        if step.plan.states.is_empty() {
            anyhow::bail!("the plan names no state to change");
        }
        let guard = self.jobs.states.guard(&step.plan.states);
        let mut by_queue: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for id in step.ids {
            let Some((queue, msg_id)) = split(id) else {
                anyhow::bail!("{id} is not a pgmq message id (queue:msg_id)");
            };
            // Only a queue whose tables were found: the name becomes a table name.
            let Some(known) = self.queues.iter().find(|q| **q == queue) else {
                anyhow::bail!("pgmq has no queue {queue:?}");
            };
            by_queue.entry(known.as_str()).or_default().push(msg_id);
        }
        let mut tx = pool.begin().await?;
        let mut changed = Vec::new();
        for (queue, msg_ids) in by_queue {
            let Some(sql) = self.statement(kind, queue, &guard) else {
                anyhow::bail!("{} is not offered on pgmq", kind.name());
            };
            let done: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(msg_ids)
                .fetch_all(&mut *tx)
                .await?;
            changed.extend(done.into_iter().map(|n| JobId::Text(message_id(queue, n))));
        }
        let count = changed.len() as u64;
        kit::commit(tx, step, count, changed, step.ids.len() as u64, step.last).await
    }
}
