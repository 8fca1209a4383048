//! pg_net's tables (a fixture: pg_net is not packaged) read as the game platform's daily
//! check reads them: requests queued, the hour's responses by status class, the share that
//! was not 2xx, and the alert on it.

use jobtop::backend::schedules::Sources;

use crate::cli;
use crate::common::{self, load};

const FIXTURE: &str = include_str!("../fixtures/sources/pg_net.sql");

#[tokio::test]
async fn queue_and_last_hour_by_status_class() {
    let db = common::test_db().await;
    load(&db.pool, FIXTURE).await;
    let sources = Sources::detect(&db.pool).await.unwrap();
    assert_eq!(
        sources,
        Sources {
            pg_cron: false,
            pg_net: true,
            ..Sources::default()
        }
    );
    let found = sources.read(&db.pool).await;
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.present, ["pg_net"]);
    assert_eq!(
        found.absent,
        ["pg_cron: not installed in this database (cron.job)"]
    );
    let net = found.net.expect("pg_net read");
    assert_eq!(net.queued.value, 3);
    assert_eq!(
        (
            net.ok_2xx,
            net.redirect_3xx,
            net.client_4xx,
            net.server_5xx,
            net.errors
        ),
        (6, 0, 3, 1, 1)
    );
    assert_eq!(net.last_error.as_deref(), Some("HTTP 401"));
    assert_eq!(net.failure_share(), Some(5.0 / 11.0));

    // `check`: the share (45%) is above 10% of at least 10 responses: critical.
    let url = cli::url(&db.options);
    let out = cli::jobtop("", &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}{}", cli::stderr(&out));
    assert!(
        text.contains("CRITICAL net_failures pg_net: 45.5% > 10.0%"),
        "{text}"
    );
    // Fewer responses than min_responses: not judged.
    let out = cli::jobtop(
        "[rules.net_failures]\nmin_responses = 20\n",
        &["check", &url],
    );
    assert!(
        !cli::stdout(&out).contains("net_failures"),
        "{}",
        cli::stdout(&out)
    );
}
