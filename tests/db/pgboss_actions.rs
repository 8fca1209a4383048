//! pg-boss's actions against real PostgreSQL, on the partitioned fixture (tests/fixtures/
//! pgboss.sql): retry, cancel and delete through the gate with their effect on the rows, a job
//! a worker fetched between the plan and its batch, a queue policy refusing a batch, the
//! refusals with their reasons, the uuids in the audit row, the monitor's confirmation and
//! report (as state, and in the real binary on a terminal), and `jobtop retry|cancel <uuid>`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::KeyCode;
use sqlx::{AssertSqlSafe, PgPool, Row};

use jobtop::app::actions::{Choice, Dialog, Level};
use jobtop::app::{App, Msg};
use jobtop::backend::engine::foreign::Foreign;
use jobtop::backend::gate::Gate;
use jobtop::backend::pgboss;
use jobtop::backend::{
    Action, Backend, JobFilter, JobId, JobState, JobTarget, Outcome, SnapshotOptions,
};

use crate::actions_ui::{code, key, planned_request, run_of};
use crate::cli;
use crate::common::fixture::PGBOSS;
use crate::common::{self, exec, load};
use crate::helpers::{audit_rows, db_now, matching, run};
use crate::pty;
use crate::ui_data;

const ACTOR: &str = "dana@jump-3";

async fn backend(pool: &PgPool) -> Foreign {
    load(pool, PGBOSS).await;
    pgboss::open(pool.clone(), "pgboss").await.unwrap()
}

async fn gate(pool: &PgPool) -> Gate {
    Gate::with_actor(Backend::new(backend(pool).await), false, ACTOR.to_string())
}

/// The uuids of the jobs `cond` picks (a condition on `j`), oldest start first.
async fn uuids(pool: &PgPool, cond: &str) -> Vec<JobId> {
    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT j.id::text FROM pgboss.job j WHERE {cond} ORDER BY j.start_after, j.id"
    )))
    .fetch_all(pool)
    .await
    .unwrap();
    ids.into_iter().map(JobId::Text).collect()
}

fn texts(ids: &[JobId]) -> Vec<String> {
    JobId::texts(ids)
}

struct Row_ {
    state: String,
    retry_limit: i32,
    start_after: DateTime<Utc>,
    completed_on: Option<DateTime<Utc>>,
    keep_until: DateTime<Utc>,
    blocked: bool,
}

async fn job(pool: &PgPool, id: &JobId) -> Option<Row_> {
    sqlx::query(
        "SELECT state::text, retry_limit, start_after, completed_on, keep_until, blocked \
         FROM pgboss.job WHERE id = $1::uuid",
    )
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .unwrap()
    .map(|r| Row_ {
        state: r.get(0),
        retry_limit: r.get(1),
        start_after: r.get(2),
        completed_on: r.get(3),
        keep_until: r.get(4),
        blocked: r.get(5),
    })
}

/// The last audit row: (actor, action, queue, job_keys sorted, job_ids, count, outcome).
async fn last_audit(
    pool: &PgPool,
) -> (
    String,
    String,
    Option<String>,
    Option<Vec<String>>,
    Option<Vec<i64>>,
    i64,
    String,
) {
    let r = sqlx::query(
        "SELECT actor, action, queue, \
           (SELECT array_agg(k ORDER BY k) FROM unnest(job_keys) k), job_ids, count, outcome \
         FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
    )
}

fn sorted(ids: &[JobId]) -> Vec<String> {
    let mut v = texts(ids);
    v.sort();
    v
}

