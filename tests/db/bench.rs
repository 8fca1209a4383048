//! `jobtop bench --backend NAME` end to end on a small table: each schema's table is
//! generated from its DDL, opened the way the monitor opens it, and every figure is there.

use jobtop::backend::detect::{self, BackendKind, Detected};
use jobtop::backend::generate::{self, FixtureSpec, Generator};
use jobtop::backend::pg::admin;
use jobtop::backend::{Count, SnapshotOptions};
use jobtop::bench::{self, BenchConfig};
use sqlx::{ConnectOptions, Connection};

use crate::common;

async fn bench_runs_end_to_end(backend: BackendKind) {
    let db = common::test_db().await;
    let spec = FixtureSpec {
        rows: 10_000,
        backlog: 0,
    };
    let report = bench::run(BenchConfig {
        server: db.options.clone(),
        backend,
        profile: None,
        spec,
        regenerate: true,
        polls: 3,
        naive_runs: 1,
        seconds: 1,
        alone_watchers: 2,
        shared_watchers: vec![2],
        count_cap: 10_000,
        ui: false,
        ui_only: false,
        monitor_seconds: 1,
        json_out: None,
        with_indexes: false,
        drill: true,
    })
    .await
    .unwrap_or_else(|err| panic!("bench --backend {backend}: {err:#}"));

    let generated = report.generated.expect("the table was generated");
    assert!(generated.ready > 0 && generated.running > 0 && generated.dead > 0);
    if backend == BackendKind::Graphile {
        // graphile-worker deletes what succeeds, and says so.
        assert_eq!(generated.succeeded, 0);
        assert!(report.notes.iter().any(|n| n.contains("deletes")));
    } else {
        assert!(generated.succeeded > generated.dead);
    }
    assert!(
        report.table_size_mb.is_some_and(|mb| mb > 0.0),
        "partitions counted too"
    );
    let overview = report.overview.as_ref().expect("overview figures");
    assert!(overview.time.median_ms > 0.0 && overview.plan.buffers() > 0);
    assert!(!report.overview_parts.is_empty());
    let naive = report.naive.as_ref().expect("naive figures");
    assert!(naive.time.median_ms > 0.0 && naive.plan.buffers() > 0);
    assert!(report.naive_ratio.is_some_and(|r| r > 0.0));
    assert!(report.overview_first_poll_ms.is_some_and(|ms| ms > 0.0));
    let (history, views): (Vec<_>, Vec<_>) = report
        .drill
        .iter()
        .partition(|d| d.name.starts_with("history"));
    assert_eq!(
        views.len(),
        4,
        "jobs page, dead letters 1 h and 24 h, kinds"
    );
    assert!(views.iter().all(|d| d.time.median_ms > 0.0));
    // graphile-worker keeps no finished jobs: no history, said, not timed. Oban's and
    // procrastinate's own migrations leave no index on the completion time, but this table
    // is small enough to read whole (`catalog::SMALL_TABLE_BYTES`).
    let keeps_history = matches!(
        backend,
        BackendKind::Native
            | BackendKind::River
            | BackendKind::PgBoss
            | BackendKind::Oban
            | BackendKind::Procrastinate
    );
    if !keeps_history {
        assert_eq!(history.len(), 2, "{history:?}");
        assert!(history.iter().all(|h| h.note.starts_with("not available")));
    } else {
        assert_eq!(
            history.len(),
            6,
            "first look, next monitor, refresh; 24 h and 7 d"
        );
        assert!(
            history.iter().all(|h| h.time.median_ms > 0.0),
            "{history:?}"
        );
    }
    assert_eq!(report.watchers.len(), 2);
    assert!(report.watchers.iter().all(|w| w.polls > 0 && w.errors == 0));
    // The bench installs jobtop's side tables next to a foreign schema, as `jobtop migrate
    // --side-tables` does: every backend's watchers share one snapshot.
    let shared = &report.watchers[1];
    assert!(shared.alone_because.is_none(), "{backend}: {shared:?}");
    assert!(
        shared.polls_led > 0 && shared.polls_alone == 0,
        "{backend}: {shared:?}"
    );

    let mut conn = db.options.connect().await.expect("admin session");
    admin::drop_database(&mut conn, &report.database)
        .await
        .expect("dropping the bench database");
    let _ = conn.close().await;
}

