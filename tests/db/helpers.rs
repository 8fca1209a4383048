//! What several modules of this binary need alike: the snapshot options of the tests that
//! read whole snapshots, an action run through the gate to its end, the database's clock,
//! the audit table's size, a queue's figures in a snapshot, and jobs enqueued in bulk.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use jobtop::backend::gate::{Gate, StopFlag};
use jobtop::backend::{
    ActionOutcome, JobFilter, JobState, JobTarget, PILE_CAP, Plan, QueueStats, Snapshot,
    SnapshotOptions,
};

/// Counts exact up to 10,000, piles to the usual cap, no running jobs per tenant.
pub const OPTS: SnapshotOptions = SnapshotOptions {
    count_cap: 10_000,
    running_by_tenant: false,
    pile_cap: PILE_CAP,
    estimates: jobtop::backend::pile_estimates::PER_POLL,
};

/// A stop flag nobody raises.
pub fn no_stop() -> StopFlag {
    Arc::new(AtomicBool::new(false))
}

/// Runs `plan` through the gate, every batch, and returns what it did.
pub async fn run(gate: &Gate, plan: &Plan) -> ActionOutcome {
    gate.execute(plan, &no_stop(), &mut |_| {}).await.unwrap()
}

/// Every job of `queue` in `state`, with no limit.
pub fn matching(queue: &str, state: JobState) -> JobTarget {
    JobTarget::Matching {
        filter: JobFilter::queue(queue, state),
        limit: None,
    }
}

/// The database's `now()`.
pub async fn db_now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many rows jobtop.audit holds.
pub async fn audit_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobtop.audit")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `queue`'s figures in `snap`; panics when the snapshot has no such queue.
pub fn queue<'a>(snap: &'a Snapshot, name: &str) -> &'a QueueStats {
    snap.queues
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("queue {name} missing from the snapshot"))
}

/// `queue`'s ready jobs in `snap`, 0 when the snapshot has no such queue.
pub fn ready(snap: &Snapshot, queue: &str) -> i64 {
    snap.queues
        .iter()
        .find(|q| q.name == queue)
        .map_or(0, |q| q.ready.value)
}

/// `n` jobs of kind `k` enqueued in `queue` with one statement.
pub async fn enqueue_n(pool: &PgPool, queue: &str, n: i32) {
    sqlx::query("SELECT jobtop.enqueue($1, 'k') FROM generate_series(1, $2)")
        .bind(queue)
        .bind(n)
        .execute(pool)
        .await
        .unwrap();
}

/// A `hook.post` job of queue `webhooks` that worker `w` took and failed with `error`: one
/// failed attempt, retrying. Its id.
pub async fn failed_webhook(pool: &PgPool, error: &str) -> i64 {
    let id: i64 = sqlx::query_scalar("SELECT jobtop.enqueue('webhooks', 'hook.post')")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("SELECT jobtop.claim('w', ARRAY['webhooks'], 1)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT jobtop.fail($1, 'w', $2)")
        .bind(id)
        .bind(error)
        .execute(pool)
        .await
        .unwrap();
    id
}
