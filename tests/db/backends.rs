//! The schema backends against real PostgreSQL: each fixture (tests/fixtures/*.sql, written
//! from the project's documented tables and states) read into the normalized model and
//! checked figure by figure; detection among several schemas in one database; doctor's
//! plans and privileges; profile mistakes reported at their line and column.

use std::sync::Arc;

use jobtop::backend::detect::{self, BackendKind, ChooseError, Detected, Selection};
use jobtop::backend::doctor::{self, Status};
use jobtop::backend::engine::foreign::Foreign;
use jobtop::backend::graphile;
use jobtop::backend::mapped::{self, Profile};
use jobtop::backend::native::NativeBackend;
use jobtop::backend::oban;
use jobtop::backend::pgboss;
use jobtop::backend::river;
use jobtop::backend::{Count, MinuteBucket, Overview, Reads, Snapshot, SnapshotOptions};
use sqlx::{AssertSqlSafe, PgPool};

use crate::common::fixture::{CEPRO, GRAPHILE, JOB_QUEUE, JOBFORGE, OBAN, PGBOSS, RIVER};
use crate::common::{self, exec, load};

/// Retry, cancel, discard, delete and purge, recorded in jobtop.audit (the harness
/// migrates it).
const JOB_ACTIONS: common::ActionFlags = common::ActionFlags {
    retry: true,
    cancel: true,
    discard: true,
    delete: true,
    reset_stuck: false,
    purge: true,
    audit: true,
};

/// No job actions in the profile (or a uuid id), but the audit table is there to read.
const AUDIT_ONLY: common::ActionFlags = common::ActionFlags {
    audit: true,
    ..common::ActionFlags::NONE
};

/// Loads an unqualified fixture (River, Oban) into a schema of its own, as a prefix would.
async fn load_into(pool: &PgPool, schema: &str, sql: &str) {
    let script =
        format!("CREATE SCHEMA {schema}; SET search_path TO {schema}; {sql}; RESET search_path;");
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(script))
        .execute(&mut *conn)
        .await
        .expect("fixture loads");
}

async fn snap(backend: &dyn Reads) -> Snapshot {
    backend
        .snapshot(&SnapshotOptions::default())
        .await
        .expect("snapshot")
}

