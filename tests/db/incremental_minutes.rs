//! The throughput history read incrementally (only the minutes not yet closed) against a
//! real PostgreSQL: it must equal a full re-read of the hour after new completions and
//! failures land in the open minute, and it must really not read closed minutes again.

use sqlx::PgPool;

use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Overview, Snapshot};

use crate::common::{self, exec};
use crate::helpers::{OPTS, enqueue_n};

/// `n` jobs of `queue` enqueued, claimed by worker `w` and returned, as ids.
async fn claimed(pool: &PgPool, queue: &str, n: i32) -> Vec<i64> {
    enqueue_n(pool, queue, n).await;
    sqlx::query_scalar("SELECT id FROM jobtop.claim('w', ARRAY[$1], $2)")
        .bind(queue)
        .bind(n)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn complete(pool: &PgPool, ids: &[i64]) {
    sqlx::query("SELECT jobtop.complete(id, 'w') FROM unnest($1::bigint[]) AS id")
        .bind(ids)
        .execute(pool)
        .await
        .unwrap();
}

async fn fail(pool: &PgPool, ids: &[i64]) {
    sqlx::query("SELECT jobtop.fail(id, 'w', 'boom') FROM unnest($1::bigint[]) AS id")
        .bind(ids)
        .execute(pool)
        .await
        .unwrap();
}

/// Completions and failures in the open minute, in two queues.
async fn activity_now(pool: &PgPool) {
    let ids = claimed(pool, "mail", 5).await;
    complete(pool, &ids[..3]).await;
    fail(pool, &ids[3..]).await;
    let ids = claimed(pool, "sms", 2).await;
    complete(pool, &ids[..1]).await;
    fail(pool, &ids[1..]).await;
}

fn minutes_of(snap: &Snapshot) -> Vec<(String, Vec<(u32, u32)>)> {
    snap.queues
        .iter()
        .map(|q| {
            (
                q.name.clone(),
                q.minutes.iter().map(|m| (m.succeeded, m.failed)).collect(),
            )
        })
        .collect()
}

fn total(snap: &Snapshot) -> (u32, u32) {
    snap.queues
        .iter()
        .flat_map(|q| q.minutes.iter())
        .fold((0, 0), |acc, m| (acc.0 + m.succeeded, acc.1 + m.failed))
}

/// A warm backend's snapshot and a cold one's, taken in the same minute (retried when a
/// minute boundary falls between them).
async fn warm_and_cold(pool: &PgPool, warm: &NativeBackend) -> (Snapshot, Snapshot) {
    for _ in 0..3 {
        let w = warm.snapshot(&OPTS).await.unwrap();
        let c = NativeBackend::new(pool.clone())
            .snapshot(&OPTS)
            .await
            .unwrap();
        if w.db_now.timestamp().div_euclid(60) == c.db_now.timestamp().div_euclid(60) {
            return (w, c);
        }
    }
    panic!("could not take two snapshots within one minute");
}

#[tokio::test]
async fn incremental_minutes_equal_a_full_reread_after_writes_in_the_open_minute() {
    let db = common::test_db().await;
    let pool = &db.pool;
    // History: completions 5 and 20 minutes ago, failures 12 minutes ago.
    let old = claimed(pool, "mail", 6).await;
    complete(pool, &old[..4]).await;
    fail(pool, &old[4..]).await;
    sqlx::query(
        "UPDATE jobtop.jobs SET finished_at = finished_at - interval '5 minutes'
         WHERE id = ANY($1)",
    )
    .bind(&old[..2])
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE jobtop.jobs SET finished_at = finished_at - interval '20 minutes'
         WHERE id = ANY($1)",
    )
    .bind(&old[2..4])
    .execute(pool)
    .await
    .unwrap();
    exec(
        pool,
        "UPDATE jobtop.jobs SET failed_at = failed_at - interval '12 minutes',
            errors = (SELECT jsonb_agg(jsonb_set(e, '{at}',
                        to_jsonb((e ->> 'at')::timestamptz - interval '12 minutes')))
                      FROM jsonb_array_elements(errors) e)
         WHERE failed_at IS NOT NULL",
    )
    .await;

    let warm = NativeBackend::new(pool.clone());
    let first = warm.snapshot(&OPTS).await.unwrap();
    assert_eq!(total(&first), (4, 2));

    activity_now(pool).await;
    let (w, c) = warm_and_cold(pool, &warm).await;
    assert_eq!(total(&c), (8, 5), "the full re-read sees the new activity");
    assert_eq!(minutes_of(&w), minutes_of(&c));

    // Once more, so the second incremental read builds on the first one's cache.
    activity_now(pool).await;
    let (w, c) = warm_and_cold(pool, &warm).await;
    assert_eq!(total(&c), (12, 8));
    assert_eq!(minutes_of(&w), minutes_of(&c));
}

