//! The only file of the conformance suite that calls jobtop's backend API: opening a
//! database as a bare URL would, the overview, job lists, one job, the stuck list, and
//! actions planned and run through the gate. Everything comes back as the plain values
//! below, so a change to the API is a change here only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sqlx::PgPool;

use jobtop::backend::detect::{self, Selection};
use jobtop::backend::drill::{DetailLimits, JobQuery, JobScope, ListFilter, Order, PAGE_SIZE};
use jobtop::backend::gate::{Gate, StopFlag};
use jobtop::backend::{
    Action, AuditFilter, Backend, JobFilter, JobId, JobState, JobTarget, Plan, SnapshotOptions,
};

/// Who the audit rows name.
const ACTOR: &str = "conformance@suite";

/// The states the overview counts.
pub const COUNTED: [JobState; 5] = [
    JobState::Ready,
    JobState::Scheduled,
    JobState::Running,
    JobState::Retrying,
    JobState::Dead,
];

/// A backend opened the way `jobtop URL` opens one: detection, no flags.
pub struct Opened {
    backend: Backend,
    gate: Gate,
    /// `Backend::name()`.
    pub name: String,
    /// The shipped profile detection picked (mapped backends).
    pub profile: Option<String>,
}

/// One queue of the overview.
#[derive(Debug, Clone)]
pub struct QueueFigures {
    pub name: String,
    /// Per counted state.
    pub counts: BTreeMap<JobState, i64>,
    /// Counts that are not exact (capped or estimated), as "state (capped)".
    pub inexact: Vec<String>,
    pub oldest_ready_secs: Option<f64>,
    pub paused: bool,
    /// Succeeded and failed over the history window; `None`: no throughput shown.
    pub throughput: Option<(u64, u64)>,
    pub longest_running_secs: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct WorkerFigures {
    pub id: String,
    pub heartbeat_age_secs: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Overview {
    pub queues: Vec<QueueFigures>,
    pub workers: Vec<WorkerFigures>,
}

/// A job as a list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: JobId,
    pub queue: String,
    pub state: JobState,
}

/// A job as its detail view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub id: JobId,
    pub queue: String,
    pub kind: String,
    pub state: JobState,
    pub attempts: Option<i32>,
    pub last_error: Option<String>,
}

/// What an action asks for, in the suite's terms.
#[derive(Debug, Clone)]
pub enum Request {
    /// Retry, cancel, discard or delete "all that match" a queue's list in one state.
    Jobs {
        kind: &'static str,
        queue: String,
        state: JobState,
    },
    ResetStuck {
        queue: Option<String>,
        stale_after: Duration,
    },
    Purge {
        states: Vec<JobState>,
        older_than: Duration,
        queue: Option<String>,
    },
    Pause {
        queue: String,
    },
    Resume {
        queue: String,
    },
}

/// A plan the gate let through.
pub struct Planned {
    plan: Plan,
}

impl Planned {
    /// The jobs the batches will try (empty for pause, resume and purge).
    pub fn ids(&self) -> Vec<JobId> {
        self.plan.ids.clone()
    }

    /// How many the confirmation names.
    pub fn eligible(&self) -> u64 {
        self.plan.eligible
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub changed: u64,
    pub outcome: String,
    pub summary: String,
}

/// One row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub action: String,
    pub queue: Option<String>,
    pub count: Option<i64>,
    pub outcome: String,
}

