//! A dead-letter pile past the count cap is shown as the planner's estimate ("~3k"), which the
//! schema's (queue, state) statistics keep close to the truth even when the pile sits in one
//! queue.

use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Count, Overview, Snapshot, SnapshotOptions};

use crate::common::{self, exec};

fn dead(snap: &Snapshot, queue: &str) -> Count {
    snap.queues.iter().find(|q| q.name == queue).unwrap().dead
}

#[tokio::test]
async fn dead_piles_past_the_cap_show_the_planners_estimate() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(
        pool,
        "INSERT INTO jobtop.queues (name) VALUES ('webhooks'), ('mail')",
    )
    .await;
    // 3,000 dead in one queue; the other has 20 dead among 3,000 succeeded. Counted column
    // by column, half of each queue would look dead.
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'webhooks', 'hook.deliver', 'dead', now() FROM generate_series(1, 3000)",
    )
    .await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'mail', 'mail.send', CASE WHEN g <= 20 THEN 'dead' ELSE 'succeeded' END::jobtop.job_state,
                now() - interval '2 hours'
         FROM generate_series(1, 3020) g",
    )
    .await;
    exec(pool, "ANALYZE jobtop.jobs").await;

    let snap = NativeBackend::new(pool.clone())
        .snapshot(&SnapshotOptions {
            count_cap: 100,
            ..SnapshotOptions::default()
        })
        .await
        .unwrap();
    let webhooks = dead(&snap, "webhooks");
    assert!(webhooks.estimated && !webhooks.capped, "{webhooks:?}");
    assert!(
        (2850..=3150).contains(&webhooks.value),
        "within 5% of 3,000: {webhooks:?}"
    );
    assert_eq!(
        dead(&snap, "mail"),
        Count::exact(20),
        "under the cap: counted"
    );

    let snap = NativeBackend::new(pool.clone())
        .snapshot(&SnapshotOptions {
            count_cap: 10,
            ..SnapshotOptions::default()
        })
        .await
        .unwrap();
    let mail = dead(&snap, "mail");
    assert!(mail.estimated, "{mail:?}");
    assert!((15..=25).contains(&mail.value), "about 20: {mail:?}");
}

#[tokio::test]
async fn scheduled_piles_past_100_are_estimated_small_ones_counted() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(
        pool,
        "INSERT INTO jobtop.queues (name) VALUES ('digest'), ('mail')",
    )
    .await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, run_at)
         SELECT 'digest', 'digest.weekly', now() + g * interval '1 minute'
         FROM generate_series(1, 2000) g",
    )
    .await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, run_at)
         SELECT 'mail', 'mail.send', now() + interval '1 hour' FROM generate_series(1, 40)",
    )
    .await;
    let backend = NativeBackend::new(pool.clone());
    let opts = SnapshotOptions {
        count_cap: 1_000,
        ..SnapshotOptions::default()
    };
    // Before ANALYZE the planner knows nothing: the count says "100+", never a guess.
    let snap = backend.snapshot(&opts).await.unwrap();
    let digest = snap.queues.iter().find(|q| q.name == "digest").unwrap();
    assert!(
        digest.scheduled == Count::capped_at(101, 100) || digest.scheduled.estimated,
        "{:?}",
        digest.scheduled
    );

    exec(pool, "ANALYZE jobtop.jobs").await;
    let snap = NativeBackend::new(pool.clone())
        .snapshot(&opts)
        .await
        .unwrap();
    let digest = snap.queues.iter().find(|q| q.name == "digest").unwrap();
    assert!(digest.scheduled.estimated, "{:?}", digest.scheduled);
    assert!(
        (1800..=2200).contains(&digest.scheduled.value),
        "about 2,000: {:?}",
        digest.scheduled
    );
    let mail = snap.queues.iter().find(|q| q.name == "mail").unwrap();
    assert_eq!(mail.scheduled, Count::exact(40));
}

