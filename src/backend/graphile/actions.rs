//! graphile-worker's actions, carried out through its own admin functions: from 0.16 its
//! tables are private, and these are what its documentation gives an admin UI. Each
//! function leaves alone a job locked in the last 4 hours (graphile treats an older lock as
//! abandoned) and returns the rows it changed, so a batch counts what really changed. On
//! top of that, every batch first re-checks the state the plan saw, under a row lock, so a
//! job a worker claimed, failed or finished meanwhile is left out.
//!
//! - retry (`reschedule_jobs`): dead, retrying or scheduled -> `run_at = now()`. A job that
//!   used all its attempts gets exactly one more (`max_attempts = attempts + 1`, as River's
//!   and Oban's retry do), not `attempts = 0`: that would hand a poison job a whole new
//!   budget (25 tries by default, backing off from the start) and erase the one count
//!   graphile keeps of how often it failed. `last_error` is kept.
//! - discard (`permanently_fail_jobs`): ready, scheduled or retrying -> dead
//!   (`attempts = max_attempts`), "discarded by jobtop (<operator>)" as the last error.
//! - delete (`complete_jobs`, which deletes): dead jobs.
//! - reset stuck (`force_unlock_workers`): graphile unlocks by worker, never by job, and
//!   keeps no heartbeats. A worker counts as gone when every lock it holds (jobs and job
//!   queues) is older than the stale threshold (`worker_gone`); a stuck job is a job such a
//!   worker holds, and the stuck list shows exactly those (`JobTable::stale`). A plan takes
//!   all of a gone worker's jobs (a queue filter picks the workers holding a job of that
//!   task), and a batch unlocks a worker only when every job it holds is in that batch and
//!   still gone, so nothing the plan did not show is released.
//! - cancel: refused (no cancelled state; discard is the nearest); pause: refused (none).

use std::time::Duration;

use sqlx::{AssertSqlSafe, PgPool};

use crate::backend::actions::{
    Action, ActionKind, BatchDone, BatchStep, MAX_JOBS_PER_ACTION, Plan,
};
use crate::backend::capabilities::Support;
use async_trait::async_trait;

use crate::backend::engine::actions::{self as kit, GUARD, IDS, JobTable, STALE_SECS};
use crate::backend::engine::foreign::SchemaActions;
use crate::backend::engine::states::StateMap;
use crate::backend::model::{JobId, JobState};
use crate::backend::pg::sql::qualified;

/// The admin functions jobtop calls, each offered only where the schema has it.
pub const FUNCTIONS: [(&str, ActionKind); 4] = [
    ("reschedule_jobs", ActionKind::Retry),
    ("permanently_fail_jobs", ActionKind::Discard),
    ("complete_jobs", ActionKind::Delete),
    ("force_unlock_workers", ActionKind::ResetStuck),
];

/// The graphile-worker tables, as `"schema"."name"`.
pub struct Tables<'a> {
    pub schema: &'a str,
    pub jobs: &'a str,
    pub tasks: &'a str,
    pub job_queues: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct GraphileActions {
    pub jobs: JobTable,
    jobs_table: String,
    tasks_table: String,
}

/// Worker `worker` (an expression) is gone: it has locked nothing, no job and no job queue,
/// for `secs` seconds (a placeholder). The one definition reset-stuck (plan and batch) and
/// the stuck list judge by. Both sets are read once per statement, not once per job: the
/// workers' newest job locks in one pass over the locked jobs, as graphile's own
/// `force_unlock_workers` finds them, and the job queues locked within the threshold.
fn worker_gone(jobs: &str, job_queues: Option<&str>, worker: &str, secs: &str) -> String {
    let since = format!("now() - make_interval(secs => {secs})");
    let mut gone = format!(
        "{worker} IN (SELECT gx.locked_by FROM {jobs} gx WHERE gx.locked_by IS NOT NULL \
         GROUP BY gx.locked_by HAVING max(gx.locked_at) < {since})"
    );
    if let Some(q) = job_queues {
        gone.push_str(&format!(
            " AND {worker} NOT IN (SELECT gq.locked_by FROM {q} gq \
             WHERE gq.locked_by IS NOT NULL AND gq.locked_at >= {since})"
        ));
    }
    gone
}

