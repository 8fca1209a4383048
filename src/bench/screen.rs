//! The terminal side: how long a frame takes, how many bytes a refresh sends down the line,
//! and what the real monitor process costs when it sits there refreshing.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeZone, Utc};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde::Serialize;

use super::procstat;
use super::stats::Summary;
use crate::app::{App, AppConfig, Msg};
use crate::backend::{
    Capabilities, Count, MinuteBucket, PauseInfo, QueueStats, Snapshot, WorkerInfo,
};
use crate::terminal::draw_frame;

pub const COLS: u16 = 200;
pub const ROWS: u16 = 60;

#[derive(Debug, Clone, Serialize)]
pub struct FrameFigures {
    pub cols: u16,
    pub rows: u16,
    pub queues: usize,
    pub workers: usize,
    /// `ui::draw` into ratatui's TestBackend.
    pub render: Summary,
    /// The monitor's whole frame: draw, diff, escape codes into a byte buffer, while the
    /// figures change on every frame.
    pub frame_changing: Summary,
    /// Bytes of the first, full frame.
    pub bytes_first_frame: usize,
    /// Bytes of a refresh when nothing changed (a clock tick within the same second).
    pub bytes_unchanged: usize,
    /// Bytes when only the clock moved on a second ("updated 2s ago").
    pub bytes_clock_only: usize,
    /// Bytes of a new poll in which 10 of the 100 queues' counts and all ages changed.
    pub bytes_counts_changed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessFigures {
    pub seconds: f64,
    pub interval_s: f64,
    pub cpu_percent: f64,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
    pub bytes_per_second: f64,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// A busy installation: 100 queues, 200 workers, an hour of history everywhere.
pub fn busy_snapshot(queues: usize, workers: usize, bump: i64) -> Snapshot {
    let queues = (0..queues)
        .map(|i| {
            let mut q = QueueStats::new(format!("queue_{i:03}"));
            let extra = if i % 10 == 0 { bump } else { 0 };
            q.ready = Count::exact((i as i64 * 37) % 900 + extra);
            q.scheduled = Count::exact((i as i64 * 13) % 400);
            q.running = Count::exact((i as i64 % 12) + 1);
            q.retrying = Count::exact(i as i64 % 7);
            q.dead = if i % 9 == 0 {
                Count::capped_at(10_001, 10_000)
            } else {
                Count::exact(i as i64 % 30)
            };
            q.oldest_ready_at = Some(t0() - chrono::Duration::seconds((i as i64 * 11) % 600));
            if i % 25 == 3 {
                q.paused = Some(PauseInfo {
                    at: t0() - chrono::Duration::minutes(5),
                    by: Some("ops@bench".into()),
                    reason: Some("maintenance".into()),
                });
            }
            q.minutes = (0..60u32)
                .map(|m| MinuteBucket {
                    succeeded: (m * 7 + i as u32) % 50 + 5,
                    failed: if (m + i as u32).is_multiple_of(9) {
                        2
                    } else {
                        0
                    },
                })
                .collect();
            q
        })
        .collect();
    let workers = (0..workers)
        .map(|w| WorkerInfo {
            id: format!("worker-{w:03}"),
            host: Some(format!("app-{:02}", w % 40)),
            pid: Some(10_000 + w as i32),
            queues: vec![format!("queue_{:03}", w % 100)],
            started_at: Some(t0() - chrono::Duration::hours(6)),
            last_heartbeat_at: Some(t0() - chrono::Duration::seconds((w as i64 * 7) % 90)),
            running_jobs: (w % 4) as i64,
        })
        .collect();
    Snapshot {
        db_now: t0(),
        queues,
        workers,
        count_cap: 10_000,
        running_by_tenant: None,
        schedules: None,
    }
}

fn busy_app(queues: usize, workers: usize) -> App {
    let config = AppConfig {
        target: "ops@db.internal:5432/app".into(),
        backend: "native".into(),
        capabilities: Capabilities::FULL,
        read_only: false,
        stale_after: Duration::from_secs(60),
        oldest_warn: Duration::from_secs(60),
        oldest_critical: Duration::from_secs(300),
        drill: crate::app::DrillSettings::default(),
    };
    let mut app = App::new(config, Duration::from_secs(1), t0());
    app.update(Msg::Polled {
        result: Ok(busy_snapshot(queues, workers, 0)),
        at: t0(),
    });
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(1200)));
    app
}

/// Counts the bytes a terminal would receive.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn byte_terminal(counter: &Counter) -> Result<Terminal<CrosstermBackend<Counter>>> {
    Ok(Terminal::with_options(
        CrosstermBackend::new(counter.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, COLS, ROWS)),
        },
    )?)
}

/// Bytes one `draw_frame` writes.
fn frame_bytes(
    terminal: &mut Terminal<CrosstermBackend<Counter>>,
    counter: &Counter,
    app: &App,
    last: &mut Option<ratatui::buffer::Buffer>,
) -> Result<usize> {
    let before = counter.0.load(Ordering::Relaxed);
    draw_frame(terminal, app, last)?;
    Ok((counter.0.load(Ordering::Relaxed) - before) as usize)
}

