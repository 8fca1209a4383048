//! Actions on the queue schemas jobtop did not write (River, Oban, pg-boss, graphile-worker,
//! mapped profiles), against real PostgreSQL, through the gate: each supported action's
//! effect on the rows, the refusals (with their reasons), a job that moved on between the
//! plan and its batch, the notifications pauses send, and the audit row in jobtop.audit —
//! and no action at all where that table is missing.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{AssertSqlSafe, PgPool, Row};

use jobtop::backend::gate::Gate;
use jobtop::backend::graphile;
use jobtop::backend::oban;
use jobtop::backend::river;
use jobtop::backend::{
    Action, ActionOutcome, Backend, JobId, JobState, JobTarget, Plan, Reads, Writes,
};

use crate::common::fixture::{CEPRO, GRAPHILE, JOB_QUEUE, OBAN, RIVER};
use crate::common::{self, exec, load};
use crate::helpers::{audit_rows, matching, run};

const ACTOR: &str = "bob@jump-2";

fn gate(backend: impl Reads + Writes + 'static) -> Gate {
    Gate::with_actor(Backend::new(backend), false, ACTOR.to_string())
}

async fn act(gate: &Gate, action: Action) -> (Plan, ActionOutcome) {
    let plan = gate.plan(&action).await.expect("plan");
    let outcome = run(gate, &plan).await;
    (plan, outcome)
}

async fn ids(pool: &PgPool, sql: &str) -> Vec<i64> {
    sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn one<T>(pool: &PgPool, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The last audit row: (actor, action, queue, job_ids, count, outcome).
async fn last_audit(
    pool: &PgPool,
) -> (
    String,
    String,
    Option<String>,
    Option<Vec<i64>>,
    i64,
    String,
) {
    let r = sqlx::query(
        "SELECT actor, action, queue, job_ids, count, outcome FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (
        r.get("actor"),
        r.get("action"),
        r.get("queue"),
        r.get("job_ids"),
        r.get("count"),
        r.get("outcome"),
    )
}

// ---------------------------------------------------------------- River

async fn river(pool: &PgPool) -> Gate {
    load(pool, RIVER).await;
    gate(river::open(pool.clone(), "public").await.unwrap())
}

#[tokio::test]
async fn river_retry_dead_jobs_like_job_retry() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = river(pool).await;
    // One of the two has used all its attempts: it gets one more.
    exec(
        pool,
        "UPDATE river_job SET max_attempts = attempt WHERE state = 'discarded' AND attempt = 1",
    )
    .await;
    let dead = ids(
        pool,
        "SELECT id FROM river_job WHERE state = 'discarded' ORDER BY id",
    )
    .await;
    assert_eq!(dead.len(), 2);
    let (plan, out) = act(&g, Action::Retry(matching("default", JobState::Dead))).await;
    assert_eq!(plan.ids, dead);
    assert_eq!(
        plan.question(),
        "Retry 2 dead jobs of kind `sync` in queue `default`?"
    );
    assert_eq!((out.changed, out.skipped, out.exit_code()), (2, 0, 0));
    let rows = sqlx::query(
        "SELECT state::text, attempt, max_attempts, finalized_at IS NULL AS open, \
         scheduled_at > now() - interval '1 minute' AS now_ish, cardinality(errors) AS errors \
         FROM river_job WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&dead)
    .fetch_all(pool)
    .await
    .unwrap();
    let got: Vec<(String, i16, i16, bool, bool, i32)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("available".into(), 3, 25, true, true, 2),
            ("available".into(), 1, 2, true, true, 1),
        ]
    );
    let (actor, action, queue, job_ids, count, outcome) = last_audit(pool).await;
    assert!(actor.starts_with("bob@jump-2 ("), "{actor}");
    assert_eq!(
        (
            action.as_str(),
            queue.as_deref(),
            job_ids,
            count,
            outcome.as_str()
        ),
        ("retry", Some("default"), Some(dead), 2, "ok")
    );
}

