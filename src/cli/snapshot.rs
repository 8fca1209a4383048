//! `jobtop snapshot [URL] --json`: one snapshot for scripts, in the stable schema of
//! `docs/snapshot-schema.md` (`assets/snapshot.schema.json`). Fields are added, never renamed
//! or removed, within a `schema_version`.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::oneshot::{self, AlertDoc, Failure, OneShot};
use super::{GlobalArgs, SnapshotArgs, output};
use crate::app::alerts::AlertState;
use crate::app::sort::RATE_WINDOW_MINUTES;
use crate::backend::{Count, QueueStats, WorkerInfo};
use crate::ui::text::sanitize;
use std::fmt::Write;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SnapshotDoc {
    pub schema_version: u32,
    /// The database's clock when the snapshot was taken; every age is measured from it.
    pub taken_at: DateTime<Utc>,
    pub target: String,
    pub backend: String,
    pub count_cap: i64,
    pub totals: Totals,
    pub queues: Vec<QueueDoc>,
    /// `null` when the backend has no worker table.
    pub workers: Option<Vec<WorkerDoc>>,
    /// `null` unless a tenant heartbeat budget is switched on.
    pub running_by_tenant: Option<Vec<TenantDoc>>,
    /// Firing alerts, critical first.
    pub alerts: Vec<AlertDoc>,
    pub not_evaluated: Vec<NoteDoc>,
    /// The database's schedules (pg_cron jobs with their recent runs, pg_net's last hour)
    /// and the sources looked for but absent; see `docs/snapshot-schema.md`.
    pub schedules: Option<Box<crate::backend::schedules::Schedules>>,
}

