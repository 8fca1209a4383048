//! pg-boss 12, 11 and 10 side by side in one database, as a team moving to 12 has them
//! (11 cannot migrate a 10 schema, so each goes into a schema of its own): each schema made by
//! its own `start()`, the states made by its own workers (tests/clients/pgboss.mjs), one job
//! held by a worker killed with `kill -9`. jobtop finds both schemas, counts every state
//! from the rows, before and after pg-boss's own supervisor has run (and filled its cached
//! per-queue counts), retries the failed job through the gate, and pg-boss's worker then
//! takes that very job and completes it.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use jobtop::backend::detect::{self, BackendKind, Detected};
use jobtop::backend::drill::{JobQuery, JobScope, ListFilter, Order};
use jobtop::backend::engine::foreign::Foreign;
use jobtop::backend::gate::Gate;
use jobtop::backend::pgboss;
use jobtop::backend::{Action, Backend, Count, JobState, Reads, Snapshot, SnapshotOptions};

use super::{counts, expect, finished, not_evaluated};
use crate::common::clients::{self, Running, npm};
use crate::common::{self, TestDb};
use crate::helpers::{matching, run};

const MINUTE: Duration = Duration::from_secs(60);

/// One pg-boss install: its schema and the npm package (or alias) that made it.
struct Boss {
    schema: &'static str,
    package: &'static str,
    /// Per-job heartbeats (12.12 on): a killed worker's job is stuck, then failed by the
    /// supervisor.
    heartbeats: bool,
}

const V12: Boss = Boss {
    schema: "boss12",
    package: "pg-boss",
    heartbeats: true,
};
const V11: Boss = Boss {
    schema: "boss11",
    package: "pgboss11",
    heartbeats: false,
};
const V10: Boss = Boss {
    schema: "boss10",
    package: "pgboss10",
    heartbeats: false,
};

impl Boss {
    fn script(&self, npm: &npm::Npm, db: &TestDb, args: &[&str]) -> std::process::Command {
        let mut c = npm.script("pgboss", &common::url_for(db));
        c.args(args)
            .env("PGBOSS_SCHEMA", self.schema)
            .env("PGBOSS_PACKAGE", self.package);
        c
    }

    fn run(&self, npm: &npm::Npm, db: &TestDb, args: &[&str]) -> String {
        clients::run(self.script(npm, db, args), MINUTE)
    }

    async fn open(&self, pool: &PgPool) -> Foreign {
        pgboss::open(pool.clone(), self.schema).await.unwrap()
    }
}

async fn snap(backend: &dyn Reads) -> Snapshot {
    backend
        .snapshot(&SnapshotOptions::default())
        .await
        .expect("snapshot")
}

/// The ids of the running jobs the stuck list shows (heartbeat older than a second).
async fn stuck(boss: &Foreign) -> Vec<String> {
    let page = boss
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
    page.rows.iter().map(|r| r.id.to_string()).collect()
}

