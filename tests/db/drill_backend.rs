//! The drill-down reads of the native backend against a real PostgreSQL: each list's rows,
//! counts and order; keyset paging while jobs arrive; filters; the job detail with huge
//! values; dead letters grouped by signature; kinds; tenants; text that is not UTF-8; and
//! the plans (index paths only).

use std::collections::HashSet;
use std::time::Duration;

use sqlx::PgPool;

use jobtop::backend::drill::{
    DeadLetterQuery, DeadWindow, DetailLimits, HistoryWindow, JobPage, JobQuery, JobScope,
    KindsQuery, ListFilter, Order, TenantsQuery,
};
use jobtop::backend::native::NativeBackend;
use jobtop::backend::{JobId, JobState, Reads};

use crate::common;

/// A job inserted as it is, times in seconds from now (negative = past).
#[derive(Clone)]
struct J {
    queue: &'static str,
    kind: &'static str,
    tenant: Option<&'static str>,
    state: &'static str,
    run: f64,
    started: Option<f64>,
    finished: Option<f64>,
    worker: Option<&'static str>,
    error: Option<String>,
}

fn j(queue: &'static str, state: &'static str) -> J {
    J {
        queue,
        kind: "task",
        tenant: None,
        state,
        run: -1000.0,
        started: None,
        finished: None,
        worker: None,
        error: None,
    }
}

async fn insert(pool: &PgPool, job: &J) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO jobtop.jobs (queue, kind, tenant_id, state, attempts, run_at, created_at, \
           started_at, finished_at, locked_by, heartbeat_at, last_error, failed_at) \
         VALUES ($1, $2, $3, $4::jobtop.job_state, \
           CASE WHEN $4 IN ('queued') THEN 0 ELSE 1 END, \
           now() + make_interval(secs => $5), now() - interval '2 hours', \
           now() + make_interval(secs => $6), now() + make_interval(secs => $7), \
           $8, CASE WHEN $8 IS NOT NULL THEN now() END, $9, \
           CASE WHEN $9 IS NOT NULL THEN now() END) \
         RETURNING id",
    )
    .bind(job.queue)
    .bind(job.kind)
    .bind(job.tenant)
    .bind(job.state)
    .bind(job.run)
    .bind(job.started)
    .bind(job.finished)
    .bind(job.worker)
    .bind(job.error.as_deref())
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn ensure_queue(pool: &PgPool, name: &str) {
    sqlx::query("INSERT INTO jobtop.queues (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(pool)
        .await
        .unwrap();
}

fn query(scope: JobScope, order: Order) -> JobQuery {
    JobQuery {
        scope,
        filter: ListFilter::default(),
        order,
        after: None,
        limit: 100,
    }
}

fn queue_scope(queue: &str, state: JobState) -> JobScope {
    JobScope::Queue {
        queue: queue.into(),
        state,
    }
}

fn ids(page: &JobPage) -> Vec<i64> {
    page.rows.iter().filter_map(|r| r.id.as_int()).collect()
}

#[tokio::test]
async fn each_state_tab_lists_its_jobs_in_order_with_counts() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let backend = NativeBackend::new(pool.clone());
    let at = |mut job: J, run: f64| {
        job.run = run;
        job
    };
    let q1 = insert(pool, &at(j("mailers", "queued"), -30.0)).await;
    let rt = insert(pool, &at(j("mailers", "retrying"), -25.0)).await;
    let q2 = insert(pool, &at(j("mailers", "queued"), -20.0)).await;
    let q3 = insert(pool, &at(j("mailers", "queued"), -10.0)).await;
    let s2 = insert(pool, &at(j("mailers", "queued"), 7200.0)).await;
    let s1 = insert(pool, &at(j("mailers", "queued"), 3600.0)).await;
    let r1 = insert(pool, &at(j("mailers", "retrying"), 600.0)).await;
    let running = |started: f64, worker: &'static str| J {
        started: Some(started),
        worker: Some(worker),
        ..j("mailers", "running")
    };
    let u2 = insert(pool, &running(-60.0, "w2")).await;
    let u1 = insert(pool, &running(-120.0, "w1")).await;
    let finished = |state: &'static str, at: f64| J {
        started: Some(at - 1.0),
        finished: Some(at),
        ..j("mailers", state)
    };
    let d2 = insert(pool, &finished("dead", -100.0)).await;
    let d1 = insert(pool, &finished("dead", -300.0)).await;
    let c1 = insert(pool, &finished("succeeded", -50.0)).await;
    let c2 = insert(pool, &finished("succeeded", -40.0)).await;
    let x1 = insert(pool, &finished("cancelled", -30.0)).await;
    // Another queue's jobs never show.
    for state in [
        "queued",
        "retrying",
        "running",
        "dead",
        "succeeded",
        "cancelled",
    ] {
        insert(pool, &finished(state, -10.0).clone_in("default")).await;
    }

    let expect: [(JobState, Vec<i64>); 7] = [
        (JobState::Ready, vec![q1, rt, q2, q3]),
        (JobState::Scheduled, vec![s1, s2]),
        (JobState::Retrying, vec![r1]),
        (JobState::Running, vec![u1, u2]),
        (JobState::Dead, vec![d1, d2]),
        (JobState::Succeeded, vec![c1, c2]),
        (JobState::Cancelled, vec![x1]),
    ];
    for (state, oldest_first) in expect {
        let page = backend
            .jobs(&query(queue_scope("mailers", state), Order::OldestFirst))
            .await
            .unwrap();
        assert_eq!(ids(&page), oldest_first, "{state:?} oldest first");
        assert_eq!(
            page.scope_count.value,
            oldest_first.len() as i64,
            "{state:?}"
        );
        assert!(!page.scope_count.capped);
        assert!(!page.has_more);
        assert!(page.rows.iter().all(|r| r.state == state), "{state:?}");
        assert!(page.rows.iter().all(|r| r.queue == "mailers"));

        let page = backend
            .jobs(&query(queue_scope("mailers", state), Order::NewestFirst))
            .await
            .unwrap();
        let mut newest_first = oldest_first.clone();
        newest_first.reverse();
        assert_eq!(ids(&page), newest_first, "{state:?} newest first");
    }

    // The row carries what the list shows.
    let page = backend
        .jobs(&query(
            queue_scope("mailers", JobState::Running),
            Order::OldestFirst,
        ))
        .await
        .unwrap();
    assert_eq!(page.rows[0].worker.as_deref(), Some("w1"));
    assert_eq!(page.rows[0].attempts, Some(1));
    assert!(page.rows[0].started_at.is_some());
}

