//! The PgQueuer backend against real PgQueuer: PgQueuer 1.6.0 from PyPI (`common::pypi`;
//! skipped when it is not installed, unless `JOBTOP_REQUIRE_PYPI=1`), its schema created by
//! its own `pgqueuer install` command, and every job put in its state by PgQueuer's own
//! client and workers (tests/clients/pgqueuer_worker.py): jobs that succeed, fail and are
//! held, fail and are deleted, fail and are put back by its retry executor, wait for an
//! entrypoint no worker serves, wait for a later time, and one held by a worker killed with
//! `kill -9`. A bare URL finds it; the snapshot is asserted exactly; the killed worker's job
//! is stuck; a jobtop retry requeues the held failures and a real worker then completes
//! them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::{PgPool, Row};

use jobtop::backend::detect::{self, BackendKind, Selection};
use jobtop::backend::drill::{DetailLimits, JobQuery, JobScope, ListFilter, Order};
use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, JobId, JobState, Outcome, Reads, Snapshot, SnapshotOptions};

use crate::common::{self, pypi};
use crate::helpers::{matching, run};

const ACTOR: &str = "ana@bastion";

/// Our client script around PgQueuer's API.
const CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/pgqueuer_worker.py"
);

/// The database as PgQueuer's clients name it (`PGDSN`).
fn dsn(db: &common::TestDb) -> String {
    common::url_for(db)
}

/// The Python of the tests with PGDSN set, running `args`.
fn python(db: &common::TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(pypi::python());
    cmd.args(args).env("PGDSN", dsn(db));
    cmd
}

