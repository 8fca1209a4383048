//! The drill-down reads on other projects' schemas (River, Oban, mapped profiles) against a
//! real PostgreSQL: each state's list with its ids in order and a second page through the
//! cursor, the job detail with payload and error history, dead letters grouped by
//! signature, per-kind figures, tenants; and the plans of the lists on a table of some
//! thousands of rows (index paths only).

use std::time::Duration;

use jobtop::backend::drill::{
    DeadLetterQuery, DeadWindow, DetailLimits, HistoryWindow, JobPage, JobQuery, JobScope,
    KindStats, KindsQuery, ListFilter, Order, TenantsQuery,
};
use jobtop::backend::engine::drill as foreign_drill;
use jobtop::backend::engine::foreign::Foreign;
use jobtop::backend::mapped::{self, Profile};
use jobtop::backend::oban;
use jobtop::backend::river;
use jobtop::backend::{JobId, JobState, Reads};
use sqlx::PgPool;

use crate::common::fixture::{CEPRO, GRAPHILE, JOB_QUEUE, JOBFORGE, OBAN, PGBOSS, RIVER};
use crate::common::{self, load};

fn query(scope: JobScope, order: Order, limit: usize) -> JobQuery {
    JobQuery {
        scope,
        filter: ListFilter::default(),
        order,
        after: None,
        limit,
    }
}

fn queue(queue: &str, state: JobState) -> JobScope {
    JobScope::Queue {
        queue: queue.into(),
        state,
    }
}

fn ids(page: &JobPage) -> Vec<JobId> {
    page.rows.iter().map(|r| r.id.clone()).collect()
}

fn ints(ids: &[i64]) -> Vec<JobId> {
    ids.iter().copied().map(JobId::Int).collect()
}

/// Every page of a list, `limit` rows at a time, through the cursor.
async fn walk(backend: &dyn Reads, mut q: JobQuery) -> Vec<JobId> {
    let mut seen = Vec::new();
    for _ in 0..1000 {
        let page = backend.jobs(&q).await.unwrap();
        assert!(page.rows.len() <= q.limit);
        seen.extend(ids(&page));
        if !page.has_more {
            return seen;
        }
        q.after = Some(page.rows.last().unwrap().cursor(q.scope.sort_key()));
    }
    panic!("paging does not end");
}

/// Each state's list of a queue, oldest first, in pages of two, and newest first in one.
async fn assert_lists(backend: &dyn Reads, q: &str, expected: &[(JobState, Vec<JobId>)]) {
    for (state, want) in expected {
        let first = backend
            .jobs(&query(queue(q, *state), Order::OldestFirst, 100))
            .await
            .unwrap();
        assert_eq!(&ids(&first), want, "{q} {state:?} oldest first");
        assert_eq!(first.scope_count.value, want.len() as i64, "{q} {state:?}");
        assert!(
            first.rows.iter().all(|r| r.state == *state),
            "{q} {state:?}"
        );
        let paged = walk(backend, query(queue(q, *state), Order::OldestFirst, 2)).await;
        assert_eq!(&paged, want, "{q} {state:?} in pages of 2");
        let mut reversed = want.clone();
        reversed.reverse();
        let newest = walk(backend, query(queue(q, *state), Order::NewestFirst, 2)).await;
        assert_eq!(newest, reversed, "{q} {state:?} newest first in pages of 2");
    }
}

fn kind<'a>(kinds: &'a [KindStats], name: &str) -> &'a KindStats {
    kinds
        .iter()
        .find(|k| k.kind == name)
        .unwrap_or_else(|| panic!("no kind {name} in {kinds:#?}"))
}