/// After an outage a queue's worth of jobs backs off at once: past 100 they are estimated,
/// while the ones due now (ready) stay counted exactly.
#[tokio::test]
async fn retrying_piles_past_100_are_estimated_ready_ones_counted() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, "INSERT INTO jobtop.queues (name) VALUES ('hooks')").await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, attempts, run_at)
         SELECT 'hooks', 'hook.deliver', 'retrying', 1, now() + g * interval '1 second'
         FROM generate_series(1, 3000) g",
    )
    .await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, attempts, run_at)
         SELECT 'hooks', 'hook.deliver', 'retrying', 1, now() - interval '1 minute'
         FROM generate_series(1, 250)",
    )
    .await;
    exec(pool, "ANALYZE jobtop.jobs").await;
    let snap = NativeBackend::new(pool.clone())
        .snapshot(&SnapshotOptions::default())
        .await
        .unwrap();
    let hooks = snap.queues.iter().find(|q| q.name == "hooks").unwrap();
    assert!(hooks.retrying.estimated, "{:?}", hooks.retrying);
    assert!(
        (2700..=3300).contains(&hooks.retrying.value),
        "about 3,000: {:?}",
        hooks.retrying
    );
    assert_eq!(hooks.ready, Count::exact(250));
}

/// The case a new user hit: 672 dead jobs shown as the planner's `~680`, then
/// `retry --limit 300`; the statistics lag until the next analyze, so the queue acted on is
/// counted exactly from the next poll on, on the reference schema and on River alike.
#[tokio::test]
async fn after_a_retry_the_dead_pile_is_counted_exactly_until_the_next_analyze() {
    use jobtop::backend::gate::Gate;
    use jobtop::backend::{Action, Backend, JobFilter, JobState, JobTarget};

    let db = common::test_db().await;
    let pool = &db.pool;
    exec(pool, "INSERT INTO jobtop.queues (name) VALUES ('webhooks')").await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'webhooks', 'hook.deliver', 'dead', now() FROM generate_series(1, 672)",
    )
    .await;
    common::load(pool, common::fixture::RIVER).await;
    exec(
        pool,
        "INSERT INTO river_job (state, kind, queue, attempt, max_attempts, attempted_at, finalized_at, args)
         SELECT 'discarded', 'hook', 'hooks', 3, 3, now(), now(), '{}' FROM generate_series(1, 672)",
    )
    .await;
    // pg-boss's jobs are read through a join with its queue table, into partitions.
    common::load(pool, common::fixture::PGBOSS).await;
    exec(
        pool,
        "INSERT INTO pgboss.job (name, state, retry_count, started_on, completed_on, output)
         SELECT 'emails', 'failed', 2, now(), now(), '{\"message\": \"boom\"}'
         FROM generate_series(1, 672)",
    )
    .await;
    exec(
        pool,
        "ANALYZE jobtop.jobs; ANALYZE river_job; ANALYZE pgboss.job",
    )
    .await;

    let native = Backend::new(jobtop::backend::native::NativeBackend::new(pool.clone()));
    let river = jobtop::backend::Backend::new(
        jobtop::backend::river::open(pool.clone(), "public")
            .await
            .unwrap(),
    );
    let pgboss = Backend::new(
        jobtop::backend::pgboss::open(pool.clone(), "pgboss")
            .await
            .unwrap(),
    );
    // One audit table serves all three: each acts on a queue of its own.
    for (backend, queue, after) in [
        (native, "webhooks", 372),
        (river, "hooks", 372),
        (pgboss, "emails", 374),
    ] {
        let name = backend.name();
        let opts = crate::helpers::OPTS;
        let before = backend.overview().snapshot(&opts).await.unwrap();
        let shown = dead(&before, queue);
        assert!(
            shown.estimated,
            "{name}: past the pile cap, estimated: {shown:?}"
        );

        let gate = Gate::with_actor(backend.clone(), false, "test".into());
        let plan = gate
            .plan(&Action::Retry(JobTarget::Matching {
                filter: JobFilter::queue(queue, JobState::Dead),
                limit: Some(300),
            }))
            .await
            .unwrap();
        let done = crate::helpers::run(&gate, &plan).await;
        assert_eq!(done.changed, 300, "{name}");

        let after_retry = backend.overview().snapshot(&opts).await.unwrap();
        assert_eq!(
            dead(&after_retry, queue),
            Count::exact(after),
            "{name}: the next poll reads right"
        );
    }
}

