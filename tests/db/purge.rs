//! Purge on every queue schema that keeps finished jobs, through the gate, on each
//! backend's fixture: some finished jobs are made older than the cutoff (in the project's
//! own columns), then `purge --older-than 7d` must delete exactly those of the chosen states,
//! leave the younger ones, the other finished states and every live job, and write its audit
//! row. Where the schema keeps no finished jobs, the refusal says why.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use sqlx::{AssertSqlSafe, PgPool, Row};

use jobtop::backend::detect::{self, BackendKind, Selection};
use jobtop::backend::doctor::Status;
use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, JobState, Outcome};

use crate::common::fixture::{GOODJOB, GRAPHILE, JOBFORGE, OBAN, PGBOSS, RIVER, SOLIDQUEUE};
use crate::common::{self, exec, load, pypi};
use crate::helpers::run;

const ACTOR: &str = "ops@runbook";
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// One schema's purge: how to age its finished jobs, and what must go.
struct Case {
    backend: BackendKind,
    schema: &'static str,
    profile: Option<&'static str>,
    /// Makes some finished jobs (and, where the schema allows, live ones) 10 days old.
    age: &'static str,
    /// Every job's id, as text.
    all: &'static str,
    /// The ids the purge must delete, in the project's own terms.
    gone: &'static str,
    states: &'static [JobState],
    queue: Option<&'static str>,
}

async fn gate(pool: &PgPool, c: &Case) -> Gate {
    let selection = Selection {
        backend: Some(c.backend),
        schema: Some(c.schema.to_string()),
        profile: c.profile.map(PathBuf::from),
    };
    let (_, backend) = detect::resolve(pool, &selection).await.unwrap();
    Gate::with_actor(backend, false, ACTOR.to_string())
}

async fn texts(pool: &PgPool, sql: &str) -> BTreeSet<String> {
    sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Runs the case on a database holding its fixture: exactly `gone` is deleted.
async fn purges_exactly(pool: &PgPool, c: &Case) {
    let g = gate(pool, c).await;
    exec(pool, c.age).await;
    let before = texts(pool, c.all).await;
    let gone = texts(pool, c.gone).await;
    assert!(
        !gone.is_empty(),
        "{:?}: the case ages nothing to purge",
        c.backend
    );
    assert!(
        gone.len() < before.len(),
        "{:?}: nothing is left",
        c.backend
    );
    let plan = g
        .plan(&Action::Purge {
            states: c.states.to_vec(),
            older_than: WEEK,
            queue: c.queue.map(str::to_string),
        })
        .await
        .unwrap();
    assert_eq!(plan.eligible, gone.len() as u64, "{:?}: planned", c.backend);
    assert!(plan.cutoff.is_some());
    assert!(
        plan.question().contains("finished before"),
        "{}",
        plan.question()
    );
    let out = run(&g, &plan).await;
    assert_eq!(
        out.outcome(),
        Outcome::Ok,
        "{:?}: {}",
        c.backend,
        out.summary()
    );
    assert_eq!(out.changed, gone.len() as u64, "{:?}: deleted", c.backend);
    let after = texts(pool, c.all).await;
    let deleted: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(deleted, gone, "{:?}: the rows deleted", c.backend);
    let row = sqlx::query(
        "SELECT action, queue, count, outcome, params ->> 'cutoff' AS cutoff \
         FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("action"), "purge");
    assert_eq!(row.get::<Option<String>, _>("queue").as_deref(), c.queue);
    assert_eq!(row.get::<Option<i64>, _>("count"), Some(gone.len() as i64));
    assert_eq!(row.get::<String, _>("outcome"), "ok");
    assert!(row.get::<Option<String>, _>("cutoff").is_some());
}

const SUCCEEDED_DEAD: &[JobState] = &[JobState::Succeeded, JobState::Dead];

#[tokio::test]
async fn river_purges_finalized_jobs_of_one_queue() {
    let db = common::test_db().await;
    load(&db.pool, RIVER).await;
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::River,
            schema: "public",
            profile: None,
            // Every other finished job, in every queue, 10 days old.
            age: "UPDATE river_job SET finalized_at = now() - interval '10 days' \
                  WHERE finalized_at IS NOT NULL AND id % 2 = 0",
            all: "SELECT id::text FROM river_job",
            gone: "SELECT id::text FROM river_job WHERE queue = 'default' \
                   AND state IN ('completed', 'discarded') \
                   AND finalized_at < now() - interval '7 days'",
            states: SUCCEEDED_DEAD,
            queue: Some("default"),
        },
    )
    .await;
}

