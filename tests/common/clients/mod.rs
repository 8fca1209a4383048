//! Queue projects' real clients, run as child processes beside the tests: the package from
//! its registry (npm here, `npm.rs`; PyPI's `common::pypi` finds procrastinate the same
//! way), driven by small scripts of ours in tests/clients/ that use only the client's own
//! API and workers. A test makes known states with them, reads jobtop's snapshot, runs a
//! jobtop action and lets the client's worker take the job.
//!
//! What a registry client plugs in is a `Command` for one of its scripts (`Npm::script`);
//! everything else here (run to the end, a worker left running, `kill -9`) is the same for
//! every language. A client that cannot be found or installed makes its tests print
//! `SKIPPED (...)`, unless the registry's `JOBTOP_REQUIRE_*` variable is `1` (`.ci/run`),
//! which makes that a failure (`missing`).

pub mod npm;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// A client that is not usable here: `None` (the test skips) unless `require_var` is `1`.
pub fn missing<T>(require_var: &str, what: &str, why: &str, fix: &str) -> Option<T> {
    assert!(
        std::env::var(require_var).as_deref() != Ok("1"),
        "{require_var}=1 is set but {what}: not usable ({why}); {fix}"
    );
    eprintln!("SKIPPED ({what}: not usable: {why}; {fix})");
    None
}

/// Runs a client script to its end and returns what it printed; a failure (or more than
/// `timeout`) panics with its output.
pub fn run(mut command: Command, timeout: Duration) -> String {
    let what = format!("{command:?}");
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(timeout) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            kill9(pid);
            panic!("{what} did not finish within {timeout:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A client process left running (a worker), its output read line by line.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    what: String,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let what = format!("{command:?}");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, what }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The rest of the first line that starts with `prefix`.
    pub fn wait_for(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(_) => panic!("{} printed no {prefix:?} within {timeout:?}", self.what),
            }
        }
    }

    /// `kill -9`: the worker dies holding whatever it had taken.
    pub fn kill9(mut self) {
        kill9(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill9(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}