#[tokio::test]
async fn retry_of_failed_jobs_is_pgboss_retry_due_now_with_one_more_attempt() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    // emails' failed jobs have used all their attempts (3 of 3).
    exec(
        pool,
        "UPDATE pgboss.job SET retry_limit = 3 WHERE name = 'emails' AND state = 'failed'",
    )
    .await;
    let failed = uuids(pool, "j.name = 'emails' AND j.state = 'failed'").await;
    let window: Vec<i64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM keep_until - start_after)::bigint FROM pgboss.job \
         WHERE name = 'emails' AND state = 'failed' ORDER BY start_after, id",
    )
    .fetch_all(pool)
    .await
    .unwrap();

    let plan = g
        .plan(&Action::Retry(matching("emails", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2);
    assert_eq!(sorted(&plan.ids), sorted(&failed));
    assert_eq!(plan.question(), "Retry 2 dead jobs in queue `emails`?");
    let before = db_now(pool).await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped, out.left_alone), (2, 0, 0));
    assert_eq!(out.outcome(), Outcome::Ok);
    assert_eq!(out.summary(), "retried 2 jobs");

    for (id, window) in failed.iter().zip(&window) {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "retry");
        assert_eq!(j.retry_limit, 4, "one more attempt than the 3 used");
        assert_eq!(j.completed_on, None);
        assert!(j.start_after >= before, "due now");
        // keep_until slides with start_after: the same retention window from now.
        assert_eq!((j.keep_until - j.start_after).num_seconds(), *window);
    }
    let states = g.backend().reads().job_states(&failed).await.unwrap();
    assert_eq!(states.len(), 2);
    assert!(
        states.iter().all(|(_, s)| *s == JobState::Ready),
        "{states:?}"
    );

    let (actor, action, queue, keys, ints, count, outcome) = last_audit(pool).await;
    assert!(actor.starts_with("dana@jump-3 ("), "{actor}");
    assert_eq!(
        (action.as_str(), queue.as_deref(), count, outcome.as_str()),
        ("retry", Some("emails"), 2, "ok")
    );
    assert_eq!(keys, Some(sorted(&failed)), "the uuids are in job_keys");
    assert_eq!(ints, None);

    // A job that failed with attempts left (dead-lettered at once) keeps its limit.
    let reports = uuids(pool, "j.name = 'reports' AND j.state = 'failed'").await;
    let (_, out) = {
        let plan = g
            .plan(&Action::Retry(JobTarget::Ids(reports.clone())))
            .await
            .unwrap();
        let out = run(&g, &plan).await;
        (plan, out)
    };
    assert_eq!(out.changed, 1);
    let j = job(pool, &reports[0]).await.unwrap();
    assert_eq!((j.state.as_str(), j.retry_limit), ("retry", 2));
    // Its dead-letter copy stays where it is, as pg-boss's own retry leaves it.
    let dlq: i64 = sqlx::query_scalar("SELECT count(*) FROM pgboss.job WHERE name = 'reports_dlq'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(dlq, 1);
}

#[tokio::test]
async fn retry_makes_retrying_and_scheduled_jobs_due_and_resumes_cancelled_ones() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let retrying = uuids(
        pool,
        "j.name = 'emails' AND j.state = 'retry' AND j.start_after > now()",
    )
    .await;
    let scheduled = uuids(
        pool,
        "j.name = 'emails' AND j.state = 'created' AND j.start_after > now() AND NOT j.blocked",
    )
    .await;
    let blocked = uuids(pool, "j.blocked").await;
    let cancelled = uuids(pool, "j.state = 'cancelled'").await;
    let active = uuids(pool, "j.name = 'emails' AND j.state = 'active'").await;
    let ready = uuids(pool, "j.name = 'reports' AND j.state = 'created'").await;
    assert_eq!(
        (
            retrying.len(),
            scheduled.len(),
            blocked.len(),
            cancelled.len()
        ),
        (2, 2, 1, 1)
    );
    let mut target = [
        &retrying[..],
        &scheduled[..],
        &blocked[..],
        &cancelled[..],
        &active[..1],
        &ready[..],
    ]
    .concat();
    target.push(JobId::Text("00000000-0000-4000-8000-000000000000".into()));
    let plan = g
        .plan(&Action::Retry(JobTarget::Ids(target)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 6);
    assert_eq!(
        plan.eligible_by_state,
        vec![
            (JobState::Scheduled, 3),
            (JobState::Retrying, 2),
            (JobState::Cancelled, 1)
        ]
    );
    assert_eq!(
        plan.blocked,
        vec![(JobState::Ready, 1), (JobState::Running, 1)]
    );
    assert_eq!(plan.missing, 1);
    assert_eq!(plan.queues, vec!["emails".to_string()]);
    let before = db_now(pool).await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.left_alone), (6, 3));
    assert_eq!(out.summary(), "retried 6 jobs; 3 left alone");
    assert_eq!(out.outcome(), Outcome::Partial);

    for id in &retrying {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "retry", "a retrying job keeps its state");
        assert!(j.start_after >= before);
    }
    for id in &scheduled {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "created");
        assert!(j.start_after >= before);
    }
    let j = job(pool, &cancelled[0]).await.unwrap();
    assert_eq!(
        (j.state.as_str(), j.completed_on),
        ("created", None),
        "resumed"
    );
    assert!(j.start_after >= before);
    // A job waiting on other jobs still waits for them.
    let j = job(pool, &blocked[0]).await.unwrap();
    assert!(j.blocked);
    let states = g.backend().reads().job_states(&blocked).await.unwrap();
    assert_eq!(states, vec![(blocked[0].clone(), JobState::Scheduled)]);
    // Left alone: the running one and the ready one.
    assert_eq!(job(pool, &active[0]).await.unwrap().state, "active");
    let snap = g
        .backend()
        .reads()
        .snapshot(&SnapshotOptions::default())
        .await
        .unwrap();
    let emails = snap.queues.iter().find(|q| q.name == "emails").unwrap();
    // 4 ready before (3 created + 1 retry), now + 2 retrying + 2 scheduled + 1 resumed;
    // the blocked one still waits (scheduled: pg-boss's own index finds it).
    assert_eq!(emails.ready.value, 9);
    assert_eq!((emails.scheduled.value, emails.retrying.value), (1, 0));
}

