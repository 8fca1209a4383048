//! The database going away and coming back, through a port that refuses connections and
//! cuts open sessions on demand (`common::outage`): the poller says why and is back within
//! one interval; an action cut off mid-run has its audit row closed once the database is back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobtop::app::Msg;
use jobtop::backend::gate::Gate;
use jobtop::backend::native::NativeBackend;
use jobtop::backend::pg::connect::{self, SessionSettings};
use jobtop::backend::{Action, AuditFilter, Backend, JobState};
use jobtop::poller::Polls;

use crate::common;
use crate::common::outage::Outage;
use crate::helpers::{OPTS, matching, no_stop, run};

const INTERVAL: Duration = Duration::from_millis(500);

/// The next poll result, and when it came.
async fn next_poll(polls: &mut Polls) -> (Result<(), String>, Instant) {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), polls.next()).await {
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
    let (_poller, mut polls) = jobtop::poller::spawn(
        backend.overview().clone(),
        OPTS,
        INTERVAL,
        Duration::from_secs(3),
        Some(probe),
    );
    assert!(next_poll(&mut polls).await.0.is_ok());

    outage.down().await;
    let mut refused = None;
    for _ in 0..20 {
        if let (Err(message), _) = next_poll(&mut polls).await {
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
    while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, polls.next()).await {}

    outage.up().await;
    let back_at = Instant::now();
    loop {
        let (result, at) = next_poll(&mut polls).await;
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

/// A command that exits while the database is away (the runtime goes with it, and with it
/// the task that would have closed its audit row) leaves the row "in progress". Once no
/// batch has come for `ABANDONED_AFTER_MINUTES`, every reader says it was interrupted, and
/// the next run that may write closes it; a run still going is left alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_command_exited_mid_outage_reads_as_interrupted_and_is_closed_by_the_next_run()
{
    let db = common::test_db().await;
    sqlx::raw_sql(
        "INSERT INTO jobtop.queues (name) VALUES ('gone'), ('next'); \
         INSERT INTO jobtop.jobs (queue, kind, state, attempts, max_attempts, run_at, finished_at) \
         SELECT q, 'k', 'dead', 5, 5, now() - interval '1 hour', now() - interval '1 hour' \
         FROM unnest(ARRAY['gone', 'gone', 'gone', 'next']) q, generate_series(1, 1200)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let outage = Arc::new(Mutex::new(Outage::new(&db.options).await));
    let url = outage.lock().unwrap().url(&db.name);
    // The "command": its own runtime, dropped when it returns, as a process exit would.
    let cutter = outage.clone();
    let cli = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let opts = connect::parse_target(Some(&url)).unwrap();
            let pool = connect::connect(opts, &SessionSettings::default())
                .await
                .unwrap();
            let gate = Gate::new(Backend::new(NativeBackend::new(pool)), false);
            let plan = gate
                .plan(&Action::Retry(matching("gone", JobState::Dead)))
                .await
                .unwrap();
            gate.execute(&plan, &no_stop(), &mut |p| {
                if p.batches == 1 {
                    cutter.lock().unwrap().cut();
                }
            })
            .await
            .unwrap()
        })
    });
    let outcome = cli.join().unwrap();
    assert!(outcome.error.is_some(), "{}", outcome.summary());
    Arc::try_unwrap(outage)
        .ok()
        .expect("one owner left")
        .into_inner()
        .unwrap()
        .up()
        .await;

    let row = || async {
        sqlx::query_as::<_, (i64, String)>(
            "SELECT id, detail FROM jobtop.audit WHERE action = 'retry' AND queue = 'gone'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let backend = Backend::new(NativeBackend::new(db.pool.clone()));
    let shown = |id: i64| {
        let backend = backend.clone();
        async move {
            let log = backend
                .reads()
                .audit_log(&AuditFilter {
                    limit: 10,
                    ..AuditFilter::default()
                })
                .await
                .unwrap();
            let entry = log.into_iter().find(|e| e.id == id).unwrap();
            entry.detail.unwrap()
        }
    };
    let (id, detail) = row().await;
    assert!(detail.contains("in progress (batch 1 of 4)"), "{detail}");
    // Recent: it might still be running, so it is shown and kept as it is.
    assert!(shown(id).await.contains("in progress"));
    let gate = Gate::new(backend.clone(), false);
    run(
        &gate,
        &gate
            .plan(&Action::Retry(matching("next", JobState::Dead)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(row().await.1, detail, "a recent run's row was touched");

    // Its last batch long ago, as after the command's exit plus the bound.
    sqlx::query(
        "UPDATE jobtop.audit SET params = jsonb_set(params, '{batch_at}', \
         to_jsonb(now() - make_interval(mins => $1 + 1))) WHERE id = $2",
    )
    .bind(jobtop::backend::pg::audit::ABANDONED_AFTER_MINUTES as i32)
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    let expected = "retried 1,000 of 3,600 jobs; interrupted after batch 1 of 4: \
                    its run stopped answering (no batch for 15 minutes)";
    assert_eq!(shown(id).await, expected, "what a read-only reader shows");
    assert_eq!(row().await.1, detail, "reading wrote nothing");
    let plan = gate
        .plan(&Action::Retry(matching("next", JobState::Dead)))
        .await
        .unwrap();
    run(&gate, &plan).await;
    assert_eq!(row().await.1, expected, "closed by the next run");
    let running: Option<bool> =
        sqlx::query_scalar("SELECT (params->>'running')::boolean FROM jobtop.audit WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(running, Some(false));
}
