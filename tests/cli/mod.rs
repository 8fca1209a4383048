//! Running the built `jobtop` binary against a test database, with a config file of the
//! test's own (never the user's).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnectOptions;

/// A URL for the test database, built from its connect options (a unix socket directory
/// rides in `host=`).
pub fn url(options: &PgConnectOptions) -> String {
    let db = options.get_database().unwrap_or("postgres");
    let user = options.get_username();
    match options.get_socket() {
        Some(dir) => format!(
            "postgres://{user}@localhost:{}/{db}?host={}",
            options.get_port(),
            dir.display()
        ),
        None => format!(
            "postgres://{user}@{}:{}/{db}",
            options.get_host(),
            options.get_port()
        ),
    }
}

/// A file in the temp directory that no other test uses.
pub fn temp_file(name: &str, contents: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "jobtop-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs `jobtop args…` with the given config file text, away from the user's environment.
pub fn jobtop(config: &str, args: &[&str]) -> Output {
    let config = temp_file("config.toml", config);
    let log = config.with_file_name("jobtop.log");
    Command::new(env!("CARGO_BIN_EXE_jobtop"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .arg("--log-file")
        .arg(&log)
        .env_remove("DATABASE_URL")
        .env_remove("JOBTOP_CONFIG")
        .env_remove("NO_COLOR")
        .output()
        .expect("cannot run the jobtop binary")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `jobtop ARGS --url URL` as `user` with no terminal on stdin (the user's own config
/// applies): (exit status, stdout, stderr).
pub fn run_as(user: &str, url: &str, args: &[&str]) -> (i32, String, String) {
    let log = std::env::temp_dir().join(format!("jobtop-cli-test-{}.log", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_jobtop"))
        .args(args)
        .arg("--url")
        .arg(url)
        .arg("--log-file")
        .arg(&log)
        .env("USER", user)
        .stdin(Stdio::null())
        .output()
        .expect("the jobtop binary runs");
    (
        out.status.code().expect("exited normally"),
        stdout(&out),
        stderr(&out),
    )
}
