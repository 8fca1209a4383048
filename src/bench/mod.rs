//! `jobtop bench`: what watching costs, measured on a realistic table, side by side with the
//! way the runbooks count jobs. Prints a table and writes the same figures as JSON.

mod procstat;
mod report;
pub mod screen;
mod stats;
pub mod watchers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::backend::native::fixture::{self, FixtureCounts, FixtureSpec};
use crate::backend::native::probe::{self, PlanFigures, Probe};
use crate::backend::native::{NativeBackend, migrate};
use crate::backend::pg::admin;
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::{Overview, Reads, SnapshotOptions};
pub use stats::Summary;
use watchers::{Mode, WatchFigures};

/// What to measure, and on what.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server; the benchmark works in a database of its own there.
    pub server: PgConnectOptions,
    pub spec: FixtureSpec,
    pub regenerate: bool,
    /// Overview polls timed back to back.
    pub polls: usize,
    pub naive_runs: usize,
    /// Seconds each watcher scenario runs.
    pub seconds: u64,
    pub alone_watchers: usize,
    pub shared_watchers: Vec<usize>,
    pub count_cap: i64,
    pub ui: bool,
    /// Only the terminal side.
    pub ui_only: bool,
    pub monitor_seconds: u64,
    pub json_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryFigures {
    pub name: String,
    /// Wall time seen by the client, fetching every row.
    pub time: Summary,
    /// One run under `EXPLAIN (ANALYZE, BUFFERS)`.
    pub plan: PlanFigures,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub database: String,
    pub server_version: String,
    pub cores: usize,
    pub rows: i64,
    pub backlog: i64,
    pub count_cap: i64,
    pub generated: Option<FixtureCounts>,
    pub generated_seconds: Option<f64>,
    pub table_size_mb: Option<f64>,
    /// The first poll of a new monitor: the whole hour of throughput read.
    pub overview_first_poll_ms: Option<f64>,
    pub overview: Option<QueryFigures>,
    pub overview_parts: Vec<QueryFigures>,
    pub naive: Option<QueryFigures>,
    /// naive median / overview median.
    pub naive_ratio: Option<f64>,
    /// The drill-down views' reads (wall time only: several statements each).
    pub drill: Vec<QueryFigures>,
    pub watchers: Vec<WatchFigures>,
    pub frames: Option<screen::FrameFigures>,
    pub monitor_process: Option<screen::ProcessFigures>,
    pub notes: Vec<String>,
}

fn db_name(spec: FixtureSpec) -> String {
    if spec.backlog > 0 {
        format!("jobtop_bench_{}_backlog", spec.rows)
    } else {
        format!("jobtop_bench_{}", spec.rows)
    }
}

/// Opens (creating and filling when needed) the benchmark's own database.
async fn prepare(cfg: &BenchConfig, report: &mut Report) -> Result<(PgConnectOptions, PgPool)> {
    let name = db_name(cfg.spec);
    let mut admin = cfg
        .server
        .connect()
        .await
        .context("cannot connect to the server")?;
    let exists = admin::database_exists(&mut admin, &name).await?;
    if exists && cfg.regenerate {
        admin::drop_database(&mut admin, &name).await?;
    }
    if !exists || cfg.regenerate {
        admin::create_database(&mut admin, &name, None)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
    }
    let options = cfg.server.clone().database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(
            options
                .clone()
                .log_statements(tracing::log::LevelFilter::Off),
        )
        .await?;
    migrate(&pool).await?;
    match fixture::generated_meta(&pool).await? {
        Some(meta) if meta.rows == cfg.spec.rows && meta.backlog == cfg.spec.backlog => {
            report.generated_seconds = Some(meta.seconds);
            let age = meta.age_seconds;
            eprintln!(
                "reusing {name}, generated {:.0} min ago (--regenerate for fresh data)",
                age / 60.0
            );
            if age > 300.0 {
                // The fixture's clock stopped when it was generated: the minutes since hold
                // no completions, so the open-minute reads look cheaper than on a live system.
                report.notes.push(format!(
                    "data generated {:.0} min before the run: the last minutes hold no new completions, so the throughput reads are cheaper than live (run with --regenerate for figures on fresh data)",
                    age / 60.0
                ));
            }
        }
        _ => {
            eprintln!(
                "generating {} rows{} in {name} ...",
                cfg.spec.rows,
                if cfg.spec.backlog > 0 {
                    format!(" + a backlog of {}", cfg.spec.backlog)
                } else {
                    String::new()
                }
            );
            let started = Instant::now();
            let counts = fixture::generate(&pool, cfg.spec, |step| eprintln!("  {step}")).await?;
            let seconds = started.elapsed().as_secs_f64();
            fixture::record_generated(&pool, cfg.spec, seconds).await?;
            report.generated = Some(counts);
            report.generated_seconds = Some(seconds);
        }
    }
    Ok((options, pool))
}

