//! `jobtop migrate --indexes`: builds exactly the indexes `jobtop doctor` names, on good_job's
//! schema as its migrations leave it (tests/fixtures/goodjob.sql), and refuses in
//! read-only mode.

use sqlx::PgPool;

use jobtop::backend::index_advice;

use crate::cli;
use crate::common::fixture::GOODJOB;
use crate::common::{self, exec};

const NAMED: [&str; 2] = [
    "good_jobs_jobtop_queue_discarded",
    "good_jobs_jobtop_queue_running",
];

async fn advised(pool: &PgPool) -> Vec<String> {
    let backend = jobtop::backend::goodjob::open(pool.clone(), "public")
        .await
        .unwrap();
    index_advice::advised(pool, &backend).await
}

/// The valid indexes of good_jobs among `NAMED`.
async fn built(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid = 'public.good_jobs'::regclass AND i.indisvalid \
           AND c.relname = ANY($1) ORDER BY 1",
    )
    .bind(NAMED.map(String::from).to_vec())
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrate_indexes_builds_what_doctor_names_and_doctor_then_names_none() {
    let db = common::test_db().await;
    exec(&db.pool, GOODJOB).await;
    let before = advised(&db.pool).await;
    for name in NAMED {
        assert!(
            before.iter().any(|sql| sql.contains(name)),
            "{name} in {before:#?}"
        );
    }
    assert!(before.iter().all(|sql| sql.contains("IF NOT EXISTS")));

    let url = common::url_for(&db);
    let refused = cli::jobtop(
        "",
        &[
            "--read-only",
            "--backend",
            "good-job",
            "migrate",
            "--indexes",
            &url,
        ],
    );
    assert!(!refused.status.success(), "{}", cli::stdout(&refused));
    assert!(
        cli::stderr(&refused).contains("read-only"),
        "{}",
        cli::stderr(&refused)
    );
    assert!(
        built(&db.pool).await.is_empty(),
        "nothing built when refused"
    );

    let out = cli::jobtop("", &["--backend", "good-job", "migrate", "--indexes", &url]);
    let stdout = cli::stdout(&out);
    assert!(out.status.success(), "{stdout}\n{}", cli::stderr(&out));
    let mut want: Vec<String> = NAMED.map(String::from).to_vec();
    want.sort();
    assert_eq!(built(&db.pool).await, want);
    for name in NAMED {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains("built in") && l.contains(name)),
            "{stdout}"
        );
    }
    assert!(advised(&db.pool).await.is_empty(), "doctor names none now");

    // Run again: nothing left to build, said so.
    let again = cli::jobtop("", &["--backend", "good-job", "migrate", "--indexes", &url]);
    assert!(again.status.success());
    assert!(
        cli::stdout(&again).contains("nothing to build"),
        "{}",
        cli::stdout(&again)
    );
}