trait InQueue {
    fn clone_in(&self, queue: &'static str) -> J;
}

impl InQueue for J {
    fn clone_in(&self, queue: &'static str) -> J {
        J {
            queue,
            ..self.clone()
        }
    }
}

/// Pages through a list to its end, running `between` after every page.
async fn walk(
    backend: &NativeBackend,
    mut q: JobQuery,
    mut between: impl AsyncFnMut(usize),
) -> Vec<i64> {
    let mut seen = Vec::new();
    for n in 0.. {
        let page = backend.jobs(&q).await.unwrap();
        assert!(page.rows.len() <= q.limit);
        seen.extend(ids(&page));
        if !page.has_more {
            break;
        }
        let last = page.rows.last().unwrap();
        q.after = Some(last.cursor(q.scope.sort_key()));
        between(n).await;
        assert!(n < 1000, "paging does not end");
    }
    seen
}

#[tokio::test]
async fn keyset_pages_have_no_gaps_or_duplicates_while_jobs_arrive() {
    let db = common::test_db().await;
    let pool = &db.pool;
    ensure_queue(pool, "bulk").await;
    let backend = NativeBackend::new(pool.clone());
    // 250 ready jobs a second apart, and 40 sharing one run_at right across a page boundary.
    sqlx::query(
        "INSERT INTO jobtop.jobs (queue, kind, run_at) \
         SELECT 'bulk', 'task', now() - make_interval(secs => 1000 - g) FROM generate_series(1, 250) g",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO jobtop.jobs (queue, kind, run_at) \
         SELECT 'bulk', 'task', date_trunc('second', now()) - interval '850 seconds' - interval '0.5 seconds' \
         FROM generate_series(1, 40)",
    )
    .execute(pool)
    .await
    .unwrap();
    let original: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM jobtop.jobs WHERE queue = 'bulk' ORDER BY run_at, id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(original.len(), 290);

    let mut added_after = Vec::new();
    let seen = walk(
        &backend,
        JobQuery {
            limit: 60,
            ..query(queue_scope("bulk", JobState::Ready), Order::OldestFirst)
        },
        async |_| {
            // New jobs due now land after the cursor; jobs due long ago land before it.
            for run in [-0.5, -5000.0] {
                let id = insert(
                    pool,
                    &J {
                        run,
                        ..j("bulk", "queued")
                    },
                )
                .await;
                if run > -1.0 {
                    added_after.push(id);
                }
            }
        },
    )
    .await;
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a job was listed twice");
    assert_eq!(
        seen[..original.len()],
        original[..],
        "every job present at the start, once, in order"
    );
    assert_eq!(
        seen[original.len()..],
        added_after[..],
        "arrivals come after"
    );

    // Newest first through the dead letters, while more jobs die.
    sqlx::query(
        "INSERT INTO jobtop.jobs (queue, kind, state, run_at, finished_at) \
         SELECT 'bulk', 'task', 'dead', now(), \
                date_trunc('second', now()) - make_interval(secs => (g / 3) * 7) \
         FROM generate_series(1, 230) g",
    )
    .execute(pool)
    .await
    .unwrap();
    let dead: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM jobtop.jobs WHERE queue = 'bulk' AND state = 'dead' \
         ORDER BY finished_at DESC, id DESC",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let seen = walk(
        &backend,
        JobQuery {
            limit: 50,
            ..query(queue_scope("bulk", JobState::Dead), Order::NewestFirst)
        },
        async |_| {
            insert(
                pool,
                &J {
                    finished: Some(0.0),
                    ..j("bulk", "dead")
                },
            )
            .await;
        },
    )
    .await;
    assert_eq!(
        seen, dead,
        "newest first: no gaps, no duplicates, no newcomers"
    );
}