#[tokio::test]
async fn river_cancel_discard_and_delete_leave_running_jobs_alone() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = river(pool).await;
    let available: i64 = one(
        pool,
        "SELECT min(id) FROM river_job WHERE state = 'available' AND queue = 'default'",
    )
    .await;
    let running: i64 = one(
        pool,
        "SELECT min(id) FROM river_job WHERE state = 'running' AND queue = 'default'",
    )
    .await;
    let (plan, out) = act(
        &g,
        Action::Cancel(JobTarget::Ids(vec![available.into(), running.into()])),
    )
    .await;
    assert_eq!(plan.blocked, vec![(JobState::Running, 1)]);
    assert_eq!((out.changed, out.left_alone, out.exit_code()), (1, 1, 1));
    let states: Vec<(String, bool)> = sqlx::query_as(
        "SELECT state::text, finalized_at IS NOT NULL FROM river_job WHERE id = ANY($1) ORDER BY id",
    )
    .bind(vec![available, running])
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        vec![("cancelled".into(), true), ("running".into(), false)]
    );

    // Discard the future scheduled jobs (pending included: it waits on something).
    let (plan, out) = act(
        &g,
        Action::Discard(matching("default", JobState::Scheduled)),
    )
    .await;
    assert_eq!(plan.eligible, 3);
    assert_eq!(out.changed, 3);
    let discarded: i64 = one(
        pool,
        "SELECT count(*) FROM river_job WHERE state = 'discarded' AND kind = 'report'",
    )
    .await;
    assert_eq!(discarded, 3);

    // Delete: the dead (2 + 3) and cancelled (1 + 1) of the queue; nothing else.
    let before: i64 = one(pool, "SELECT count(*) FROM river_job").await;
    let (_, out) = act(&g, Action::Delete(matching("default", JobState::Dead))).await;
    assert_eq!(out.changed, 5);
    let (_, out) = act(&g, Action::Delete(matching("default", JobState::Cancelled))).await;
    assert_eq!(out.changed, 2);
    let after: i64 = one(pool, "SELECT count(*) FROM river_job").await;
    assert_eq!(before - after, 7);
    assert_eq!(audit_rows(pool).await, 4);
}

#[tokio::test]
async fn river_race_counts_only_what_changed() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = river(pool).await;
    let plan = g
        .plan(&Action::Retry(matching("default", JobState::Retrying)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2);
    // One of them is picked up by a client between the confirmation and the batch.
    exec(
        pool,
        &format!(
            "UPDATE river_job SET state = 'running', attempt = attempt + 1 WHERE id = {}",
            plan.ids[0]
        ),
    )
    .await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped), (1, 1));
    assert_eq!(out.summary(), "retried 1 of 2 jobs; 1 had already moved on");
    let state: String = one(
        pool,
        &format!(
            "SELECT state::text FROM river_job WHERE id = {}",
            plan.ids[0]
        ),
    )
    .await;
    assert_eq!(state, "running");
    let (_, _, _, job_ids, count, outcome) = last_audit(pool).await;
    assert_eq!(
        (job_ids, count, outcome.as_str()),
        (Some(vec![plan.ids[1].as_int().unwrap()]), 1, "partial")
    );
}

#[tokio::test]
async fn river_pause_and_resume_through_river_queue_and_its_control_channel() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = river(pool).await;
    let mut listener = PgListener::connect_with(pool).await.unwrap();
    listener
        .listen_all(["public.river_control", "river_control"])
        .await
        .unwrap();

    let (_, out) = act(
        &g,
        Action::Pause {
            queue: "default".into(),
            reason: Some("incident 42".into()),
        },
    )
    .await;
    assert_eq!(out.changed, 1);
    let paused: bool = one(
        pool,
        "SELECT paused_at IS NOT NULL FROM river_queue WHERE name = 'default'",
    )
    .await;
    assert!(paused);
    let mut heard = Vec::new();
    for _ in 0..2 {
        let n = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("a control notification")
            .unwrap();
        let payload: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
        heard.push((n.channel().to_string(), payload));
    }
    heard.sort_by(|a, b| a.0.cmp(&b.0));
    let expected = serde_json::json!({"action": "pause", "queue": "default"});
    assert_eq!(
        heard,
        vec![
            ("public.river_control".to_string(), expected.clone()),
            ("river_control".to_string(), expected),
        ]
    );

    // Pausing again: nothing to do, and the plan says why.
    let plan = g
        .plan(&Action::Pause {
            queue: "default".into(),
            reason: None,
        })
        .await
        .unwrap();
    assert_eq!(plan.eligible, 0);
    assert!(plan.note.as_deref().unwrap().contains("already paused"));

    // "batch" has jobs but no river_queue row yet: the pause adds one.
    let (_, out) = act(
        &g,
        Action::Pause {
            queue: "batch".into(),
            reason: None,
        },
    )
    .await;
    assert_eq!(out.changed, 1);
    let paused: bool = one(
        pool,
        "SELECT paused_at IS NOT NULL FROM river_queue WHERE name = 'batch'",
    )
    .await;
    assert!(paused);

    let (_, out) = act(
        &g,
        Action::Resume {
            queue: "mailers".into(),
        },
    )
    .await;
    assert_eq!(out.changed, 1);
    let paused: bool = one(
        pool,
        "SELECT paused_at IS NOT NULL FROM river_queue WHERE name = 'mailers'",
    )
    .await;
    assert!(!paused);

    // A queue nobody has heard of is not created by a typo.
    let err = g
        .plan(&Action::Pause {
            queue: "defualt".into(),
            reason: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no queue named"), "{err}");
    assert_eq!(audit_rows(pool).await, 3);
}

#[tokio::test]
async fn river_refuses_reset_stuck_with_its_reason() {
    let db = common::test_db().await;
    let g = river(&db.pool).await;
    let err = g
        .plan(&Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("River's rescuer"), "{err}");
    assert_eq!(audit_rows(&db.pool).await, 0);
}

#[tokio::test]
async fn without_the_audit_table_no_action_runs() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, RIVER).await;
    exec(pool, "DROP SCHEMA jobtop CASCADE").await;
    let backend = river::open(pool.clone(), "public").await.unwrap();
    assert!(!backend.capabilities().actions.audit.yes());
    let g = gate(backend);
    for action in [
        Action::Retry(matching("default", JobState::Dead)),
        Action::Pause {
            queue: "default".into(),
            reason: None,
        },
    ] {
        let err = g.plan(&action).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("run `jobtop migrate --side-tables URL`"),
            "{err}"
        );
    }
    let dead: i64 = one(
        pool,
        "SELECT count(*) FROM river_job WHERE state = 'discarded'",
    )
    .await;
    assert_eq!(dead, 2);
}