#[tokio::test]
async fn cancel_takes_waiting_jobs_and_leaves_active_ones_alone() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let waiting = uuids(
        pool,
        "j.name = 'emails' AND j.state < 'active' AND NOT j.blocked",
    )
    .await;
    let active = uuids(pool, "j.name = 'emails' AND j.state = 'active'").await;
    assert_eq!(waiting.len(), 8);
    let target = [&waiting[..], &active[..]].concat();
    let plan = g
        .plan(&Action::Cancel(JobTarget::Ids(target)))
        .await
        .unwrap();
    let by_state: std::collections::BTreeMap<JobState, u64> =
        plan.eligible_by_state.iter().copied().collect();
    assert_eq!(
        (
            by_state[&JobState::Ready],
            by_state[&JobState::Scheduled],
            by_state[&JobState::Retrying]
        ),
        (4, 2, 2)
    );
    assert_eq!(plan.blocked, vec![(JobState::Running, 2)]);
    assert!(
        plan.details()
            .iter()
            .any(|l| l.contains("2 running jobs left alone")),
        "{:?}",
        plan.details()
    );
    let before = db_now(pool).await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.left_alone), (8, 2));
    for id in &waiting {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "cancelled");
        assert!(j.completed_on.unwrap() >= before);
    }
    for id in &active {
        let j = job(pool, id).await.unwrap();
        assert_eq!((j.state.as_str(), j.completed_on), ("active", None));
    }
    let (_, action, queue, keys, _, count, outcome) = last_audit(pool).await;
    assert_eq!(
        (action.as_str(), queue.as_deref(), count, outcome.as_str()),
        ("cancel", Some("emails"), 8, "partial")
    );
    assert_eq!(keys, Some(sorted(&waiting)));

    // By queue and state, as a filtered job list would ask.
    let plan = g
        .plan(&Action::Cancel(matching("reports", JobState::Ready)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 1);
    assert_eq!(run(&g, &plan).await.changed, 1);
}

#[tokio::test]
async fn a_job_fetched_between_plan_and_batch_is_not_cancelled_and_is_reported() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let ready = uuids(pool, "j.name = 'reports' AND j.state = 'created'").await;
    let plan = g
        .plan(&Action::Cancel(JobTarget::Ids(ready.clone())))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 1);
    // A pg-boss worker fetches it before the operator confirms.
    exec(
        pool,
        &format!(
            "UPDATE pgboss.job SET state = 'active', started_on = now() \
             WHERE name = 'reports' AND id = '{}'",
            ready[0]
        ),
    )
    .await;
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped), (0, 1));
    assert_eq!(
        out.summary(),
        "cancelled 0 of 1 job; 1 had already moved on"
    );
    assert_eq!(out.exit_code(), 2);
    let j = job(pool, &ready[0]).await.unwrap();
    assert_eq!((j.state.as_str(), j.completed_on), ("active", None));
    let (_, action, _, keys, _, count, outcome) = last_audit(pool).await;
    assert_eq!(
        (action.as_str(), keys, count, outcome.as_str()),
        ("cancel", None, 0, "partial")
    );
}

