//! The pgmq backend against pgmq's own install SQL (shipped by the pgmq client 1.1.4 from
//! PyPI, `common::pypi`; skipped when it is not installed, unless `JOBTOP_REQUIRE_PYPI=1`)
//! and tests/fixtures/pgmq.sql's messages, made by pgmq's own functions: detection from a
//! bare URL and what it says it cannot show; a queue created or dropped while jobtop
//! watches (the queue list is cached: a failed poll reads it again); and an archive that
//! leaves the message as pgmq's own archive does, audited.

use sqlx::{PgPool, Row};

use jobtop::backend::detect::{self, BackendKind, Selection};
use jobtop::backend::gate::Gate;
use jobtop::backend::{Action, JobState, Outcome, Reads, SnapshotOptions};

use crate::common::{self, exec, pypi};
use crate::helpers::{matching, run};

const FIXTURE: &str = include_str!("../fixtures/pgmq.sql");

/// pgmq's schema and our messages in a fresh database; `None` when pgmq is not installed.
async fn loaded() -> Option<common::TestDb> {
    let schema = pypi::pgmq_schema()?;
    let db = common::test_db().await;
    exec(&db.pool, &schema).await;
    exec(&db.pool, FIXTURE).await;
    Some(db)
}

/// (name, [ready, scheduled, running]) per queue.
async fn counts(reads: &dyn Reads) -> Vec<(String, [i64; 3])> {
    let s = reads.snapshot(&SnapshotOptions::default()).await.unwrap();
    s.queues
        .iter()
        .map(|q| {
            (
                q.name.clone(),
                [q.ready.value, q.scheduled.value, q.running.value],
            )
        })
        .collect()
}

async fn archived(pool: &PgPool) -> Vec<(i64, i32, bool)> {
    sqlx::query(
        "SELECT msg_id, read_ct, archived_at >= now() - interval '1 minute' \
         FROM pgmq.a_emails ORDER BY msg_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test]
async fn a_bare_url_finds_pgmq_and_follows_its_queues_as_they_come_and_go() {
    let Some(db) = loaded().await else { return };
    let (chosen, backend) = detect::resolve(&db.pool, &Selection::default())
        .await
        .unwrap();
    assert_eq!(
        (chosen.backend, chosen.schema.as_str()),
        (BackendKind::Pgmq, "pgmq")
    );
    assert_eq!(chosen.flags(), "--backend pgmq --schema pgmq");
    assert_eq!(
        common::flags(&backend.capabilities()),
        common::Flags {
            actions: common::ActionFlags {
                retry: true,
                cancel: true,
                discard: true,
                delete: false,
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
    assert!(
        backend
            .capabilities()
            .heartbeats
            .reason()
            .is_some_and(|why| why.contains("no workers or heartbeats"))
    );
    let reads = backend.reads().clone();
    assert_eq!(
        counts(reads.as_ref()).await,
        vec![("emails".into(), [4, 2, 2]), ("reports".into(), [1, 0, 1])]
    );
    // A queue created and one dropped while jobtop watches: the statement over the old
    // list fails on the dropped tables, and the list is read again at once.
    exec(
        &db.pool,
        "SELECT pgmq.create('alerts'); SELECT pgmq.send('alerts', '{}'::jsonb); \
         SELECT pgmq.drop_queue('reports');",
    )
    .await;
    assert_eq!(
        counts(reads.as_ref()).await,
        vec![("alerts".into(), [1, 0, 0]), ("emails".into(), [4, 2, 2])]
    );
    // And the drill-down reads the new list.
    let page = reads
        .jobs(&jobtop::backend::drill::JobQuery {
            scope: jobtop::backend::drill::JobScope::Queue {
                queue: "alerts".into(),
                state: JobState::Ready,
            },
            filter: Default::default(),
            order: jobtop::backend::drill::Order::OldestFirst,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    let ids: Vec<String> = page.rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["alerts:1"]);
}

#[tokio::test]
async fn archiving_moves_waiting_messages_as_pgmq_archive_does() {
    let Some(db) = loaded().await else { return };
    let (_, backend) = detect::resolve(&db.pool, &Selection::default())
        .await
        .unwrap();
    let gate = Gate::with_actor(backend.clone(), false, "ana@bastion".into());
    let plan = gate
        .plan(&Action::Discard(matching("emails", JobState::Ready)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 4);
    // pgmq's archive is where finished messages go, not a dead-letter queue: said so.
    assert_eq!(
        plan.details(),
        ["They move to the queue's archive, as pgmq.archive does, and count as done."]
    );
    let out = run(&gate, &plan).await;
    assert_eq!((out.changed, out.skipped), (4, 0));
    assert_eq!(out.outcome(), Outcome::Ok);
    // 1-3 archived by the fixture; 5, 6, 7 and 12 now, with their reads.
    assert_eq!(
        archived(&db.pool).await,
        vec![
            (1, 1, false),
            (2, 1, false),
            (3, 1, false),
            (5, 0, true),
            (6, 0, true),
            (7, 0, true),
            (12, 2, true),
        ]
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pgmq.q_emails WHERE vt <= now()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let audit: (String, i64) =
        sqlx::query_as("SELECT action, count FROM jobtop.audit ORDER BY id DESC LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audit, ("discard".to_string(), 4));
}
