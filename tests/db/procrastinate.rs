//! The procrastinate backend against real PostgreSQL: procrastinate 3.10's own schema, from
//! the package installed from PyPI (`common::pypi`; skipped when it is not installed, unless
//! `JOBTOP_REQUIRE_PYPI=1`), then tests/fixtures/procrastinate.sql's rows, made by
//! procrastinate's own functions:
//! detection from a bare URL, the overview figure by figure, the legacy `aborting` status,
//! completions per minute once the events are indexed, every list against its count, a
//! job in full, stuck jobs, per-kind figures and dead letters, and the actions through the
//! gate (retry, cancel, delete, reset stuck) with their audit rows, and the refusals with
//! their reasons.
//!
//! The fixture, by id: emails 1-3 succeeded (3 is app.send_digest), 4-5 dead, 6-7
//! retrying, 8 aborted, 9-10 running on worker 1, 11 cancelled, 12-14 ready (never
//! scheduled, deferred 7, 4 and 1 minutes ago), 15 ready (scheduled 2 minutes ago), 16-17
//! scheduled (17 app.send_digest); reports 18-19 succeeded, 20 dead, 21-22 running on
//! worker 2 (heartbeat 5 minutes old), 23 running with no worker (pruned), 24 ready (failed,
//! then retried by hand), 25 ready (deferred 30 s ago).

use std::time::Duration;

use sqlx::{AssertSqlSafe, PgPool, Row};

use jobtop::backend::detect::{self, BackendKind, Selection};
use jobtop::backend::doctor::Status;
use jobtop::backend::drill::{
    DeadLetterQuery, DeadWindow, DetailLimits, HistoryWindow, JobQuery, JobScope, KindsQuery,
    ListFilter, Order,
};
use jobtop::backend::engine::foreign::Foreign;
use jobtop::backend::gate::Gate;
use jobtop::backend::procrastinate;
use jobtop::backend::{
    Action, Backend, JobFilter, JobId, JobState, JobTarget, MinuteBucket, Outcome, Reads, Snapshot,
    SnapshotOptions,
};

use crate::common::fixture::PROCRASTINATE;
use crate::common::{self, exec, pypi};
use crate::helpers::{matching, run};

const ACTOR: &str = "ana@bastion";

/// The index doctor names for counts and waiting lists, and the one for the events.
const JOBS_INDEX: &str = "CREATE INDEX procrastinate_jobs_jobtop_queue_status \
     ON procrastinate_jobs (queue_name, status, scheduled_at, id)";
const EVENTS_INDEX: &str =
    "CREATE INDEX procrastinate_events_jobtop_type_at ON procrastinate_events (type, at)";

/// procrastinate's own schema, from the installed package (`common::pypi`), then our rows
/// (tests/fixtures/procrastinate.sql), as one script. `None`: procrastinate is not
/// installed and the test is skipped (a failure under `JOBTOP_REQUIRE_PYPI=1`).
fn fixture() -> Option<String> {
    let schema = pypi::procrastinate_schema()?;
    Some(format!("{schema}\n{PROCRASTINATE}"))
}

async fn open(pool: &PgPool) -> Foreign {
    procrastinate::open(pool.clone(), "public").await.unwrap()
}

async fn loaded(pool: &PgPool, fixture: &str) -> Foreign {
    exec(pool, fixture).await;
    open(pool).await
}

async fn gate(pool: &PgPool, fixture: &str) -> Gate {
    Gate::with_actor(
        Backend::new(loaded(pool, fixture).await),
        false,
        ACTOR.to_string(),
    )
}

async fn snap(backend: &dyn Reads) -> Snapshot {
    backend
        .snapshot(&SnapshotOptions::default())
        .await
        .expect("snapshot")
}

fn ids(list: &[i64]) -> Vec<JobId> {
    list.iter().map(|&n| JobId::Int(n)).collect()
}

/// Fixture times are "now() at load": an age may run a few seconds past its figure.
fn close(actual: i64, expected: i64) -> bool {
    (0..=5).contains(&(actual - expected))
}

