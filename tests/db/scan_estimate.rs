//! A job list past its count cap carries the planner's estimate of its jobs
//! (`JobPage::scope_estimate`), which `/` judges a large read by: on the reference schema
//! and on a foreign one, a queue of 30,000 ready jobs (counted "10000+") is estimated near
//! 30,000 once analyzed, and a small list carries no estimate.

use jobtop::backend::drill::{JobQuery, JobScope, ListFilter, Order};
use jobtop::backend::native::NativeBackend;
use jobtop::backend::{JobState, Reads};

use crate::common::fixture::RIVER;
use crate::common::{self, exec};

fn ready(queue: &str) -> JobQuery {
    JobQuery {
        scope: JobScope::Queue {
            queue: queue.into(),
            state: JobState::Ready,
        },
        filter: ListFilter::default(),
        order: Order::OldestFirst,
        after: None,
        limit: 10,
    }
}

/// The estimate is the planner's, near the 30,000 jobs; the count stopped at its cap.
async fn estimated(backend: &dyn Reads, big: &str, small: &str) {
    let page = backend.jobs(&ready(big)).await.unwrap();
    assert!(page.scope_count.capped, "{:?}", page.scope_count);
    let rows = page.scope_estimate.expect("an estimate past the cap");
    assert!((27_000..=33_000).contains(&rows), "{rows}");
    let page = backend.jobs(&ready(small)).await.unwrap();
    assert!(!page.scope_count.capped);
    assert_eq!(page.scope_estimate, None);
}

#[tokio::test]
async fn the_reference_schema_estimates_a_list_past_its_cap() {
    let db = common::test_db().await;
    exec(
        &db.pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, run_at) \
         SELECT 'bulk', 'import.row', 'queued', now() - interval '1 minute' \
         FROM generate_series(1, 30000); \
         INSERT INTO jobtop.jobs (queue, kind, state, run_at) \
         SELECT 'small', 'import.row', 'queued', now() - interval '1 minute' \
         FROM generate_series(1, 20); \
         ANALYZE jobtop.jobs;",
    )
    .await;
    estimated(&NativeBackend::new(db.pool.clone()), "bulk", "small").await;
}

#[tokio::test]
async fn a_foreign_schema_estimates_a_list_past_its_cap() {
    let db = common::test_db().await;
    exec(&db.pool, RIVER).await;
    exec(
        &db.pool,
        "INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at) \
         SELECT '{}', 'available', 'import.row', 'bulk', 1, now() - interval '1 minute' \
         FROM generate_series(1, 30000); \
         ANALYZE river_job;",
    )
    .await;
    let river = jobtop::backend::river::open(db.pool.clone(), "public")
        .await
        .unwrap();
    estimated(&river, "bulk", "default").await;
}