/// Sums over every queue, with the names of the CE Pro runbook's health snapshot.
#[derive(Debug, Serialize)]
pub struct Totals {
    pub ready: i64,
    pub scheduled: i64,
    pub running: i64,
    pub retrying: i64,
    pub dead: i64,
    /// ready + scheduled: jobs waiting that are not retries.
    pub pending: i64,
    /// = running.
    pub processing: i64,
    /// = dead.
    pub dead_letter: i64,
    /// Some count stopped at `count_cap`: the sums are lower bounds.
    pub capped: bool,
    /// Some count is a planner estimate (a pile past the pile cap): the sums are too.
    pub estimated: bool,
    pub paused_queues: usize,
    pub oldest_ready_at: Option<DateTime<Utc>>,
    pub oldest_ready_age_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct QueueDoc {
    pub name: String,
    pub paused: bool,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_by: Option<String>,
    pub pause_reason: Option<String>,
    pub ready: i64,
    pub scheduled: i64,
    pub running: i64,
    pub retrying: i64,
    pub dead: i64,
    pub pending: i64,
    pub processing: i64,
    pub dead_letter: i64,
    /// Which of the counts stopped at their cap (each is then "at least"), `dead_last_hour`
    /// included.
    pub capped: Vec<&'static str>,
    /// Which of the counts are planner estimates, not counts.
    pub estimated: Vec<&'static str>,
    pub oldest_ready_at: Option<DateTime<Utc>>,
    pub oldest_ready_age_seconds: Option<f64>,
    pub oldest_running_started_at: Option<DateTime<Utc>>,
    pub longest_running_seconds: Option<f64>,
    pub dead_last_hour: Option<i64>,
    /// `null` when the backend has no completion history.
    pub throughput: Option<Throughput>,
    /// `null` when the backend gives no per-kind figures.
    pub kinds: Option<Vec<KindDoc>>,
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub window_minutes: usize,
    /// Over the last `rate_minutes` minutes (the current one included).
    pub rate_minutes: usize,
    pub succeeded_per_minute: f64,
    pub failed_per_minute: f64,
    pub succeeded: u64,
    /// Failed attempts (retried or dead).
    pub failed: u64,
    /// failed / (succeeded + failed) over the window; `null` when nothing ended.
    pub failure_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct KindDoc {
    pub kind: String,
    pub succeeded: u64,
    pub failed: u64,
    pub failure_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct WorkerDoc {
    pub id: String,
    pub host: Option<String>,
    pub pid: Option<i32>,
    pub queues: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub heartbeat_age_seconds: Option<f64>,
    pub running_jobs: i64,
    /// No heartbeat for longer than the config's `stale_after`.
    pub stale: bool,
}

#[derive(Debug, Serialize)]
pub struct TenantDoc {
    pub tenant: Option<String>,
    pub running: i64,
}

#[derive(Debug, Serialize)]
pub struct NoteDoc {
    pub rule: &'static str,
    pub reason: &'static str,
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

pub fn document(shot: &OneShot) -> SnapshotDoc {
    let snap = &shot.snapshot;
    let now = snap.db_now;
    let failures = shot.capabilities.failures.yes();
    let queues: Vec<QueueDoc> = snap
        .queues
        .iter()
        .map(|q| queue_doc(q, now, failures))
        .collect();
    let sum = |f: fn(&QueueDoc) -> i64| queues.iter().map(f).sum::<i64>();
    let oldest_ready_at = snap.queues.iter().filter_map(|q| q.oldest_ready_at).min();
    let totals = Totals {
        ready: sum(|q| q.ready),
        scheduled: sum(|q| q.scheduled),
        running: sum(|q| q.running),
        retrying: sum(|q| q.retrying),
        dead: sum(|q| q.dead),
        pending: sum(|q| q.pending),
        processing: sum(|q| q.processing),
        dead_letter: sum(|q| q.dead_letter),
        capped: queues.iter().any(|q| !q.capped.is_empty()),
        estimated: queues.iter().any(|q| !q.estimated.is_empty()),
        paused_queues: queues.iter().filter(|q| q.paused).count(),
        oldest_ready_at,
        oldest_ready_age_seconds: oldest_ready_at.map(|at| secs(now - at).max(0.0)),
    };
    let workers = shot.capabilities.workers.yes().then(|| {
        snap.workers
            .iter()
            .map(|w| worker_doc(w, now, shot.stale_after, shot.capabilities.heartbeats.yes()))
            .collect()
    });
    SnapshotDoc {
        schema_version: SCHEMA_VERSION,
        taken_at: now,
        target: shot.target.clone(),
        backend: shot.backend.clone(),
        count_cap: snap.count_cap,
        totals,
        queues,
        workers,
        running_by_tenant: snap.running_by_tenant.as_ref().map(|ts| {
            ts.iter()
                .map(|t| TenantDoc {
                    tenant: t.tenant.clone(),
                    running: t.running,
                })
                .collect()
        }),
        alerts: shot
            .alerts(Some(AlertState::Firing))
            .into_iter()
            .map(AlertDoc::from)
            .collect(),
        not_evaluated: shot
            .not_evaluated
            .iter()
            .map(|(rule, reason)| NoteDoc {
                rule: rule.as_str(),
                reason,
            })
            .collect(),
        schedules: shot.snapshot.schedules.clone(),
    }
}

/// `failures`: the schema keeps failures; where not, no failure rate is claimed.
fn queue_doc(q: &QueueStats, now: DateTime<Utc>, failures: bool) -> QueueDoc {
    let counts: [(&'static str, Count); 5] = [
        ("ready", q.ready),
        ("scheduled", q.scheduled),
        ("running", q.running),
        ("retrying", q.retrying),
        ("dead", q.dead),
    ];
    let throughput = (!q.minutes.is_empty()).then(|| {
        let (ok_rate, failed_rate) = q.per_minute(RATE_WINDOW_MINUTES);
        let (succeeded, failed) = q.window_totals();
        Throughput {
            window_minutes: q.minutes.len(),
            rate_minutes: RATE_WINDOW_MINUTES,
            succeeded_per_minute: ok_rate,
            failed_per_minute: failed_rate,
            succeeded,
            failed,
            failure_rate: q.failure_rate().filter(|_| failures),
        }
    });
    QueueDoc {
        name: q.name.clone(),
        paused: q.paused.is_some(),
        paused_at: q.paused.as_ref().map(|p| p.at),
        paused_by: q.paused.as_ref().and_then(|p| p.by.clone()),
        pause_reason: q.paused.as_ref().and_then(|p| p.reason.clone()),
        ready: q.ready.value,
        scheduled: q.scheduled.value,
        running: q.running.value,
        retrying: q.retrying.value,
        dead: q.dead.value,
        pending: q.ready.value + q.scheduled.value,
        processing: q.running.value,
        dead_letter: q.dead.value,
        capped: counts
            .iter()
            .filter(|(_, c)| c.capped)
            .map(|(name, _)| *name)
            .chain(
                q.dead_last_hour
                    .filter(|c| c.capped)
                    .map(|_| "dead_last_hour"),
            )
            .collect(),
        estimated: counts
            .iter()
            .filter(|(_, c)| c.estimated)
            .map(|(name, _)| *name)
            .collect(),
        oldest_ready_at: q.oldest_ready_at,
        oldest_ready_age_seconds: q.oldest_ready_age(now).map(secs),
        oldest_running_started_at: q.oldest_running_started_at,
        longest_running_seconds: q.longest_running(now).map(secs),
        dead_last_hour: q.dead_last_hour.map(|c| c.value),
        throughput,
        kinds: q.kinds.as_ref().map(|ks| {
            ks.iter()
                .map(|k| KindDoc {
                    kind: k.kind.clone(),
                    succeeded: k.succeeded,
                    failed: k.failed,
                    failure_rate: k.failure_rate().filter(|_| failures),
                })
                .collect()
        }),
    }
}

/// `heartbeats`: whether the backend keeps them; without, no worker is called stale.
fn worker_doc(w: &WorkerInfo, now: DateTime<Utc>, stale_after: f64, heartbeats: bool) -> WorkerDoc {
    let age = w.heartbeat_age(now).map(secs);
    WorkerDoc {
        id: w.id.clone(),
        host: w.host.clone(),
        pid: w.pid,
        queues: w.queues.clone(),
        started_at: w.started_at,
        last_heartbeat_at: w.last_heartbeat_at,
        heartbeat_age_seconds: age,
        running_jobs: w.running_jobs,
        stale: heartbeats && age.is_none_or(|a| a > stale_after),
    }
}

pub async fn run(args: &SnapshotArgs, global: &GlobalArgs) -> Result<()> {
    let mut shots = match oneshot::take_all(&args.urls, global, args.timeout).await {
        Ok(shots) => shots,
        Err(Failure::Config(m)) | Err(Failure::Database(m)) => bail!(m),
    };
    if shots.len() > 1 {
        return several(&shots, args.json);
    }
    let shot = match shots.remove(0).1 {
        Ok(shot) => shot,
        Err(Failure::Config(m)) | Err(Failure::Database(m)) => bail!(m),
    };
    let doc = document(&shot);
    let text = if args.json {
        serde_json::to_string_pretty(&doc)? + "\n"
    } else {
        text(&doc)
    };
    output::print(&text)?;
    Ok(())
}

/// One source of several (`{"sources": [...]}`): its label, and today's document
/// flattened beside it, or the error that kept it from being read.
#[derive(Debug, Serialize)]
pub struct SourceDoc {
    pub source: String,
    /// Why this source could not be read; its snapshot fields are then absent.
    pub error: Option<String>,
    #[serde(flatten)]
    pub snapshot: Option<SnapshotDoc>,
}

/// Several sources: every one of them, read at the same time; one that fails is listed
/// with its error and the others still answer. Fails (exit 1) only when none could be read.
fn several(shots: &[(String, Result<OneShot, Failure>)], json: bool) -> Result<()> {
    let docs: Vec<SourceDoc> = shots
        .iter()
        .map(|(label, shot)| match shot {
            Ok(shot) => SourceDoc {
                source: label.clone(),
                error: None,
                snapshot: Some(document(shot)),
            },
            Err(failure) => SourceDoc {
                source: label.clone(),
                error: Some(failure.to_string()),
                snapshot: None,
            },
        })
        .collect();
    let text = if json {
        let doc = serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "sources": docs,
        });
        serde_json::to_string_pretty(&doc)? + "\n"
    } else {
        let mut out = String::new();
        for d in &docs {
            let _ = writeln!(out, "== {} ==", sanitize(&d.source, 100));
            match (&d.snapshot, &d.error) {
                (Some(doc), _) => out.push_str(&text(doc)),
                (None, Some(err)) => {
                    let _ = writeln!(out, "cannot read: {}", sanitize(err, 2_000));
                }
                (None, None) => {}
            }
        }
        out
    };
    output::print(&text)?;
    if docs.iter().all(|d| d.error.is_some()) {
        bail!("no source could be read");
    }
    Ok(())
}

fn text(doc: &SnapshotDoc) -> String {
    let mut out = String::new();
    let clean = |s: &str| sanitize(s, 60).into_owned();
    let _ = writeln!(
        out,
        "{} ({}) at {}",
        clean(&doc.target),
        doc.backend,
        doc.taken_at.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let _ = writeln!(
        out,
        "{:<24} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9} {:>6}",
        "QUEUE", "READY", "SCHED", "RUN", "RETRY", "DEAD", "OLDEST", "FAIL%"
    );
    for q in &doc.queues {
        let cap = |name: &str, v: i64| {
            if q.capped.contains(&name) {
                format!("{v}+")
            } else {
                v.to_string()
            }
        };
        let oldest = q
            .oldest_ready_age_seconds
            .map_or("-".to_string(), crate::app::alerts::format::age);
        let rate = q
            .throughput
            .as_ref()
            .and_then(|t| t.failure_rate)
            .map_or("-".to_string(), |r| format!("{:.1}", r * 100.0));
        let _ = writeln!(
            out,
            "{:<24} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9} {:>6}{}",
            clean(&q.name),
            cap("ready", q.ready),
            cap("scheduled", q.scheduled),
            cap("running", q.running),
            cap("retrying", q.retrying),
            cap("dead", q.dead),
            oldest,
            rate,
            if q.paused { "  paused" } else { "" }
        );
    }
    if let Some(workers) = &doc.workers {
        let stale = workers.iter().filter(|w| w.stale).count();
        let _ = writeln!(out, "workers: {} ({stale} stale)", workers.len());
    }
    for a in &doc.alerts {
        let _ = writeln!(
            out,
            "{} {} {}: {} > {}",
            a.severity.to_uppercase(),
            a.rule,
            clean(&a.subject_label),
            a.value_text,
            a.threshold_text
        );
    }
    out
}