#[tokio::test]
async fn filters_narrow_a_list() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let backend = NativeBackend::new(pool.clone());
    let dead = |kind: &'static str, tenant: &'static str, error: &str| J {
        kind,
        tenant: Some(tenant),
        finished: Some(-10.0),
        error: Some(error.to_string()),
        ..j("mailers", "dead")
    };
    let a = insert(
        pool,
        &dead("email.send", "acme", "SMTP 550 mailbox unavailable"),
    )
    .await;
    let b = insert(
        pool,
        &dead("email.send", "globex", "Connection RESET by peer"),
    )
    .await;
    let c = insert(pool, &dead("email.digest", "acme", "100% of quota_used")).await;
    let list = async |filter: ListFilter| {
        let q = JobQuery {
            filter,
            ..query(queue_scope("mailers", JobState::Dead), Order::OldestFirst)
        };
        ids(&backend.jobs(&q).await.unwrap())
    };
    let f = |kind: Option<&str>, tenant: Option<&str>, text: Option<&str>, id: Option<i64>| {
        ListFilter {
            id: id.map(JobId::Int),
            kind: kind.map(Into::into),
            tenant: tenant.map(Into::into),
            error_text: text.map(Into::into),
            payload: None,
        }
    };
    assert_eq!(
        list(f(Some("email.send"), None, None, None)).await,
        vec![a, b]
    );
    assert_eq!(list(f(None, Some("acme"), None, None)).await, vec![a, c]);
    assert_eq!(list(f(None, None, Some("reset"), None)).await, vec![b]);
    // LIKE wildcards typed by the user match themselves only.
    assert_eq!(list(f(None, None, Some("100%"), None)).await, vec![c]);
    assert_eq!(list(f(None, None, Some("quota_u"), None)).await, vec![c]);
    assert_eq!(list(f(None, None, Some("_"), None)).await, vec![c]);
    assert!(list(f(None, None, Some("%"), None)).await == vec![c]);
    assert_eq!(list(f(None, None, None, Some(b))).await, vec![b]);
    assert_eq!(
        list(f(Some("email.send"), Some("acme"), Some("smtp"), None)).await,
        vec![a]
    );
    assert!(list(f(Some("nope"), None, None, None)).await.is_empty());
    // The scope count ignores the filter.
    let q = JobQuery {
        filter: f(Some("nope"), None, None, None),
        ..query(queue_scope("mailers", JobState::Dead), Order::OldestFirst)
    };
    assert_eq!(backend.jobs(&q).await.unwrap().scope_count.value, 3);
}

