//! Minimal test harness (the backends branch's stand-in; the lead's version replaces it):
//! each test gets a fresh, uniquely named database on the server `DATABASE_URL` points at.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

pub struct TestDb {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    pub name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

pub async fn test_db() -> TestDb {
    let url = std::env::var("DATABASE_URL")
        .expect("set DATABASE_URL to a PostgreSQL server the tests may create databases on");
    let admin = PgConnectOptions::from_str(&url).expect("DATABASE_URL parses");
    let name = format!(
        "jobtop_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut conn = admin.connect().await.expect("connect to DATABASE_URL");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    conn.close().await.ok();
    let options = admin.database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await
        .expect("connect to the test database");
    TestDb {
        pool,
        options,
        name,
    }
}
