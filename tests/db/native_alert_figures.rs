//! The snapshot figures the alert rules need beyond the overview's: the longest-running job
//! per queue, new dead jobs of the last hour, per-kind totals of the hour and running jobs
//! per tenant, against a real PostgreSQL.

use chrono::Duration;
use sqlx::PgPool;

use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Count, KindOutcomes, Overview, Snapshot, SnapshotOptions, TenantRunning};

use crate::common;
use crate::helpers::{db_now, queue};

async fn enqueue(pool: &PgPool, queue: &str, kind: &str, tenant: Option<&str>, max: i32) -> i64 {
    sqlx::query_scalar(
        "SELECT jobtop.enqueue(queue => $1, kind => $2, tenant_id => $3, max_attempts => $4)",
    )
    .bind(queue)
    .bind(kind)
    .bind(tenant)
    .bind(max)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn claim_one(pool: &PgPool, worker: &str, queue: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM jobtop.claim($1, ARRAY[$2], 1)")
        .bind(worker)
        .bind(queue)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn exec(pool: &PgPool, sql: &'static str, id: i64) {
    sqlx::query(sql).bind(id).execute(pool).await.unwrap();
}

async fn snapshot(pool: &PgPool, running_by_tenant: bool) -> Snapshot {
    NativeBackend::new(pool.clone())
        .snapshot(&SnapshotOptions {
            count_cap: 10_000,
            running_by_tenant,
            pile_cap: 10_000,
            estimates: jobtop::backend::pile_estimates::PER_POLL,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn longest_running_job_per_queue() {
    let db = common::test_db().await;
    let pool = &db.pool;
    for _ in 0..3 {
        enqueue(pool, "slow", "crunch", None, 5).await;
    }
    enqueue(pool, "idle", "crunch", None, 5).await;
    let first = claim_one(pool, "w", "slow").await;
    let second = claim_one(pool, "w", "slow").await;
    exec(
        pool,
        "UPDATE jobtop.jobs SET started_at = now() - interval '2 hours' WHERE id = $1",
        first,
    )
    .await;
    exec(
        pool,
        "UPDATE jobtop.jobs SET started_at = now() - interval '3 minutes' WHERE id = $1",
        second,
    )
    .await;
    let now = db_now(pool).await;

    let snap = snapshot(pool, false).await;
    let slow = queue(&snap, "slow");
    let age = slow.longest_running(snap.db_now).unwrap();
    assert!(
        (age - Duration::hours(2)).num_seconds().abs() <= 1,
        "longest running {age}"
    );
    assert!(slow.oldest_running_started_at.unwrap() <= now - Duration::hours(2));
    assert_eq!(queue(&snap, "idle").oldest_running_started_at, None);

    // When the old one ends, the next one is the longest.
    exec(pool, "SELECT jobtop.complete($1, 'w')", first).await;
    let snap = snapshot(pool, false).await;
    let age = queue(&snap, "slow").longest_running(snap.db_now).unwrap();
    assert!(
        (age - Duration::minutes(3)).num_seconds().abs() <= 1,
        "{age}"
    );
}

#[tokio::test]
async fn dead_jobs_of_the_last_hour_and_per_kind_totals() {
    let db = common::test_db().await;
    let pool = &db.pool;
    // Three jobs die (one attempt each), one of them two hours ago.
    let mut dead = Vec::new();
    for _ in 0..3 {
        let id = enqueue(pool, "mail", "send", None, 1).await;
        assert_eq!(claim_one(pool, "w", "mail").await, id);
        exec(pool, "SELECT jobtop.fail($1, 'w', 'smtp down')", id).await;
        dead.push(id);
    }
    exec(
        pool,
        "UPDATE jobtop.jobs SET finished_at = now() - interval '2 hours',
                failed_at = now() - interval '2 hours',
                errors = jsonb_set(errors, '{0,at}', to_jsonb(now() - interval '2 hours'))
         WHERE id = $1",
        dead[0],
    )
    .await;
    // "digest": two succeed; one fails once and is retrying.
    for _ in 0..2 {
        let id = enqueue(pool, "mail", "digest", None, 5).await;
        assert_eq!(claim_one(pool, "w", "mail").await, id);
        exec(pool, "SELECT jobtop.complete($1, 'w')", id).await;
    }
    let id = enqueue(pool, "mail", "digest", None, 5).await;
    assert_eq!(claim_one(pool, "w", "mail").await, id);
    exec(
        pool,
        "SELECT jobtop.fail($1, 'w', 'timeout', interval '1 hour')",
        id,
    )
    .await;
    // Another queue, nothing ended: no kinds.
    enqueue(pool, "quiet", "noop", None, 5).await;

    let snap = snapshot(pool, false).await;
    let mail = queue(&snap, "mail");
    assert_eq!(mail.dead, Count::exact(3));
    assert_eq!(mail.dead_last_hour, Some(Count::exact(2)));
    assert_eq!(
        mail.kinds.as_deref(),
        Some(
            &[
                KindOutcomes {
                    kind: "digest".into(),
                    succeeded: 2,
                    failed: 1
                },
                // The failure two hours ago is outside the window.
                KindOutcomes {
                    kind: "send".into(),
                    succeeded: 0,
                    failed: 2
                },
            ][..]
        )
    );
    // The per-kind totals and the per-minute buckets come from the same rows.
    assert_eq!(mail.window_totals(), (2, 3));
    let quiet = queue(&snap, "quiet");
    assert_eq!(quiet.dead_last_hour, Some(Count::exact(0)));
    assert_eq!(quiet.kinds.as_deref(), Some(&[][..]));
}

#[tokio::test]
async fn running_jobs_per_tenant_only_when_asked() {
    let db = common::test_db().await;
    let pool = &db.pool;
    for tenant in [Some("acme"), Some("acme"), Some("beta"), None, Some("beta")] {
        enqueue(pool, "t", "work", tenant, 5).await;
    }
    for _ in 0..4 {
        claim_one(pool, "w", "t").await;
    }
    let snap = snapshot(pool, false).await;
    assert_eq!(snap.running_by_tenant, None);

    let snap = snapshot(pool, true).await;
    assert_eq!(
        snap.running_by_tenant,
        Some(vec![
            TenantRunning {
                tenant: Some("acme".into()),
                running: 2
            },
            TenantRunning {
                tenant: Some("beta".into()),
                running: 1
            },
            TenantRunning {
                tenant: None,
                running: 1
            },
        ])
    );
}
