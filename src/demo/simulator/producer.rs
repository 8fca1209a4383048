//! The arrival side: Poisson arrivals per queue at the configured rate (swelling and ebbing
//! slowly), and every half minute or so a burst of import rows. One enqueue round trip per
//! tick whatever the rate.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval};

use super::catalog::{self, QUEUES};
use super::{Plan, Stats, is_stopping, load_factor, poisson};
use crate::backend::native::worker::{self as native_worker, NewJob};
use crate::backend::schedules::timing::Timing;

const TICK: Duration = Duration::from_millis(250);
/// The first burst comes early so that a fresh screen shows one within ten seconds.
const FIRST_BURST: Duration = Duration::from_secs(5);

pub async fn run(
    pool: PgPool,
    plan: Arc<Plan>,
    stats: Arc<Stats>,
    mut rng: StdRng,
    mut shutdown: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut ticker = interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut next_burst = started + FIRST_BURST;
    let mut pending: Vec<NewJob> = Vec::new();
    let mut periodic = Periodic::start(&mut pending);

    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => {}
        }
        if is_stopping(&shutdown) {
            return;
        }
        let now = Instant::now();
        let t = now.duration_since(started).as_secs_f64();
        let factor = load_factor(t, plan.phase);
        for queue in QUEUES {
            let expected = plan.rate * queue.share * factor * TICK.as_secs_f64();
            for _ in 0..poisson(&mut rng, expected) {
                pending.push(catalog::new_job(queue.name, &mut rng));
            }
        }
        periodic.due(chrono::Utc::now(), &mut pending);
        if now >= next_burst {
            pending.extend(burst(&plan, &mut rng));
            next_burst = now + Duration::from_secs_f64(rng.random_range(25.0..35.0));
        }
        if pending.is_empty() {
            continue;
        }
        match native_worker::enqueue_many(&pool, &pending).await {
            Ok(ids) => {
                stats
                    .enqueued
                    .fetch_add(ids.len() as u64, Ordering::Relaxed);
                pending.clear();
            }
            Err(err) => {
                // Keep what was not enqueued (bounded), as an application would retry.
                tracing::warn!("demo enqueue failed: {err:#}");
                pending.truncate(10_000);
            }
        }
    }
}

/// The application's scheduler: each periodic job runs once at start (so a fresh screen
/// shows it) and then on its cron.
struct Periodic {
    next: Vec<Option<chrono::DateTime<chrono::Utc>>>,
}

impl Periodic {
    fn start(pending: &mut Vec<NewJob>) -> Periodic {
        let now = chrono::Utc::now();
        let next = catalog::PERIODIC
            .iter()
            .map(|(name, cron, kind)| {
                pending.push(catalog::periodic_job(name, cron, kind));
                Timing::parse(cron).and_then(|t| t.next_after(now))
            })
            .collect();
        Periodic { next }
    }

    fn due(&mut self, now: chrono::DateTime<chrono::Utc>, pending: &mut Vec<NewJob>) {
        for ((name, cron, kind), next) in catalog::PERIODIC.iter().zip(&mut self.next) {
            if next.is_some_and(|at| at <= now) {
                pending.push(catalog::periodic_job(name, cron, kind));
                *next = Timing::parse(cron).and_then(|t| t.next_after(now));
            }
        }
    }
}

/// A bulk import: one tenant's file arrives as hundreds of row jobs at once, closed by a
/// finalize job scheduled a little later.
fn burst(plan: &Plan, rng: &mut StdRng) -> Vec<NewJob> {
    let tenant = catalog::TENANTS[rng.random_range(0..catalog::TENANTS.len())];
    let batch_id = format!("imp_{:08x}", rng.random::<u32>());
    let rows = plan.burst_size(rng);
    let mut jobs: Vec<NewJob> = (1..=rows)
        .map(|row| catalog::import_row(rng, tenant, &batch_id, row))
        .collect();
    jobs.push(catalog::import_finalize(tenant, &batch_id, rows, 45.0));
    tracing::debug!(rows, tenant, "demo burst");
    jobs
}