/// (name, [ready, scheduled, retrying, running, dead], oldest ready age in seconds)
type Q = (&'static str, [i64; 5], Option<i64>);

fn assert_queues(s: &Snapshot, expected: &[Q]) {
    let actual: Vec<(String, [i64; 5], Option<i64>)> = s
        .queues
        .iter()
        .map(|q| {
            for c in [q.ready, q.scheduled, q.retrying, q.running, q.dead] {
                assert!(!c.capped && !c.estimated, "{}: {c:?}", q.name);
            }
            assert!(q.paused.is_none());
            let age = q.oldest_ready_age(s.db_now).map(|a| a.num_seconds());
            let want = expected.iter().find(|e| e.0 == q.name).and_then(|e| e.2);
            let age = match (age, want) {
                (Some(a), Some(w)) if close(a, w) => Some(w),
                (a, _) => a,
            };
            (
                q.name.clone(),
                [
                    q.ready.value,
                    q.scheduled.value,
                    q.retrying.value,
                    q.running.value,
                    q.dead.value,
                ],
                age,
            )
        })
        .collect();
    let expected: Vec<(String, [i64; 5], Option<i64>)> = expected
        .iter()
        .map(|(n, c, a)| (n.to_string(), *c, *a))
        .collect();
    assert_eq!(actual, expected);
}

const FIXTURE_QUEUES: &[Q] = &[
    ("emails", [4, 2, 2, 2, 2], Some(420)),
    ("reports", [2, 0, 0, 3, 1], Some(30)),
];

/// Completions as (minutes ago, succeeded, failed); the minute may turn between the load
/// and the snapshot, shifting every event one slot back.
fn assert_minutes(s: &Snapshot, queue: &str, events: &[(usize, u32, u32)]) {
    let q = s.queues.iter().find(|q| q.name == queue).unwrap();
    assert_eq!(q.minutes.len(), 60, "{queue}");
    let matches = (0..=1).any(|shift| {
        let mut want = vec![MinuteBucket::default(); 60];
        for &(ago, ok, failed) in events {
            want[59 - ago - shift].succeeded += ok;
            want[59 - ago - shift].failed += failed;
        }
        want == q.minutes
    });
    let got: Vec<(usize, MinuteBucket)> = q
        .minutes
        .iter()
        .enumerate()
        .filter(|(_, m)| **m != MinuteBucket::default())
        .map(|(i, m)| (59 - i, *m))
        .collect();
    assert!(matches, "{queue}: expected {events:?}, got {got:?}");
}

/// Every job of a list, oldest first, paging through it.
async fn list(reads: &dyn Reads, queue: &str, state: JobState) -> Vec<i64> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = reads
            .jobs(&JobQuery {
                scope: JobScope::Queue {
                    queue: queue.into(),
                    state,
                },
                filter: ListFilter::default(),
                order: Order::OldestFirst,
                after: after.clone(),
                limit: 2,
            })
            .await
            .unwrap();
        for row in &page.rows {
            assert_eq!((row.queue.as_str(), row.state), (queue, state));
        }
        out.extend(page.rows.iter().map(|r| r.id.as_int().unwrap()));
        if !page.has_more {
            assert_eq!(
                page.scope_count.value,
                out.len() as i64,
                "{queue} {state:?}"
            );
            return out;
        }
        after = page.rows.last().map(|r| r.cursor(page_sort_key(state)));
    }
}

fn page_sort_key(state: JobState) -> jobtop::backend::drill::SortKey {
    JobScope::Queue {
        queue: String::new(),
        state,
    }
    .sort_key()
}