/// A home-grown table read through a profile counts its scheduled jobs past the pile cap in
/// one pass rather than take the planner's estimate: the planner treats their run-at time as
/// unrelated to the status and the type (at 10 M rows it put a type's 14,793 scheduled jobs
/// at ~167), and a month of finished jobs due in the past makes it say "100+" here.
#[tokio::test]
async fn a_profiles_scheduled_pile_past_100_is_counted_in_a_pass_with_doctors_index() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::JOBFORGE).await;
    exec(
        pool,
        "INSERT INTO jobforge_jobs (tenant_id, type, status, attempts, run_at, started_at, finished_at)
         SELECT 't', 'report.build', 'succeeded', 1, now() - g * interval '15 seconds',
                now() - g * interval '15 seconds', now() - g * interval '15 seconds'
         FROM generate_series(1, 150000) g;
         INSERT INTO jobforge_jobs (tenant_id, type, status, run_at)
         SELECT 't', 'report.build', 'queued', now() + interval '1 day' FROM generate_series(1, 3000);
         CREATE INDEX jobforge_jobs_jobtop_live ON jobforge_jobs (status, type, run_at)
         WHERE status IN ('queued', 'running', 'failed', 'dead');
         ANALYZE jobforge_jobs",
    )
    .await;
    let (bytes, truth): (i64, i64) = sqlx::query_as(
        "SELECT pg_table_size('jobforge_jobs'), (SELECT count(*) FROM jobforge_jobs
           WHERE type = 'report.build' AND status = 'queued' AND run_at > now() AND attempts = 0)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(
        bytes > jobtop::backend::pg::catalog::SMALL_TABLE_BYTES,
        "the pass is on its slower clock only on a big table: {bytes} bytes"
    );
    let backend = jobtop::backend::mapped::open(
        pool.clone(),
        jobtop::backend::mapped::Profile::shipped("jobforge").unwrap(),
        None,
    )
    .await
    .unwrap();
    let scheduled = |s: &Snapshot| {
        s.queues
            .iter()
            .find(|q| q.name == "report.build")
            .unwrap()
            .scheduled
    };
    let opts = SnapshotOptions::default();
    let first = backend.snapshot(&opts).await.unwrap();
    assert_eq!(
        scheduled(&first),
        Count::exact(truth),
        "the pass, taken now"
    );
    let next = backend.snapshot(&opts).await.unwrap();
    assert_eq!(
        (scheduled(&next).value, scheduled(&next).estimated),
        (truth, true),
        "the same pass until the next one: marked ~"
    );
}

