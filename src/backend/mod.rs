//! The one seam where SQL lives: a module per queue schema, each mapping its schema onto
//! the normalized model (`model`) and carrying out the actions it supports.

pub mod actions;
pub mod detect;
pub mod doctor;
pub mod drill;
pub mod engine;
pub mod graphile;
pub mod mapped;
pub mod model;
pub mod native;
pub mod oban;
pub mod pg;
pub mod pgboss;
pub mod river;
pub mod signature;
pub mod wrappers;

use async_trait::async_trait;

pub use actions::{
    Action, ActionCapabilities, ActionKind, ActionOutcome, AuditEnd, AuditEntry, AuditFilter,
    BatchDone, BatchStep, JobFilter, JobTarget, Outcome, Plan,
};
pub use model::*;

/// A queue schema, read through the normalized model.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Short name shown in the header ("native", "river", ...).
    fn name(&self) -> &'static str;

    fn capabilities(&self) -> Capabilities;

    /// Everything the overview shows, in as few round trips as the schema allows.
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot>;

    /// Where the data comes from right now, when that is worth a few words in the header
    /// ("shared: follower", "replica lag 0.4s"). Asked after every poll.
    fn source(&self) -> Option<String> {
        None
    }

    /// What `jobtop doctor` should check for this backend: tables, privileges, and the
    /// monitoring statements to `EXPLAIN`.
    fn doctor_plan(&self) -> doctor::DoctorPlan {
        doctor::DoctorPlan::default()
    }

    // ---- drill-down reads (jobs, job detail, error groups, kinds, ...) go below ----

    /// One keyset page of a job list.
    async fn jobs(&self, query: &drill::JobQuery) -> anyhow::Result<drill::JobPage> {
        let _ = query;
        Err(unsupported(self.name(), "job lists"))
    }

    /// One job in full; `None` when no job has that id.
    async fn job(
        &self,
        id: &JobId,
        limits: &drill::DetailLimits,
    ) -> anyhow::Result<Option<drill::JobDetail>> {
        let _ = (id, limits);
        Err(unsupported(self.name(), "job details"))
    }

    /// Dead jobs of a window grouped by error signature (see `signature`).
    async fn dead_letters(
        &self,
        query: &drill::DeadLetterQuery,
    ) -> anyhow::Result<drill::DeadLetterReport> {
        let _ = query;
        Err(unsupported(self.name(), "dead letters"))
    }

    /// Per-kind outcomes and timings over a window.
    async fn kinds(&self, query: &drill::KindsQuery) -> anyhow::Result<drill::KindsReport> {
        let _ = query;
        Err(unsupported(self.name(), "per-kind figures"))
    }

    /// Running and ready jobs per tenant (where the schema has tenants).
    async fn tenants(&self, query: &drill::TenantsQuery) -> anyhow::Result<drill::TenantsReport> {
        let _ = query;
        Err(unsupported(self.name(), "tenants"))
    }

    // ---- actions (pause, retry, cancel, ...) go below ----
    // Only the gate (`crate::gate`) calls these. A backend that cannot do an action keeps
    // the default, which refuses with the reason, and says so in `capabilities().actions`.

    /// Looks at what `action` would change, without changing anything: the jobs it names
    /// (resolved to ids, oldest first), their states, and what it cannot touch.
    async fn plan_action(&self, action: &Action) -> anyhow::Result<Plan> {
        Err(actions::unsupported(self.name(), action.kind()))
    }

    /// Carries out one batch of a plan as ONE conditional statement (it changes only the
    /// jobs still in one of `plan.states`), and writes or updates the action's audit row in
    /// the same transaction.
    async fn apply_batch(&self, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        Err(actions::unsupported(self.name(), step.plan.kind()))
    }

    /// Records the end of a run that its batches could not: stopped by the operator, or a
    /// failed batch (after its rollback, in a transaction of its own).
    async fn finish_audit(&self, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        Err(actions::unsupported(self.name(), end.plan.kind()))
    }

    /// Recent audit rows, newest first.
    async fn audit_log(&self, _filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        anyhow::bail!("the {} backend keeps no audit log", self.name())
    }

    /// The display state of each of these jobs that still exists (to watch a phased retry).
    async fn job_states(&self, _ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        anyhow::bail!("the {} backend cannot look jobs up by id", self.name())
    }
}

/// The error of a read or action a backend does not offer.
pub fn unsupported(backend: &str, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: not supported by the {backend} backend")
}