#[tokio::test]
async fn worker_group_and_stuck_lists() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let backend = NativeBackend::new(pool.clone());
    for (id, beat) in [
        ("alive", "now()"),
        ("dead-one", "now() - interval '10 minutes'"),
    ] {
        sqlx::query(match beat {
            "now()" => "INSERT INTO jobtop.workers (id, last_heartbeat_at) VALUES ($1, now())",
            _ => "INSERT INTO jobtop.workers (id, last_heartbeat_at) VALUES ($1, now() - interval '10 minutes')",
        })
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    }
    let running = |worker: &'static str, started: f64| J {
        worker: Some(worker),
        started: Some(started),
        ..j("default", "running")
    };
    let fresh = insert(pool, &running("alive", -30.0)).await;
    let long = insert(pool, &running("alive", -7200.0)).await;
    let held1 = insert(pool, &running("dead-one", -300.0)).await;
    let held2 = insert(pool, &running("dead-one", -200.0)).await;
    // Held by a worker that never registered: judged by the job's own heartbeat (fresh).
    let unregistered = insert(pool, &running("ghost", -100.0)).await;

    let page = backend
        .jobs(&query(
            JobScope::Worker {
                worker: "dead-one".into(),
            },
            Order::OldestFirst,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![held1, held2]);
    assert!(page.rows.iter().all(|r| r.worker_heartbeat_at.is_some()));

    let page = backend
        .jobs(&query(
            JobScope::Stuck {
                running_longer_than: Duration::from_secs(3600),
                stale_after: Duration::from_secs(60),
            },
            Order::OldestFirst,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![long, held1, held2], "oldest start first");
    assert!(!ids(&page).contains(&fresh) && !ids(&page).contains(&unregistered));

    // A dead-letter group's jobs, whatever their state is now, by id.
    let other = insert(pool, &j("default", "dead")).await;
    let page = backend
        .jobs(&query(
            JobScope::Ids {
                ids: [held2, other, fresh, 999_999].map(JobId::Int).to_vec(),
            },
            Order::NewestFirst,
        ))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![other, held2, fresh]);
    assert_eq!(page.scope_count.value, 3);
}

