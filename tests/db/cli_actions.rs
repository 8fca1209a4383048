//! The action commands, run as the built binary against a real PostgreSQL: what they say,
//! what they change, what they record, and their exit status.

use sqlx::PgPool;

use crate::cli;
use crate::common::fixture;
use crate::common::{self, TestDb};

/// `jobtop ARGS --url …` as carol with no terminal on stdin: (status, stdout, stderr).
fn jobtop(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    cli::run_as("carol", &common::url_for(db), args)
}

async fn scalar_i64(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn enqueue(pool: &PgPool, queue: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            sqlx::query_scalar("SELECT jobtop.enqueue($1, 'report.build')")
                .bind(queue)
                .fetch_one(pool)
                .await
                .unwrap(),
        );
    }
    ids
}

/// Claims every ready job of `queue` for `worker` and fails each with no attempts left.
async fn kill_all(pool: &PgPool, queue: &str, worker: &str) -> Vec<i64> {
    sqlx::query("UPDATE jobtop.jobs SET max_attempts = 1 WHERE queue = $1")
        .bind(queue)
        .execute(pool)
        .await
        .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.claim($1, ARRAY[$2], 1000)")
        .bind(worker)
        .bind(queue)
        .fetch_all(pool)
        .await
        .unwrap();
    for id in &ids {
        sqlx::query("SELECT jobtop.fail($1, $2, 'timeout')")
            .bind(id)
            .bind(worker)
            .execute(pool)
            .await
            .unwrap();
    }
    ids
}

