//! A kind's failed attempts grouped by error signature (`Reads::failed_attempts`), where the
//! kinds view leads for a kind that fails without dead jobs: on every schema that keeps
//! failed attempts, against its fixture (or the project's own package and functions), each
//! group's attempts are of that kind, the total agrees with the kinds view's FAILED where
//! the schema stamps each attempt, and the read stops at its limit.

use jobtop::backend::detect::{self, Selection};
use jobtop::backend::drill::{
    DeadLetterReport, FailedAttemptsQuery, HistoryWindow, KindsQuery, NO_FAILED_ATTEMPTS,
};
use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Backend, Reads};
use sqlx::PgPool;

use crate::common::fixture::{GOODJOB, GRAPHILE, OBAN, PGBOSS, PGQUEUER, RIVER, SOLIDQUEUE};
use crate::common::{self, exec, pypi};

const WINDOW: HistoryWindow = HistoryWindow::Week;

async fn opened(pool: &PgPool, script: &str) -> Backend {
    exec(pool, script).await;
    detect::resolve(pool, &Selection::default())
        .await
        .expect("the fixture's schema is found")
        .1
}

async fn attempts(backend: &dyn Reads, kind: &str, limit: i64) -> DeadLetterReport {
    backend
        .failed_attempts(&FailedAttemptsQuery {
            kind: kind.into(),
            window: WINDOW,
            limit,
        })
        .await
        .unwrap()
}

