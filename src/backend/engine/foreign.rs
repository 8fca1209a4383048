//! What every queue schema other than the reference one is made of, and the `Backend` that
//! follows from it. A schema module builds its `Foreign` at open, its statements, its drill
//! table and its actions; every read and action is then passed on here, once, so no backend
//! can forget one.

use async_trait::async_trait;
use sqlx::PgPool;

use crate::backend::actions::{
    Action, AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep, Plan,
};
use crate::backend::drill::{
    DeadLetterQuery, DeadLetterReport, DetailLimits, JobDetail, JobPage, JobQuery, KindsQuery,
    KindsReport, TenantsQuery, TenantsReport,
};
use crate::backend::engine::actions as kit;
use crate::backend::engine::drill::{self as drill, DrillTable};
use crate::backend::engine::snapshot::{self, Statements};
use crate::backend::gate::WriteKey;
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::audit;
use crate::backend::{
    Capabilities, Overview, Reads, Snapshot, SnapshotOptions, Writes, doctor, unsupported,
};

pub struct Foreign {
    /// The backend's name in the header ("river", ...).
    pub name: &'static str,
    pub pool: PgPool,
    pub statements: Statements,
    pub capabilities: Capabilities,
    pub doctor: doctor::DoctorPlan,
    /// The job table as the drill-down and the actions read it.
    pub drill: DrillTable,
    /// What a failed snapshot names as its source (a profile), besides the database.
    pub source: Option<String>,
    pub actions: Box<dyn SchemaActions>,
    /// The per-kind figures read the schema's own way, where the drill table cannot place
    /// finished jobs in time (procrastinate keeps finish times in its events table, not on
    /// the job). `None`: from the drill table.
    pub kinds: Option<Box<dyn SchemaKinds>>,
}

/// Per-kind figures a schema reads its own way (`Foreign::kinds`).
#[async_trait]
pub trait SchemaKinds: Send + Sync {
    async fn kinds(&self, pool: &PgPool, query: &KindsQuery) -> anyhow::Result<KindsReport>;
}

/// How a schema plans and carries out actions, with its project's own semantics.
#[async_trait]
pub trait SchemaActions: Send + Sync {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan>;

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone>;
}

/// A backend made of a `Foreign`; `Backend` comes with it.
pub trait ForeignSchema: Send + Sync {
    fn foreign(&self) -> &Foreign;

    /// How the drill-down reads the jobs (for tests and troubleshooting).
    fn drill_table(&self) -> &DrillTable {
        &self.foreign().drill
    }
}

#[async_trait]
impl<T: ForeignSchema> Overview for T {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        let f = self.foreign();
        let snapshot = snapshot::snapshot(&f.pool, &f.statements, opts).await;
        match &f.source {
            Some(source) => snapshot.map_err(|e| e.context(source.clone())),
            None => snapshot,
        }
    }
}

#[async_trait]
impl<T: ForeignSchema> Reads for T {
    fn name(&self) -> &'static str {
        self.foreign().name
    }

    fn capabilities(&self) -> Capabilities {
        self.foreign().capabilities
    }

    fn doctor_plan(&self) -> doctor::DoctorPlan {
        self.foreign().doctor.clone()
    }

    async fn jobs(&self, query: &JobQuery) -> anyhow::Result<JobPage> {
        let f = self.foreign();
        drill::page(&f.pool, &f.drill, query).await
    }

    async fn job(&self, id: &JobId, limits: &DetailLimits) -> anyhow::Result<Option<JobDetail>> {
        let f = self.foreign();
        drill::job(&f.pool, &f.drill, id, limits).await
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
        let f = self.foreign();
        drill::dead_letters(&f.pool, &f.drill, query).await
    }

    async fn kinds(&self, query: &KindsQuery) -> anyhow::Result<KindsReport> {
        let f = self.foreign();
        match &f.kinds {
            Some(kinds) => kinds.kinds(&f.pool, query).await,
            None => drill::kinds(&f.pool, &f.drill, query).await,
        }
    }

    async fn tenants(&self, query: &TenantsQuery) -> anyhow::Result<TenantsReport> {
        let f = self.foreign();
        if let Some(why) = f.capabilities.tenants.reason() {
            return Err(unsupported(f.name, "tenants", Some(why)));
        }
        drill::tenants(&f.pool, &f.drill, query).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        audit::audit_log(&self.foreign().pool, filter).await
    }

    async fn job_states(&self, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        let f = self.foreign();
        kit::job_states(&f.pool, &f.drill.jobs, ids).await
    }
}

#[async_trait]
impl<T: ForeignSchema> Writes for T {
    async fn plan_action(&self, _: WriteKey, action: &Action) -> anyhow::Result<Plan> {
        let f = self.foreign();
        f.actions.plan(&f.pool, action).await
    }

    async fn apply_batch(&self, _: WriteKey, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let f = self.foreign();
        f.actions.apply(&f.pool, step).await
    }

    async fn finish_audit(&self, _: WriteKey, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        audit::finish_audit(&self.foreign().pool, end).await
    }
}
