//! The integration-test harness: every test gets its own fresh database holding the
//! migrated reference schema, on real PostgreSQL.
//!
//! With DATABASE_URL set, test databases are created on that server (and migrated one by
//! one). Without it, the first test of the process starts one throwaway cluster (the
//! demo's) that every test of the process shares, migrates a template database once, and
//! each test's database is a copy of the template. Each #[tokio::test] runs on its own
//! runtime, so the shared state holds no pool, only connection options; the set-up runs on
//! a thread of its own with a runtime of its own.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};

use jobtop::backend::pg::admin;
use jobtop::demo::Cluster;

/// A fresh database for one test; dropped (on its server) when the test ends.
pub struct TestDb {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    pub name: String,
}

struct Shared {
    /// Where CREATE/DROP DATABASE are issued.
    admin: PgConnectOptions,
    /// Set when test databases are copies of a migrated template.
    template: Option<String>,
    /// Never dropped (statics are not): the cluster's watchdog removes it after we exit.
    _cluster: Option<Cluster>,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

const TEMPLATE: &str = "jobtop_test_template";

pub async fn test_db() -> TestDb {
    let shared = SHARED
        .get_or_init(|| {
            std::thread::spawn(set_up)
                .join()
                .unwrap_or_else(|_| Err("the test database set-up panicked".to_string()))
        })
        .as_ref()
        .unwrap_or_else(|err| panic!("no test database: {err}"));

    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "jobtop_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = PgConnection::connect_with(&shared.admin)
        .await
        .expect("cannot connect to the test server");
    // A database left by an earlier run that reused our pid (DATABASE_URL only).
    admin::drop_database(&mut conn, &name)
        .await
        .expect("cannot clear a stale test database");
    admin::create_database(&mut conn, &name, shared.template.as_deref())
        .await
        .expect("cannot create the test database");
    let _ = conn.close().await;

    let options = shared.admin.clone().database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await
        .expect("cannot connect to the test database");
    if shared.template.is_none() {
        jobtop::backend::native::migrate(&pool)
            .await
            .expect("migrations failed");
    }
    TestDb {
        pool,
        options,
        name,
    }
}

impl Drop for TestDb {
    /// Drops the database so a long test run does not fill the disk (or, with DATABASE_URL,
    /// litter someone's server). Runs on a thread of its own: we may be inside a runtime.
    fn drop(&mut self) {
        let Some(Ok(shared)) = SHARED.get() else {
            return;
        };
        let admin_options = shared.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&admin_options).await.ok()?;
                // WITH (FORCE) ends the test's own pool connections, still open here.
                admin::drop_database(&mut conn, &name).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

fn set_up() -> Result<Shared, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let admin = PgConnectOptions::from_str(&url)
                .map_err(|_| "DATABASE_URL is not a valid PostgreSQL URL".to_string())?;
            Ok(Shared {
                admin,
                template: None,
                _cluster: None,
            })
        }
        _ => {
            let cluster = Cluster::start().map_err(|e| format!("{e:#}"))?;
            let admin = cluster.connect_options("postgres");
            runtime
                .block_on(make_template(admin.clone()))
                .map_err(|e| format!("{e:#}"))?;
            Ok(Shared {
                admin,
                template: Some(TEMPLATE.to_string()),
                _cluster: Some(cluster),
            })
        }
    }
}

async fn make_template(admin_options: PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(&admin_options).await?;
    admin::create_database(&mut conn, TEMPLATE, None).await?;
    conn.close().await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin_options.database(TEMPLATE))
        .await?;
    let migrated = jobtop::backend::native::migrate(&pool).await;
    // A template must have no sessions when it is copied.
    pool.close().await;
    migrated
}

/// A URL for the test database that a child process (the real binary) can use. A password
/// from DATABASE_URL is not part of it: pass PGPASSWORD to the child where one is needed.
pub fn url_for(db: &TestDb) -> String {
    let o = &db.options;
    match o.get_socket() {
        Some(dir) => format!(
            "postgres://{}@localhost:{}/{}?host={}",
            o.get_username(),
            o.get_port(),
            db.name,
            dir.display()
        ),
        None => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            db.name
        ),
    }
}

pub mod clients;
pub mod cron;
pub mod outage;

