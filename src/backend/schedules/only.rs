//! A database with schedules and no job queue (pg_cron alone, perhaps driving pg_net): the
//! monitor opens it on its schedules (`detect` picks this only when no queue schema is
//! there), so its overview is empty and its `C` view and schedule alerts are what it shows.
//! Nothing of a queue is offered; the schedules' own actions go through the gate as ever.

use async_trait::async_trait;
use sqlx::PgPool;

use crate::backend::capabilities::{ActionCapabilities, Capabilities, Support, audit_support};
use crate::backend::doctor::DoctorPlan;
use crate::backend::drill::{
    DeadLetterQuery, DeadLetterReport, DetailLimits, HistoryWindow, JobDetail, JobPage, JobQuery,
    KindsQuery, KindsReport, TenantsQuery, TenantsReport,
};
use crate::backend::gate::WriteKey;
use crate::backend::history::HistoryReport;
use crate::backend::pg::audit;
use crate::backend::{
    AuditEnd, AuditEntry, AuditFilter, BatchDone, BatchStep, JobId, JobState, Overview, Plan,
    Reads, Snapshot, SnapshotOptions, Writes,
};

pub const BACKEND: &str = "schedules";

const WHY: &str = "this database has schedules and no job queue";

pub struct ScheduleOnly {
    pool: PgPool,
    audit: bool,
}

pub async fn open(pool: PgPool) -> anyhow::Result<ScheduleOnly> {
    let audit = audit::audit_table(&pool).await?;
    Ok(ScheduleOnly { pool, audit })
}

fn no_queue() -> anyhow::Error {
    anyhow::anyhow!("{WHY}: press C for its schedules")
}

#[async_trait]
impl Overview for ScheduleOnly {
    async fn snapshot(&self, opts: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        let db_now = sqlx::query_scalar("SELECT now()")
            .fetch_one(&self.pool)
            .await?;
        Ok(Snapshot {
            db_now,
            queues: Vec::new(),
            workers: Vec::new(),
            count_cap: opts.count_cap,
            running_by_tenant: None,
            schedules: None,
        })
    }
}

#[async_trait]
impl Reads for ScheduleOnly {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn schema(&self) -> &str {
        "cron"
    }

    fn capabilities(&self) -> Capabilities {
        let no = Support::No(WHY);
        Capabilities {
            pause: no,
            heartbeats: no,
            workers: no,
            error_history: no,
            tenants: no,
            throughput: no,
            actions: ActionCapabilities {
                retry: no,
                cancel: no,
                discard: no,
                delete: no,
                reset_stuck: no,
                purge: no,
                audit: audit_support(self.audit),
            },
            pause_visible: no,
            failed_attempts: no,
            failures: no,
        }
    }

    fn doctor_plan(&self) -> DoctorPlan {
        DoctorPlan::default()
    }

    async fn jobs(&self, _: &JobQuery) -> anyhow::Result<JobPage> {
        Err(no_queue())
    }

    async fn job(&self, _: &JobId, _: &DetailLimits) -> anyhow::Result<Option<JobDetail>> {
        Err(no_queue())
    }

    async fn dead_letters(&self, _: &DeadLetterQuery) -> anyhow::Result<DeadLetterReport> {
        Err(no_queue())
    }

    async fn kinds(&self, _: &KindsQuery) -> anyhow::Result<KindsReport> {
        Err(no_queue())
    }

    async fn history(&self, _: HistoryWindow) -> anyhow::Result<HistoryReport> {
        Err(no_queue())
    }

    async fn tenants(&self, _: &TenantsQuery) -> anyhow::Result<TenantsReport> {
        Err(no_queue())
    }

    async fn audit_log(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        audit::audit_log(&self.pool, filter).await
    }

    async fn job_states(&self, _: &[JobId]) -> anyhow::Result<Vec<(JobId, JobState)>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl Writes for ScheduleOnly {
    async fn plan_action(&self, _: WriteKey, _: &crate::backend::Action) -> anyhow::Result<Plan> {
        Err(no_queue())
    }

    async fn apply_batch(&self, _: WriteKey, _: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        Err(no_queue())
    }

    async fn finish_audit(&self, _: WriteKey, end: &AuditEnd<'_>) -> anyhow::Result<()> {
        audit::finish_audit(&self.pool, end).await
    }

    async fn close_abandoned(&self, _: WriteKey) -> anyhow::Result<u64> {
        audit::close_abandoned(&self.pool).await
    }
}
