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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions};

use crate::backend::detect::{self, BackendKind, Detected};
use crate::backend::engine::snapshot::open_minutes_probe;
use crate::backend::engine::tally::{self, TALLY_PROBE};
use crate::backend::generate::{self, FixtureCounts, FixtureSpec, Generator};
use crate::backend::index_advice;
use crate::backend::minute_cache;
use crate::backend::native::migrate;
use crate::backend::native::probe::{self, PlanFigures, Probe};
use crate::backend::pg::admin;
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::pg::side_tables;
use crate::backend::{Backend, Reads, SnapshotOptions};
pub use stats::Summary;
use watchers::{Mode, WatchFigures};

/// What to measure, and on what.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server; the benchmark works in a database of its own there.
    pub server: PgConnectOptions,
    /// The queue schema whose table is generated and watched.
    pub backend: BackendKind,
    /// A shipped profile's table instead (`--profile NAME`; `backend` is then `Mapped`).
    pub profile: Option<String>,
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
    /// Build the indexes `jobtop doctor` names (as `migrate --indexes` does) before
    /// measuring.
    pub with_indexes: bool,
    /// Time the drill-down views and the history past the hour (at 10 M rows on some
    /// schemas, minutes each).
    pub drill: bool,
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

impl QueryFigures {
    /// A read timed by the client only (several statements: no single plan to explain).
    fn wall(name: impl Into<String>, time: Summary, note: impl Into<String>) -> QueryFigures {
        QueryFigures {
            name: name.into(),
            time,
            plan: PlanFigures::default(),
            note: note.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: BackendKind,
    pub database: String,
    /// The job tables measured.
    pub tables: Vec<String>,
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
    /// The first poll of a monitor started after the others polled: the passes over what
    /// no index holds by queue are in `jobtop.tallies` (the first one found none).
    pub overview_next_first_poll_ms: Option<f64>,
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

fn db_name(generator: &Generator, spec: FixtureSpec) -> String {
    let schema = generator
        .profile
        .unwrap_or(generator.backend.as_str())
        .replace('-', "_");
    if spec.backlog > 0 {
        format!("jobtop_bench_{schema}_{}_backlog", spec.rows)
    } else {
        format!("jobtop_bench_{schema}_{}", spec.rows)
    }
}

/// Opens (creating and filling when needed) the benchmark's own database.
async fn prepare(
    cfg: &BenchConfig,
    generator: &Generator,
    report: &mut Report,
) -> Result<(PgConnectOptions, PgPool)> {
    let name = db_name(generator, cfg.spec);
    let mut admin = cfg
        .server
        .connect()
        .await
        .context("cannot connect to the server")?;
    let options = cfg.server.clone().database(&name);
    let connect = || {
        PgPoolOptions::new().max_connections(4).connect_with(
            options
                .clone()
                .log_statements(tracing::log::LevelFilter::Off),
        )
    };
    if admin::database_exists(&mut admin, &name).await? && !cfg.regenerate {
        let pool = connect().await?;
        match generate::generated_meta(&pool).await? {
            Some(meta) if meta.rows == cfg.spec.rows && meta.backlog == cfg.spec.backlog => {
                report.generated_seconds = Some(meta.seconds);
                let age = meta.age_seconds;
                eprintln!(
                    "reusing {name}, generated {:.0} min ago (--regenerate for fresh data)",
                    age / 60.0
                );
                if age > 300.0 {
                    // The table's clock stopped when it was generated: the minutes since hold
                    // no completions, so the open-minute reads look cheaper than on a live system.
                    report.notes.push(format!(
                        "data generated {:.0} min before the run: the last minutes hold no new completions, so the throughput reads are cheaper than live (run with --regenerate for figures on fresh data)",
                        age / 60.0
                    ));
                }
                return Ok((options, pool));
            }
            // A generation that did not finish: start again.
            _ => pool.close().await,
        }
    }
    if admin::database_exists(&mut admin, &name).await? {
        admin::drop_database(&mut admin, &name).await?;
    }
    admin::create_database(&mut admin, &name, None)
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    let pool = connect().await?;
    if cfg.backend == BackendKind::Native {
        migrate(&pool).await?;
    }
    eprintln!(
        "generating {} rows{} of {} in {name} ...",
        cfg.spec.rows,
        if cfg.spec.backlog > 0 {
            format!(" + a backlog of {}", cfg.spec.backlog)
        } else {
            String::new()
        },
        generator.profile.unwrap_or(cfg.backend.as_str())
    );
    let started = Instant::now();
    let counts =
        generate::generate(&pool, generator, cfg.spec, |step| eprintln!("  {step}")).await?;
    let seconds = started.elapsed().as_secs_f64();
    generate::record_generated(&pool, cfg.spec, seconds).await?;
    report.generated = Some(counts);
    report.generated_seconds = Some(seconds);
    Ok((options, pool))
}

/// A statement as a table row names it: pgmq's naive count has a branch per queue table.
fn shortened(sql: &str) -> String {
    const SHOWN: usize = 160;
    match sql.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{} … ({} characters)", &sql[..cut], sql.len()),
        None => sql.to_string(),
    }
}

/// Whether a timing loop has enough: `runs` samples, or at least three once they add up to
/// `BUDGET` (on a schema where one read takes seconds, a hundred would take the afternoon).
fn enough(times: &[Duration], runs: usize) -> bool {
    const BUDGET: Duration = Duration::from_secs(20);
    times.len() >= runs || (times.len() >= 3 && times.iter().sum::<Duration>() >= BUDGET)
}

/// Times one read `runs` times after a warm-up.
async fn time_read<F, Fut, T>(runs: usize, mut read: F) -> Result<Summary>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    read().await?;
    let mut times = Vec::with_capacity(runs);
    while !enough(&times, runs) {
        let started = Instant::now();
        read().await?;
        times.push(started.elapsed());
    }
    Ok(Summary::of(&times))
}

/// The drill-down views' own reads, as the views ask for them (default limits).
async fn drill_views(backend: &dyn Reads) -> Result<Vec<QueryFigures>> {
    use crate::backend::drill::{
        DeadLetterQuery, DeadWindow, HistoryWindow, JobQuery, JobScope, KindsQuery, Order,
        PAGE_SIZE,
    };
    let limits = crate::app::DrillSettings::default();
    let dead_page = JobQuery {
        scope: JobScope::Queue {
            queue: generate::QUEUES[0].to_string(),
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
        queue: None,
        limit: limits.dead_letter_limit,
    };
    let dead_hour = dead_letters(DeadWindow::Hour);
    let dead_day = dead_letters(DeadWindow::Day);
    let kinds = KindsQuery {
        window: HistoryWindow::Hour,
        limit: limits.kinds_limit,
    };
    Ok(vec![
        QueryFigures::wall(
            "dead jobs: first page of the busiest queue",
            time_read(20, || backend.jobs(&dead_page)).await?,
            "jobs view, 100 newest",
        ),
        QueryFigures::wall(
            "dead letters by error signature, 1 h",
            time_read(10, || backend.dead_letters(&dead_hour)).await?,
            "dead-letters view",
        ),
        QueryFigures::wall(
            "dead letters by error signature, 24 h",
            time_read(10, || backend.dead_letters(&dead_day)).await?,
            "dead-letters view, its default window",
        ),
        QueryFigures::wall(
            "kinds over 1 h",
            time_read(10, || backend.kinds(&kinds)).await?,
            "kinds view",
        ),
    ])
}

/// What the chart past the hour costs: a first look at 24 h and 7 d (every closed hour read
/// from the jobs, a few per request, and stored in the side tables), the same look by the
/// next monitor (from the stored hours), and a refresh (the open hours only).
async fn history_reads(pool: &PgPool, generator: &Generator) -> Result<Vec<QueryFigures>> {
    use crate::backend::drill::HistoryWindow;
    let mut out = Vec::new();
    let source = {
        let backend = open(pool, generator).await?;
        crate::backend::history::source_key(backend.name(), backend.reads().schema())
    };
    for window in [HistoryWindow::Day, HistoryWindow::Week] {
        crate::backend::history::forget(pool, &source).await?;
        let first = open(pool, generator).await?;
        let started = Instant::now();
        let mut requests = 0;
        let error = loop {
            requests += 1;
            match first.reads().history(window).await {
                Ok(r) if r.complete() || requests >= 500 => break None,
                Ok(_) => {}
                Err(err) => break Some(format!("{err:#}")),
            }
        };
        if let Some(error) = error {
            out.push(QueryFigures::wall(
                format!("history {}", window.label()),
                Summary::default(),
                format!("not available: {error}"),
            ));
            continue;
        }
        let total = started.elapsed();
        out.push(QueryFigures::wall(
            format!("history {}, first look", window.label()),
            Summary::of(&[total]),
            format!(
                "every closed hour from the jobs, stored: {requests} requests, the chart filling"
            ),
        ));
        let next = time_read(5, || async {
            let fresh = open(pool, generator).await?;
            fresh.reads().history(window).await
        })
        .await?;
        out.push(QueryFigures::wall(
            format!("history {}, next monitor", window.label()),
            next,
            "closed hours from the side table, open ones from the jobs",
        ));
        out.push(QueryFigures::wall(
            format!("history {}, refresh", window.label()),
            time_read(10, || first.reads().history(window)).await?,
            "the open hours only, once a minute",
        ));
    }
    Ok(out)
}

/// Times a statement of another schema `runs` times (after one warm-up) and explains it once.
async fn measure_text(
    pool: &PgPool,
    name: &str,
    sql: &str,
    cap: Option<i64>,
    runs: usize,
    note: &str,
) -> Result<QueryFigures> {
    probe::run_text(pool, sql, cap).await?;
    let mut times = Vec::with_capacity(runs);
    while !enough(&times, runs) {
        times.push(probe::run_text(pool, sql, cap).await?);
    }
    Ok(QueryFigures {
        name: name.to_string(),
        time: Summary::of(&times),
        plan: probe::explain_text(pool, sql, cap).await?,
        note: note.to_string(),
    })
}

/// The overview's statements among those doctor lists for a foreign schema.
const POLL_STATEMENTS: [&str; 3] = ["queue counts", "completions per minute", "workers"];

/// Opens the schema the way the monitor does.
async fn open(pool: &PgPool, generator: &Generator) -> Result<Backend> {
    detect::open(
        pool,
        &Detected {
            backend: generator.backend,
            schema: generator.schema.to_string(),
            profile: generator.profile.map(String::from),
        },
    )
    .await
}

/// `--with-indexes`: the indexes doctor names for the generated schema, built as `jobtop
/// migrate --indexes` builds them, then the tables analyzed (as autovacuum would soon).
async fn with_indexes(pool: &PgPool, generator: &Generator, report: &mut Report) -> Result<()> {
    let backend = open(pool, generator).await?;
    let advised = index_advice::advised(pool, backend.reads().as_ref()).await;
    let built = index_advice::build(pool, &advised, |sql| eprintln!("  {sql} ...")).await?;
    for table in &generator.tables {
        sqlx::query(AssertSqlSafe(format!("ANALYZE {table}")))
            .execute(pool)
            .await?;
    }
    let made: Vec<String> = built
        .iter()
        .map(|b| format!("{} ({:.0} s)", b.sql, b.took.as_secs_f64()))
        .collect();
    report.notes.push(if made.is_empty() {
        "with the indexes doctor names: it names none here (all present)".to_string()
    } else {
        format!(
            "with the indexes doctor names, built by the bench (`jobtop migrate --indexes`): {}",
            made.join("; ")
        )
    });
    Ok(())
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
    while !enough(&times, runs) {
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
    let generator = match &cfg.profile {
        Some(name) => generate::profile_generator(name).with_context(|| {
            format!(
                "no table generator for profile {name}; shipped profiles with one: {}",
                generate::PROFILES.join(", ")
            )
        })?,
        None => generate::generator(cfg.backend)
            .with_context(|| format!("no table generator for {}", cfg.backend))?,
    };
    let mut report = Report {
        backend: cfg.backend,
        database: db_name(&generator, cfg.spec),
        tables: generator.tables.iter().map(|t| t.to_string()).collect(),
        server_version: String::new(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        rows: cfg.spec.rows,
        backlog: cfg.spec.backlog,
        count_cap: cfg.count_cap,
        generated: None,
        generated_seconds: None,
        table_size_mb: None,
        overview_first_poll_ms: None,
        overview_next_first_poll_ms: None,
        overview: None,
        overview_parts: Vec::new(),
        naive: None,
        naive_ratio: None,
        drill: Vec::new(),
        watchers: Vec::new(),
        frames: None,
        monitor_process: None,
        notes: generator.note.iter().map(|n| n.to_string()).collect(),
    };
    if cfg.ui_only {
        report.database = "-".into();
    }
    let db = if cfg.ui_only {
        None
    } else {
        Some(prepare(&cfg, &generator, &mut report).await?)
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
        let connect = || {
            PgPoolOptions::new()
                .max_connections(2)
                .connect_with(session.clone())
        };
        let pool = connect().await?;
        let (backend_pid, version, max_connections) = probe::server_facts(&pool).await?;
        report.server_version = version;
        report.table_size_mb =
            Some(generate::tables_bytes(&pool, &generator).await? as f64 / 1048576.0);
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

        // jobtop's side tables, as `jobtop migrate --side-tables` installs them next to a
        // team's queue (a no-op on the reference schema): without them every watcher polls
        // alone.
        side_tables::install(&pool).await?;
        if cfg.with_indexes {
            with_indexes(admin_pool, &generator, &mut report).await?;
        }
        eprintln!("overview poll ...");
        // A new monitor: its own session, the schema opened, the first poll.
        {
            let fresh = connect().await?;
            let backend = open(&fresh, &generator).await?;
            // The first monitor on this database: no pass stored by an earlier run.
            let source =
                crate::backend::history::source_key(backend.name(), backend.reads().schema());
            tally::forget_stored(&fresh, &source).await?;
            let started = Instant::now();
            backend.overview().snapshot(&opts).await?;
            report.overview_first_poll_ms = Some(started.elapsed().as_secs_f64() * 1e3);
            fresh.close().await;
        }
        let backend = open(&pool, &generator).await?;
        for _ in 0..2 {
            backend.overview().snapshot(&opts).await?;
        }
        let mut times = Vec::with_capacity(cfg.polls);
        while !enough(&times, cfg.polls) {
            let started = Instant::now();
            backend.overview().snapshot(&opts).await?;
            times.push(started.elapsed());
        }
        // A monitor started now finds the passes the others stored.
        {
            let fresh = connect().await?;
            let next = open(&fresh, &generator).await?;
            let started = Instant::now();
            next.overview().snapshot(&opts).await?;
            report.overview_next_first_poll_ms = Some(started.elapsed().as_secs_f64() * 1e3);
            fresh.close().await;
        }
        let mut poll_plan = PlanFigures::default();
        let mut add = |plan: &PlanFigures| {
            poll_plan.execution_ms += plan.execution_ms;
            poll_plan.planning_ms += plan.planning_ms;
            poll_plan.buffers_hit += plan.buffers_hit;
            poll_plan.buffers_read += plan.buffers_read;
        };
        if cfg.backend == BackendKind::Native {
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
            for (name, probe, note) in parts {
                let figures = measure(&pool, name, probe.clone(), 20, note).await?;
                if !matches!(probe, Probe::Minutes { from } if from == minute - 59) {
                    add(&figures.plan);
                }
                report.overview_parts.push(figures);
            }
        } else {
            // The schema's statements as doctor lists them: the overview's, and the two
            // drill-down reads that scan by time (dead letters, per-kind figures), which a
            // poll does not run. The job lists' pages are timed below, as the views ask.
            for p in backend.reads().doctor_plan().probes {
                let cap = p.binds_cap.then(|| opts.count_cap.saturating_add(1));
                let in_poll = POLL_STATEMENTS.contains(&p.name.as_str());
                if !in_poll && p.name.starts_with("job list") {
                    continue;
                }
                // Doctor explains the hour a new monitor reads (and every monitor again
                // every few minutes); the polls in between read the open minutes.
                if p.name == "completions per minute" {
                    let open = measure_text(
                        &pool,
                        "  completions per minute, the open minutes",
                        &open_minutes_probe(&p.sql),
                        None,
                        20,
                        "every poll after the first",
                    )
                    .await?;
                    add(&open.plan);
                    report.overview_parts.push(open);
                    let hour = measure_text(
                        &pool,
                        "  completions per minute, the whole hour",
                        &p.sql,
                        None,
                        20,
                        &format!(
                            "a new monitor's first poll, then every {} minutes",
                            minute_cache::FULL_REREAD_EVERY
                        ),
                    )
                    .await?;
                    report.overview_parts.push(hour);
                    continue;
                }
                let figures = measure_text(
                    &pool,
                    &format!("  {}", p.name),
                    &p.sql,
                    cap,
                    20,
                    if in_poll {
                        "every poll"
                    } else if p.name.starts_with(TALLY_PROBE) {
                        "on the slower clock, not every poll"
                    } else {
                        "drill-down, not in the poll"
                    },
                )
                .await?;
                if in_poll {
                    add(&figures.plan);
                }
                report.overview_parts.push(figures);
            }
        }
        report.overview = Some(QueryFigures {
            name: format!("overview poll ({})", backend.name()),
            time: Summary::of(&times),
            plan: poll_plan,
            note: "its statements in 1 repeatable-read transaction".into(),
        });

        eprintln!("naive count ...");
        let naive = measure_text(
            &pool,
            &format!("naive: {}", shortened(&generator.naive)),
            &generator.naive,
            None,
            cfg.naive_runs,
            "the runbooks' way: the whole table",
        )
        .await?;
        report.naive_ratio = report
            .overview
            .as_ref()
            .map(|o| naive.time.median_ms / o.time.median_ms.max(1e-9));
        report.naive = Some(naive);

        if cfg.drill {
            eprintln!("drill-down views ...");
            report.drill = drill_views(backend.reads().as_ref()).await?;
            eprintln!("history past the hour ...");
            report.drill.extend(history_reads(&pool, &generator).await?);
        } else {
            report
                .notes
                .push("drill-down views and history not timed (--no-drill)".into());
        }

        let interval = Duration::from_secs(1);
        let mut scenarios = Vec::new();
        if cfg.alone_watchers > 0 {
            scenarios.push((Mode::Alone, cfg.alone_watchers));
        }
        for &n in &cfg.shared_watchers {
            scenarios.push((Mode::Shared, n));
        }
        // Watchers whose polls take longer than their interval only pile up on the server:
        // their cost is the poll's, times their number.
        let poll_ms = report.overview.as_ref().map_or(0.0, |o| o.time.median_ms);
        if poll_ms > 1e3 * interval.as_secs_f64() {
            report.notes.push(format!(
                "watchers not run: one poll takes {poll_ms:.0} ms, longer than the 1 s interval, so {} lone watchers would ask {:.1} cores of the server and never catch up",
                cfg.alone_watchers,
                cfg.alone_watchers as f64 * poll_ms / 1e3
            ));
            scenarios.clear();
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
                        backend: cfg.backend,
                        schema: generator.schema,
                        profile: generator.profile,
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
