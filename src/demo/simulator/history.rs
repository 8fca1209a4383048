//! The hour before the demo started, written at once so that the sparklines of completions
//! per minute are full on the first frame. Jobs go through the same catalog as live ones and
//! end as the schema's functions would have left them (attempts, errors, failed_at).

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngExt;
use rand::rngs::StdRng;
use sqlx::PgPool;

use super::catalog::{self, MAILERS_CAPACITY, QUEUES};
use super::{Plan, load_factor, poisson};
use crate::backend::native::worker::{self as native_worker, ClaimedJob, PastJob};

/// Rows per INSERT: big enough to be quick, small enough to keep statements modest.
const CHUNK: usize = 2_000;

/// How far back the history goes.
const WINDOW_MINUTES: i64 = 60;

/// Writes the hour of history; returns how many jobs it wrote.
pub async fn backfill(pool: &PgPool, plan: &Plan, rng: &mut StdRng) -> Result<usize> {
    let now = native_worker::database_now(pool).await?;
    let mut batch = Vec::with_capacity(CHUNK);
    let mut written = 0;
    for minute in (1..=WINDOW_MINUTES).rev() {
        let minute_start = now - TimeDelta::minutes(minute);
        let factor = load_factor(-(minute as f64) * 60.0 + 30.0, plan.phase);
        for queue in QUEUES {
            let mut per_minute = plan.rate * queue.share * 60.0 * factor;
            if queue.name == "mailers" {
                per_minute *= MAILERS_CAPACITY;
            }
            let count = poisson(rng, per_minute);
            for _ in 0..count {
                let offset = rng.random_range(0.0..60.0);
                let finished = minute_start + secs(offset);
                batch.push(past_job(queue.name, finished, now, plan, rng));
            }
        }
        // Imports come in bursts; about every other minute saw one.
        if rng.random_bool(0.45) {
            let tenant = *catalog::TENANTS
                .get(rng.random_range(0..catalog::TENANTS.len()))
                .unwrap_or(&"acme");
            let batch_id = format!("imp_{:08x}", rng.random::<u32>());
            let start = rng.random_range(0.0..40.0);
            for row in 1..=plan.burst_size(rng) {
                let new = catalog::import_row(rng, tenant, &batch_id, row);
                let finished = minute_start + secs(start + f64::from(row) * 0.02);
                batch.push(finish(new, finished, now, plan, rng));
            }
        }
        if batch.len() >= CHUNK {
            written += batch.len();
            native_worker::insert_past_jobs(pool, &batch).await?;
            batch.clear();
        }
    }
    written += batch.len();
    native_worker::insert_past_jobs(pool, &batch).await?;
    native_worker::analyze_jobs(pool).await?;
    Ok(written)
}

fn secs(s: f64) -> TimeDelta {
    TimeDelta::milliseconds((s * 1000.0) as i64)
}

fn past_job(
    queue: &str,
    finished: DateTime<Utc>,
    now: DateTime<Utc>,
    plan: &Plan,
    rng: &mut StdRng,
) -> PastJob {
    let new = catalog::new_job(queue, rng);
    finish(new, finished, now, plan, rng)
}

/// Plays a job's attempts backwards from the moment it finished.
fn finish(
    new: native_worker::NewJob,
    finished: DateTime<Utc>,
    now: DateTime<Utc>,
    plan: &Plan,
    rng: &mut StdRng,
) -> PastJob {
    let finished = finished.min(now - TimeDelta::seconds(1));
    let worker = plan.general_workers[rng.random_range(0..plan.general_workers.len())].clone();
    let worker = if new.queue == "mailers" {
        plan.mailer_worker.clone()
    } else {
        worker
    };
    if new.queue == "billing" && rng.random_bool(0.004) {
        return PastJob {
            queue: new.queue,
            kind: new.kind,
            tenant_id: new.tenant_id,
            payload: new.payload,
            state: "cancelled",
            attempts: 0,
            max_attempts: new.max_attempts,
            created_at: finished - secs(rng.random_range(30.0..600.0)),
            started_at: None,
            finished_at: finished,
            errors: Vec::new(),
        };
    }

    // Forward: which attempts fail, and how long each runs.
    let mut attempts: Vec<(Duration, Option<catalog::Failure>)> = Vec::new();
    for attempt in 1..=new.max_attempts {
        let claimed = ClaimedJob {
            id: 0,
            queue: new.queue.clone(),
            kind: new.kind.clone(),
            tenant_id: new.tenant_id.clone(),
            payload: new.payload.clone(),
            attempts: attempt,
            max_attempts: new.max_attempts,
        };
        let outcome = catalog::perform(&claimed, rng, plan.mailer_secs);
        let failed = outcome.failure.is_some();
        attempts.push((outcome.run_time, outcome.failure));
        if !failed {
            break;
        }
    }
    let succeeded = attempts.last().is_some_and(|(_, f)| f.is_none());

    // Backward: the last attempt ends at `finished`; each earlier one ends its backoff
    // before the next starts.
    let mut errors = Vec::new();
    let mut end = finished;
    let mut first_start = finished;
    let mut last_start = finished;
    for (i, (run, failure)) in attempts.iter().enumerate().rev() {
        let start = end - secs(run.as_secs_f64());
        if let Some(failure) = failure {
            errors.push((end, worker.clone(), failure.error.clone()));
        }
        if i + 1 == attempts.len() {
            last_start = start;
        }
        first_start = start;
        if i > 0 {
            end = start - secs(backoff_after(&attempts[i - 1], i));
        }
    }
    errors.reverse();
    let wait = if new.queue == "mailers" {
        rng.random_range(5.0..120.0)
    } else {
        rng.random_range(0.05..2.0)
    };
    PastJob {
        queue: new.queue,
        kind: new.kind,
        tenant_id: new.tenant_id,
        payload: new.payload,
        state: if succeeded { "succeeded" } else { "dead" },
        attempts: attempts.len() as i32,
        max_attempts: new.max_attempts,
        created_at: first_start - secs(wait),
        started_at: Some(last_start),
        finished_at: finished,
        errors,
    }
}

/// The delay after attempt number `attempt` (1-based) failed: its own retry_in, or the
/// schema's default of 2^attempts seconds.
fn backoff_after(failed: &(Duration, Option<catalog::Failure>), attempt: usize) -> f64 {
    failed
        .1
        .as_ref()
        .and_then(|f| f.retry_in)
        .map(|d| d.as_secs_f64())
        .unwrap_or_else(|| 2f64.powi(attempt as i32))
}
