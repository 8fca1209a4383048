//! procrastinate 3.10 through its real client (tests/clients/procrastinate_worker.py): its
//! schema as the package ships it, every state made by its own `defer` and workers (jobs
//! that succeed, fail for good, fail and are deferred again by a retry strategy, wait for a
//! later time, and one held by a worker killed with `kill -9`); jobtop's snapshot asserted
//! exactly; the killed worker's job is stuck; a jobtop retry of the failed jobs (as
//! `procrastinate_retry_job_v2` does) and a real worker then completes them.

use std::process::Command;
use std::time::Duration;

use sqlx::Row;

use jobtop::backend::drill::{JobQuery, JobScope, ListFilter, Order};
use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, Backend, JobId, JobState, Outcome, SnapshotOptions};

use super::{counts, expect, finished};
use crate::common::clients::{self, Running};
use crate::common::{self, exec, pypi};
use crate::helpers::{matching, run};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/procrastinate_worker.py"
);

/// The index `jobtop doctor` names for completions per minute (procrastinate's events have
/// none on their time).
const EVENTS_INDEX: &str =
    "CREATE INDEX procrastinate_events_jobtop_type_at ON procrastinate_events (type, at)";

fn script(db: &common::TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(pypi::python());
    cmd.arg(SCRIPT).args(args).env("PGDSN", common::url_for(db));
    cmd
}

fn defer(db: &common::TestDb, task: &str, count: usize, delay_secs: u32) -> Vec<i64> {
    let args = ["defer", task, &count.to_string(), &delay_secs.to_string()];
    clients::run(script(db, &args), Duration::from_secs(60))
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn real_procrastinate_workers_make_every_state_and_finish_what_jobtop_retries() {
    let Some(schema) = pypi::procrastinate_schema() else {
        return;
    };
    let db = common::test_db().await;
    exec(&db.pool, &schema).await;
    exec(&db.pool, EVENTS_INDEX).await;

    let emails = defer(&db, "send_email", 3, 0);
    let charges = defer(&db, "charge", 2, 0);
    defer(&db, "flaky", 1, 0);
    defer(&db, "report", 1, 3600);
    defer(&db, "lost", 1, 0);
    let mut work = script(&db, &["work", "emails,payments,flaky"]);
    work.env("PROCRASTINATE_CHARGE_FAILS", "1");
    clients::run(work, Duration::from_secs(120));
    let hung = Running::start(script(&db, &["hang"]));
    let lost: i64 = hung
        .wait_for("picked ", Duration::from_secs(60))
        .parse()
        .unwrap();
    hung.kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let backend = Backend::new(
        jobtop::backend::procrastinate::open(db.pool.clone(), "public")
            .await
            .unwrap(),
    );
    let reads = backend.reads().clone();
    let s = reads.snapshot(&SnapshotOptions::default()).await.unwrap();
    // [ready, scheduled, running, retrying, dead]
    assert_eq!(
        counts(&s),
        expect(&[
            ("emails", [0, 0, 0, 0, 0]),
            ("flaky", [0, 0, 0, 1, 0]),
            ("lost", [0, 0, 1, 0, 0]),
            ("payments", [0, 0, 0, 0, 2]),
            ("reports", [0, 1, 0, 0, 0]),
        ])
    );
    assert_eq!(finished(&s, "emails"), (3, 0));
    assert_eq!(finished(&s, "payments"), (0, 2));
    assert_eq!(finished(&s, "flaky"), (0, 1), "the failed attempt, retried");
    // The killed worker holds its job, its heartbeat stopped.
    let holder: Vec<_> = s.workers.iter().filter(|w| w.running_jobs > 0).collect();
    assert_eq!(holder.len(), 1, "{:?}", s.workers);
    assert!(holder[0].heartbeat_age(s.db_now).unwrap() >= chrono::Duration::seconds(2));
    let stuck = reads
        .jobs(&JobQuery {
            scope: JobScope::Stuck {
                running_longer_than: Duration::from_secs(3600),
                stale_after: Duration::from_secs(2),
            },
            filter: ListFilter::default(),
            order: Order::OldestFirst,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    let stuck: Vec<JobId> = stuck.rows.iter().map(|r| r.id.clone()).collect();
    assert_eq!(stuck, vec![JobId::Int(lost)]);
    for id in &emails {
        let status: String =
            sqlx::query_scalar("SELECT status::text FROM procrastinate_jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(status, "succeeded");
    }

    // jobtop retries the failed charges as procrastinate's own retry does.
    let gate = Gate::with_actor(backend.clone(), false, "ana@bastion".to_string());
    let plan = gate
        .plan(&Action::Retry(matching("payments", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2);
    let out = run(&gate, &plan).await;
    assert_eq!((out.changed, out.outcome()), (2, Outcome::Ok));
    let s = reads.snapshot(&SnapshotOptions::default()).await.unwrap();
    assert_eq!(
        counts(&s).into_iter().find(|(q, _)| q == "payments"),
        Some(("payments".to_string(), [2, 0, 0, 0, 0]))
    );
    // A real worker takes them, and this time they succeed: attempts count the failed run,
    // the retry (procrastinate's own retry adds one) and the run that succeeded.
    clients::run(script(&db, &["work", "payments"]), Duration::from_secs(120));
    for id in &charges {
        let row =
            sqlx::query("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(
            (row.get::<String, _>(0), row.get::<i32, _>(1)),
            ("succeeded".to_string(), 3)
        );
    }
}
