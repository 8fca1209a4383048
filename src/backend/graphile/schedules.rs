//! graphile-worker's crontab as the database knows it: `_private_known_crontabs`, one row
//! per crontab item a worker has seen (its identifier, since when, and when it last fired).
//! The expression lives in the application's crontab file and the job it fires is deleted
//! once done, so a run here is "fired at", with no outcome.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::{Found, SCHEDULES_LIMIT, group};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "graphile-worker";

const CRONTABS_SQL: &str = r#"
SELECT c.identifier, c.known_since, c.last_execution
FROM {schema}._private_known_crontabs c
ORDER BY c.identifier
LIMIT $1
"#;

type Row = (String, DateTime<Utc>, Option<DateTime<Utc>>);

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let sql = CRONTABS_SQL.replace("{schema}", &ident(schema));
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(SCHEDULES_LIMIT)
        .fetch_all(pool)
        .await?;
    let found = group(
        rows,
        |r| r.0.clone(),
        |r| Found {
            id: r.0.clone(),
            name: r.0.clone(),
            active: true,
            // Only the last firing is kept: the history is that one, or none since known.
            runs_read_since: Some(r.1),
            whole: r.2.is_none(),
            ..Found::default()
        },
        |r| {
            r.2.map(|at| ScheduleRun {
                id: at.timestamp().to_string(),
                started_at: Some(at),
                ended_at: None,
                status: RunStatus::Fired,
                message: None,
                message_len: None,
            })
        },
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}
