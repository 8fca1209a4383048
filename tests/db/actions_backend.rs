//! Actions against a real PostgreSQL, through the gate: every state transition, races,
//! big batches, stopping, atomic audit rows (including failures) and read-only refusal.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use sqlx::{PgPool, Row};

use jobtop::backend::gate::Gate;
use jobtop::backend::native::NativeBackend;
use jobtop::backend::pg::connect::{self, SessionSettings};
use jobtop::backend::{
    Action, AuditFilter, Backend, JobId, JobState, JobTarget, Outcome, Plan, Reads,
};

use crate::common;
use crate::helpers::{matching, no_stop, run};

const ACTOR: &str = "alice@jump-1";

fn gate(pool: &PgPool) -> Gate {
    Gate::with_actor(
        Backend::new(NativeBackend::new(pool.clone())),
        false,
        ACTOR.to_string(),
    )
}

/// Jobs inserted straight into the table in a given raw state, for fixtures the SQL
/// functions would take many steps to reach. Returns their ids in order.
async fn insert(pool: &PgPool, queue: &str, kind: &str, sql_state: &str, n: i64) -> Vec<i64> {
    sqlx::query("INSERT INTO jobtop.queues (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(queue)
        .execute(pool)
        .await
        .unwrap();
    let (run_at, finished, attempts) = match sql_state {
        "dead" => (
            "now() - interval '1 hour'",
            "now() - interval '1 hour'",
            "5",
        ),
        "cancelled" | "succeeded" => (
            "now() - interval '1 hour'",
            "now() - interval '1 hour'",
            "1",
        ),
        "scheduled" => ("now() + interval '1 hour'", "NULL", "0"),
        "retrying" => ("now() + interval '1 hour'", "NULL", "2"),
        "ready" => ("now() - interval '1 minute'", "NULL", "0"),
        "running" => ("now() - interval '1 minute'", "NULL", "1"),
        other => panic!("unknown fixture state {other}"),
    };
    let raw = match sql_state {
        "scheduled" | "ready" => "queued",
        s => s,
    };
    let sql = format!(
        "INSERT INTO jobtop.jobs (queue, kind, state, attempts, max_attempts, run_at, finished_at, \
           last_error, errors, started_at) \
         SELECT $1, $2, '{raw}', {attempts}, 5, {run_at}, {finished}, \
           CASE WHEN {attempts} > 1 THEN 'boom' END, \
           CASE WHEN {attempts} > 1 THEN '[{{\"error\": \"boom\", \"attempt\": 1}}]'::jsonb ELSE '[]' END, \
           CASE WHEN '{raw}' = 'running' THEN now() - interval '1 minute' END \
         FROM generate_series(1, $3) RETURNING id"
    );
    let mut ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(queue)
        .bind(kind)
        .bind(n)
        .fetch_all(pool)
        .await
        .unwrap();
    ids.sort();
    ids
}

#[derive(Debug)]
struct Job {
    state: String,
    run_at_due: bool,
    finished: bool,
    locked: bool,
    attempts: i32,
    max_attempts: i32,
    errors: i64,
}

async fn job(pool: &PgPool, id: i64) -> Option<Job> {
    sqlx::query(
        "SELECT state::text, run_at <= now() AS due, finished_at IS NOT NULL AS finished, \
         locked_by IS NOT NULL AS locked, attempts, max_attempts, \
         jsonb_array_length(errors)::bigint AS errors FROM jobtop.jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .unwrap()
    .map(|r| Job {
        state: r.get(0),
        run_at_due: r.get(1),
        finished: r.get(2),
        locked: r.get(3),
        attempts: r.get(4),
        max_attempts: r.get(5),
        errors: r.get(6),
    })
}

async fn states(pool: &PgPool, ids: &[i64]) -> Vec<String> {
    sqlx::query_scalar("SELECT state::text FROM jobtop.jobs WHERE id = ANY($1) ORDER BY id")
        .bind(ids)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn audit(pool: &PgPool) -> Vec<jobtop::backend::AuditEntry> {
    NativeBackend::new(pool.clone())
        .audit_log(&AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

fn ids(v: &[i64]) -> JobTarget {
    JobTarget::Ids(v.iter().map(|&id| JobId::Int(id)).collect())
}

#[tokio::test]
async fn pause_and_resume_a_queue_and_claim_honours_it() {
    let db = common::test_db().await;
    let pool = &db.pool;
    insert(pool, "mailers", "email.send", "ready", 3).await;
    let gate = gate(pool);

    let plan = gate
        .plan(&Action::Pause {
            queue: "mailers".into(),
            reason: Some("smtp down".into()),
        })
        .await
        .unwrap();
    assert_eq!(plan.eligible, 1);
    assert_eq!(
        plan.question(),
        "Pause queue `mailers` (reason: smtp down)?"
    );
    let out = run(&gate, &plan).await;
    assert_eq!(out.summary(), "paused queue `mailers`");
    assert_eq!(out.exit_code(), 0);

    let row = sqlx::query(
        "SELECT paused_at IS NOT NULL, paused_by, pause_reason FROM jobtop.queues WHERE name = 'mailers'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(row.get::<bool, _>(0));
    assert_eq!(
        row.get::<String, _>(1),
        format!("alice@jump-1 ({})", role(pool).await)
    );
    assert_eq!(row.get::<String, _>(2), "smtp down");
    let claimed: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM jobtop.claim('w1', ARRAY['mailers'], 10)")
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(claimed.is_empty(), "a paused queue gives nothing to claim");

    // Pausing again changes nothing and says who paused it.
    let again = gate
        .plan(&Action::Pause {
            queue: "mailers".into(),
            reason: None,
        })
        .await
        .unwrap();
    assert_eq!(again.eligible, 0);
    let note = again.note.clone().unwrap();
    assert!(
        note.contains(&format!(
            "already paused (by alice@jump-1 ({}) since",
            role(pool).await
        )),
        "{note}"
    );
    assert!(note.ends_with(": smtp down)"), "{note}");

    let resume = gate
        .plan(&Action::Resume {
            queue: "mailers".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        run(&gate, &resume).await.summary(),
        "resumed queue `mailers`"
    );
    let claimed: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM jobtop.claim('w1', ARRAY['mailers'], 10)")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(claimed.len(), 3);

    let err = gate
        .plan(&Action::Pause {
            queue: "nope".into(),
            reason: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "there is no queue named `nope`");

    let log = audit(pool).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "resume");
    assert_eq!(log[1].action, "pause");
    assert_eq!(log[1].outcome, "ok");
    assert_eq!(log[1].queue.as_deref(), Some("mailers"));
    assert_eq!(log[1].actor, format!("alice@jump-1 ({})", role(pool).await));
    assert_eq!(log[1].params["reason"], "smtp down");
}

#[tokio::test]
async fn retry_moves_every_retryable_state_to_ready_and_keeps_history() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dead = insert(pool, "q", "k", "dead", 1).await[0];
    let retrying = insert(pool, "q", "k", "retrying", 1).await[0];
    let scheduled = insert(pool, "q", "k", "scheduled", 1).await[0];
    let cancelled = insert(pool, "q", "k", "cancelled", 1).await[0];
    let ready = insert(pool, "q", "k", "ready", 1).await[0];
    let running = insert(pool, "q", "k", "running", 1).await[0];
    let succeeded = insert(pool, "q", "k", "succeeded", 1).await[0];
    let gate = gate(pool);

    let all = [
        dead, retrying, scheduled, cancelled, ready, running, succeeded,
    ];
    let plan = gate.plan(&Action::Retry(ids(&all))).await.unwrap();
    assert_eq!(plan.ids, vec![dead, retrying, scheduled, cancelled]);
    assert_eq!(
        plan.blocked,
        vec![
            (JobState::Ready, 1),
            (JobState::Running, 1),
            (JobState::Succeeded, 1)
        ]
    );
    let out = run(&gate, &plan).await;
    assert_eq!(out.changed, 4);
    assert_eq!(out.summary(), "retried 4 jobs; 3 left alone");
    assert_eq!(out.outcome(), Outcome::Partial);

    for id in [dead, retrying, scheduled, cancelled] {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "queued", "job {id}");
        assert!(j.run_at_due && !j.finished && !j.locked, "job {id}: {j:?}");
    }
    let d = job(pool, dead).await.unwrap();
    assert_eq!(
        (d.attempts, d.max_attempts, d.errors),
        (5, 6, 1),
        "an exhausted job gets one more attempt; its errors stay"
    );
    assert_eq!(job(pool, retrying).await.unwrap().max_attempts, 5);
    assert_eq!(
        states(pool, &[ready, running, succeeded]).await,
        vec!["queued", "running", "succeeded"]
    );

    // The retried dead job really runs once more, and dies again when it fails.
    let claimed: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.claim('w', ARRAY['q'], 10)")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(claimed.contains(&dead));
    let st: String = sqlx::query_scalar("SELECT jobtop.fail($1, 'w', 'again')::text")
        .bind(dead)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(st, "dead");
    assert_eq!(job(pool, dead).await.unwrap().errors, 2);
}

#[tokio::test]
async fn cancel_and_discard_take_waiting_jobs_and_refuse_running_ones() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let ready = insert(pool, "q", "k", "ready", 2).await;
    let scheduled = insert(pool, "q", "k", "scheduled", 1).await[0];
    let retrying = insert(pool, "q", "k", "retrying", 1).await[0];
    let running = insert(pool, "q", "k", "running", 1).await[0];
    let gate = gate(pool);

    let plan = gate
        .plan(&Action::Cancel(ids(&[
            ready[0], scheduled, retrying, running, 999_999,
        ])))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 3);
    assert_eq!(plan.missing, 1);
    let details = plan.details().join("\n");
    assert!(
        details.contains(
            "1 running job left alone: a running job cannot be stopped by a state change"
        ),
        "{details}"
    );
    assert!(details.contains("1 no longer exist"), "{details}");
    let out = run(&gate, &plan).await;
    assert_eq!(out.summary(), "cancelled 3 jobs; 2 left alone");
    assert_eq!(out.exit_code(), 1);
    for id in [ready[0], scheduled, retrying] {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "cancelled");
        assert!(j.finished);
    }
    assert_eq!(job(pool, running).await.unwrap().state, "running");

    // Cancelling only running jobs offers nothing.
    let none = gate.plan(&Action::Cancel(ids(&[running]))).await.unwrap();
    assert_eq!(none.eligible, 0);
    let out = run(&gate, &none).await;
    assert_eq!(out.summary(), "nothing to cancel; 1 left alone");
    assert_eq!(out.exit_code(), 2);

    let discard = gate
        .plan(&Action::Discard(matching("q", JobState::Ready)))
        .await
        .unwrap();
    assert_eq!(discard.ids, vec![ready[1]]);
    assert_eq!(
        discard.question(),
        format!("Discard ready job {} of kind `k` in queue `q`?", ready[1])
    );
    run(&gate, &discard).await;
    let j = job(pool, ready[1]).await.unwrap();
    assert_eq!(j.state, "dead");
    assert!(j.finished);
    assert_eq!(audit(pool).await.len(), 2, "the empty cancel wrote nothing");
}

#[tokio::test]
async fn delete_takes_only_dead_or_cancelled_and_always_asks_to_type() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dead = insert(pool, "q", "k", "dead", 2).await;
    let cancelled = insert(pool, "q", "k", "cancelled", 1).await[0];
    let ready = insert(pool, "q", "k", "ready", 1).await[0];
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::Delete(ids(&[dead[0], dead[1], cancelled, ready])))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 3);
    assert_eq!(plan.typed_confirmation().as_deref(), Some("q"));
    assert!(
        plan.question().ends_with("in queue `q` for good?"),
        "{}",
        plan.question()
    );
    let out = run(&gate, &plan).await;
    assert_eq!(out.summary(), "deleted 3 jobs; 1 left alone");
    assert!(job(pool, dead[0]).await.is_none());
    assert!(job(pool, cancelled).await.is_none());
    assert_eq!(job(pool, ready).await.unwrap().state, "queued");
    let log = audit(pool).await;
    let mut listed = log[0].job_ids.clone().unwrap();
    listed.sort();
    assert_eq!(listed, vec![dead[0], dead[1], cancelled]);
}

