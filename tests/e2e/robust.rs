//! The binary when things go wrong: a server that never answers, no terminal, odd numbers,
//! URLs of every shape, passwords on every path out, and hostile queue names in plugin output.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli;
use crate::common::{self, exec, outage};
use crate::pty::Terminal;

/// Runs the binary with no terminal and a log file of its own; (output, log text, seconds).
fn run(args: &[&str]) -> (Output, String, f64) {
    let log = cli::temp_file("jobtop.log", "");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jobtop"))
        .args(args)
        .arg("--log-file")
        .arg(&log)
        .env_remove("DATABASE_URL")
        .env_remove("JOBTOP_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the jobtop binary runs");
    // A command that hangs fails the test instead of holding it.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (out, log, started.elapsed().as_secs_f64())
}

fn all_text(out: &Output) -> String {
    format!("{}{}", cli::stdout(out), cli::stderr(out))
}

#[test]
fn a_server_that_never_answers_holds_no_command() {
    let port = outage::silent_server();
    let url = format!("postgres://u:s3cretPW@127.0.0.1:{port}/db");
    let commands: Vec<Vec<String>> = [
        vec!["doctor", &url],
        vec!["migrate", &url],
        vec!["retry", "--url", &url, "--yes"],
        vec!["snapshot", &url],
        vec!["check", &url],
        vec!["profile", "new", &url, "jobs"],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect())
    .collect();
    let runs: Vec<_> = commands
        .into_iter()
        .map(|args| {
            std::thread::spawn(move || {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                (args.join(" "), run(&refs))
            })
        })
        .collect();
    for handle in runs {
        let (command, (out, log, secs)) = handle.join().unwrap();
        let text = all_text(&out);
        assert!(secs < 15.0, "{command}: {secs:.1}s");
        assert!(!out.status.success(), "{command}: {text}");
        assert!(text.contains("no answer"), "{command}: {text}");
        assert!(
            !text.contains("s3cretPW") && !log.contains("s3cretPW"),
            "{command}: {text}"
        );
        if command.starts_with("check") {
            assert_eq!(out.status.code(), Some(3), "{text}");
        }
    }
}

#[test]
fn the_monitor_says_whom_it_waits_for_and_q_and_ctrl_c_leave() {
    let port = outage::silent_server();
    let url = format!("postgres://bob:s3cretPW@127.0.0.1:{port}/app");
    for (read_only, key) in [("", b"q"), ("--read-only", b"\x03")] {
        let script = format!(
            "\"{}\" \"$JOBTOP_TEST_URL\" {read_only} --log-file /dev/null; echo EXIT=$?",
            env!("CARGO_BIN_EXE_jobtop")
        );
        let mut term = Terminal::run(&script, &[("JOBTOP_TEST_URL", &url)], 24, 80);
        let waiting = term.wait_for(Duration::from_secs(3), |s| {
            s.contents()
                .contains(&format!("connecting to bob@127.0.0.1:{port}/app"))
        });
        assert!(waiting, "no connecting screen: {}", term.text());
        assert!(!term.text().contains("s3cretPW"));
        term.keys(key);
        let left = term.wait_for_text("EXIT=0", Duration::from_secs(3));
        assert!(left, "{read_only}: still there: {}", term.text());
    }
}