/// Every kind with failures in the week: its attempts grouped, each group of that kind
/// only with one id per attempt, newest first; with `per_attempt` (the schema stamps each
/// attempt) as many as the kinds view counts, else at least its dead jobs (a job waiting
/// for its retry adds its last error). A limit of one reads one attempt and says how far
/// back that reaches.
/// Returns (kind, dead, attempts read) for each.
async fn consistent(backend: &dyn Reads, per_attempt: bool) -> Vec<(String, i64, i64)> {
    let name = backend.name();
    let kinds = backend
        .kinds(&KindsQuery {
            window: WINDOW,
            limit: 10_000,
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    for k in kinds.kinds.iter().filter(|k| k.failed_attempts > 0) {
        let report = attempts(backend, &k.kind, 10_000).await;
        assert!(!report.capped, "{name} {}: {report:#?}", k.kind);
        for g in &report.groups {
            assert_eq!(g.kinds, vec![(k.kind.clone(), g.count)], "{name}: {g:#?}");
            // A job that failed twice is one id of two attempts.
            assert!(g.count >= g.ids.len() as i64, "{name}: {g:#?}");
            assert!(g.first_seen <= g.last_seen, "{name}: {g:#?}");
            let newest = backend
                .job(&g.ids[0], &Default::default())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: the sample job {} exists", g.ids[0]));
            assert_eq!(newest.job.kind, k.kind, "{name}");
        }
        let total: i64 = report.groups.iter().map(|g| g.count).sum();
        assert_eq!(report.jobs, total, "{name} {}", k.kind);
        if per_attempt {
            assert_eq!(total, k.failed_attempts, "{name} {}: {report:#?}", k.kind);
        } else {
            assert!(total >= k.dead.max(1), "{name} {}: {report:#?}", k.kind);
        }
        let one = attempts(backend, &k.kind, 1).await;
        assert_eq!(one.jobs, 1, "{name} {}", k.kind);
        assert!(
            one.capped && one.covered_since.is_some(),
            "{name} {}",
            k.kind
        );
        out.push((k.kind.clone(), k.dead, total));
    }
    assert!(!out.is_empty(), "{name}: a kind that failed: {kinds:#?}");
    out
}

#[tokio::test]
async fn river_attempts_from_the_errors_array() {
    let db = common::test_db().await;
    let backend = opened(&db.pool, RIVER).await;
    // `webhook` fails and is retried, as River leaves it: retryable, one error per attempt.
    exec(
        &db.pool,
        "INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at, attempt, \
           attempted_at, attempted_by, errors) VALUES \
         ('{}', 'retryable', 'webhook', 'default', 1, now() + interval '1 minute', 2, \
           now() - interval '2 minutes', '{client-a}', ARRAY[ \
           jsonb_build_object('at', now() - interval '9 minutes', 'attempt', 1, \
             'error', 'HTTP 502 from hooks.example', 'trace', ''), \
           jsonb_build_object('at', now() - interval '2 minutes', 'attempt', 2, \
             'error', 'HTTP 503 from hooks.example', 'trace', '')])",
    )
    .await;
    let found = consistent(&**backend.reads(), true).await;
    assert!(found.contains(&("webhook".to_string(), 0, 2)), "{found:?}");
    let report = attempts(&**backend.reads(), "webhook", 100).await;
    assert_eq!(report.groups.len(), 1, "{report:#?}");
    assert_eq!(report.groups[0].signature, "HTTP <n> from hooks.example");
}

#[tokio::test]
async fn oban_attempts_from_the_errors_array() {
    let db = common::test_db().await;
    let backend = opened(&db.pool, OBAN).await;
    // `App.Hook` fails and is retried, as Oban leaves it.
    exec(
        &db.pool,
        "INSERT INTO oban_jobs (state, queue, worker, priority, scheduled_at, attempt, \
           attempted_by, errors) VALUES \
         ('retryable', 'default', 'App.Hook', 0, timezone('UTC', now()) + interval '1 minute', \
           1, '{node-a,7f1c}', ARRAY[jsonb_build_object('at', now() - interval '3 minutes', \
           'attempt', 1, 'error', 'timeout after 30s')])",
    )
    .await;
    let found = consistent(&**backend.reads(), true).await;
    assert!(found.contains(&("App.Hook".to_string(), 0, 1)), "{found:?}");
}

#[tokio::test]
async fn pgboss_attempts_from_the_output_of_retrying_and_failed_jobs() {
    let db = common::test_db().await;
    let backend = opened(&db.pool, PGBOSS).await;
    consistent(&**backend.reads(), false).await;
}

#[tokio::test]
async fn graphile_attempts_from_the_last_error() {
    let db = common::test_db().await;
    let backend = opened(&db.pool, GRAPHILE).await;
    consistent(&**backend.reads(), false).await;
}

#[tokio::test]
async fn solid_queue_attempts_from_failed_executions() {
    let db = common::test_db().await;
    let backend = opened(&db.pool, SOLIDQUEUE).await;
    consistent(&**backend.reads(), false).await;
}

#[tokio::test]
async fn good_job_attempts_from_the_executions() {
    let db = common::test_db().await;
    let backend = opened(&db.pool, GOODJOB).await;
    consistent(&**backend.reads(), false).await;
}

#[tokio::test]
async fn procrastinate_attempts_from_its_events() {
    let Some(schema) = pypi::procrastinate_schema() else {
        return;
    };
    let db = common::test_db().await;
    let backend = opened(
        &db.pool,
        &format!("{schema}\n{}", crate::common::fixture::PROCRASTINATE),
    )
    .await;
    consistent(&**backend.reads(), true).await;
}

/// PgQueuer keeps no finished job (its kinds view has no kind), but its held failures and
/// the jobs its retry executor put back show their last traceback.
#[tokio::test]
async fn pgqueuer_attempts_from_the_last_traceback() {
    let Some(schema) = pypi::pgqueuer_schema() else {
        return;
    };
    let db = common::test_db().await;
    let backend = opened(&db.pool, &format!("{schema}\n{PGQUEUER}")).await;
    let report = attempts(&**backend.reads(), "send_email", 100).await;
    let mut groups: Vec<(i64, usize, bool)> = report
        .groups
        .iter()
        .map(|g| {
            let held = g.signature.contains("card declined");
            assert!(held || g.signature.contains("upstream timed out"), "{g:#?}");
            (g.count, g.ids.len(), held)
        })
        .collect();
    groups.sort();
    // 4 and 5 held, 6 and 7 waiting for their retry.
    assert_eq!(groups, vec![(2, 2, false), (2, 2, true)], "{report:#?}");
}

/// The reference schema through its own functions: three attempts of a kind that is
/// retrying, two of them one signature; none dead.
#[tokio::test]
async fn native_attempts_from_the_error_history() {
    let db = common::test_db().await;
    let pool = &db.pool;
    for error in [
        "timeout after 30s",
        "timeout after 12s",
        "connection refused",
    ] {
        crate::helpers::failed_webhook(pool, error).await;
    }
    let backend = NativeBackend::new(pool.clone());
    let found = consistent(&backend, true).await;
    assert_eq!(found, vec![("hook.post".to_string(), 0, 3)]);
    let report = attempts(&backend, "hook.post", 100).await;
    let mut groups: Vec<(String, i64)> = report
        .groups
        .iter()
        .map(|g| (g.signature.clone(), g.count))
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            ("connection refused".to_string(), 1),
            ("timeout after <n>s".to_string(), 2)
        ]
    );
}

/// A schema that keeps no failed attempts says so, in words the screen shows.
#[tokio::test]
async fn a_schema_without_failed_attempts_says_so() {
    let db = common::test_db().await;
    let only = jobtop::backend::schedules::only::open(db.pool.clone())
        .await
        .unwrap();
    let err = only
        .failed_attempts(&FailedAttemptsQuery {
            kind: "x".into(),
            window: WINDOW,
            limit: 10,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains(NO_FAILED_ATTEMPTS), "{err}");
}