/// (status, attempts, scheduled_at is due, worker_id) of a job; `None` when it is gone.
async fn row(pool: &PgPool, id: i64) -> Option<(String, i32, Option<bool>, Option<i64>)> {
    sqlx::query(
        "SELECT status::text, attempts, scheduled_at <= now(), worker_id \
         FROM procrastinate_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .unwrap()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

/// The event types of a job, oldest first.
async fn events(pool: &PgPool, id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT type::text FROM procrastinate_events WHERE job_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The last audit row: (actor, action, queue, job_ids, count, outcome).
async fn last_audit(pool: &PgPool) -> (String, String, Option<String>, Vec<i64>, i64, String) {
    let r = sqlx::query(
        "SELECT actor, action, queue, \
           (SELECT array_agg(i ORDER BY i) FROM unnest(job_ids) i), count, outcome \
         FROM jobtop.audit ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get::<Option<Vec<i64>>, _>(3).unwrap_or_default(),
        r.get(4),
        r.get(5),
    )
}

#[tokio::test]
async fn a_bare_url_finds_procrastinate_and_opens_it() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    exec(&db.pool, &fixture).await;
    let found = detect::detect(&db.pool).await.unwrap();
    assert!(
        found
            .iter()
            .any(|d| d.backend == BackendKind::Procrastinate && d.schema == "public"),
        "{found:?}"
    );
    // The harness's empty reference schema is set aside: procrastinate is the one queue.
    let (chosen, backend) = detect::resolve(&db.pool, &Selection::default())
        .await
        .unwrap();
    assert_eq!(
        (chosen.backend, chosen.schema.as_str()),
        (BackendKind::Procrastinate, "public")
    );
    assert_eq!(chosen.flags(), "--backend procrastinate --schema public");
    assert_eq!(backend.name(), "procrastinate");
    assert_eq!(
        common::flags(&backend.capabilities()),
        common::Flags {
            actions: common::ActionFlags {
                retry: true,
                cancel: true,
                discard: false,
                delete: true,
                reset_stuck: true,
                purge: true,
                audit: true,
            },
            pause: false,
            heartbeats: true,
            workers: true,
            error_history: false,
            tenants: false,
            throughput: true,
            pause_visible: false,
            failed_attempts: true,
        }
    );
    assert_eq!("procrastinate".parse(), Ok(BackendKind::Procrastinate));

    // In another schema, as procrastinate installs itself where its search path points.
    let other = common::test_db().await;
    let script = format!("CREATE SCHEMA jobs; SET search_path TO jobs; {fixture}");
    let mut conn = other.pool.acquire().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(script))
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let (chosen, backend) = detect::resolve(&other.pool, &Selection::default())
        .await
        .unwrap();
    assert_eq!(chosen.schema, "jobs");
    assert_queues(&snap(backend.reads().as_ref()).await, FIXTURE_QUEUES);
}

#[tokio::test]
async fn the_overview_counts_every_queue_and_state_and_the_workers() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    let s = snap(&p).await;
    assert_queues(&s, FIXTURE_QUEUES);
    // The longest-running job started a minute ago in emails (9 and 10), 12 in reports (23).
    let running_for: Vec<i64> = s
        .queues
        .iter()
        .map(|q| (s.db_now - q.oldest_running_started_at.unwrap()).num_seconds())
        .collect();
    assert!(
        close(running_for[0], 60) && close(running_for[1], 720),
        "{running_for:?}"
    );
    // No index on the events' (type, at), but few events: read whole for the hour.
    assert!(s.queues.iter().any(|q| !q.minutes.is_empty()));
    // Worker 1 beats and runs two emails; worker 2 stopped 5 minutes ago holding two
    // reports (the third running report's worker was pruned: it has none). procrastinate
    // does not record which queues a worker listens to: none are named (any).
    let workers: Vec<(String, Vec<String>, i64, i64)> = s
        .workers
        .iter()
        .map(|w| {
            (
                w.id.clone(),
                w.queues.clone(),
                w.running_jobs,
                w.heartbeat_age(s.db_now).unwrap().num_seconds(),
            )
        })
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert_eq!(
        (&workers[0].0, workers[0].1.len(), workers[0].2),
        (&"1".to_string(), 0, 2)
    );
    assert!(close(workers[0].3, 0), "{workers:?}");
    assert_eq!(
        (&workers[1].0, workers[1].1.len(), workers[1].2),
        (&"2".to_string(), 0, 2)
    );
    assert!(close(workers[1].3, 300), "{workers:?}");

    // Doctor: procrastinate's own indexes serve neither the counts nor the events; the
    // events, small here, are read whole, and the probe of that read names the index.
    let plan = p.doctor_plan();
    assert!(
        plan.findings
            .iter()
            .any(|c| c.name == "queue counts" && c.status == Status::Warn && c.fix.is_some()),
        "{:#?}",
        plan.findings
    );
    assert!(
        plan.probes
            .iter()
            .any(|probe| probe.name == "completions per minute"
                && probe
                    .fix
                    .as_deref()
                    .is_some_and(|fix| fix.contains("procrastinate_events"))),
        "{:#?}",
        plan.probes
    );
}

