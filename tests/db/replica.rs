//! Reads from a real streaming replica (`pg_basebackup -R`), writes to the primary.
//!
//! Builds its own throwaway primary and replica (a few seconds): PostgreSQL's binaries from
//! `PG_BIN` (default /usr/lib/postgresql/15/bin). PostgreSQL refuses to run as root, so as
//! root the clusters run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use jobtop::backend::native::{NativeBackend, migrate};
use jobtop::backend::wrappers::replica::{Lag, OnReplica};
use jobtop::backend::{Overview, Snapshot};

use crate::helpers::{OPTS, ready};

fn pg_bin() -> PathBuf {
    PathBuf::from(
        std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_string()),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as `postgres` when we are root.
fn pg(tool: &str, args: &[&str]) {
    let exe = pg_bin().join(tool);
    let mut cmd = if is_root() {
        let quoted: Vec<String> = std::iter::once(exe.display().to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let mut cmd = Command::new("su");
        cmd.args(["postgres", "-c", &quoted.join(" ")]);
        cmd
    } else {
        let mut cmd = Command::new(&exe);
        cmd.args(args);
        cmd
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two clusters in a temporary directory, stopped and removed on drop.
struct Clusters {
    dir: PathBuf,
}

impl Clusters {
    fn start() -> Clusters {
        let dir = std::env::temp_dir().join(format!("jobtop-replica-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["", "ps", "rs"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let clusters = Clusters { dir };
        let d = |p: &str| clusters.dir.join(p).display().to_string();
        pg(
            "initdb",
            &["-D", &d("primary"), "-U", "postgres", "-A", "trust", "-N"],
        );
        let server_opts = |sock: &str| format!("-k {sock} -c listen_addresses='' -c fsync=off");
        pg(
            "pg_ctl",
            &[
                "-D",
                &d("primary"),
                "-o",
                &server_opts(&d("ps")),
                "-l",
                &d("primary.log"),
                "-w",
                "start",
            ],
        );
        pg(
            "pg_basebackup",
            &["-D", &d("replica"), "-R", "-h", &d("ps"), "-U", "postgres"],
        );
        pg(
            "pg_ctl",
            &[
                "-D",
                &d("replica"),
                "-o",
                &server_opts(&d("rs")),
                "-l",
                &d("replica.log"),
                "-w",
                "start",
            ],
        );
        clusters
    }

    fn options(&self, sock: &str) -> PgConnectOptions {
        PgConnectOptions::from_str("postgres://postgres@localhost/postgres")
            .unwrap()
            .socket(self.dir.join(sock))
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        for data in ["replica", "primary"] {
            let d = self.dir.join(data).display().to_string();
            pg("pg_ctl", &["-D", &d, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap()
}

/// Polls the replica until it shows `n` ready jobs in `queue`.
async fn until_replayed(backend: &OnReplica<NativeBackend>, queue: &str, n: i64) -> Snapshot {
    let started = Instant::now();
    loop {
        let snap = backend.snapshot(&OPTS).await.unwrap();
        if ready(&snap, queue) == n {
            return snap;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the replica never showed {n} ready jobs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_come_from_the_replica_with_its_lag_and_writes_go_to_the_primary() {
    if !Path::new(&pg_bin().join("pg_basebackup")).exists() {
        eprintln!("SKIPPED: no PostgreSQL binaries in {}", pg_bin().display());
        return;
    }
    let clusters = Clusters::start();
    let primary = pool(clusters.options("ps")).await;
    migrate(&primary).await.unwrap();
    sqlx::query("SELECT jobtop.enqueue('mail', 'k') FROM generate_series(1, 7)")
        .execute(&primary)
        .await
        .unwrap();
    let replica = pool(clusters.options("rs")).await;
    let backend = OnReplica::new(
        std::sync::Arc::new(NativeBackend::with_replica(
            primary.clone(),
            replica.clone(),
        )),
        replica.clone(),
    );

    let snap = until_replayed(&backend, "mail", 7).await;
    assert_eq!(snap.queues.len(), 1);
    match backend.lag() {
        Some(Lag::Seconds(s)) => assert!(s < 5.0, "lag {s}"),
        other => panic!("no lag measured: {other:?}"),
    }
    assert!(backend.source().unwrap().starts_with("replica lag "));

    // Replay paused: the primary moves on, the monitor still shows the replica's past, and
    // the lag grows.
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica)
        .await
        .unwrap();
    sqlx::query("SELECT jobtop.enqueue('mail', 'k') FROM generate_series(1, 5)")
        .execute(&primary)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let snap = backend.snapshot(&OPTS).await.unwrap();
    assert_eq!(
        ready(&snap, "mail"),
        7,
        "read from the replica, not the primary"
    );
    match backend.lag() {
        Some(Lag::Seconds(s)) => assert!(s >= 1.0, "lag {s} while replay is paused"),
        other => panic!("no lag measured: {other:?}"),
    }
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&replica)
        .await
        .unwrap();
    until_replayed(&backend, "mail", 12).await;

    // Actions take the primary pool; the read pool refuses writes.
    let native = backend.inner();
    let on_replica = sqlx::query("SELECT jobtop.enqueue('mail', 'k')")
        .execute(&native.pool)
        .await
        .unwrap_err();
    assert_eq!(
        on_replica
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("25006"),
        "{on_replica}"
    );
    sqlx::query("SELECT jobtop.enqueue('mail', 'k')")
        .execute(&native.primary)
        .await
        .unwrap();
    until_replayed(&backend, "mail", 13).await;

    // Pointed at a primary by mistake, the header says so.
    let wrong = OnReplica::new(
        std::sync::Arc::new(NativeBackend::new(primary.clone())),
        primary.clone(),
    );
    wrong.snapshot(&OPTS).await.unwrap();
    assert_eq!(wrong.lag(), Some(Lag::NotAStandby));
    primary.close().await;
    replica.close().await;
}
