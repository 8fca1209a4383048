//! The demo's throwaway cluster (start, settings, removal on drop and by its watchdog) and
//! the workload simulator's effect on a real database.

use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

use jobtop::backend::native::NativeBackend;
use jobtop::backend::{Overview, SnapshotOptions};
use jobtop::demo::{self, Cluster, SimulatorConfig};

use crate::common;

async fn start_cluster() -> Cluster {
    tokio::task::spawn_blocking(Cluster::start)
        .await
        .unwrap()
        .expect("the throwaway cluster should start")
}

fn wait_until_gone(path: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[tokio::test]
async fn cluster_answers_on_its_socket_and_vanishes_on_drop() {
    let started = Instant::now();
    let cluster = start_cluster().await;
    let took = started.elapsed();
    let dir = cluster.dir().to_path_buf();
    assert!(dir.join("data/PG_VERSION").is_file());
    assert!(
        dir.join(".s.PGSQL.5432").exists(),
        "no socket in {}",
        dir.display()
    );

    let mut conn = PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .expect("connect through the socket");
    let row = sqlx::query(
        "SELECT current_user::text, current_setting('listen_addresses'), \
                current_setting('fsync'), current_setting('server_version_num')::int",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>(0), jobtop::demo::cluster::SUPERUSER);
    assert_eq!(row.get::<String, _>(1), "", "no TCP listener");
    assert_eq!(row.get::<String, _>(2), "off");
    assert!(row.get::<i32, _>(3) >= 120000);
    conn.close().await.unwrap();

    // The URL form works too, for the user to paste.
    let url = cluster.url("postgres");
    let opts = PgConnectOptions::from_str(&url).unwrap();
    let mut conn = PgConnection::connect_with(&opts)
        .await
        .expect("connect by URL");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    eprintln!("cluster {} started in {took:?}", cluster.version());

    drop(cluster);
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
    assert!(
        PgConnection::connect_with(&opts).await.is_err(),
        "the server still answers after drop"
    );
}

/// A throwaway cluster whose watchdog watches a `sleep` process, the owner a test kills.
async fn cluster_owned_by_a_sleep() -> (std::process::Child, Cluster) {
    let owner = Command::new("sleep").arg("120").spawn().unwrap();
    let owner_pid = owner.id();
    let cluster = tokio::task::spawn_blocking(move || Cluster::start_owned_by(owner_pid))
        .await
        .unwrap()
        .unwrap();
    (owner, cluster)
}

#[tokio::test]
async fn watchdog_removes_the_cluster_when_its_owner_dies() {
    // Stand-in for a process that is killed without running any destructor.
    let (mut owner, cluster) = cluster_owned_by_a_sleep().await;
    let dir = cluster.dir().to_path_buf();
    let opts = cluster.connect_options("postgres");
    let conn = PgConnection::connect_with(&opts).await.unwrap();
    conn.close().await.unwrap();
    std::mem::forget(cluster);

    // Alive owner: the cluster stays.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(dir.exists());

    owner.kill().unwrap();
    owner.wait().unwrap();
    assert!(
        wait_until_gone(&dir, Duration::from_secs(10)),
        "{} outlived its owner",
        dir.display()
    );
    assert!(PgConnection::connect_with(&opts).await.is_err());
}

#[tokio::test]
async fn simulator_builds_a_screen_worth_watching() {
    let _alone = crate::QUIET.write().await;
    let db = common::test_db().await;
    let cfg = SimulatorConfig {
        rate: 20.0,
        workers: 6,
        seed: 7,
    };
    let p = &db.pool;
    let t0: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(p)
        .await
        .unwrap();
    let pool = demo::simulator_pool(db.options.clone(), &cfg)
        .await
        .unwrap();
    let started = Instant::now();
    let sim = demo::spawn_simulator(pool.clone(), cfg);
    // The hour of history is what makes the first frame's sparklines full. How fast it is
    // written is measured (printed below), not asserted: the bound only catches a simulator
    // that never writes it (an 8 s bound failed on loaded machines).
    while sim.stats.history.load(Ordering::Relaxed) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no history written within a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("history written after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(started.elapsed())).await;
    assert!(!sim.is_finished(), "the simulator stopped by itself");
    let stats = sim.stats.clone();
    sim.stop().await.expect("the simulator ran cleanly");
    pool.close().await;
    eprintln!("{}", stats.summary());

    let queues: Vec<String> = sqlx::query_scalar("SELECT name FROM jobtop.queues ORDER BY name")
        .fetch_all(p)
        .await
        .unwrap();
    assert_eq!(
        queues,
        [
            "billing", "default", "imports", "mailers", "media", "webhooks"
        ]
    );

    // Webhooks: dead after three failed attempts, each recorded — live, not only in history.
    let dead: Vec<(i32, i64, String)> = sqlx::query_as(
        "SELECT attempts, jsonb_array_length(errors)::int8, last_error FROM jobtop.jobs \
         WHERE queue = 'webhooks' AND state = 'dead' AND created_at >= $1",
    )
    .bind(t0)
    .fetch_all(p)
    .await
    .unwrap();
    assert!(dead.len() >= 5, "{} webhooks died live", dead.len());
    for (attempts, errors, last_error) in &dead {
        assert_eq!((*attempts, *errors), (3, 3));
        assert!(
            ["503", "timeout", "ECONNREFUSED"]
                .iter()
                .any(|s| last_error.contains(s)),
            "{last_error}"
        );
    }
    let (attempts, failures): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(attempts), 0)::int8, \
                coalesce(sum(jsonb_array_length(errors)), 0)::int8 \
         FROM jobtop.jobs WHERE kind = 'webhook.deliver' AND finished_at > now() - interval '1 hour'",
    )
    .fetch_one(p)
    .await
    .unwrap();
    let rate = failures as f64 / attempts as f64;
    assert!(
        (0.25..0.42).contains(&rate),
        "webhook attempt failure rate {rate}"
    );

    // A worker that died holding jobs: stale heartbeat, its jobs still running.
    let stale: Vec<(String, i64)> = sqlx::query_as(
        "SELECT w.id, count(j.id) FROM jobtop.workers w \
         JOIN jobtop.jobs j ON j.locked_by = w.id AND j.state = 'running' \
         WHERE w.last_heartbeat_at < now() - interval '60 seconds' GROUP BY w.id",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].1, 3);
    let live_workers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.workers WHERE last_heartbeat_at > now() - interval '20 seconds'",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(live_workers, 7, "6 configured + the one that dies later");

    // Mailers back up: a deep backlog whose oldest job has waited for minutes.
    let (ready, oldest_secs): (i64, f64) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - min(run_at))::float8 FROM jobtop.jobs \
         WHERE queue = 'mailers' AND state IN ('queued', 'retrying') AND run_at <= now()",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert!(ready > 300, "mailers backlog {ready}");
    assert!(oldest_secs > 300.0, "mailers oldest ready {oldest_secs}s");

    // Healthy default: little waiting, plenty done.
    let (default_ready, default_done): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'queued' AND run_at <= now()), \
                count(*) FILTER (WHERE state = 'succeeded' AND finished_at > now() - interval '15 seconds') \
         FROM jobtop.jobs WHERE queue = 'default'",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert!(default_ready < 20, "default backlog {default_ready}");
    assert!(default_done > 10, "default completions {default_done}");

    let scheduled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.jobs WHERE state = 'queued' AND run_at > now()",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert!(scheduled >= 30, "scheduled {scheduled}");

    // A burst of import rows came at ~5 s.
    let import_rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.jobs WHERE kind = 'import.row' AND created_at > now() - interval '1 minute'",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert!(import_rows >= 100, "import rows {import_rows}");

    // History: completions in nearly every minute of the last hour, failures consistent.
    let minutes: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT date_trunc('minute', finished_at)) FROM jobtop.jobs \
         WHERE finished_at > now() - interval '1 hour'",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert!(minutes >= 59, "history covers {minutes} minutes");
    let inconsistent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobtop.jobs WHERE \
            (jsonb_array_length(errors) > 0) <> (failed_at IS NOT NULL) \
         OR (failed_at IS NOT NULL AND failed_at <> (errors -> -1 ->> 'at')::timestamptz) \
         OR (state = 'dead' AND (finished_at IS NULL OR attempts <> max_attempts)) \
         OR (state = 'succeeded' AND (started_at IS NULL OR finished_at < started_at \
                                      OR started_at < created_at))",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(inconsistent, 0, "jobs whose fields disagree");

    // And as the monitor itself reads it: the first frame would show all of this.
    let snap = NativeBackend::new(p.clone())
        .snapshot(&SnapshotOptions::default())
        .await
        .unwrap();
    for queue in &snap.queues {
        let busy = queue
            .minutes
            .iter()
            .filter(|m| m.succeeded + m.failed > 0)
            .count();
        assert!(
            busy >= 59,
            "{}: sparkline has {busy} non-empty minutes",
            queue.name
        );
    }
    let webhooks = snap.queues.iter().find(|q| q.name == "webhooks").unwrap();
    let rate = webhooks.failure_rate().unwrap();
    assert!((0.25..0.42).contains(&rate), "webhooks failure rate {rate}");
    assert!(
        webhooks.dead.value > 100,
        "webhooks dead {:?}",
        webhooks.dead
    );
    let mailers = snap.queues.iter().find(|q| q.name == "mailers").unwrap();
    let age = mailers.oldest_ready_age(snap.db_now).unwrap();
    assert!(age.num_seconds() > 300, "mailers oldest ready {age}");
    let stale: Vec<_> = snap
        .workers
        .iter()
        .filter(|w| w.heartbeat_age(snap.db_now).unwrap().num_seconds() > 60)
        .collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].running_jobs, 3);
}