#[tokio::test]
async fn the_legacy_aborting_status_is_running() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    // procrastinate 2.x marked a running job whose abort was requested `aborting`; 3.0's
    // migration turns those back into `doing`, but the label stays in the type.
    exec(
        &db.pool,
        "UPDATE procrastinate_jobs SET status = 'aborting' WHERE id = 9",
    )
    .await;
    assert_queues(&snap(&p).await, FIXTURE_QUEUES);
    assert_eq!(list(&p, "emails", JobState::Running).await, vec![9, 10]);
    let states = p.job_states(&ids(&[9])).await.unwrap();
    assert_eq!(states, vec![(JobId::Int(9), JobState::Running)]);
}

#[tokio::test]
async fn completions_per_minute_come_from_the_events_once_indexed() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    exec(&db.pool, &fixture).await;
    exec(&db.pool, EVENTS_INDEX).await;
    exec(&db.pool, JOBS_INDEX).await;
    let p = open(&db.pool).await;
    let c = p.capabilities();
    assert!(c.throughput.yes() && c.failed_attempts.yes());
    // With both indexes doctor has nothing left to say about them.
    let findings = p.doctor_plan().findings;
    assert!(
        findings.iter().all(|c| c.status == Status::Ok),
        "{findings:#?}"
    );
    let s = snap(&p).await;
    assert_queues(&s, FIXTURE_QUEUES);
    // Failed attempts: failed for good, and put back for a retry (6 and 7).
    assert_minutes(
        &s,
        "emails",
        &[(2, 2, 0), (35, 1, 0), (20, 0, 2), (5, 0, 2)],
    );
    assert_minutes(&s, "reports", &[(3, 2, 0), (6, 0, 1), (8, 0, 1)]);
}

#[tokio::test]
async fn small_events_are_read_whole_for_completions_and_big_ones_are_not() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    assert!(p.capabilities().throughput.yes());
    let s = snap(&p).await;
    assert_minutes(&s, "reports", &[(3, 2, 0), (6, 0, 1), (8, 0, 1)]);

    common::grow_past_small(&db.pool, "public.procrastinate_events").await;
    let p = open(&db.pool).await;
    let why = p.capabilities().throughput.reason().unwrap();
    assert!(
        why.contains("(type, at)") && why.contains("doctor"),
        "{why}"
    );
    let s = snap(&p).await;
    assert!(s.queues.iter().all(|q| q.minutes.is_empty()));
    let findings = p.doctor_plan().findings;
    assert!(
        findings
            .iter()
            .any(|c| c.name == "completions per minute" && c.status == Status::Warn),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn every_list_holds_what_the_overview_counts() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    let expect: &[(&str, JobState, &[i64])] = &[
        ("emails", JobState::Ready, &[12, 13, 14, 15]),
        ("emails", JobState::Scheduled, &[16, 17]),
        ("emails", JobState::Retrying, &[6, 7]),
        ("emails", JobState::Running, &[9, 10]),
        ("emails", JobState::Dead, &[4, 5]),
        ("emails", JobState::Succeeded, &[1, 2, 3]),
        ("emails", JobState::Cancelled, &[8, 11]),
        ("reports", JobState::Ready, &[24, 25]),
        ("reports", JobState::Scheduled, &[]),
        ("reports", JobState::Retrying, &[]),
        ("reports", JobState::Running, &[21, 22, 23]),
        ("reports", JobState::Dead, &[20]),
        ("reports", JobState::Succeeded, &[18, 19]),
        ("reports", JobState::Cancelled, &[]),
    ];
    for (queue, state, want) in expect {
        assert_eq!(
            list(&p, queue, *state).await,
            want.to_vec(),
            "{queue} {state:?}"
        );
    }
    // And the overview's figures are those lists' lengths.
    let s = snap(&p).await;
    for q in &s.queues {
        for (state, count) in [
            (JobState::Ready, q.ready),
            (JobState::Scheduled, q.scheduled),
            (JobState::Retrying, q.retrying),
            (JobState::Running, q.running),
            (JobState::Dead, q.dead),
        ] {
            assert_eq!(
                list(&p, &q.name, state).await.len() as i64,
                count.value,
                "{} {state:?}",
                q.name
            );
        }
    }
    // A job's display state is the bucket it is listed under.
    let all: Vec<i64> = (1..=25).collect();
    let states = p.job_states(&ids(&all)).await.unwrap();
    assert_eq!(states.len(), 25);
    for (id, state) in states {
        let n = id.as_int().unwrap();
        let listed = expect
            .iter()
            .find(|(_, _, ids)| ids.contains(&n))
            .map(|(_, s, _)| *s);
        assert_eq!(Some(state), listed, "job {n}");
    }
}