async fn state_of(pool: &PgPool, schema: &str, id: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT state::text FROM {schema}.job WHERE id = $1::uuid"
    )))
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn pgboss_12_beside_11_and_10_read_from_the_rows_and_retried_into_the_real_worker() {
    let Some(npm) = npm::clients() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    let all = [&V12, &V11, &V10];
    let older = [&V11, &V10];

    // Each schema by pg-boss's own migration (start()), its queues by createQueue.
    for boss in all {
        boss.run(npm, &db, &["migrate"]);
    }
    let found: Vec<Detected> = detect::detect(pool).await.unwrap();
    let schemas: Vec<(BackendKind, &str)> = found
        .iter()
        .map(|d| (d.backend, d.schema.as_str()))
        .collect();
    assert_eq!(
        schemas,
        [
            (BackendKind::PgBoss, "boss10"),
            (BackendKind::PgBoss, "boss11"),
            (BackendKind::PgBoss, "boss12")
        ],
        "found by their tables and job_state enum, not by the name pgboss"
    );

    // Known states by real workers: ok 2 completed, fails 1 failed for good, flaky 1
    // retrying (due in an hour), later 1 scheduled (in an hour), hold 1 taken by a worker
    // then killed with kill -9.
    let mut failed_ids = Vec::new();
    let mut holders = Vec::new();
    for boss in all {
        let ids: serde_json::Value =
            serde_json::from_str(boss.run(npm, &db, &["produce"]).trim()).unwrap();
        failed_ids.push(ids["fails"].as_str().unwrap().to_string());
        let holder = Running::start(boss.script(npm, &db, &["hold"]));
        let held = holder.wait_for("HOLDING ", MINUTE);
        assert_eq!(held, ids["hold"].as_str().unwrap());
        holders.push(holder.pid() as i32);
        holder.kill9();
    }
    let killed_at = Instant::now();

    let b12 = V12.open(pool).await;
    let before = expect(&[
        ("fails", [0, 0, 0, 0, 1]),
        ("flaky", [0, 0, 0, 1, 0]),
        ("hold", [0, 0, 1, 0, 0]),
        ("later", [0, 1, 0, 0, 0]),
        ("ok", [0, 0, 0, 0, 0]),
    ]);
    let s12 = snap(&b12).await;
    assert_eq!(counts(&s12), before, "pg-boss 12");
    use jobtop::app::alerts::RuleId::*;
    for boss in all {
        let b = boss.open(pool).await;
        let s = snap(&b).await;
        assert_eq!(counts(&s), before, "{}", boss.schema);
        let hold = s.queues.iter().find(|q| q.name == "hold").unwrap();
        assert!(
            hold.oldest_running_started_at.is_some(),
            "{}: the longest-running job (started_on) is known",
            boss.schema
        );
        if boss.heartbeats {
            continue;
        }
        // Before 12: no (name, completed_on) index (doctor names it), so no throughput;
        // no instance table, so no workers. The slow-job rule is judged all the same.
        assert!(!b.capabilities().throughput.yes(), "{}", boss.schema);
        assert!(s.workers.is_empty() && !b.capabilities().workers.yes());
        assert_eq!(
            not_evaluated(&s, &b.capabilities()),
            [
                BacklogBaseline,
                DeadSpike,
                FailureRate,
                KindFailureRate,
                WorkerDown,
                NoWorker,
                DbUnreachable
            ],
            "{}",
            boss.schema
        );
    }
    // Workers on 12: its instance table, where the killed holder never stopped (every
    // other script stopped its PgBoss).
    let pids: Vec<Option<i32>> = s12.workers.iter().map(|w| w.pid).collect();
    assert_eq!(pids, [Some(holders[0])]);
    assert!(b12.capabilities().workers.yes() && b12.capabilities().heartbeats.yes());
    // Throughput on 12, through its own (name, completed_on) index on each partition.
    assert!(b12.capabilities().throughput.yes());
    assert_eq!(finished(&s12, "ok"), (2, 0));
    assert_eq!(finished(&s12, "fails"), (0, 1));
    assert_eq!(
        finished(&s12, "flaky"),
        (0, 0),
        "a retried attempt is not a failure"
    );
    // Every rule judged on 12 but those that need history or another run; its minutes
    // carry the job's name, so the per-kind failure rate is judged too.
    assert_eq!(
        not_evaluated(&s12, &b12.capabilities()),
        [BacklogBaseline, DbUnreachable]
    );
    // When jobs died (completed_on of failed ones), for the dead-spike alert.
    let fails = s12.queues.iter().find(|q| q.name == "fails").unwrap();
    assert_eq!(fails.dead_last_hour, Some(Count::exact(1)));
    let findings = b12.doctor_plan().findings;
    assert!(
        findings.iter().all(|c| c.status == doctor_ok()),
        "pg-boss 12's own indexes, on its partitions, serve every figure: {findings:#?}"
    );

    // The killed worker's job: stuck where pg-boss keeps heartbeats.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hold_stuck = stuck(&b12).await;
    assert_eq!(hold_stuck.len(), 1, "{hold_stuck:?}");
    for boss in older {
        assert!(
            stuck(&boss.open(pool).await).await.is_empty(),
            "{}: no heartbeats, started just now",
            boss.schema
        );
    }

    // pg-boss's own supervisor, past the hold queue's 10 s heartbeat: 12 fails the silent
    // job back to retry (due at once), and caches its per-queue counts; before 12 the job
    // stays active until it expires (15 minutes).
    let heartbeat = Duration::from_secs(11);
    if let Some(left) = heartbeat.checked_sub(killed_at.elapsed()) {
        tokio::time::sleep(left).await;
    }
    for boss in all {
        boss.run(npm, &db, &["supervise"]);
    }
    assert_eq!(state_of(pool, "boss12", &hold_stuck[0]).await, "retry");
    let monitored: bool =
        sqlx::query_scalar("SELECT bool_and(monitor_on IS NOT NULL) FROM boss12.queue")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(monitored, "pg-boss's supervisor has cached its counts");
    let mut after12 = before.clone();
    after12[2].1 = [1, 0, 0, 0, 0];
    assert_eq!(
        counts(&snap(&b12).await),
        after12,
        "pg-boss 12 after its supervisor"
    );
    for boss in older {
        let s = snap(&boss.open(pool).await).await;
        assert_eq!(counts(&s), before, "{} after its maintenance", boss.schema);
    }

    // `jobtop retry --queue fails --state dead`, through the gate, on each: the next
    // snapshot shows the job ready and no longer dead, whatever pg-boss's cache says.
    for (boss, failed) in all.into_iter().zip(&failed_ids) {
        let gate = Gate::with_actor(Backend::new(boss.open(pool).await), false, "ci".into());
        let plan = gate
            .plan(&Action::Retry(matching("fails", JobState::Dead)))
            .await
            .unwrap();
        assert_eq!(plan.eligible, 1, "{}", boss.schema);
        let out = run(&gate, &plan).await;
        assert_eq!(out.changed, 1, "{}", boss.schema);
        let s = snap(&boss.open(pool).await).await;
        let fails = counts(&s).into_iter().find(|(n, _)| n == "fails").unwrap();
        assert_eq!(fails.1, [1, 0, 0, 0, 0], "{}: ready, not dead", boss.schema);
        if boss.heartbeats {
            let cached: i32 =
                sqlx::query_scalar("SELECT failed_count FROM boss12.queue WHERE name = 'fails'")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            assert_eq!(
                cached, 1,
                "pg-boss's cache still says dead: jobtop does not read it"
            );
        }

        // pg-boss's own worker takes the very job jobtop retried, and completes it.
        let done = boss.run(npm, &db, &["work", "fails"]);
        let taken: Vec<&str> = done
            .lines()
            .filter_map(|l| l.strip_prefix("DONE "))
            .collect();
        assert_eq!(taken, [failed.as_str()], "{}", boss.schema);
        assert_eq!(state_of(pool, boss.schema, failed).await, "completed");
        let s = snap(&boss.open(pool).await).await;
        let fails = counts(&s).into_iter().find(|(n, _)| n == "fails").unwrap();
        assert_eq!(fails.1, [0, 0, 0, 0, 0], "{}", boss.schema);
        if boss.heartbeats {
            assert_eq!(finished(&s, "fails"), (1, 0), "now a success in its minute");
        }
    }
}

