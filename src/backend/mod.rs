//! The one seam where SQL lives: a folder per queue schema, each mapping its schema onto
//! the normalized model (`model`) and carrying out the actions it supports.
//!
//! A schema is two sides. `Reads` is everything it shows; its overview (`Overview`, the
//! poller's one read) is what the shared-snapshot and replica wrappers put themselves in
//! front of. `Writes` changes rows, and only the gate (`gate`) can call it: its methods
//! take a `gate::WriteKey`, which nothing outside the gate can make.

pub mod actions;
pub mod capabilities;
pub mod cron;
pub mod detect;
pub mod doctor;
pub mod drill;
pub mod engine;
pub mod gate;
pub mod generate;
pub mod goodjob;
pub mod graphile;
pub mod history;
pub mod index_advice;
pub mod mapped;
pub mod minute_cache;
pub mod model;
pub mod native;
pub mod oban;
pub mod pg;
pub mod pgboss;
pub mod pgmq;
pub mod pgqueuer;
pub mod pile_estimates;
pub mod procrastinate;
pub mod river;
pub mod schedules;
pub mod signature;
pub mod solidqueue;
pub mod wrappers;

use std::sync::Arc;

use async_trait::async_trait;

pub use actions::{
    Action, ActionKind, ActionOutcome, AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep,
    JobFilter, JobTarget, Outcome, Plan,
};
pub use capabilities::{ActionCapabilities, Capabilities, Support};
pub use model::*;

use gate::WriteKey;

/// The overview's one read, asked by the poller every interval.
#[async_trait]
pub trait Overview: Send + Sync {
    /// Everything the overview shows, in as few round trips as the schema allows.
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot>;

    /// Where the data comes from right now, when that is worth a few words in the header
    /// ("shared: follower", "replica lag 0.4s"). Asked after every poll.
    fn source(&self) -> Option<String> {
        None
    }
}

/// Everything a queue schema shows: the overview, the drill-down, the audit.
#[async_trait]
pub trait Reads: Overview {
    /// Short name shown in the header ("native", "river", ...).
    fn name(&self) -> &'static str;

    /// The database schema its tables are in: two installs of one system in one database
    /// (pg-boss 10 beside 12) are two queues to watch, and two shared snapshots.
    fn schema(&self) -> &str;

    /// What the schema can show and do, with the reason for each thing it cannot.
    fn capabilities(&self) -> Capabilities;

    /// What `jobtop doctor` should check for this backend: tables, privileges, and the
    /// monitoring statements to `EXPLAIN`.
    fn doctor_plan(&self) -> doctor::DoctorPlan;

    /// One keyset page of a job list.
    async fn jobs(&self, query: &drill::JobQuery) -> anyhow::Result<drill::JobPage>;

    /// One job in full; `None` when no job has that id.
    async fn job(
        &self,
        id: &JobId,
        limits: &drill::DetailLimits,
    ) -> anyhow::Result<Option<drill::JobDetail>>;

    /// Dead jobs of a window grouped by error signature (see `signature`).
    async fn dead_letters(
        &self,
        query: &drill::DeadLetterQuery,
    ) -> anyhow::Result<drill::DeadLetterReport>;

    /// Per-kind outcomes and timings over a window.
    async fn kinds(&self, query: &drill::KindsQuery) -> anyhow::Result<drill::KindsReport>;

    /// A kind's failed attempts of a window (retried or not), grouped by error signature
    /// as the dead letters are: a group's `count` counts attempts, its `ids` the jobs that
    /// made them. By default an error naming `drill::NO_FAILED_ATTEMPTS`: the schema keeps
    /// none, which the view says where its rows would be.
    async fn failed_attempts(
        &self,
        query: &drill::FailedAttemptsQuery,
    ) -> anyhow::Result<drill::DeadLetterReport> {
        let _ = query;
        Err(unsupported(
            self.name(),
            "failed attempts",
            Some(drill::NO_FAILED_ATTEMPTS),
        ))
    }

    /// Completions per queue and hour, and per kind, over the last 24 hours or 7 days
    /// (`backend::history`); an error where the schema keeps no completion times.
    async fn history(&self, window: drill::HistoryWindow)
    -> anyhow::Result<history::HistoryReport>;

    /// Running and ready jobs per tenant, where `capabilities().tenants` says the schema
    /// has tenants.
    async fn tenants(&self, query: &drill::TenantsQuery) -> anyhow::Result<drill::TenantsReport>;

    /// Recent audit rows, newest first.
    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>>;