#[tokio::test]
async fn a_job_in_full_takes_its_times_from_the_events() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    let d = p
        .job(&JobId::Int(4), &DetailLimits::default())
        .await
        .unwrap()
        .expect("job 4");
    let age = |t: Option<chrono::DateTime<chrono::Utc>>| (d.db_now - t.unwrap()).num_seconds();
    let j = &d.job;
    assert_eq!(
        (j.queue.as_str(), j.kind.as_str(), j.state, j.attempts),
        ("emails", "app.send_email", JobState::Dead, Some(1))
    );
    assert_eq!((j.priority, j.max_attempts), (Some(0), None));
    assert!(close(age(j.created_at), 45 * 60), "{j:?}");
    assert!(close(age(j.started_at), 21 * 60), "{j:?}");
    assert!(close(age(j.finished_at), 20 * 60), "{j:?}");
    assert_eq!(j.worker.as_deref(), Some("1"));
    // procrastinate keeps no error text, only when attempts failed.
    assert_eq!(j.last_error, None);
    assert!(d.errors.is_empty());
    assert!(
        d.payload.as_deref().unwrap().contains("cy@example.com"),
        "{:?}",
        d.payload
    );

    // A running job: started, not finished, its worker's heartbeat.
    let d = p
        .job(&JobId::Int(21), &DetailLimits::default())
        .await
        .unwrap()
        .unwrap();
    let j = &d.job;
    assert_eq!(
        (j.state, j.worker.as_deref()),
        (JobState::Running, Some("2"))
    );
    assert!(close((d.db_now - j.started_at.unwrap()).num_seconds(), 600));
    assert_eq!(j.finished_at, None);
    assert!(close(
        (d.db_now - j.heartbeat_at.unwrap()).num_seconds(),
        300
    ));

    assert!(
        p.job(&JobId::Int(999), &DetailLimits::default())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn stuck_jobs_are_those_of_a_silent_or_pruned_worker() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    let page = p
        .jobs(&JobQuery {
            scope: JobScope::Stuck {
                running_longer_than: Duration::from_secs(3600),
                stale_after: Duration::from_secs(60),
            },
            filter: ListFilter::default(),
            order: Order::OldestFirst,
            after: None,
            limit: 50,
        })
        .await
        .unwrap();
    let stuck: Vec<i64> = page.rows.iter().map(|r| r.id.as_int().unwrap()).collect();
    assert_eq!(stuck, vec![21, 22, 23]);
    // A worker's own jobs.
    let page = p
        .jobs(&JobQuery {
            scope: JobScope::Worker { worker: "1".into() },
            filter: ListFilter::default(),
            order: Order::OldestFirst,
            after: None,
            limit: 50,
        })
        .await
        .unwrap();
    let held: Vec<i64> = page.rows.iter().map(|r| r.id.as_int().unwrap()).collect();
    assert_eq!(held, vec![9, 10]);
}