// ---------------------------------------------------------------- Oban

async fn oban(pool: &PgPool) -> Gate {
    load(pool, OBAN).await;
    gate(oban::open(pool.clone(), "public").await.unwrap())
}

#[tokio::test]
async fn oban_retry_cancel_discard_delete() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = oban(pool).await;
    // The discarded job used every attempt: retry gives it one more, like Oban.retry_job.
    exec(
        pool,
        "UPDATE oban_jobs SET max_attempts = attempt WHERE state = 'discarded'",
    )
    .await;
    let (_, out) = act(&g, Action::Retry(matching("default", JobState::Dead))).await;
    assert_eq!(out.changed, 1);
    let r = sqlx::query(
        "SELECT state::text, attempt, max_attempts, discarded_at IS NULL AS cleared, \
         abs(extract(epoch FROM scheduled_at - timezone('UTC', now()))) < 60 AS now_utc \
         FROM oban_jobs WHERE worker = 'App.Sync' AND attempt = 2 AND cardinality(errors) = 2",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (
            r.get::<String, _>(0),
            r.get::<i32, _>(1),
            r.get::<i32, _>(2),
            r.get::<bool, _>(3),
            r.get::<bool, _>(4)
        ),
        ("available".into(), 2, 3, true, true)
    );

    // Cancel the future scheduled ones (suspended included); executing ones are left alone.
    let executing = ids(
        pool,
        "SELECT id FROM oban_jobs WHERE state = 'executing' AND queue = 'default' ORDER BY id",
    )
    .await;
    let (plan, out) = act(&g, Action::Cancel(matching("default", JobState::Scheduled))).await;
    assert_eq!((plan.eligible, out.changed), (3, 3));
    let cancelled: i64 = one(
        pool,
        "SELECT count(*) FROM oban_jobs WHERE state = 'cancelled' AND cancelled_at IS NOT NULL \
         AND worker = 'App.Report'",
    )
    .await;
    assert_eq!(cancelled, 3);
    let (plan, out) = act(
        &g,
        Action::Cancel(JobTarget::Ids(
            executing.iter().map(|&id| id.into()).collect(),
        )),
    )
    .await;
    assert_eq!((plan.eligible, out.changed, out.left_alone), (0, 0, 2));

    // Discard the ready ones (available, and scheduled/retryable already due).
    let (plan, out) = act(&g, Action::Discard(matching("default", JobState::Ready))).await;
    assert_eq!(plan.eligible, 5); // 2 available, 1 due scheduled, 1 due retryable, the retried one
    assert_eq!(out.changed, 5);
    let discarded: i64 = one(
        pool,
        "SELECT count(*) FROM oban_jobs WHERE state = 'discarded' AND discarded_at IS NOT NULL",
    )
    .await;
    assert_eq!(discarded, 5);

    // Delete the cancelled: the fixture's one and the three above.
    let (_, out) = act(&g, Action::Delete(matching("default", JobState::Cancelled))).await;
    assert_eq!(out.changed, 4);
    let left: i64 = one(
        pool,
        "SELECT count(*) FROM oban_jobs WHERE state = 'cancelled'",
    )
    .await;
    assert_eq!(left, 0);
    let still: i64 = one(
        pool,
        "SELECT count(*) FROM oban_jobs WHERE state = 'executing'",
    )
    .await;
    assert_eq!(still, 3);
    // The cancel that found nothing to do changed nothing and wrote no row.
    assert_eq!(audit_rows(pool).await, 4);
}

