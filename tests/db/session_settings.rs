//! Every monitoring session carries the settings that keep a monitor cheap and bounded:
//! statement_timeout, jit off, no parallel workers, application_name jobtop; read-only ones
//! cannot write. The shared snapshot's election session is opened the same way.

use std::time::Duration;

use jobtop::backend::native::NativeBackend;
use jobtop::backend::pg::connect::{self, SessionSettings};
use jobtop::backend::wrappers::shared::{SharedOptions, SharedSnapshot};
use jobtop::backend::{Overview, SnapshotOptions};

use crate::common;

#[tokio::test]
async fn sessions_carry_the_monitor_settings() {
    let db = common::test_db().await;
    let settings = SessionSettings {
        statement_timeout: Duration::from_millis(2500),
        ..SessionSettings::default()
    };
    let pool = connect::connect(db.options.clone(), &settings)
        .await
        .unwrap();
    let got: (String, String, String, String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('jit'),
                current_setting('max_parallel_workers_per_gather'),
                current_setting('application_name'),
                current_setting('default_transaction_read_only')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        got,
        (
            "2500ms".into(),
            "off".into(),
            "0".into(),
            "jobtop".into(),
            "off".into()
        )
    );
    let slow = sqlx::query("SELECT pg_sleep(5)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        slow.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("57014"),
        "cancelled by statement_timeout: {slow}"
    );

    // The election session of a shared snapshot: the same application_name and timeout.
    let shared = SharedSnapshot::new(
        std::sync::Arc::new(NativeBackend::new(pool.clone())),
        &pool,
        SharedOptions {
            interval: Duration::from_secs(1),
            max_wait: Duration::from_secs(1),
            read_only: false,
        },
    );
    shared.snapshot(&SnapshotOptions::default()).await.unwrap();
    let sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'jobtop'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        sessions >= 2,
        "pool session and election session: {sessions}"
    );
    shared.close().await;

    let read_only = connect::connect(
        db.options.clone(),
        &SessionSettings {
            read_only: true,
            ..SessionSettings::default()
        },
    )
    .await
    .unwrap();
    let write = sqlx::query("SELECT jobtop.enqueue('mail', 'k')")
        .execute(&read_only)
        .await
        .unwrap_err();
    assert_eq!(
        write.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("25006"),
        "{write}"
    );
}