/// (kind, succeeded, failed attempts, dead, run p50, wait p50)
type K = (&'static str, i64, i64, i64, Option<f64>, Option<f64>);

fn assert_kinds(kinds: &[KindStats], expected: &[K]) {
    let got: Vec<K> = expected
        .iter()
        .map(|e| {
            let k = kind(kinds, e.0);
            (
                e.0,
                k.succeeded,
                k.failed_attempts,
                k.dead,
                k.run_p50,
                k.wait_p50,
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(kinds.len(), expected.len(), "{kinds:#?}");
}

#[tokio::test]
async fn river_lists_pages_detail_dead_letters_and_kinds() {
    let db = common::test_db().await;
    load(&db.pool, RIVER).await;
    let river = river::open(db.pool.clone(), "public").await.unwrap();

    // Ids in the fixture's insertion order (see tests/fixtures/river.sql).
    assert_lists(
        &river,
        "default",
        &[
            (JobState::Ready, ints(&[1, 2, 7, 3, 4])),
            (JobState::Scheduled, ints(&[12, 5, 6])),
            (JobState::Retrying, ints(&[8, 9])),
            (JobState::Running, ints(&[11, 10])),
            (JobState::Dead, ints(&[14, 13])),
            (JobState::Succeeded, ints(&[19, 18, 16, 17])),
            (JobState::Cancelled, ints(&[15])),
        ],
    )
    .await;
    assert_lists(
        &river,
        "mailers",
        &[
            (JobState::Ready, ints(&[20, 21])),
            (JobState::Running, ints(&[22])),
            (JobState::Dead, Vec::new()),
        ],
    )
    .await;

    let page = river
        .jobs(&query(
            queue("default", JobState::Retrying),
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    let r = &page.rows[0];
    assert_eq!(r.kind, "sync");
    assert_eq!(
        (r.attempts, r.max_attempts, r.priority),
        (Some(2), Some(25), Some(1))
    );
    assert_eq!(r.worker.as_deref(), Some("client-b"));
    assert_eq!(r.last_error.as_deref(), Some("timeout"));
    assert_eq!(r.error_bytes, 7);
    assert_eq!(r.tenant, None);

    // A worker's jobs, a set of ids, stuck jobs.
    let held = river
        .jobs(&query(
            JobScope::Worker {
                worker: "client-b".into(),
            },
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&held), ints(&[11]));
    let set = river
        .jobs(&query(
            JobScope::Ids {
                ids: vec![
                    JobId::Int(13),
                    JobId::Int(2),
                    JobId::Int(999),
                    JobId::Text("not-an-id".into()),
                ],
            },
            Order::NewestFirst,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&set), ints(&[13, 2]));
    assert_eq!(set.rows[0].state, JobState::Dead);
    let stuck = river
        .jobs(&query(
            JobScope::Stuck {
                running_longer_than: Duration::from_secs(60),
                stale_after: Duration::from_secs(60),
            },
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&stuck), ints(&[22]), "running for 4 minutes");

    // Filters: kind, error text, id; a tenant filter on a schema without tenants says so.
    let mut q = query(queue("default", JobState::Retrying), Order::OldestFirst, 10);
    q.filter.error_text = Some("REFUS".into());
    assert_eq!(ids(&river.jobs(&q).await.unwrap()), ints(&[9]));
    q.filter = ListFilter {
        id: Some(JobId::Int(8)),
        ..ListFilter::default()
    };
    assert_eq!(ids(&river.jobs(&q).await.unwrap()), ints(&[8]));
    q.filter.id = Some(JobId::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()));
    assert_eq!(ids(&river.jobs(&q).await.unwrap()), Vec::<JobId>::new());
    q.filter = ListFilter {
        tenant: Some("acme".into()),
        ..ListFilter::default()
    };
    let err = river.jobs(&q).await.unwrap_err().to_string();
    assert!(err.contains("no tenant"), "{err}");

    // The detail: payload, and each attempt's error with the client that made it.
    let d = river
        .job(&JobId::Int(13), &DetailLimits::default())
        .await
        .unwrap()
        .expect("job 13");
    assert_eq!(d.job.state, JobState::Dead);
    assert_eq!(d.job.queue, "default");
    assert_eq!(d.payload.as_deref(), Some("{}"));
    assert_eq!(d.error_count, 2);
    let history: Vec<(Option<i64>, &str, Option<&str>)> = d
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str(), e.worker.as_deref()))
        .collect();
    assert_eq!(
        history,
        vec![(Some(3), "boom", Some("client-b")), (Some(2), "boom", None)]
    );
    assert!(d.errors.iter().all(|e| e.at.is_some()));
    let finished = d.job.finished_at.unwrap();
    assert_eq!((d.db_now - finished).num_minutes(), 21);
    assert_eq!(d.errors[0].at, Some(finished));
    assert!(
        river
            .job(&JobId::Int(999), &DetailLimits::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        river
            .job(&JobId::Text("x".into()), &DetailLimits::default())
            .await
            .unwrap()
            .is_none()
    );

    // Dead letters: one in the last day, two in the week.
    let day = river
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Day,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(day.jobs, 1);
    assert_eq!(day.groups.len(), 1);
    assert_eq!(day.groups[0].signature, "boom");
    assert_eq!(day.groups[0].ids, ints(&[13]));
    assert_eq!(day.groups[0].kinds, vec![("sync".to_string(), 1)]);
    // Scoped to a queue (`d` inside it): its own dead jobs, none of another's.
    let scoped = |queue: &str| DeadLetterQuery {
        window: DeadWindow::Day,
        kind: None,
        queue: Some(queue.to_string()),
        limit: 1000,
    };
    let own = day.groups[0].queues[0].0.clone();
    assert_eq!(river.dead_letters(&scoped(&own)).await.unwrap().jobs, 1);
    assert_eq!(
        river
            .dead_letters(&scoped("no-such-queue"))
            .await
            .unwrap()
            .jobs,
        0
    );
    let week = river
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Week,
            kind: Some("sync".into()),
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let groups: Vec<(&str, i64)> = week
        .groups
        .iter()
        .map(|g| (g.signature.as_str(), g.count))
        .collect();
    assert_eq!(groups, vec![("boom", 1), ("ancient", 1)]);
    assert!(!week.capped);
    let capped = river
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Week,
            kind: None,
            queue: None,
            limit: 1,
        })
        .await
        .unwrap();
    assert!(capped.capped);
    assert_eq!(capped.jobs, 1);
    assert_eq!(capped.groups[0].ids, ints(&[13]), "the newest");

    // Kinds over the hour: 13 died after two failed attempts in it; the retrying and the
    // running sync jobs failed once each in it; the 2000-01-01 failure is not counted.
    let kinds = river
        .kinds(&KindsQuery {
            window: HistoryWindow::Hour,
            limit: 10_000,
        })
        .await
        .unwrap();
    assert_kinds(
        &kinds.kinds,
        &[
            ("sync", 0, 5, 1, None, Some(540.0)),
            ("email", 3, 0, 0, Some(60.0), Some(0.0)),
            ("welcome", 1, 0, 0, Some(60.0), Some(0.0)),
        ],
    );
    assert_eq!(kinds.covered_since, None);
}

#[tokio::test]
async fn oban_lists_detail_dead_letters_and_kinds_in_naive_utc() {
    let db = common::test_db().await;
    // A session time zone far from UTC: Oban's naive timestamps must still read as UTC.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{}\" SET timezone TO 'Pacific/Kiritimati'",
        db.name
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    load(&db.pool, OBAN).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.options.clone())
        .await
        .unwrap();
    let oban = oban::open(pool.clone(), "public").await.unwrap();

    // Ids in the fixture's insertion order (see tests/fixtures/oban.sql). The executing
    // jobs have no attempted_at in the fixture: they are listed by id.
    assert_lists(
        &oban,
        "default",
        &[
            (JobState::Ready, ints(&[1, 2, 7, 3])),
            (JobState::Scheduled, ints(&[6, 4, 5])),
            (JobState::Retrying, ints(&[8])),
            (JobState::Running, ints(&[9, 10])),
            (JobState::Dead, ints(&[11])),
            (JobState::Succeeded, ints(&[15, 13, 14])),
            (JobState::Cancelled, ints(&[12])),
        ],
    )
    .await;
    assert_lists(
        &oban,
        "events",
        &[
            (JobState::Ready, ints(&[16])),
            (JobState::Running, ints(&[17])),
            (JobState::Succeeded, ints(&[18])),
        ],
    )
    .await;
    let page = oban
        .jobs(&query(
            queue("default", JobState::Ready),
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    let first = &page.rows[0];
    assert_eq!(first.kind, "App.Mailer");
    assert_eq!((page.db_now - first.run_at.unwrap()).num_minutes(), 8);
    let held = oban
        .jobs(&query(
            JobScope::Worker {
                worker: "node-b".into(),
            },
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&held), ints(&[10]));

    let d = oban
        .job(&JobId::Int(11), &DetailLimits::default())
        .await
        .unwrap()
        .expect("job 11");
    assert_eq!(d.job.state, JobState::Dead);
    assert_eq!(d.job.kind, "App.Sync");
    assert_eq!((d.job.attempts, d.job.max_attempts), (Some(2), Some(20)));
    assert_eq!((d.db_now - d.job.finished_at.unwrap()).num_minutes(), 30);
    assert!((d.db_now - d.job.created_at.unwrap()).num_seconds() < 60);
    assert_eq!(d.payload.as_deref(), Some("{}"));
    assert_eq!(d.error_count, 2);
    let history: Vec<(Option<i64>, &str, Option<&str>)> = d
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str(), e.worker.as_deref()))
        .collect();
    assert_eq!(
        history,
        vec![(Some(2), "boom", None), (Some(1), "boom", None)]
    );
    assert_eq!(
        (d.db_now - d.errors[0].at.unwrap()).num_minutes(),
        30,
        "entry times are instants"
    );

    let day = oban
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Hour,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let groups: Vec<(&str, i64, Vec<JobId>)> = day
        .groups
        .iter()
        .map(|g| (g.signature.as_str(), g.count, g.ids.clone()))
        .collect();
    assert_eq!(groups, vec![("boom", 1, ints(&[11]))]);

    // Sync: 11's two attempts and the retrying 8's one in the hour (7 waits in the ready
    // list, like the overview's failures per minute, it is not read). Attempt times are
    // not in the fixture, so there are no run or wait times.
    let kinds = oban
        .kinds(&KindsQuery {
            window: HistoryWindow::Hour,
            limit: 10_000,
        })
        .await
        .unwrap();
    assert_kinds(
        &kinds.kinds,
        &[
            ("App.Sync", 0, 3, 1, None, None),
            ("App.Mailer", 3, 0, 0, None, None),
            ("App.Track", 1, 0, 0, None, None),
        ],
    );
    pool.close().await;
}

async fn mapped(pool: &PgPool, profile: &str) -> Foreign {
    mapped::open(pool.clone(), Profile::shipped(profile).unwrap(), None)
        .await
        .unwrap()
}

/// The ids of the rows matching `condition`, in the id's own order.
async fn ids_where(pool: &PgPool, table: &str, condition: &str) -> Vec<JobId> {
    let sql = format!("SELECT id::text FROM {table} WHERE {condition} ORDER BY id");
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(!ids.is_empty(), "no row where {condition}");
    ids.into_iter().map(JobId::from_db).collect()
}

#[tokio::test]
async fn job_queue_profile_with_uuid_ids() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, JOB_QUEUE).await;
    let b = mapped(pool, "job_queue").await;
    let w = |c: &'static str| ids_where(pool, "job_queue", c);
    let one = |v: Vec<JobId>| {
        assert_eq!(v.len(), 1, "{v:?}");
        v
    };
    let ready = [
        one(w("status = 'pending' AND run_at < now() - interval '3 minutes' AND task_type = 'game_platform_sync'").await),
        one(w("status = 'pending' AND attempts = 1").await),
        one(w("status = 'pending' AND run_at BETWEEN now() - interval '90 seconds' AND now()").await),
    ]
    .concat();
    let scheduled = one(w("status = 'pending' AND run_at > now() + interval '30 minutes'").await);
    let retrying = one(w("status = 'pending' AND attempts = 2").await);
    let running = one(w("status = 'running'").await);
    let failed = w("status = 'failed' AND task_type = 'game_platform_sync'").await;
    let succeeded = [
        one(w("status = 'succeeded' AND completed_at < now() - interval '10 minutes'").await),
        w("status = 'succeeded' AND completed_at > now() - interval '10 minutes'").await,
    ]
    .concat();
    let cancelled = one(w("status = 'cancelled'").await);
    assert!(matches!(ready[0], JobId::Text(_)), "uuid ids: {ready:?}");
    assert_lists(
        &b,
        "game_platform_sync",
        &[
            (JobState::Ready, ready.clone()),
            (JobState::Scheduled, scheduled),
            (JobState::Retrying, retrying.clone()),
            (JobState::Running, running),
            (JobState::Dead, failed.clone()),
            (JobState::Succeeded, succeeded),
            (JobState::Cancelled, cancelled),
        ],
    )
    .await;

    // A uuid typed in the filter finds its job; one that is not a uuid finds nothing.
    let mut q = query(
        queue("game_platform_sync", JobState::Ready),
        Order::OldestFirst,
        10,
    );
    q.filter.id = Some(ready[1].clone());
    assert_eq!(ids(&b.jobs(&q).await.unwrap()), vec![ready[1].clone()]);
    q.filter.id = Some(JobId::Int(5));
    assert!(b.jobs(&q).await.unwrap().rows.is_empty());
    let set = b
        .jobs(&query(
            JobScope::Ids {
                ids: vec![
                    failed[1].clone(),
                    JobId::Text("nope".into()),
                    retrying[0].clone(),
                ],
            },
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    let mut want = vec![failed[1].clone(), retrying[0].clone()];
    want.sort_by_key(|id| id.to_string());
    assert_eq!(ids(&set), want);

    // What the schema lacks stays absent: no priority, no error history, no worker.
    let d = b
        .job(&ready[1], &DetailLimits::default())
        .await
        .unwrap()
        .expect("the retried job");
    assert_eq!(d.job.state, JobState::Ready);
    assert_eq!(d.job.priority, None);
    assert_eq!((d.job.attempts, d.job.max_attempts), (Some(1), Some(5)));
    assert_eq!(d.job.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(d.job.worker, None);
    assert_eq!(d.job.started_at, None);
    assert!(d.job.created_at.is_some());
    assert_eq!(d.payload.as_deref(), Some("{}"));
    assert_eq!((d.error_count, d.errors.len()), (0, 0));
    assert!(
        b.job(
            &JobId::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
            &DetailLimits::default()
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        b.job(&JobId::Int(1), &DetailLimits::default())
            .await
            .unwrap()
            .is_none()
    );

    let day = b
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Day,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    type Group<'a> = (&'a str, i64, Vec<(String, i64)>);
    let groups: Vec<Group> = day
        .groups
        .iter()
        .map(|g| (g.signature.as_str(), g.count, g.kinds.clone()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                "HTTP <n>: bad secret",
                2,
                vec![("game_platform_sync".into(), 2)]
            ),
            (
                "division by zero",
                1,
                vec![("leaderboard_rollup".into(), 1)]
            ),
        ]
    );
    let mut group_ids = day.groups[0].ids.clone();
    group_ids.sort_by_key(|id| id.to_string());
    assert_eq!(group_ids, failed);

    // Without attempt times, failures are the jobs that failed for good.
    let hour = b
        .kinds(&KindsQuery {
            window: HistoryWindow::Hour,
            limit: 10_000,
        })
        .await
        .unwrap();
    assert_kinds(
        &hour.kinds,
        &[("game_platform_sync", 3, 2, 2, Some(60.0), Some(0.0))],
    );
    let day = b
        .kinds(&KindsQuery {
            window: HistoryWindow::Day,
            limit: 10_000,
        })
        .await
        .unwrap();
    assert_kinds(
        &day.kinds,
        &[
            ("leaderboard_rollup", 0, 1, 1, None, None),
            ("game_platform_sync", 3, 2, 2, Some(60.0), Some(0.0)),
        ],
    );
    let capped = b
        .kinds(&KindsQuery {
            window: HistoryWindow::Day,
            limit: 2,
        })
        .await
        .unwrap();
    assert!(capped.covered_since.is_some());
}

#[tokio::test]
async fn jobforge_profile_tenants_and_json_errors() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, JOBFORGE).await;
    let b = mapped(pool, "jobforge").await;
    let w = |c: &'static str| ids_where(pool, "jobforge_jobs", c);

    // Dead is two status values, two ranges merged in finish-time order.
    let dead = [
        w("status = 'dead' AND finished_at < now() - interval '1 hour'").await,
        w("status IN ('failed', 'dead') AND finished_at > now() - interval '1 hour'").await,
    ]
    .concat();
    let running = [
        w("status = 'running' AND locked_by = 'w2' AND type = 'connector.http.request'").await,
        w("status = 'running' AND locked_by = 'w1'").await,
    ]
    .concat();
    assert_lists(
        &b,
        "connector.http.request",
        &[(JobState::Dead, dead.clone()), (JobState::Running, running)],
    )
    .await;
    let page = b
        .jobs(&query(
            queue("connector.http.request", JobState::Dead),
            Order::NewestFirst,
            10,
        ))
        .await
        .unwrap();
    let errors: Vec<&str> = page
        .rows
        .iter()
        .map(|r| r.last_error.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(errors.len(), 3);
    assert!(
        errors.contains(&"HTTP 400"),
        "the JSON error's message: {errors:?}"
    );
    assert_eq!(page.rows[0].tenant.as_deref(), Some("t-zeta"));
    let mut q = query(
        queue("connector.http.request", JobState::Dead),
        Order::OldestFirst,
        10,
    );
    q.filter.tenant = Some("t-zeta".into());
    q.filter.error_text = Some("econnrefused".into());
    assert_eq!(b.jobs(&q).await.unwrap().rows.len(), 2);

    let stuck = b
        .jobs(&query(
            JobScope::Stuck {
                running_longer_than: Duration::from_secs(3600),
                stale_after: Duration::from_secs(120),
            },
            Order::OldestFirst,
            10,
        ))
        .await
        .unwrap();
    let holders: Vec<Option<&str>> = stuck.rows.iter().map(|r| r.worker.as_deref()).collect();
    assert_eq!(
        holders,
        vec![Some("w2"), Some("w2")],
        "heartbeats 10 and 9 minutes old"
    );

    let report = b
        .tenants(&TenantsQuery {
            stale_after: Duration::from_secs(60),
            ready_cap: 1000,
        })
        .await
        .unwrap();
    let rows: Vec<(Option<&str>, i64, i64, i64)> = report
        .tenants
        .iter()
        .map(|t| (t.tenant.as_deref(), t.running, t.beating, t.ready.value))
        .collect();
    assert_eq!(
        rows,
        vec![
            (Some("t-acme"), 2, 2, 2),
            (Some("system"), 1, 0, 1),
            (Some("t-zeta"), 1, 0, 0),
        ]
    );

    let day = b
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Day,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let groups: Vec<(&str, i64)> = day
        .groups
        .iter()
        .map(|g| (g.signature.as_str(), g.count))
        .collect();
    assert_eq!(groups, vec![("ECONNREFUSED", 2), ("HTTP <n>", 1)]);
}