#[tokio::test]
async fn job_detail_has_every_field_and_cuts_huge_values() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let backend = NativeBackend::new(pool.clone());
    sqlx::query("SELECT jobtop.register_worker('w-1', 'host', 1, ARRAY['mailers'])")
        .execute(pool)
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar(
        "SELECT jobtop.enqueue(queue => 'mailers', kind => 'email.send', \
           payload => jsonb_build_object('to', 'a@example.com', 'blob', repeat('x', 10000000)), \
           max_attempts => 3, tenant_id => 'acme', idempotency_key => 'order-7')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let huge_error = format!("first line\n{}", "e".repeat(1_000_000));
    for attempt in 1..=3 {
        let claimed: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM jobtop.claim('w-1', ARRAY['mailers'], 1)")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(claimed, vec![id]);
        let error = if attempt == 3 {
            huge_error.clone()
        } else {
            format!("timeout {attempt}")
        };
        sqlx::query("SELECT jobtop.fail($1, 'w-1', $2, interval '-1 second')")
            .bind(id)
            .bind(error)
            .execute(pool)
            .await
            .unwrap();
    }
    let limits = DetailLimits {
        payload_chars: 4096,
        error_chars: 2048,
        errors: 2,
    };
    let d = backend
        .job(&JobId::Int(id), &limits)
        .await
        .unwrap()
        .expect("the job exists");
    assert_eq!(d.job.id, id);
    assert_eq!(d.job.state, JobState::Dead);
    assert_eq!(d.job.kind, "email.send");
    assert_eq!(d.job.tenant.as_deref(), Some("acme"));
    assert_eq!((d.job.attempts, d.job.max_attempts), (Some(3), Some(3)));
    assert_eq!(d.idempotency_key.as_deref(), Some("order-7"));
    assert!(d.failed_at.is_some() && d.job.finished_at.is_some());
    assert!(d.payload_truncated);
    let payload = d.payload.as_deref().expect("a payload");
    assert_eq!(payload.chars().count(), 4096);
    assert!(d.payload_bytes > 10_000_000);
    assert!(payload.starts_with('{'));
    assert_eq!(d.error_count, 3);
    assert_eq!(d.errors.len(), 2, "only the newest attempts");
    assert_eq!(d.errors[0].attempt, Some(3));
    assert_eq!(d.errors[1].attempt, Some(2));
    assert_eq!(d.errors[1].error, "timeout 2");
    assert_eq!(d.errors[0].worker.as_deref(), Some("w-1"));
    assert!(d.errors[0].at.is_some());
    assert_eq!(d.errors[0].error.chars().count(), 2048);
    assert_eq!(d.errors[0].error_bytes, huge_error.len() as i64);
    assert_eq!(d.job.error_bytes, huge_error.len() as i64);

    // In a list the 1 MB error is a few hundred characters.
    let page = backend
        .jobs(&query(
            queue_scope("mailers", JobState::Dead),
            Order::OldestFirst,
        ))
        .await
        .unwrap();
    let row = &page.rows[0];
    assert_eq!(row.last_error.as_ref().unwrap().chars().count(), 300);
    assert_eq!(row.error_bytes, huge_error.len() as i64);

    assert!(
        backend
            .job(&JobId::Int(id + 1000), &limits)
            .await
            .unwrap()
            .is_none()
    );

    // An error history of an unexpected shape shows as it is.
    sqlx::query(r#"UPDATE jobtop.jobs SET errors = '[{"at": "yesterday", "attempt": "x"}, 42]' WHERE id = $1"#)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let d = backend
        .job(&JobId::Int(id), &limits)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.errors.len(), 2);
    assert_eq!(d.errors[0].error, "42");
    assert_eq!(d.errors[1].at, None);
    assert_eq!(d.errors[1].attempt, None);
}

async fn die(pool: &PgPool, queue: &str, kind: &str, error: &str) -> i64 {
    let id: i64 =
        sqlx::query_scalar("SELECT jobtop.enqueue(queue => $1, kind => $2, max_attempts => 1)")
            .bind(queue)
            .bind(kind)
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE jobtop.jobs SET state = 'running', attempts = 1, locked_by = 'w', started_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let state: String = sqlx::query_scalar("SELECT jobtop.fail($1, 'w', $2)::text")
        .bind(id)
        .bind(error)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(state, "dead");
    id
}