fn doctor_ok() -> jobtop::backend::doctor::Status {
    jobtop::backend::doctor::Status::Ok
}

/// pg-boss 12's `schedule()` as jobtop reads it (its `schedule` row: queue, cron, never sent),
/// run-now through the gate (one job of the schedule's data in its queue, audited) taken by
/// pg-boss's own worker, and the missed-run alert once the schedule is older than a due
/// time that its timekeeper (not running here) never sent.
#[tokio::test]
async fn pgboss_schedule_read_run_now_and_missed() {
    use jobtop::backend::actions::{ScheduleOp, ScheduleTarget};
    use jobtop::backend::schedules::queues;

    let Some(npm) = npm::clients() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    V12.run(npm, &db, &["migrate"]);
    V12.run(npm, &db, &["schedule"]);

    let read = || async {
        queues::read(pool, "pg-boss", V12.schema, chrono::Utc::now())
            .await
            .unwrap()
    };
    let found = read().await;
    assert_eq!(found.len(), 1);
    let s = &found[0];
    assert_eq!((s.source.as_str(), s.name.as_str()), ("pg-boss", "ok"));
    assert_eq!(s.expression, "*/5 * * * *");
    assert_eq!(s.period_seconds, Some(300.0));
    assert!(s.never_ran && s.runs.is_empty());
    assert!(s.next_due_at.unwrap() > chrono::Utc::now());

    let backend = Backend::new(V12.open(pool).await).with_schedules(pool.clone());
    let gate = Gate::with_actor(backend, false, "ci".into());
    let plan = gate
        .plan(&Action::Schedule {
            op: ScheduleOp::RunNow,
            target: ScheduleTarget {
                source: s.source.clone(),
                id: s.id.clone(),
                name: s.name.clone(),
            },
        })
        .await
        .unwrap();
    assert_eq!(plan.question(), "Run now schedule `pg-boss/ok`?");
    let out = run(&gate, &plan).await;
    assert_eq!(out.summary(), "enqueued a run of schedule `pg-boss/ok`");
    let sent: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM boss12.job WHERE name = 'ok' AND data = '{\"n\": 7}'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(sent.len(), 1);
    let (action, count): (String, i64) =
        sqlx::query_as("SELECT action, count FROM jobtop.audit WHERE id = $1")
            .bind(out.audit_id.unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((action.as_str(), count), ("schedule_run_now", 1));
    let done = V12.run(npm, &db, &["work", "ok"]);
    assert!(done.contains(&format!("DONE {}", sent[0])), "{done}");

    // Made 20 minutes ago and never sent since: the last */5 due time before now less the
    // grace was missed.
    common::exec(
        pool,
        "UPDATE boss12.schedule SET created_on = now() - interval '20 minutes'",
    )
    .await;
    let now = chrono::Utc::now();
    let grace = chrono::Duration::seconds(30);
    let s = read().await.remove(0);
    let due = s.missed_since(now, grace).expect("missed");
    assert!(due <= now - grace && due > now - grace - chrono::Duration::minutes(5));
    let url = common::url_for(&db);
    let out = crate::cli::jobtop(
        "[rules.schedule_missed]\nthreshold = \"30s\"\n",
        &["check", &url, "--schema", V12.schema],
    );
    let text = crate::cli::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}{}",
        crate::cli::stderr(&out)
    );
    assert!(
        text.contains("CRITICAL schedule_missed schedule pg-boss/ok: "),
        "{text}"
    );
}
