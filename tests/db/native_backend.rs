//! The reference schema's SQL functions and the native backend's snapshot, against a real
//! PostgreSQL: fixtures are built through the SQL functions, then timestamps are moved
//! directly where a test needs the past.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::{PgPool, Row};

use jobtop::backend::native::{NativeBackend, migrate};
use jobtop::backend::{Count, Overview, Snapshot, SnapshotOptions};

use crate::common;
use crate::helpers::{db_now, queue};

/// Every count exact up to 10,000 (scheduled and dead too: no estimates here).
const BIG_CAP: SnapshotOptions = SnapshotOptions {
    count_cap: 10_000,
    running_by_tenant: false,
    pile_cap: 10_000,
    estimates: jobtop::backend::pile_estimates::PER_POLL,
};

async fn enqueue(pool: &PgPool, queue: &str) -> i64 {
    sqlx::query_scalar("SELECT jobtop.enqueue($1, 'task')")
        .bind(queue)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn enqueue_at(pool: &PgPool, queue: &str, run_at: DateTime<Utc>) -> i64 {
    sqlx::query_scalar("SELECT jobtop.enqueue(queue => $1, kind => 'task', run_at => $2)")
        .bind(queue)
        .bind(run_at)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn enqueue_with(pool: &PgPool, queue: &str, priority: i16, max_attempts: i32) -> i64 {
    sqlx::query_scalar(
        "SELECT jobtop.enqueue(queue => $1, kind => 'task', priority => $2, max_attempts => $3)",
    )
    .bind(queue)
    .bind(priority)
    .bind(max_attempts)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn enqueue_many(pool: &PgPool, queue: &str, n: usize) {
    for _ in 0..n {
        enqueue(pool, queue).await;
    }
}

async fn register(pool: &PgPool, worker: &str, queues: &[&str]) {
    sqlx::query("SELECT jobtop.register_worker($1, 'host-1', 4242, $2, '1.0')")
        .bind(worker)
        .bind(queues.iter().map(|q| q.to_string()).collect::<Vec<_>>())
        .execute(pool)
        .await
        .unwrap();
}

/// Claimed job ids, in the order claim() returned them.
async fn claim(pool: &PgPool, worker: &str, queues: &[&str], n: i32) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM jobtop.claim($1, $2, $3)")
        .bind(worker)
        .bind(queues.iter().map(|q| q.to_string()).collect::<Vec<_>>())
        .bind(n)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn fail(pool: &PgPool, id: i64, worker: &str, retry_in_secs: Option<f64>) -> Option<String> {
    sqlx::query_scalar("SELECT jobtop.fail($1, $2, 'boom ' || $1, make_interval(secs => $3))::text")
        .bind(id)
        .bind(worker)
        .bind(retry_in_secs)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn complete(pool: &PgPool, id: i64, worker: &str) -> bool {
    sqlx::query_scalar("SELECT jobtop.complete($1, $2)")
        .bind(id)
        .bind(worker)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Makes a job due now, as if its backoff had passed.
async fn make_due(pool: &PgPool, id: i64) {
    sqlx::query("UPDATE jobtop.jobs SET run_at = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

async fn snapshot(pool: &PgPool, opts: SnapshotOptions) -> Snapshot {
    NativeBackend::new(pool.clone())
        .snapshot(&opts)
        .await
        .unwrap()
}

struct JobRow {
    state: String,
    attempts: i32,
    run_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    locked_by: Option<String>,
    last_error: Option<String>,
    errors: Value,
}

async fn job(pool: &PgPool, id: i64) -> JobRow {
    let row = sqlx::query(
        "SELECT state::text AS state, attempts, run_at, finished_at, failed_at, locked_by,
                last_error, errors
         FROM jobtop.jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    JobRow {
        state: row.get("state"),
        attempts: row.get("attempts"),
        run_at: row.get("run_at"),
        finished_at: row.get("finished_at"),
        failed_at: row.get("failed_at"),
        locked_by: row.get("locked_by"),
        last_error: row.get("last_error"),
        errors: row.get("errors"),
    }
}

fn secs(d: Duration) -> f64 {
    d.num_microseconds().unwrap() as f64 / 1e6
}

#[tokio::test]
async fn snapshot_counts_every_display_bucket() {
    let db = common::test_db().await;
    let pool = &db.pool;
    register(pool, "w1", &["mail"]).await;

    // Two jobs fail and back off for an hour: retrying.
    enqueue_many(pool, "mail", 2).await;
    for id in claim(pool, "w1", &["mail"], 2).await {
        assert_eq!(
            fail(pool, id, "w1", Some(3600.0)).await.as_deref(),
            Some("retrying")
        );
    }
    // One job with a single attempt fails: dead.
    enqueue_with(pool, "mail", 0, 1).await;
    let ids = claim(pool, "w1", &["mail"], 1).await;
    assert_eq!(
        fail(pool, ids[0], "w1", None).await.as_deref(),
        Some("dead")
    );
    // One succeeds: counted nowhere live.
    enqueue(pool, "mail").await;
    let ids = claim(pool, "w1", &["mail"], 1).await;
    assert!(complete(pool, ids[0], "w1").await);
    // One is cancelled: counted nowhere live either.
    let cancelled = enqueue(pool, "mail").await;
    sqlx::query("UPDATE jobtop.jobs SET state = 'cancelled', finished_at = now() WHERE id = $1")
        .bind(cancelled)
        .execute(pool)
        .await
        .unwrap();
    // Two are running.
    enqueue_many(pool, "mail", 2).await;
    assert_eq!(claim(pool, "w1", &["mail"], 2).await.len(), 2);
    // A failed job whose backoff is over is ready again, not retrying.
    enqueue_with(pool, "mail", 10, 5).await;
    let ids = claim(pool, "w1", &["mail"], 1).await;
    assert_eq!(
        fail(pool, ids[0], "w1", Some(0.0)).await.as_deref(),
        Some("retrying")
    );
    // Three ready (the oldest due ten minutes ago), two scheduled.
    let now = db_now(pool).await;
    let oldest = now - Duration::minutes(10);
    enqueue_at(pool, "mail", oldest).await;
    enqueue_at(pool, "mail", now - Duration::minutes(1)).await;
    enqueue(pool, "mail").await;
    enqueue_at(pool, "mail", now + Duration::hours(1)).await;
    enqueue_at(pool, "mail", now + Duration::minutes(5)).await;
    // A queue whose only job is done shows zeros.
    enqueue(pool, "idle").await;
    let ids = claim(pool, "w1", &["idle"], 1).await;
    assert!(complete(pool, ids[0], "w1").await);

    let snap = snapshot(pool, BIG_CAP).await;
    assert_eq!(
        snap.queues
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["idle", "mail"]
    );
    let mail = queue(&snap, "mail");
    assert_eq!(mail.ready, Count::exact(4));
    assert_eq!(mail.scheduled, Count::exact(2));
    assert_eq!(mail.running, Count::exact(2));
    assert_eq!(mail.retrying, Count::exact(2));
    assert_eq!(mail.dead, Count::exact(1));
    assert_eq!(mail.paused, None);
    assert_eq!(mail.oldest_ready_at, Some(oldest));
    let age = secs(mail.oldest_ready_age(snap.db_now).unwrap());
    assert!((age - 600.0).abs() < 1.0, "oldest ready age {age}s");

    let idle = queue(&snap, "idle");
    for c in [
        idle.ready,
        idle.scheduled,
        idle.running,
        idle.retrying,
        idle.dead,
    ] {
        assert_eq!(c, Count::exact(0));
    }
    assert_eq!(idle.oldest_ready_at, None);

    assert_eq!(snap.workers.len(), 1);
    let w1 = &snap.workers[0];
    assert_eq!(w1.id, "w1");
    assert_eq!(w1.host.as_deref(), Some("host-1"));
    assert_eq!(w1.pid, Some(4242));
    assert_eq!(w1.queues, ["mail"]);
    assert_eq!(w1.running_jobs, 2);
    assert_eq!(snap.count_cap, 10_000);
    let lag = secs(db_now(pool).await - snap.db_now);
    assert!((0.0..5.0).contains(&lag), "db_now is {lag}s behind");
}

#[tokio::test]
async fn snapshot_of_an_empty_schema() {
    let db = common::test_db().await;
    let before = db_now(&db.pool).await;
    let snap = snapshot(&db.pool, BIG_CAP).await;
    assert!(snap.queues.is_empty());
    assert!(snap.workers.is_empty());
    assert!(snap.db_now >= before);
}

#[tokio::test]
async fn counts_stop_at_the_cap() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let now = db_now(pool).await;
    // ready: 3 queued + 3 retrying, each under the cap but 6 together.
    for _ in 0..3 {
        enqueue_at(pool, "bulk", now - Duration::minutes(2)).await;
    }
    for priority in 5..8 {
        // Each one outranks the earlier ones, which are ready again after failing.
        let id = enqueue_with(pool, "bulk", priority, 5).await;
        assert_eq!(claim(pool, "w", &["bulk"], 1).await, [id]);
        fail(pool, id, "w", Some(0.0)).await;
    }
    // running: exactly the cap. Claim before the rest exists, so nothing else is taken.
    enqueue_many(pool, "hot", 5).await;
    assert_eq!(claim(pool, "w", &["hot"], 10).await.len(), 5);
    // retrying: 7 backing off.
    enqueue_many(pool, "hot", 7).await;
    for id in claim(pool, "w", &["hot"], 7).await {
        fail(pool, id, "w", Some(600.0)).await;
    }
    // dead: 6.
    for _ in 0..6 {
        enqueue_with(pool, "hot", 0, 1).await;
    }
    for id in claim(pool, "w", &["hot"], 6).await {
        assert_eq!(fail(pool, id, "w", None).await.as_deref(), Some("dead"));
    }
    // scheduled: 9.
    for i in 0..9 {
        enqueue_at(pool, "hot", now + Duration::minutes(10 + i)).await;
    }

    let cap = SnapshotOptions {
        count_cap: 5,
        ..BIG_CAP
    };
    let snap = snapshot(pool, cap).await;
    assert_eq!(snap.count_cap, 5);
    let at_cap = Count::capped_at(6, 5);
    assert_eq!(
        at_cap,
        Count {
            value: 5,
            capped: true,
            estimated: false
        }
    );
    let bulk = queue(&snap, "bulk");
    assert_eq!(bulk.ready, at_cap);
    let hot = queue(&snap, "hot");
    assert_eq!(hot.running, Count::exact(5));
    assert_eq!(hot.retrying, at_cap);
    assert_eq!(hot.dead, at_cap);
    assert_eq!(hot.scheduled, at_cap);
    assert_eq!(hot.ready, Count::exact(0));

    // With a large cap the same data is exact.
    let snap = snapshot(pool, BIG_CAP).await;
    assert_eq!(queue(&snap, "bulk").ready, Count::exact(6));
    let hot = queue(&snap, "hot");
    assert_eq!(hot.retrying, Count::exact(7));
    assert_eq!(hot.dead, Count::exact(6));
    assert_eq!(hot.scheduled, Count::exact(9));
}

#[tokio::test]
async fn stale_and_unregistered_workers_show_the_jobs_they_hold() {
    let db = common::test_db().await;
    let pool = &db.pool;
    register(pool, "live", &["a"]).await;
    register(pool, "stale", &["a", "b"]).await;
    register(pool, "gone", &["a"]).await;
    register(pool, "gone-holding", &["a"]).await;
    enqueue_many(pool, "a", 5).await;
    assert_eq!(claim(pool, "stale", &["a"], 2).await.len(), 2);
    assert_eq!(claim(pool, "gone-holding", &["a"], 1).await.len(), 1);
    assert_eq!(claim(pool, "ghost", &["a"], 1).await.len(), 1);
    sqlx::query(
        "UPDATE jobtop.workers SET last_heartbeat_at = now() - interval '10 minutes'
         WHERE id = 'stale'",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE jobtop.workers SET last_heartbeat_at = now() - interval '2 days'
         WHERE id IN ('gone', 'gone-holding')",
    )
    .execute(pool)
    .await
    .unwrap();

    let snap = snapshot(pool, BIG_CAP).await;
    let ids: Vec<&str> = snap.workers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["ghost", "gone-holding", "live", "stale"]);
    let by_id = |id: &str| snap.workers.iter().find(|w| w.id == id).unwrap();
    let stale = by_id("stale");
    assert_eq!(stale.running_jobs, 2);
    assert_eq!(stale.queues, ["a", "b"]);
    let age = secs(stale.heartbeat_age(snap.db_now).unwrap());
    assert!((age - 600.0).abs() < 1.0, "stale heartbeat age {age}s");
    let live = by_id("live");
    assert_eq!(live.running_jobs, 0);
    assert!(secs(live.heartbeat_age(snap.db_now).unwrap()) < 5.0);
    assert_eq!(by_id("gone-holding").running_jobs, 1);
    let ghost = by_id("ghost");
    assert_eq!(ghost.running_jobs, 1);
    assert_eq!((ghost.host.as_deref(), ghost.pid), (None, None));
    assert!(ghost.last_heartbeat_at.is_none() && ghost.queues.is_empty());
    assert_eq!(queue(&snap, "a").running, Count::exact(4));
    assert_eq!(queue(&snap, "a").ready, Count::exact(1));

    // A heartbeat refreshes the worker and every job it holds, and nobody else's.
    sqlx::query("UPDATE jobtop.jobs SET heartbeat_at = now() - interval '10 minutes'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT jobtop.heartbeat('stale')")
        .execute(pool)
        .await
        .unwrap();
    let fresh: Vec<(String, bool)> = sqlx::query_as(
        "SELECT locked_by, heartbeat_at > now() - interval '5 seconds'
         FROM jobtop.jobs WHERE state = 'running' ORDER BY locked_by, id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        fresh,
        [
            ("ghost".to_string(), false),
            ("gone-holding".to_string(), false),
            ("stale".to_string(), true),
            ("stale".to_string(), true),
        ]
    );
    let snap = snapshot(pool, BIG_CAP).await;
    let stale = snap.workers.iter().find(|w| w.id == "stale").unwrap();
    assert!(secs(stale.heartbeat_age(snap.db_now).unwrap()) < 5.0);
}

#[tokio::test]
async fn claim_skips_paused_queues_and_takes_priority_first() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let a_low = enqueue_with(pool, "a", 0, 5).await;
    let a_high = enqueue_with(pool, "a", 9, 5).await;
    let b_mid = enqueue_with(pool, "b", 5, 5).await;
    let b_low = enqueue_with(pool, "b", 0, 5).await;
    let later = enqueue_at(pool, "b", db_now(pool).await + Duration::hours(1)).await;
    sqlx::query(
        "UPDATE jobtop.queues SET paused_at = now(), paused_by = 'ops@host', pause_reason = 'deploy'
         WHERE name = 'a'",
    )
    .execute(pool)
    .await
    .unwrap();

    let snap = snapshot(pool, BIG_CAP).await;
    let paused = queue(&snap, "a").paused.as_ref().expect("a is paused");
    assert_eq!(paused.by.as_deref(), Some("ops@host"));
    assert_eq!(paused.reason.as_deref(), Some("deploy"));
    assert!(secs(snap.db_now - paused.at) < 5.0);
    assert_eq!(queue(&snap, "b").paused, None);

    // Only b's ready jobs, best priority first; the scheduled one stays.
    assert_eq!(claim(pool, "w", &["a", "b"], 10).await, [b_mid, b_low]);
    assert!(claim(pool, "w", &["a", "b"], 10).await.is_empty());
    assert_eq!(job(pool, later).await.state, "queued");
    assert_eq!(job(pool, a_high).await.state, "queued");

    sqlx::query("UPDATE jobtop.queues SET paused_at = NULL WHERE name = 'a'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(claim(pool, "w", &["a", "b"], 1).await, [a_high]);
    assert_eq!(claim(pool, "w", &["a", "b"], 1).await, [a_low]);
    let claimed = job(pool, a_low).await;
    assert_eq!(
        (
            claimed.state.as_str(),
            claimed.attempts,
            claimed.locked_by.as_deref()
        ),
        ("running", 1, Some("w"))
    );
}

#[tokio::test]
async fn claim_skips_rows_another_claimer_holds() {
    let db = common::test_db().await;
    let pool = &db.pool;
    enqueue_many(pool, "q", 3).await;
    let mut tx = pool.begin().await.unwrap();
    let first: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.claim('w1', '{q}', 2)")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    // Does not wait for the open transaction: takes the one row it does not hold.
    let second = claim(pool, "w2", &["q"], 5).await;
    assert_eq!(second.len(), 1);
    assert!(!first.contains(&second[0]));
    tx.commit().await.unwrap();
    assert!(claim(pool, "w3", &["q"], 5).await.is_empty());
}

#[tokio::test]
async fn fail_retries_with_backoff_then_buries_the_job() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let id = enqueue_with(pool, "q", 0, 3).await;
    assert_eq!(claim(pool, "w1", &["q"], 1).await, [id]);
    // Only the holder can fail it.
    assert_eq!(fail(pool, id, "w2", None).await, None);
    assert_eq!(job(pool, id).await.state, "running");

    // First failure: default backoff, 2 s ± 25%.
    let before = db_now(pool).await;
    assert_eq!(
        fail(pool, id, "w1", None).await.as_deref(),
        Some("retrying")
    );
    let j = job(pool, id).await;
    assert_eq!((j.attempts, j.locked_by.as_deref()), (1, None));
    assert_eq!(j.finished_at, None);
    assert!(j.failed_at.unwrap() >= before);
    assert_eq!(j.last_error.as_deref(), Some(format!("boom {id}").as_str()));
    let delay = secs(j.run_at - j.failed_at.unwrap());
    assert!((1.5..=2.5).contains(&delay), "backoff {delay}s");
    let entries = j.errors.as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["attempt"], 1);
    assert_eq!(entries[0]["worker"], "w1");
    assert_eq!(entries[0]["error"], format!("boom {id}"));
    let at: DateTime<Utc> = entries[0]["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, j.failed_at.unwrap());
    // Backing off: not claimable, shown as retrying.
    assert!(claim(pool, "w1", &["q"], 1).await.is_empty());
    assert_eq!(
        queue(&snapshot(pool, BIG_CAP).await, "q").retrying,
        Count::exact(1)
    );

    // Second failure with an explicit delay.
    make_due(pool, id).await;
    assert_eq!(
        queue(&snapshot(pool, BIG_CAP).await, "q").ready,
        Count::exact(1)
    );
    assert_eq!(claim(pool, "w2", &["q"], 1).await, [id]);
    assert_eq!(
        fail(pool, id, "w2", Some(30.0)).await.as_deref(),
        Some("retrying")
    );
    let j = job(pool, id).await;
    assert_eq!(j.attempts, 2);
    let delay = secs(j.run_at - j.failed_at.unwrap());
    assert!((delay - 30.0).abs() < 0.001, "retry_in gave {delay}s");

    // Third failure: attempts exhausted, dead.
    make_due(pool, id).await;
    assert_eq!(claim(pool, "w1", &["q"], 1).await, [id]);
    let run_at_before = job(pool, id).await.run_at;
    assert_eq!(
        fail(pool, id, "w1", Some(30.0)).await.as_deref(),
        Some("dead")
    );
    let j = job(pool, id).await;
    assert_eq!((j.state.as_str(), j.attempts), ("dead", 3));
    assert_eq!(j.finished_at, j.failed_at);
    assert!(j.finished_at.is_some());
    assert_eq!(j.run_at, run_at_before);
    assert_eq!(j.locked_by, None);
    let entries = j.errors.as_array().unwrap();
    let history: Vec<(i64, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["attempt"].as_i64().unwrap(),
                e["worker"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(history, [(1, "w1"), (2, "w2"), (3, "w1")]);
    // A dead job cannot be failed again.
    assert_eq!(fail(pool, id, "w1", None).await, None);
    let snap = snapshot(pool, BIG_CAP).await;
    let q = queue(&snap, "q");
    assert_eq!(
        (q.dead, q.retrying, q.ready),
        (Count::exact(1), Count::exact(0), Count::exact(0))
    );
}

#[tokio::test]
async fn complete_only_by_the_lock_holder() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let id = enqueue(pool, "q").await;
    // Not running yet.
    assert!(!complete(pool, id, "w1").await);
    assert_eq!(claim(pool, "w1", &["q"], 1).await, [id]);
    assert!(!complete(pool, id, "w2").await);
    let j = job(pool, id).await;
    assert_eq!(
        (j.state.as_str(), j.locked_by.as_deref()),
        ("running", Some("w1"))
    );
    assert!(complete(pool, id, "w1").await);
    let j = job(pool, id).await;
    assert_eq!((j.state.as_str(), j.locked_by), ("succeeded", None));
    assert!(j.finished_at.is_some());
    assert!(!complete(pool, id, "w1").await);
}

#[tokio::test]
async fn enqueue_registers_the_queue_and_honours_idempotency_keys() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let sql = "SELECT jobtop.enqueue(queue => 'q', kind => 'k', payload => '{\"n\": 1}',
                                      priority => 3::smallint, max_attempts => 2,
                                      tenant_id => 't1', idempotency_key => 'order-7')";
    let first: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
    let again: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
    assert_eq!(first, again);
    let other = enqueue(pool, "q").await;
    assert_ne!(other, first);
    let (jobs, queues): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM jobtop.jobs), (SELECT count(*) FROM jobtop.queues)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((jobs, queues), (2, 1));
    let row = sqlx::query(
        "SELECT kind, tenant_id, payload, priority, max_attempts, state::text AS state, attempts
         FROM jobtop.jobs WHERE id = $1",
    )
    .bind(first)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("kind"), "k");
    assert_eq!(
        row.get::<Option<String>, _>("tenant_id").as_deref(),
        Some("t1")
    );
    assert_eq!(row.get::<Value, _>("payload"), serde_json::json!({"n": 1}));
    assert_eq!(row.get::<i16, _>("priority"), 3);
    assert_eq!(row.get::<i32, _>("max_attempts"), 2);
    assert_eq!(row.get::<String, _>("state"), "queued");
    assert_eq!(row.get::<i32, _>("attempts"), 0);
}

#[tokio::test]
async fn minutes_count_successes_and_failed_attempts_of_the_last_hour() {
    let db = common::test_db().await;
    let pool = &db.pool;
    // Succeeded: 2 now, 3 five minutes ago, 1 two hours ago (outside the window).
    let mut done = Vec::new();
    for _ in 0..6 {
        let id = enqueue(pool, "mail").await;
        assert_eq!(claim(pool, "w", &["mail"], 1).await, [id]);
        assert!(complete(pool, id, "w").await);
        done.push(id);
    }
    shift_finished(pool, &done[2..5], "5 minutes").await;
    shift_finished(pool, &done[5..], "2 hours").await;
    // A job that failed twice: 70 minutes ago (outside) and 3 minutes ago; now retrying.
    let twice = enqueue(pool, "mail").await;
    claim(pool, "w", &["mail"], 1).await;
    fail(pool, twice, "w", Some(0.0)).await;
    shift_failures(pool, twice, "67 minutes").await;
    claim(pool, "w", &["mail"], 1).await;
    fail(pool, twice, "w", Some(3600.0)).await;
    shift_failures(pool, twice, "3 minutes").await;
    // A job dead now after one attempt; another queue's failure stays in its queue.
    let dead = enqueue_with(pool, "mail", 0, 1).await;
    claim(pool, "w", &["mail"], 1).await;
    assert_eq!(fail(pool, dead, "w", None).await.as_deref(), Some("dead"));
    let other = enqueue(pool, "other").await;
    claim(pool, "w", &["other"], 1).await;
    fail(pool, other, "w", None).await;

    let snap = snapshot(pool, BIG_CAP).await;
    // Where each event belongs, computed from the stored times and the snapshot's clock.
    let slot_of = |t: DateTime<Utc>| -> Option<usize> {
        let back = snap.db_now.timestamp().div_euclid(60) - t.timestamp().div_euclid(60);
        (0..60).contains(&back).then(|| 59 - back as usize)
    };
    let mut expected = [(0u32, 0u32); 60];
    for id in &done {
        if let Some(s) = slot_of(job(pool, *id).await.finished_at.unwrap()) {
            expected[s].0 += 1;
        }
    }
    for id in [twice, dead] {
        for e in job(pool, id).await.errors.as_array().unwrap() {
            let at: DateTime<Utc> = e["at"].as_str().unwrap().parse().unwrap();
            if let Some(s) = slot_of(at) {
                expected[s].1 += 1;
            }
        }
    }
    let mail = queue(&snap, "mail");
    assert_eq!(mail.minutes.len(), 60);
    let got: Vec<(u32, u32)> = mail
        .minutes
        .iter()
        .map(|m| (m.succeeded, m.failed))
        .collect();
    assert_eq!(got, expected.to_vec());
    let totals = got.iter().fold((0, 0), |acc, m| (acc.0 + m.0, acc.1 + m.1));
    assert_eq!(
        totals,
        (5, 2),
        "5 successes and 2 failed attempts in the hour"
    );
    let other = queue(&snap, "other");
    assert_eq!(other.minutes.iter().map(|m| m.failed).sum::<u32>(), 1);
    assert_eq!(other.minutes.iter().map(|m| m.succeeded).sum::<u32>(), 0);
    assert_eq!(mail.failure_rate(), Some(2.0 / 7.0));
}

async fn shift_finished(pool: &PgPool, ids: &[i64], by: &'static str) {
    sqlx::query(
        "UPDATE jobtop.jobs SET finished_at = finished_at - $2::interval,
                                started_at = started_at - $2::interval
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(by)
    .execute(pool)
    .await
    .unwrap();
}

/// Moves a job's failure history into the past, as if it had failed `by` earlier.
async fn shift_failures(pool: &PgPool, id: i64, by: &'static str) {
    sqlx::query(
        "UPDATE jobtop.jobs SET
            failed_at = failed_at - $2::interval,
            errors = (SELECT jsonb_agg(jsonb_set(e, '{at}',
                                to_jsonb((e ->> 'at')::timestamptz - $2::interval)))
                      FROM jsonb_array_elements(errors) e)
         WHERE id = $1",
    )
    .bind(id)
    .bind(by)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn migrate_is_idempotent_and_safe_to_run_concurrently() {
    let db = common::test_db().await;
    let pool = &db.pool;
    migrate(pool).await.unwrap();
    // Start over from nothing, with three migrators racing.
    sqlx::query("DROP SCHEMA jobtop CASCADE")
        .execute(pool)
        .await
        .unwrap();
    let (a, b, c) = tokio::join!(migrate(pool), migrate(pool), migrate(pool));
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM jobtop._sqlx_migrations")
        .fetch_one(pool)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count() as i64;
    assert!(files >= 3, "{files}");
    assert_eq!(applied, files);
    // Nothing of ours lands in public.
    let public: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(public, 0);
    enqueue(pool, "q").await;
}