#[tokio::test]
async fn dead_letters_group_messages_that_differ_only_in_values() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let backend = NativeBackend::new(pool.clone());
    let mut smtp = Vec::new();
    for (i, queue) in ["mailers", "mailers", "mailers", "default"]
        .iter()
        .enumerate()
    {
        let kind = if i < 3 { "email.send" } else { "email.digest" };
        smtp.push(
            die(
                pool,
                queue,
                kind,
                &format!(
                    "SMTP 550 for user {} (request {:x}abc)",
                    1000 + i,
                    0xdead0000u32 + i as u32
                ),
            )
            .await,
        );
    }
    let hook = die(
        pool,
        "webhooks",
        "hook.post",
        "HTTP 500 from 'https://x.example/7'",
    )
    .await;
    let _same_exact = die(
        pool,
        "webhooks",
        "hook.post",
        "HTTP 500 from 'https://x.example/7'",
    )
    .await;
    // Died two days ago: only in the 7-day window.
    let old = die(pool, "webhooks", "hook.post", "TLS handshake failed").await;
    sqlx::query("UPDATE jobtop.jobs SET finished_at = now() - interval '2 days' WHERE id = $1")
        .bind(old)
        .execute(pool)
        .await
        .unwrap();

    let report = backend
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Day,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(report.jobs, 6);
    assert!(!report.capped);
    assert_eq!(report.groups.len(), 2);
    let g = &report.groups[0];
    assert_eq!(g.signature, "SMTP <n> for user <n> (request <id>)");
    assert_eq!(g.count, 4);
    let mut expected = smtp.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(g.ids, expected);
    assert_eq!(
        g.kinds,
        vec![
            ("email.send".to_string(), 3),
            ("email.digest".to_string(), 1)
        ]
    );
    assert_eq!(
        g.queues,
        vec![("mailers".to_string(), 3), ("default".to_string(), 1)]
    );
    assert!(g.first_seen <= g.last_seen);
    let h = &report.groups[1];
    assert_eq!(h.signature, "HTTP <n> from '?'");
    assert_eq!(h.count, 2);
    assert!(h.ids.contains(&JobId::Int(hook)));

    let week = backend
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Week,
            kind: None,
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(week.jobs, 7);
    assert_eq!(week.groups.len(), 3);

    let hooks = backend
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Week,
            kind: Some("hook.post".into()),
            queue: None,
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(hooks.jobs, 3);

    // `d` inside a queue: that queue's dead letters only.
    let in_mailers = backend
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Day,
            kind: None,
            queue: Some("mailers".into()),
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(in_mailers.jobs, 3);
    assert_eq!(in_mailers.groups.len(), 1);
    assert_eq!(
        in_mailers.groups[0].queues,
        vec![("mailers".to_string(), 3)]
    );

    // Only the newest are grouped past the limit, and the report says so.
    let capped = backend
        .dead_letters(&DeadLetterQuery {
            window: DeadWindow::Week,
            kind: None,
            queue: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(capped.jobs, 2);
    assert!(capped.capped);
    assert!(capped.covered_since.is_some());
}

#[tokio::test]
async fn kinds_report_outcomes_and_timings_worst_first() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let backend = NativeBackend::new(pool.clone());
    // email.send: 3 succeeded (runs of 1, 2, 3 s after waiting 10 s), 1 dead.
    for run in [1.0, 2.0, 3.0] {
        insert(
            pool,
            &J {
                kind: "email.send",
                run: -100.0,
                started: Some(-90.0),
                finished: Some(-90.0 + run),
                ..j("mailers", "succeeded")
            },
        )
        .await;
    }
    die(pool, "mailers", "email.send", "boom").await;
    // report.build: 1 succeeded, no failures.
    insert(
        pool,
        &J {
            kind: "report.build",
            run: -50.0,
            started: Some(-50.0),
            finished: Some(-40.0),
            ..j("reports", "succeeded")
        },
    )
    .await;
    // hook.post: 1 failed attempt that is retrying, nothing finished.
    crate::helpers::failed_webhook(pool, "timeout").await;
    // Finished two hours ago: outside the hour.
    insert(
        pool,
        &J {
            kind: "email.send",
            started: Some(-7201.0),
            finished: Some(-7200.0),
            ..j("mailers", "succeeded")
        },
    )
    .await;

    let report = backend
        .kinds(&KindsQuery {
            window: HistoryWindow::Hour,
            limit: 10_000,
        })
        .await
        .unwrap();
    assert!(report.covered_since.is_none());
    let names: Vec<&str> = report.kinds.iter().map(|k| k.kind.as_str()).collect();
    assert_eq!(names, vec!["hook.post", "email.send", "report.build"]);
    let hook = &report.kinds[0];
    assert_eq!((hook.succeeded, hook.failed_attempts, hook.dead), (0, 1, 0));
    assert_eq!(hook.failure_rate(), Some(1.0));
    let email = &report.kinds[1];
    assert_eq!(
        (email.succeeded, email.failed_attempts, email.dead),
        (3, 1, 1)
    );
    assert_eq!(email.failure_rate(), Some(0.25));
    assert_eq!(email.run_p50, Some(2.0));
    assert!((email.run_p95.unwrap() - 2.9).abs() < 1e-9);
    assert_eq!(email.wait_p50, Some(10.0));
    let report_build = &report.kinds[2];
    assert_eq!(report_build.failure_rate(), Some(0.0));
    assert_eq!(report_build.run_p50, Some(10.0));

    let day = backend
        .kinds(&KindsQuery {
            window: HistoryWindow::Day,
            limit: 10_000,
        })
        .await
        .unwrap();
    let email = day.kinds.iter().find(|k| k.kind == "email.send").unwrap();
    assert_eq!(email.succeeded, 4);

    let capped = backend
        .kinds(&KindsQuery {
            window: HistoryWindow::Day,
            limit: 2,
        })
        .await
        .unwrap();
    assert!(capped.covered_since.is_some());
}