#[tokio::test]
async fn cepro_dead_letters_without_a_finish_time_are_listed_and_grouped() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, CEPRO).await;
    let b = mapped(pool, "cepro").await;
    assert_lists(
        &b,
        "background_jobs",
        &[
            (JobState::Ready, ints(&[1, 2, 5, 3])),
            (JobState::Retrying, ints(&[6, 7])),
            (JobState::Dead, ints(&[14, 15])),
            (JobState::Succeeded, ints(&[13, 12, 10, 11])),
        ],
    )
    .await;
    let report = async |window| {
        b.dead_letters(&DeadLetterQuery {
            window,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
    };
    let day = report(DeadWindow::Day).await.unwrap();
    assert_eq!(day.groups.len(), 1);
    assert_eq!(day.groups[0].signature, "HTTP <n>");
    assert_eq!(day.groups[0].count, 2);
    assert_eq!(
        (day.db_now - day.groups[0].last_seen).num_minutes(),
        180,
        "placed at their run-at"
    );
    assert!(report(DeadWindow::Hour).await.unwrap().groups.is_empty());
    let err = b
        .tenants(&TenantsQuery {
            stale_after: Duration::from_secs(60),
            ready_cap: 10,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}

/// Every state's list, oldest and newest first, first and second page, with a kind filter.
async fn list_plans(
    backend: &dyn Reads,
    queue_name: &str,
    explain: impl AsyncFn(&JobQuery) -> String,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for state in JobState::ALL {
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let mut q = query(queue(queue_name, state), order, 100);
            let first = backend.jobs(&q).await.unwrap();
            if let Some(last) = first.rows.last() {
                q.after = Some(last.cursor(q.scope.sort_key()));
            }
            q.filter.kind = Some("kind.3".into());
            out.push((format!("{state:?} {order:?}"), explain(&q).await));
        }
    }
    out
}

#[tokio::test]
async fn river_and_oban_lists_read_indexes_only() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, RIVER).await;
    sqlx::raw_sql(
        "INSERT INTO river_job (args, state, kind, queue, priority, scheduled_at, attempt, \
           attempted_at, attempted_by, finalized_at) \
         SELECT '{}', s.state, 'kind.' || (g % 7), (ARRAY['default', 'mailers', 'batch'])[1 + g % 3], \
           1 + g % 4, now() + make_interval(mins => (g % 200) - 100), 1, \
           CASE WHEN s.state <> 'available' THEN now() - make_interval(secs => g) END, \
           ARRAY['client-' || (g % 5)], \
           CASE WHEN s.state IN ('completed', 'discarded', 'cancelled') \
             THEN now() - make_interval(secs => g) END \
         FROM generate_series(1, 30000) g \
         CROSS JOIN LATERAL (SELECT (CASE WHEN g % 100 < 70 THEN 'completed' \
           WHEN g % 100 < 75 THEN 'discarded' WHEN g % 100 < 85 THEN 'available' \
           WHEN g % 100 < 90 THEN 'scheduled' WHEN g % 100 < 95 THEN 'retryable' \
           WHEN g % 100 < 98 THEN 'running' ELSE 'cancelled' END)::river_job_state AS state) s; \
         ANALYZE river_job;",
    )
    .execute(pool)
    .await
    .unwrap();
    let river = river::open(pool.clone(), "public").await.unwrap();
    let plans = list_plans(&river, "mailers", async |q| {
        foreign_drill::explain(pool, river.drill_table(), q)
            .await
            .unwrap()
    })
    .await;
    assert_no_scans("river", &plans);

    load(pool, OBAN).await;
    sqlx::raw_sql(
        "INSERT INTO oban_jobs (state, queue, worker, priority, scheduled_at, attempt, \
           attempted_at, attempted_by, completed_at, discarded_at, cancelled_at) \
         SELECT s.state, (ARRAY['default', 'events', 'mail'])[1 + g % 3], 'kind.' || (g % 7), \
           g % 4, timezone('UTC', now()) + make_interval(mins => (g % 200) - 100), 1, \
           CASE WHEN s.state <> 'available' THEN timezone('UTC', now()) - make_interval(secs => g) END, \
           ARRAY['node-' || (g % 5), 'x'], \
           CASE WHEN s.state = 'completed' THEN timezone('UTC', now()) - make_interval(secs => g) END, \
           CASE WHEN s.state = 'discarded' THEN timezone('UTC', now()) - make_interval(secs => g) END, \
           CASE WHEN s.state = 'cancelled' THEN timezone('UTC', now()) - make_interval(secs => g) END \
         FROM generate_series(1, 30000) g \
         CROSS JOIN LATERAL (SELECT (CASE WHEN g % 100 < 70 THEN 'completed' \
           WHEN g % 100 < 75 THEN 'discarded' WHEN g % 100 < 85 THEN 'available' \
           WHEN g % 100 < 90 THEN 'scheduled' WHEN g % 100 < 95 THEN 'retryable' \
           WHEN g % 100 < 98 THEN 'executing' ELSE 'cancelled' END)::oban_job_state AS state) s; \
         CREATE INDEX oban_jobs_state_completed_at_index ON oban_jobs (state, completed_at); \
         ANALYZE oban_jobs;",
    )
    .execute(pool)
    .await
    .unwrap();
    let oban = oban::open(pool.clone(), "public").await.unwrap();
    let plans = list_plans(&oban, "mail", async |q| {
        foreign_drill::explain(pool, oban.drill_table(), q)
            .await
            .unwrap()
    })
    .await;
    assert_no_scans("oban", &plans);
}

