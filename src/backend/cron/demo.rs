//! The demo's pg_cron jobs, where the demo cluster could preload pg_cron: one that always
//! works and one that fails about a third of the time, both every minute.

use sqlx::PgPool;

/// `cron.schedule` replaces a job of the same name, so a demo run on an old database
/// leaves no duplicates.
const SCHEDULE_SQL: &str = "SELECT cron.schedule($1, $2, $3)";

pub const JOBS: [(&str, &str, &str); 2] = [
    (
        "demo_rollup",
        "* * * * *",
        "SELECT count(*) FROM jobtop.jobs WHERE state = 'succeeded'",
    ),
    (
        "demo_flaky_report",
        "* * * * *",
        // The divisor is computed per run: a constant `1 / 0` would fail every run.
        "SELECT 1 / (random() >= 0.33)::int",
    ),
];

pub async fn schedule_jobs(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_cron")
        .execute(pool)
        .await?;
    for (name, every, command) in JOBS {
        sqlx::query(SCHEDULE_SQL)
            .bind(name)
            .bind(every)
            .bind(command)
            .execute(pool)
            .await?;
    }
    Ok(())
}
