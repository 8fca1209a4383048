//! The queue systems' own schedules, each read where the system keeps it, on fixtures that
//! follow their schemas: Oban's and River's jobs marked as cron/periodic in their metadata,
//! good_job's `cron_key` jobs and its disabled keys, procrastinate's periodic defers (made by
//! its own SQL function). The real clients' schedules (pg-boss, graphile-worker) are in
//! `real_clients/`.

use chrono::{Timelike, Utc};
use sqlx::PgPool;

use jobtop::backend::schedules::queues;
use jobtop::backend::schedules::{RunStatus, Schedule};

use crate::common::fixture::{GOODJOB, OBAN, PROCRASTINATE, RIVER};
use crate::common::{self, exec, pypi};

async fn read(pool: &PgPool, backend: &str, schema: &str) -> Vec<Schedule> {
    assert!(queues::present(pool, backend, schema).await.unwrap());
    queues::read(pool, backend, schema, Utc::now())
        .await
        .unwrap()
}

fn statuses(s: &Schedule) -> Vec<RunStatus> {
    s.runs.iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn oban_cron_jobs_by_their_meta() {
    let db = common::test_db().await;
    exec(&db.pool, OBAN).await;
    exec(
        &db.pool,
        r#"INSERT INTO oban_jobs (state, queue, worker, scheduled_at, attempt, errors, completed_at, discarded_at, meta) VALUES
  ('completed', 'default', 'App.Digest', timezone('UTC', now()) - interval '30 minutes', 1, '{}', timezone('UTC', now()) - interval '29 minutes', NULL,
   '{"cron": true, "cron_expr": "*/10 * * * *", "cron_name": "digest", "cron_tz": "Etc/UTC"}'),
  ('discarded', 'default', 'App.Digest', timezone('UTC', now()) - interval '20 minutes', 1,
   ARRAY['{"at": "2026-01-01T00:00:00Z", "attempt": 1, "error": "** (RuntimeError) smtp down"}'::jsonb], NULL, timezone('UTC', now()) - interval '19 minutes',
   '{"cron": true, "cron_expr": "*/10 * * * *", "cron_name": "digest", "cron_tz": "Etc/UTC"}'),
  ('executing', 'default', 'App.Sweep', timezone('UTC', now()) - interval '1 minute', 1, '{}', NULL, NULL,
   '{"cron": true, "cron_expr": "0 * * * *", "cron_tz": "Europe/Paris"}')"#,
    )
    .await;
    let found = read(&db.pool, "oban", "public").await;
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["App.Sweep", "digest"]);
    let digest = &found[1];
    assert_eq!(digest.source, "oban");
    assert_eq!(digest.expression, "*/10 * * * *");
    assert_eq!(digest.timezone, None);
    assert_eq!(digest.command.as_deref(), Some("App.Digest"));
    assert_eq!(statuses(digest), [RunStatus::Failed, RunStatus::Succeeded]);
    assert_eq!(
        digest.last_run().unwrap().message.as_deref(),
        Some("** (RuntimeError) smtp down")
    );
    assert_eq!(digest.failures_24h.value, 1);
    assert!(
        !digest.failures_24h.capped,
        "the window holds the whole table"
    );
    assert_eq!(digest.period_seconds, Some(600.0));
    // Its last run was due 20 minutes ago, every 10 minutes since: missed.
    let due = digest
        .missed_since(Utc::now(), chrono::Duration::seconds(30))
        .expect("missed");
    assert_eq!((due.minute() % 10, due.second()), (0, 0));
    let sweep = &found[0];
    assert_eq!(sweep.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(sweep.next_due_at, None, "not read in another zone");
    assert_eq!(statuses(sweep), [RunStatus::Running]);
}

#[tokio::test]
async fn river_periodic_jobs_by_their_metadata() {
    let db = common::test_db().await;
    exec(&db.pool, RIVER).await;
    exec(
        &db.pool,
        r#"INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at, attempt, attempted_at, errors, finalized_at, metadata) VALUES
  ('{}', 'completed', 'reindex', 'default', 1, now() - interval '2 hours', 1, now() - interval '2 hours', NULL, now() - interval '2 hours', '{"periodic": true, "river:periodic_job_id": "nightly_reindex"}'),
  ('{}', 'retryable', 'reindex', 'default', 1, now() - interval '1 hour', 1, now() - interval '1 hour',
   ARRAY['{"at": "2026-01-01T00:00:00Z", "attempt": 1, "error": "index locked"}'::jsonb], NULL, '{"periodic": true, "river:periodic_job_id": "nightly_reindex"}'),
  ('{}', 'available', 'prune', 'default', 1, now(), 0, NULL, NULL, NULL, '{"periodic": true}')"#,
    )
    .await;
    let found = read(&db.pool, "river", "public").await;
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["nightly_reindex", "prune"]);
    let reindex = &found[0];
    assert_eq!(reindex.expression, "", "River keeps no expression");
    assert_eq!(reindex.next_due_at, None);
    assert_eq!(statuses(reindex), [RunStatus::Queued, RunStatus::Succeeded]);
    assert_eq!(
        reindex.last_run().unwrap().message.as_deref(),
        Some("index locked")
    );
    assert_eq!(reindex.failures_24h.value, 0);
    assert_eq!(
        reindex.missed_since(Utc::now(), chrono::Duration::seconds(1)),
        None
    );
    assert_eq!(statuses(&found[1]), [RunStatus::Queued]);
}