#[tokio::test]
async fn delete_takes_failed_and_cancelled_jobs_only() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let gone = uuids(
        pool,
        "j.name = 'emails' AND j.state IN ('failed', 'cancelled')",
    )
    .await;
    let created = uuids(pool, "j.name = 'reports' AND j.state = 'created'").await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM pgboss.job")
        .fetch_one(pool)
        .await
        .unwrap();
    let plan = g
        .plan(&Action::Delete(JobTarget::Ids(
            [&gone[..], &created[..]].concat(),
        )))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 3);
    assert_eq!(plan.blocked, vec![(JobState::Ready, 1)]);
    assert!(
        plan.details()
            .iter()
            .any(|l| l.contains("only dead or cancelled jobs can be deleted")),
        "{:?}",
        plan.details()
    );
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.left_alone), (3, 1));
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM pgboss.job")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(after, total - 3);
    for id in &gone {
        assert!(job(pool, id).await.is_none());
    }
    assert_eq!(job(pool, &created[0]).await.unwrap().state, "created");
    let (_, action, _, keys, _, count, _) = last_audit(pool).await;
    assert_eq!((action.as_str(), count), ("delete", 3));
    assert_eq!(keys, Some(sorted(&gone)));
}

#[tokio::test]
async fn discard_pause_and_reset_stuck_are_refused_with_reasons() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let caps = common::flags(&g.backend().capabilities()).actions;
    assert_eq!(
        (
            caps.retry,
            caps.cancel,
            caps.delete,
            caps.discard,
            caps.reset_stuck,
            caps.purge,
            caps.audit
        ),
        (true, true, true, false, false, true, true)
    );
    let cases: Vec<(Action, &str)> = vec![
        (
            Action::Discard(matching("emails", JobState::Ready)),
            "cancel it instead",
        ),
        (
            Action::Pause {
                queue: "emails".into(),
                reason: None,
            },
            "pg-boss has no pause in the database",
        ),
        (
            Action::Resume {
                queue: "emails".into(),
            },
            "pg-boss has no pause in the database",
        ),
        (
            Action::ResetStuck {
                queue: Some("emails".into()),
                worker: None,
                stale_after: Duration::from_secs(60),
            },
            "pg-boss's supervisor fails active jobs past their expiry itself",
        ),
    ];
    for (action, reason) in cases {
        let err = g.plan(&action).await.unwrap_err().to_string();
        assert!(err.contains("the pg-boss backend cannot"), "{err}");
        assert!(err.contains(reason), "{err}");
    }
    // Not a uuid: said plainly, before anything runs.
    let err = g
        .plan(&Action::Retry(JobTarget::Ids(vec![JobId::Int(42)])))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("pg-boss job ids are uuids"), "{err}");
    assert_eq!(audit_rows(pool).await, 0);
}

#[tokio::test]
async fn a_queue_policy_refusing_a_state_fails_the_batch_whole_and_says_why() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    // pg-boss's `stately` policy (the fixture's shared partition carries its unique index
    // job_common_i3, as pg-boss's): one job per state and singleton key up to active.
    exec(
        pool,
        "INSERT INTO pgboss.job (name, state, policy, singleton_key, completed_on) VALUES \
           ('reports', 'cancelled', 'stately', 'daily', now()), \
           ('reports', 'cancelled', 'stately', 'daily', now())",
    )
    .await;
    let twins = uuids(pool, "j.singleton_key = 'daily'").await;
    let plan = g
        .plan(&Action::Retry(JobTarget::Ids(twins.clone())))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2);
    let out = run(&g, &plan).await;
    assert_eq!(out.outcome(), Outcome::Failed);
    let err = out.error.clone().unwrap();
    assert!(err.contains("pg-boss's queue policy refused it"), "{err}");
    assert!(err.contains("job_common_i3"), "{err}");
    for id in &twins {
        assert_eq!(job(pool, id).await.unwrap().state, "cancelled");
    }
    let (_, action, _, _, _, count, outcome) = last_audit(pool).await;
    assert_eq!(
        (action.as_str(), count, outcome.as_str()),
        ("retry", 0, "failed")
    );
}

