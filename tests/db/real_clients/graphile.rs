//! graphile-worker 0.18 as its own runMigrations makes it, its states made by its own
//! worker (tests/clients/graphile.mjs), one job held by a worker killed with `kill -9`.
//! jobtop counts every state per task, before and after graphile-worker's own cleanup,
//! shows the killed worker's job as stuck, retries the failed job through the gate and
//! resets the stuck one, and graphile-worker's worker then runs both to completion (which
//! deletes them).

use std::time::Duration;

use sqlx::PgPool;

use jobtop::backend::detect::{self, BackendKind};
use jobtop::backend::drill::{JobQuery, JobScope, ListFilter, Order};
use jobtop::backend::engine::foreign::Foreign;
use jobtop::backend::gate::Gate;
use jobtop::backend::graphile;
use jobtop::backend::{Action, Backend, JobState, Reads, Snapshot, SnapshotOptions};

use super::{counts, expect, not_evaluated};
use crate::common::clients::{self, Running, npm};
use crate::common::{self, TestDb};
use crate::helpers::{matching, run};

const MINUTE: Duration = Duration::from_secs(60);
const SCHEMA: &str = "graphile_worker";

fn script(npm: &npm::Npm, db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut c = npm.script("graphile", &common::url_for(db));
    c.args(args).env("GRAPHILE_SCHEMA", SCHEMA);
    c
}

/// What a script printed on its line starting with `prefix` (graphile-worker logs around it).
fn printed(out: &str, prefix: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|s| s.trim().to_string())
        .collect()
}

async fn open(pool: &PgPool) -> Foreign {
    graphile::open(pool.clone(), SCHEMA).await.unwrap()
}

/// A new monitor that takes its own pass: one opened as usual starts from the pass another
/// stored (`jobtop.tallies`, shown as an estimate), which a change jobtop did not make
/// leaves standing until the next pass.
async fn open_counting(pool: &PgPool) -> Foreign {
    sqlx::query("DELETE FROM jobtop.tallies")
        .execute(pool)
        .await
        .unwrap();
    open(pool).await
}

async fn snap(backend: &dyn Reads) -> Snapshot {
    backend
        .snapshot(&SnapshotOptions::default())
        .await
        .expect("snapshot")
}

