//! The good_job backend against real PostgreSQL, on tests/fixtures/goodjob.sql (good_job
//! 4.19.2's install migration rendered as PostgreSQL DDL, with rows in every state):
//! detection from a bare URL, and the actions through the gate with the columns they
//! change, as good_job's dashboard changes them, and their audit rows. The conformance
//! suite (tests/conformance/expect/goodjob.toml) checks the figures, lists and states.
//!
//! The fixture, by n (id 00000000-0000-4000-8000-00000000000n): default 1-2 ready, 3
//! scheduled, 4 retrying, 5-6 running (6 on the stopped process), 7-8 discarded (7 after
//! two failed executions), 9-10 succeeded; mailers 11 ready, 12 running, 13 succeeded;
//! critical 14 ready (paused); reports 15 succeeded.

use sqlx::{PgPool, Row};

use jobtop::backend::detect::{self, BackendKind, Selection};
use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, Backend, JobState, Outcome};

use crate::common::fixture::GOODJOB;
use crate::common::{self, exec};
use crate::helpers::{matching, run};

const ACTOR: &str = "ana@bastion";

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn gate(pool: &PgPool) -> Gate {
    exec(pool, GOODJOB).await;
    let backend = jobtop::backend::goodjob::open(pool.clone(), "public")
        .await
        .unwrap();
    Gate::with_actor(Backend::new(backend), false, ACTOR.to_string())
}

/// Job n's columns the actions write: finished, performed, due now or before, error,
/// error_event, Active Job's executions.
type JobColumns = (bool, bool, bool, Option<String>, Option<i16>, Option<i64>);

async fn job(pool: &PgPool, n: u32) -> JobColumns {
    sqlx::query_as(
        "SELECT finished_at IS NOT NULL, performed_at IS NOT NULL, \
           scheduled_at <= timezone('UTC', now()), error, error_event, \
           (serialized_params ->> 'executions')::bigint \
         FROM good_jobs WHERE id = $1::uuid",
    )
    .bind(id(n))
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The last audit row: action, queue, job keys, count, outcome.
async fn last_audit(pool: &PgPool) -> (String, Option<String>, Vec<String>, i64, String) {
    let r = sqlx::query(
        "SELECT action, queue, \
           coalesce((SELECT array_agg(k ORDER BY k) FROM unnest(job_keys) k), '{}'), \
           count, outcome \
         FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

#[tokio::test]
async fn a_bare_url_finds_good_job() {
    let db = common::test_db().await;
    exec(&db.pool, GOODJOB).await;
    let (chosen, backend) = detect::resolve(&db.pool, &Selection::default())
        .await
        .unwrap();
    assert_eq!(
        (chosen.backend, chosen.schema.as_str()),
        (BackendKind::GoodJob, "public")
    );
    assert_eq!(chosen.flags(), "--backend good-job --schema public");
    assert_eq!(backend.name(), "good_job");
    let caps = common::flags(&backend.capabilities());
    assert_eq!(
        caps.actions,
        common::ActionFlags {
            retry: true,
            cancel: false,
            discard: true,
            delete: true,
            reset_stuck: false,
            purge: true,
            audit: true,
        }
    );
    assert!(caps.pause && caps.heartbeats && caps.workers && caps.error_history);
}

#[tokio::test]
async fn retry_reenqueues_discarded_jobs_and_reschedules_waiting_ones() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let plan = g
        .plan(&Action::Retry(matching("default", JobState::Dead)))
        .await
        .unwrap();
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.outcome()), (2, Outcome::Ok));
    // As retry_job: unfinished, not performed, due now, the error kept, error_event
    // retried (3), one more execution in the serialized params.
    assert_eq!(
        job(pool, 7).await,
        (
            false,
            false,
            true,
            Some("RuntimeError: exploded".into()),
            Some(3),
            Some(3)
        )
    );
    assert_eq!(job(pool, 8).await.4, Some(3));
    assert_eq!(job(pool, 8).await.5, Some(2));
    assert_eq!(
        last_audit(pool).await,
        (
            "retry".into(),
            Some("default".into()),
            vec![id(7), id(8)],
            2,
            "ok".into()
        )
    );

    // As reschedule_job: due now, nothing else touched.
    let plan = g
        .plan(&Action::Retry(matching("default", JobState::Retrying)))
        .await
        .unwrap();
    assert_eq!(run(&g, &plan).await.changed, 1);
    assert_eq!(
        job(pool, 4).await,
        (
            false,
            false,
            true,
            Some("RuntimeError: boom".into()),
            Some(3),
            Some(1)
        )
    );
}

#[tokio::test]
async fn discard_finishes_a_waiting_job_with_a_discard_error() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let plan = g
        .plan(&Action::Discard(matching("default", JobState::Scheduled)))
        .await
        .unwrap();
    assert_eq!(run(&g, &plan).await.changed, 1);
    let (finished, performed, _, error, event, _) = job(pool, 3).await;
    assert!(finished && !performed);
    let error = error.unwrap();
    assert!(
        error.starts_with("GoodJob::Job::DiscardJobError: discarded by jobtop (ana@bastion"),
        "{error}"
    );
    assert_eq!(event, Some(5));
    assert_eq!(last_audit(pool).await.0, "discard");
}

#[tokio::test]
async fn delete_removes_discarded_jobs_and_their_executions() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let plan = g
        .plan(&Action::Delete(matching("default", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(run(&g, &plan).await.changed, 2);
    let left: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM good_jobs WHERE id = ANY($1::uuid[])), \
           (SELECT count(*) FROM good_job_executions WHERE active_job_id = ANY($1::uuid[])), \
           (SELECT count(*) FROM good_job_executions)",
    )
    .bind(vec![id(7), id(8)])
    .fetch_one(pool)
    .await
    .unwrap();
    // The other jobs' 8 executions stay.
    assert_eq!(left, (0, 0, 8));
    assert_eq!(last_audit(pool).await.3, 2);
}

#[tokio::test]
async fn pause_and_resume_edit_the_pauses_setting() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool).await;
    let queues = || async {
        sqlx::query_scalar::<_, serde_json::Value>(
            "SELECT value -> 'queues' FROM good_job_settings WHERE key = 'pauses'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let pause = Action::Pause {
        queue: "default".into(),
        reason: None,
    };
    let plan = g.plan(&pause).await.unwrap();
    assert!(
        plan.note.as_deref().unwrap().contains("enable_pauses"),
        "{:?}",
        plan.note
    );
    assert_eq!(run(&g, &plan).await.changed, 1);
    assert_eq!(queues().await, serde_json::json!(["critical", "default"]));
    assert_eq!(g.plan(&pause).await.unwrap().eligible, 0);
    let resume = Action::Resume {
        queue: "critical".into(),
    };
    assert_eq!(run(&g, &g.plan(&resume).await.unwrap()).await.changed, 1);
    assert_eq!(queues().await, serde_json::json!(["default"]));
    assert_eq!(
        last_audit(pool).await,
        (
            "resume".into(),
            Some("critical".into()),
            vec![],
            1,
            "ok".into()
        )
    );

    // Without the setting row, a pause creates it in good_job's shape.
    exec(pool, "DELETE FROM good_job_settings").await;
    assert_eq!(run(&g, &g.plan(&pause).await.unwrap()).await.changed, 1);
    let value: serde_json::Value =
        sqlx::query_scalar("SELECT value FROM good_job_settings WHERE key = 'pauses'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        value,
        serde_json::json!({"queues": ["default"], "job_classes": [], "labels": []})
    );
}
