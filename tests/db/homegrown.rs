//! A home-grown queue table read through the profile `jobtop profile new` drafts for it
//! (tests/fixtures/homegrown.sql): NULL run-at meaning now, a NOT NULL heartbeat column, the
//! workers' heartbeats in a table of their own, bytea payloads.

use std::time::Duration;

use sqlx::PgPool;

use jobtop::backend::drill::{DetailLimits, JobQuery, JobScope, ListFilter, Order, PayloadForm};
use jobtop::backend::gate::Gate;
use jobtop::backend::mapped::{self, Profile};
use jobtop::backend::{Action, Backend, JobId, JobState, Reads, SnapshotOptions};

use crate::cli::{jobtop, stderr, stdout};
use crate::common::fixture::HOMEGROWN;
use crate::common::{self, load, url_for};
use crate::helpers::{matching, queue, run};

/// The profile `jobtop profile new URL tasks` prints for the fixture.
async fn drafted(db: &common::TestDb) -> String {
    let out = jobtop("", &["profile", "new", &url_for(db), "tasks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The same profile with the heartbeats taken from `task_workers` instead of the job's own
/// column: the edit its comment asks for.
fn with_workers_table(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("heartbeat_at = ") {
                format!("# {l}")
            } else if ["# [workers]", "# table = ", "# id = ", "# heartbeat = "]
                .iter()
                .any(|p| l.starts_with(p))
            {
                l[2..].to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn open(pool: &PgPool, text: &str) -> Gate {
    let profile = Profile::parse("drafted.toml", text).expect("the draft parses");
    let backend = mapped::open(pool.clone(), profile, None).await.unwrap();
    Gate::with_actor(Backend::new(backend), false, "test".to_string())
}

fn stuck() -> JobScope {
    JobScope::Stuck {
        running_longer_than: Duration::from_secs(3600),
        stale_after: Duration::from_secs(60),
    }
}

async fn ids(reads: &dyn Reads, scope: JobScope) -> Vec<JobId> {
    let page = reads
        .jobs(&JobQuery {
            scope,
            filter: ListFilter::default(),
            order: Order::OldestFirst,
            after: None,
            limit: 50,
        })
        .await
        .unwrap();
    let mut ids: Vec<JobId> = page.rows.iter().map(|r| r.id.clone()).collect();
    ids.sort_by_key(|id| id.to_string().parse::<i64>().unwrap());
    ids
}

fn ints(v: &[i64]) -> Vec<JobId> {
    v.iter().copied().map(JobId::Int).collect()
}

async fn heartbeats_null(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tasks WHERE heartbeat IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn profile_new_drafts_a_profile_that_parses_and_names_its_guesses() {
    let db = common::test_db().await;
    load(&db.pool, HOMEGROWN).await;
    let text = drafted(&db).await;
    let p = Profile::parse("drafted.toml", &text).expect("the draft parses");
    assert!(p.null_run_at_is_now, "{text}");
    assert_eq!(p.values(mapped::Target::Queued), vec!["pending"]);
    assert_eq!(p.values(mapped::Target::Running), vec!["running"]);
    assert_eq!(p.values(mapped::Target::Dead), vec!["failed"]);
    assert_eq!(p.values(mapped::Target::Succeeded), vec!["done"]);
    assert_eq!(p.columns.kind.as_ref().unwrap().get_ref(), "task");
    assert_eq!(
        p.columns.heartbeat_at.as_ref().unwrap().get_ref(),
        "heartbeat"
    );
    for guessed in [
        "kind = \"task\"",
        "run_at = \"now\"",
        "\"pending\" = \"queued\"",
    ] {
        let line = text.lines().find(|l| l.starts_with(guessed)).unwrap();
        assert!(line.contains("# guess: check"), "{line}");
    }
    // The workers table is offered, commented out, beside the job's own heartbeat column.
    assert!(text.contains("# table = \"task_workers\""), "{text}");
    let w = Profile::parse("w.toml", &with_workers_table(&text)).unwrap();
    assert_eq!(w.workers.as_ref().unwrap().heartbeat.get_ref(), "last_seen");

    // --out writes the file and never overwrites one.
    let path = std::env::temp_dir().join(format!("{}-draft.toml", db.name));
    std::fs::remove_file(&path).ok();
    let out_arg = path.display().to_string();
    let args = ["profile", "new", &url_for(&db), "tasks", "--out", &out_arg];
    let out = jobtop("", &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(!jobtop("", &args).status.success());
    std::fs::remove_file(&path).ok();

    let out = jobtop("", &["profile", "new", &url_for(&db), "no_such_table"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no_such_table"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_drafted_profile_counts_null_run_at_as_ready_and_never_writes_null_heartbeats() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, HOMEGROWN).await;
    let g = open(pool, &drafted(&db).await).await;
    let reads = g.backend().reads();

    let snap = reads.snapshot(&SnapshotOptions::default()).await.unwrap();
    let q = queue(&snap, "default");
    let counts = (
        q.ready.value,
        q.scheduled.value,
        q.running.value,
        q.retrying.value,
        q.dead.value,
    );
    assert_eq!(counts, (5, 1, 2, 0, 2), "5 ready of 5 with a NULL run_at");
    // The oldest ready job has waited since it was created, 20 minutes ago.
    let age = (snap.db_now - q.oldest_ready_at.unwrap()).num_seconds();
    assert!((1195..1260).contains(&age), "{age}");
    let ready = ids(
        reads.as_ref(),
        JobScope::Queue {
            queue: "default".into(),
            state: JobState::Ready,
        },
    )
    .await;
    assert_eq!(ready, ints(&[1, 2, 3, 4, 5]));

    // The stuck list by the job's own heartbeat column: job 9's is 10 minutes old.
    assert_eq!(ids(reads.as_ref(), stuck()).await, ints(&[9]));

    // Retry the dead ones: heartbeat is NOT NULL, so it is left as it is.
    let plan = g
        .plan(&Action::Retry(matching("default", JobState::Dead)))
        .await
        .unwrap();
    let out = run(&g, &plan).await;
    assert_eq!((plan.eligible, out.changed, out.skipped), (2, 2, 0));
    let retried: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT status, finished_at IS NULL, run_at > now() - interval '1 minute' \
         FROM tasks WHERE id IN (10, 11) ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(retried, vec![("pending".into(), true, true); 2]);

    let plan = g
        .plan(&Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap();
    let out = run(&g, &plan).await;
    assert_eq!((plan.eligible, out.changed), (1, 1));
    let reset: (String, Option<String>) =
        sqlx::query_as("SELECT status, worker_id FROM tasks WHERE id = 9")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(reset, ("pending".into(), None));
    assert_eq!(heartbeats_null(pool).await, 0);

    let snap = reads.snapshot(&SnapshotOptions::default()).await.unwrap();
    let q = queue(&snap, "default");
    assert_eq!((q.ready.value, q.running.value, q.dead.value), (8, 1, 0));
}

#[tokio::test]
async fn heartbeats_from_a_workers_table_decide_the_stuck_list_and_reset_stuck() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, HOMEGROWN).await;
    let g = open(pool, &with_workers_table(&drafted(&db).await)).await;
    let reads = g.backend().reads();

    // w-gone was last seen 10 minutes ago, though its job's own column is fresh.
    assert_eq!(ids(reads.as_ref(), stuck()).await, ints(&[8]));
    let snap = reads.snapshot(&SnapshotOptions::default()).await.unwrap();
    let mut ages: Vec<(String, i64)> = snap
        .workers
        .iter()
        .map(|w| {
            let age = w.heartbeat_age(snap.db_now).unwrap().num_seconds();
            (w.id.clone(), age / 60)
        })
        .collect();
    ages.sort();
    assert_eq!(ages, vec![("w-alive".into(), 0), ("w-gone".into(), 10)]);

    let plan = g
        .plan(&Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap();
    let out = run(&g, &plan).await;
    assert_eq!((plan.eligible, out.changed), (1, 1));
    let running: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM tasks WHERE status = 'running' ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(running, vec![9]);
    assert_eq!(heartbeats_null(pool).await, 0);
}

#[tokio::test]
async fn bytea_payloads_show_as_json_text_or_a_hex_dump() {
    let db = common::test_db().await;
    load(&db.pool, HOMEGROWN).await;
    let g = open(&db.pool, &drafted(&db).await).await;
    let reads = g.backend().reads();
    let detail = |id: i64| {
        let reads = reads.clone();
        async move {
            reads
                .job(&JobId::Int(id), &DetailLimits::default())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let json = detail(1).await;
    assert_eq!(json.payload_form, PayloadForm::Json);
    assert_eq!(
        json.payload.as_deref(),
        Some(r#"{"to":"a@example.com","n":1}"#)
    );
    assert_eq!(json.payload_bytes, 28);
    let text = detail(2).await;
    assert_eq!(text.payload_form, PayloadForm::Text);
    assert_eq!(text.payload.as_deref(), Some("plain words, not JSON"));
    let binary = detail(3).await;
    assert_eq!(binary.payload_form, PayloadForm::Hex);
    assert_eq!(binary.payload_bytes, 6);
    assert_eq!(
        binary.payload.as_deref(),
        Some("00000000  00 ff 10 20 31 32                                |... 12|\n")
    );
    let none = detail(4).await;
    assert_eq!(none.payload.as_deref(), Some("null"));
}
