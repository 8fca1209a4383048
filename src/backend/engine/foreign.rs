//! What every queue schema other than the reference one is made of: a schema folder's
//! `open` returns a `Foreign` (its statements, capabilities, doctor plan, drill table and
//! actions), and every read and action is carried out here, once, so no schema can forget
//! one.

use async_trait::async_trait;
use sqlx::PgPool;

use crate::backend::actions::{
    Action, AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep, Plan,
};
use crate::backend::drill::HistoryWindow;
use crate::backend::drill::{
    DeadLetterQuery, DeadLetterReport, DetailLimits, FailedAttemptsQuery, JobDetail, JobPage,
    JobQuery, KindsQuery, KindsReport, TenantsQuery, TenantsReport,
};
use crate::backend::engine::actions as kit;
use crate::backend::engine::drill::{self as drill, DrillTable};
use crate::backend::engine::snapshot::{self, SnapshotCaches, Statements};
use crate::backend::gate::WriteKey;
use crate::backend::history::{self, HistoryReport};
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::audit;
use crate::backend::pile_estimates::{Pile, PileSql, Piles};
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
    /// The database schema the tables are in.
    pub schema: String,
    /// The profile that describes the table (mapped schemas only): a failed snapshot names
    /// it besides the database.
    pub profile: Option<String>,
    pub actions: Box<dyn SchemaActions>,
    /// The per-kind figures read the schema's own way, where the drill table cannot place
    /// finished jobs in time (procrastinate keeps finish times in its events table, not on
    /// the job). `None`: from the drill table.
    pub kinds: Option<Box<dyn SchemaKinds>>,
    /// What the polls keep for the next ones (`Default::default()` at open).
    pub caches: SnapshotCaches,
}

/// Per-kind figures a schema reads its own way (`Foreign::kinds`), and a kind's failed
/// attempts from the same place, so the two agree.
#[async_trait]
pub trait SchemaKinds: Send + Sync {
    async fn kinds(&self, pool: &PgPool, query: &KindsQuery) -> anyhow::Result<KindsReport>;

    async fn failed_attempts(
        &self,
        pool: &PgPool,
        query: &FailedAttemptsQuery,
    ) -> anyhow::Result<DeadLetterReport>;
}

/// How a schema plans and carries out actions, with its project's own semantics.
#[async_trait]
pub trait SchemaActions: Send + Sync {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan>;

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone>;
}

impl Foreign {
    /// How the drill-down reads the jobs (for tests and troubleshooting).
    pub fn drill_table(&self) -> &DrillTable {
        &self.drill
    }

    /// The big piles as the state map defines them, the same rows the lists show.
    fn piles(&self) -> Piles {
        let jobs = &self.drill.jobs;
        let sql = Pile::ALL
            .into_iter()
            .filter_map(|pile| {
                let condition = jobs.states.condition(pile.state())?;
                let estimate = jobs.states.estimate_condition(pile.state())?;
                Some((
                    pile,
                    PileSql::estimated_by(&jobs.from, &condition, &estimate, &jobs.queue),
                ))
            })
            .collect();
        Piles {
            table: jobs.table().map(str::to_string),
            sql,
            audit: self.capabilities.actions.audit.yes(),
        }
    }
}

#[async_trait]
impl Overview for Foreign {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        let f = self;
        let piles = f.caches.piles(|| f.piles());
        let source = history::source_key(f.name, &f.schema);
        let snapshot =
            snapshot::snapshot(&f.pool, &f.statements, piles, &f.caches, opts, &source).await;
        match &f.profile {
            Some(profile) => snapshot.map_err(|e| e.context(format!("profile {profile}"))),
            None => snapshot,
        }
    }
}

#[async_trait]
impl Reads for Foreign {
    fn name(&self) -> &'static str {
        self.name
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn doctor_plan(&self) -> doctor::DoctorPlan {
        self.doctor.clone()
    }

    async fn jobs(&self, query: &JobQuery) -> anyhow::Result<JobPage> {
        let f = self;
        drill::page(&f.pool, &f.drill, query).await
    }

    async fn job(&self, id: &JobId, limits: &DetailLimits) -> anyhow::Result<Option<JobDetail>> {
        let f = self;
        drill::job(&f.pool, &f.drill, id, limits).await
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
        let f = self;
        drill::dead_letters(&f.pool, &f.drill, query).await
    }

    async fn kinds(&self, query: &KindsQuery) -> anyhow::Result<KindsReport> {
        let f = self;
        match &f.kinds {
            Some(kinds) => kinds.kinds(&f.pool, query).await,
            None => drill::kinds(&f.pool, &f.drill, query).await,
        }
    }

    async fn failed_attempts(
        &self,
        query: &FailedAttemptsQuery,
    ) -> anyhow::Result<DeadLetterReport> {
        let f = self;
        match &f.kinds {
            Some(kinds) => kinds.failed_attempts(&f.pool, query).await,
            None => drill::failed_attempts(&f.pool, f.name, &f.drill, query).await,
        }
    }

    async fn history(&self, window: HistoryWindow) -> anyhow::Result<HistoryReport> {
        let Some(sql) = &self.statements.minutes else {
            return Err(unsupported(
                self.name,
                "history",
                Some("the schema keeps no completion times jobtop can read cheaply"),
            ));
        };
        let source = history::source_key(self.name, &self.schema);
        history::read(&self.pool, sql, &source, &self.caches.hours, window).await
    }

    async fn tenants(&self, query: &TenantsQuery) -> anyhow::Result<TenantsReport> {
        let f = self;
        if let Some(why) = f.capabilities.tenants.reason() {
            return Err(unsupported(f.name, "tenants", Some(why)));
        }
        drill::tenants(&f.pool, &f.drill, query).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        audit::audit_log(&self.pool, filter).await
    }

    async fn job_states(&self, ids: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        let f = self;
        kit::job_states(&f.pool, &f.drill.jobs, ids).await
    }
}

#[async_trait]
impl Writes for Foreign {
    async fn plan_action(&self, _: WriteKey, action: &Action) -> anyhow::Result<Plan> {
        let f = self;
        f.actions.plan(&f.pool, action).await
    }

    async fn apply_batch(&self, _: WriteKey, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let f = self;
        f.actions.apply(&f.pool, step).await
    }

    async fn finish_audit(&self, _: WriteKey, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        audit::finish_audit(&self.pool, end).await
    }

    async fn close_abandoned(&self, _: WriteKey) -> anyhow::Result<u64> {
        audit::close_abandoned(&self.pool).await
    }
}