#[tokio::test]
async fn good_job_cron_keys_and_disabled_entries() {
    let db = common::test_db().await;
    exec(&db.pool, GOODJOB).await;
    exec(
        &db.pool,
        r#"INSERT INTO good_jobs (id, active_job_id, queue_name, priority, serialized_params, scheduled_at,
   performed_at, finished_at, error, created_at, updated_at, job_class, executions_count, cron_key, cron_at) VALUES
  (gen_random_uuid(), gen_random_uuid(), 'default', 0, '{}', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', NULL,
   timezone('UTC', now()) - interval '2 days', now(), 'CleanupJob', 1, 'cleanup', timezone('UTC', now()) - interval '2 days'),
  (gen_random_uuid(), gen_random_uuid(), 'default', 0, '{}', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day',
   'ActiveRecord::Deadlocked: deadlock detected', timezone('UTC', now()) - interval '1 hour', now(), 'CleanupJob', 1, 'cleanup', timezone('UTC', now()) - interval '1 hour'),
  (gen_random_uuid(), gen_random_uuid(), 'default', 0, '{}', now(), NULL, NULL, NULL,
   timezone('UTC', now()), now(), 'DigestJob', 0, 'digest', timezone('UTC', now()));
INSERT INTO good_job_settings (created_at, updated_at, key, value)
VALUES (now(), now(), 'cron_keys_disabled', '["digest"]')"#,
    )
    .await;
    let found = read(&db.pool, "good_job", "public").await;
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cleanup", "digest"]);
    let cleanup = &found[0];
    assert!(cleanup.active);
    assert_eq!(statuses(cleanup), [RunStatus::Failed, RunStatus::Succeeded]);
    assert_eq!(
        cleanup.last_run().unwrap().message.as_deref(),
        Some("ActiveRecord::Deadlocked: deadlock detected")
    );
    assert_eq!(cleanup.failures_24h.value, 1);
    assert!(!cleanup.failures_24h.capped);
    let digest = &found[1];
    assert!(!digest.active, "disabled in good_job_settings");
    assert_eq!(statuses(digest), [RunStatus::Queued]);
}

#[tokio::test]
async fn procrastinate_periodic_defers_by_its_own_function() {
    let Some(schema) = pypi::procrastinate_schema() else {
        return;
    };
    let db = common::test_db().await;
    exec(&db.pool, &format!("{schema}\n{PROCRASTINATE}")).await;
    // What its worker's periodic deferrer calls: two ticks of one task, the newest kept.
    exec(
        &db.pool,
        "SELECT procrastinate_defer_periodic_job_v2('default', NULL, NULL, 'app.sweep', 0, '', \
           extract(epoch FROM now())::bigint - 120, '{\"timestamp\": 1}');
         SELECT procrastinate_defer_periodic_job_v2('default', NULL, NULL, 'app.sweep', 0, '', \
           extract(epoch FROM now())::bigint - 60, '{\"timestamp\": 2}');",
    )
    .await;
    let found = read(&db.pool, "procrastinate", "public").await;
    assert_eq!(found.len(), 1);
    let sweep = &found[0];
    assert_eq!(sweep.name, "app.sweep");
    assert_eq!(sweep.expression, "");
    assert_eq!(statuses(sweep), [RunStatus::Queued], "its job waits (todo)");
    let started = sweep.last_run().unwrap().started_at.unwrap();
    let ago = (Utc::now() - started).num_seconds();
    assert!((59..=62).contains(&ago), "due a minute ago, not {ago} s");
}