/// One queue as the tests state it: counts (ready, scheduled, retrying, running, dead), the
/// oldest ready job's age in seconds, paused or not.
type Q = (&'static str, [i64; 5], Option<i64>, bool);

/// Fixture times are "now() at load"; the snapshot comes a moment later, so an age may run
/// a few seconds past the fixture's figure, never under it.
fn close(actual: i64, expected: i64) -> bool {
    (0..=5).contains(&(actual - expected))
}

fn assert_queues(snapshot: &Snapshot, expected: &[Q]) {
    let actual: Vec<(String, [i64; 5], Option<i64>, bool)> = snapshot
        .queues
        .iter()
        .map(|q| {
            for c in [q.ready, q.scheduled, q.retrying, q.running, q.dead] {
                assert!(!c.capped && !c.estimated, "{}: {c:?}", q.name);
            }
            let age = q.oldest_ready_age(snapshot.db_now).map(|a| a.num_seconds());
            let want = expected.iter().find(|e| e.0 == q.name).and_then(|e| e.2);
            let age = match (age, want) {
                (Some(a), Some(w)) if close(a, w) => Some(w),
                (a, _) => a,
            };
            (
                q.name.clone(),
                [
                    q.ready.value,
                    q.scheduled.value,
                    q.retrying.value,
                    q.running.value,
                    q.dead.value,
                ],
                age,
                q.paused.is_some(),
            )
        })
        .collect();
    let expected: Vec<(String, [i64; 5], Option<i64>, bool)> = expected
        .iter()
        .map(|(n, c, a, p)| (n.to_string(), *c, *a, *p))
        .collect();
    assert_eq!(actual, expected);
}

/// Workers as (id, queues, running jobs, heartbeat age in seconds).
type W = (&'static str, &'static [&'static str], i64, Option<i64>);

fn assert_workers(snapshot: &Snapshot, expected: &[W]) {
    let actual: Vec<(String, Vec<String>, i64, Option<i64>)> = snapshot
        .workers
        .iter()
        .map(|w| {
            let want = expected.iter().find(|e| e.0 == w.id).and_then(|e| e.3);
            let age = w.heartbeat_age(snapshot.db_now).map(|a| a.num_seconds());
            let age = match (age, want) {
                (Some(a), Some(x)) if close(a, x) => Some(x),
                (a, _) => a,
            };
            (w.id.clone(), w.queues.clone(), w.running_jobs, age)
        })
        .collect();
    let expected: Vec<(String, Vec<String>, i64, Option<i64>)> = expected
        .iter()
        .map(|(id, qs, n, a)| {
            (
                id.to_string(),
                qs.iter().map(|s| s.to_string()).collect(),
                *n,
                *a,
            )
        })
        .collect();
    assert_eq!(actual, expected);
}

/// Completions as (minutes ago, succeeded, failed). The minute may have turned between
/// loading the fixture and the snapshot, shifting every event one slot back.
fn assert_minutes(snapshot: &Snapshot, queue: &str, events: &[(usize, u32, u32)]) {
    let q = snapshot
        .queues
        .iter()
        .find(|q| q.name == queue)
        .unwrap_or_else(|| panic!("no queue {queue}"));
    assert_eq!(q.minutes.len(), 60, "{queue}: 60 minutes of history");
    let matches = (0..=1).any(|shift| {
        let mut want = vec![MinuteBucket::default(); 60];
        for &(ago, ok, failed) in events {
            let slot = 59 - ago - shift;
            want[slot].succeeded += ok;
            want[slot].failed += failed;
        }
        want == q.minutes
    });
    let got: Vec<(usize, MinuteBucket)> = q
        .minutes
        .iter()
        .enumerate()
        .filter(|(_, m)| **m != MinuteBucket::default())
        .map(|(i, m)| (59 - i, *m))
        .collect();
    assert!(
        matches,
        "{queue}: expected {events:?} (minutes ago, ok, failed), got {got:?}"
    );
}

#[tokio::test]
async fn river_snapshot() {
    let db = common::test_db().await;
    load(&db.pool, RIVER).await;
    let river = river::open(db.pool.clone(), "public").await.unwrap();
    assert_eq!(river.name(), "river");
    assert_eq!(
        common::flags(&river.capabilities()),
        common::Flags {
            actions: JOB_ACTIONS,
            pause: true,
            heartbeats: false,
            workers: true,
            error_history: true,
            tenants: false,
            throughput: true,
            pause_visible: true,
            failed_attempts: true,
        }
    );
    let s = snap(&river).await;
    assert_queues(
        &s,
        &[
            ("batch", [1, 0, 0, 0, 0], Some(45), false),
            ("default", [5, 3, 2, 2, 2], Some(600), false),
            ("idle", [0, 0, 0, 0, 0], None, false),
            ("mailers", [2, 0, 0, 1, 0], Some(180), true),
        ],
    );
    let mailers = s.queues.iter().find(|q| q.name == "mailers").unwrap();
    let paused_for = (s.db_now - mailers.paused.as_ref().unwrap().at).num_seconds();
    assert!(close(paused_for, 180), "paused {paused_for}s ago");
    assert_minutes(
        &s,
        "default",
        &[
            (5, 2, 0),
            (40, 1, 0),
            (3, 0, 1),
            (7, 0, 1),
            (12, 0, 1),
            (25, 0, 1),
            (21, 0, 1),
        ],
    );
    assert_minutes(&s, "mailers", &[(15, 1, 0)]);
    assert_minutes(&s, "idle", &[]);
    assert_workers(
        &s,
        &[
            ("client-a", &["default"], 1, None),
            ("client-b", &["default"], 1, None),
            ("client-c", &["mailers"], 1, None),
        ],
    );
}

#[tokio::test]
async fn river_counts_stop_at_the_cap() {
    let db = common::test_db().await;
    load(&db.pool, RIVER).await;
    let river = river::open(db.pool.clone(), "public").await.unwrap();
    let s = river
        .snapshot(&SnapshotOptions {
            count_cap: 2,
            running_by_tenant: false,
            pile_cap: 2,
            estimates: jobtop::backend::pile_estimates::PER_POLL,
        })
        .await
        .unwrap();
    let default = s.queues.iter().find(|q| q.name == "default").unwrap();
    assert_eq!(
        default.ready,
        Count {
            value: 2,
            capped: true,
            estimated: false
        }
    );
    // A pile past the pile cap: "2+", or the planner's estimate of the scheduled state
    // where it says more.
    let scheduled = default.scheduled;
    assert!(
        scheduled == Count::capped_at(3, 2) || (scheduled.estimated && scheduled.value > 2),
        "{scheduled:?}"
    );
    assert_eq!(default.running, Count::exact(2));
    assert_eq!(s.count_cap, 2);
}

#[tokio::test]
async fn oban_snapshot_in_a_prefix_schema() {
    let db = common::test_db().await;
    load_into(&db.pool, "jobs_oban", OBAN).await;
    let oban = oban::open(db.pool.clone(), "jobs_oban").await.unwrap();
    // Oban's own indexes do not cover completed_at; the fixture's table is small enough
    // to read whole for the hour's completions.
    assert_eq!(
        common::flags(&oban.capabilities()),
        common::Flags {
            actions: JOB_ACTIONS,
            pause: true,
            heartbeats: false,
            workers: true,
            error_history: true,
            tenants: false,
            throughput: true,
            pause_visible: false,
            failed_attempts: true,
        }
    );
    let s = snap(&oban).await;
    let expected: &[Q] = &[
        ("default", [4, 3, 1, 2, 1], Some(480), false),
        ("events", [1, 0, 0, 1, 0], Some(90), false),
    ];
    assert_queues(&s, expected);
    let assert_hour = |s: &jobtop::backend::Snapshot| {
        assert_minutes(
            s,
            "default",
            &[
                (3, 2, 0),
                (50, 1, 0),
                (40, 0, 1),
                (30, 0, 1),
                (6, 0, 1),
                (4, 0, 1),
            ],
        );
        assert_minutes(s, "events", &[(12, 1, 0)]);
    };
    assert_hour(&s);
    assert_workers(
        &s,
        &[
            ("node-a", &["default", "events"], 2, None),
            ("node-b", &["default"], 1, None),
        ],
    );

    // Past a few megabytes a read of the whole table each poll costs too much: no
    // throughput, and the reason says what would bring it back.
    common::grow_past_small(&db.pool, "jobs_oban.oban_jobs").await;
    let oban = oban::open(db.pool.clone(), "jobs_oban").await.unwrap();
    let why = oban.capabilities().throughput.reason().unwrap();
    assert!(
        why.contains("completed_at") && why.contains("doctor"),
        "{why}"
    );
    let s = snap(&oban).await;
    assert_queues(&s, expected);
    assert!(s.queues.iter().all(|q| q.minutes.is_empty()));

    exec(
        &db.pool,
        "CREATE INDEX jobtop_completed ON jobs_oban.oban_jobs (state, completed_at)",
    )
    .await;
    let oban = oban::open(db.pool.clone(), "jobs_oban").await.unwrap();
    assert!(oban.capabilities().throughput.yes());
    let s = snap(&oban).await;
    assert_queues(&s, expected);
    assert_hour(&s);
}

#[tokio::test]
async fn pgboss_snapshot_over_partitions() {
    let db = common::test_db().await;
    load(&db.pool, PGBOSS).await;
    let boss = pgboss::open(db.pool.clone(), "pgboss").await.unwrap();
    assert_eq!(
        common::flags(&boss.capabilities()),
        common::Flags {
            actions: common::ActionFlags {
                retry: true,
                cancel: true,
                discard: false,
                delete: true,
                reset_stuck: false,
                purge: true,
                audit: true,
            },
            pause: false,
            heartbeats: false,
            workers: false,
            error_history: false,
            tenants: false,
            throughput: true,
            pause_visible: false,
            failed_attempts: false,
        }
    );
    // pg-boss 12's own indexes (the fixture has them all): the blocked job (waiting on a
    // parent) is found and shown as scheduled, completions per minute are read per queue,
    // and running and dead are counted from the rows.
    let s = snap(&boss).await;
    assert_queues(
        &s,
        &[
            ("emails", [4, 3, 2, 2, 2], Some(360), false),
            ("reports", [1, 0, 0, 1, 1], Some(30), false),
            ("reports_dlq", [1, 0, 0, 0, 0], Some(300), false),
        ],
    );
    assert!(s.workers.is_empty());
    assert!(s.queues.iter().all(|q| q.minutes.len() == 60));
    let findings = boss.doctor_plan().findings;
    assert!(
        !findings
            .iter()
            .any(|c| c.name == "blocked jobs" && c.status == Status::Warn),
        "{findings:#?}"
    );

    // pg-boss's supervisor caches per-queue counts in `queue`: never read, every figure
    // stays counted from the rows.
    exec(
        &db.pool,
        "UPDATE pgboss.queue SET monitor_on = now(), active_count = 7, failed_count = 9 \
         WHERE name = 'emails'",
    )
    .await;
    let s = snap(&boss).await;
    let emails = &s.queues[0];
    assert_eq!(
        (emails.running, emails.dead),
        (Count::exact(2), Count::exact(2))
    );

    // The indexes doctor names, created as pg-boss creates its own: on each partition, none
    // on the parent. Found there, every figure is an exact count again.
    exec(
        &db.pool,
        "DO $$ DECLARE p text; BEGIN \
           FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                    WHERE i.inhparent = 'pgboss.job'::regclass LOOP \
             EXECUTE format('CREATE INDEX ON pgboss.%I (name, state, blocked, start_after) \
                             WHERE state IN (''created'', ''retry'', ''active'', ''failed'')', p); \
             EXECUTE format('CREATE INDEX ON pgboss.%I (name, completed_on) \
                             WHERE completed_on IS NOT NULL', p); \
           END LOOP; END $$",
    )
    .await;
    let parent_indexes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_index WHERE indrelid = 'pgboss.job'::regclass")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(parent_indexes, 1, "only the primary key is on the parent");
    let boss = pgboss::open(db.pool.clone(), "pgboss").await.unwrap();
    assert!(boss.capabilities().throughput.yes());
    assert!(
        boss.doctor_plan()
            .findings
            .iter()
            .all(|c| c.status == Status::Ok)
    );
    let s = snap(&boss).await;
    assert_queues(
        &s,
        &[
            ("emails", [4, 3, 2, 2, 2], Some(360), false),
            ("reports", [1, 0, 0, 1, 1], Some(30), false),
            ("reports_dlq", [1, 0, 0, 0, 0], Some(300), false),
        ],
    );
    assert_minutes(&s, "emails", &[(2, 2, 0), (35, 1, 0), (20, 0, 2)]);
    assert_minutes(&s, "reports", &[(5, 0, 1)]);
    assert_minutes(&s, "reports_dlq", &[]);
}

#[tokio::test]
async fn graphile_snapshot_derives_states_from_columns() {
    let db = common::test_db().await;
    load(&db.pool, GRAPHILE).await;
    let g = graphile::open(db.pool.clone(), "graphile_worker")
        .await
        .unwrap();
    assert_eq!(
        common::flags(&g.capabilities()),
        common::Flags {
            actions: common::ActionFlags {
                retry: true,
                cancel: false,
                discard: true,
                delete: true,
                reset_stuck: true,
                purge: false,
                audit: true,
            },
            pause: false,
            heartbeats: false,
            workers: true,
            error_history: false,
            tenants: false,
            throughput: false,
            pause_visible: false,
            failed_attempts: false,
        }
    );
    let s = snap(&g).await;
    assert_queues(
        &s,
        &[
            ("nightly_report", [0, 1, 0, 0, 0], None, false),
            ("resize_image", [1, 0, 0, 1, 2], Some(20), false),
            ("send_email", [4, 2, 2, 2, 1], Some(420), false),
            ("unused_task", [0, 0, 0, 0, 0], None, false),
        ],
    );
    assert!(s.queues.iter().all(|q| q.minutes.is_empty()));
    assert_workers(
        &s,
        &[
            ("worker-a", &["send_email"], 2, None),
            ("worker-b", &["resize_image"], 1, None),
        ],
    );
}

/// graphile's own indexes hold waiting jobs by no task: they are counted for every task in
/// one pass on the slower clock, marked estimated until the next pass; with doctor's index
/// by task, per task on every poll, the same figures exact.
#[tokio::test]
async fn graphile_waiting_jobs_come_from_a_pass_without_doctors_index_and_from_it_with() {
    let db = common::test_db().await;
    load(&db.pool, GRAPHILE).await;
    let expected: &[Q] = &[
        ("nightly_report", [0, 1, 0, 0, 0], None, false),
        ("resize_image", [1, 0, 0, 1, 2], Some(20), false),
        ("send_email", [4, 2, 2, 2, 1], Some(420), false),
        ("unused_task", [0, 0, 0, 0, 0], None, false),
    ];
    let waiting_estimated = |s: &jobtop::backend::Snapshot| {
        let email = s.queues.iter().find(|q| q.name == "send_email").unwrap();
        assert_eq!(email.scheduled.value, 2);
        assert!(!email.running.estimated && !email.dead.estimated);
        email.ready.estimated && email.scheduled.estimated && email.retrying.estimated
    };
    // A small table: the pass is taken in every poll, exact.
    let small = graphile::open(db.pool.clone(), "graphile_worker")
        .await
        .unwrap();
    assert_queues(&snap(&small).await, expected);
    assert!(!waiting_estimated(&snap(&small).await));

    common::grow_past_small(&db.pool, "graphile_worker._private_jobs").await;
    let g = graphile::open(db.pool.clone(), "graphile_worker")
        .await
        .unwrap();
    assert!(
        g.doctor_plan()
            .probes
            .iter()
            .any(|p| p.name.starts_with("slow pass (every 15 s)")),
        "without an index by task the waiting jobs are a pass"
    );
    assert_queues(&snap(&g).await, expected);
    assert!(
        waiting_estimated(&snap(&g).await),
        "between passes the waiting counts say they are the last pass's"
    );

    sqlx::raw_sql(
        "CREATE INDEX jobs_jobtop_waiting ON graphile_worker._private_jobs (task_id, run_at) \
         INCLUDE (attempts) WHERE is_available = true",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let indexed = graphile::open(db.pool.clone(), "graphile_worker")
        .await
        .unwrap();
    assert!(
        !indexed
            .doctor_plan()
            .probes
            .iter()
            .any(|p| p.name.starts_with("slow pass")),
        "with doctor's index no pass is taken"
    );
    assert_queues(&snap(&indexed).await, expected);
    assert_queues(&snap(&indexed).await, expected);

    // With doctor's indexes of the jobs not available too, running and dead jobs are
    // ranges by task and the workers the locked jobs' index: the same figures.
    sqlx::raw_sql(
        "CREATE INDEX jobs_jobtop_locked ON graphile_worker._private_jobs (task_id, locked_at) \
         WHERE locked_at IS NOT NULL; \
         CREATE INDEX jobs_jobtop_held ON graphile_worker._private_jobs (task_id) \
         WHERE is_available = false",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let ranges = graphile::open(db.pool.clone(), "graphile_worker")
        .await
        .unwrap();
    let counts = ranges
        .doctor_plan()
        .probes
        .into_iter()
        .find(|p| p.name == "queue counts")
        .unwrap();
    assert!(
        !counts.sql.contains("held"),
        "no read of every job not available: {}",
        counts.sql
    );
    let s = snap(&ranges).await;
    assert_queues(&s, expected);
    assert_workers(
        &s,
        &[
            ("worker-a", &["send_email"], 2, None),
            ("worker-b", &["resize_image"], 1, None),
        ],
    );
}

async fn mapped(pool: &PgPool, profile: &str) -> Foreign {
    mapped::open(pool.clone(), Profile::shipped(profile).unwrap(), None)
        .await
        .unwrap()
}

#[tokio::test]
async fn job_queue_profile_snapshot() {
    let db = common::test_db().await;
    load(&db.pool, JOB_QUEUE).await;
    let b = mapped(&db.pool, "job_queue").await;
    assert_eq!(b.name(), "mapped");
    assert_eq!(b.profile.as_deref().unwrap_or_default(), "job_queue");
    assert_eq!(
        common::flags(&b.capabilities()),
        common::Flags {
            actions: common::ActionFlags {
                retry: true,
                cancel: true,
                purge: true,
                ..AUDIT_ONLY
            },
            pause: false,
            heartbeats: false,
            workers: false,
            error_history: false,
            tenants: false,
            throughput: false,
            pause_visible: false,
            failed_attempts: false,
        }
    );
    let s = snap(&b).await;
    assert_queues(
        &s,
        &[
            ("game_platform_sync", [3, 1, 1, 1, 2], Some(240), false),
            ("leaderboard_rollup", [1, 0, 0, 0, 1], Some(360), false),
        ],
    );
    assert!(s.workers.is_empty());
    assert!(s.queues.iter().all(|q| q.minutes.is_empty()));
}

#[tokio::test]
async fn jobforge_profile_snapshot() {
    let db = common::test_db().await;
    load(&db.pool, JOBFORGE).await;
    let b = mapped(&db.pool, "jobforge").await;
    assert_eq!(
        common::flags(&b.capabilities()),
        common::Flags {
            actions: common::ActionFlags {
                retry: true,
                reset_stuck: true,
                purge: true,
                ..AUDIT_ONLY
            },
            pause: false,
            heartbeats: true,
            workers: true,
            error_history: false,
            tenants: true,
            throughput: true,
            pause_visible: false,
            failed_attempts: false,
        }
    );
    // Only `queued` has an index (the claim index): the other statuses are counted in one
    // grouped pass; with an index for them, by capped ranges. The figures are the same.
    let expected: &[Q] = &[
        ("connector.http.request", [2, 1, 2, 3, 3], Some(180), false),
        (
            "system.cleanup.old_jobs",
            [1, 0, 0, 1, 0],
            Some(3600),
            false,
        ),
    ];
    assert_queues(&snap(&b).await, expected);
    exec(
        &db.pool,
        "CREATE INDEX jobforge_live ON jobforge_jobs (status, type, run_at) \
         WHERE status IN ('queued', 'running', 'failed', 'dead')",
    )
    .await;
    let b = mapped(&db.pool, "jobforge").await;
    let s = snap(&b).await;
    assert_queues(&s, expected);
    assert_minutes(
        &s,
        "connector.http.request",
        &[(2, 1, 0), (45, 1, 0), (15, 0, 2)],
    );
    assert_minutes(&s, "system.cleanup.old_jobs", &[(5, 1, 0)]);
    assert_workers(
        &s,
        &[
            ("w1", &["connector.http.request"], 2, Some(10)),
            (
                "w2",
                &["connector.http.request", "system.cleanup.old_jobs"],
                2,
                Some(540),
            ),
        ],
    );
}

#[tokio::test]
async fn cepro_profile_snapshot() {
    let db = common::test_db().await;
    load(&db.pool, CEPRO).await;
    let b = mapped(&db.pool, "cepro").await;
    assert_eq!(
        common::flags(&b.capabilities()),
        common::Flags {
            actions: AUDIT_ONLY,
            pause: false,
            heartbeats: false,
            workers: true,
            error_history: false,
            tenants: false,
            throughput: false,
            pause_visible: false,
            failed_attempts: false,
        }
    );
    let s = snap(&b).await;
    assert_queues(
        &s,
        &[("background_jobs", [4, 1, 2, 2, 2], Some(300), false)],
    );
    assert_workers(&s, &[("cron-1", &["background_jobs"], 2, None)]);
}

#[tokio::test]
async fn a_short_profile_with_a_pause_table() {
    let db = common::test_db().await;
    load(&db.pool, JOB_QUEUE).await;
    exec(
        &db.pool,
        "CREATE SCHEMA ops; \
         CREATE TABLE ops.queue_pauses (queue text PRIMARY KEY, paused_at timestamptz, \
           paused_by text, reason text); \
         INSERT INTO ops.queue_pauses VALUES \
           ('leaderboard_rollup', now() - interval '2 minutes', 'alice', 'bad deploy'), \
           ('game_platform_sync', NULL, NULL, NULL), \
           ('retired_queue', now() - interval '1 day', 'bob', NULL)",
    )
    .await;
    let text = r#"
table = "job_queue"
[columns]
id = "id"
queue = "task_type"
status = "status"
run_at = "run_at"
[statuses]
pending = "queued"
running = "running"
failed = "dead"
[pause]
schema = "ops"
table = "queue_pauses"
queue = "queue"
paused_at = "paused_at"
paused_by = "paused_by"
reason = "reason"
"#;
    let profile = Profile::parse("pauses.toml", text).unwrap();
    let b = mapped::open(db.pool.clone(), profile, None).await.unwrap();
    assert!(b.capabilities().pause.yes() && b.capabilities().pause_visible.yes());
    let s = snap(&b).await;
    // No attempts column: a pending job not yet due is scheduled, never retrying.
    assert_queues(
        &s,
        &[
            ("game_platform_sync", [3, 2, 0, 1, 2], Some(240), false),
            ("leaderboard_rollup", [1, 0, 0, 0, 1], Some(360), true),
            ("retired_queue", [0, 0, 0, 0, 0], None, true),
        ],
    );
    let paused = s.queues[1].paused.as_ref().unwrap();
    assert_eq!(paused.by.as_deref(), Some("alice"));
    assert_eq!(paused.reason.as_deref(), Some("bad deploy"));
}

async fn exec_ok(pool: &PgPool, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(pool).await.map(|_| ())
}

async fn all_fixtures(pool: &PgPool) {
    for sql in [RIVER, OBAN, PGBOSS, GRAPHILE, JOB_QUEUE, JOBFORGE, CEPRO] {
        load(pool, sql).await;
    }
    load_into(pool, "billing", OBAN).await;
}

fn found(backend: BackendKind, schema: &str, profile: Option<&str>) -> Detected {
    Detected {
        backend,
        schema: schema.to_string(),
        profile: profile.map(str::to_string),
    }
}

#[tokio::test]
async fn detects_every_schema_in_one_database() {
    let db = common::test_db().await;
    all_fixtures(&db.pool).await;
    // A table that merely shares a shipped profile's name is not taken for it.
    exec_ok(
        &db.pool,
        "CREATE SCHEMA other; CREATE TABLE other.job_queue (id int)",
    )
    .await
    .unwrap();
    let mut got = detect::detect(&db.pool).await.unwrap();
    // The test harness may also install the native schema; it is tested elsewhere.
    got.retain(|d| d.backend != BackendKind::Native);
    assert_eq!(
        got,
        vec![
            found(BackendKind::River, "public", None),
            found(BackendKind::Oban, "billing", None),
            found(BackendKind::Oban, "public", None),
            found(BackendKind::PgBoss, "pgboss", None),
            found(BackendKind::Graphile, "graphile_worker", None),
            found(BackendKind::Mapped, "public", Some("cepro")),
            found(BackendKind::Mapped, "public", Some("job_queue")),
            found(BackendKind::Mapped, "public", Some("jobforge")),
        ]
    );
    // Every one of them opens and reads.
    for d in &got {
        let backend = detect::open(&db.pool, d).await.unwrap();
        let s = snap(backend.reads().as_ref()).await;
        assert!(!s.queues.is_empty(), "{d}");
    }
}

#[tokio::test]
async fn resolve_asks_when_several_match_and_opens_the_one_named() {
    let db = common::test_db().await;
    all_fixtures(&db.pool).await;
    let err = detect::resolve(&db.pool, &Selection::default())
        .await
        .err()
        .expect("several schemas: ambiguous");
    let Some(ChooseError::Ambiguous(list)) = err.downcast_ref::<ChooseError>() else {
        panic!("{err:#}");
    };
    assert!(list.len() >= 8);
    let text = err.to_string();
    assert!(text.contains("--backend oban --schema billing"), "{text}");

    let oban_only = Selection {
        backend: Some(BackendKind::Oban),
        ..Selection::default()
    };
    let err = detect::resolve(&db.pool, &oban_only).await.err().unwrap();
    assert!(matches!(
        err.downcast_ref::<ChooseError>(),
        Some(ChooseError::Ambiguous(l)) if l.len() == 2
    ));

    let billing = Selection {
        backend: Some(BackendKind::Oban),
        schema: Some("billing".into()),
        profile: None,
    };
    let (chosen, backend) = detect::resolve(&db.pool, &billing).await.unwrap();
    assert_eq!(chosen, found(BackendKind::Oban, "billing", None));
    assert_eq!(backend.name(), "oban");

    let graphile = Selection {
        backend: Some(BackendKind::Graphile),
        ..Selection::default()
    };
    let (chosen, _) = detect::resolve(&db.pool, &graphile).await.unwrap();
    assert_eq!(chosen.schema, "graphile_worker");

    let dir = std::env::temp_dir().join(format!("{}-profile.toml", db.name));
    std::fs::write(
        &dir,
        include_str!("../../assets/profiles/jobforge.toml")
            .replace("name = \"jobforge\"", "name = \"mine\""),
    )
    .unwrap();
    let by_file = Selection {
        profile: Some(dir.clone()),
        ..Selection::default()
    };
    let (chosen, backend) = detect::resolve(&db.pool, &by_file).await.unwrap();
    std::fs::remove_file(&dir).ok();
    assert_eq!(chosen, found(BackendKind::Mapped, "public", Some("mine")));
    let s = snap(backend.reads().as_ref()).await;
    assert_eq!(s.queues.len(), 2);
}

#[tokio::test]
async fn resolve_says_what_it_looked_for_when_nothing_matches() {
    let db = common::test_db().await;
    let mapped_only = Selection {
        backend: Some(BackendKind::Mapped),
        ..Selection::default()
    };
    let err = detect::resolve(&db.pool, &mapped_only).await.err().unwrap();
    assert!(matches!(
        err.downcast_ref::<ChooseError>(),
        Some(ChooseError::NothingFound { .. })
    ));
    let text = err.to_string();
    assert!(text.contains("river_job"), "{text}");
    assert!(text.contains("--profile FILE"), "{text}");

    // Named explicitly but absent: the backend itself says what is missing.
    let river = Selection {
        backend: Some(BackendKind::River),
        ..Selection::default()
    };
    let err = detect::resolve(&db.pool, &river).await.err().unwrap();
    assert!(err.to_string().contains("no river_job table"), "{err:#}");
}

#[tokio::test]
async fn profile_mistakes_are_reported_at_their_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        // TOML syntax: an unterminated string.
        (
            "table = \"job_queue\"\n[columns]\nid = \"id\nstatus = \"status\"\n",
            3,
            9,
            "",
        ),
        // A key the profile format does not have.
        (
            "table = \"t\"\n[columns]\nid = \"id\"\nstatus = \"status\"\n  statuz = \"s\"\n[statuses]\na = \"queued\"\nb = \"running\"\n",
            5,
            3,
            "statuz",
        ),
        // A state that does not exist.
        (
            "table = \"t\"\n[columns]\nid = \"id\"\nstatus = \"status\"\n[statuses]\npending = \"queud\"\nrunning = \"running\"\n",
            6,
            11,
            "unknown state \"queud\"",
        ),
        // A required key missing.
        (
            "table = \"t\"\n[columns]\nid = \"id\"\n[statuses]\npending = \"queued\"\nrunning = \"running\"\n",
            2,
            1,
            "status",
        ),
        // A heartbeat with no worker to belong to.
        (
            "table = \"t\"\n[columns]\nid = \"id\"\nstatus = \"s\"\nheartbeat_at = \"hb\"\n[statuses]\npending = \"queued\"\nrunning = \"running\"\n",
            5,
            16,
            "needs `worker`",
        ),
        // No running status.
        (
            "table = \"t\"\n[columns]\nid = \"id\"\nstatus = \"s\"\n[statuses]\npending = \"queued\"\n",
            5,
            1,
            "running",
        ),
    ];
    for (text, line, column, needle) in cases {
        let err = Profile::parse("p.toml", text).expect_err(text);
        assert_eq!(
            (err.line, err.column),
            (*line, *column),
            "{err} for:\n{text}"
        );
        assert!(err.message.contains(needle), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("p.toml:{line}:{column}: "))
        );
    }
}

#[tokio::test]
async fn profile_names_checked_against_the_database_point_at_the_profile() {
    let db = common::test_db().await;
    load(&db.pool, JOB_QUEUE).await;
    let text = "table = \"job_queue\"\n[columns]\nid = \"id\"\nstatus = \"status\"\nqueue = \"task_kind\"\n[statuses]\npending = \"queued\"\nrunning = \"running\"\n";
    let err = mapped::open(
        db.pool.clone(),
        Profile::parse("p.toml", text).unwrap(),
        None,
    )
    .await
    .err()
    .expect("unknown column");
    let err = err
        .downcast_ref::<jobtop::backend::mapped::ProfileError>()
        .expect("a located profile error");
    assert_eq!((err.line, err.column), (5, 9), "{err}");
    assert!(err.message.contains("task_kind"), "{err}");

    let text = "table = \"job_q\"\n[columns]\nid = \"id\"\nstatus = \"status\"\n[statuses]\npending = \"queued\"\nrunning = \"running\"\n";
    let err = mapped::open(
        db.pool.clone(),
        Profile::parse("p.toml", text).unwrap(),
        None,
    )
    .await
    .err()
    .expect("unknown table");
    let err = err
        .downcast_ref::<jobtop::backend::mapped::ProfileError>()
        .expect("a located profile error");
    assert_eq!((err.line, err.column), (1, 9), "{err}");
}

fn plan_status(report: &[doctor::Check], name: &str) -> Status {
    report
        .iter()
        .find(|c| c.name == format!("query plan: {name}"))
        .unwrap_or_else(|| panic!("no plan check {name}: {report:#?}"))
        .status
}

#[tokio::test]
async fn doctor_passes_river_and_flags_whole_table_scans_elsewhere() {
    let db = common::test_db().await;
    all_fixtures(&db.pool).await;

    let river: Arc<dyn Reads> = Arc::new(river::open(db.pool.clone(), "public").await.unwrap());
    let report = doctor::run(&db.pool, river.as_ref()).await;
    for probe in ["queue counts", "completions per minute", "workers"] {
        assert_eq!(plan_status(&report, probe), Status::Ok, "{report:#?}");
    }
    assert!(
        report
            .iter()
            .any(|c| c.name == "server version" && c.status == Status::Ok)
    );
    assert!(
        report.iter().all(|c| c.status != Status::Fail),
        "{report:#?}"
    );

    // graphile-worker has no index for locked and dead jobs: doctor names one, and with it
    // the plan no longer reads the whole table.
    let g = graphile::open(db.pool.clone(), "graphile_worker")
        .await
        .unwrap();
    let report = doctor::run(&db.pool, &g).await;
    let counts = report
        .iter()
        .find(|c| c.name == "query plan: queue counts")
        .unwrap();
    assert_eq!(counts.status, Status::Warn, "{report:#?}");
    assert!(
        counts.message.contains("graphile_worker._private_jobs"),
        "{counts:?}"
    );
    // The cost of going without the index, measured on this database.
    assert!(
        counts.message.contains("measured here: ") && counts.message.contains(" buffers"),
        "{counts:?}"
    );
    let fix = counts.fix.clone().unwrap();
    assert!(fix.contains("WHERE is_available = false"), "{fix}");
    let fix = fix.replace(" CONCURRENTLY", "");
    sqlx::raw_sql(AssertSqlSafe(fix))
        .execute(&db.pool)
        .await
        .unwrap();
    let report = doctor::run(&db.pool, &g).await;
    assert_eq!(
        plan_status(&report, "queue counts"),
        Status::Ok,
        "{report:#?}"
    );
    assert_eq!(plan_status(&report, "workers"), Status::Ok, "{report:#?}");

    // pg-boss 12 with the indexes pg-boss itself builds on each partition: the queue
    // counts run on them, and completions per minute are read (on the fixture's few rows
    // the planner may still prefer a filter; tests/db/real_clients checks doctor at size).
    let boss = pgboss::open(db.pool.clone(), "pgboss").await.unwrap();
    let report = doctor::run(&db.pool, &boss).await;
    assert_eq!(
        plan_status(&report, "queue counts"),
        Status::Ok,
        "{report:#?}"
    );
    assert_ne!(
        plan_status(&report, "completions per minute"),
        Status::Fail,
        "{report:#?}"
    );

    // JobForge: running and dead counts have no index on status.
    let jf = mapped(&db.pool, "jobforge").await;
    let report = doctor::run(&db.pool, &jf).await;
    let counts = report
        .iter()
        .find(|c| c.name == "query plan: queue counts")
        .unwrap();
    assert_eq!(counts.status, Status::Warn, "{report:#?}");
    let fix = counts.fix.clone().unwrap().replace(" CONCURRENTLY", "");
    sqlx::raw_sql(AssertSqlSafe(fix))
        .execute(&db.pool)
        .await
        .unwrap();
    let report = doctor::run(&db.pool, &jf).await;
    assert_eq!(
        plan_status(&report, "queue counts"),
        Status::Ok,
        "{report:#?}"
    );
    assert_eq!(plan_status(&report, "workers"), Status::Ok, "{report:#?}");
}

#[tokio::test]
async fn doctor_reports_missing_privileges() {
    let db = common::test_db().await;
    load(&db.pool, RIVER).await;
    let role = format!("{}_reader", db.name);
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS \"{role}\"; CREATE ROLE \"{role}\" LOGIN; \
         GRANT SELECT ON river_job TO \"{role}\";"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let reader = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.options.clone().username(&role))
        .await
        .unwrap();
    let river = river::open(reader.clone(), "public").await.unwrap();
    let report = doctor::run(&reader, &river).await;
    let jobs: Vec<_> = report
        .iter()
        .filter(|c| c.name == "privileges on public.river_job")
        .collect();
    assert_eq!(jobs.len(), 1, "{report:#?}");
    assert_eq!(jobs[0].status, Status::Warn);
    assert!(jobs[0].message.contains("UPDATE, DELETE"), "{:?}", jobs[0]);
    let queue = report
        .iter()
        .find(|c| c.name == "privileges on public.river_queue")
        .unwrap();
    assert_eq!(queue.status, Status::Fail, "{queue:?}");
    assert_eq!(doctor::worst(&report), Status::Fail);
    reader.close().await;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "REVOKE ALL ON river_job FROM \"{role}\"; DROP ROLE \"{role}\";"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
}

/// The reference schema gets the checks every other schema gets: its tables' privileges
/// and its statements' plans; a role that can read nothing is a failure, not "ok".
#[tokio::test]
async fn doctor_checks_the_reference_schema_and_fails_a_role_that_can_read_nothing() {
    let db = common::test_db().await;
    let native = NativeBackend::new(db.pool.clone());
    let report = doctor::run(&db.pool, &native).await;
    for probe in ["queue counts", "completions per minute", "workers"] {
        assert_eq!(plan_status(&report, probe), Status::Ok, "{report:#?}");
    }
    for table in ["jobs", "queues", "workers", "audit"] {
        let check = report
            .iter()
            .find(|c| c.name == format!("privileges on jobtop.{table}"))
            .unwrap_or_else(|| panic!("no privilege check on {table}: {report:#?}"));
        assert_eq!(check.status, Status::Ok, "{check:?}");
    }
    assert_eq!(doctor::worst(&report), Status::Ok, "{report:#?}");

    let role = format!("{}_nobody", db.name);
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS \"{role}\"; CREATE ROLE \"{role}\" LOGIN; \
         GRANT USAGE ON SCHEMA jobtop TO \"{role}\";"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let nobody = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.options.clone().username(&role))
        .await
        .unwrap();
    let report = doctor::run(&nobody, &NativeBackend::new(nobody.clone())).await;
    let jobs = report
        .iter()
        .find(|c| c.name == "privileges on jobtop.jobs")
        .unwrap();
    assert_eq!(jobs.status, Status::Fail, "{jobs:?}");
    assert!(jobs.message.contains("cannot read it"), "{jobs:?}");
    assert_eq!(doctor::worst(&report), Status::Fail);
    nobody.close().await;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "REVOKE ALL ON SCHEMA jobtop FROM \"{role}\"; DROP ROLE \"{role}\";"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
}