#[tokio::test]
async fn the_monitor_retries_a_queue_from_the_overview_and_refuses_pause_with_the_reason() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let backend = g.backend().clone();
    let mut config = ui_data::config();
    config.backend = backend.name().to_string();
    config.capabilities = backend.capabilities();
    let now = db_now(pool).await;
    let mut app = App::new(config, Duration::from_secs(1), now);
    let snap = backend
        .reads()
        .snapshot(&SnapshotOptions::default())
        .await
        .unwrap();
    app.update(Msg::Polled {
        result: Ok(snap),
        at: now,
    });
    app.update(key('g'));
    for _ in 0..5 {
        if app.selected_queue.as_deref() == Some("emails") {
            break;
        }
        app.update(key('j'));
    }
    assert_eq!(app.selected_queue.as_deref(), Some("emails"));

    // p: pg-boss has no pause; the footer says why and nothing is asked.
    assert!(app.update(key('p')).is_empty());
    let toast = app.visible_toast().unwrap();
    assert_eq!(toast.level, Level::Warn);
    assert!(
        toast.text.contains("pg-boss has no pause in the database"),
        "{}",
        toast.text
    );

    // R: the queue's dead jobs, looked up, confirmed, retried, reported.
    let effects = app.update(key('R'));
    let (request, action) = planned_request(&effects);
    assert_eq!(action, Action::Retry(matching("emails", JobState::Dead)));
    let plan = g.plan(&action).await.unwrap();
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(plan)),
    });
    let Some(Dialog::Confirm(c)) = &app.actions.dialog else {
        panic!("{:?}", app.actions.dialog)
    };
    assert_eq!(c.plan.question(), "Retry 2 dead jobs in queue `emails`?");
    assert_eq!(c.choices, vec![Choice::Cancel, Choice::Proceed]);
    let screen = ui_data::render(&app, 100, 30);
    assert!(
        screen.contains("Retry 2 dead jobs in queue `emails`?"),
        "{screen}"
    );
    app.update(code(KeyCode::Right));
    let effects = app.update(code(KeyCode::Enter));
    let (run_id, plan) = run_of(&effects);
    let outcome = run(&g, &plan).await;
    app.update(Msg::ActionDone {
        run: run_id,
        result: Ok(Box::new(outcome)),
    });
    let toast = app.visible_toast().unwrap();
    assert_eq!(
        (toast.level, toast.text.as_str()),
        (Level::Ok, "`emails`: retried 2 jobs")
    );
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pgboss.job WHERE name = 'emails' AND state = 'failed'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(failed, 0);
}

/// `jobtop ARGS --backend pg-boss --url …` as erin with no terminal: (status, stdout, stderr).
fn jobtop(db: &common::TestDb, args: &[&str]) -> (i32, String, String) {
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--backend", "pg-boss"])
        .collect();
    cli::run_as("erin", &common::url_for(db), &args)
}

