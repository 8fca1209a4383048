//! The real binary in a pseudo-terminal against a seeded database: the queue names and counts
//! are on the screen, `q` quits, and the terminal is left as it was found.

use std::time::Duration;

use crate::common;
use crate::pty::Terminal;

async fn seed(db: &common::TestDb) {
    for sql in [
        "SELECT jobtop.enqueue('e2e_alpha', 'mail.send') FROM generate_series(1, 37)",
        "SELECT jobtop.enqueue('e2e_beta', 'report.build', '{}', now() + interval '1 hour') FROM generate_series(1, 5)",
        "SELECT jobtop.register_worker('e2e-worker', 'host-1', 4242, '{e2e_alpha}')",
        "SELECT count(*) FROM jobtop.claim('e2e-worker', '{e2e_alpha}', 4)",
    ] {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn overview_in_a_real_terminal_then_quit_restores_it() {
    let _not_beside_the_timed_test = crate::QUIET.read().await;
    let db = common::test_db().await;
    seed(&db).await;
    let url = common::url_for(&db);

    // After jobtop exits the shell prints the terminal modes, so we can check raw mode is off.
    let script = format!(
        "\"{}\" \"$JOBTOP_TEST_URL\" --log-file \"$JOBTOP_TEST_LOG\"; echo EXIT=$?; stty -a",
        env!("CARGO_BIN_EXE_jobtop")
    );
    let log = std::env::temp_dir().join(format!("jobtop-e2e-{}.log", std::process::id()));
    let mut term = Terminal::run(
        &script,
        &[
            ("JOBTOP_TEST_URL", &url),
            ("JOBTOP_TEST_LOG", log.to_str().unwrap()),
        ],
        24,
        100,
    );

    let shown = term.wait_for(Duration::from_secs(20), |s| {
        let text = s.contents();
        text.contains("e2e_alpha") && text.contains("e2e_beta") && text.contains("e2e-worker")
    });
    let screen_text = term.text();
    assert!(shown, "queues never appeared:\n{screen_text}");
    assert!(
        term.screen.lock().unwrap().screen().alternate_screen(),
        "the UI runs on the alternate screen"
    );

    let alpha = screen_text
        .lines()
        .find(|l| l.contains("e2e_alpha"))
        .unwrap();
    let numbers: Vec<&str> = alpha.split_whitespace().collect();
    // QUEUE READY SCHED RUN ...: 37 enqueued, 4 claimed.
    assert_eq!(&numbers[1..4], ["33", "0", "4"], "row: {alpha}");
    let beta = screen_text
        .lines()
        .find(|l| l.contains("e2e_beta"))
        .unwrap();
    let numbers: Vec<&str> = beta.split_whitespace().collect();
    assert_eq!(&numbers[1..4], ["0", "5", "0"], "row: {beta}");

    term.keys(b"q");
    let restored = term.wait_for(Duration::from_secs(10), |s| {
        s.contents().contains("EXIT=") && s.contents().contains("speed")
    });
    let status = term.child.wait().unwrap();
    let transcript = term.transcript();
    assert!(restored, "no exit seen:\n{transcript}");
    assert!(status.success());
    let screen = term.screen.lock().unwrap();
    assert!(
        !screen.screen().alternate_screen(),
        "left the alternate screen"
    );
    assert!(!screen.screen().hide_cursor(), "cursor is visible again");
    let after = screen.screen().contents();
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(
        after.contains(" icanon") && after.contains(" echo"),
        "raw mode was switched off: {after}"
    );
    assert!(
        !transcript.contains("postgres://"),
        "the URL never reaches the screen"
    );
    let _ = std::fs::remove_file(log);
}
