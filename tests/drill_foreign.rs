//! The drill-down reads on other projects' schemas (River, Oban, mapped profiles) against a
//! real PostgreSQL: each state's list with its ids in order and a second page through the
//! cursor, the job detail with payload and error history, dead letters grouped by
//! signature, per-kind figures, tenants; and the plans of the lists on a table of some
//! thousands of rows (index paths only).

mod common;

use std::time::Duration;

use jobtop::backend::Backend;
use jobtop::backend::drill::{
    DeadLetterQuery, DeadWindow, DetailLimits, JobFilter, JobPage, JobQuery, JobScope, KindStats,
    KindWindow, KindsQuery, Order,
};
use jobtop::backend::river::RiverBackend;
use jobtop::backend::{JobId, JobState};
use sqlx::PgPool;

const RIVER: &str = include_str!("fixtures/river.sql");

async fn load(pool: &PgPool, sql: &'static str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .expect("fixture loads");
}

fn query(scope: JobScope, order: Order, limit: usize) -> JobQuery {
    JobQuery {
        scope,
        filter: JobFilter::default(),
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
async fn walk(backend: &dyn Backend, mut q: JobQuery) -> Vec<JobId> {
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
async fn assert_lists(backend: &dyn Backend, q: &str, expected: &[(JobState, Vec<JobId>)]) {
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
    let river = RiverBackend::open(db.pool.clone(), "public").await.unwrap();

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
    q.filter = JobFilter {
        id: Some(JobId::Int(8)),
        ..JobFilter::default()
    };
    assert_eq!(ids(&river.jobs(&q).await.unwrap()), ints(&[8]));
    q.filter.id = Some(JobId::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()));
    assert_eq!(ids(&river.jobs(&q).await.unwrap()), Vec::<JobId>::new());
    q.filter = JobFilter {
        tenant: Some("acme".into()),
        ..JobFilter::default()
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
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(day.jobs, 1);
    assert_eq!(day.groups.len(), 1);
    assert_eq!(day.groups[0].signature, "boom");
    assert_eq!(day.groups[0].ids, ints(&[13]));
    assert_eq!(day.groups[0].kinds, vec![("sync".to_string(), 1)]);
    let week = river
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Week,
            kind: Some("sync".into()),
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
            window: KindWindow::Hour,
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
