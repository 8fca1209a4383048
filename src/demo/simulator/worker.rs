//! A simulated worker process: registers, claims what it has room for, runs each job for
//! its catalog run time, completes or fails it, and heartbeats — only through the schema's
//! SQL functions, as a worker in any language would.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};

use super::catalog;
use super::{Stats, is_stopping};
use crate::backend::native::worker as native_worker;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How long an idle worker waits before asking for work again.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How long in-flight jobs get to finish when the simulator stops.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub id: String,
    pub hostname: String,
    pub pid: i32,
    pub queues: Vec<String>,
    pub concurrency: usize,
    pub version: &'static str,
    /// Simulates the process being killed this long after it started: it stops without
    /// finishing what it holds and never heartbeats again.
    pub crash_after: Option<Duration>,
}

pub async fn run(
    pool: PgPool,
    spec: WorkerSpec,
    mailer_secs: f64,
    stats: Arc<Stats>,
    mut rng: StdRng,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Err(err) = native_worker::register_worker(
        &pool,
        &spec.id,
        &spec.hostname,
        spec.pid,
        &spec.queues,
        Some(spec.version),
    )
    .await
    {
        tracing::warn!(worker = %spec.id, "demo worker cannot register: {err:#}");
        tokio::select! {
            _ = sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }

    let started = Instant::now();
    let crash_at = spec.crash_after.map(|after| started + after);
    let mut inflight: JoinSet<()> = JoinSet::new();
    let mut next_claim = Instant::now();
    let mut next_heartbeat = Instant::now() + HEARTBEAT_EVERY;

    loop {
        if is_stopping(&shutdown) {
            break;
        }
        let now = Instant::now();
        if crash_at.is_some_and(|at| now >= at) {
            // Die holding work: make sure there is some, then walk away from it.
            let _ = native_worker::claim(&pool, &spec.id, &spec.queues, 2).await;
            inflight.abort_all();
            tracing::info!(worker = %spec.id, "demo worker crashed on purpose");
            return;
        }
        if now >= next_heartbeat {
            if let Err(err) = native_worker::heartbeat(&pool, &spec.id).await {
                tracing::warn!(worker = %spec.id, "demo heartbeat failed: {err:#}");
            }
            next_heartbeat = now + HEARTBEAT_EVERY;
        }
        let free = spec.concurrency.saturating_sub(inflight.len());
        if free > 0 && now >= next_claim {
            match native_worker::claim(&pool, &spec.id, &spec.queues, free as i32).await {
                Ok(jobs) => {
                    // A short claim means the queues ran dry: wait before asking again.
                    if jobs.len() < free {
                        next_claim = now + jitter(&mut rng, IDLE_POLL);
                    }
                    for job in jobs {
                        let outcome = catalog::perform(&job, &mut rng, mailer_secs);
                        inflight.spawn(execute(
                            pool.clone(),
                            spec.id.clone(),
                            job,
                            outcome,
                            stats.clone(),
                        ));
                    }
                }
                Err(err) => {
                    tracing::warn!(worker = %spec.id, "demo claim failed: {err:#}");
                    next_claim = now + Duration::from_secs(2);
                }
            }
        }

        let mut wake = next_heartbeat;
        if inflight.len() < spec.concurrency {
            wake = wake.min(next_claim.max(Instant::now()));
        }
        if let Some(at) = crash_at {
            wake = wake.min(at);
        }
        tokio::select! {
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            _ = sleep_until(wake) => {}
            _ = shutdown.changed() => {}
        }
    }

    // Let short jobs finish so a stopped simulator leaves little running behind.
    let _ = tokio::time::timeout(DRAIN, async {
        while inflight.join_next().await.is_some() {}
    })
    .await;
    inflight.abort_all();
}

async fn execute(
    pool: PgPool,
    worker: String,
    job: native_worker::ClaimedJob,
    outcome: catalog::Outcome,
    stats: Arc<Stats>,
) {
    sleep(outcome.run_time).await;
    let result = match &outcome.failure {
        None => native_worker::complete(&pool, job.id, &worker)
            .await
            .map(|held| {
                if held {
                    stats.succeeded.fetch_add(1, Ordering::Relaxed);
                }
            }),
        Some(failure) => {
            native_worker::fail(&pool, job.id, &worker, &failure.error, failure.retry_in)
                .await
                .map(|state| {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    if state.as_deref() == Some("dead") {
                        stats.dead.fetch_add(1, Ordering::Relaxed);
                    }
                })
        }
    };
    if let Err(err) = result {
        tracing::warn!(worker = %worker, job = job.id, "demo job result not recorded: {err:#}");
    }
}

/// `base` spread by ±20%, so that workers do not poll in lockstep.
fn jitter(rng: &mut StdRng, base: Duration) -> Duration {
    base.mul_f64(rng.random_range(0.8..1.2))
}