#[tokio::test]
async fn tenants_report_running_beating_and_ready() {
    let db = common::test_db().await;
    let pool = &db.pool;
    ensure_queue(pool, "default").await;
    let backend = NativeBackend::new(pool.clone());
    let running = |tenant: Option<&'static str>| J {
        tenant,
        worker: Some("w"),
        started: Some(-10.0),
        ..j("default", "running")
    };
    for _ in 0..3 {
        insert(pool, &running(Some("acme"))).await;
    }
    let quiet = insert(pool, &running(Some("acme"))).await;
    sqlx::query("UPDATE jobtop.jobs SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1")
        .bind(quiet)
        .execute(pool)
        .await
        .unwrap();
    insert(pool, &running(None)).await;
    for tenant in [Some("globex"), Some("globex"), Some("acme"), None] {
        insert(
            pool,
            &J {
                tenant,
                ..j("default", "queued")
            },
        )
        .await;
    }
    // Scheduled jobs are not ready.
    insert(
        pool,
        &J {
            tenant: Some("globex"),
            run: 600.0,
            ..j("default", "queued")
        },
    )
    .await;

    let report = backend
        .tenants(&TenantsQuery {
            stale_after: Duration::from_secs(60),
            ready_cap: 10_000,
        })
        .await
        .unwrap();
    let row = |name: Option<&str>| {
        report
            .tenants
            .iter()
            .find(|t| t.tenant.as_deref() == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        report.tenants[0].tenant.as_deref(),
        Some("acme"),
        "most running first"
    );
    let acme = row(Some("acme"));
    assert_eq!((acme.running, acme.beating, acme.ready.value), (4, 3, 1));
    let globex = row(Some("globex"));
    assert_eq!((globex.running, globex.ready.value), (0, 2));
    let none = row(None);
    assert_eq!((none.running, none.beating, none.ready.value), (1, 1, 1));
    assert_eq!(report.tenants.len(), 3);

    let capped = backend
        .tenants(&TenantsQuery {
            stale_after: Duration::from_secs(60),
            ready_cap: 2,
        })
        .await
        .unwrap();
    let total: i64 = capped.tenants.iter().map(|t| t.ready.value).sum();
    assert_eq!(total, 2);
    assert!(
        capped
            .tenants
            .iter()
            .filter(|t| t.ready.value > 0)
            .all(|t| t.ready.capped)
    );
}

