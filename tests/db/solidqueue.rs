//! The Solid Queue backend against real PostgreSQL, on tests/fixtures/solidqueue.sql (Solid
//! Queue 1.5.0's queue_schema.rb rendered as PostgreSQL DDL, with rows in every state):
//! detection from a bare URL, and the actions through the gate with the rows they change
//! in Solid Queue's own tables and their audit rows. The conformance suite
//! (tests/conformance/expect/solidqueue.toml) checks the figures, lists and states.
//!
//! The fixture, by id: default 1-2 ready, 3-4 scheduled, 5 blocked, 6-7 claimed (7 by the
//! stopped worker 3), 8 failed, 10-12 finished; mailers 13 ready, 14 claimed, 9 failed
//! (concurrency key `WelcomeMailJob/user-9`), 15 finished; critical 16 ready (paused);
//! reports 17 finished.

use sqlx::{PgPool, Row};

use jobtop::backend::detect::{self, BackendKind, Selection};
use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, Backend, JobId, JobState, Outcome};

use crate::common::fixture::SOLIDQUEUE;
use crate::common::{self, exec};
use crate::helpers::{matching, run};

const ACTOR: &str = "ana@bastion";

async fn gate(pool: &PgPool) -> Gate {
    exec(pool, SOLIDQUEUE).await;
    let backend = jobtop::backend::solidqueue::open(pool.clone(), "public")
        .await
        .unwrap();
    Gate::with_actor(Backend::new(backend), false, ACTOR.to_string())
}

/// Which execution tables hold job `id`.
async fn held_by(pool: &PgPool, id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT t FROM (VALUES \
           ('ready', EXISTS (SELECT 1 FROM solid_queue_ready_executions WHERE job_id = $1)), \
           ('scheduled', EXISTS (SELECT 1 FROM solid_queue_scheduled_executions WHERE job_id = $1)), \
           ('blocked', EXISTS (SELECT 1 FROM solid_queue_blocked_executions WHERE job_id = $1)), \
           ('claimed', EXISTS (SELECT 1 FROM solid_queue_claimed_executions WHERE job_id = $1)), \
           ('failed', EXISTS (SELECT 1 FROM solid_queue_failed_executions WHERE job_id = $1)) \
         ) AS x(t, held) WHERE held",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The last audit row: action, queue, job ids, count, outcome.
async fn last_audit(pool: &PgPool) -> (String, Option<String>, Vec<i64>, i64, String) {
    let r = sqlx::query(
        "SELECT action, queue, coalesce(job_ids, '{}'), count, outcome \
         FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

#[tokio::test]
async fn a_bare_url_finds_solid_queue() {
    let db = common::test_db().await;
    exec(&db.pool, SOLIDQUEUE).await;
    let (chosen, backend) = detect::resolve(&db.pool, &Selection::default())
        .await
        .unwrap();
    assert_eq!(
        (chosen.backend, chosen.schema.as_str()),
        (BackendKind::SolidQueue, "public")
    );
    assert_eq!(chosen.flags(), "--backend solid-queue --schema public");
    assert_eq!(backend.name(), "solid-queue");
    let caps = common::flags(&backend.capabilities());
    assert_eq!(
        caps.actions,
        common::ActionFlags {
            retry: true,
            cancel: false,
            discard: false,
            delete: true,
            reset_stuck: false,
            purge: true,
            audit: true,
        }
    );
    assert!(caps.pause && caps.heartbeats && caps.workers);
}

#[tokio::test]
async fn retry_moves_a_failed_execution_to_ready_or_blocked_with_its_audit_row() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;

    let plan = g
        .plan(&Action::Retry(matching("default", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.ids, vec![JobId::Int(8)]);
    // The confirmation says the error goes (Solid Queue keeps none once retried).
    assert!(
        plan.details()[0].contains("its error with it"),
        "{:?}",
        plan.details()
    );
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.outcome()), (1, Outcome::Ok));
    assert_eq!(held_by(pool, 8).await, ["ready"]);
    // The ready execution takes the job's queue and priority, as Solid Queue's dispatch does.
    let (queue, priority): (String, i32) = sqlx::query_as(
        "SELECT queue_name, priority FROM solid_queue_ready_executions WHERE job_id = 8",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((queue.as_str(), priority), ("default", 0));
    assert_eq!(
        last_audit(pool).await,
        (
            "retry".into(),
            Some("default".into()),
            vec![8],
            1,
            "ok".into()
        )
    );

    // A job with a concurrency key goes through its semaphore: blocked, due for release.
    let plan = g
        .plan(&Action::Retry(matching("mailers", JobState::Dead)))
        .await
        .unwrap();
    let out = run(&g, &plan).await;
    assert_eq!(out.changed, 1);
    assert_eq!(held_by(pool, 9).await, ["blocked"]);
    let released: bool = sqlx::query_scalar(
        "SELECT concurrency_key = 'WelcomeMailJob/user-9' AND expires_at <= timezone('UTC', now()) \
         FROM solid_queue_blocked_executions WHERE job_id = 9",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(released);

    // Nothing else is retried: scheduled jobs keep their execution.
    let plan = g
        .plan(&Action::Retry(matching("default", JobState::Scheduled)))
        .await
        .unwrap();
    assert!(plan.ids.is_empty(), "{:?}", plan.ids);
    assert_eq!(held_by(pool, 3).await, ["scheduled"]);
}

#[tokio::test]
async fn delete_removes_a_failed_job_and_its_execution() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let plan = g
        .plan(&Action::Delete(matching("default", JobState::Dead)))
        .await
        .unwrap();
    let out = run(&g, &plan).await;
    assert_eq!(out.changed, 1);
    let left: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM solid_queue_jobs WHERE id = 8), \
                (SELECT count(*) FROM solid_queue_failed_executions)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    // Job 9's failed execution (mailers) stays.
    assert_eq!(left, (0, 1));
    assert_eq!(
        last_audit(pool).await,
        (
            "delete".into(),
            Some("default".into()),
            vec![8],
            1,
            "ok".into()
        )
    );
}

#[tokio::test]
async fn pause_and_resume_write_solid_queue_pauses() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let paused = |q: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM solid_queue_pauses WHERE queue_name = $1",
        )
        .bind(q)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let pause = Action::Pause {
        queue: "default".into(),
        reason: None,
    };
    let out = run(&g, &g.plan(&pause).await.unwrap()).await;
    assert_eq!(out.changed, 1);
    assert_eq!(paused("default").await, 1);
    assert_eq!(
        last_audit(pool).await,
        (
            "pause".into(),
            Some("default".into()),
            vec![],
            1,
            "ok".into()
        )
    );
    // Paused already: nothing to do.
    let again = g.plan(&pause).await.unwrap();
    assert_eq!(again.eligible, 0);
    assert_eq!(
        again.note.as_deref(),
        Some("queue `default` is already paused")
    );

    let resume = Action::Resume {
        queue: "critical".into(),
    };
    let out = run(&g, &g.plan(&resume).await.unwrap()).await;
    assert_eq!(out.changed, 1);
    assert_eq!(paused("critical").await, 0);
    assert!(
        g.plan(&Action::Pause {
            queue: "nope".into(),
            reason: None
        })
        .await
        .is_err()
    );
}

