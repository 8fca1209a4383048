//! Many monitors polling one database at once, each with its own sessions as separate
//! processes would have: the latency each poll saw and what the database server spent.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::procstat;
use super::stats::Summary;
use crate::backend::detect::{self, BackendKind, Detected};
use crate::backend::native::probe;
use crate::backend::wrappers::shared::{Role, SharedOptions, SharedSnapshot};
use crate::backend::{Backend, Overview, Reads, SnapshotOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every monitor runs the overview queries itself.
    Alone,
    /// One elected leader runs them; the others read its published snapshot.
    Shared,
}

#[derive(Debug, Clone, Serialize)]
pub struct WatchFigures {
    pub mode: Mode,
    pub watchers: usize,
    pub interval_s: f64,
    pub seconds: f64,
    pub polls: usize,
    pub errors: usize,
    /// Wall time of each poll as the poller sees it (a follower's includes its wait for
    /// the leader's next version).
    pub poll: Summary,
    /// The same without that wait: the work a poll costs.
    pub poll_work: Summary,
    /// CPU seconds of every process of the database server (None: server not local).
    pub server_cpu_s: Option<f64>,
    /// CPU seconds of the server processes serving the watchers' sessions.
    pub watcher_sessions_cpu_s: Option<f64>,
    pub polls_led: u64,
    pub polls_followed: u64,
    pub polls_alone: u64,
    pub sessions: usize,
    /// Shared watchers that polled on their own for good, and why (the wrapper's words).
    pub alone_because: Option<String>,
}

impl WatchFigures {
    pub fn server_cores(&self) -> Option<f64> {
        self.server_cpu_s.map(|s| s / self.seconds)
    }

    pub fn watcher_cores(&self) -> Option<f64> {
        self.watcher_sessions_cpu_s.map(|s| s / self.seconds)
    }
}

/// A monitor: its session's pool and the overview its poller reads.
enum Watcher {
    Alone(PgPool, Backend),
    Shared(PgPool, Box<SharedSnapshot<dyn Reads>>),
}

impl Watcher {
    fn overview(&self) -> &dyn Overview {
        match self {
            Watcher::Alone(_, b) => b.overview().as_ref(),
            Watcher::Shared(_, b) => b.as_ref(),
        }
    }

    fn waited(&self) -> Duration {
        match self {
            Watcher::Alone(..) => Duration::ZERO,
            Watcher::Shared(_, b) => {
                Duration::from_micros(b.stats.waited_us.load(Ordering::Relaxed))
            }
        }
    }
}

/// How many watchers of which kind, polling how often, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// The schema watched, opened as the monitor opens it.
    pub backend: BackendKind,
    pub schema: &'static str,
    /// The shipped profile describing the table (`BackendKind::Mapped`).
    pub profile: Option<&'static str>,
    pub mode: Mode,
    pub watchers: usize,
    pub interval: Duration,
    pub seconds: u64,
    pub count_cap: i64,
}

/// Polls led, followed and taken alone so far, over all shared watchers.
fn counters(watchers: &[Arc<Watcher>]) -> (u64, u64, u64) {
    let (mut led, mut followed, mut alone) = (0, 0, 0);
    for w in watchers {
        if let Watcher::Shared(_, s) = w.as_ref() {
            led += s.stats.led.load(Ordering::Relaxed);
            followed += s.stats.followed.load(Ordering::Relaxed);
            alone += s.stats.alone.load(Ordering::Relaxed);
        }
    }
    (led, followed, alone)
}

