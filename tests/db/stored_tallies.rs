//! The passes over what a schema's own indexes hold by no queue (`engine::tally`), shared
//! through jobtop's side table `jobtop.tallies`, on good_job's fixture (its discarded jobs
//! have no index by queue): a new monitor starts from the pass another one stored, marked
//! as an estimate, until an action makes it count; and on a big table with no pass at
//! hand the first poll estimates the dead piles instead of reading the table, and
//! `snapshot --json` says so. The same on Solid Queue's fixture, whose failed executions
//! carry no queue: its dead piles come from a pass, counted again after an action. A pass
//! another monitor is taking (its advisory lock held) is not taken a second time.
//! Each fixture's table is first grown past the size a pass is taken in every poll
//! (`tally::every_unless_small`), as a table worth a pass is.

use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, Backend, JobState, QueueStats, Snapshot, SnapshotOptions};
use serde_json::Value;
use sqlx::PgPool;

use crate::cli;
use crate::common::fixture::{GOODJOB, SOLIDQUEUE};
use crate::common::{self, exec};
use crate::helpers::{matching, run};

async fn monitor(pool: &PgPool) -> Backend {
    Backend::new(
        jobtop::backend::goodjob::open(pool.clone(), "public")
            .await
            .unwrap(),
    )
}

async fn poll(backend: &Backend) -> Snapshot {
    backend
        .overview()
        .snapshot(&SnapshotOptions::default())
        .await
        .unwrap()
}

fn queue(s: &Snapshot, name: &str) -> QueueStats {
    s.queues.iter().find(|q| q.name == name).unwrap().clone()
}

#[tokio::test]
async fn a_new_monitor_starts_from_the_pass_another_stored_until_an_action() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, GOODJOB).await;
    common::grow_past_small(pool, "public.good_jobs").await;
    let first = monitor(pool).await;
    let dead = queue(&poll(&first).await, "default").dead;
    assert_eq!(
        (dead.value, dead.estimated),
        (2, false),
        "counted in the poll"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobtop.tallies WHERE source = 'good_job@public'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        stored, 2,
        "the unfinished jobs' pass and the discarded jobs'"
    );

    // A job discarded behind jobtop's back, with no audit row: only a new pass sees it.
    exec(
        pool,
        "UPDATE good_jobs SET performed_at = timezone('UTC', now()), \
           finished_at = timezone('UTC', now()), error = 'RuntimeError: late' \
         WHERE id = '00000000-0000-4000-8000-000000000001'",
    )
    .await;
    let second = monitor(pool).await;
    let dead = queue(&poll(&second).await, "default").dead;
    assert_eq!(
        (dead.value, dead.estimated),
        (2, true),
        "a new monitor shows the stored pass as an estimate instead of reading the table"
    );

    let gate = Gate::with_actor(monitor(pool).await, false, "ana@bastion".into());
    let plan = gate
        .plan(&Action::Retry(matching("default", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(run(&gate, &plan).await.changed, 3);
    let after = queue(&poll(&second).await, "default");
    assert_eq!(
        (after.dead.value, after.dead.estimated),
        (0, false),
        "an action since the stored pass makes the next poll count"
    );
}

#[tokio::test]
async fn with_no_pass_at_hand_a_big_tables_dead_piles_are_estimated_and_said_so() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, GOODJOB).await;
    common::grow_past_small(pool, "public.good_jobs").await;
    let doc = snapshot_of_ten_million(&db, "good_jobs").await;
    assert!(!doc["queues"].as_array().unwrap().is_empty());
    assert_eq!(doc["totals"]["estimated"], true);
}