impl GraphileActions {
    /// `functions`: the admin functions the schema has.
    pub fn new(t: &Tables<'_>, functions: &[String], states: StateMap) -> GraphileActions {
        let (jobs, tasks) = (t.jobs, t.tasks);
        let from = format!("{jobs} j JOIN {tasks} tk ON tk.id = j.task_id");
        let call = |name: &str| qualified(t.schema, name);
        let seen = |columns: &str, extra: &str| {
            format!(
                "WITH seen AS MATERIALIZED (SELECT {columns} FROM {from} \
                 WHERE j.id = ANY({IDS}) AND {GUARD}{extra} FOR UPDATE OF j)"
            )
        };
        let gone = |worker: &str, secs: &str| worker_gone(jobs, t.job_queues, worker, secs);
        let mut batches = Vec::new();
        for (name, kind) in FUNCTIONS {
            if !functions.iter().any(|f| f == name) {
                continue;
            }
            let f = call(name);
            let sql = match kind {
                // Exhausted jobs are grouped by the max_attempts each needs: the function
                // takes one value per call. smallint fits every version's parameter type.
                ActionKind::Retry => format!(
                    "{seen} \
                     SELECT r.id FROM (SELECT (s.attempts + 1)::smallint AS more, \
                       array_agg(s.id) AS ids FROM seen s WHERE s.attempts >= s.max_attempts \
                       GROUP BY s.attempts) g \
                     CROSS JOIN LATERAL {f}(g.ids, run_at => now(), max_attempts => g.more) r \
                     UNION ALL \
                     SELECT r.id FROM {f}(ARRAY(SELECT s.id FROM seen s \
                       WHERE s.attempts < s.max_attempts), run_at => now()) r ORDER BY 1",
                    seen = seen("j.id, j.attempts, j.max_attempts", ""),
                ),
                ActionKind::Discard => format!(
                    "{seen} SELECT r.id FROM {f}(ARRAY(SELECT s.id FROM seen s), $2) r ORDER BY 1",
                    seen = seen("j.id", ""),
                ),
                ActionKind::Delete => format!(
                    "{seen} SELECT r.id FROM {f}(ARRAY(SELECT s.id FROM seen s)) r ORDER BY 1",
                    seen = seen("j.id", ""),
                ),
                _ => format!(
                    "{seen}, \
                     held AS MATERIALIZED (SELECT x.locked_by, count(*) AS n FROM {jobs} x \
                       WHERE x.locked_by IN (SELECT s.locked_by FROM seen s) GROUP BY x.locked_by), \
                     gone AS MATERIALIZED (SELECT h.locked_by FROM held h \
                       WHERE h.n = (SELECT count(*) FROM seen s WHERE s.locked_by = h.locked_by) \
                       AND {gone}), \
                     unlocked AS MATERIALIZED (SELECT {f}(ARRAY(SELECT g.locked_by FROM gone g))) \
                     SELECT s.id FROM seen s JOIN gone g ON g.locked_by = s.locked_by \
                     CROSS JOIN unlocked u ORDER BY 1",
                    seen = seen("j.id, j.locked_by", " AND j.locked_by IS NOT NULL"),
                    gone = gone("h.locked_by", "$2"),
                ),
            };
            batches.push((kind, sql));
        }
        GraphileActions {
            jobs: JobTable {
                from,
                id: "j.id".into(),
                id_type: "bigint".into(),
                created_at: None,
                // The monitor's "queue" is the task identifier (graphile's queues are
                // serialisation lanes most jobs lack); it is the job's kind as well.
                queue: "tk.identifier".into(),
                kind: "tk.identifier".into(),
                states,
                worker: Some("j.locked_by".into()),
                tenant: None,
                error: Some("j.last_error".into()),
                // No heartbeats: a job is stale when its worker is gone.
                stale: Some(gone("j.locked_by", STALE_SECS)),
                batches,
                discard_message: true,
                finished_at: None,
                from_states: Vec::new(),
            },
            jobs_table: jobs.to_string(),
            tasks_table: tasks.to_string(),
        }
    }

    /// Offered where the schema has the admin function the action takes.
    pub fn support(&self, kind: ActionKind) -> Support {
        let why = match kind {
            ActionKind::ResetStuck => {
                "graphile-worker before 0.16 has no force_unlock_workers; it reclaims locks \
                 older than 4 hours itself"
            }
            _ => {
                "this graphile-worker schema lacks the admin function it takes \
                 (reschedule_jobs, permanently_fail_jobs, complete_jobs)"
            }
        };
        Support::when(self.can(kind), why)
    }

