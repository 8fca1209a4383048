//! Stand-in test harness (to be replaced by the real one, which can also start its own
//! cluster): needs DATABASE_URL, and gives each test a fresh, migrated database.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions};

pub struct TestDb {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    pub name: String,
}

pub async fn test_db() -> TestDb {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL server the tests may create databases on");
    let admin = PgConnectOptions::from_str(&url).expect("DATABASE_URL is not a valid URL");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let name = format!(
        "jobtop_test_{}_{}_{}",
        std::process::id(),
        stamp,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = admin
        .connect()
        .await
        .expect("cannot connect to DATABASE_URL");
    // The name is built above from digits only.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("cannot create the test database");
    let options = admin.database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options.clone())
        .await
        .expect("cannot connect to the test database");
    jobtop::backend::native::migrate(&pool)
        .await
        .expect("migrations failed");
    TestDb {
        pool,
        options,
        name,
    }
}

/// A URL for the test database that a child process (the real binary) can use.
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