#[tokio::test]
async fn oban_pause_is_a_signal_on_its_prefix_channel() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = oban(pool).await;
    assert!(!g.backend().capabilities().pause_visible.yes());
    let mut listener = PgListener::connect_with(pool).await.unwrap();
    listener.listen("public.oban_signal").await.unwrap();
    let (plan, out) = act(
        &g,
        Action::Pause {
            queue: "events".into(),
            reason: None,
        },
    )
    .await;
    assert!(plan.note.as_deref().unwrap().contains("nodes' memory"));
    assert_eq!(out.changed, 1);
    let n = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("a signal")
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({"action": "pause", "queue": "events", "ident": "any"})
    );
    let (action, outcome): (String, String) =
        sqlx::query_as("SELECT action, outcome FROM jobtop.audit ORDER BY id DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((action.as_str(), outcome.as_str()), ("pause", "ok"));
    let err = g
        .plan(&Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Lifeline"), "{err}");
}

// ---------------------------------------------------------------- mapped

/// The shipped CE Pro profile plus actions and a pause table of its own.
const CEPRO_ACTING: &str = r#"
name = "cepro-acting"
table = "background_jobs"
queue_name = "background_jobs"

[columns]
id = "id"
kind = "job_type"
status = "status"
run_at = "run_at"
started_at = "locked_at"
finished_at = "completed_at"
attempts = "attempts"
max_attempts = "max_attempts"
worker = "locked_by"
error = "last_error"

[statuses]
pending = "queued"
retrying = "retrying"
processing = "running"
completed = "succeeded"
dead_letter = "dead"

[actions]
retry = "pending"
discard = "dead_letter"
reset_stuck = "pending"
delete = true

[pause]
table = "job_pauses"
queue = "queue"
paused_at = "paused_at"
paused_by = "paused_by"
reason = "reason"
"#;

async fn mapped(pool: &PgPool, text: &str) -> Gate {
    use jobtop::backend::mapped::{self, Profile};
    let profile = Profile::parse("test.toml", text).unwrap();
    gate(mapped::open(pool.clone(), profile, None).await.unwrap())
}

/// The shipped `job_queue` profile: a table keyed by uuid, acted on by uuid.
#[tokio::test]
async fn a_uuid_keyed_table_is_acted_on_by_uuid() {
    use jobtop::backend::mapped::{self, Profile};
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, JOB_QUEUE).await;
    let g = gate(
        mapped::open(pool.clone(), Profile::shipped("job_queue").unwrap(), None)
            .await
            .unwrap(),
    );
    let caps = common::flags(&g.backend().capabilities());
    assert!(caps.actions.retry && caps.actions.cancel && caps.actions.audit);
    assert!(!caps.actions.discard && !caps.pause);

    // Retry the two failed syncs, named by their uuids (as the CLI and a job list give them).
    let failed: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM job_queue WHERE status = 'failed' \
         AND task_type = 'game_platform_sync' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(failed.len(), 2);
    let target: Vec<JobId> = failed.iter().map(|u| u.parse().unwrap()).collect();
    assert!(matches!(target[0], JobId::Text(_)));
    let (plan, out) = act(&g, Action::Retry(JobTarget::Ids(target.clone()))).await;
    assert_eq!(plan.eligible_by_state, vec![(JobState::Dead, 2)]);
    assert_eq!((out.changed, out.skipped), (2, 0));
    let rows: Vec<(String, bool, bool, i32, i32)> = sqlx::query_as(
        "SELECT status, run_at > now() - interval '1 minute', completed_at IS NULL, \
         attempts, max_attempts FROM job_queue WHERE id::text = ANY($1)",
    )
    .bind(&failed)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![("pending".into(), true, true, 5, 6); 2]);
    let keys: Option<Vec<String>> = one(
        pool,
        "SELECT job_keys FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .await;
    let mut keys = keys.unwrap();
    keys.sort();
    assert_eq!(keys, failed);
    let states = g.backend().reads().job_states(&target).await.unwrap();
    assert!(
        states.iter().all(|(_, s)| *s == JobState::Ready),
        "{states:?}"
    );

    // Cancel the scheduled one; the running one is left alone, with the reason.
    let scheduled: String = one(
        pool,
        "SELECT id::text FROM job_queue WHERE status = 'pending' AND run_at > now() + interval '30 minutes'",
    )
    .await;
    let running: String = one(
        pool,
        "SELECT id::text FROM job_queue WHERE status = 'running'",
    )
    .await;
    let (plan, out) = act(
        &g,
        Action::Cancel(JobTarget::Ids(vec![
            scheduled.parse().unwrap(),
            running.parse().unwrap(),
            "00000000-0000-0000-0000-000000000000".parse().unwrap(),
        ])),
    )
    .await;
    assert_eq!(plan.blocked, vec![(JobState::Running, 1)]);
    assert_eq!(plan.missing, 1);
    assert_eq!(out.changed, 1);
    let status: (String, bool) = sqlx::query_as(
        "SELECT status, completed_at IS NOT NULL FROM job_queue WHERE id::text = $1",
    )
    .bind(&scheduled)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(status, ("cancelled".into(), true));
}

