//! The shared snapshot against a real PostgreSQL: two monitors elect one leader, the other
//! follows what it publishes, takes over when the leader goes away, polls on its own when
//! the leader stops publishing, and a monitor that may not write never takes part.

use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection};

use jobtop::backend::native::NativeBackend;
use jobtop::backend::wrappers::shared::{AloneBecause, Role, SharedOptions, SharedSnapshot};
use std::sync::Arc;

use jobtop::backend::{Backend, Overview, Reads};

use crate::common;
use crate::helpers::{OPTS, enqueue_n, ready};

const INTERVAL: Duration = Duration::from_millis(400);

fn shared_options(read_only: bool) -> SharedOptions {
    SharedOptions {
        interval: INTERVAL,
        max_wait: INTERVAL,
        read_only,
    }
}

/// A monitor of its own: its own pool, as a separate process would have.
async fn monitor(options: &PgConnectOptions, read_only: bool) -> SharedSnapshot<NativeBackend> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await
        .unwrap();
    SharedSnapshot::new(
        std::sync::Arc::new(NativeBackend::new(pool.clone())),
        &pool,
        shared_options(read_only),
    )
}

async fn published_version(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT max(version) FROM jobtop.snapshot_cache")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_leader_publishes_the_other_follows_and_takes_over_when_it_goes() {
    let db = common::test_db().await;
    enqueue_n(&db.pool, "mail", 3).await;
    let a = monitor(&db.options, false).await;
    let b = monitor(&db.options, false).await;

    let from_a = a.snapshot(&OPTS).await.unwrap();
    assert_eq!(a.role(), Role::Leader);
    assert_eq!(published_version(&db.pool).await, Some(1));
    let from_b = b.snapshot(&OPTS).await.unwrap();
    assert_eq!(b.role(), Role::Follower);
    assert_eq!(
        from_b, from_a,
        "the follower shows exactly what the leader published"
    );
    assert_eq!(ready(&from_b, "mail"), 3);

    // New work: the follower sees it once the leader has published again.
    enqueue_n(&db.pool, "mail", 2).await;
    let next = tokio::spawn({
        let started = Instant::now();
        async move {
            let snap = b.snapshot(&OPTS).await.unwrap();
            (b, snap, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.snapshot(&OPTS).await.unwrap();
    let (b, from_b, waited) = next.await.unwrap();
    assert_eq!(ready(&from_b, "mail"), 5);
    assert_eq!(b.role(), Role::Follower);
    assert!(
        waited < INTERVAL,
        "the follower woke on the NOTIFY, not at its deadline: {waited:?}"
    );
    assert_eq!(b.stats.led.load(std::sync::atomic::Ordering::Relaxed), 0);

    // The leader goes away (its process ends): the follower leads within two intervals,
    // polling the way the poller does (a poll, then an interval's sleep).
    drop(a);
    let gone = Instant::now();
    loop {
        let snap = b.snapshot(&OPTS).await.unwrap();
        if b.role() == Role::Leader {
            assert_eq!(ready(&snap, "mail"), 5);
            break;
        }
        assert!(
            gone.elapsed() < 2 * INTERVAL,
            "no takeover after {:?}",
            gone.elapsed()
        );
        tokio::time::sleep(INTERVAL).await;
    }
    assert!(gone.elapsed() <= 2 * INTERVAL, "took {:?}", gone.elapsed());
    assert_eq!(published_version(&db.pool).await, Some(3));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_polls_alone_while_the_leader_holds_the_lock_but_stops_publishing() {
    let db = common::test_db().await;
    enqueue_n(&db.pool, "mail", 1).await;
    let a = monitor(&db.options, false).await;
    let b = monitor(&db.options, false).await;
    a.snapshot(&OPTS).await.unwrap();
    b.snapshot(&OPTS).await.unwrap();
    assert_eq!(b.role(), Role::Follower);

    // `a` still holds the lock but stops polling (a stopped process, say).
    enqueue_n(&db.pool, "mail", 4).await;
    tokio::time::sleep(2 * INTERVAL + Duration::from_millis(100)).await;
    let snap = b.snapshot(&OPTS).await.unwrap();
    assert_eq!(b.role(), Role::Alone(AloneBecause::LeaderOverdue));
    assert_eq!(ready(&snap, "mail"), 5, "fresh data, taken on its own");
    assert_eq!(published_version(&db.pool).await, Some(1));

    // The leader comes back: following resumes.
    a.snapshot(&OPTS).await.unwrap();
    let snap = b.snapshot(&OPTS).await.unwrap();
    assert_eq!(b.role(), Role::Follower);
    assert_eq!(ready(&snap, "mail"), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn monitors_that_may_not_write_poll_alone_and_never_take_the_lock() {
    let db = common::test_db().await;
    enqueue_n(&db.pool, "mail", 2).await;
    let plain = NativeBackend::new(db.pool.clone())
        .snapshot(&OPTS)
        .await
        .unwrap();

    // --read-only.
    let flagged = monitor(&db.options, true).await;
    let snap = flagged.snapshot(&OPTS).await.unwrap();
    assert_eq!(flagged.role(), Role::Alone(AloneBecause::ReadOnly));
    assert_eq!(snap.queues, plain.queues);

    // A role that may read the schema but not write the cache table.
    let role = format!("{}_ro", db.name);
    let mut admin: PgConnection = sqlx::ConnectOptions::connect(&db.options).await.unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD 'ro-secret'"),
        format!("GRANT USAGE ON SCHEMA jobtop TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA jobtop TO {role}"),
    ] {
        // The role name is built from the test database's name: digits and letters.
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let ro_options = db.options.clone().username(&role).password("ro-secret");
    let no_write = monitor(&ro_options, false).await;
    let snap = no_write.snapshot(&OPTS).await.unwrap();
    assert_eq!(no_write.role(), Role::Alone(AloneBecause::NoWriteAccess));
    assert_eq!(snap.queues, plain.queues);
    assert_eq!(published_version(&db.pool).await, None);

    // Neither stands in the way of a monitor that can lead.
    let leader = monitor(&db.options, false).await;
    leader.snapshot(&OPTS).await.unwrap();
    assert_eq!(leader.role(), Role::Leader);
    no_write.snapshot(&OPTS).await.unwrap();
    flagged.snapshot(&OPTS).await.unwrap();
    assert_eq!(no_write.role(), Role::Alone(AloneBecause::NoWriteAccess));
    assert_eq!(flagged.role(), Role::Alone(AloneBecause::ReadOnly));

    drop(no_write);
    leader.close().await;
    sqlx::query(AssertSqlSafe(format!("DROP OWNED BY {role}")))
        .execute(&mut admin)
        .await
        .unwrap();
    // Its sessions close in the background; retry the drop until they have.
    for _ in 0..50 {
        if sqlx::query(AssertSqlSafe(format!("DROP ROLE {role}")))
            .execute(&mut admin)
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The wrappers change only where the overview comes from: drill-down reads and actions
/// reach the inner backend (a default trait method would answer "not supported").
#[tokio::test(flavor = "multi_thread")]
async fn wrappers_pass_drill_downs_and_actions_through() {
    use jobtop::backend::drill::{
        DeadLetterQuery, DeadWindow, HistoryWindow, JobQuery, JobScope, KindsQuery, Order,
        TenantsQuery,
    };
    use jobtop::backend::wrappers::replica::OnReplica;
    use jobtop::backend::{AuditFilter, JobState};

    let db = common::test_db().await;
    enqueue_n(&db.pool, "mail", 2).await;
    let native = NativeBackend::new(db.pool.clone());
    let pool = db.pool.clone();
    let shared = Backend::new(native.clone())
        .wrap_overview(|reads| Arc::new(SharedSnapshot::new(reads, &pool, shared_options(false))));
    let replica = Backend::new(native.clone())
        .wrap_overview(|reads| Arc::new(OnReplica::new(reads, db.pool.clone())));
    // A wrapper stands in front of the overview only: every other read of the wrapped
    // backend is the schema's own.
    for wrapped in [&shared, &replica] {
        wrapped.overview().snapshot(&OPTS).await.unwrap();
        let backend = wrapped.reads();
        assert_eq!(backend.capabilities(), native.capabilities());
        let page = backend
            .jobs(&JobQuery {
                scope: JobScope::Queue {
                    queue: "mail".into(),
                    state: JobState::Ready,
                },
                filter: Default::default(),
                order: Order::OldestFirst,
                after: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(page.rows.len(), 2);
        let id = page.rows[0].id.clone();
        assert!(
            backend
                .job(&id, &Default::default())
                .await
                .unwrap()
                .is_some()
        );
        backend
            .dead_letters(&DeadLetterQuery {
                window: DeadWindow::Day,
                kind: None,
                queue: None,
                limit: 100,
            })
            .await
            .unwrap();
        backend
            .kinds(&KindsQuery {
                window: HistoryWindow::Hour,
                limit: 100,
            })
            .await
            .unwrap();
        backend
            .tenants(&TenantsQuery {
                stale_after: Duration::from_secs(60),
                ready_cap: 100,
            })
            .await
            .unwrap();
        assert_eq!(
            backend.job_states(std::slice::from_ref(&id)).await.unwrap(),
            [(id, JobState::Ready)]
        );
        backend
            .audit_log(&AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

/// Next to another system's queue, `jobtop migrate --side-tables` installs only jobtop's
/// audit and snapshot cache: River monitors, alone before, then share one snapshot and may
/// act; the reference schema refuses to be laid over the side tables.
#[tokio::test(flavor = "multi_thread")]
async fn side_tables_next_to_river_let_its_monitors_share_and_act() {
    use jobtop::backend::capabilities::Support;
    use jobtop::backend::pg::side_tables;
    use jobtop::backend::river;

    let db = common::test_db().await;
    common::exec(&db.pool, "DROP SCHEMA jobtop CASCADE").await;
    common::load(&db.pool, common::fixture::RIVER).await;
    let river_monitor = || async {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(db.options.clone())
            .await
            .unwrap();
        let reads = Arc::new(river::open(pool.clone(), "public").await.unwrap());
        SharedSnapshot::new(reads, &pool, shared_options(false))
    };

    let before = river_monitor().await;
    let alone = before.snapshot(&OPTS).await.unwrap();
    assert_eq!(before.role(), Role::Alone(AloneBecause::NoCacheTable));
    assert!(before.inner().capabilities().actions.audit != Support::Yes);

    side_tables::install(&db.pool).await.unwrap();
    side_tables::install(&db.pool).await.unwrap();
    let reference: Option<String> = sqlx::query_scalar("SELECT to_regclass('jobtop.jobs')::text")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        reference, None,
        "only the side tables, not the reference schema"
    );

    let a = river_monitor().await;
    let b = river_monitor().await;
    let from_a = a.snapshot(&OPTS).await.unwrap();
    let from_b = b.snapshot(&OPTS).await.unwrap();
    assert_eq!((a.role(), b.role()), (Role::Leader, Role::Follower));
    assert_eq!(from_b, from_a);
    assert_eq!(from_a.queues, alone.queues);
    assert_eq!(a.inner().capabilities().actions.audit, Support::Yes);
    let key: String = sqlx::query_scalar("SELECT key FROM jobtop.snapshot_cache")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(key.starts_with("river@public:"), "{key}");

    let err = jobtop::backend::native::migrate(&db.pool)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--side-tables"), "{err:#}");
    a.close().await;
}
