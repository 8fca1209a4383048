//! The poller and a reader that falls behind (a UI folding a poll of 10,000 queues): one
//! snapshot waits, the newest, never a queue of them (each about 10 MB at that size).

use std::time::Duration;

use chrono::Utc;
use jobtop::app::Msg;
use jobtop::backend::Backend;
use jobtop::backend::native::NativeBackend;

use crate::common;
use crate::helpers::OPTS;

const INTERVAL: Duration = Duration::from_millis(20);

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_falls_behind_finds_only_the_newest_poll() {
    let db = common::test_db().await;
    let backend = Backend::new(NativeBackend::new(db.pool.clone()));
    let (_poller, mut polls) = jobtop::poller::spawn(
        backend.overview().clone(),
        OPTS,
        INTERVAL,
        Duration::from_secs(5),
        None,
    );
    // Busy for a while: dozens of polls end meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut waiting = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::ZERO, polls.next()).await {
        if let Msg::Polled { at, .. } = msg {
            waiting.push(at);
        }
    }
    assert_eq!(
        waiting.len(),
        1,
        "polls waiting for the reader: {}",
        waiting.len()
    );
    let age = Utc::now() - waiting[0];
    assert!(
        age < chrono::Duration::milliseconds(500),
        "the poll waiting is {age} old: not the newest"
    );
}