fn assert_no_scans(backend: &str, plans: &[(String, String)]) {
    for (what, plan) in plans {
        if std::env::var("SHOW_PLANS").is_ok() {
            println!("== {backend} {what}\n{plan}");
        }
        assert!(
            !plan.contains("Seq Scan") && !plan.contains("_pkey"),
            "{backend} {what} reads the whole table:\n{plan}"
        );
    }
}

/// A home-grown table has the indexes its owners made: the waiting lists use the claim
/// index; the others read the whole table until doctor's index is there.
#[tokio::test]
async fn mapped_lists_use_the_indexes_doctor_names() {
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, JOB_QUEUE).await;
    sqlx::raw_sql(
        "INSERT INTO job_queue (task_type, status, attempts, run_at, locked_at, last_error, completed_at) \
         SELECT (ARRAY['sync', 'rollup', 'mail'])[1 + g % 3], s.status, g % 3, \
           now() + make_interval(mins => (g % 200) - 100), \
           CASE WHEN s.status <> 'pending' THEN now() - make_interval(secs => g) END, \
           CASE WHEN s.status = 'failed' THEN 'HTTP ' || (400 + g % 5) END, \
           CASE WHEN s.status IN ('succeeded', 'failed', 'cancelled') THEN now() - make_interval(secs => g) END \
         FROM generate_series(1, 30000) g \
         CROSS JOIN LATERAL (SELECT CASE WHEN g % 100 < 70 THEN 'succeeded' \
           WHEN g % 100 < 75 THEN 'failed' WHEN g % 100 < 95 THEN 'pending' \
           WHEN g % 100 < 98 THEN 'running' ELSE 'cancelled' END AS status) s; \
         ANALYZE job_queue;",
    )
    .execute(pool)
    .await
    .unwrap();
    let b = mapped(pool, "job_queue").await;
    let explain = async |q: &JobQuery| {
        foreign_drill::explain(pool, b.drill_table(), q)
            .await
            .unwrap()
    };
    let plans = list_plans(&b, "mail", explain).await;
    let (waiting, finished): (Vec<_>, Vec<_>) = plans.into_iter().partition(|(what, _)| {
        ["Ready", "Scheduled", "Retrying"]
            .iter()
            .any(|s| what.starts_with(s))
    });
    assert_no_scans("job_queue", &waiting);
    // Until then a finished list reads every job of its status, of every queue, to sort it.
    for (what, plan) in &finished {
        assert!(
            plan.contains("job_queue_status_run_at_idx"),
            "{what}:\n{plan}"
        );
    }
    let unordered = |b: &Foreign| -> Vec<String> {
        b.doctor_plan()
            .findings
            .into_iter()
            .filter(|c| c.name.starts_with("job list"))
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(
        unordered(&b),
        [
            "job list: cancelled",
            "job list: dead",
            "job list: succeeded"
        ]
    );
    for state in [
        JobState::Running,
        JobState::Dead,
        JobState::Succeeded,
        JobState::Cancelled,
    ] {
        let fix = b
            .drill_table()
            .list(state)
            .and_then(|l| l.fix.clone())
            .expect("doctor names an index");
        sqlx::raw_sql(sqlx::AssertSqlSafe(fix.replace(" CONCURRENTLY", "")))
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::raw_sql("ANALYZE job_queue")
        .execute(pool)
        .await
        .unwrap();
    let plans = list_plans(&b, "mail", explain).await;
    assert_no_scans("job_queue", &plans);
    for (what, plan) in &plans {
        let index = match what.split(' ').next().unwrap() {
            "Running" => "job_queue_jobtop_by_locked_at",
            "Dead" | "Succeeded" | "Cancelled" => "job_queue_jobtop_by_completed_at",
            _ => continue,
        };
        assert!(plan.contains(index), "{what} does not use {index}:\n{plan}");
    }
    assert!(unordered(&mapped(pool, "job_queue").await).is_empty());
    let report = jobtop::backend::doctor::run(pool, &b).await;
    for check in report
        .iter()
        .filter(|c| c.name.starts_with("query plan: job list"))
    {
        assert_eq!(
            check.status,
            jobtop::backend::doctor::Status::Ok,
            "{check:?}"
        );
    }
}

/// A 1 MB error and a 2 MB payload are cut by the database, with their full sizes
/// reported; a River backend behind the shared-snapshot wrapper answers the same reads.
#[tokio::test(flavor = "multi_thread")]
async fn huge_values_are_cut_in_sql_and_wrappers_pass_reads_through() {
    use jobtop::backend::wrappers::shared::{SharedOptions, SharedSnapshot};

    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, RIVER).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO river_job (state, kind, queue, attempt, attempted_at, attempted_by, \
           args, errors, finalized_at) \
         VALUES ('discarded', 'huge', 'default', 1, now(), '{client-z}', \
           jsonb_build_object('blob', repeat('x', 2000000)), \
           ARRAY[jsonb_build_object('at', now(), 'attempt', 1, \
             'error', 'first line' || chr(10) || repeat('e', 1000000), 'trace', '')], now()) \
         RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let river = river::open(pool.clone(), "public").await.unwrap();
    let plain = jobtop::backend::Backend::new(river);
    let shared = std::sync::Arc::new(SharedSnapshot::new(
        plain.reads().clone(),
        pool,
        SharedOptions {
            interval: Duration::from_millis(400),
            max_wait: Duration::from_millis(400),
            read_only: true,
        },
    ));
    let wrapped = plain.clone().wrap_overview(|_| shared.clone());
    let error_len = "first line\n".len() as i64 + 1_000_000;
    let backends: [&dyn Reads; 2] = [plain.reads().as_ref(), wrapped.reads().as_ref()];
    for backend in backends {
        let page = backend
            .jobs(&query(
                queue("default", JobState::Dead),
                Order::NewestFirst,
                10,
            ))
            .await
            .unwrap();
        let row = &page.rows[0];
        assert_eq!(row.id, JobId::Int(id));
        assert_eq!(row.last_error.as_ref().unwrap().chars().count(), 300);
        assert_eq!(row.error_bytes, error_len);

        let limits = DetailLimits {
            payload_chars: 4096,
            error_chars: 2048,
            errors: 10,
        };
        let d = backend
            .job(&JobId::Int(id), &limits)
            .await
            .unwrap()
            .unwrap();
        let payload = d.payload.as_deref().unwrap();
        assert_eq!(payload.chars().count(), 4096);
        assert!(payload.starts_with("{\"blob\": \"xxx"));
        assert!(d.payload_truncated);
        assert_eq!(d.payload_bytes, 2_000_000 + "{\"blob\": \"\"}".len() as i64);
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].error.chars().count(), 2048);
        assert_eq!(d.errors[0].error_bytes, error_len);
        assert_eq!(d.errors[0].worker.as_deref(), Some("client-z"));
        assert_eq!(d.job.error_bytes, error_len);

        let dead = backend
            .dead_letters(&DeadLetterQuery {
                window: DeadWindow::Hour,
                kind: Some("huge".into()),
                queue: None,
                limit: 100,
            })
            .await
            .unwrap();
        assert_eq!(dead.groups.len(), 1);
        assert_eq!(dead.groups[0].signature, "first line");
        assert!(dead.groups[0].sample.len() <= 300);
        let kinds = backend
            .kinds(&KindsQuery {
                window: HistoryWindow::Hour,
                limit: 100,
            })
            .await
            .unwrap();
        assert_eq!(kind(&kinds.kinds, "huge").dead, 1);
    }
    shared.close().await;
}

