//! A new user's first minute with each queue schema: the real binary, given nothing but the
//! database URL, finds the schema and shows each queue's live counts on the screen.

use std::time::Duration;

use crate::common;
use crate::common::fixture::{self, CEPRO, GRAPHILE, JOB_QUEUE, JOBFORGE, OBAN, PGBOSS, RIVER};
use crate::pty::Terminal;

/// (fixture, backend named in the header, queue, READY SCHED RUN RETRY DEAD as the fixture
/// sets them up).
const CASES: [(&str, &str, &str, [&str; 5]); 7] = [
    (RIVER, "river", "default", ["5", "3", "2", "2", "2"]),
    (OBAN, "oban", "default", ["4", "3", "2", "1", "1"]),
    // emails: 2 scheduled for later and 1 blocked on its parent (pg-boss 12's own index finds it).
    (PGBOSS, "pg-boss", "emails", ["4", "3", "2", "2", "2"]),
    (
        GRAPHILE,
        "graphile-worker",
        "send_email",
        ["4", "2", "2", "2", "1"],
    ),
    (
        JOB_QUEUE,
        "mapped",
        "game_platform_sync",
        ["3", "1", "1", "1", "2"],
    ),
    (
        JOBFORGE,
        "mapped",
        "connector.http",
        ["2", "1", "3", "2", "3"],
    ),
    (
        CEPRO,
        "mapped",
        "background_jobs",
        ["4", "1", "2", "2", "2"],
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_url_finds_each_schema_and_shows_its_counts() {
    let _not_beside_the_timed_test = crate::QUIET.read().await;
    for (fixture, backend, queue, counts) in CASES {
        let db = common::test_db().await;
        common::load(&db.pool, fixture).await;
        let url = common::url_for(&db);
        let mut term = Terminal::jobtop(&url, None, 30, 120);
        let shown = term.wait_for(Duration::from_secs(20), |s| {
            s.contents().contains(queue) && s.contents().contains(" ago")
        });
        let text = term.text();
        assert!(shown, "{backend}: {queue} never appeared:\n{text}");
        assert!(
            text.contains(&format!("jobtop {backend} ·")),
            "{backend} named in the header:\n{text}"
        );
        let row = term.row(queue).unwrap();
        let at = row.iter().position(|w| w.starts_with(queue)).unwrap();
        assert_eq!(
            &row[at + 1..at + 6],
            counts,
            "{backend}: READY SCHED RUN RETRY DEAD of {queue}:\n{text}"
        );
        term.keys(b"q");
        assert!(term.child.wait().unwrap().success(), "{backend}: q quits");
    }
}

/// Pausing a River queue from the overview, as an operator would: the confirmation, the
/// row in `river_queue`, the audit row, and the screen saying who paused it and why.
#[tokio::test(flavor = "multi_thread")]
async fn pausing_a_river_queue_from_the_overview() {
    let _not_beside_the_timed_test = crate::QUIET.read().await;
    let db = common::test_db().await;
    common::load(&db.pool, fixture::RIVER).await;
    let url = common::url_for(&db);
    let mut term = Terminal::jobtop(&url, Some("carol"), 30, 120);
    assert!(term.wait_for_text("default", Duration::from_secs(20)));
    // Queues sort by name: batch, default, …
    term.keys(b"\x1b[B");
    term.keys(b"p");
    assert!(
        term.wait_for_text("Pause queue `default`?", Duration::from_secs(10)),
        "{}",
        term.text()
    );
    term.keys(b"bad deploy");
    term.keys(b"\x1b[C\r");
    assert!(
        term.wait_for(Duration::from_secs(10), |s| {
            s.contents().contains("PAUSED  by carol@") && s.contents().contains(": bad deploy")
        }),
        "{}",
        term.text()
    );
    let (paused, actor, reason): (bool, String, Option<String>) = sqlx::query_as(
        "SELECT q.paused_at IS NOT NULL, a.actor, a.params->>'reason' FROM river_queue q, \
         jobtop.audit a WHERE q.name = 'default' AND a.action = 'pause' AND a.queue = 'default'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(paused);
    assert!(actor.starts_with("carol@"), "{actor}");
    assert_eq!(reason.as_deref(), Some("bad deploy"));
    term.keys(b"q");
    assert!(term.child.wait().unwrap().success());
}