/// Times one read `runs` times after a warm-up.
async fn time_read<F, Fut, T>(runs: usize, mut read: F) -> Result<Summary>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    read().await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        read().await?;
        times.push(started.elapsed());
    }
    Ok(Summary::of(&times))
}

/// The drill-down views' own reads, as the views ask for them (default limits).
async fn drill_views(backend: &NativeBackend) -> Result<Vec<QueryFigures>> {
    use crate::backend::drill::{
        DeadLetterQuery, DeadWindow, JobQuery, JobScope, KindWindow, KindsQuery, Order, PAGE_SIZE,
    };
    let limits = crate::app::DrillSettings::default();
    let dead_page = JobQuery {
        scope: JobScope::Queue {
            queue: fixture::QUEUES[0].to_string(),
            state: crate::backend::JobState::Dead,
        },
        filter: Default::default(),
        order: Order::NewestFirst,
        after: None,
        limit: PAGE_SIZE,
    };
    let dead_letters = |window| DeadLetterQuery {
        window,
        kind: None,
        limit: limits.dead_letter_limit,
    };
    let dead_hour = dead_letters(DeadWindow::Hour);
    let dead_day = dead_letters(DeadWindow::Day);
    let kinds = KindsQuery {
        window: KindWindow::Hour,
        limit: limits.kinds_limit,
    };
    let figures = |name: &str, time: Summary, note: &str| QueryFigures {
        name: name.to_string(),
        time,
        plan: PlanFigures::default(),
        note: note.to_string(),
    };
    Ok(vec![
        figures(
            "dead jobs: first page of the busiest queue",
            time_read(20, || backend.jobs(&dead_page)).await?,
            "jobs view, 100 newest",
        ),
        figures(
            "dead letters by error signature, 1 h",
            time_read(10, || backend.dead_letters(&dead_hour)).await?,
            "dead-letters view",
        ),
        figures(
            "dead letters by error signature, 24 h",
            time_read(10, || backend.dead_letters(&dead_day)).await?,
            "dead-letters view, its default window",
        ),
        figures(
            "kinds over 1 h",
            time_read(10, || backend.kinds(&kinds)).await?,
            "kinds view",
        ),
    ])
}

/// Times `probe` `runs` times (after one warm-up) and explains it once.
async fn measure(
    pool: &PgPool,
    name: &str,
    probe: Probe,
    runs: usize,
    note: &str,
) -> Result<QueryFigures> {
    probe::run(pool, &probe).await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(probe::run(pool, &probe).await?);
    }
    Ok(QueryFigures {
        name: name.to_string(),
        time: Summary::of(&times),
        plan: probe::explain(pool, &probe).await?,
        note: note.to_string(),
    })
}