/// Ids the fixture's own SQL finds, in the order a list shows them.
async fn ids_ordered(pool: &PgPool, sql: &str) -> Vec<JobId> {
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(!ids.is_empty(), "no row: {sql}");
    ids.into_iter().map(JobId::from_db).collect()
}

#[tokio::test]
async fn pgboss_lists_by_uuid_with_the_last_error() {
    use jobtop::backend::pgboss;
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, PGBOSS).await;
    let b = pgboss::open(pool.clone(), "pgboss").await.unwrap();
    let waiting = "FROM pgboss.job WHERE name = 'emails' AND state IN ('created', 'retry') \
                   AND NOT blocked";
    let ready = ids_ordered(
        pool,
        &format!("SELECT id::text {waiting} AND start_after <= now() ORDER BY start_after, id"),
    )
    .await;
    let retrying = ids_ordered(
        pool,
        &format!(
            "SELECT id::text {waiting} AND state = 'retry' AND start_after > now() \
             ORDER BY start_after, id"
        ),
    )
    .await;
    let dead = ids_ordered(
        pool,
        "SELECT id::text FROM pgboss.job WHERE name = 'emails' AND state = 'failed' \
         ORDER BY completed_on, id",
    )
    .await;
    assert!(matches!(ready[0], JobId::Text(_)), "uuid ids: {ready:?}");
    assert_lists(
        &b,
        "emails",
        &[
            (JobState::Ready, ready.clone()),
            (JobState::Retrying, retrying.clone()),
            (JobState::Dead, dead.clone()),
        ],
    )
    .await;
    // A retrying job's detail: its attempts and the error pg-boss kept in `output`.
    let d = b
        .job(&retrying[0], &DetailLimits::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.job.attempts, Some(1));
    assert_eq!(d.job.last_error.as_deref(), Some("smtp timeout"));
    assert!(d.errors.is_empty(), "pg-boss keeps no error history");
}