/// `snapshot --json` where the planner takes `table` for 10 M rows (its figure is what tells
/// a big table): every queue's dead pile is the planner's estimate, and says so.
async fn snapshot_of_ten_million(db: &common::TestDb, table: &str) -> Value {
    exec(
        &db.pool,
        &format!(
            "ANALYZE; UPDATE pg_class SET reltuples = 10000000 WHERE oid = '{table}'::regclass"
        ),
    )
    .await;
    let out = cli::jobtop("", &["snapshot", &cli::url(&db.options), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for q in doc["queues"].as_array().unwrap() {
        let estimated = q["estimated"].as_array().unwrap();
        assert!(
            estimated.contains(&Value::from("dead")),
            "{}: the dead pile is the planner's estimate, and says so: {q}",
            q["name"]
        );
    }
    doc
}

async fn solid_queue(pool: &PgPool) -> Backend {
    Backend::new(
        jobtop::backend::solidqueue::open(pool.clone(), "public")
            .await
            .unwrap(),
    )
}

/// Job 14 (mailers, claimed) fails as Solid Queue's worker fails it, with no audit row.
const MAILER_FAILS_BEHIND_JOBTOPS_BACK: &str = "DELETE FROM solid_queue_claimed_executions \
     WHERE job_id = 14; \
     INSERT INTO solid_queue_failed_executions (job_id, error, created_at) \
     VALUES (14, '{\"exception_class\":\"RuntimeError\",\"message\":\"late\"}', \
             timezone('UTC', now()))";

#[tokio::test]
async fn solid_queues_dead_piles_come_from_a_pass_counted_again_after_an_action() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, SOLIDQUEUE).await;
    common::grow_past_small(pool, "public.solid_queue_jobs").await;
    let monitor = solid_queue(pool).await;
    let first = poll(&monitor).await;
    let dead = |s: &Snapshot, name: &str| {
        let d = queue(s, name).dead;
        (d.value, d.estimated)
    };
    assert_eq!(dead(&first, "default"), (1, false), "counted in the poll");
    assert_eq!(dead(&first, "mailers"), (1, false));

    exec(pool, MAILER_FAILS_BEHIND_JOBTOPS_BACK).await;
    let between = poll(&monitor).await;
    assert_eq!(
        dead(&between, "mailers"),
        (1, true),
        "between passes the last pass is shown, marked as an estimate, not counted each poll"
    );

    let gate = Gate::with_actor(solid_queue(pool).await, false, "ana@bastion".into());
    let plan = gate
        .plan(&Action::Retry(matching("default", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(run(&gate, &plan).await.changed, 1);
    let after = poll(&monitor).await;
    assert_eq!(
        dead(&after, "default"),
        (0, false),
        "the retried pile is exact on the next poll"
    );
    assert_eq!(
        dead(&after, "mailers"),
        (2, false),
        "an action makes the next poll count every pile again, the failure behind its back too"
    );
}

#[tokio::test]
async fn solid_queue_on_a_big_table_estimates_its_dead_piles_except_where_acted_on() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, SOLIDQUEUE).await;
    common::grow_past_small(pool, "public.solid_queue_jobs").await;
    // At 10 M rows the exact dead counts' join timed out: the planner's estimate stands in.
    let doc = snapshot_of_ten_million(&db, "solid_queue_jobs").await;
    assert_eq!(doc["queues"].as_array().unwrap().len(), 4);

    let gate = Gate::with_actor(solid_queue(pool).await, false, "ana@bastion".into());
    let plan = gate
        .plan(&Action::Retry(matching("mailers", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(run(&gate, &plan).await.changed, 1);
    let after = poll(&solid_queue(pool).await).await;
    let mailers = queue(&after, "mailers").dead;
    assert_eq!(
        (mailers.value, mailers.estimated),
        (0, false),
        "the queue acted on is counted exactly, whatever the statistics say"
    );
    assert!(queue(&after, "default").dead.estimated);
}

#[tokio::test]
async fn a_shared_pass_another_monitor_is_taking_is_not_taken_again() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, GOODJOB).await;
    common::grow_past_small(pool, "public.good_jobs").await;
    exec(
        pool,
        "ANALYZE good_jobs; \
         UPDATE pg_class SET reltuples = 10000000 WHERE oid = 'good_jobs'::regclass",
    )
    .await;
    let backend = monitor(pool).await;
    let discarded_pass = backend
        .reads()
        .doctor_plan()
        .probes
        .into_iter()
        .find(|p| p.name.starts_with("slow pass (every 300 s)"))
        .expect("the discarded jobs' pass")
        .sql;
    // Another monitor taking the same pass holds its lock while it reads.
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || md5($2), 0))")
        .bind("good_job@public")
        .bind(discarded_pass.as_ref())
        .execute(&mut *other)
        .await
        .unwrap();
    // No pass at hand on a big table: estimated, and the second poll starts the pass in
    // the background.
    assert!(queue(&poll(&backend).await, "default").dead.estimated);
    assert!(queue(&poll(&backend).await, "default").dead.estimated);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.tallies WHERE source = 'good_job@public' \
           AND statement = md5($1)",
    )
    .bind(discarded_pass.as_ref())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        stored, 0,
        "the pass is left to the monitor taking it, not read from the table a second time"
    );
    other.rollback().await.unwrap();
}