#[tokio::test]
async fn river_purge_runs_in_batches_until_a_short_one() {
    let db = common::test_db().await;
    load(&db.pool, RIVER).await;
    exec(
        &db.pool,
        "INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, \
           attempted_at, finalized_at, scheduled_at) \
         SELECT 'completed', 'bulk', 'bulk.job', '{}', 25, 1, now() - interval '30 days', \
           now() - interval '30 days', now() - interval '30 days' FROM generate_series(1, 2500)",
    )
    .await;
    let c = Case {
        backend: BackendKind::River,
        schema: "public",
        profile: None,
        age: "SELECT 1",
        all: "SELECT id::text FROM river_job",
        gone: "SELECT id::text FROM river_job WHERE queue = 'bulk'",
        states: &[JobState::Succeeded],
        queue: None,
    };
    let g = gate(&db.pool, &c).await;
    let plan = g
        .plan(&Action::Purge {
            states: c.states.to_vec(),
            older_than: WEEK,
            queue: None,
        })
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2500);
    assert_eq!(plan.total_batches(), Some(3));
    let mut seen = Vec::new();
    let out = g
        .execute(&plan, &crate::helpers::no_stop(), &mut |o| {
            seen.push(o.changed)
        })
        .await
        .unwrap();
    // 1,000 + 1,000 + 500: the short batch ends the run.
    assert_eq!(seen, vec![1000, 2000, 2500]);
    assert_eq!((out.changed, out.batches), (2500, 3));
    assert_eq!(texts(&db.pool, c.gone).await.len(), 0);
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT count, outcome FROM jobtop.audit WHERE action = 'purge'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(2500, "ok".to_string())],
        "one audit row for the run"
    );
}

#[tokio::test]
async fn oban_purges_each_state_by_its_own_time() {
    let db = common::test_db().await;
    load(&db.pool, OBAN).await;
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::Oban,
            schema: "public",
            profile: None,
            age: "UPDATE oban_jobs SET completed_at = completed_at - interval '10 days', \
                    discarded_at = discarded_at - interval '10 days', \
                    cancelled_at = cancelled_at - interval '10 days', \
                    attempted_at = attempted_at - interval '10 days', \
                    inserted_at = inserted_at - interval '10 days', \
                    scheduled_at = scheduled_at - interval '10 days'",
            all: "SELECT id::text FROM oban_jobs",
            gone: "SELECT id::text FROM oban_jobs WHERE \
                     (state = 'completed' AND completed_at < timezone('UTC', now()) - interval '7 days') \
                  OR (state = 'discarded' AND discarded_at < timezone('UTC', now()) - interval '7 days')",
            states: SUCCEEDED_DEAD,
            queue: None,
        },
    )
    .await;
}

#[tokio::test]
async fn pgboss_purges_through_the_partitions() {
    let db = common::test_db().await;
    load(&db.pool, PGBOSS).await;
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::PgBoss,
            schema: "pgboss",
            profile: None,
            // One queue's jobs aged, live ones included: only its finished ones may go.
            age: "UPDATE pgboss.job SET completed_on = completed_on - interval '10 days', \
                    created_on = created_on - interval '10 days', \
                    start_after = start_after - interval '10 days' WHERE name = 'emails'",
            all: "SELECT id::text FROM pgboss.job",
            gone: "SELECT id::text FROM pgboss.job WHERE name = 'emails' \
                   AND state IN ('completed', 'failed', 'cancelled')",
            states: &[JobState::Succeeded, JobState::Dead, JobState::Cancelled],
            queue: None,
        },
    )
    .await;
}

#[tokio::test]
async fn solid_queue_purges_succeeded_jobs_only() {
    let db = common::test_db().await;
    exec(&db.pool, SOLIDQUEUE).await;
    let c = Case {
        backend: BackendKind::SolidQueue,
        schema: "public",
        profile: None,
        age: "UPDATE solid_queue_jobs SET finished_at = finished_at - interval '10 days', \
                created_at = created_at - interval '10 days' WHERE queue_name = 'default'",
        all: "SELECT id::text FROM solid_queue_jobs",
        gone: "SELECT id::text FROM solid_queue_jobs WHERE queue_name = 'default' \
               AND finished_at IS NOT NULL",
        states: &[JobState::Succeeded],
        queue: None,
    };
    purges_exactly(&db.pool, &c).await;
    // clear_finished_jobs leaves failed jobs: so does purge, and says so.
    let g = gate(&db.pool, &c).await;
    let err = g
        .plan(&Action::Purge {
            states: vec![JobState::Dead],
            older_than: WEEK,
            queue: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not dead ones"), "{err}");
}

#[tokio::test]
async fn good_job_purges_finished_jobs_with_their_executions() {
    let db = common::test_db().await;
    exec(&db.pool, GOODJOB).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM good_job_executions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let theirs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM good_job_executions x JOIN good_jobs j ON j.id = x.active_job_id \
         WHERE j.queue_name = 'default' AND j.finished_at IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::GoodJob,
            schema: "public",
            profile: None,
            age: "UPDATE good_jobs SET finished_at = finished_at - interval '10 days', \
                    created_at = created_at - interval '10 days' WHERE queue_name = 'default'",
            all: "SELECT id::text FROM good_jobs",
            gone: "SELECT id::text FROM good_jobs WHERE queue_name = 'default' \
                   AND finished_at IS NOT NULL",
            states: SUCCEEDED_DEAD,
            queue: None,
        },
    )
    .await;
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM good_job_executions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(theirs > 0);
    assert_eq!(after, before - theirs, "their executions went with them");
}