#[tokio::test]
async fn without_a_terminal_and_without_yes_nothing_happens() {
    let db = common::test_db().await;
    enqueue(&db.pool, "reports", 1).await;
    let (code, stdout, stderr) = jobtop(&db, &["pause", "reports", "--reason", "deploy"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("Pause queue `reports` (reason: deploy)?"),
        "{stdout}"
    );
    assert!(stderr.contains("not on a terminal"), "{stderr}");
    assert_eq!(
        scalar_i64(
            &db.pool,
            "SELECT count(*) FROM jobtop.queues WHERE paused_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(&db.pool, "SELECT count(*) FROM jobtop.audit").await,
        0
    );
}

#[tokio::test]
async fn pause_and_resume_with_yes() {
    let db = common::test_db().await;
    enqueue(&db.pool, "reports", 1).await;
    let (code, stdout, _) = jobtop(&db, &["pause", "reports", "--reason", "deploy", "--yes"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with("paused queue `reports`\n"), "{stdout}");
    let by: String =
        sqlx::query_scalar("SELECT paused_by FROM jobtop.queues WHERE name = 'reports'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let db_role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        by.starts_with("carol@") && by.ends_with(&format!(" ({db_role})")),
        "{by}"
    );

    // Already paused: nothing to do is not a failure.
    let (code, stdout, _) = jobtop(&db, &["pause", "reports", "-y"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("nothing paused: queue `reports` is already paused (by carol@"),
        "{stdout}"
    );

    let (code, stdout, _) = jobtop(&db, &["resume", "reports", "-y"]);
    assert_eq!(
        (code, stdout.lines().last()),
        (0, Some("resumed queue `reports`"))
    );
    let (code, _, stderr) = jobtop(&db, &["pause", "no-such-queue", "-y"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("there is no queue named `no-such-queue`"),
        "{stderr}"
    );
    assert_eq!(
        scalar_i64(&db.pool, "SELECT count(*) FROM jobtop.audit").await,
        2
    );
}

#[tokio::test]
async fn retry_by_queue_with_a_limit_then_the_rest() {
    let db = common::test_db().await;
    enqueue(&db.pool, "mailers", 5).await;
    kill_all(&db.pool, "mailers", "w1").await;
    let (code, stdout, stderr) = jobtop(
        &db,
        &[
            "retry", "--queue", "mailers", "--state", "dead", "--limit", "2", "--yes",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Retry 2 dead jobs of kind `report.build` in queue `mailers`?\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("More jobs match: this takes the oldest 2"),
        "{stdout}"
    );
    assert!(stdout.ends_with("retried 2 jobs\n"), "{stdout}");
    assert_eq!(
        scalar_i64(
            &db.pool,
            "SELECT count(*) FROM jobtop.jobs WHERE state = 'dead'"
        )
        .await,
        3
    );
    let (code, stdout, _) = jobtop(&db, &["retry", "--queue", "mailers", "-y"]);
    assert_eq!(code, 0);
    assert!(stdout.ends_with("retried 3 jobs\n"), "{stdout}");
    let (code, stdout, _) = jobtop(&db, &["retry", "--queue", "mailers", "-y"]);
    assert_eq!((code, stdout.lines().last()), (0, Some("nothing to retry")));
    let (code, _, stderr) = jobtop(&db, &["retry", "--state", "bogus", "-y"]);
    assert_eq!(code, 2, "a usage error is 'nothing done' too");
    assert!(stderr.contains("unknown state"), "{stderr}");
}

#[tokio::test]
async fn cancel_discard_and_part_done_exit_one() {
    let db = common::test_db().await;
    let ids = enqueue(&db.pool, "q", 4).await;
    let running: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.claim('w', ARRAY['q'], 1)")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(running, vec![ids[0]]);

    let (code, stdout, _) = jobtop(&db, &["cancel", &ids[1].to_string(), "--yes"]);
    assert_eq!((code, stdout.lines().last()), (0, Some("cancelled 1 job")));

    // One of the two is running: it is left alone and said so; part done.
    let (code, stdout, _) = jobtop(
        &db,
        &["discard", &ids[0].to_string(), &ids[2].to_string(), "--yes"],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("1 running job left alone: a running job cannot be stopped"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("discarded 1 job; 1 left alone\n"),
        "{stdout}"
    );

    // Only a running job: nothing can be done.
    let (code, stdout, _) = jobtop(&db, &["cancel", &ids[0].to_string(), "--yes"]);
    assert_eq!(code, 2, "{stdout}");
    let states: Vec<String> = sqlx::query_scalar("SELECT state::text FROM jobtop.jobs ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(states, vec!["running", "cancelled", "dead", "queued"]);
    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT action || ':' || outcome FROM jobtop.audit ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(outcomes, vec!["cancel:ok", "discard:partial"]);
}

#[tokio::test]
async fn reset_stuck_and_purge() {
    let db = common::test_db().await;
    let pool = &db.pool;
    enqueue(pool, "q", 3).await;
    sqlx::query("SELECT jobtop.register_worker('w-dead', 'h', 1, ARRAY['q'])")
        .execute(pool)
        .await
        .unwrap();
    let held: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.claim('w-dead', ARRAY['q'], 2)")
        .fetch_all(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE jobtop.workers SET last_heartbeat_at = now() - interval '10 minutes'")
        .execute(pool)
        .await
        .unwrap();
    let (code, stdout, _) = jobtop(&db, &["reset-stuck", "--stale-after", "5m", "-y"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("Reset 2 stuck jobs of kind `report.build` in queue `q`?"),
        "{stdout}"
    );
    assert!(stdout.ends_with("reset 2 jobs\n"), "{stdout}");
    assert_eq!(
        scalar_i64(
            pool,
            "SELECT count(*) FROM jobtop.jobs WHERE state = 'queued' AND locked_by IS NULL"
        )
        .await,
        3
    );
    let _ = held;

    // Finish everything, age two of them, purge.
    let all: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.claim('w2', ARRAY['q'], 10)")
        .fetch_all(pool)
        .await
        .unwrap();
    for id in &all {
        sqlx::query("SELECT jobtop.complete($1, 'w2')")
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query(
        "UPDATE jobtop.jobs SET finished_at = now() - interval '15 days' WHERE id = ANY($1)",
    )
    .bind(&all[..2])
    .execute(pool)
    .await
    .unwrap();
    let (code, stdout, _) = jobtop(
        &db,
        &[
            "purge",
            "--state",
            "succeeded,cancelled",
            "--older-than",
            "14d",
        ],
    );
    assert_eq!(code, 2, "asks first, and there is nobody to answer");
    assert!(
        stdout.starts_with("Delete 2 succeeded/cancelled jobs finished before"),
        "{stdout}"
    );
    let (code, stdout, _) = jobtop(
        &db,
        &[
            "purge",
            "--state",
            "succeeded,cancelled",
            "--older-than",
            "14d",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with("purged 2 jobs\n"), "{stdout}");
    assert_eq!(
        scalar_i64(pool, "SELECT count(*) FROM jobtop.jobs").await,
        1
    );
    let (code, _, stderr) = jobtop(
        &db,
        &["purge", "--state", "running", "--older-than", "1d", "-y"],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("finished jobs only"), "{stderr}");
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM jobtop.audit ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(actions, vec!["reset_stuck", "purge"]);
}

#[tokio::test]
async fn graphile_retry_and_cancel_from_the_command_line() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, fixture::GRAPHILE).await;
    // Two schemas in one database: without --backend it would have to ask.
    let (code, stdout, stderr) = jobtop(
        &db,
        &[
            "retry",
            "--backend",
            "graphile",
            "--queue",
            "resize_image",
            "--state",
            "dead",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Retry 2 dead jobs in queue `resize_image`?"),
        "{stdout}"
    );
    assert!(stdout.ends_with("retried 2 jobs\n"), "{stdout}");
    assert_eq!(
        scalar_i64(
            pool,
            "SELECT count(*) FROM graphile_worker._private_jobs \
             WHERE task_id = 2 AND attempts = 3 AND max_attempts = 4 AND run_at <= now()"
        )
        .await,
        2
    );
    let (code, stdout, stderr) = jobtop(&db, &["cancel", "1", "--backend", "graphile", "--yes"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains("graphile-worker has no cancelled state: discard (D, or `jobtop discard`)"),
        "{stderr}"
    );
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action || ':' || outcome || ':' || actor FROM jobtop.audit")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(actions.len(), 1);
    assert!(actions[0].starts_with("retry:ok:carol@"), "{actions:?}");
}

/// `jobtop purge` on River and on pg-boss, as the runbooks run it: asks with the exact
/// count and the cutoff, deletes only the old finished jobs, records one audit row each.
#[tokio::test]
async fn purge_from_the_command_line_on_river_and_pg_boss() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, fixture::RIVER).await;
    common::load(pool, fixture::PGBOSS).await;
    common::exec(
        pool,
        "UPDATE river_job SET finalized_at = now() - interval '20 days' \
         WHERE state IN ('completed', 'cancelled'); \
         UPDATE pgboss.job SET completed_on = completed_on - interval '20 days' \
         WHERE state = 'completed' AND name = 'emails'",
    )
    .await;
    let river_old = scalar_i64(
        pool,
        "SELECT count(*) FROM river_job WHERE state IN ('completed', 'cancelled')",
    )
    .await;
    let river_all = scalar_i64(pool, "SELECT count(*) FROM river_job").await;
    assert!(river_old > 0 && river_old < river_all);
    let purge = |backend: &'static str, states: &'static str, yes: bool| {
        let mut args = vec![
            "purge",
            "--backend",
            backend,
            "--state",
            states,
            "--older-than",
            "14d",
        ];
        if yes {
            args.push("--yes");
        }
        jobtop(&db, &args)
    };

    let (code, stdout, _) = purge("river", "succeeded,cancelled", false);
    assert_eq!(code, 2, "asks first, and there is nobody to answer");
    assert!(
        stdout.starts_with(&format!(
            "Delete {river_old} succeeded/cancelled jobs finished before"
        )),
        "{stdout}"
    );
    let (code, stdout, stderr) = purge("river", "succeeded,cancelled", true);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with(&format!("purged {river_old} jobs\n")),
        "{stdout}"
    );
    assert_eq!(
        scalar_i64(pool, "SELECT count(*) FROM river_job").await,
        river_all - river_old
    );
    assert_eq!(
        scalar_i64(
            pool,
            "SELECT count(*) FROM river_job WHERE state IN ('completed', 'cancelled')"
        )
        .await,
        0
    );

    let boss_old = scalar_i64(
        pool,
        "SELECT count(*) FROM pgboss.job WHERE state = 'completed' AND name = 'emails'",
    )
    .await;
    let boss_all = scalar_i64(pool, "SELECT count(*) FROM pgboss.job").await;
    assert!(boss_old > 0 && boss_old < boss_all);
    let (code, stdout, stderr) = purge("pg-boss", "succeeded,dead", true);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with(&format!("purged {boss_old} jobs\n")),
        "{stdout}"
    );
    assert_eq!(
        scalar_i64(pool, "SELECT count(*) FROM pgboss.job").await,
        boss_all - boss_old
    );

    let (code, _, stderr) = purge("river", "running", true);
    assert_eq!(code, 2);
    assert!(stderr.contains("finished jobs only"), "{stderr}");
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT action || ':' || outcome || ':' || count FROM jobtop.audit ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            format!("purge:ok:{river_old}"),
            format!("purge:ok:{boss_old}")
        ]
    );
}