pub fn frames(queues: usize, workers: usize) -> Result<FrameFigures> {
    let mut app = busy_app(queues, workers);

    let mut test = Terminal::new(TestBackend::new(COLS, ROWS))?;
    for _ in 0..20 {
        test.draw(|f| crate::ui::draw(f, &app))?;
    }
    let mut render = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        test.draw(|f| crate::ui::draw(f, &app))?;
        render.push(started.elapsed());
    }

    let counter = Counter::default();
    let mut terminal = byte_terminal(&counter)?;
    let mut last = None;
    let bytes_first_frame = frame_bytes(&mut terminal, &counter, &app, &mut last)?;
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(1450)));
    let bytes_unchanged = frame_bytes(&mut terminal, &counter, &app, &mut last)?;
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(2200)));
    let bytes_clock_only = frame_bytes(&mut terminal, &counter, &app, &mut last)?;
    let at = t0() + chrono::Duration::seconds(3);
    let mut next = busy_snapshot(queues, workers, 5);
    next.db_now = at;
    app.update(Msg::Polled {
        result: Ok(next),
        at,
    });
    let bytes_counts_changed = frame_bytes(&mut terminal, &counter, &app, &mut last)?;

    let mut frame_changing = Vec::new();
    for i in 0..300i64 {
        let at = t0() + chrono::Duration::seconds(4 + i);
        let mut snap = busy_snapshot(queues, workers, i % 7);
        snap.db_now = at;
        app.update(Msg::Polled {
            result: Ok(snap),
            at,
        });
        let started = Instant::now();
        draw_frame(&mut terminal, &app, &mut last)?;
        frame_changing.push(started.elapsed());
    }

    Ok(FrameFigures {
        cols: COLS,
        rows: ROWS,
        queues,
        workers,
        render: Summary::of(&render),
        frame_changing: Summary::of(&frame_changing),
        bytes_first_frame,
        bytes_unchanged,
        bytes_clock_only,
        bytes_counts_changed,
    })
}

/// Runs the real monitor in a pseudo-terminal (`script`) of COLS×ROWS against `url` and
/// reads its CPU time, memory and output over `seconds`, after a few seconds of start-up.
/// The URL travels in the environment, never on a command line.
pub fn monitor_process(exe: &Path, url: &str, seconds: u64) -> Result<ProcessFigures> {
    let log = std::env::temp_dir().join(format!("jobtop-bench-{}.log", std::process::id()));
    let script = format!(
        "stty cols {COLS} rows {ROWS}; exec \"$JOBTOP_BENCH_EXE\" --log-file \"$JOBTOP_BENCH_LOG\" --interval 1"
    );
    let mut child = Command::new("script")
        .args(["-qfec", &script, "/dev/null"])
        .env("DATABASE_URL", url)
        .env("JOBTOP_BENCH_EXE", exe)
        .env("JOBTOP_BENCH_LOG", &log)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run `script` (util-linux) to give the monitor a terminal")?;
    let bytes = Arc::new(AtomicU64::new(0));
    let mut out = child.stdout.take().context("no stdout")?;
    let counter = bytes.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    });

    let script_pid = child.id() as i32;
    let started = Instant::now();
    let monitor_pid = loop {
        let found = procstat::family(script_pid)
            .into_iter()
            .filter(|&p| p != script_pid)
            .find(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "jobtop")
            });
        if let Some(pid) = found {
            break pid;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            bail!("the monitor did not start under `script`");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Start-up: connecting, the first polls, the first full frame.
    std::thread::sleep(Duration::from_secs(5));
    let cpu0 = procstat::cpu_ticks(monitor_pid).context("monitor gone")?;
    let bytes0 = bytes.load(Ordering::Relaxed);
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let elapsed = window.elapsed().as_secs_f64();
    let cpu1 = procstat::cpu_ticks(monitor_pid).context("monitor gone")?;
    let bytes1 = bytes.load(Ordering::Relaxed);
    let rss = procstat::status_kb(monitor_pid, "VmRSS").unwrap_or(0);
    let hwm = procstat::status_kb(monitor_pid, "VmHWM").unwrap_or(0);

    if let Some(stdin) = child.stdin.as_mut() {
        let _ = stdin.write_all(b"q");
        let _ = stdin.flush();
    }
    let quit_by = Instant::now() + Duration::from_secs(5);
    while child.try_wait()?.is_none() {
        if Instant::now() > quit_by {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.wait();
    let _ = reader.join();
    let _ = std::fs::remove_file(&log);

    Ok(ProcessFigures {
        seconds: elapsed,
        interval_s: 1.0,
        cpu_percent: (cpu1 - cpu0) as f64 / procstat::ticks_per_second() / elapsed * 100.0,
        rss_mb: rss as f64 / 1024.0,
        peak_rss_mb: hwm as f64 / 1024.0,
        bytes_per_second: (bytes1 - bytes0) as f64 / elapsed,
    })
}
