//! The engine's queue list on its slower clock (`engine::queue_list`): enumerating every
//! (state, queue) pair over the finished jobs on each poll was the largest cost of a River
//! poll, so the list is read every `QUEUE_LIST_EVERY`, and at once after an action or when
//! a poll sees jobs of a queue it lacks; the queues River's clients register show at once.

use jobtop::backend::gate::Gate;
use jobtop::backend::river;
use jobtop::backend::{Action, Backend, JobState, Overview};

use crate::common::{self, exec};
use crate::helpers::{OPTS, matching, run};

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

async fn jobforge(pool: &sqlx::PgPool) -> jobtop::backend::engine::foreign::Foreign {
    jobtop::backend::mapped::open(
        pool.clone(),
        jobtop::backend::mapped::Profile::shipped("jobforge").unwrap(),
        None,
    )
    .await
    .unwrap()
}

/// The jobforge profile's list is the types of every live job (55k of a poll's 69k buffers
/// at 10 M rows): read on the slower clock, and at once after anyone's action.
#[tokio::test]
async fn a_profile_reads_its_queue_list_on_the_slower_clock_and_again_after_an_action() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::JOBFORGE).await;
    let monitor = jobforge(pool).await;
    let first = monitor.snapshot(&OPTS).await.unwrap();
    assert_eq!(
        names(&first),
        ["connector.http.request", "system.cleanup.old_jobs"]
    );
    assert_eq!(monitor.caches.queue_list.reads(), 1);

    exec(
        pool,
        "INSERT INTO jobforge_jobs (tenant_id, type, status) VALUES ('t', 'fresh.type', 'queued')",
    )
    .await;
    let cached = monitor.snapshot(&OPTS).await.unwrap();
    assert_eq!(names(&cached), names(&first), "the list is kept");
    assert_eq!(
        monitor.caches.queue_list.reads(),
        1,
        "the list is not read on every poll"
    );

    // Another monitor's action (its audit row) makes the list due.
    let gate = Gate::with_actor(Backend::new(jobforge(pool).await), false, "test".into());
    let plan = gate
        .plan(&Action::Retry(matching(
            "connector.http.request",
            JobState::Dead,
        )))
        .await
        .unwrap();
    assert!(run(&gate, &plan).await.changed > 0);
    let after = monitor.snapshot(&OPTS).await.unwrap();
    assert_eq!(monitor.caches.queue_list.reads(), 2);
    let fresh = after.queues.iter().find(|q| q.name == "fresh.type");
    assert_eq!(fresh.map(|q| q.ready.value), Some(1), "{:?}", names(&after));
    monitor.snapshot(&OPTS).await.unwrap();
    assert_eq!(monitor.caches.queue_list.reads(), 2, "then kept again");
}

/// A poll that sees jobs of a queue the list lacks (here its completions) reads the list
/// on the next poll, not 30 s later.
#[tokio::test]
async fn a_queue_seen_in_the_completions_is_listed_on_the_next_poll() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::RIVER).await;
    let backend = river::open(pool.clone(), "public").await.unwrap();
    backend.snapshot(&OPTS).await.unwrap();
    exec(
        pool,
        "INSERT INTO river_job (state, kind, queue, args, attempted_at, finalized_at) \
         VALUES ('completed', 'k', 'finished-only', '{}', now(), now())",
    )
    .await;
    let saw = backend.snapshot(&OPTS).await.unwrap();
    assert!(!names(&saw).contains(&"finished-only"));
    assert_eq!(backend.caches.queue_list.reads(), 1);
    let next = backend.snapshot(&OPTS).await.unwrap();
    assert!(
        names(&next).contains(&"finished-only"),
        "{:?}",
        names(&next)
    );
    assert_eq!(backend.caches.queue_list.reads(), 2);
    backend.snapshot(&OPTS).await.unwrap();
    assert_eq!(backend.caches.queue_list.reads(), 2, "then kept again");
}