#[tokio::test]
async fn mapped_actions_follow_the_profile() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, CEPRO).await;
    exec(
        pool,
        "CREATE TABLE job_pauses (queue text, paused_at timestamptz, paused_by text, reason text)",
    )
    .await;
    let g = mapped(pool, CEPRO_ACTING).await;
    let caps = common::flags(&g.backend().capabilities());
    assert!(caps.actions.retry && caps.actions.discard && caps.actions.delete);
    assert!(caps.actions.reset_stuck && caps.pause && caps.actions.audit);
    assert!(!caps.actions.cancel);

    // Retry the dead-lettered ones: pending, due now, one more attempt, error kept.
    let dead = ids(
        pool,
        "SELECT id FROM background_jobs WHERE status = 'dead_letter' ORDER BY id",
    )
    .await;
    let (_, out) = act(
        &g,
        Action::Retry(matching("background_jobs", JobState::Dead)),
    )
    .await;
    assert_eq!(out.changed, dead.len() as u64);
    let rows: Vec<(String, i32, i32, bool, bool)> = sqlx::query_as(
        "SELECT status, attempts, max_attempts, run_at > now() - interval '1 minute', \
         last_error IS NOT NULL FROM background_jobs WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&dead)
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.0 == "pending" && r.2 == r.1 + 1 && r.3 && r.4),
        "{rows:?}"
    );

    // Discard the retrying ones waiting for later; a race: one is claimed meanwhile.
    let plan = g
        .plan(&Action::Discard(matching(
            "background_jobs",
            JobState::Retrying,
        )))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2);
    exec(
        pool,
        &format!(
            "UPDATE background_jobs SET status = 'processing', locked_by = 'cron-2', \
             locked_at = now() WHERE id = {}",
            plan.ids[0]
        ),
    )
    .await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped), (1, 1));
    let status: String = one(
        pool,
        &format!(
            "SELECT status FROM background_jobs WHERE id = {}",
            plan.ids[1]
        ),
    )
    .await;
    assert_eq!(status, "dead_letter");

    // Reset stuck: the cron runner's two jobs, locked 20 s ago, are stale after 10 s; the
    // one cron-2 just took is not.
    let (plan, out) = act(
        &g,
        Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(10),
        },
    )
    .await;
    assert_eq!((plan.eligible, out.changed), (2, 2));
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT locked_by FROM background_jobs WHERE status = 'processing' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(held, vec!["cron-2".to_string()]);

    // Delete the dead-lettered (the one just discarded).
    let (_, out) = act(
        &g,
        Action::Delete(matching("background_jobs", JobState::Dead)),
    )
    .await;
    assert_eq!(out.changed, 1);

    // Pause adds the queue's row; resume clears it.
    let (_, out) = act(
        &g,
        Action::Pause {
            queue: "background_jobs".into(),
            reason: Some("smtp down".into()),
        },
    )
    .await;
    assert_eq!(out.changed, 1);
    let (by, reason): (String, String) =
        sqlx::query_as("SELECT paused_by, reason FROM job_pauses WHERE paused_at IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((by.as_str(), reason.as_str()), (ACTOR, "smtp down"));
    let (_, out) = act(
        &g,
        Action::Resume {
            queue: "background_jobs".into(),
        },
    )
    .await;
    assert_eq!(out.changed, 1);
    let paused: i64 = one(
        pool,
        "SELECT count(*) FROM job_pauses WHERE paused_at IS NOT NULL",
    )
    .await;
    assert_eq!(paused, 0);

    // Cancel is not in the profile: refused, with the reason.
    let err = g
        .plan(&Action::Cancel(JobTarget::Ids(vec![1.into()])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("[actions]"), "{err}");
    assert_eq!(audit_rows(pool).await, 6);
}

#[tokio::test]
async fn profile_actions_must_name_a_status_of_the_right_state() {
    use jobtop::backend::mapped::Profile;
    let bad = CEPRO_ACTING.replace("discard = \"dead_letter\"", "discard = \"pending\"");
    let err = Profile::parse("bad.toml", &bad).unwrap_err();
    assert_eq!((err.line, err.column), (27, 11));
    assert!(err.message.contains("mapped to dead"), "{err}");
}

// ---------------------------------------------------------------- graphile-worker

async fn graphile(pool: &PgPool) -> Gate {
    load(pool, GRAPHILE).await;
    gate(
        graphile::open(pool.clone(), "graphile_worker")
            .await
            .unwrap(),
    )
}

/// (attempts, max_attempts, run_at is now, locked, last_error) of each job, by id.
async fn graphile_jobs(pool: &PgPool, ids: &[i64]) -> Vec<(i16, i16, bool, bool, Option<String>)> {
    sqlx::query_as(
        "SELECT attempts, max_attempts, abs(extract(epoch FROM run_at - now())) < 60, \
         locked_at IS NOT NULL, last_error FROM graphile_worker._private_jobs \
         WHERE id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn graphile_retry_gives_a_dead_job_one_more_attempt_through_reschedule_jobs() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = graphile(pool).await;
    let (plan, out) = act(&g, Action::Retry(matching("resize_image", JobState::Dead))).await;
    assert_eq!(plan.ids, vec![14, 15]);
    assert_eq!(
        plan.question(),
        "Retry 2 dead jobs in queue `resize_image`?"
    );
    assert_eq!((out.changed, out.skipped, out.exit_code()), (2, 0, 0));
    // Attempts and the last error kept; one more attempt; due now.
    let err = Some("Error: unsupported format".to_string());
    assert_eq!(
        graphile_jobs(pool, &[14, 15]).await,
        vec![
            (3, 4, true, false, err.clone()),
            (3, 4, true, false, err.clone())
        ]
    );
    // Dead jobs of different attempt counts and a retrying one, in one batch.
    exec(
        pool,
        "UPDATE graphile_worker._private_jobs SET attempts = 5, max_attempts = 5 WHERE id = 14",
    )
    .await;
    exec(
        pool,
        "UPDATE graphile_worker._private_jobs SET run_at = now() + interval '1 day' WHERE id = 15",
    )
    .await;
    let (plan, out) = act(&g, Action::Retry(JobTarget::Ids(job_ids(&[7, 11, 14])))).await;
    assert_eq!(
        plan.eligible_by_state,
        vec![(JobState::Retrying, 1), (JobState::Dead, 2)]
    );
    assert_eq!(out.changed, 3);
    assert_eq!(
        graphile_jobs(pool, &[7, 11, 14]).await,
        vec![
            (1, 25, true, false, Some("Error: 502".into())),
            (25, 26, true, false, Some("Error: invalid address".into())),
            (5, 6, true, false, err),
        ]
    );
    let mut states = int_states(
        g.backend()
            .reads()
            .job_states(&job_ids(&[7, 11, 14, 15]))
            .await
            .unwrap(),
    );
    states.sort();
    assert_eq!(
        states,
        vec![
            (7, JobState::Ready),
            (11, JobState::Ready),
            (14, JobState::Ready),
            (15, JobState::Retrying)
        ]
    );
    let (actor, action, queue, job_ids, count, outcome) = last_audit(pool).await;
    assert!(actor.starts_with("bob@jump-2 ("), "{actor}");
    assert_eq!(
        (action.as_str(), queue, job_ids, count, outcome.as_str()),
        ("retry", None, Some(vec![7, 11, 14]), 3, "ok")
    );
}

#[tokio::test]
async fn graphile_discard_permanently_fails_and_delete_completes_dead_jobs() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = graphile(pool).await;
    // A ready job and a running one: the running one is left alone.
    let (plan, out) = act(&g, Action::Discard(JobTarget::Ids(job_ids(&[1, 9])))).await;
    assert_eq!(
        (plan.ids.clone(), plan.blocked.clone()),
        (job_ids(&[1]), vec![(JobState::Running, 1)])
    );
    assert_eq!((out.changed, out.left_alone), (1, 1));
    assert_eq!(
        graphile_jobs(pool, &[1, 9]).await,
        vec![
            (
                25,
                25,
                false,
                false,
                Some("discarded by jobtop (bob@jump-2)".into())
            ),
            (1, 25, true, true, None),
        ]
    );
    assert_eq!(
        int_states(
            g.backend()
                .reads()
                .job_states(&job_ids(&[1]))
                .await
                .unwrap()
        ),
        vec![(1, JobState::Dead)]
    );

    // Delete: send_email's dead jobs (the one just discarded and the exhausted one) go.
    let (plan, out) = act(&g, Action::Delete(matching("send_email", JobState::Dead))).await;
    assert_eq!(plan.ids, vec![1, 11]);
    assert_eq!(out.changed, 2);
    let left: Vec<i64> = ids(
        pool,
        "SELECT id FROM graphile_worker._private_jobs WHERE id IN (1, 11, 14, 15) ORDER BY id",
    )
    .await;
    assert_eq!(left, vec![14, 15]);
    let outcomes: Vec<String> = ids_text(pool).await;
    assert_eq!(outcomes, vec!["discard:partial:1", "delete:ok:2"]);
}

async fn ids_text(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT action || ':' || outcome || ':' || count FROM jobtop.audit ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn graphile_a_job_locked_after_the_plan_is_not_counted() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = graphile(pool).await;
    for action in [
        Action::Retry(JobTarget::Ids(job_ids(&[7]))),
        Action::Discard(JobTarget::Ids(job_ids(&[7]))),
    ] {
        let plan = g.plan(&action).await.unwrap();
        assert_eq!(plan.ids, vec![7]);
        // A worker claims it between the confirmation and the batch.
        exec(
            pool,
            "UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'worker-c', \
             attempts = attempts + 1 WHERE id = 7",
        )
        .await;
        let out = run(&g, &plan).await;
        assert_eq!((out.changed, out.skipped), (0, 1), "{:?}", plan.kind());
        assert_eq!(
            graphile_jobs(pool, &[7]).await,
            vec![(2, 25, false, true, Some("Error: 502".into()))]
        );
        exec(
            pool,
            "UPDATE graphile_worker._private_jobs SET locked_at = NULL, locked_by = NULL, \
             attempts = 1 WHERE id = 7",
        )
        .await;
    }
    // graphile's functions skip a job locked in the last 4 hours on their own, too.
    let n: i64 = one(
        pool,
        "SELECT count(*) FROM graphile_worker.reschedule_jobs(ARRAY[9, 10, 12]::bigint[], run_at => now())",
    )
    .await;
    assert_eq!(n, 0);
}

#[tokio::test]
async fn graphile_refuses_cancel_pause_and_purge_with_reasons() {
    let db = common::test_db().await;
    let g = graphile(&db.pool).await;
    let caps = common::flags(&g.backend().capabilities()).actions;
    assert_eq!(
        (
            caps.retry,
            caps.cancel,
            caps.discard,
            caps.delete,
            caps.reset_stuck,
            caps.purge,
            caps.audit
        ),
        (true, false, true, true, true, false, true)
    );
    let refusal = |action: Action| {
        let g = &g;
        async move { g.plan(&action).await.unwrap_err().to_string() }
    };
    let err = refusal(Action::Cancel(JobTarget::Ids(job_ids(&[1])))).await;
    assert!(
        err.contains("no cancelled state: discard (D, or `jobtop discard`)"),
        "{err}"
    );
    let err = refusal(Action::Pause {
        queue: "send_email".into(),
        reason: None,
    })
    .await;
    assert!(err.contains("graphile-worker has no pause"), "{err}");
    let err = refusal(Action::Purge {
        states: vec![JobState::Dead],
        older_than: Duration::from_secs(60),
        queue: None,
    })
    .await;
    assert!(err.contains("deletes completed jobs itself"), "{err}");
    assert_eq!(audit_rows(&db.pool).await, 0);
    let ready: i64 = one(
        &db.pool,
        "SELECT count(*) FROM graphile_worker._private_jobs WHERE id = 1 AND attempts = 0",
    )
    .await;
    assert_eq!(ready, 1);
}

fn reset(queue: Option<&str>, worker: Option<&str>) -> Action {
    Action::ResetStuck {
        queue: queue.map(str::to_string),
        worker: worker.map(str::to_string),
        stale_after: Duration::from_secs(60),
    }
}

/// (job id, locked_by) of every locked job, and the locked job queues.
async fn graphile_locks(pool: &PgPool) -> (Vec<(i64, String)>, Vec<String>) {
    let jobs = sqlx::query_as(
        "SELECT id, locked_by FROM graphile_worker._private_jobs WHERE locked_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let queues = sqlx::query_scalar(
        "SELECT queue_name FROM graphile_worker._private_job_queues WHERE locked_at IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (jobs, queues)
}

#[tokio::test]
async fn graphile_reset_stuck_unlocks_whole_gone_workers_only() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = graphile(pool).await;
    // Nobody has been quiet for a minute yet: nothing is stuck.
    let plan = g.plan(&reset(None, None)).await.unwrap();
    assert_eq!(plan.eligible, 0);

    // worker-a has locked nothing for 10 minutes; it also holds nightly_report's job.
    exec(
        pool,
        "UPDATE graphile_worker._private_jobs SET locked_at = now() - interval '10 minutes', \
         locked_by = 'worker-a' WHERE locked_by = 'worker-a' OR id = 16",
    )
    .await;
    // A queue filter picks workers: every job worker-a holds comes along, and the plan says so.
    let plan = g.plan(&reset(Some("send_email"), None)).await.unwrap();
    assert_eq!(plan.ids, vec![9, 10, 16]);
    assert_eq!(
        plan.question(),
        "Reset 3 stuck jobs of 2 kinds in 2 queues?"
    );
    let note = plan.note.clone().unwrap();
    assert!(
        note.contains("worker `worker-a` locked nothing for 60s")
            && note.contains("every job and job queue it holds is released"),
        "{note}"
    );
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped), (3, 0));
    assert_eq!(
        graphile_locks(pool).await,
        (
            vec![(12, "worker-b".to_string())],
            vec!["images".to_string()]
        )
    );
    let mut states = int_states(
        g.backend()
            .reads()
            .job_states(&job_ids(&[9, 16]))
            .await
            .unwrap(),
    );
    states.sort();
    assert_eq!(
        states,
        vec![(9, JobState::Ready), (16, JobState::Scheduled)]
    );

    // worker-b's job lock is old but its lock on the `images` queue is fresh: alive.
    exec(
        pool,
        "UPDATE graphile_worker._private_jobs SET locked_at = now() - interval '10 minutes' \
         WHERE locked_by = 'worker-b'",
    )
    .await;
    assert_eq!(
        g.plan(&reset(None, Some("worker-b")))
            .await
            .unwrap()
            .eligible,
        0
    );
    exec(
        pool,
        "UPDATE graphile_worker._private_job_queues SET locked_at = now() - interval '10 minutes'",
    )
    .await;
    let plan = g.plan(&reset(None, Some("worker-b"))).await.unwrap();
    assert_eq!(plan.ids, vec![12]);

    // Between plan and batch worker-b claims another job: it is alive, nothing is unlocked.
    exec(
        pool,
        "UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'worker-b' WHERE id = 13",
    )
    .await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped), (0, 1));
    let (jobs, queues) = graphile_locks(pool).await;
    assert_eq!((jobs.len(), queues), (2, vec!["images".to_string()]));

    // Quiet again: its job and its job queue are released.
    exec(
        pool,
        "UPDATE graphile_worker._private_jobs SET locked_at = NULL, locked_by = NULL WHERE id = 13",
    )
    .await;
    let (_, out) = act(&g, reset(None, Some("worker-b"))).await;
    assert_eq!(out.changed, 1);
    assert_eq!(graphile_locks(pool).await, (Vec::new(), Vec::new()));
    let outcomes = ids_text(pool).await;
    assert_eq!(
        outcomes,
        vec![
            "reset_stuck:ok:3",
            "reset_stuck:partial:0",
            "reset_stuck:ok:1"
        ]
    );
}