#[tokio::test]
async fn text_that_is_not_utf8_is_shown_with_replacement_characters() {
    let db = common::test_db().await;
    let name = format!("{}_ascii", db.name);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.options.clone().database(&name))
        .await
        .unwrap();
    jobtop::backend::native::migrate(&pool).await.unwrap();
    let backend = NativeBackend::new(pool.clone());
    // Raw bytes 0xff 0xfe: not UTF-8, and SQL_ASCII stores them as they are.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at, last_error, errors) \
         VALUES ('q', convert_from('\\x6bff'::bytea, 'SQL_ASCII'), 'dead', now(), \
                 convert_from('\\x626164fffe21'::bytea, 'SQL_ASCII'), \
                 jsonb_build_array(jsonb_build_object('error', 'fine', 'attempt', 1))) \
         RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let page = backend
        .jobs(&query(queue_scope("q", JobState::Dead), Order::OldestFirst))
        .await
        .unwrap();
    assert_eq!(page.rows[0].id, id);
    assert_eq!(page.rows[0].kind, "k\u{fffd}");
    assert_eq!(
        page.rows[0].last_error.as_deref(),
        Some("bad\u{fffd}\u{fffd}!")
    );
    let d = backend
        .job(&JobId::Int(id), &DetailLimits::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.job.kind, "k\u{fffd}");
    pool.close().await;
}

#[tokio::test]
async fn page_queries_read_indexes_only() {
    let db = common::test_db().await;
    let pool = &db.pool;
    for q in ["mailers", "default", "webhooks"] {
        ensure_queue(pool, q).await;
    }
    sqlx::query(
        "INSERT INTO jobtop.jobs (queue, kind, tenant_id, state, run_at, started_at, finished_at, locked_by, last_error) \
         SELECT (ARRAY['mailers', 'default', 'webhooks'])[1 + g % 3], 'kind.' || (g % 7), 't' || (g % 11), \
                s.state, now() + make_interval(secs => (g % 100) - 50), now() - make_interval(secs => g), \
                CASE WHEN s.state IN ('succeeded', 'dead', 'cancelled') THEN now() - make_interval(secs => g) END, \
                CASE WHEN s.state = 'running' THEN 'w' || (g % 5) END, 'error ' || g \
         FROM generate_series(1, 60000) g \
         CROSS JOIN LATERAL (SELECT (CASE WHEN g % 100 < 80 THEN 'succeeded' WHEN g % 100 < 85 THEN 'dead' \
              WHEN g % 100 < 90 THEN 'queued' WHEN g % 100 < 93 THEN 'retrying' WHEN g % 100 < 95 THEN 'cancelled' \
              ELSE 'running' END)::jobtop.job_state AS state) s",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE jobtop.jobs")
        .execute(pool)
        .await
        .unwrap();
    let backend = NativeBackend::new(pool.clone());
    let mut scopes: Vec<JobScope> = JobState::ALL
        .into_iter()
        .map(|s| queue_scope("mailers", s))
        .collect();
    scopes.push(JobScope::Worker {
        worker: "w1".into(),
    });
    scopes.push(JobScope::Ids {
        ids: (1..500).map(JobId::Int).collect(),
    });
    scopes.push(JobScope::Stuck {
        running_longer_than: Duration::from_secs(3600),
        stale_after: Duration::from_secs(60),
    });
    for scope in scopes {
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let mut q = query(scope.clone(), order);
            // The second page too: the keyset condition must not push the plan off the index.
            let first = backend.jobs(&q).await.unwrap();
            if let Some(last) = first.rows.last() {
                q.after = Some(last.cursor(scope.sort_key()));
            }
            q.filter.kind = Some("kind.3".into());
            let plan = backend.explain_jobs(&q).await.unwrap();
            assert!(
                !plan.contains("Seq Scan on jobs"),
                "{scope:?} {order:?} scans the table:\n{plan}"
            );
        }
    }
}

/// Every schema offers every drill-down read; the one a schema may lack (tenants) is
/// refused with the schema's own reason.
#[tokio::test]
async fn a_read_the_schema_cannot_serve_says_why() {
    let db = common::test_db().await;
    sqlx::raw_sql(common::fixture::RIVER)
        .execute(&db.pool)
        .await
        .unwrap();
    let river = jobtop::backend::river::open(db.pool.clone(), "public")
        .await
        .unwrap();
    assert_eq!(
        river.capabilities().tenants,
        jobtop::backend::Support::No("River has no tenants")
    );
    let err = river
        .tenants(&jobtop::backend::drill::TenantsQuery {
            stale_after: std::time::Duration::from_secs(60),
            ready_cap: 100,
        })
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "tenants: not supported by the river backend: River has no tenants"
    );
}
