//! The database going away and coming back, through a port that refuses connections and
//! cuts open sessions on demand (`common::outage`): the poller says why and is back within
//! one interval; an action cut off mid-run has its audit row closed once the database is back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobtop::app::Msg;
use jobtop::backend::gate::Gate;
use jobtop::backend::native::NativeBackend;
use jobtop::backend::pg::connect::{self, SessionSettings};
use jobtop::backend::{Action, Backend, JobState};
use tokio::sync::mpsc;

use crate::common;
use crate::common::outage::Outage;
use crate::helpers::{OPTS, matching, no_stop};

const INTERVAL: Duration = Duration::from_millis(500);

/// The next poll result, and when it came.
async fn next_poll(rx: &mut mpsc::Receiver<Msg>) -> (Result<(), String>, Instant) {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Msg::Polled { result, .. })) => {
                return (result.map(drop), Instant::now());
            }
            Ok(Some(_)) => continue,
            other => panic!("the poller stopped: {}", other.is_ok()),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_poller_says_why_the_database_is_away_and_is_back_within_one_interval() {
    let db = common::test_db().await;
    let mut outage = Outage::new(&db.options).await;
    let opts = connect::parse_target(Some(&outage.url(&db.name))).unwrap();
    let pool = connect::connect(opts, &SessionSettings::default())
        .await
        .unwrap();
    let probe = (*pool.connect_options()).clone();
    let backend = Backend::new(NativeBackend::new(pool.clone()));
    let (tx, mut rx) = mpsc::channel(64);
    let _poller = jobtop::poller::spawn(
        backend.overview().clone(),
        OPTS,
        INTERVAL,
        Duration::from_secs(3),
        Some(probe),
        tx,
    );
    assert!(next_poll(&mut rx).await.0.is_ok());

    outage.down().await;
    let mut refused = None;
    for _ in 0..20 {
        if let (Err(message), _) = next_poll(&mut rx).await {
            refused = Some(message);
            break;
        }
    }
    let message = refused.expect("polls kept succeeding with the database away");
    assert!(
        message.contains("refused") && !message.contains("pool timed out"),
        "the cause, not the pool's timeout: {message}"
    );
    // Away for a while: a plain backoff would be waiting several intervals by now.
    tokio::time::sleep(Duration::from_secs(6)).await;
    while rx.try_recv().is_ok() {}

    outage.up().await;
    let back_at = Instant::now();
    loop {
        let (result, at) = next_poll(&mut rx).await;
        if result.is_ok() {
            let took = at - back_at;
            assert!(
                took <= INTERVAL + Duration::from_millis(700),
                "data again {took:?} after the database came back (interval {INTERVAL:?})"
            );
            break;
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(10),
            "never recovered: {result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_cut_off_by_a_lost_database_is_closed_in_the_audit_when_it_is_back() {
    let db = common::test_db().await;
    sqlx::query("INSERT INTO jobtop.queues (name) VALUES ('cut')")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO jobtop.jobs (queue, kind, state, attempts, max_attempts, run_at, finished_at) \
         SELECT 'cut', 'k', 'dead', 5, 5, now() - interval '1 hour', now() - interval '1 hour' \
         FROM generate_series(1, 3500)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let outage = Arc::new(Mutex::new(Outage::new(&db.options).await));
    let url = outage.lock().unwrap().url(&db.name);
    let opts = connect::parse_target(Some(&url)).unwrap();
    let pool = connect::connect(opts, &SessionSettings::default())
        .await
        .unwrap();
    let gate = Gate::new(Backend::new(NativeBackend::new(pool.clone())), false);
    let plan = gate
        .plan(&Action::Retry(matching("cut", JobState::Dead)))
        .await
        .unwrap();
    let cutter = outage.clone();
    let outcome = gate
        .execute(&plan, &no_stop(), &mut |p| {
            if p.batches == 2 {
                cutter.lock().unwrap().cut();
            }
        })
        .await
        .unwrap();
    assert!(outcome.error.is_some(), "{}", outcome.summary());
    let detail = || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT outcome, detail FROM jobtop.audit WHERE action = 'retry'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let (_, while_away) = detail().await;
    assert!(
        while_away.contains("in progress (batch 2 of 4)"),
        "{while_away}"
    );

    drop(cutter);
    let mut outage = Arc::try_unwrap(outage)
        .ok()
        .expect("one owner left")
        .into_inner()
        .unwrap();
    outage.up().await;
    let back_at = Instant::now();
    loop {
        let (outcome, text) = detail().await;
        if !text.contains("in progress") {
            assert_eq!(outcome, "partial", "{text}");
            assert!(
                text.starts_with("retried 2,000 of 3,500 jobs") && text.contains("failed:"),
                "{text}"
            );
            break;
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(15),
            "still open 15 s after the database came back: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