    /// The display state of each of these jobs that still exists (to watch a phased retry).
    async fn job_states(&self, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>>;
}

/// What changes rows. Only the gate holds the key its methods take; which actions a schema
/// offers is said by `Capabilities::actions`, and the gate refuses the rest before asking.
#[async_trait]
pub trait Writes: Send + Sync {
    /// Looks at what `action` would change, without changing anything: the jobs it names
    /// (resolved to ids, oldest first), their states, and what it cannot touch.
    async fn plan_action(&self, key: WriteKey, action: &Action) -> anyhow::Result<Plan>;

    /// Carries out one batch of a plan as ONE conditional statement (it changes only the
    /// jobs still in one of `plan.states`), and writes or updates the action's audit row in
    /// the same transaction.
    async fn apply_batch(&self, key: WriteKey, step: &BatchStep<'_>) -> anyhow::Result<BatchDone>;

    /// Records the end of a run that its batches could not: stopped by the operator, or a
    /// failed batch (after its rollback, in a transaction of its own).
    async fn finish_audit(&self, key: WriteKey, end: &AuditEnd<'_>) -> anyhow::Result<()>;

    /// Closes the audit rows of runs that ended without a word (`pg::audit::close_abandoned`);
    /// how many it closed.
    async fn close_abandoned(&self, key: WriteKey) -> anyhow::Result<u64>;
}

/// An opened queue schema: its read side, the overview as the poller should read it (the
/// schema itself, or a wrapper in front of it), and its write side, which only
/// `gate::Gate::new` takes out.
#[derive(Clone)]
pub struct Backend {
    reads: Arc<dyn Reads>,
    overview: Arc<dyn Overview>,
    writes: Arc<dyn Writes>,
    /// The database's schedules' actions, once `with_schedules` gave them a pool.
    schedule_writes: Option<Arc<schedules::actions::ScheduleWrites>>,
}

impl Backend {
    pub fn new<S: Reads + Writes + 'static>(schema: S) -> Backend {
        let schema = Arc::new(schema);
        Backend {
            reads: schema.clone(),
            overview: schema.clone(),
            writes: schema,
            schedule_writes: None,
        }
    }

    pub fn reads(&self) -> &Arc<dyn Reads> {
        &self.reads
    }

    /// What the poller reads: the schema's own overview unless a wrapper stands in front.
    pub fn overview(&self) -> &Arc<dyn Overview> {
        &self.overview
    }

    /// Puts a wrapper (the shared snapshot, a replica's lag) in front of the overview; every
    /// other read still goes straight to the schema.
    pub fn wrap_overview(
        mut self,
        wrap: impl FnOnce(Arc<dyn Reads>) -> Arc<dyn Overview>,
    ) -> Backend {
        self.overview = wrap(self.reads.clone());
        self
    }

    /// Adds the database's schedules (pg_cron, pg_net, the queue's own) to every snapshot, in front of
    /// whatever already stands before the overview.
    pub fn with_schedules(mut self, pool: sqlx::PgPool) -> Backend {
        self.overview = Arc::new(wrappers::schedules::WithSchedules::new(
            self.overview.clone(),
            pool.clone(),
            self.reads.name(),
            self.reads.schema().to_string(),
        ));
        self.schedule_writes = Some(Arc::new(schedules::actions::ScheduleWrites::new(
            pool,
            self.reads.name(),
            self.reads.schema().to_string(),
        )));
        self
    }

    /// The schedules' actions; only the gate calls them (`gate::Gate`).
    pub(crate) fn schedule_writes(
        &self,
    ) -> anyhow::Result<&Arc<schedules::actions::ScheduleWrites>> {
        self.schedule_writes.as_ref().ok_or_else(|| {
            anyhow::anyhow!("this connection does not read the database's schedules")
        })
    }

    /// What a watcher (the monitor, a source of several, `serve`) polls: the shared snapshot
    /// in front where `shared` is given, the database's schedules on top.
    pub fn watched(
        self,
        pool: &sqlx::PgPool,
        shared: Option<wrappers::shared::SharedOptions>,
    ) -> Backend {
        let backend = match shared {
            Some(options) => self.wrap_overview(|reads| {
                Arc::new(wrappers::shared::SharedSnapshot::new(reads, pool, options))
            }),
            None => self,
        };
        backend.with_schedules(pool.clone())
    }

    pub(crate) fn writes(&self) -> &Arc<dyn Writes> {
        &self.writes
    }

    pub fn name(&self) -> &'static str {
        self.reads.name()
    }

    pub fn capabilities(&self) -> Capabilities {
        self.reads.capabilities()
    }
}

/// The error of a read a backend does not offer, with its reason.
pub fn unsupported(backend: &str, what: &str, why: Option<&str>) -> anyhow::Error {
    match why {
        Some(why) => anyhow::anyhow!("{what}: not supported by the {backend} backend: {why}"),
        None => anyhow::anyhow!("{what}: not supported by the {backend} backend"),
    }
}
