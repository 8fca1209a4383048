//! procrastinate's periodic tasks as the database knows them: `procrastinate_periodic_defers`,
//! where its worker notes each periodic defer (task, periodic id, the timestamp it was due)
//! and keeps only the newest per task. That defer's job tells how the last run went; its end
//! is the job's last final event (`procrastinate_events` on its `job_id` index). The
//! schedule itself lives in the application's code.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::{Found, SCHEDULES_LIMIT, group};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "procrastinate";

const DEFERS_SQL: &str = r#"
SELECT d.task_name, d.periodic_id, d.id, to_timestamp(d.defer_timestamp), j.id, j.status::text,
       (SELECT max(e.at) FROM {schema}.procrastinate_events e
        WHERE e.job_id = j.id AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted'))
FROM {schema}.procrastinate_periodic_defers d
LEFT JOIN {schema}.procrastinate_jobs j ON j.id = d.job_id
ORDER BY d.task_name, d.periodic_id, d.defer_timestamp DESC
LIMIT $1
"#;

type Row = (
    String,
    String,
    i64,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn id_of(r: &Row) -> String {
    match r.1.as_str() {
        "" => r.0.clone(),
        periodic => format!("{}[{periodic}]", r.0),
    }
}

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let sql = DEFERS_SQL.replace("{schema}", &ident(schema));
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(SCHEDULES_LIMIT)
        .fetch_all(pool)
        .await?;
    let found = group(
        rows,
        id_of,
        |r| Found {
            id: id_of(r),
            name: id_of(r),
            command: Some(r.0.clone()),
            active: true,
            ..Found::default()
        },
        |r| {
            let status = match r.5.as_deref() {
                Some("succeeded") => RunStatus::Succeeded,
                Some("failed" | "cancelled" | "aborted") => RunStatus::Failed,
                Some("doing") => RunStatus::Running,
                Some(_) => RunStatus::Queued,
                // Its job was deleted: the defer is all that is left.
                None => RunStatus::Fired,
            };
            Some(ScheduleRun {
                id: r
                    .4
                    .map_or_else(|| format!("defer {}", r.2), |job| job.to_string()),
                started_at: r.3,
                ended_at: r.6,
                status,
                message: match r.5.as_deref() {
                    Some(s @ ("failed" | "cancelled" | "aborted")) => Some(format!("job {s}")),
                    _ => None,
                },
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}
