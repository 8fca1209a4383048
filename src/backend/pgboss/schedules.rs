//! pg-boss's own schedules: its `schedule` table (queue name, since 12 a `key` for several
//! schedules of one queue, cron, timezone). Its cron pass sends each due occurrence as a job
//! of the schedule's queue, and since 12.x notes that job in `last_job_id`: the last run is
//! that job, read by its key (name, id). pg-boss keeps no other link from a schedule to its
//! jobs, so one run is what it can tell; "sent" is when the run starts here.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::pg::sql::ident;
use crate::backend::schedules::queues::{Found, MESSAGE_CHARS, SCHEDULES_LIMIT, group, zone};
use crate::backend::schedules::{RunStatus, Schedule, ScheduleRun};

pub const SOURCE: &str = "pg-boss";

/// Which optional columns this version's `schedule` has: (`key`, `last_job_id`).
const COLUMNS_SQL: &str = r#"
SELECT EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = to_regclass(quote_ident($1) || '.schedule')
                 AND a.attname = 'key' AND NOT a.attisdropped),
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = to_regclass(quote_ident($1) || '.schedule')
                 AND a.attname = 'last_job_id' AND NOT a.attisdropped)
"#;

/// Each schedule with the job it last sent, where the version notes it.
const SCHEDULES_SQL: &str = r#"
SELECT s.name, {key} AS key, s.cron, s.timezone, s.created_on, {noted} AS noted,
       j.id::text, j.state::text, j.created_on, j.completed_on,
       left(coalesce(j.output ->> 'message', j.output::text), $2)
FROM {schema}.schedule s
LEFT JOIN {schema}.job j ON {join}
ORDER BY s.name, 2
LIMIT $1
"#;

type Row = (
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    bool,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

/// Whether this version keys a queue's schedules (`key`, pg-boss 12 on).
pub async fn keyed(pool: &PgPool, schema: &str) -> anyhow::Result<bool> {
    let (key, _): (bool, bool) = sqlx::query_as(COLUMNS_SQL)
        .bind(schema)
        .fetch_one(pool)
        .await?;
    Ok(key)
}

/// A schedule's id: its queue name and key, as a JSON pair (both may hold any character).
pub fn id_of(name: &str, key: &str) -> String {
    serde_json::json!([name, key]).to_string()
}

/// The queue name and key of an id made by `id_of`.
pub fn parse_id(id: &str) -> anyhow::Result<(String, String)> {
    let (name, key): (String, String) = serde_json::from_str(id)
        .map_err(|_| anyhow::anyhow!("`{id}` is not a pg-boss schedule id"))?;
    Ok((name, key))
}

pub async fn read(
    pool: &PgPool,
    schema: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Schedule>> {
    let (keyed, noted): (bool, bool) = sqlx::query_as(COLUMNS_SQL)
        .bind(schema)
        .fetch_one(pool)
        .await?;
    let sql = SCHEDULES_SQL
        .replace("{schema}", &ident(schema))
        .replace("{key}", if keyed { "s.key" } else { "''::text" })
        .replace(
            "{noted}",
            if noted {
                "s.last_job_id IS NOT NULL"
            } else {
                "false"
            },
        )
        .replace(
            "{join}",
            if noted {
                "j.name = s.name AND j.id = s.last_job_id"
            } else {
                "false"
            },
        );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(SCHEDULES_LIMIT)
        .bind(MESSAGE_CHARS)
        .fetch_all(pool)
        .await?;
    let found = group(
        rows,
        |r| id_of(&r.0, &r.1),
        |r| Found {
            id: id_of(&r.0, &r.1),
            name: if r.1.is_empty() {
                r.0.clone()
            } else {
                format!("{}/{}", r.0, r.1)
            },
            expression: r.2.clone(),
            timezone: zone(r.3.clone()),
            command: Some(format!("send to queue {}", r.0)),
            active: true,
            // Never sent since it was made: its whole history is known, and empty. A job
            // noted but gone (pg-boss deleted it) tells nothing.
            runs_read_since: (noted && !r.5).then_some(r.4),
            whole: noted && !r.5,
            ..Found::default()
        },
        run,
    );
    Ok(found.into_iter().map(|f| f.finish(SOURCE, now)).collect())
}

fn run(r: &Row) -> Option<ScheduleRun> {
    let (id, state) = (r.6.clone()?, r.7.as_deref()?);
    let status = match state {
        "completed" => RunStatus::Succeeded,
        "failed" | "cancelled" => RunStatus::Failed,
        "active" => RunStatus::Running,
        // created, retry: waiting for a worker.
        _ => RunStatus::Queued,
    };
    let message = match state {
        "cancelled" => Some("cancelled".to_string()),
        "completed" => None,
        _ => r.10.clone(),
    };
    Some(ScheduleRun {
        id,
        started_at: r.8,
        ended_at: r.9,
        status,
        message: message.filter(|m| !m.is_empty()),
        message_len: None,
    })
}