#[tokio::test]
async fn kinds_and_dead_letters() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let p = loaded(&db.pool, &fixture).await;
    let report = p
        .kinds(&KindsQuery {
            window: HistoryWindow::Hour,
            limit: 20_000,
        })
        .await
        .unwrap();
    let mut kinds: Vec<(String, i64, i64, i64, Option<f64>)> = report
        .kinds
        .iter()
        .map(|k| {
            (
                k.kind.clone(),
                k.succeeded,
                k.dead,
                k.failed_attempts,
                k.run_p50,
            )
        })
        .collect();
    kinds.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        kinds,
        vec![
            // 20 failed for good; 24 failed too before it was retried by hand.
            ("app.build_report".into(), 2, 2, 2, Some(60.0)),
            ("app.send_digest".into(), 1, 0, 0, Some(60.0)),
            // 4 and 5 failed for good, 6 and 7 were put back for a retry.
            ("app.send_email".into(), 2, 2, 4, Some(60.0)),
        ]
    );
    assert_eq!(report.covered_since, None);

    let dead = p
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Day,
            kind: None,
            queue: None,
            limit: 5000,
        })
        .await
        .unwrap();
    assert_eq!(dead.jobs, 3);
    let mut grouped: Vec<i64> = dead
        .groups
        .iter()
        .flat_map(|g| g.ids.iter().map(|i| i.as_int().unwrap()))
        .collect();
    grouped.sort();
    assert_eq!(grouped, vec![4, 5, 20]);
}