    pub fn can(&self, kind: ActionKind) -> bool {
        self.jobs.statement(kind).is_some()
    }

    /// Every job held by a worker that has locked nothing for `stale_after`.
    async fn plan_reset(
        &self,
        pool: &PgPool,
        action: &Action,
        queue: Option<&str>,
        worker: Option<&str>,
        stale_after: Duration,
    ) -> anyhow::Result<Plan> {
        // The stuck list's jobs: running, and held by a gone worker.
        let (Some(running), Some(stale)) = (
            self.jobs.states.condition(JobState::Running),
            self.jobs.stale_condition("$1"),
        ) else {
            anyhow::bail!("this queue schema cannot tell a stuck job from a running one");
        };
        let mut terms = vec![running, stale];
        let mut texts: Vec<&str> = Vec::new();
        if let Some(w) = worker {
            texts.push(w);
            terms.push(format!("j.locked_by = ${}", texts.len() + 1));
        }
        if let Some(q) = queue {
            texts.push(q);
            terms.push(format!(
                "EXISTS (SELECT 1 FROM {jobs} y JOIN {tasks} u ON u.id = y.task_id \
                 WHERE y.locked_by = j.locked_by AND u.identifier = ${})",
                texts.len() + 1,
                jobs = self.jobs_table,
                tasks = self.tasks_table,
            ));
        }
        // Ordered by worker, so a worker's jobs share a batch.
        let sql = format!(
            "SELECT j.id, tk.identifier AS queue, tk.identifier AS kind, j.locked_by AS worker \
             FROM {from} WHERE {terms} ORDER BY j.locked_by, j.id LIMIT {limit}",
            terms = terms.join(" AND "),
            from = self.jobs.from,
            limit = MAX_JOBS_PER_ACTION + 1,
        );
        let mut q = sqlx::query_as::<_, (i64, String, String, String)>(AssertSqlSafe(sql))
            .bind(stale_after.as_secs_f64());
        for t in texts {
            q = q.bind(t);
        }
        let rows = q.fetch_all(pool).await?;
        let mut workers: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
        workers.dedup();
        let rows = rows
            .into_iter()
            .map(|(id, queue, kind, _)| (JobId::Int(id), queue, kind, JobState::Running))
            .collect();
        let mut plan = Plan::from_rows(action.clone(), rows, MAX_JOBS_PER_ACTION);
        if !workers.is_empty() {
            plan.note = Some(format!(
                "graphile-worker keeps no heartbeats: {} locked nothing for {}s, so {} taken \
                 for dead; graphile unlocks whole workers, so every job and job queue {} \
                 released (graphile itself would wait 4 hours)",
                name_list(&workers),
                stale_after.as_secs(),
                if workers.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
                if workers.len() == 1 {
                    "it holds is"
                } else {
                    "they hold is"
                },
            ));
        }
        Ok(plan)
    }
}

#[async_trait]
impl SchemaActions for GraphileActions {
    async fn plan(&self, pool: &PgPool, action: &Action) -> anyhow::Result<Plan> {
        match action {
            Action::ResetStuck {
                queue,
                worker,
                stale_after,
            } if self.can(ActionKind::ResetStuck) => {
                self.plan_reset(
                    pool,
                    action,
                    queue.as_deref(),
                    worker.as_deref(),
                    *stale_after,
                )
                .await
            }
            _ if !self.can(action.kind()) => Err(crate::backend::actions::unsupported(
                "graphile-worker",
                action.kind(),
            )),
            _ => kit::plan(pool, &self.jobs, action).await,
        }
    }

    async fn apply(&self, pool: &PgPool, step: &BatchStep<'_>) -> anyhow::Result<BatchDone> {
        kit::apply_jobs(pool, &self.jobs, step).await
    }
}

/// "`a`", "`a` and `b`", "`a`, `b` and 3 more workers".
fn name_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    let more = names.len().saturating_sub(3);
    match (quoted.as_slice(), more) {
        ([one], _) => format!("worker {one}"),
        (_, 0) => {
            let (last, rest) = quoted.split_last().expect("two or three names");
            format!("workers {} and {last}", rest.join(", "))
        }
        _ => format!("workers {} and {more} more", quoted.join(", ")),
    }
}