/// Opens what detection finds in the database, as a bare URL would.
/// Opens what detection finds, or the table `profile` (a file) describes.
pub async fn open(pool: &PgPool, profile: Option<std::path::PathBuf>) -> Result<Opened, String> {
    let selection = Selection {
        profile,
        ..Selection::default()
    };
    let (detected, backend) = detect::resolve(pool, &selection)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let gate = Gate::with_actor(backend.clone(), false, ACTOR.to_string());
    Ok(Opened {
        name: backend.name().to_string(),
        profile: detected.profile,
        backend,
        gate,
    })
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

impl Opened {
    pub async fn overview(&self) -> Overview {
        let s = self
            .backend
            .overview()
            .snapshot(&SnapshotOptions::default())
            .await
            .unwrap_or_else(|e| panic!("snapshot: {e:#}"));
        let now = s.db_now;
        let queues = s
            .queues
            .iter()
            .map(|q| {
                let all = [
                    (JobState::Ready, q.ready),
                    (JobState::Scheduled, q.scheduled),
                    (JobState::Running, q.running),
                    (JobState::Retrying, q.retrying),
                    (JobState::Dead, q.dead),
                ];
                let mut inexact = Vec::new();
                for (state, c) in all {
                    if c.capped {
                        inexact.push(format!("{} (capped)", state.as_str()));
                    }
                    if c.estimated {
                        inexact.push(format!("{} (estimated)", state.as_str()));
                    }
                }
                QueueFigures {
                    name: q.name.clone(),
                    counts: all.iter().map(|(s, c)| (*s, c.value)).collect(),
                    inexact,
                    oldest_ready_secs: q.oldest_ready_age(now).map(secs),
                    paused: q.paused.is_some(),
                    throughput: (!q.minutes.is_empty()).then(|| q.window_totals()),
                    longest_running_secs: q.longest_running(now).map(secs),
                }
            })
            .collect();
        let workers = s
            .workers
            .iter()
            .map(|w| WorkerFigures {
                id: w.id.clone(),
                heartbeat_age_secs: w.heartbeat_age(now).map(secs),
            })
            .collect();
        Overview { queues, workers }
    }

    /// Every row of a list, page after page, oldest first.
    async fn list_scope(&self, scope: JobScope) -> Result<Vec<Row>, String> {
        self.list_filtered(scope, ListFilter::default()).await
    }

    /// A queue's jobs in one display state that `filter` keeps; `Err` is what the backend
    /// says when it cannot filter so.
    pub async fn list_matching(
        &self,
        queue: &str,
        state: JobState,
        filter: ListFilter,
    ) -> Result<Vec<Row>, String> {
        let scope = JobScope::Queue {
            queue: queue.to_string(),
            state,
        };
        self.list_filtered(scope, filter).await
    }

    /// The job's detail view as the schema reads it, or `None` where the job is gone.
    async fn job_detail(&self, id: &JobId) -> Option<jobtop::backend::drill::JobDetail> {
        self.backend
            .reads()
            .job(id, &DetailLimits::default())
            .await
            .unwrap_or_else(|e| panic!("job {id}: {e:#}"))
    }

    /// A job's payload as the detail shows it (JSON, text, or a hex dump of bytes), and
    /// whether the schema keeps it as bytes.
    pub async fn payload(&self, id: &JobId) -> Option<(String, bool)> {
        let d = self.job_detail(id).await?;
        let binary = d.payload_form != jobtop::backend::drill::PayloadForm::Json;
        d.payload.map(|p| (p, binary))
    }

    async fn list_filtered(&self, scope: JobScope, filter: ListFilter) -> Result<Vec<Row>, String> {
        let key = scope.sort_key();
        let mut query = JobQuery {
            scope,
            filter,
            order: Order::OldestFirst,
            after: None,
            limit: PAGE_SIZE,
        };
        let mut rows = Vec::new();
        for _ in 0..1_000 {
            let page = self
                .backend
                .reads()
                .jobs(&query)
                .await
                .map_err(|e| format!("{e:#}"))?;
            rows.extend(page.rows.iter().map(|r| Row {
                id: r.id.clone(),
                queue: r.queue.clone(),
                state: r.state,
            }));
            match page.rows.last() {
                Some(last) if page.has_more => query.after = Some(last.cursor(key)),
                _ => return Ok(rows),
            }
        }
        Err("the list never ended".to_string())
    }

    /// A queue's jobs in one display state.
    pub async fn list(&self, queue: &str, state: JobState) -> Vec<Row> {
        self.list_scope(JobScope::Queue {
            queue: queue.to_string(),
            state,
        })
        .await
        .unwrap_or_else(|e| panic!("list of {queue} {}: {e}", state.as_str()))
    }

    /// The stuck list: running longer than `running_longer_than`, or not heard from for
    /// `stale_after`. An error says why the schema cannot tell.
    pub async fn stuck(
        &self,
        running_longer_than: Duration,
        stale_after: Duration,
    ) -> Result<Vec<Row>, String> {
        self.list_scope(JobScope::Stuck {
            running_longer_than,
            stale_after,
        })
        .await
    }

    pub async fn detail(&self, id: &JobId) -> Option<Detail> {
        let d = self.job_detail(id).await?;
        Some(Detail {
            id: d.job.id,
            queue: d.job.queue,
            kind: d.job.kind,
            state: d.job.state,
            attempts: d.job.attempts,
            last_error: d.job.last_error,
        })
    }

    /// Plans through the gate; `Err` is the refusal (or the error) as the operator reads it.
    pub async fn plan(&self, request: &Request) -> Result<Planned, String> {
        let action = match request.clone() {
            Request::Jobs { kind, queue, state } => {
                let target = JobTarget::Matching {
                    filter: JobFilter::queue(&queue, state),
                    limit: None,
                };
                match kind {
                    "retry" => Action::Retry(target),
                    "cancel" => Action::Cancel(target),
                    "discard" => Action::Discard(target),
                    "delete" => Action::Delete(target),
                    other => panic!("{other} is not a job action"),
                }
            }
            Request::ResetStuck { queue, stale_after } => Action::ResetStuck {
                queue,
                worker: None,
                stale_after,
            },
            Request::Purge {
                states,
                older_than,
                queue,
            } => Action::Purge {
                states,
                older_than,
                queue,
            },
            Request::Pause { queue } => Action::Pause {
                queue,
                reason: Some("conformance".to_string()),
            },
            Request::Resume { queue } => Action::Resume { queue },
        };
        self.gate
            .plan(&action)
            .await
            .map(|plan| Planned { plan })
            .map_err(|e| format!("{e:#}"))
    }

    /// Runs a plan to its end.
    pub async fn run(&self, planned: &Planned) -> Result<Ran, String> {
        let stop: StopFlag = Arc::new(AtomicBool::new(false));
        let outcome = self
            .gate
            .execute(&planned.plan, &stop, &mut |_| {})
            .await
            .map_err(|e| e.to_string())?;
        Ok(Ran {
            changed: outcome.changed,
            outcome: outcome.outcome().as_str().to_string(),
            summary: outcome.summary(),
        })
    }

    /// The audit log, newest first.
    pub async fn audit(&self) -> Vec<AuditRow> {
        self.backend
            .reads()
            .audit_log(&AuditFilter {
                limit: 1_000,
                ..AuditFilter::default()
            })
            .await
            .unwrap_or_else(|e| panic!("audit log: {e:#}"))
            .into_iter()
            .map(|a| AuditRow {
                action: a.action,
                queue: a.queue,
                count: a.count,
                outcome: a.outcome,
            })
            .collect()
    }
}
