//! Actions on one schedule, reached only through the gate (`gate::Gate`): pg_cron's
//! activate and deactivate (`cron.alter_job`), and run-now where the source's own tools
//! enqueue a schedule's work by hand. Each is one conditional statement committed with its
//! audit row (`pg::audit::commit_batch`), and says how many rows it really changed.

use sqlx::PgPool;

use crate::backend::actions::{Action, BatchDone, BatchStep, Plan, ScheduleOp, ScheduleTarget};
use crate::backend::cron;
use crate::backend::gate::WriteKey;
use crate::backend::pg::audit;
use crate::backend::pg::sql::ident;
use crate::backend::pgboss;

/// The job, locked, while it is not yet in the state asked for; then `cron.alter_job` on it:
/// a second press (or another operator's) finds no row and changes nothing.
const CRON_ALTER_SQL: &str = r#"
WITH target AS (
  SELECT j.jobid FROM cron.job j
  WHERE j.jobid = $1 AND j.active IS DISTINCT FROM $2
  FOR UPDATE
)
SELECT cron.alter_job(t.jobid, active := $2) FROM target t
"#;

const CRON_LOOK_SQL: &str = "SELECT j.active FROM cron.job j WHERE j.jobid = $1";

/// pg-boss's run-now: what its cron pass does for a due occurrence, `send(name, data,
/// options)`, as one insert of the schedule's data into its queue; the queue's own retry
/// settings apply as `send` applies them. Only columns every pg-boss since 10 has.
const PGBOSS_SEND_SQL: &str = r#"
INSERT INTO {schema}.job (name, data, retry_limit, retry_delay, retry_backoff, policy)
SELECT s.name, s.data, q.retry_limit, q.retry_delay, q.retry_backoff, q.policy
FROM {schema}.schedule s
JOIN {schema}.queue q ON q.name = s.name
WHERE s.name = $1 AND {key_match}
"#;

const PGBOSS_LOOK_SQL: &str =
    "SELECT count(*) FROM {schema}.schedule s WHERE s.name = $1 AND {key_match}";

/// The schedules' write side: the pool, and the watched queue's backend and schema (its own
/// schedules live there).
pub struct ScheduleWrites {
    pool: PgPool,
    backend: &'static str,
    schema: String,
}

impl ScheduleWrites {
    pub fn new(pool: PgPool, backend: &'static str, schema: String) -> ScheduleWrites {
        ScheduleWrites {
            pool,
            backend,
            schema,
        }
    }

    /// What the action would change, looked at now: one schedule or none, with why.
    pub async fn plan(&self, _key: WriteKey, action: &Action) -> anyhow::Result<Plan> {
        let Action::Schedule { op, target } = action else {
            anyhow::bail!("not a schedule action");
        };
        let mut plan = Plan::empty(action.clone());
        match (target.source.as_str(), op) {
            (cron::SOURCE, ScheduleOp::Activate | ScheduleOp::Deactivate) => {
                let want = *op == ScheduleOp::Activate;
                let active: Option<bool> = sqlx::query_scalar(CRON_LOOK_SQL)
                    .bind(cron_id(target)?)
                    .fetch_optional(&self.pool)
                    .await?;
                match active {
                    None => plan.note = Some(format!("pg_cron has no job {} any more", target.id)),
                    Some(now) if now == want => {
                        plan.note = Some(format!(
                            "`{}` is already {}",
                            target.key(),
                            if want { "active" } else { "inactive" }
                        ))
                    }
                    Some(_) => plan.eligible = 1,
                }
            }
            (pgboss::schedules::SOURCE, ScheduleOp::RunNow) if self.backend == pgboss::BACKEND => {
                let (sql, name, key) = self.pgboss_sql(PGBOSS_LOOK_SQL, target).await?;
                let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(name);
                if let Some(key) = key {
                    query = query.bind(key);
                }
                let found = query.fetch_one(&self.pool).await?;
                if found == 0 {
                    plan.note = Some(format!(
                        "pg-boss has no schedule `{}` any more",
                        target.name
                    ));
                } else {
                    plan.eligible = 1;
                }
            }
            (source, op) => anyhow::bail!("{}", refusal(source, *op)),
        }
        Ok(plan)
    }

    /// Runs the plan's one step with its audit row, in one transaction.
    pub async fn apply(&self, _key: WriteKey, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        let Action::Schedule { op, target } = &step.plan.action else {
            anyhow::bail!("not a schedule action");
        };
        let mut tx = self.pool.begin().await?;
        let changed = match (target.source.as_str(), op) {
            (cron::SOURCE, ScheduleOp::Activate | ScheduleOp::Deactivate) => {
                sqlx::query(CRON_ALTER_SQL)
                    .bind(cron_id(target)?)
                    .bind(*op == ScheduleOp::Activate)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
            (pgboss::schedules::SOURCE, ScheduleOp::RunNow) if self.backend == pgboss::BACKEND => {
                let (sql, name, key) = self.pgboss_sql(PGBOSS_SEND_SQL, target).await?;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name);
                if let Some(key) = key {
                    query = query.bind(key);
                }
                query.execute(&mut *tx).await?.rows_affected()
            }
            (source, op) => anyhow::bail!("{}", refusal(source, *op)),
        };
        audit::commit_batch(tx, step, changed, Vec::new(), 1, true).await
    }

    /// A pg-boss statement for this schema, with the schedule's queue name and, since 12
    /// (where a queue may have several schedules), its key.
    async fn pgboss_sql(
        &self,
        template: &str,
        target: &ScheduleTarget,
    ) -> anyhow::Result<(String, String, Option<String>)> {
        let (name, key) = pgboss::schedules::parse_id(&target.id)?;
        let keyed = pgboss::schedules::keyed(&self.pool, &self.schema).await?;
        let key = keyed.then_some(key);
        let sql = template
            .replace("{schema}", &ident(&self.schema))
            .replace("{key_match}", if keyed { "s.key = $2" } else { "true" });
        Ok((sql, name, key))
    }
}

fn cron_id(target: &ScheduleTarget) -> anyhow::Result<i64> {
    target
        .id
        .parse()
        .map_err(|_| anyhow::anyhow!("`{}` is not a pg_cron job id", target.id))
}

/// Whether a source offers `op` from the database: pg_cron switches a job on and off,
/// pg-boss sends a schedule's job now. `Some(why)` where it does not.
pub fn refused(source: &str, op: ScheduleOp) -> Option<String> {
    match (source, op) {
        (cron::SOURCE, ScheduleOp::Activate | ScheduleOp::Deactivate) => None,
        (pgboss::schedules::SOURCE, ScheduleOp::RunNow) => None,
        _ => Some(refusal(source, op)),
    }
}

/// Why a source does not do `op`, in its own terms.
fn refusal(source: &str, op: ScheduleOp) -> String {
    let what = match op {
        ScheduleOp::Activate => "activate",
        ScheduleOp::Deactivate => "deactivate",
        ScheduleOp::RunNow => "run now",
    };
    let why = match (source, op) {
        (cron::SOURCE, ScheduleOp::RunNow) => {
            "pg_cron has no run-now; run the job's command yourself".to_string()
        }
        (pgboss::schedules::SOURCE, _) => {
            "pg-boss keeps a schedule or deletes it (unschedule); it has no paused schedule".into()
        }
        (_, ScheduleOp::RunNow) => format!(
            "{source} makes a run in its own process (its job's arguments are the client's \
             serialization), not in SQL jobtop could write"
        ),
        _ => format!("{source} has no switch for one schedule in the database"),
    };
    format!("cannot {what} a {source} schedule: {why}")
}