pub async fn run(cfg: BenchConfig) -> Result<Report> {
    let mut report = Report {
        database: db_name(cfg.spec),
        server_version: String::new(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        rows: cfg.spec.rows,
        backlog: cfg.spec.backlog,
        count_cap: cfg.count_cap,
        generated: None,
        generated_seconds: None,
        table_size_mb: None,
        overview_first_poll_ms: None,
        overview: None,
        overview_parts: Vec::new(),
        naive: None,
        naive_ratio: None,
        drill: Vec::new(),
        watchers: Vec::new(),
        frames: None,
        monitor_process: None,
        notes: Vec::new(),
    };
    if cfg.ui_only {
        report.database = "-".into();
    }
    let db = if cfg.ui_only {
        None
    } else {
        Some(prepare(&cfg, &mut report).await?)
    };

    if let Some((options, admin_pool)) = &db {
        // The monitor's own session settings: statement_timeout, jit=off, no parallel
        // workers, application_name. The naive count runs under them too, so that both
        // sides are measured alike (with parallel workers it finishes sooner on more
        // cores, for the same CPU).
        let settings = SessionSettings {
            statement_timeout: Duration::from_secs(600),
            ..SessionSettings::default()
        };
        let session = connect::with_session_settings(options.clone(), &settings)
            .log_statements(tracing::log::LevelFilter::Off);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(session.clone())
            .await?;
        let (backend_pid, version, max_connections) = probe::server_facts(&pool).await?;
        report.server_version = version;
        report.table_size_mb = Some(fixture::jobs_table_bytes(&pool).await? as f64 / 1048576.0);
        let postmaster = procstat::parent_of(backend_pid).filter(|&pm| procstat::is_postgres(pm));
        if postmaster.is_none() {
            report.notes.push(
                "the server does not run on this machine: its CPU time is not measured".into(),
            );
        }
        let opts = SnapshotOptions {
            count_cap: cfg.count_cap,
            ..SnapshotOptions::default()
        };
        report.count_cap = cfg.count_cap;

        eprintln!("overview poll ...");
        let backend = NativeBackend::new(pool.clone());
        let started = Instant::now();
        backend.snapshot(&opts).await?;
        report.overview_first_poll_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        for _ in 0..5 {
            backend.snapshot(&opts).await?;
        }
        let mut times = Vec::with_capacity(cfg.polls);
        for _ in 0..cfg.polls {
            let started = Instant::now();
            backend.snapshot(&opts).await?;
            times.push(started.elapsed());
        }
        let minute = probe::current_minute(&pool).await?;
        let parts = [
            (
                "  queues: capped counts, oldest ready, pauses",
                Probe::Queues {
                    cap: opts.count_cap,
                },
                "per queue: 6 capped index ranges + 2 min()",
            ),
            (
                "  throughput: open minutes only",
                Probe::Minutes { from: minute - 1 },
                "every poll after the first",
            ),
            (
                "  throughput: whole hour",
                Probe::Minutes { from: minute - 59 },
                "a new monitor's first poll only",
            ),
            ("  workers", Probe::Workers, "heartbeats + running jobs"),
        ];
        let mut poll_plan = PlanFigures::default();
        for (name, probe, note) in parts {
            let figures = measure(&pool, name, probe.clone(), 20, note).await?;
            if !matches!(probe, Probe::Minutes { from } if from == minute - 59) {
                poll_plan.execution_ms += figures.plan.execution_ms;
                poll_plan.planning_ms += figures.plan.planning_ms;
                poll_plan.buffers_hit += figures.plan.buffers_hit;
                poll_plan.buffers_read += figures.plan.buffers_read;
            }
            report.overview_parts.push(figures);
        }
        report.overview = Some(QueryFigures {
            name: "overview poll (NativeBackend::snapshot)".into(),
            time: Summary::of(&times),
            plan: poll_plan,
            note: "3 queries in 1 repeatable-read transaction".into(),
        });

        eprintln!("naive count ...");
        let naive = measure(
            &pool,
            "naive: SELECT queue, state, count(*) GROUP BY 1, 2",
            Probe::Naive,
            cfg.naive_runs,
            "the runbooks' way: the whole table",
        )
        .await?;
        report.naive_ratio = report
            .overview
            .as_ref()
            .map(|o| naive.time.median_ms / o.time.median_ms.max(1e-9));
        report.naive = Some(naive);

        eprintln!("drill-down views ...");
        report.drill = drill_views(&backend).await?;

        let interval = Duration::from_secs(1);
        let mut scenarios = Vec::new();
        if cfg.alone_watchers > 0 {
            scenarios.push((Mode::Alone, cfg.alone_watchers));
        }
        for &n in &cfg.shared_watchers {
            scenarios.push((Mode::Shared, n));
        }
        for (mode, n) in scenarios {
            // Each watcher holds a session (a leader two); keep clear of the limit.
            if n as i64 + 10 > max_connections {
                report.notes.push(format!(
                    "{n} {mode:?} watchers skipped: the server allows {max_connections} connections"
                ));
                continue;
            }
            eprintln!("{n} watchers ({mode:?}) for {}s ...", cfg.seconds);
            report.watchers.push(
                watchers::watch(
                    &session,
                    admin_pool,
                    watchers::Scenario {
                        mode,
                        watchers: n,
                        interval,
                        seconds: cfg.seconds,
                        count_cap: opts.count_cap,
                    },
                    postmaster,
                )
                .await?,
            );
        }
        pool.close().await;
    }

    if cfg.ui || cfg.ui_only {
        eprintln!("terminal: frames ...");
        report.frames = Some(screen::frames(100, 200)?);
        if let Some((options, _)) = &db {
            eprintln!(
                "terminal: the monitor process for {}s ...",
                cfg.monitor_seconds
            );
            let exe = std::env::current_exe()?;
            let url = options.to_url_lossy().to_string();
            match screen::monitor_process(&exe, &url, cfg.monitor_seconds) {
                Ok(p) => report.monitor_process = Some(p),
                Err(err) => report
                    .notes
                    .push(format!("monitor process not measured: {err:#}")),
            }
        }
    }

    if let Some((_, pool)) = db {
        pool.close().await;
    }
    print!("{}", report::table(&report));
    if let Some(path) = &cfg.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report)
}
