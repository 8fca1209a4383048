//! A workload simulator that runs inside the process against a database holding the
//! reference schema, using only the worker-facing SQL functions (plus a direct write for
//! the hour of history). Within seconds it shows: a steady `default` queue; `mailers`
//! backing up behind a single worker; `webhooks` deliveries failing about a third of the
//! time and ending dead; a worker that died holding jobs; scheduled renewals and reports;
//! bursts of import rows; and an hour of completions behind every sparkline.
//!
//! Every choice comes from a seeded RNG: the same seed makes the same jobs, payloads,
//! failures and worker names (timing still depends on the machine).

mod catalog;
mod history;
mod producer;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::backend::native::worker as native_worker;
use catalog::{GENERAL_QUEUES, MAILERS_CAPACITY, QUEUES};
use worker::WorkerSpec;

#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Jobs enqueued per second, all queues together (bursts come on top).
    pub rate: f64,
    /// Simulated worker processes: one serves `mailers`, the rest share the other queues.
    /// At least 2. (Two more appear on their own: the ones that die.)
    pub workers: usize,
    pub seed: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            rate: 20.0,
            workers: 8,
            seed: 42,
        }
    }
}

/// Running totals, for a `--no-ui` run to report.
#[derive(Debug, Default)]
pub struct Stats {
    pub enqueued: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub dead: AtomicU64,
    pub history: AtomicU64,
}

impl Stats {
    pub fn summary(&self) -> String {
        format!(
            "enqueued {}, succeeded {}, failed attempts {}, dead {} (+{} jobs of history)",
            self.enqueued.load(Ordering::Relaxed),
            self.succeeded.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.dead.load(Ordering::Relaxed),
            self.history.load(Ordering::Relaxed),
        )
    }
}

/// Everything derived from the config before anything runs.
#[derive(Debug)]
struct Plan {
    rate: f64,
    /// Where in its slow swell the load starts, so seeds differ in shape too.
    phase: f64,
    /// Mean seconds the lone mailers worker needs per job: slower than jobs arrive.
    mailer_secs: f64,
    mailer_worker: String,
    general_workers: Vec<String>,
}

impl Plan {
    fn burst_size(&self, rng: &mut StdRng) -> u32 {
        let base = (self.rate * 10.0).clamp(40.0, 500.0);
        (base * rng.random_range(0.6..1.4)) as u32
    }
}

/// Runs until `shutdown` turns true (or its sender is dropped). Fails only when the
/// database cannot be set up at all (no schema, say); later errors are logged and retried.
pub async fn run(
    pool: PgPool,
    cfg: SimulatorConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    run_with_stats(pool, cfg, shutdown, Arc::new(Stats::default())).await
}