/// The queue schemas' fixtures (tests/fixtures/*.sql), written from each project's
/// documented tables and states.
pub mod fixture {
    pub const RIVER: &str = include_str!("../fixtures/river.sql");
    pub const OBAN: &str = include_str!("../fixtures/oban.sql");
    pub const PGBOSS: &str = include_str!("../fixtures/pgboss.sql");
    pub const GRAPHILE: &str = include_str!("../fixtures/graphile.sql");
    pub const JOB_QUEUE: &str = include_str!("../fixtures/job_queue.sql");
    pub const JOBFORGE: &str = include_str!("../fixtures/jobforge.sql");
    pub const CEPRO: &str = include_str!("../fixtures/cepro.sql");
    pub const HOMEGROWN: &str = include_str!("../fixtures/homegrown.sql");
    pub const SOLIDQUEUE: &str = include_str!("../fixtures/solidqueue.sql");
    pub const GOODJOB: &str = include_str!("../fixtures/goodjob.sql");
    /// Rows only: the schema comes from the real package first (`pypi::schema`).
    pub const PROCRASTINATE: &str = include_str!("../fixtures/procrastinate.sql");
    /// Rows only: the schema comes from the real package first (`pypi::schema`).
    pub const PGQUEUER: &str = include_str!("../fixtures/pgqueuer.sql");
}

/// Schemas that come from a queue project's real package rather than from a copy in this
/// repository: the package is installed from its registry (`.ci/run` does it) and its own
/// schema is applied before our fixture's rows.
pub mod pypi {
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::OnceLock;

    /// The version `.ci/run` installs and the fixtures were made with.
    pub const PROCRASTINATE_VERSION: &str = "3.10.0";

    /// The PgQueuer version `.ci/run` installs and the tests were written against.
    pub const PGQUEUER_VERSION: &str = "1.6.0";

    /// The pgmq client version `.ci/run` installs: it ships pgmq's SQL install file
    /// (`pgmq/sql/pgmq.sql`, pgmq 1.13.0 for this release).
    pub const PGMQ_VERSION: &str = "1.1.4";

    /// The schema SQL a `schema_from` source names (`"pypi:procrastinate"`,
    /// `"pypi:pgqueuer"`, `"pypi:pgmq"`), or `None` when the package is not importable and
    /// the test is to be skipped: it then prints `SKIPPED (...)`, unless
    /// `JOBTOP_REQUIRE_PYPI=1` is set, which makes the absence a failure. Python is
    /// `$JOBTOP_PYTHON`, else `python3`.
    pub fn schema(source: &str) -> Option<String> {
        match source {
            "pypi:procrastinate" => procrastinate_schema(),
            "pypi:pgqueuer" => pgqueuer_schema(),
            "pypi:pgmq" => pgmq_schema(),
            other => panic!(
                "unknown schema source {other:?} (known: \"pypi:procrastinate\", \
                 \"pypi:pgqueuer\", \"pypi:pgmq\")"
            ),
        }
    }

    /// The SQL `pgq install` runs, as the installed PgQueuer renders it (its `Queries.install`
    /// executes this same text; tests/db/pgqueuer.rs runs the command itself).
    pub fn pgqueuer_schema() -> Option<String> {
        static SQL: OnceLock<Result<String, String>> = OnceLock::new();
        let found = SQL.get_or_init(|| {
            printed(
                "from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment; \
                 print(QueryBuilderEnvironment().build_install_query())",
            )
        });
        usable(found, "pgqueuer", PGQUEUER_VERSION)
    }

    /// pgmq's SQL install file as the pgmq client ships it, the text its
    /// `install_pgmq_from_sql` executes.
    pub fn pgmq_schema() -> Option<String> {
        static SQL: OnceLock<Result<String, String>> = OnceLock::new();
        let found = SQL.get_or_init(|| {
            printed("from pgmq.install import get_embedded_install_sql; print(get_embedded_install_sql())")
        });
        usable(found, "pgmq", PGMQ_VERSION)
    }