/// As procrastinate ships (no index on (queue_name, status)) the waiting and failed jobs
/// of a big table are counted in passes on a slower clock: exact when counted, "~" until
/// the next pass, and counted again after an action, so the figure never contradicts it.
/// A small table's passes are taken in every poll: exact.
#[tokio::test]
async fn slow_passes_are_marked_between_counts_and_recounted_after_an_action() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let emails = |s: &Snapshot| {
        s.queues
            .iter()
            .find(|q| q.name == "emails")
            .unwrap()
            .clone()
    };
    let small = loaded(&db.pool, &fixture).await;
    for _ in 0..2 {
        let q = emails(&snap(&small).await);
        assert_eq!((q.dead.value, q.dead.estimated), (2, false));
        assert_eq!((q.ready.value, q.ready.estimated), (4, false));
    }

    common::grow_past_small(&db.pool, "public.procrastinate_jobs").await;
    let g = Gate::with_actor(Backend::new(open(&db.pool).await), false, ACTOR.to_string());
    let overview = g.backend().overview();
    let first = emails(
        &overview
            .snapshot(&SnapshotOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!((first.dead.value, first.dead.estimated), (2, false));
    assert_eq!((first.ready.value, first.ready.estimated), (4, false));
    assert!(
        !first.running.estimated,
        "running jobs are counted each poll"
    );
    let between = emails(
        &overview
            .snapshot(&SnapshotOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!((between.dead.value, between.dead.estimated), (2, true));
    assert_eq!((between.ready.value, between.ready.estimated), (4, true));
    let plan = g
        .plan(&Action::Retry(matching("emails", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(run(&g, &plan).await.changed, 2);
    let after = emails(
        &overview
            .snapshot(&SnapshotOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!((after.dead.value, after.dead.estimated), (0, false));
    assert_eq!((after.ready.value, after.ready.estimated), (6, false));
}

#[tokio::test]
async fn retry_is_procrastinates_retry_of_failed_jobs_with_an_audit_row() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool, &fixture).await;
    let plan = g
        .plan(&Action::Retry(matching("emails", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.ids, ids(&[4, 5]));
    assert_eq!(
        plan.question(),
        "Retry 2 dead jobs of kind `app.send_email` in queue `emails`?"
    );
    // The confirmation says what procrastinate's retry does, not what another system's does
    // (procrastinate keeps no error history).
    assert_eq!(
        plan.details(),
        [
            "They become due now with one more attempt, as procrastinate's own retry \
          (procrastinate_retry_job_v2) does; their events are kept."
        ]
    );
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped, out.left_alone), (2, 0, 0));
    assert_eq!(out.outcome(), Outcome::Ok);
    for id in [4, 5] {
        // As procrastinate_retry_job_v2(id, now(), ...): todo, due now, one more attempt.
        assert_eq!(
            row(pool, id).await,
            Some(("todo".into(), 2, Some(true), Some(1)))
        );
        // procrastinate's own triggers recorded it.
        let ev = events(pool, id).await;
        assert_eq!(
            ev[ev.len() - 2..],
            ["scheduled".to_string(), "retried".to_string()]
        );
    }
    let states = g.backend().reads().job_states(&ids(&[4, 5])).await.unwrap();
    assert!(
        states.iter().all(|(_, s)| *s == JobState::Ready),
        "{states:?}"
    );
    let (actor, action, queue, job_ids, count, outcome) = last_audit(pool).await;
    assert!(actor.starts_with("ana@bastion ("), "{actor}");
    assert_eq!(
        (
            action.as_str(),
            queue.as_deref(),
            job_ids,
            count,
            outcome.as_str()
        ),
        ("retry", Some("emails"), vec![4, 5], 2, "ok")
    );

    // procrastinate retries failed jobs only: the others named are left alone, and said so.
    let plan = g
        .plan(&Action::Retry(JobTarget::Ids(ids(&[
            16, 6, 11, 8, 9, 20, 999,
        ]))))
        .await
        .unwrap();
    assert_eq!(plan.ids, ids(&[20]));
    assert_eq!(
        plan.blocked,
        vec![
            (JobState::Scheduled, 1),
            (JobState::Running, 1),
            (JobState::Retrying, 1),
            (JobState::Cancelled, 2),
        ]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(plan.missing, 1);
    let details = plan.details().join("\n");
    assert!(details.contains("failed jobs only"), "{details}");
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.left_alone), (1, 6));
    assert_eq!(row(pool, 16).await.unwrap().0, "todo");
    assert_eq!(row(pool, 11).await.unwrap().0, "cancelled");
    assert_eq!(row(pool, 20).await.unwrap().0, "todo");

    // A failed job retried in the meantime is skipped by its batch, not retried twice.
    let plan = g
        .plan(&Action::Retry(matching("reports", JobState::Dead)))
        .await
        .unwrap();
    assert_eq!(plan.eligible, 0);
}

#[tokio::test]
async fn a_batch_leaves_a_job_that_moved_on_since_the_plan() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool, &fixture).await;
    let plan = g
        .plan(&Action::Cancel(matching("emails", JobState::Ready)))
        .await
        .unwrap();
    assert_eq!(plan.ids, ids(&[12, 13, 14, 15]));
    // A worker fetches the highest priority job (14) before the batch runs.
    exec(
        pool,
        "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['emails']::varchar[], 1)",
    )
    .await;
    assert_eq!(row(pool, 14).await.unwrap().0, "doing");
    let out = run(&g, &plan).await;
    assert_eq!((out.changed, out.skipped), (3, 1));
    assert_eq!(row(pool, 14).await.unwrap().0, "doing");
    for id in [12, 13, 15] {
        assert_eq!(row(pool, id).await.unwrap().0, "cancelled");
        assert_eq!(events(pool, id).await.last().unwrap(), "cancelled");
    }
}

#[tokio::test]
async fn cancel_takes_jobs_that_have_not_started() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool, &fixture).await;
    let plan = g
        .plan(&Action::Cancel(JobTarget::Matching {
            filter: JobFilter {
                queue: Some("emails".into()),
                ..JobFilter::default()
            },
            limit: None,
        }))
        .await
        .unwrap();
    // Ready, scheduled and retrying: every `todo` job; the running ones are named apart.
    assert_eq!(plan.ids, ids(&[6, 7, 12, 13, 14, 15, 16, 17]));
    assert_eq!(plan.blocked, vec![(JobState::Running, 2)]);
    let details = plan.details().join("\n");
    assert!(details.contains("2 running jobs left alone"), "{details}");
    let out = run(&g, &plan).await;
    assert_eq!(out.changed, 8);
    for id in [6, 7, 12, 13, 14, 15, 16, 17] {
        let (status, attempts, _, _) = row(pool, id).await.unwrap();
        assert_eq!(status, "cancelled");
        assert_eq!(attempts, if id < 8 { 1 } else { 0 });
    }
    assert_eq!(row(pool, 9).await.unwrap().0, "doing");
    let s = snap(g.backend().reads().as_ref()).await;
    assert_queues(
        &s,
        &[
            ("emails", [0, 0, 0, 2, 2], None),
            ("reports", [2, 0, 0, 3, 1], Some(30)),
        ],
    );
    let (_, action, queue, job_ids, count, outcome) = last_audit(pool).await;
    assert_eq!(
        (
            action.as_str(),
            queue.as_deref(),
            job_ids,
            count,
            outcome.as_str()
        ),
        (
            "cancel",
            Some("emails"),
            vec![6, 7, 12, 13, 14, 15, 16, 17],
            8,
            // The running jobs it named were left alone.
            "partial"
        )
    );
}

#[tokio::test]
async fn delete_takes_dead_and_cancelled_jobs_and_their_events() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool, &fixture).await;
    let plan = g
        .plan(&Action::Delete(matching("emails", JobState::Cancelled)))
        .await
        .unwrap();
    assert_eq!(plan.ids, ids(&[8, 11]));
    let out = run(&g, &plan).await;
    assert_eq!(out.changed, 2);
    assert_eq!(row(pool, 8).await, None);
    assert!(events(pool, 8).await.is_empty());
    let plan = g
        .plan(&Action::Delete(JobTarget::Ids(ids(&[20, 18, 9]))))
        .await
        .unwrap();
    assert_eq!(plan.ids, ids(&[20]));
    assert_eq!(
        plan.blocked,
        vec![(JobState::Running, 1), (JobState::Succeeded, 1)]
    );
    run(&g, &plan).await;
    assert_eq!(row(pool, 20).await, None);
    assert!(row(pool, 18).await.is_some());
    let (_, action, _, job_ids, count, _) = last_audit(pool).await;
    assert_eq!((action.as_str(), job_ids, count), ("delete", vec![20], 1));
}