pub async fn run_with_stats(
    pool: PgPool,
    cfg: SimulatorConfig,
    mut shutdown: watch::Receiver<bool>,
    stats: Arc<Stats>,
) -> Result<()> {
    if !(cfg.rate.is_finite() && cfg.rate > 0.0 && cfg.rate <= 10_000.0) {
        bail!("--rate must be between 0 and 10000 jobs per second");
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let general = cfg.workers.max(2) - 1;
    let mailer_rate = cfg.rate * share("mailers");
    let plan = Arc::new(Plan {
        rate: cfg.rate,
        phase: rng.random_range(0.0..std::f64::consts::TAU),
        mailer_secs: 1.0 / (MAILERS_CAPACITY * mailer_rate),
        mailer_worker: catalog::pod_name(&mut rng, "mailer"),
        general_workers: (0..general)
            .map(|_| catalog::pod_name(&mut rng, "worker"))
            .collect(),
    });

    let mut specs = vec![WorkerSpec {
        id: plan.mailer_worker.clone(),
        hostname: catalog::host_name(&mut rng),
        pid: rng.random_range(1..40),
        queues: vec!["mailers".to_string()],
        concurrency: 1,
        version: "2.4.1",
        crash_after: None,
    }];
    // Three times the mean load in slots: healthy queues stay near empty between bursts.
    let concurrency = ((1.2 * cfg.rate) / general as f64).ceil().max(2.0) as usize;
    for (i, id) in plan.general_workers.iter().enumerate() {
        let mut queues: Vec<String> = GENERAL_QUEUES.iter().map(|q| q.to_string()).collect();
        let turn = i % queues.len();
        queues.rotate_left(turn);
        specs.push(WorkerSpec {
            id: id.clone(),
            hostname: catalog::host_name(&mut rng),
            pid: rng.random_range(1..40),
            queues,
            concurrency,
            version: "2.4.1",
            crash_after: None,
        });
    }
    // Dies a little while in, so the monitor shows a heartbeat going stale live.
    specs.push(WorkerSpec {
        id: catalog::pod_name(&mut rng, "media"),
        hostname: catalog::host_name(&mut rng),
        pid: rng.random_range(1..40),
        queues: vec!["media".to_string(), "default".to_string()],
        concurrency: 2,
        version: "2.4.1",
        crash_after: Some(Duration::from_secs(40)),
    });

    setup(&pool, &plan, &mut rng)
        .await
        .context("cannot set up the demo workload (is the jobtop schema migrated?)")?;

    let mut tasks = JoinSet::new();
    {
        let (pool, plan, stats) = (pool.clone(), plan.clone(), stats.clone());
        let mut rng = stream(cfg.seed, 1);
        tasks.spawn(async move {
            match history::backfill(&pool, &plan, &mut rng).await {
                Ok(n) => {
                    stats.history.store(n as u64, Ordering::Relaxed);
                    tracing::info!(jobs = n, "demo history written");
                }
                Err(err) => tracing::warn!("demo history not written: {err:#}"),
            }
        });
    }
    tasks.spawn(producer::run(
        pool.clone(),
        plan.clone(),
        stats.clone(),
        stream(cfg.seed, 2),
        shutdown.clone(),
    ));
    for (i, spec) in specs.into_iter().enumerate() {
        tasks.spawn(worker::run(
            pool.clone(),
            spec,
            plan.mailer_secs,
            stats.clone(),
            stream(cfg.seed, 100 + i as u64),
            shutdown.clone(),
        ));
    }

    while !is_stopping(&shutdown) {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// What is on screen from the first frame: a worker that died minutes ago holding three
/// transcodes, a mailers backlog ten minutes deep, and jobs scheduled for later; and within
/// seconds: events for a partner whose endpoint just went down, dying one after another.
async fn setup(pool: &PgPool, plan: &Plan, rng: &mut StdRng) -> Result<()> {
    let ghost = catalog::pod_name(rng, "media");
    let transcodes: Vec<_> = (0..3)
        .map(|_| {
            let mut job = catalog::transcode_job(rng);
            job.delay_secs = -600.0;
            job
        })
        .collect();
    native_worker::enqueue_many(pool, &transcodes).await?;
    let queues = vec!["media".to_string()];
    native_worker::register_worker(
        pool,
        &ghost,
        &catalog::host_name(rng),
        1,
        &queues,
        Some("2.3.9"),
    )
    .await?;
    native_worker::claim(pool, &ghost, &queues, 3).await?;
    native_worker::backdate_worker(pool, &ghost, Duration::from_secs(270)).await?;

    // The part of ten minutes of mail the lone worker did not get to.
    let backlog =
        ((1.0 - MAILERS_CAPACITY) * plan.rate * share("mailers") * 600.0).min(20_000.0) as usize;
    let mut jobs: Vec<_> = (0..backlog)
        .map(|_| {
            let mut job = catalog::new_job("mailers", rng);
            job.delay_secs = -rng.random_range(0.0..600.0);
            job
        })
        .collect();
    jobs.extend(catalog::scheduled_jobs(rng, 40));
    jobs.extend((0..8).map(|_| catalog::doomed_webhook(rng)));
    for chunk in jobs.chunks(2_000) {
        native_worker::enqueue_many(pool, chunk).await?;
    }
    Ok(())
}

fn share(queue: &str) -> f64 {
    QUEUES
        .iter()
        .find(|q| q.name == queue)
        .map(|q| q.share)
        .unwrap_or(0.0)
}

/// An independent, reproducible random stream per task.
fn stream(seed: u64, n: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// True once shutdown was asked for, or its sender is gone.
fn is_stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// The load's slow swell over time `t` (seconds from the start; negative in the history):
/// ±25% over a quarter hour, with a faster ripple on top.
fn load_factor(t: f64, phase: f64) -> f64 {
    use std::f64::consts::TAU;
    1.0 + 0.25 * (TAU * t / 900.0 + phase).sin() + 0.1 * (TAU * t / 173.0 + 2.0 * phase).sin()
}

/// A Poisson draw with mean `mean` (normal approximation above 30).
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        // Box-Muller.
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        return (mean + z * mean.sqrt()).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_is_right() {
        let mut rng = StdRng::seed_from_u64(9);
        for mean in [0.5, 5.0, 80.0] {
            let n = 20_000;
            let total: u64 = (0..n).map(|_| u64::from(poisson(&mut rng, mean))).sum();
            let got = total as f64 / n as f64;
            assert!(
                (got - mean).abs() < mean * 0.05 + 0.02,
                "mean {mean}: got {got}"
            );
        }
    }

    #[test]
    fn load_swells_within_bounds() {
        let factors: Vec<f64> = (0..3600).map(|t| load_factor(t as f64, 1.0)).collect();
        let min = factors.iter().cloned().fold(f64::MAX, f64::min);
        let max = factors.iter().cloned().fold(f64::MIN, f64::max);
        assert!(min > 0.6 && max < 1.4, "{min}..{max}");
        assert!(
            max - min > 0.4,
            "the load should visibly swell: {min}..{max}"
        );
    }
}