#[tokio::test]
async fn each_test_gets_a_fresh_migrated_database_dropped_after_use() {
    let started = Instant::now();
    let a = common::test_db().await;
    let b = common::test_db().await;
    eprintln!("two test databases in {:?}", started.elapsed());
    assert_ne!(a.name, b.name);

    let id: i64 = sqlx::query_scalar("SELECT jobtop.enqueue('q', 'k')")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert!(id > 0);
    let count = |db: &common::TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobtop.jobs")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!((count(&a).await, count(&b).await), (1, 0));

    let exists = |name: String, pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let a_name = a.name.clone();
    assert!(exists(a_name.clone(), b.pool.clone()).await);
    drop(a);
    assert!(
        !exists(a_name, b.pool.clone()).await,
        "the test database outlived its test"
    );
}

#[tokio::test]
async fn watchdog_counts_an_owner_that_nobody_reaped_as_gone() {
    // A process whose parent is gone too (a closed terminal's shell) and that no init reaps
    // stays a zombie: `kill -0` still finds it.
    let (mut owner, cluster) = cluster_owned_by_a_sleep().await;
    let dir = cluster.dir().to_path_buf();
    std::mem::forget(cluster);
    owner.kill().unwrap();
    let gone = wait_until_gone(&dir, Duration::from_secs(10));
    owner.wait().unwrap();
    assert!(gone, "{} outlived its (zombie) owner", dir.display());
}

