//! Many small queues: the queue statement reads each live-state index once for all queues,
//! and falls back to per-queue ranges where a pass would be long; the figures agree.

use jobtop::backend::native::NativeBackend;
use jobtop::backend::native::probe::{self, Probe};
use jobtop::backend::{Count, Overview, SnapshotOptions};

use crate::common;

const QUEUES: i64 = 2_000;

const OPTS: SnapshotOptions = SnapshotOptions {
    count_cap: 10_000,
    running_by_tenant: false,
    pile_cap: 100,
};

/// `QUEUES` queues, each with one ready and two dead jobs (the shape), and one
/// queue whose dead pile is longer than the one-pass bound.
async fn small_queues_and_one_pile(pool: &sqlx::PgPool, pile: i64) {
    common::exec(
        pool,
        &format!(
            "INSERT INTO jobtop.queues (name) SELECT 'q' || lpad(i::text, 5, '0') \
               FROM generate_series(1, {QUEUES}) i;
             INSERT INTO jobtop.jobs (queue, kind, state, run_at) \
               SELECT 'q' || lpad(i::text, 5, '0'), 'k', 'queued', now() - interval '5 minutes' \
               FROM generate_series(1, {QUEUES}) i;
             INSERT INTO jobtop.jobs (queue, kind, state, attempts, run_at, finished_at) \
               SELECT 'q' || lpad(i::text, 5, '0'), 'k', 'dead', 5, now() - interval '2 hours', \
                      now() - interval '30 minutes' \
               FROM generate_series(1, {QUEUES}) i, generate_series(1, 2);
             INSERT INTO jobtop.queues (name) VALUES ('pile');
             INSERT INTO jobtop.jobs (queue, kind, state, attempts, run_at, finished_at) \
               SELECT 'pile', 'k', 'dead', 5, now() - interval '3 hours', now() - interval '2 hours' \
               FROM generate_series(1, {pile});
             ANALYZE jobtop.jobs, jobtop.queues;"
        ),
    )
    .await;
}

#[tokio::test]
async fn the_queue_statement_costs_a_few_buffers_not_twenty_per_queue() {
    let db = common::test_db().await;
    small_queues_and_one_pile(&db.pool, 0).await;
    let figures = probe::explain(&db.pool, &Probe::Queues { cap: 10_000 })
        .await
        .unwrap();
    assert_eq!(figures.rows, QUEUES + 1);
    // Ten index ranges a queue cost 20 buffers a queue (40,000 here); one pass over each
    // index, a few hundred.
    assert!(
        figures.buffers() < QUEUES,
        "{} buffers for {QUEUES} queues",
        figures.buffers()
    );
}

#[tokio::test]
async fn a_pile_past_the_one_pass_bound_is_counted_per_queue_with_the_same_figures() {
    let db = common::test_db().await;
    // The bound is 100 rows a queue + 1,000: this dead index holds more.
    let pile = 100 * (QUEUES + 1) + 1_000;
    small_queues_and_one_pile(&db.pool, pile).await;
    let backend = NativeBackend::new(db.pool.clone());
    let snapshot = backend.snapshot(&OPTS).await.unwrap();
    assert_eq!(snapshot.queues.len() as i64, QUEUES + 1);
    let small = snapshot.queues.iter().find(|q| q.name == "q00042").unwrap();
    assert_eq!(
        (small.ready, small.dead, small.dead_last_hour),
        (Count::exact(1), Count::exact(2), Some(Count::exact(2)))
    );
    assert!(small.oldest_ready_at.is_some());
    let pile_queue = snapshot.queues.iter().find(|q| q.name == "pile").unwrap();
    assert_eq!(pile_queue.ready, Count::exact(0));
    assert_eq!(pile_queue.dead_last_hour, Some(Count::exact(0)));
    // Past the pile cap: estimated (or capped), never the 100 a count stops at, as exact.
    assert!(
        pile_queue.dead.estimated || pile_queue.dead.capped,
        "a pile of {pile} past the cap of 100: {:?}",
        pile_queue.dead
    );
}