#[test]
fn without_a_terminal_the_monitor_points_at_snapshot_and_check() {
    let (out, _, _) = run(&["postgres://u@127.0.0.1:1/db"]);
    let err = cli::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(
        err.contains("jobtop snapshot") && err.contains("jobtop check"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

#[tokio::test]
async fn a_server_error_is_one_line_with_no_source_line_and_what_to_do() {
    let db = common::test_db().await;
    let url = common::url_for(&db).replace(&format!("/{}", db.name), "/no_such_db");
    let (out, log, _) = run(&["doctor", &url]);
    let err = cli::stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("does not exist").count(), 1, "{err}");
    assert!(!err.contains("at line"), "{err}");
    assert!(err.contains("check the database name"), "{err}");
    assert!(!log.contains("at line"), "{log}");
}

#[test]
fn passwords_are_masked_on_every_path_by_shape() {
    let config = cli::temp_file(
        "config.toml",
        "[connections.two]\nurl = \"postgres://h/db?password=first1&sslmode=disable&password=second2\"\n",
    );
    let config = config.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["postgres:/postgres:s3cretPW@host/db"], "s3cretPW"),
        (
            vec!["doctor", "postgres:/postgres:s3cretPW@host/db"],
            "s3cretPW",
        ),
        (
            vec![
                "postgres://u@127.0.0.1:1/db",
                "--replica-url",
                "postgres:/u:s3cretPW@h/db",
            ],
            "s3cretPW",
        ),
        (
            // A monitor option before a command: clap's error repeats the URL.
            vec!["--interval", "2", "check", "postgres://u:s3cretPW@h/db"],
            "s3cretPW",
        ),
        (vec!["--config", config, "config"], "first1"),
        (vec!["--config", config, "config"], "second2"),
        (vec!["snapshot", "mysql://root:s3cretPW@db/app"], "s3cretPW"),
    ];
    for (args, secret) in cases {
        let (out, log, _) = run(&args);
        let text = all_text(&out);
        assert!(!text.contains(secret), "{args:?}: {text}");
        assert!(!log.contains(secret), "{args:?}: {log}");
        assert!(text.contains("***"), "{args:?} says nothing masked: {text}");
    }
    // A one-letter password masks the URL, not every "o" of the message.
    let (out, _, _) = run(&["doctor", "postgres://u:o@127.0.0.1:notaport/db"]);
    let err = cli::stderr(&out);
    assert!(
        err.contains("postgres://u:***@127.0.0.1:notaport/db"),
        "{err}"
    );
    assert!(err.contains("invalid port number"), "{err}");
}

#[test]
fn odd_numbers_are_refused_with_what_is_allowed() {
    for (args, code) in [
        (vec!["postgres://h/db", "--interval", "nan"], 2),
        (vec!["postgres://h/db", "--statement-timeout", "nan"], 2),
        (
            vec!["postgres://h/db", "--stale-after", "18446744073709551615"],
            2,
        ),
        (vec!["check", "postgres://h/db", "--timeout", "nan"], 3),
        (
            vec![
                "purge",
                "--state",
                "succeeded",
                "--older-than",
                "99999999999999999999w",
            ],
            2,
        ),
    ] {
        let (out, _, _) = run(&args);
        let err = cli::stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(
            err.contains("out of range") || err.contains("longer than"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn urls_as_libpq_takes_them_and_names_everywhere() {
    let db = common::test_db().await;
    // An empty host is libpq's default; the socket directory comes as host=.
    if let Some(dir) = db.options.get_socket() {
        let url = format!(
            "postgres://{}@/{}?host={}&port={}",
            db.options.get_username(),
            db.name,
            dir.display(),
            db.options.get_port()
        );
        let (out, _, _) = run(&["snapshot", &url]);
        assert!(out.status.success(), "{url}: {}", all_text(&out));
    }
    for (url, says) in [
        ("mysql://u@db/app", "PostgreSQL only"),
        ("http://db/app", "PostgreSQL only"),
        (
            "postgres://db/app?sslmdoe=require",
            "unknown parameter 'sslmdoe'",
        ),
    ] {
        let (out, _, _) = run(&["snapshot", url]);
        assert!(!out.status.success());
        assert!(
            cli::stderr(&out).contains(says),
            "{url}: {}",
            all_text(&out)
        );
    }
    // A mistyped command is said so, at once, not tried as a database.
    let (out, _, secs) = run(&["doctr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        cli::stderr(&out).contains("did you mean `jobtop doctor`"),
        "{}",
        all_text(&out)
    );
    assert!(secs < 2.0);

    let url = common::url_for(&db);
    let config = cli::temp_file(
        "config.toml",
        &format!("[connections.demo]\nurl = \"{url}\"\n"),
    );
    let config = config.to_str().unwrap();
    let (out, _, _) = run(&["--config", config, "check", "@demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let (out, _, _) = run(&["--config", config, "retry", "--url", "@demo", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    assert!(
        cli::stdout(&out).contains("nothing to retry"),
        "{}",
        all_text(&out)
    );
}

#[tokio::test]
async fn a_queue_name_cannot_inject_performance_data_into_check() {
    let db = common::test_db().await;
    exec(
        &db.pool,
        "SELECT jobtop.enqueue(queue => 'ev|il''=9;;;0 x', kind => 'send', run_at => now() - interval '10 minutes')",
    )
    .await;
    let out = cli::jobtop("", &["check", &common::url_for(&db)]);
    let text = cli::stdout(&out);
    let first = text.lines().next().unwrap();
    assert_eq!(first.matches('|').count(), 1, "{first}");
    assert!(first.contains("ev¦il"), "{first}");
    for line in text.lines().skip(1) {
        assert!(!line.contains('|'), "{line}");
    }
}