/// Runs the client script to its end; panics with its output when it fails.
fn client(db: &common::TestDb, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = python(db, &[CLIENT]);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the Python client runs");
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ids `enqueue` printed.
fn enqueue(db: &common::TestDb, entrypoint: &str, count: usize, delay_secs: u32) -> Vec<i64> {
    let out = client(
        db,
        &[
            "enqueue",
            entrypoint,
            &count.to_string(),
            &delay_secs.to_string(),
        ],
        &[],
    );
    out.split_whitespace().map(|s| s.parse().unwrap()).collect()
}

/// A worker on `lost` that picks its one job and hangs; returned once it has the job.
fn hung_worker(db: &common::TestDb) -> (Child, i64) {
    let mut child = python(db, &[CLIENT, "work", "lost"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let id = line
        .strip_prefix("picked ")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("the worker did not pick its job: {line:?}"));
    (child, id)
}

async fn snap(reads: &dyn Reads) -> Snapshot {
    reads.snapshot(&SnapshotOptions::default()).await.unwrap()
}

/// Per queue: [ready, scheduled, retrying, running, dead] and (succeeded, failed) over
/// the last hour.
fn figures(s: &Snapshot) -> Vec<(String, [i64; 5], (u32, u32))> {
    s.queues
        .iter()
        .map(|q| {
            let done = q.minutes.iter().fold((0, 0), |(ok, failed), m| {
                (ok + m.succeeded, failed + m.failed)
            });
            (
                q.name.clone(),
                [
                    q.ready.value,
                    q.scheduled.value,
                    q.retrying.value,
                    q.running.value,
                    q.dead.value,
                ],
                done,
            )
        })
        .collect()
}

/// The statuses PgQueuer logged for a job, oldest first.
async fn logged(pool: &PgPool, id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT status::text FROM pgqueuer_log WHERE job_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn real_pgqueuer_workers_make_every_state_and_finish_what_jobtop_requeues() {
    if pypi::pgqueuer_schema().is_none() {
        return;
    }
    let db = common::test_db().await;
    let install = python(&db, &["-m", "pgqueuer", "install"])
        .output()
        .expect("pgqueuer install runs");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );

    let emails = enqueue(&db, "send_email", 3, 0);
    let charges = enqueue(&db, "charge", 2, 0);
    enqueue(&db, "import_csv", 1, 0);
    let flaky = enqueue(&db, "flaky", 1, 0);
    enqueue(&db, "digest", 2, 0);
    enqueue(&db, "report", 1, 3600);
    enqueue(&db, "lost", 1, 0);
    // One real worker runs what is due on its entrypoints until nothing is left: emails
    // succeed, charges fail and are held, the import fails and is deleted, the flaky job
    // fails and its retry executor puts it back in an hour. Nobody serves `digest`.
    client(
        &db,
        &["work", "send_email,charge,import_csv,flaky"],
        &[("PGQ_CHARGE_FAILS", "1")],
    );
    // Another takes `lost` and is killed while it holds it.
    let (mut hung, lost) = hung_worker(&db);
    hung.kill().unwrap();
    hung.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // A bare URL finds PgQueuer (the harness's empty reference schema is set aside).
    let (chosen, backend) = detect::resolve(&db.pool, &Selection::default())
        .await
        .unwrap();
    assert_eq!(
        (chosen.backend, chosen.schema.as_str()),
        (BackendKind::PgQueuer, "public")
    );
    assert_eq!(backend.name(), "pgqueuer");
    let reads = backend.reads().clone();
    let s = snap(reads.as_ref()).await;
    let q = |name: &str, counts: [i64; 5], done: (u32, u32)| (name.to_string(), counts, done);
    assert_eq!(
        figures(&s),
        vec![
            q("charge", [0, 0, 0, 0, 2], (0, 2)),
            q("digest", [2, 0, 0, 0, 0], (0, 0)),
            q("flaky", [0, 0, 1, 0, 0], (0, 1)),
            q("import_csv", [0, 0, 0, 0, 0], (0, 1)),
            q("lost", [0, 0, 0, 1, 0], (0, 0)),
            q("report", [0, 1, 0, 0, 0], (0, 0)),
            q("send_email", [0, 0, 0, 0, 0], (3, 0)),
        ]
    );
    for id in &emails {
        assert_eq!(
            logged(&db.pool, *id).await,
            ["queued", "picked", "successful"]
        );
    }
    // The killed worker is the one worker, holding its job, its heartbeat stopped.
    assert_eq!(s.workers.len(), 1, "{:?}", s.workers);
    let worker = &s.workers[0];
    assert_eq!(worker.running_jobs, 1);
    assert!(worker.heartbeat_age(s.db_now).unwrap() >= chrono::Duration::seconds(2));
    // Its job is stuck: not heard from for two seconds.
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
    let stuck: Vec<(JobId, Option<String>)> = stuck
        .rows
        .iter()
        .map(|r| (r.id.clone(), r.worker.clone()))
        .collect();
    assert_eq!(stuck, vec![(JobId::Int(lost), Some(worker.id.clone()))]);
    // The flaky job's retry: one attempt more, its error from the logged traceback.
    let detail = reads
        .job(&JobId::Int(flaky[0]), &DetailLimits::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (detail.job.state, detail.job.attempts),
        (JobState::Retrying, Some(1))
    );
    assert!(
        detail
            .job
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("upstream timed out")),
        "{:?}",
        detail.job.last_error
    );

    // jobtop requeues the held charges as `pgq requeue` does, logged as PgQueuer logs it.
    let gate = Gate::with_actor(backend.clone(), false, ACTOR.to_string());
    let plan = gate
        .plan(&Action::Retry(matching("charge", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 2);
    assert!(
        plan.details()[0].contains("attempts back to 0"),
        "{:?}",
        plan.details()
    );
    let out = run(&gate, &plan).await;
    assert_eq!((out.changed, out.skipped, out.left_alone), (2, 0, 0));
    assert_eq!(out.outcome(), Outcome::Ok);
    for id in &charges {
        let row = sqlx::query(
            "SELECT status::text, attempts, execute_after <= now(), queue_manager_id IS NULL \
             FROM pgqueuer WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            (
                row.get::<String, _>(0),
                row.get::<i32, _>(1),
                row.get::<bool, _>(2),
                row.get::<bool, _>(3)
            ),
            ("queued".to_string(), 0, true, true)
        );
    }
    // A real worker then takes them, and this time they succeed.
    client(&db, &["work", "charge"], &[]);
    for id in &charges {
        assert_eq!(
            logged(&db.pool, *id).await,
            [
                "queued",
                "picked",
                "failed",
                "queued",
                "picked",
                "successful"
            ]
        );
    }
    let s = snap(reads.as_ref()).await;
    assert_eq!(
        figures(&s).into_iter().find(|f| f.0 == "charge"),
        Some(q("charge", [0, 0, 0, 0, 0], (2, 2)))
    );
}