/// The cluster folder of the demo running as `pid`, once it exists.
fn demo_folder(pid: u32, within: Duration) -> Option<std::path::PathBuf> {
    let deadline = Instant::now() + within;
    let prefix = format!("jobtop-pg-{pid}-");
    while Instant::now() < deadline {
        let found = std::fs::read_dir(std::env::temp_dir())
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(&prefix));
        if let Some(entry) = found {
            return Some(entry.path());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The real demo in a terminal that closes (SIGHUP) or is told to stop (SIGTERM), while it
/// starts and while it runs: no `/tmp/jobtop-pg-*` folder stays behind, also when nobody
/// reaps the process (its shell went with the terminal).
#[tokio::test]
async fn a_demo_ended_by_a_signal_leaves_no_cluster_behind() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let _alone = crate::QUIET.write().await;
    let script = format!(
        "exec \"{}\" demo --log-file /dev/null",
        env!("CARGO_BIN_EXE_jobtop")
    );
    for (signal, running) in [
        (Signal::SIGHUP, false),
        (Signal::SIGHUP, true),
        (Signal::SIGTERM, true),
    ] {
        let term = crate::pty::Terminal::run(&script, &[], 24, 80);
        let pid = term.child.process_id().expect("a pid");
        let dir = demo_folder(pid, Duration::from_secs(60)).expect("the demo's cluster folder");
        if running {
            assert!(
                term.wait_for_text("Queues", Duration::from_secs(120)),
                "the demo never showed its queues:\n{}",
                term.text()
            );
            assert!(
                term.text().contains("jobtop snapshot 'postgres://"),
                "{}",
                term.text()
            );
        }
        kill(Pid::from_raw(pid as i32), signal).unwrap();
        assert!(
            wait_until_gone(&dir, Duration::from_secs(20)),
            "{signal} {}: {} stayed",
            if running {
                "while running"
            } else {
                "while starting"
            },
            dir.display()
        );
        // Not reaped on purpose until here: a zombie, as after a closed terminal.
        drop(term);
    }
}
