//! The real binary in a pseudo-terminal against a seeded database: the queue names and counts
//! are on the screen, `q` quits, and the terminal is left as it was found.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

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

/// Reads the child's output into a vt100 screen until `done` says so or time runs out.
fn wait_for(
    screen: &Arc<Mutex<vt100::Parser>>,
    timeout: Duration,
    done: impl Fn(&vt100::Screen) -> bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done(screen.lock().unwrap().screen()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn overview_in_a_real_terminal_then_quit_restores_it() {
    let db = common::test_db().await;
    seed(&db).await;
    let url = common::url_for(&db);

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    // After jobtop exits the shell prints the terminal modes, so we can check raw mode is off.
    let script = format!(
        "\"{}\" \"$JOBTOP_TEST_URL\" --log-file \"$JOBTOP_TEST_LOG\"; echo EXIT=$?; stty -a",
        env!("CARGO_BIN_EXE_jobtop")
    );
    let mut cmd = CommandBuilder::new("sh");
    cmd.args(["-c", &script]);
    cmd.env("JOBTOP_TEST_URL", &url);
    let log = std::env::temp_dir().join(format!("jobtop-e2e-{}.log", std::process::id()));
    cmd.env("JOBTOP_TEST_LOG", &log);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("DATABASE_URL");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);

    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZero::new(24).unwrap(),
        std::num::NonZero::new(100).unwrap(),
        0,
    )));
    let transcript = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut reader = pty.master.try_clone_reader().unwrap();
    {
        let parser = parser.clone();
        let transcript = transcript.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                parser.lock().unwrap().process(&buf[..n]);
                transcript.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
    }
    let mut writer = pty.master.take_writer().unwrap();

    let shown = wait_for(&parser, Duration::from_secs(20), |s| {
        let text = s.contents();
        text.contains("e2e_alpha") && text.contains("e2e_beta") && text.contains("e2e-worker")
    });
    let screen_text = parser.lock().unwrap().screen().contents();
    assert!(shown, "queues never appeared:\n{screen_text}");
    assert!(
        parser.lock().unwrap().screen().alternate_screen(),
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

    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    let restored = wait_for(&parser, Duration::from_secs(10), |s| {
        s.contents().contains("EXIT=") && s.contents().contains("speed")
    });
    let status = child.wait().unwrap();
    let transcript = String::from_utf8_lossy(&transcript.lock().unwrap()).into_owned();
    assert!(restored, "no exit seen:\n{transcript}");
    assert!(status.success());
    let screen = parser.lock().unwrap();
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
