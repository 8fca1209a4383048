//! A throwaway cluster with pg_cron loaded (`shared_preload_libraries`), separate from the
//! default one, which stays as it is. pg_cron runs its jobs in one database only
//! (`cron.database_name`), so the tests that use it share that database: each gives its jobs
//! names of its own. Jobs run as background workers (`cron.use_background_workers`): the
//! cluster listens on a private socket only.
//!
//! Where the Debian package (`postgresql-NN-cron`) is not installed the tests print
//! SKIPPED; under `CI=true` (or `JOBTOP_REQUIRE_PG_CRON=1`) its absence is a failure:
//! `.ci/run` installs it.

use std::sync::OnceLock;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use jobtop::demo::Cluster;

/// The database pg_cron runs its jobs in.
pub const DATABASE: &str = "jobtop_cron";

struct Shared {
    options: PgConnectOptions,
    _cluster: Cluster,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

/// The pg_cron database's options, or `None` (after printing SKIPPED) without pg_cron.
pub fn options() -> Option<PgConnectOptions> {
    let required = std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("JOBTOP_REQUIRE_PG_CRON").as_deref() == Ok("1");
    if !jobtop::demo::cluster::extension_installed("pg_cron") {
        assert!(
            !required,
            "pg_cron is required here (CI=true or JOBTOP_REQUIRE_PG_CRON=1) but not installed: \
             apt-get install postgresql-NN-cron for the server jobtop starts"
        );
        eprintln!("SKIPPED (pg_cron not installed: apt-get install postgresql-NN-cron)");
        return None;
    }
    let shared = SHARED
        .get_or_init(|| {
            std::thread::spawn(set_up)
                .join()
                .unwrap_or_else(|_| Err("the pg_cron cluster set-up panicked".into()))
        })
        .as_ref()
        .unwrap_or_else(|err| panic!("no pg_cron cluster: {err}"));
    Some(shared.options.clone())
}

/// A pool on the pg_cron database.
pub async fn pool() -> Option<PgPool> {
    let options = options()?;
    Some(
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("cannot connect to the pg_cron database"),
    )
}

fn set_up() -> Result<Shared, String> {
    let cluster = Cluster::start_with(
        std::process::id(),
        &[
            ("shared_preload_libraries", "pg_cron".into()),
            ("cron.database_name", DATABASE.into()),
            ("cron.use_background_workers", "on".into()),
            ("max_worker_processes", "32".into()),
        ],
    )
    .map_err(|e| format!("{e:#}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let options = cluster.connect_options(DATABASE);
    runtime
        .block_on(async {
            let mut conn = PgConnection::connect_with(&cluster.connect_options("postgres")).await?;
            jobtop::backend::pg::admin::create_database(&mut conn, DATABASE, None).await?;
            conn.close().await?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            sqlx::raw_sql("CREATE EXTENSION pg_cron")
                .execute(&pool)
                .await?;
            // A queue schema for the commands to open beside pg_cron.
            jobtop::backend::native::migrate(&pool).await?;
            pool.close().await;
            Ok::<_, anyhow::Error>(())
        })
        .map_err(|e| format!("{e:#}"))?;
    Ok(Shared {
        options,
        _cluster: cluster,
    })
}