/// Solid Queue's recurring tasks as schedules: each task's runs are its recurring
/// executions, their status their jobs' (finished, failed with the error), read through the
/// snapshot as the monitor reads them.
#[tokio::test]
async fn recurring_tasks_are_schedules() {
    use jobtop::backend::SnapshotOptions;
    use jobtop::backend::schedules::RunStatus;

    let db = common::test_db().await;
    exec(&db.pool, SOLIDQUEUE).await;
    // What Solid Queue's scheduler leaves: tasks from recurring.yml, an execution per run
    // enqueued (jobs 10 and 11 finished, 8 failed), one task that never ran.
    exec(
        &db.pool,
        "INSERT INTO solid_queue_recurring_tasks
           (key, schedule, class_name, command, static, created_at, updated_at) VALUES
           ('sync_accounts', '*/5 * * * *', 'SyncJob', NULL, true, now(), now()),
           ('weekly_report', 'every week', 'ReportJob', NULL, true, now(), now()),
           ('cleanup', '0 3 * * *', NULL, 'SolidQueue::Job.clear_finished_in_batches', true,
            now(), now());
         INSERT INTO solid_queue_recurring_executions (job_id, task_key, run_at, created_at)
         SELECT j.id, t.key, j.scheduled_at, j.created_at
         FROM (VALUES (8, 'sync_accounts'), (10, 'sync_accounts'), (11, 'sync_accounts'),
                      (12, 'weekly_report')) AS t(id, key)
         JOIN solid_queue_jobs j ON j.id = t.id",
    )
    .await;
    let backend = detect::open(
        &db.pool,
        &detect::Detected {
            backend: BackendKind::SolidQueue,
            schema: "public".into(),
            profile: None,
        },
    )
    .await
    .unwrap()
    .with_schedules(db.pool.clone());
    let snap = backend
        .overview()
        .snapshot(&SnapshotOptions::default())
        .await
        .unwrap();
    let found = snap.schedules.expect("schedules read");
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.present, ["solid_queue"]);
    let names: Vec<&str> = found.schedules.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cleanup", "sync_accounts", "weekly_report"]);

    let cleanup = &found.schedules[0];
    assert!(cleanup.runs.is_empty());
    assert_eq!(
        cleanup.command.as_deref(),
        Some("SolidQueue::Job.clear_finished_in_batches")
    );
    assert_eq!(cleanup.period_seconds, Some(86_400.0));

    let sync = &found.schedules[1];
    assert_eq!(sync.source, "solid_queue");
    assert_eq!(sync.period_seconds, Some(300.0));
    assert!(sync.next_due_at.is_some());
    let statuses: Vec<RunStatus> = sync.runs.iter().map(|r| r.status).collect();
    // Newest first: job 10 (due 320 s ago), 8 (400 s), 11 (2 h).
    assert_eq!(
        statuses,
        [
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Succeeded
        ]
    );
    assert_eq!(
        sync.runs[1].message.as_deref(),
        Some("RuntimeError: upstream said \"no\"")
    );
    assert_eq!(sync.failures_24h.value, 1);
    assert!(!sync.failures_24h.capped);

    // Solid Queue's natural-language schedules are shown as written, without a next run.
    let weekly = &found.schedules[2];
    assert_eq!((weekly.period_seconds, weekly.next_due_at), (None, None));
    assert_eq!(weekly.runs[0].status, RunStatus::Succeeded);
}