#[tokio::test]
async fn the_action_commands_take_uuids() {
    let db = common::test_db().await;
    let pool = &db.pool;
    backend(pool).await;
    let failed = uuids(pool, "j.name = 'reports' AND j.state = 'failed'").await;
    let id = failed[0].to_string();

    let (status, out, err) = jobtop(&db, &["retry", &id, "--yes"]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Retry dead job {id} in queue `reports`?")),
        "{out}"
    );
    assert!(out.contains("retried 1 job"), "{out}");
    assert_eq!(job(pool, &failed[0]).await.unwrap().state, "retry");
    let (actor, action, _, keys, _, _, _) = last_audit(pool).await;
    assert!(actor.starts_with("erin@"), "{actor}");
    assert_eq!((action.as_str(), keys), ("retry", Some(vec![id.clone()])));

    // The same job again: it is ready now, not dead; nothing to do.
    let (status, out, _) = jobtop(&db, &["retry", &id, "--yes"]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("nothing to retry"), "{out}");

    // Cancel it (jobtop has no delete command: delete is the monitor's, on marked jobs).
    let (status, out, err) = jobtop(&db, &["cancel", &id, "--yes"]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("cancelled 1 job"), "{out}");
    assert_eq!(job(pool, &failed[0]).await.unwrap().state, "cancelled");

    // Cancel of a running job is refused: left alone, exit 2.
    let active = uuids(pool, "j.name = 'reports' AND j.state = 'active'").await;
    let (status, out, _) = jobtop(&db, &["cancel", &active[0].to_string(), "--yes"]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("1 running job left alone"), "{out}");
    assert_eq!(job(pool, &active[0]).await.unwrap().state, "active");

    // By queue and error text (pg-boss keeps the error's message in `output`).
    let (status, out, err) = jobtop(&db, &["retry", "--queue", "emails", "--error", "MAILBOX"]);
    assert_eq!(
        status, 2,
        "no --yes and no terminal: nothing done\n{out}{err}"
    );
    assert!(
        out.contains("Retry 2 dead jobs in queue `emails`?"),
        "{out}"
    );
    let (status, out, _) = jobtop(
        &db,
        &["retry", "--queue", "emails", "--error", "smtp", "--yes"],
    );
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("nothing to retry"), "{out}");

    // Not a uuid.
    let (status, _, err) = jobtop(&db, &["retry", "42", "--yes"]);
    assert_eq!(status, 2);
    assert!(err.contains("pg-boss job ids are uuids"), "{err}");
}

/// The real binary on a terminal: R on the first queue retries its dead jobs after the
/// confirmation and says so; p says why pg-boss cannot pause.
#[tokio::test(flavor = "multi_thread")]
async fn retrying_a_pgboss_queue_from_the_overview_on_a_terminal() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, PGBOSS).await;
    let url = common::url_for(&db);
    let mut term = pty::Terminal::jobtop(&url, Some("frank"), 30, 120);
    assert!(term.wait_for_text("emails", Duration::from_secs(20)));
    // Queues sort by name: emails first, and selected.
    term.keys(b"p");
    assert!(
        term.wait_for_text("pg-boss has no pause", Duration::from_secs(10)),
        "{}",
        term.text()
    );
    term.keys(b"R");
    assert!(
        term.wait_for_text(
            "Retry 2 dead jobs in queue `emails`?",
            Duration::from_secs(10)
        ),
        "{}",
        term.text()
    );
    term.keys(b"\x1b[C\r");
    assert!(
        term.wait_for_text("`emails`: retried 2 jobs", Duration::from_secs(10)),
        "{}",
        term.text()
    );
    let (failed, actor): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pgboss.job WHERE name = 'emails' AND state = 'failed'), \
           (SELECT actor FROM jobtop.audit WHERE action = 'retry' AND queue = 'emails')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(failed, 0);
    assert!(actor.starts_with("frank@"), "{actor}");
    term.keys(b"q");
    assert!(term.child.wait().unwrap().success());
}

/// uuids say nothing of age: "the oldest N" is by creation time.
#[tokio::test]
async fn a_limited_action_takes_the_oldest_jobs_by_creation_time() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let dead = uuids(pool, "j.name = 'emails' AND j.state = 'failed'").await;
    assert_eq!(dead.len(), 2);
    // Make the larger uuid the older job, so an order by id would pick the other one.
    let mut by_id = texts(&dead);
    by_id.sort();
    exec(
        pool,
        &format!(
            "UPDATE pgboss.job SET created_on = now() - interval '2 days' WHERE id = '{}';
             UPDATE pgboss.job SET created_on = now() - interval '1 day' WHERE id = '{}'",
            by_id[1], by_id[0]
        ),
    )
    .await;
    let plan = g
        .plan(&Action::Retry(JobTarget::Matching {
            filter: JobFilter::queue("emails", JobState::Dead),
            limit: Some(1),
        }))
        .await
        .unwrap();
    assert_eq!(texts(&plan.ids), vec![by_id[1].clone()]);
    assert!(plan.truncated);
}