#[tokio::test]
async fn reset_stuck_takes_running_jobs_of_stale_workers_only() {
    let db = common::test_db().await;
    let pool = &db.pool;
    for (w, age) in [("w-dead", 600), ("w-live", 1)] {
        sqlx::query("SELECT jobtop.register_worker($1, 'h', 1, ARRAY['q', 'other'])")
            .bind(w)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE jobtop.workers SET last_heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1",
        )
        .bind(w)
        .bind(age as f64)
        .execute(pool)
        .await
        .unwrap();
    }
    let jobs = insert(pool, "q", "k", "running", 5).await;
    let other = insert(pool, "other", "k", "running", 1).await[0];
    // Two on the dead worker (whose jobs even heartbeat recently: the worker row wins),
    // one on the live worker, one on an unregistered worker with an old job heartbeat and
    // one on an unregistered worker that heartbeat just now.
    let holders = [
        (jobs[0], "w-dead", 5),
        (jobs[1], "w-dead", 5),
        (jobs[2], "w-live", 900),
        (jobs[3], "w-gone", 900),
        (jobs[4], "w-fresh", 1),
        (other, "w-dead", 5),
    ];
    for (id, w, beat) in holders {
        sqlx::query(
            "UPDATE jobtop.jobs SET locked_by = $2, heartbeat_at = now() - make_interval(secs => $3) WHERE id = $1",
        )
        .bind(id)
        .bind(w)
        .bind(beat as f64)
        .execute(pool)
        .await
        .unwrap();
    }
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::ResetStuck {
            queue: Some("q".into()),
            worker: None,
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap();
    assert_eq!(plan.ids, vec![jobs[0], jobs[1], jobs[3]]);
    assert_eq!(
        plan.question(),
        "Reset 3 stuck jobs of kind `k` in queue `q`?"
    );
    let out = run(&gate, &plan).await;
    assert_eq!(out.changed, 3);
    for id in [jobs[0], jobs[1], jobs[3]] {
        let j = job(pool, id).await.unwrap();
        assert_eq!(j.state, "queued");
        assert!(j.run_at_due && !j.locked);
    }
    assert_eq!(
        states(pool, &[jobs[2], jobs[4], other]).await,
        vec!["running", "running", "running"]
    );

    // By worker, across queues.
    let plan = gate
        .plan(&Action::ResetStuck {
            queue: None,
            worker: Some("w-dead".into()),
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap();
    assert_eq!(plan.ids, vec![other]);
    assert_eq!(
        plan.question(),
        format!("Reset stuck job {other} of kind `k` in queue `other` held by `w-dead`?")
    );

    // The worker comes back between the look and the action: its job stays with it.
    sqlx::query("SELECT jobtop.heartbeat('w-dead')")
        .execute(pool)
        .await
        .unwrap();
    let out = run(&gate, &plan).await;
    assert_eq!(out.changed, 0);
    assert_eq!(out.summary(), "reset 0 of 1 job; 1 had already moved on");
    assert_eq!(out.exit_code(), 2);
    assert_eq!(job(pool, other).await.unwrap().state, "running");
}

#[tokio::test]
async fn a_race_between_screen_and_action_is_counted_and_touches_nothing_else() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dead = insert(pool, "mailers", "email.send", "dead", 37).await;
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::Retry(matching("mailers", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(
        plan.question(),
        "Retry 37 dead jobs of kind `email.send` in queue `mailers`?"
    );

    // Meanwhile: another operator retries one (a worker is already running it) and deletes
    // another; and a new job dies.
    sqlx::query("UPDATE jobtop.jobs SET state = 'running', locked_by = 'w9' WHERE id = $1")
        .bind(dead[3])
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM jobtop.jobs WHERE id = $1")
        .bind(dead[20])
        .execute(pool)
        .await
        .unwrap();
    let newcomer = insert(pool, "mailers", "email.send", "dead", 1).await[0];

    let out = run(&gate, &plan).await;
    assert_eq!(
        out.summary(),
        "retried 35 of 37 jobs; 2 had already moved on"
    );
    assert_eq!(out.exit_code(), 1);
    assert_eq!(out.outcome(), Outcome::Partial);
    assert_eq!(job(pool, dead[3]).await.unwrap().state, "running");
    let j = job(pool, dead[3]).await.unwrap();
    assert!(j.locked, "the running job keeps its worker");
    assert_eq!(job(pool, newcomer).await.unwrap().state, "dead");
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.jobs WHERE queue = 'mailers' AND state = 'queued'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(queued, 35);

    let log = audit(pool).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "partial");
    assert_eq!(log[0].count, Some(35));
    assert_eq!(log[0].job_ids.as_ref().unwrap().len(), 35);
    assert_eq!(
        log[0].detail.as_deref(),
        Some("retried 35 of 37 jobs; 2 had already moved on")
    );
    assert_eq!(log[0].params["filter"]["state"], "dead");
    assert_eq!(log[0].params["requested"], 37);
}

#[tokio::test]
async fn five_thousand_jobs_go_in_five_batches_with_one_audit_row() {
    let db = common::test_db().await;
    let pool = &db.pool;
    insert(pool, "bulk", "k", "dead", 5_000).await;
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::Retry(matching("bulk", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 5_000);
    assert_eq!(plan.typed_confirmation().as_deref(), Some("bulk"));
    let mut seen = Vec::new();
    let out = gate
        .execute(&plan, &no_stop(), &mut |p| {
            seen.push((p.batches, p.changed))
        })
        .await
        .unwrap();
    assert_eq!(
        seen,
        vec![(1, 1000), (2, 2000), (3, 3000), (4, 4000), (5, 5000)]
    );
    assert_eq!(out.summary(), "retried 5,000 jobs");
    assert_eq!(out.batches, 5);
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.jobs WHERE state = 'queued' AND run_at <= now()",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(queued, 5_000);
    let log = audit(pool).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "ok");
    assert_eq!(log[0].count, Some(5_000));
    assert_eq!(
        log[0].job_ids, None,
        "too many to list: the filter and the count"
    );
    assert_eq!(log[0].params["batches"], 5);
    assert_eq!(log[0].params["filter"]["queue"], "bulk");
}

#[tokio::test]
async fn stopping_between_batches_keeps_what_was_done_and_says_so() {
    let db = common::test_db().await;
    let pool = &db.pool;
    insert(pool, "bulk", "k", "dead", 2_500).await;
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::Retry(matching("bulk", JobState::Dead)))
        .await
        .unwrap();
    let stop = no_stop();
    let flag = stop.clone();
    let out = gate
        .execute(&plan, &stop, &mut |_| flag.store(true, Ordering::SeqCst))
        .await
        .unwrap();
    assert_eq!(
        out.summary(),
        "retried 1,000 of 2,500 jobs; stopped after batch 1 of 3; 1,500 not touched"
    );
    assert_eq!(out.exit_code(), 1);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM jobtop.jobs WHERE state = 'dead'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(dead, 1_500);
    let log = audit(pool).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "partial");
    assert_eq!(log[0].count, Some(1_000));
    assert_eq!(log[0].detail.as_deref(), Some(out.summary().as_str()));
    assert_eq!(log[0].params["stopped"], true);
}