macro_rules! bench_tests {
    ($($name:ident => $kind:expr),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                bench_runs_end_to_end($kind).await;
            }
        )*
    };
}

bench_tests! {
    native_bench_runs => BackendKind::Native,
    river_bench_runs => BackendKind::River,
    oban_bench_runs => BackendKind::Oban,
    pgboss_bench_runs => BackendKind::PgBoss,
    graphile_bench_runs => BackendKind::Graphile,
    procrastinate_bench_runs => BackendKind::Procrastinate,
}

/// A generator's table, small, read back the way the monitor reads it: every live bucket it
/// says it wrote is what jobtop counts (exactly: caps above the table's size), the backlog
/// counted as ready.
async fn generated_counts_read_back(generator: Generator) {
    let db = common::test_db().await;
    let spec = FixtureSpec {
        rows: 20_000,
        backlog: 500,
    };
    let name = generator.profile.unwrap_or(generator.backend.as_str());
    let generated = generate::generate(&db.pool, &generator, spec, |_| {})
        .await
        .unwrap_or_else(|err| panic!("generating {name}: {err:#}"));
    let backend = detect::open(
        &db.pool,
        &Detected {
            backend: generator.backend,
            schema: generator.schema.to_string(),
            profile: generator.profile.map(String::from),
        },
    )
    .await
    .unwrap_or_else(|err| panic!("opening {name}: {err:#}"));
    let snapshot = backend
        .overview()
        .snapshot(&SnapshotOptions {
            count_cap: 1_000_000,
            pile_cap: 1_000_000,
            ..SnapshotOptions::default()
        })
        .await
        .unwrap_or_else(|err| panic!("snapshot of {name}: {err:#}"));
    let sum = |f: fn(&jobtop::backend::QueueStats) -> Count| {
        snapshot.queues.iter().map(|q| f(q).value).sum::<i64>()
    };
    let read = [
        ("ready", sum(|q| q.ready)),
        ("scheduled", sum(|q| q.scheduled)),
        ("running", sum(|q| q.running)),
        ("retrying", sum(|q| q.retrying)),
    ];
    let written = [
        ("ready", generated.ready + generated.backlog),
        ("scheduled", generated.scheduled),
        ("running", generated.running),
        ("retrying", generated.retrying),
    ];
    assert_eq!(read, written, "{name}: live counts read back");
    // Dead jobs are finished ones where the schema keeps them with the rest: the churn's
    // retention pass then trims the oldest half-day of the month (about 1 in 60, a few
    // more by chance), and nothing else.
    let dead = sum(|q| q.dead);
    assert!(
        dead <= generated.dead && generated.dead - dead <= generated.dead / 30 + 3,
        "{name}: {dead} dead read, {} generated",
        generated.dead
    );
    assert!(generated.ready > 0 && generated.running > 0, "{name}");
    assert_eq!(
        snapshot.queues.len(),
        generate::QUEUES.len(),
        "{name}: every queue"
    );
    // The finished jobs of the last hour are the throughput the monitor reads.
    let done: u64 = snapshot
        .queues
        .iter()
        .flat_map(|q| &q.minutes)
        .map(|m| m.succeeded as u64)
        .sum();
    assert!(done > 0, "{name}: the last hour's completions are read");
}

macro_rules! read_back_tests {
    ($($name:ident => $generator:expr),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                generated_counts_read_back($generator).await;
            }
        )*
    };
}

read_back_tests! {
    pgqueuer_generated_counts_read_back => generate::pgqueuer::generator(),
    pgmq_generated_counts_read_back => generate::pgmq::generator(),
    solidqueue_generated_counts_read_back => generate::solidqueue::generator(),
    goodjob_generated_counts_read_back => generate::goodjob::generator(),
    jobforge_profile_generated_counts_read_back => generate::jobforge::generator(),
}
