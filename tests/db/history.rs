//! Completions beyond the hour (`backend::history`) on a real server: the hourly figures
//! equal what the jobs say, the first monitor stores closed hours in jobtop's side table and
//! the next one reads them from there (not from the jobs), a read-only session reads them
//! itself without writing, and the kinds view past the hour counts every job.

use std::collections::BTreeMap;

use sqlx::PgPool;

use jobtop::backend::drill::{self, HistoryWindow, KindsQuery, Request, Response};
use jobtop::backend::history::HistoryReport;
use jobtop::backend::native::NativeBackend;
use jobtop::backend::pg::connect::{self, SessionSettings};
use jobtop::backend::{Reads, river};

use crate::common::{self, exec};

/// Reads until every closed hour is in (each request fills a few).
async fn complete(backend: &dyn Reads, window: HistoryWindow) -> (HistoryReport, usize) {
    for requests in 1..=60 {
        let report = backend.history(window).await.unwrap();
        if report.complete() {
            return (report, requests);
        }
    }
    panic!("the history never completed");
}

/// Per epoch hour, what the report shows for `queue`.
fn by_hour(report: &HistoryReport, queue: &str) -> BTreeMap<i64, (u32, u32)> {
    report.queues[queue]
        .iter()
        .enumerate()
        .filter(|(_, b)| b.succeeded + b.failed > 0)
        .map(|(i, b)| (report.first_hour + i as i64, (b.succeeded, b.failed)))
        .collect()
}

async fn expected(pool: &PgPool, sql: &str) -> BTreeMap<i64, (u32, u32)> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(h, ok, failed)| (h, (ok as u32, failed as u32)))
        .collect()
}

/// 30 hours of mail: `1 + k % 5` succeeded and `k % 3` dead (one failed attempt each) in the
/// hour `k` hours ago, at ten past.
async fn native_history(pool: &PgPool) {
    exec(pool, "INSERT INTO jobtop.queues (name) VALUES ('mail')").await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'mail', 'mail.send', 'succeeded',
                date_trunc('hour', now()) - k * interval '1 hour' + interval '10 minutes'
         FROM generate_series(0, 29) k, generate_series(1, 1 + k % 5) n",
    )
    .await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at, failed_at, errors)
         SELECT 'mail', 'mail.bounce', 'dead', t, t,
                jsonb_build_array(jsonb_build_object('at', t, 'error', 'boom'))
         FROM (SELECT date_trunc('hour', now()) - k * interval '1 hour'
                        + interval '10 minutes' AS t, k
               FROM generate_series(0, 29) k) s, generate_series(1, s.k % 3) n",
    )
    .await;
}

const NATIVE_EXPECTED: &str = "
    SELECT floor(extract(epoch FROM finished_at) / 3600)::bigint,
           count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'dead')
    FROM jobtop.jobs WHERE queue = 'mail' AND finished_at > now() - interval '24 hours'
    GROUP BY 1";

#[tokio::test]
async fn closed_hours_are_stored_once_and_read_from_the_side_table_by_the_next_monitor() {
    let db = common::test_db().await;
    let pool = &db.pool;
    native_history(pool).await;
    // What the jobs say, per hour of the last 24 (the window's first hour is whole).
    let want = expected(pool, NATIVE_EXPECTED).await;

    let first = NativeBackend::new(pool.clone());
    let (report, _) = complete(&first, HistoryWindow::Day).await;
    assert_eq!(report.queues["mail"].len(), 24);
    let got = by_hour(&report, "mail");
    // The window starts at the top of the hour 23 hours ago; the expectation may reach a
    // few minutes further back.
    let want: BTreeMap<_, _> = want
        .into_iter()
        .filter(|(h, _)| *h >= report.first_hour)
        .collect();
    assert_eq!(got, want);
    let ok: u64 = want.values().map(|v| v.0 as u64).sum();
    let failed: u64 = want.values().map(|v| v.1 as u64).sum();
    assert_eq!(report.kinds["mail.send"].0, ok);
    assert_eq!(report.kinds["mail.bounce"].1, failed);
    assert!(report.shared, "the reference schema has the side tables");
    let (stored,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM jobtop.throughput_hours_read WHERE source = 'native@jobtop'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!((22..=23).contains(&stored), "closed hours stored: {stored}");

    // The jobs of the older hours go (a retention job); a new monitor still shows them,
    // from the stored hours, and reads nothing but the open hours from the jobs.
    exec(
        pool,
        "DELETE FROM jobtop.jobs WHERE finished_at < date_trunc('hour', now()) - interval '3 hours'",
    )
    .await;
    let second = NativeBackend::new(pool.clone());
    let (again, requests) = complete(&second, HistoryWindow::Day).await;
    assert_eq!(requests, 1, "every closed hour was stored");
    assert_eq!(by_hour(&again, "mail"), got);
}

#[tokio::test]
async fn a_read_only_session_reads_the_hours_itself_and_writes_nothing() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::RIVER).await;
    // A queue of its own: 1 + k % 4 completed jobs k hours ago, over six days.
    exec(
        pool,
        "INSERT INTO river_job (state, kind, queue, args, attempt, attempted_at, finalized_at)
         SELECT 'completed', 'report.build', 'history', '{}', 1, t - interval '1 second', t
         FROM (SELECT date_trunc('hour', now()) - k * interval '1 hour'
                        + interval '20 minutes' AS t, k
               FROM generate_series(0, 143) k) s, generate_series(1, 1 + s.k % 4) n",
    )
    .await;
    let want = expected(
        pool,
        "SELECT floor(extract(epoch FROM finalized_at) / 3600)::bigint, count(*), 0::bigint
         FROM river_job WHERE queue = 'history' AND state = 'completed' GROUP BY 1",
    )
    .await;

    let read_only = SessionSettings {
        read_only: true,
        ..SessionSettings::default()
    };
    let ro_pool = connect::connect(db.options.clone(), &read_only)
        .await
        .unwrap();
    let backend = river::open(ro_pool, "public").await.unwrap();
    let (report, _) = complete(&backend, HistoryWindow::Week).await;
    assert_eq!(report.queues["history"].len(), 168);
    assert_eq!(by_hour(&report, "history"), want);
    assert_eq!(
        report.kinds["report.build"].0,
        want.values().map(|v| v.0 as u64).sum::<u64>()
    );
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM jobtop.throughput_hours_read")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "a read-only session writes nothing");
}

#[tokio::test]
async fn kinds_past_the_hour_count_every_job_though_the_read_limit_cuts_the_times() {
    let db = common::test_db().await;
    let pool = &db.pool;
    native_history(pool).await;
    let want = expected(pool, NATIVE_EXPECTED).await;
    let backend = NativeBackend::new(pool.clone());
    complete(&backend, HistoryWindow::Day).await;
    let request = Request::Kinds(KindsQuery {
        window: HistoryWindow::Day,
        limit: 10,
    });
    let Response::Kinds(report) = drill::run(&backend, &request).await.unwrap() else {
        panic!("a kinds report");
    };
    assert!(report.covered_since.is_some(), "the limit cut the read");
    assert!(report.counted_by_hour);
    let send = report.kinds.iter().find(|k| k.kind == "mail.send").unwrap();
    let history = backend.history(HistoryWindow::Day).await.unwrap();
    let in_window: i64 = by_hour(&history, "mail").values().map(|v| v.0 as i64).sum();
    assert_eq!(send.succeeded, in_window);
    assert!(
        send.succeeded >= want.values().map(|v| v.0 as i64).sum::<i64>() - 5,
        "all of the day, not the 10 newest"
    );
}