#[tokio::test]
async fn closed_minutes_are_not_read_again() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let ids = claimed(pool, "mail", 3).await;
    complete(pool, &ids).await;
    exec(
        pool,
        "UPDATE jobtop.jobs SET finished_at = finished_at - interval '10 minutes'",
    )
    .await;
    let warm = NativeBackend::new(pool.clone());
    let before = warm.snapshot(&OPTS).await.unwrap();
    assert_eq!(total(&before), (3, 0));

    // A row changed behind the monitor's back in a closed minute: only a full read sees it.
    exec(
        pool,
        "UPDATE jobtop.jobs SET finished_at = finished_at - interval '10 minutes'
         WHERE id = (SELECT min(id) FROM jobtop.jobs)",
    )
    .await;
    let (w, c) = warm_and_cold(pool, &warm).await;
    assert_eq!(total(&w), (3, 0), "the closed minutes came from the cache");
    let moved = |s: &Snapshot| {
        s.queues[0]
            .minutes
            .iter()
            .filter(|m| m.succeeded > 0)
            .count()
    };
    assert_eq!(moved(&w), 1);
    assert_eq!(moved(&c), 2, "the full read sees the job 20 minutes back");

    // Forgetting the cache makes the next read a full one again.
    warm.forget_minutes();
    let again = warm.snapshot(&OPTS).await.unwrap();
    assert_eq!(minutes_of(&again), minutes_of(&c));
}

/// The engine's schemas read their history the same way: River's closed minutes come from
/// the cache on the next poll (a completion slipped 20 minutes back is not seen), the open
/// minute is read again, and the minutes carry each job's kind, so the per-kind failure
/// rule can be evaluated.
#[tokio::test]
async fn river_reads_closed_minutes_once_and_by_kind() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::RIVER).await;
    exec(pool, "DELETE FROM river_job").await;
    let finish = |kind: &str, state: &str, ago_minutes: i32| {
        format!(
            "INSERT INTO river_job (state, kind, queue, attempt, attempted_at, finalized_at, args, errors) \
             VALUES ('{state}', '{kind}', 'default', 1, now(), now() - interval '{ago_minutes} minutes', '{{}}', \
               CASE WHEN '{state}' = 'discarded' THEN ARRAY[jsonb_build_object('at', \
                 now() - interval '{ago_minutes} minutes', 'attempt', 1, 'error', 'boom')] \
               ELSE '{{}}'::jsonb[] END)"
        )
    };
    exec(pool, &finish("mail", "completed", 10)).await;
    exec(pool, &finish("sms", "discarded", 10)).await;
    let river = jobtop::backend::river::open(pool.clone(), "public")
        .await
        .unwrap();
    let first = river.snapshot(&OPTS).await.unwrap();
    assert_eq!(total(&first), (1, 1));
    let kinds: Vec<_> = first.queues[0]
        .kinds
        .as_ref()
        .expect("per-kind figures")
        .iter()
        .map(|k| (k.kind.as_str(), k.succeeded, k.failed))
        .collect();
    assert_eq!(kinds, [("mail", 1, 0), ("sms", 0, 1)]);

    exec(pool, &finish("mail", "completed", 20)).await;
    exec(pool, &finish("mail", "completed", 0)).await;
    let second = river.snapshot(&OPTS).await.unwrap();
    assert_eq!(
        total(&second),
        (2, 1),
        "the closed minute 20 back is not read again"
    );
    let fresh = jobtop::backend::river::open(pool.clone(), "public")
        .await
        .unwrap()
        .snapshot(&OPTS)
        .await
        .unwrap();
    assert_eq!(total(&fresh), (3, 1), "a new monitor reads the whole hour");
}
