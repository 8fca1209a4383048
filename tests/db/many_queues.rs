//! Many small queues: the queue statement reads each live-state index once for all queues,
//! and falls back to per-queue ranges where a pass would be long; the figures agree.

use jobtop::backend::native::NativeBackend;
use jobtop::backend::native::probe::{self, Probe};
use jobtop::backend::river;
use jobtop::backend::{Count, Overview, Reads, SnapshotOptions};

use crate::common;
use crate::common::fixture::RIVER;

const QUEUES: i64 = 2_000;

const OPTS: SnapshotOptions = SnapshotOptions {
    count_cap: 10_000,
    running_by_tenant: false,
    pile_cap: 100,
    estimates: jobtop::backend::pile_estimates::PER_POLL,
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

/// River's fixture and `QUEUES` more queues (registered in `river_queue`), each with one
/// available and two discarded jobs; and one queue whose discarded pile is longer than the
/// one-pass bound.
async fn river_small_queues_and_one_pile(pool: &sqlx::PgPool, pile: i64) {
    common::load(pool, RIVER).await;
    common::exec(
        pool,
        &format!(
            "INSERT INTO river_queue (name) SELECT 'q' || lpad(i::text, 5, '0') \
               FROM generate_series(1, {QUEUES}) i;
             INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at, attempt) \
               SELECT '{{}}', 'available', 'k', 'q' || lpad(i::text, 5, '0'), 1, \
                      now() - interval '5 minutes', 0 \
               FROM generate_series(1, {QUEUES}) i;
             INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at, attempt, \
                                    finalized_at) \
               SELECT '{{}}', 'discarded', 'k', 'q' || lpad(i::text, 5, '0'), 1, \
                      now() - interval '2 hours', 3, now() - interval '90 minutes' \
               FROM generate_series(1, {QUEUES}) i, generate_series(1, 2);
             INSERT INTO river_queue (name) VALUES ('pile');
             INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at, attempt, \
                                    finalized_at) \
               SELECT '{{}}', 'discarded', 'k', 'pile', 1, now() - interval '3 hours', 3, \
                      now() - interval '2 hours' \
               FROM generate_series(1, {pile});
             ANALYZE river_job, river_queue;"
        ),
    )
    .await;
}

#[tokio::test]
async fn river_reads_each_live_state_once_not_27_ranges_per_queue() {
    let db = common::test_db().await;
    river_small_queues_and_one_pile(&db.pool, 0).await;
    let river = river::open(db.pool.clone(), "public").await.unwrap();
    let plan = river.doctor_plan();
    let queues = plan
        .probes
        .iter()
        .find(|p| p.name == "queue counts")
        .unwrap();
    let figures = probe::explain_text(&db.pool, &queues.sql, Some(10_001))
        .await
        .unwrap();
    // The fixture's four queues and the many small ones.
    assert_eq!(figures.rows, QUEUES + 1 + 4);
    // Some 27 ranges a queue cost two buffers each (over 100,000 here). What is left is
    // mostly the queue list, inlined as doctor runs it (the poll reads it every 30 s): a
    // skip scan, a probe per (state, queue) pair.
    assert!(
        figures.buffers() < 10 * QUEUES,
        "{} buffers for {QUEUES} queues",
        figures.buffers()
    );
}

#[tokio::test]
async fn river_counts_a_pile_past_the_bound_per_queue_with_the_same_figures() {
    let db = common::test_db().await;
    let pile = 100 * (QUEUES + 5) + 1_000;
    river_small_queues_and_one_pile(&db.pool, pile).await;
    let river = river::open(db.pool.clone(), "public").await.unwrap();
    let s = river.snapshot(&OPTS).await.unwrap();
    let small = s.queues.iter().find(|q| q.name == "q00042").unwrap();
    assert_eq!(
        (small.ready, small.dead),
        (Count::exact(1), Count::exact(2))
    );
    assert!(small.oldest_ready_at.is_some());
    // The fixture's queue keeps its figures whichever way each state was read.
    let default = s.queues.iter().find(|q| q.name == "default").unwrap();
    assert_eq!(
        [
            default.ready.value,
            default.scheduled.value,
            default.retrying.value,
            default.running.value,
            default.dead.value
        ],
        [5, 3, 2, 2, 2]
    );
    let pile_queue = s.queues.iter().find(|q| q.name == "pile").unwrap();
    assert!(
        pile_queue.dead.estimated || pile_queue.dead.capped,
        "a pile of {pile} past the cap of 100: {:?}",
        pile_queue.dead
    );
}