#[tokio::test]
async fn a_failed_batch_rolls_back_with_its_audit_row_and_leaves_a_failed_row() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dead = insert(pool, "q", "k", "dead", 3).await;
    // The audit table refuses "ok" rows: the batch's job update must roll back with it.
    sqlx::query(
        "CREATE FUNCTION jobtop.refuse_ok() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.outcome = 'ok' THEN RAISE EXCEPTION 'audit disk full'; END IF; \
         RETURN NEW; END $$",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_ok BEFORE INSERT ON jobtop.audit \
         FOR EACH ROW EXECUTE FUNCTION jobtop.refuse_ok()",
    )
    .execute(pool)
    .await
    .unwrap();
    let gate = gate(pool);
    let plan = gate.plan(&Action::Retry(ids(&dead))).await.unwrap();
    let out = run(&gate, &plan).await;
    assert_eq!(out.outcome(), Outcome::Failed);
    assert_eq!(out.exit_code(), 2);
    assert!(
        out.summary().contains("audit disk full"),
        "{}",
        out.summary()
    );
    assert_eq!(states(pool, &dead).await, vec!["dead", "dead", "dead"]);
    let log = audit(pool).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].outcome, "failed");
    assert_eq!(log[0].count, Some(0));
    assert!(
        log[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("audit disk full"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_later_batch_failing_keeps_the_earlier_ones_and_marks_the_row_partial() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let dead = insert(pool, "q", "k", "dead", 1_500).await;
    let poison = dead[1_200];
    sqlx::query(
        &*format!(
            "CREATE FUNCTION jobtop.poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.id = {poison} THEN RAISE EXCEPTION 'poison row'; END IF; \
         RETURN NEW; END $$"
        )
        .leak(),
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER poison BEFORE UPDATE ON jobtop.jobs \
         FOR EACH ROW EXECUTE FUNCTION jobtop.poison()",
    )
    .execute(pool)
    .await
    .unwrap();
    let gate = gate(pool);
    let plan = gate.plan(&Action::Retry(ids(&dead))).await.unwrap();
    let out = run(&gate, &plan).await;
    assert_eq!(out.changed, 1_000);
    assert_eq!(out.outcome(), Outcome::Partial);
    assert_eq!(out.exit_code(), 1);
    assert!(out.summary().contains("failed: "), "{}", out.summary());
    assert!(
        out.summary().ends_with("500 not touched"),
        "{}",
        out.summary()
    );
    let still_dead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobtop.jobs WHERE state = 'dead'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(still_dead, 500, "the whole failed batch rolled back");
    let log = audit(pool).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "partial");
    assert_eq!(log[0].count, Some(1_000));
    assert!(log[0].detail.as_deref().unwrap().contains("poison row"));
    assert!(
        log[0].params["error"]
            .as_str()
            .unwrap()
            .contains("poison row")
    );
}

#[tokio::test]
async fn purge_deletes_old_finished_jobs_in_batches() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let old_ok = insert(pool, "q", "k", "succeeded", 2_100).await;
    let old_cancelled = insert(pool, "q", "k", "cancelled", 5).await;
    let old_dead = insert(pool, "q", "k", "dead", 4).await;
    let new_ok = insert(pool, "q", "k", "succeeded", 3).await;
    sqlx::query(
        "UPDATE jobtop.jobs SET finished_at = now() - interval '20 days' WHERE id <> ALL($1)",
    )
    .bind(&new_ok)
    .execute(pool)
    .await
    .unwrap();
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::Purge {
            states: vec![JobState::Succeeded, JobState::Cancelled],
            older_than: Duration::from_secs(14 * 86_400),
            queue: None,
        })
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2_105);
    assert!(
        plan.question()
            .starts_with("Delete 2,105 succeeded/cancelled jobs finished before ")
    );
    assert_eq!(plan.typed_confirmation().as_deref(), Some("purge"));
    let mut batches = 0;
    let out = gate
        .execute(&plan, &no_stop(), &mut |p| batches = p.batches)
        .await
        .unwrap();
    assert_eq!(batches, 3);
    assert_eq!(out.summary(), "purged 2,105 jobs");
    assert_eq!(out.exit_code(), 0);
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM jobtop.jobs ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut expected: Vec<i64> = old_dead.iter().chain(&new_ok).copied().collect();
    expected.sort();
    assert_eq!(left, expected);
    assert!(
        old_ok
            .iter()
            .chain(&old_cancelled)
            .all(|id| !left.contains(id))
    );
    let log = audit(pool).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].count, Some(2_105));
    assert_eq!(log[0].outcome, "ok");
    assert_eq!(log[0].job_ids, None);
    assert_eq!(
        log[0].params["states"],
        serde_json::json!(["succeeded", "cancelled"])
    );

    let err = gate
        .plan(&Action::Purge {
            states: vec![JobState::Ready],
            older_than: Duration::from_secs(1),
            queue: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("finished jobs only"), "{err}");
}

