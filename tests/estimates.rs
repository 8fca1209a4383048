//! A dead-letter pile past the count cap is shown as the planner's estimate ("~3k"), which the
//! schema's (queue, state) statistics keep close to the truth even when the pile sits in one
//! queue.

mod common;

use sqlx::PgPool;

use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Backend, Count, Snapshot, SnapshotOptions};

async fn exec(pool: &PgPool, sql: &'static str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

fn dead(snap: &Snapshot, queue: &str) -> Count {
    snap.queues.iter().find(|q| q.name == queue).unwrap().dead
}

#[tokio::test]
async fn dead_piles_past_the_cap_show_the_planners_estimate() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(
        pool,
        "INSERT INTO jobtop.queues (name) VALUES ('webhooks'), ('mail')",
    )
    .await;
    // 3,000 dead in one queue; the other has 20 dead among 3,000 succeeded. Counted column
    // by column, half of each queue would look dead.
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'webhooks', 'hook.deliver', 'dead', now() FROM generate_series(1, 3000)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'mail', 'mail.send', CASE WHEN g <= 20 THEN 'dead' ELSE 'succeeded' END::jobtop.job_state,
                now() - interval '2 hours'
         FROM generate_series(1, 3020) g",
    )
    .await;
    exec(pool, "ANALYZE jobtop.jobs").await;

    let snap = NativeBackend::new(pool.clone())
        .snapshot(&SnapshotOptions { count_cap: 100 })
        .await
        .unwrap();
    let webhooks = dead(&snap, "webhooks");
    assert!(webhooks.estimated && !webhooks.capped, "{webhooks:?}");
    assert!(
        (2850..=3150).contains(&webhooks.value),
        "within 5% of 3,000: {webhooks:?}"
    );
    assert_eq!(
        dead(&snap, "mail"),
        Count::exact(20),
        "under the cap: counted"
    );

    let snap = NativeBackend::new(pool.clone())
        .snapshot(&SnapshotOptions { count_cap: 10 })
        .await
        .unwrap();
    let mail = dead(&snap, "mail");
    assert!(mail.estimated, "{mail:?}");
    assert!((15..=25).contains(&mail.value), "about 20: {mail:?}");
}
