//! `jobtop serve`: what jobtop sees, over HTTP, for Prometheus and for monitors that read a
//! JSON snapshot.
//!
//! One poller per source (the monitor's, `poller::spawn`, through the shared snapshot when
//! other monitors watch the same database) refreshes that source's state at its interval;
//! every request reads the last state (`state`) and never the database, so the number of
//! scrapers costs nothing there. Serve holds each source's read side only (`Reads`, and the
//! overview in front of it): no `Writes`, no gate, so it cannot change a row.
//!
//! `state` folds polls in (alerts, completion counters in `completions`, its own health),
//! `metrics` turns the states into Prometheus families, `http` serves them.

mod completions;
mod http;
mod metrics;
mod state;
mod timed;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::app::Msg;
use crate::app::alerts::Rules;
use crate::app::redact::Redactor;
use crate::backend::drill::{HistoryWindow, KindsQuery};
use crate::backend::{Overview, Reads, SnapshotOptions};
use state::SourceState;
use timed::Timed;

/// A database to watch, opened: its read side and how to poll it.
pub struct Source {
    /// The `source` label: `@name`, or `host/db`.
    pub label: String,
    pub target: String,
    pub reads: Arc<dyn Reads>,
    /// What the poller reads: the shared snapshot, or `reads` itself.
    pub overview: Arc<dyn Overview>,
    pub rules: Rules,
    /// Masks secrets in what `/snapshot` exports (the config's `redact`).
    pub redact: Redactor,
    pub stale_after: Duration,
    pub interval: Duration,
    pub poll_timeout: Duration,
    pub snapshot: SnapshotOptions,
    /// Where the poller probes while the database is away (`poller::spawn`).
    pub probe: Option<sqlx::postgres::PgConnectOptions>,
}

pub struct ServeOptions {
    pub listen: SocketAddr,
    /// How often each kind's run and wait times are read (`None`: never).
    pub kinds_every: Option<Duration>,
}

/// Finished jobs read at most for the per-kind times, as the kinds view reads them.
const KINDS_LIMIT: i64 = 100_000;

/// Serves until SIGTERM or Ctrl-C, then stops taking connections, lets the requests under
/// way finish, and returns.
pub async fn run(sources: Vec<Source>, opts: ServeOptions) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let mut shared = Vec::new();
    // The pollers stop when their handles are dropped: kept for as long as serve runs.
    let mut pollers = Vec::new();
    for source in sources {
        let mut state = SourceState::new(
            source.label.clone(),
            source.target.clone(),
            source.reads.name(),
            source.reads.capabilities(),
            source.rules.clone(),
            source.stale_after.as_secs_f64(),
        );
        state.redact = source.redact.clone();
        let state = Arc::new(RwLock::new(state));
        pollers.push(spawn_poller(&source, state.clone()));
        if let Some(every) = opts.kinds_every {
            spawn_kinds(&source, state.clone(), every);
        }
        shared.push(state);
    }
    let labels: Vec<String> = shared
        .iter()
        .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).label.clone())
        .collect();
    tracing::info!(listen = %opts.listen, sources = ?labels, "serve: listening");
    eprintln!(
        "jobtop serve: http://{}/metrics for {}",
        listener.local_addr().unwrap_or(opts.listen),
        labels.join(", ")
    );
    axum::serve(listener, http::router(shared))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    drop(pollers);
    tracing::info!("serve: stopped");
    Ok(())
}

fn spawn_poller(source: &Source, state: Arc<RwLock<SourceState>>) -> crate::poller::PollerHandle {
    let timed = Arc::new(Timed::new(source.overview.clone()));
    let (handle, mut polls) = crate::poller::spawn(
        timed.clone(),
        source.snapshot,
        source.interval,
        source.poll_timeout,
        source.probe.clone(),
    );
    tokio::spawn(async move {
        while let Some(msg) = polls.next().await {
            let mut s = state.write().unwrap_or_else(|e| e.into_inner());
            match msg {
                Msg::Polled { result, at } => {
                    s.last_poll_seconds = timed.last().map(|d| d.as_secs_f64());
                    s.polled(result, at);
                }
                Msg::Source(role) => s.role = role,
                _ => {}
            }
        }
    });
    handle
}

/// Each kind's run and wait times, on a slower clock than the overview: one read of the
/// finished jobs of the last hour (bounded as the kinds view's), never per scrape.
fn spawn_kinds(source: &Source, state: Arc<RwLock<SourceState>>, every: Duration) {
    if !source.reads.capabilities().throughput.yes() {
        return;
    }
    let reads = source.reads.clone();
    let timeout = source.poll_timeout;
    let label = source.label.clone();
    tokio::spawn(async move {
        let query = KindsQuery {
            window: HistoryWindow::Hour,
            limit: KINDS_LIMIT,
        };
        // A schema that cannot give kinds says so on every read: said once in the log.
        let mut warned = false;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match tokio::time::timeout(timeout, reads.kinds(&query)).await {
                Ok(Ok(report)) => {
                    state.write().unwrap_or_else(|e| e.into_inner()).kinds = Some(report);
                }
                Ok(Err(err)) if !warned => {
                    warned = true;
                    tracing::warn!(%label, "serve: kinds read failed: {err:#}");
                }
                Ok(Err(err)) => tracing::debug!(%label, "serve: kinds read failed: {err:#}"),
                Err(_) => tracing::warn!(%label, "serve: kinds read timed out"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("serve: shutting down");
}