#[tokio::test]
async fn procrastinate_purges_by_the_latest_event() {
    let Some(schema) = pypi::procrastinate_schema() else {
        return;
    };
    let db = common::test_db().await;
    exec(
        &db.pool,
        &format!("{schema}\n{}", common::fixture::PROCRASTINATE),
    )
    .await;
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::Procrastinate,
            schema: "public",
            profile: None,
            // One queue's every event 10 days back: its live jobs too look old.
            age: "UPDATE procrastinate_events SET at = at - interval '10 days' \
                  WHERE job_id IN (SELECT id FROM procrastinate_jobs WHERE queue_name = 'emails')",
            all: "SELECT id::text FROM procrastinate_jobs",
            gone: "SELECT id::text FROM procrastinate_jobs WHERE queue_name = 'emails' \
                   AND status IN ('succeeded', 'failed') \
                   AND EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = id)",
            states: SUCCEEDED_DEAD,
            queue: Some("emails"),
        },
    )
    .await;
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM procrastinate_events e \
         WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.id = e.job_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "the events went with their jobs");
}

#[tokio::test]
async fn pgmq_purges_archived_messages_only() {
    let Some(schema) = pypi::pgmq_schema() else {
        return;
    };
    let db = common::test_db().await;
    exec(&db.pool, &schema).await;
    exec(&db.pool, include_str!("../fixtures/pgmq.sql")).await;
    let live_before: i64 = sqlx::query_scalar("SELECT count(*) FROM pgmq.q_emails")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::Pgmq,
            schema: "pgmq",
            profile: None,
            age: "UPDATE pgmq.a_emails SET archived_at = archived_at - interval '10 days', \
                    enqueued_at = enqueued_at - interval '10 days'; \
                  UPDATE pgmq.q_emails SET enqueued_at = enqueued_at - interval '10 days'",
            all: "SELECT 'emails:' || msg_id FROM pgmq.a_emails \
                  UNION ALL SELECT 'reports:' || msg_id FROM pgmq.a_reports",
            gone: "SELECT 'emails:' || msg_id FROM pgmq.a_emails",
            states: &[JobState::Succeeded],
            queue: None,
        },
    )
    .await;
    let live_after: i64 = sqlx::query_scalar("SELECT count(*) FROM pgmq.q_emails")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(live_after, live_before, "the queue table is not touched");
}

#[tokio::test]
async fn a_profile_purges_where_it_says_so() {
    let db = common::test_db().await;
    load(&db.pool, JOBFORGE).await;
    purges_exactly(
        &db.pool,
        &Case {
            backend: BackendKind::Mapped,
            schema: "public",
            profile: Some("jobforge"),
            age: "UPDATE jobforge_jobs SET finished_at = now() - interval '10 days', \
                    started_at = now() - interval '10 days', created_at = now() - interval '11 days' \
                  WHERE finished_at IS NOT NULL OR status = 'running'",
            all: "SELECT id::text FROM jobforge_jobs",
            gone: "SELECT id::text FROM jobforge_jobs WHERE status = 'succeeded' \
                   AND finished_at IS NOT NULL",
            states: &[JobState::Succeeded],
            queue: None,
        },
    )
    .await;
}

#[tokio::test]
async fn graphile_refuses_purge_with_its_reason() {
    let db = common::test_db().await;
    load(&db.pool, GRAPHILE).await;
    let c = Case {
        backend: BackendKind::Graphile,
        schema: "graphile_worker",
        profile: None,
        age: "SELECT 1",
        all: "SELECT 1",
        gone: "SELECT 1",
        states: &[JobState::Dead],
        queue: None,
    };
    let g = gate(&db.pool, &c).await;
    let err = g
        .plan(&Action::Purge {
            states: vec![JobState::Dead],
            older_than: WEEK,
            queue: None,
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("deletes completed jobs itself"),
        "{err}"
    );
}

/// Doctor plans one purge batch on every schema that offers purge, and says whether an
/// index bounds it.
#[tokio::test]
async fn doctor_plans_a_purge_batch() {
    for (fixture, backend, schema) in [
        (RIVER, BackendKind::River, "public"),
        (OBAN, BackendKind::Oban, "public"),
        (PGBOSS, BackendKind::PgBoss, "pgboss"),
        (GOODJOB, BackendKind::GoodJob, "public"),
        (SOLIDQUEUE, BackendKind::SolidQueue, "public"),
    ] {
        let db = common::test_db().await;
        exec(&db.pool, fixture).await;
        let c = Case {
            backend,
            schema,
            profile: None,
            age: "",
            all: "",
            gone: "",
            states: &[],
            queue: None,
        };
        let g = gate(&db.pool, &c).await;
        let report = jobtop::backend::doctor::run(&db.pool, g.backend().reads().as_ref()).await;
        let purge: Vec<_> = report.iter().filter(|c| c.name.contains("purge")).collect();
        assert_eq!(purge.len(), 1, "{backend:?}: {report:?}");
        // River's (state, finalized_at) index bounds it; elsewhere doctor says what reads.
        if backend == BackendKind::River {
            assert_eq!(purge[0].status, Status::Ok, "{:?}", purge[0]);
        }
    }
}
