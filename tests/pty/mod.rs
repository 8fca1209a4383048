#![allow(dead_code)] // each test binary uses a part of it
//! The real binary in a pseudo-terminal, read through a vt100 screen: what a person at the
//! terminal would see, and keys they would press.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub struct Terminal {
    pub screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote.
    transcript: Arc<Mutex<Vec<u8>>>,
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    _master: Box<dyn MasterPty + Send>,
}

impl Terminal {
    /// Runs `script` with `sh -c` in a `rows`×`cols` terminal; `env` is added to a
    /// clean-of-DATABASE_URL environment.
    pub fn run(script: &str, env: &[(&str, &str)], rows: u16, cols: u16) -> Terminal {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new("sh");
        cmd.args(["-c", script]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("DATABASE_URL");
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);

        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(rows).unwrap(),
            std::num::NonZero::new(cols).unwrap(),
            0,
        )));
        let transcript = Arc::new(Mutex::new(Vec::<u8>::new()));
        let mut reader = pty.master.try_clone_reader().unwrap();
        {
            let screen = screen.clone();
            let transcript = transcript.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen.lock().unwrap().process(&buf[..n]);
                    transcript.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let writer = pty.master.take_writer().unwrap();
        Terminal {
            screen,
            transcript,
            child,
            writer,
            _master: pty.master,
        }
    }

    /// The built jobtop on `url` (as `user` when one is given), logging nowhere, in a
    /// `rows`×`cols` terminal.
    pub fn jobtop(url: &str, user: Option<&str>, rows: u16, cols: u16) -> Terminal {
        let user = user.map(|u| format!("USER={u} ")).unwrap_or_default();
        let script = format!(
            "{user}\"{}\" \"$JOBTOP_TEST_URL\" --log-file /dev/null",
            env!("CARGO_BIN_EXE_jobtop")
        );
        Terminal::run(&script, &[("JOBTOP_TEST_URL", url)], rows, cols)
    }

    /// Waits until `done` holds for the screen, or `timeout` passes.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&vt100::Screen) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if done(self.screen.lock().unwrap().screen()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits until the screen shows `text`; false after `timeout`.
    pub fn wait_for_text(&self, text: &str, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.contents().contains(text))
    }

    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// The first screen line that contains `needle`, split into words.
    pub fn row(&self, needle: &str) -> Option<Vec<String>> {
        self.text()
            .lines()
            .find(|l| l.contains(needle))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
    }

    pub fn keys(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript.lock().unwrap()).into_owned()
    }
}