#[tokio::test]
async fn graphile_lists_by_task_and_dead_jobs_by_their_last_failure() {
    use jobtop::backend::graphile;
    let db = common::test_db().await;
    let pool = &db.pool;
    load(pool, GRAPHILE).await;
    let b = graphile::open(pool.clone(), "graphile_worker")
        .await
        .unwrap();
    let of_task = "FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t \
                   ON t.id = j.task_id WHERE t.identifier = 'send_email'";
    let ready = ids_ordered(
        pool,
        &format!(
            "SELECT j.id::text {of_task} AND j.locked_at IS NULL AND j.attempts < j.max_attempts \
             AND j.run_at <= now() ORDER BY j.run_at, j.id"
        ),
    )
    .await;
    let running = ids_ordered(
        pool,
        &format!(
            "SELECT j.id::text {of_task} AND j.locked_at IS NOT NULL ORDER BY j.locked_at, j.id"
        ),
    )
    .await;
    let dead = ids_ordered(
        pool,
        &format!(
            "SELECT j.id::text {of_task} AND j.locked_at IS NULL AND j.attempts >= j.max_attempts \
             ORDER BY j.updated_at, j.id"
        ),
    )
    .await;
    assert_lists(
        &b,
        "send_email",
        &[
            (JobState::Ready, ready),
            (JobState::Running, running),
            (JobState::Dead, dead.clone()),
        ],
    )
    .await;
    let d = b
        .job(&dead[0], &DetailLimits::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.job.kind, "send_email");
    assert!(d.job.last_error.is_some(), "{:?}", d.job);
}