#[tokio::test]
async fn reset_stuck_retries_the_jobs_of_a_silent_or_pruned_worker() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let pool = &db.pool;
    let g = gate(pool, &fixture).await;
    let plan = g
        .plan(&Action::ResetStuck {
            queue: None,
            worker: None,
            stale_after: Duration::from_secs(60),
        })
        .await
        .unwrap();
    assert_eq!(plan.ids, ids(&[21, 22, 23]));
    let out = run(&g, &plan).await;
    assert_eq!(out.changed, 3);
    for id in [21, 22, 23] {
        let (status, attempts, due, _) = row(pool, id).await.unwrap();
        assert_eq!((status.as_str(), attempts, due), ("todo", 1, Some(true)));
        assert!(
            events(pool, id)
                .await
                .contains(&"deferred_for_retry".to_string())
        );
    }
    // Worker 1 is alive: its jobs run on.
    assert_eq!(row(pool, 9).await.unwrap().0, "doing");
    let (_, action, _, job_ids, count, _) = last_audit(pool).await;
    assert_eq!(
        (action.as_str(), job_ids, count),
        ("reset_stuck", vec![21, 22, 23], 3)
    );
}

#[tokio::test]
async fn what_procrastinate_cannot_do_is_refused_with_its_reason() {
    let Some(fixture) = fixture() else { return };
    let db = common::test_db().await;
    let g = gate(&db.pool, &fixture).await;
    let cases: Vec<(Action, &str)> = vec![
        (
            Action::Discard(matching("emails", JobState::Ready)),
            "cancel it instead",
        ),
        (
            Action::Pause {
                queue: "emails".into(),
                reason: None,
            },
            "no pause",
        ),
        (
            Action::Resume {
                queue: "emails".into(),
            },
            "no pause",
        ),
    ];
    for (action, why) in cases {
        let err = g.plan(&action).await.unwrap_err().to_string();
        assert!(
            err.contains("procrastinate backend cannot") && err.contains(why),
            "{err}"
        );
    }
    // Read-only refuses even what procrastinate does.
    let ro = Gate::with_actor(g.backend().clone(), true, ACTOR.into());
    assert!(
        ro.plan(&Action::Retry(matching("emails", JobState::Dead)))
            .await
            .is_err()
    );

    // Before 3.4, procrastinate had no way to retry a failed job; neither has jobtop there.
    exec(
        &db.pool,
        "DROP FUNCTION procrastinate_retry_job_v2(bigint, timestamptz, integer, varchar, varchar)",
    )
    .await;
    let old = open(&db.pool).await;
    let why = old
        .capabilities()
        .actions
        .retry
        .reason()
        .unwrap_or_default();
    assert!(why.contains("before 3.4"), "{why}");
}