/// pg-boss tells a job due later from a ready one by `start_after` alone: its scheduled
/// and retrying jobs (with the jobs waiting on others, scheduled too) are counted in one
/// pass, as a profile's are, since the planner puts a queue's pile at a fraction of itself
/// ("100+" for 1,737 at 2 M rows, and here).
#[tokio::test]
async fn pgboss_scheduled_jobs_past_100_are_counted_in_a_pass_not_estimated() {
    let db = common::test_db().await;
    let pool = &db.pool;
    common::load(pool, common::fixture::PGBOSS).await;
    exec(
        pool,
        "INSERT INTO pgboss.job (name, state, start_after, started_on, completed_on)
         SELECT 'emails', 'completed', now() - g * interval '15 seconds',
                now() - g * interval '15 seconds', now() - g * interval '15 seconds'
         FROM generate_series(1, 150000) g;
         INSERT INTO pgboss.job (name, state, start_after)
         SELECT 'emails', 'created', now() + interval '1 day' FROM generate_series(1, 3000);
         INSERT INTO pgboss.job (name, state, retry_count, start_after)
         SELECT 'emails', 'retry', 1, now() + interval '1 hour' FROM generate_series(1, 300);
         ANALYZE pgboss.job",
    )
    .await;
    let (scheduled, retrying): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'created' AND NOT blocked AND start_after > now()
                                    OR state IN ('created', 'retry') AND blocked),
                count(*) FILTER (WHERE state = 'retry' AND NOT blocked AND start_after > now())
         FROM pgboss.job WHERE name = 'emails'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let backend = jobtop::backend::pgboss::open(pool.clone(), "pgboss")
        .await
        .unwrap();
    let emails = |s: &Snapshot| {
        let q = s.queues.iter().find(|q| q.name == "emails").unwrap();
        (q.scheduled, q.retrying)
    };
    let opts = SnapshotOptions::default();
    let first = backend.snapshot(&opts).await.unwrap();
    assert!(scheduled > 3000 && retrying >= 300);
    assert_eq!(
        emails(&first),
        (Count::exact(scheduled), Count::exact(retrying)),
        "the pass, taken now"
    );
    let next = emails(&backend.snapshot(&opts).await.unwrap());
    assert_eq!(
        (
            next.0.value,
            next.0.estimated,
            next.1.value,
            next.1.estimated
        ),
        (scheduled, true, retrying, true),
        "the same pass until the next one: marked ~"
    );
}

/// Scheduled jobs among a month of finished ones, on the reference schema and River's: the
/// planner takes the due time as unrelated to the state, and put such a pile at "100+";
/// estimated by the one column that tells them, it reads near the truth.
#[tokio::test]
async fn scheduled_piles_among_finished_jobs_are_estimated_near_their_size() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(
        pool,
        "INSERT INTO jobtop.queues (name) VALUES ('reports');
         INSERT INTO jobtop.jobs (queue, kind, state, run_at, started_at, finished_at)
         SELECT 'reports', 'report', 'succeeded', now() - g * interval '15 seconds',
                now() - g * interval '15 seconds', now() - g * interval '15 seconds'
         FROM generate_series(1, 150000) g;
         INSERT INTO jobtop.jobs (queue, kind, run_at)
         SELECT 'reports', 'report', now() + interval '1 day' FROM generate_series(1, 3000);
         ANALYZE jobtop.jobs",
    )
    .await;
    common::load(pool, common::fixture::RIVER).await;
    exec(
        pool,
        "INSERT INTO river_job (state, kind, queue, attempt, max_attempts, scheduled_at, attempted_at, finalized_at, args)
         SELECT 'completed', 'report', 'reports', 1, 25, now() - g * interval '15 seconds',
                now() - g * interval '15 seconds', now() - g * interval '15 seconds', '{}'
         FROM generate_series(1, 150000) g;
         INSERT INTO river_job (state, kind, queue, max_attempts, scheduled_at, args)
         SELECT 'scheduled', 'report', 'reports', 25, now() + interval '1 day', '{}'
         FROM generate_series(1, 3000);
         ANALYZE river_job",
    )
    .await;
    let native = jobtop::backend::Backend::new(NativeBackend::new(pool.clone()));
    let river = jobtop::backend::Backend::new(
        jobtop::backend::river::open(pool.clone(), "public")
            .await
            .unwrap(),
    );
    for backend in [native, river] {
        let name = backend.name();
        let s = backend
            .overview()
            .snapshot(&crate::helpers::OPTS)
            .await
            .unwrap();
        let reports = s.queues.iter().find(|q| q.name == "reports").unwrap();
        let scheduled = reports.scheduled;
        assert!(
            scheduled.estimated && (2500..=3600).contains(&scheduled.value),
            "{name}: {scheduled:?}"
        );
    }
}