#[tokio::test]
async fn graphile_offers_only_the_actions_whose_admin_function_exists() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, GRAPHILE).await;
    // As before graphile-worker 0.16: no force_unlock_workers.
    exec(pool, "DROP FUNCTION graphile_worker.force_unlock_workers").await;
    let backend = graphile::open(pool.clone(), "graphile_worker")
        .await
        .unwrap();
    let caps = common::flags(&backend.capabilities()).actions;
    assert_eq!((caps.retry, caps.reset_stuck), (true, false));
    let finding = backend
        .doctor_plan()
        .findings
        .iter()
        .find(|c| c.name == "admin functions")
        .map(|c| c.message.clone())
        .unwrap();
    assert!(
        finding.starts_with("no force_unlock_workers in schema graphile_worker"),
        "{finding}"
    );
    let g = gate(backend);
    let err = g.plan(&reset(None, None)).await.unwrap_err().to_string();
    assert!(
        err.contains("before 0.16 has no force_unlock_workers"),
        "{err}"
    );
}

fn job_ids(v: &[i64]) -> Vec<JobId> {
    v.iter().map(|&id| JobId::Int(id)).collect()
}

fn int_states(states: Vec<(JobId, JobState)>) -> Vec<(i64, JobState)> {
    states
        .into_iter()
        .map(|(id, s)| (id.as_int().expect("a bigint id"), s))
        .collect()
}