async fn exists(pool: &PgPool, id: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM graphile_worker._private_jobs WHERE id = $1::bigint)",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn graphile_worker_018_read_from_its_own_schema_and_retried_into_the_real_worker() {
    let Some(npm) = npm::clients() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;

    clients::run(script(npm, &db, &["migrate"]), MINUTE);
    let found: Vec<(BackendKind, String)> = detect::detect(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.backend, d.schema))
        .collect();
    assert_eq!(found, [(BackendKind::Graphile, SCHEMA.to_string())]);

    // ok: 2 completed (deleted); fails: failed for good (1 of 1 attempts); flaky: failed 3
    // times, retrying in 20 s; later: scheduled in an hour; hold: taken by a worker that is
    // then killed with kill -9.
    let out = clients::run(script(npm, &db, &["produce"]), MINUTE);
    let json = out
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("the ids, as JSON");
    let ids: serde_json::Value = serde_json::from_str(json).unwrap();
    let holder = Running::start(script(npm, &db, &["hold"]));
    let held = holder.wait_for("HOLDING ", MINUTE);
    assert_eq!(held, ids["hold"].as_str().unwrap());
    holder.kill9();

    let g = open(pool).await;
    let states = expect(&[
        ("fails", [0, 0, 0, 0, 1]),
        ("flaky", [0, 0, 0, 1, 0]),
        ("hold", [0, 0, 1, 0, 0]),
        ("later", [0, 1, 0, 0, 0]),
        ("ok", [0, 0, 0, 0, 0]),
    ]);
    let s = snap(&g).await;
    assert_eq!(counts(&s), states);
    let hold = s.queues.iter().find(|q| q.name == "hold").unwrap();
    assert!(hold.oldest_running_started_at.is_some(), "locked_at");
    assert_eq!(s.workers.len(), 1, "the killed worker, by its lock");
    // The slow-job rule is judged (locked_at); what graphile-worker does not keep is listed.
    use jobtop::app::alerts::RuleId::*;
    assert_eq!(
        not_evaluated(&s, &g.capabilities()),
        [
            BacklogBaseline,
            DeadSpike,
            FailureRate,
            KindFailureRate,
            WorkerDown,
            NoWorker,
            DbUnreachable
        ]
    );

    // graphile-worker's own cleanup (the parts that keep jobs): the task with no jobs left
    // is gone, every other figure stands. (Its waiting jobs are counted in a pass every
    // 15 s, which a change jobtop did not make does not hasten: a new pass sees it.)
    clients::run(script(npm, &db, &["cleanup"]), MINUTE);
    assert_eq!(
        counts(&snap(&open_counting(pool).await).await),
        states[..4].to_vec(),
        "after its cleanup"
    );

    // The killed worker holds its job past a (1 s) stale threshold: stuck.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let page = g
        .jobs(&JobQuery {
            scope: JobScope::Stuck {
                running_longer_than: Duration::from_secs(3600),
                stale_after: Duration::from_secs(1),
            },
            filter: ListFilter::default(),
            order: Order::OldestFirst,
            after: None,
            limit: 50,
        })
        .await
        .unwrap();
    let stuck: Vec<String> = page.rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(stuck, std::slice::from_ref(&held));

    // Retry the failed job and reset the stuck one, through the gate.
    let gate = Gate::with_actor(Backend::new(open(pool).await), false, "ci".into());
    let plan = gate
        .plan(&Action::Retry(matching("fails", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 1);
    assert_eq!(run(&gate, &plan).await.changed, 1);
    let plan = gate
        .plan(&Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(1),
        })
        .await
        .unwrap();
    assert_eq!(plan.eligible, 1);
    assert_eq!(run(&gate, &plan).await.changed, 1);
    let s = snap(&g).await;
    let row = |n: &str| counts(&s).into_iter().find(|(q, _)| q == n).unwrap().1;
    assert_eq!(row("fails"), [1, 0, 0, 0, 0], "ready, not dead");
    assert_eq!(row("hold"), [1, 0, 0, 0, 0], "unlocked and due");

    // graphile-worker's own worker takes each of those very jobs and completes it.
    for (task, id) in [("fails", ids["fails"].as_str().unwrap()), ("hold", &held)] {
        let out = clients::run(script(npm, &db, &["work", task]), MINUTE);
        assert_eq!(printed(&out, "DONE "), [id.to_string()], "{task}");
        assert!(!exists(pool, id).await, "{task}: completed, so deleted");
    }
    // flaky left out: its next try comes 20 s after it failed, however long this took.
    // The worker's changes are not jobtop's: a new pass sees them.
    let s = snap(&open_counting(pool).await).await;
    let left: Vec<_> = counts(&s)
        .into_iter()
        .filter(|(q, _)| q != "flaky")
        .collect();
    assert_eq!(
        left,
        expect(&[
            ("fails", [0, 0, 0, 0, 0]),
            ("hold", [0, 0, 0, 0, 0]),
            ("later", [0, 1, 0, 0, 0]),
        ])
    );
}

/// A crontab item as graphile-worker's own runner records it: known since the runner met
/// it, and its last firing (the minute it was due), with no outcome kept.
#[tokio::test]
async fn graphile_worker_crontab_as_its_runner_records_it() {
    use chrono::Timelike;
    use jobtop::backend::schedules::{RunStatus, queues};

    let Some(npm) = npm::clients() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    clients::run(script(npm, &db, &["migrate"]), MINUTE);
    let out = clients::run(script(npm, &db, &["crontab"]), 2 * MINUTE);
    let fired = printed(&out, "FIRED ");
    assert_eq!(fired.len(), 1, "{out}");
    assert_ne!(fired[0], "null", "{out}");

    let found = queues::read(pool, "graphile-worker", SCHEMA, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let s = &found[0];
    assert_eq!(
        (s.source.as_str(), s.name.as_str()),
        ("graphile-worker", "tick_every_minute")
    );
    assert_eq!(s.expression, "", "the crontab lives in the application");
    assert_eq!(s.runs.len(), 1);
    let run = &s.runs[0];
    assert_eq!(run.status, RunStatus::Fired);
    assert_eq!(run.started_at.unwrap().second(), 0, "fired for its minute");
    assert!(!s.never_ran);
}