#[tokio::test]
async fn phased_retry_of_a_dead_queue_watches_each_phase() {
    let db = common::test_db().await;
    let pool = &db.pool;
    insert(pool, "webhooks", "hook.deliver", "dead", 200).await;
    let gate = gate(pool);
    let plan = gate
        .plan(&Action::Retry(matching("webhooks", JobState::Dead)))
        .await
        .unwrap();
    let phases = jobtop::app::phased::split(&plan.ids, 10);
    let sizes: Vec<usize> = phases.iter().map(|(_, ids)| ids.len()).collect();
    assert_eq!(sizes, vec![10, 20, 170]);

    // Phase 1: the sample runs; a worker takes it, 7 succeed and 3 fail again.
    let (phase, sample) = &phases[0];
    let out = run(&gate, &plan.phase(sample.clone(), phase.clone())).await;
    assert_eq!(out.changed_ids.len(), 10);
    let claimed: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM jobtop.claim('w', ARRAY['webhooks'], 100)")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(claimed.len(), 10);
    for (i, id) in claimed.iter().enumerate() {
        if i < 7 {
            sqlx::query("SELECT jobtop.complete($1, 'w')")
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        } else {
            sqlx::query("SELECT jobtop.fail($1, 'w', 'still 500')")
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
    }
    let watched = gate
        .backend()
        .reads()
        .job_states(&out.changed_ids)
        .await
        .unwrap();
    let tally = jobtop::app::phased::Tally::of(watched.iter().map(|(_, s)| *s));
    assert_eq!((tally.succeeded, tally.failed, tally.pending), (7, 3, 0));

    // Phases 2 and 3 take the rest; nothing is retried twice.
    for (phase, ids) in &phases[1..] {
        let out = run(&gate, &plan.phase(ids.clone(), phase.clone())).await;
        assert_eq!(out.changed as usize, ids.len());
    }
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM jobtop.jobs WHERE state = 'dead'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(dead, 3, "only the sample's failures are dead again");
    let log = audit(pool).await;
    let labels: Vec<(Value, Value)> = log
        .iter()
        .map(|e| (e.params["phase"]["label"].clone(), e.count.into()))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("rest".into(), 170.into()),
            ("10%".into(), 20.into()),
            ("sample".into(), 10.into())
        ]
    );
    assert_eq!(
        log[2].detail.as_deref(),
        Some("retried 10 jobs (phase 1 of 3: sample)")
    );
}

