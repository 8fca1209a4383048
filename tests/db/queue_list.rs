//! The engine's queue list on its slower clock: enumerating every (state, queue) pair over
//! the finished jobs on each poll was the largest cost of a River poll, so the list is read
//! every `QUEUE_LIST_EVERY`; the queues River's clients register show at once.

use jobtop::backend::Overview;
use jobtop::backend::river;

use crate::common::{self, exec};
use crate::helpers::OPTS;

fn names(s: &jobtop::backend::Snapshot) -> Vec<&str> {
    s.queues.iter().map(|q| q.name.as_str()).collect()
}

#[tokio::test]
async fn river_lists_queues_on_the_slower_clock_and_registered_ones_at_once() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::RIVER).await;
    let backend = river::open(pool.clone(), "public").await.unwrap();
    let before = backend.snapshot(&OPTS).await.unwrap();
    assert!(!names(&before).contains(&"fresh"));

    exec(
        pool,
        "INSERT INTO river_job (state, kind, queue, args) VALUES ('available', 'k', 'fresh', '{}')",
    )
    .await;
    let cached = backend.snapshot(&OPTS).await.unwrap();
    assert_eq!(
        names(&cached),
        names(&before),
        "the list is not read on every poll"
    );

    // A client that starts working the queue registers it: shown on the next poll.
    exec(
        pool,
        "INSERT INTO river_queue (name, metadata, created_at, updated_at) \
         VALUES ('fresh', '{}', now(), now())",
    )
    .await;
    let registered = backend.snapshot(&OPTS).await.unwrap();
    let fresh = registered
        .queues
        .iter()
        .find(|q| q.name == "fresh")
        .unwrap();
    assert_eq!(fresh.ready.value, 1);

    // Unregistered queues arrive with the next read of the list.
    exec(
        pool,
        "INSERT INTO river_job (state, kind, queue, args) VALUES ('available', 'k', 'later', '{}')",
    )
    .await;
    backend.caches.forget_queue_names();
    let listed = backend.snapshot(&OPTS).await.unwrap();
    assert!(names(&listed).contains(&"later"), "{:?}", names(&listed));
}