/// Runs `n` watchers polling every `interval` for `seconds`, staggered over the interval.
/// `session` carries the session settings; `postmaster` is the server's main process when
/// the server runs on this machine.
pub async fn watch(
    session: &PgConnectOptions,
    monitor_pool: &PgPool,
    scenario: Scenario,
    postmaster: Option<i32>,
) -> Result<WatchFigures> {
    let Scenario {
        backend,
        schema,
        profile,
        mode,
        watchers: n,
        interval,
        seconds,
        count_cap,
    } = scenario;
    let app = format!(
        "jobtop-bench-{}-{n}",
        match mode {
            Mode::Alone => "alone",
            Mode::Shared => "shared",
        }
    );
    let opts = session
        .clone()
        .application_name(&app)
        .log_statements(tracing::log::LevelFilter::Off);
    let mut watchers = Vec::with_capacity(n);
    for _ in 0..n {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(opts.clone());
        let opened = detect::open(
            &pool,
            &Detected {
                backend,
                schema: schema.to_string(),
                profile: profile.map(String::from),
            },
        )
        .await?;
        watchers.push(Arc::new(match mode {
            Mode::Alone => Watcher::Alone(pool, opened),
            Mode::Shared => {
                let shared = SharedSnapshot::new(
                    opened.reads().clone(),
                    &pool,
                    SharedOptions {
                        interval,
                        max_wait: interval,
                        read_only: false,
                    },
                );
                Watcher::Shared(pool, Box::new(shared))
            }
        }));
    }
    let snapshot_opts = SnapshotOptions {
        count_cap,
        ..SnapshotOptions::default()
    };
    // Sessions open, leader elected, minute caches warm: then measure.
    for w in &watchers {
        w.overview().snapshot(&snapshot_opts).await?;
    }
    let warm_up = counters(&watchers);
    let pids = probe::pids_of(monitor_pool, &app).await?;
    let server_pids = postmaster.map(procstat::family);
    let server_before = server_pids.as_deref().map(procstat::sample);
    let watchers_before = postmaster.map(|_| procstat::sample(&pids));

    let window = Instant::now();
    let deadline = window + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(n);
    for (i, w) in watchers.iter().enumerate() {
        let w = w.clone();
        let offset = interval.mul_f64(i as f64 / n as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut polls = Vec::new();
            let mut work = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let waited = w.waited();
                let started = Instant::now();
                match w.overview().snapshot(&snapshot_opts).await {
                    Ok(_) => {
                        let took = started.elapsed();
                        polls.push(took);
                        work.push(took.saturating_sub(w.waited() - waited));
                    }
                    Err(err) => {
                        errors += 1;
                        tracing::warn!("bench watcher: {err:#}");
                    }
                }
                // As the poller does: the interval runs from the end of a poll.
                tokio::time::sleep(interval).await;
            }
            (polls, work, errors)
        }));
    }
    let mut polls = Vec::new();
    let mut work = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (p, w, e) = task.await?;
        polls.extend(p);
        work.extend(w);
        errors += e;
    }
    let elapsed = window.elapsed().as_secs_f64();
    // Processes started during the window (a new session after a takeover) count too.
    let server_after = postmaster.map(|pm| procstat::sample(&procstat::family(pm)));
    let watchers_after = postmaster.map(|_| procstat::sample(&pids));

    let (led, followed, mut alone) = {
        let (l, f, a) = counters(&watchers);
        (l - warm_up.0, f - warm_up.1, a - warm_up.2)
    };
    if mode == Mode::Alone {
        alone = polls.len() as u64;
    }
    let alone_because = watchers.iter().find_map(|w| match w.as_ref() {
        Watcher::Shared(_, s) => match s.role() {
            role @ Role::Alone(_) => Some(role.describe()),
            _ => None,
        },
        Watcher::Alone(..) => None,
    });
    for w in &watchers {
        match w.as_ref() {
            Watcher::Shared(pool, s) => {
                s.close().await;
                pool.close().await;
            }
            Watcher::Alone(pool, _) => pool.close().await,
        }
    }
    Ok(WatchFigures {
        mode,
        watchers: n,
        interval_s: interval.as_secs_f64(),
        seconds: elapsed,
        polls: polls.len(),
        errors,
        poll: Summary::of(&polls),
        poll_work: Summary::of(&work),
        server_cpu_s: server_before
            .zip(server_after)
            .map(|(b, a)| procstat::cpu_seconds_between(&b, &a)),
        watcher_sessions_cpu_s: watchers_before
            .zip(watchers_after)
            .map(|(b, a)| procstat::cpu_seconds_between(&b, &a)),
        polls_led: led,
        polls_followed: followed,
        polls_alone: alone,
        sessions: pids.len(),
        alone_because,
    })
}