    /// Python, as the tests run it: `$JOBTOP_PYTHON`, else `python3`.
    pub fn python() -> String {
        std::env::var("JOBTOP_PYTHON")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "python3".to_string())
    }

    /// The package's SQL, or `None` (skipped, or a panic under `JOBTOP_REQUIRE_PYPI=1`).
    pub fn usable(found: &Result<String, String>, package: &str, version: &str) -> Option<String> {
        match found {
            Ok(sql) => Some(sql.clone()),
            Err(why) => {
                let install = format!("pip install {package}=={version}");
                assert!(
                    std::env::var("JOBTOP_REQUIRE_PYPI").as_deref() != Ok("1"),
                    "JOBTOP_REQUIRE_PYPI=1 is set but {package} is not usable ({why}); \
                     {install} into the Python JOBTOP_PYTHON names"
                );
                eprintln!("SKIPPED ({package} not installed: {install})");
                None
            }
        }
    }

    /// What Python prints running `code`; an error says why there is nothing.
    fn printed(code: &str) -> Result<String, String> {
        let python = python();
        let out = Command::new(&python)
            .args(["-c", code])
            .output()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            return Err(format!("{python}: {last}"));
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.trim().is_empty() {
            return Err(format!("{python} printed nothing"));
        }
        Ok(text)
    }

    /// procrastinate's `schema.sql`, as the installed package ships it. procrastinate's own
    /// `procrastinate schema --apply` would need an app and a connector configured; it
    /// executes this same file, so reading the file and applying it is equivalent.
    pub fn procrastinate_schema() -> Option<String> {
        static SQL: OnceLock<Result<String, String>> = OnceLock::new();
        let found = SQL.get_or_init(|| {
            locate(
                "import procrastinate, pathlib; \
                 print(pathlib.Path(procrastinate.__file__).parent / 'sql' / 'schema.sql')",
            )
            .and_then(|path| {
                std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "procrastinate is importable but its schema {} cannot be read: {e}",
                        path.display()
                    )
                })
            })
        });
        usable(found, "procrastinate", PROCRASTINATE_VERSION)
    }

    /// Runs Python on `code`, which prints a path; an error says why there is none.
    fn locate(code: &str) -> Result<PathBuf, String> {
        printed(code).map(|path| PathBuf::from(path.trim()))
    }
}

/// Loads a fixture: a script of any number of statements.
pub async fn load(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .expect("fixture loads");
}

/// Runs a statement (or several) for its effect; what it returns is dropped.
pub async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .expect("statement runs");
}

/// Makes `table` (schema-qualified) bigger on disk than a table jobtop reads whole for a
/// figure no index serves (`catalog::SMALL_TABLE_BYTES`): a column of incompressible text on
/// every row, which no reader of the queue looks at.
pub async fn grow_past_small(pool: &PgPool, table: &str) {
    exec(
        pool,
        &format!(
            "ALTER TABLE {table} ADD COLUMN jobtop_test_padding text; \
             UPDATE {table} SET jobtop_test_padding = (SELECT string_agg(md5(g::text || random()::text), '') \
                                                       FROM generate_series(1, 40000) g)"
        ),
    )
    .await;
    let (bytes,): (i64,) = sqlx::query_as("SELECT pg_table_size($1::regclass)")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(
        bytes > jobtop::backend::pg::catalog::SMALL_TABLE_BYTES,
        "{table}: {bytes} bytes"
    );
}

/// What a backend offers, yes or no: `flags` checks on the way that everything it does not
/// offer says why, so tests can state the offer compactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub pause: bool,
    pub heartbeats: bool,
    pub workers: bool,
    pub error_history: bool,
    pub tenants: bool,
    pub throughput: bool,
    pub actions: ActionFlags,
    pub pause_visible: bool,
    pub failed_attempts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionFlags {
    pub retry: bool,
    pub cancel: bool,
    pub discard: bool,
    pub delete: bool,
    pub reset_stuck: bool,
    pub purge: bool,
    pub audit: bool,
}

impl ActionFlags {
    pub const NONE: ActionFlags = ActionFlags {
        retry: false,
        cancel: false,
        discard: false,
        delete: false,
        reset_stuck: false,
        purge: false,
        audit: false,
    };
}

pub fn flags(c: &jobtop::backend::Capabilities) -> Flags {
    use jobtop::backend::Support;
    let yes = |s: Support| {
        if let Support::No(why) = s {
            assert!(why.len() > 10, "a refusal without a reason: {why:?}");
        }
        s.yes()
    };
    let a = &c.actions;
    Flags {
        pause: yes(c.pause),
        heartbeats: yes(c.heartbeats),
        workers: yes(c.workers),
        error_history: yes(c.error_history),
        tenants: yes(c.tenants),
        throughput: yes(c.throughput),
        actions: ActionFlags {
            retry: yes(a.retry),
            cancel: yes(a.cancel),
            discard: yes(a.discard),
            delete: yes(a.delete),
            reset_stuck: yes(a.reset_stuck),
            purge: yes(a.purge),
            audit: yes(a.audit),
        },
        pause_visible: yes(c.pause_visible),
        failed_attempts: yes(c.failed_attempts),
    }
}