#[tokio::test]
async fn read_only_is_refused_by_the_gate_and_by_the_database() {
    let db = common::test_db().await;
    let dead = insert(&db.pool, "q", "k", "dead", 2).await;
    let settings = SessionSettings {
        read_only: true,
        ..SessionSettings::default()
    };
    let ro_pool = connect::connect(db.options.clone(), &settings)
        .await
        .unwrap();
    let backend = Backend::new(NativeBackend::new(ro_pool.clone()));
    let gate = Gate::with_actor(backend.clone(), true, ACTOR.into());

    let action = Action::Retry(ids(&dead));
    let err = gate.plan(&action).await.unwrap_err();
    assert_eq!(err.to_string(), jobtop::backend::gate::READ_ONLY);
    // A plan made elsewhere is refused too.
    let plan = Plan::from_rows(
        action,
        dead.iter()
            .map(|&id| {
                (
                    JobId::Int(id),
                    "q".to_string(),
                    "k".to_string(),
                    JobState::Dead,
                )
            })
            .collect(),
        100,
    );
    let refused = gate
        .execute(&plan, &no_stop(), &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(refused.0, jobtop::backend::gate::READ_ONLY);

    // Past the gate, the session itself refuses: a gate that lets writes through, on the
    // read-only session, and a plain UPDATE through the same settings.
    let open_gate = Gate::with_actor(backend.clone(), false, ACTOR.into());
    let outcome = open_gate
        .execute(&plan, &no_stop(), &mut |_| {})
        .await
        .unwrap();
    let err = outcome.error.clone().unwrap_or_default();
    assert!(err.contains("read-only transaction"), "{err}");
    assert_eq!(outcome.changed, 0);
    let err = sqlx::query("UPDATE jobtop.queues SET paused_at = now()")
        .execute(&ro_pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only transaction"), "{err}");
    assert_eq!(states(&db.pool, &dead).await, vec!["dead", "dead"]);
    assert!(audit(&db.pool).await.is_empty());
    // Reads still work: the audit pane and the overview stay available.
    assert!(
        backend
            .reads()
            .audit_log(&AuditFilter {
                limit: 5,
                ..Default::default()
            })
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn audit_log_filters_by_queue_action_actor_and_outcome() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let a = insert(pool, "a", "k", "dead", 2).await;
    insert(pool, "b", "k", "ready", 1).await;
    let alice = gate(pool);
    let bob = Gate::with_actor(
        Backend::new(NativeBackend::new(pool.clone())),
        false,
        "bob@laptop".into(),
    );
    let p = alice.plan(&Action::Retry(ids(&a))).await.unwrap();
    run(&alice, &p).await;
    let p = bob
        .plan(&Action::Pause {
            queue: "b".into(),
            reason: None,
        })
        .await
        .unwrap();
    run(&bob, &p).await;
    let backend = NativeBackend::new(pool.clone());
    let read = |f: AuditFilter| {
        let backend = backend.clone();
        async move {
            backend
                .audit_log(&AuditFilter { limit: 10, ..f })
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(read(AuditFilter::default()).await, vec!["pause", "retry"]);
    let by_queue = read(AuditFilter {
        queue: Some("a".into()),
        ..Default::default()
    });
    assert_eq!(by_queue.await, vec!["retry"]);
    let by_actor = read(AuditFilter {
        actor: Some("BOB".into()),
        ..Default::default()
    });
    assert_eq!(by_actor.await, vec!["pause"]);
    let by_action = read(AuditFilter {
        action: Some("retry".into()),
        outcome: Some("ok".into()),
        ..Default::default()
    });
    assert_eq!(by_action.await, vec!["retry"]);
    let failed = read(AuditFilter {
        outcome: Some("failed".into()),
        ..Default::default()
    });
    assert!(failed.await.is_empty());
}

/// The database role the harness connects as: part of every actor name.
async fn role(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool)
        .await
        .unwrap()
}
