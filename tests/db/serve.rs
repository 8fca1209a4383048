//! `jobtop serve` as the built binary against a test database, scraped by a real
//! Prometheus (Debian's `prometheus` package: `prometheus` and `promtool`): a known workload
//! comes back through PromQL, `promtool` finds nothing wrong with the metrics or the shipped
//! rules, and scrapes never reach the database.
//!
//! Without Prometheus installed these tests print SKIPPED; under `CI=true` (or
//! `JOBTOP_REQUIRE_PROMETHEUS=1`) its absence fails them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli;
use crate::common::{self, exec};
use crate::helpers::enqueue_n;

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/prometheus/jobtop-rules.yml"
);

/// `prometheus` and `promtool`, or `None` (skipped) where they are not installed and not
/// required.
fn prometheus_tools() -> Option<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .chain([PathBuf::from("/usr/bin")])
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    };
    match (find("prometheus"), find("promtool")) {
        (Some(p), Some(t)) => Some((p, t)),
        _ => {
            let required = std::env::var("CI").as_deref() == Ok("true")
                || std::env::var("JOBTOP_REQUIRE_PROMETHEUS").as_deref() == Ok("1");
            assert!(
                !required,
                "prometheus and promtool are required here (CI=true) but not installed: apt-get install prometheus"
            );
            eprintln!("SKIPPED (prometheus not installed: apt-get install prometheus)");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `jobtop serve URL --listen 127.0.0.1:PORT ARGS…` with a config file of the test's own.
fn serve(url: &str, port: u16, args: &[&str]) -> Running {
    let config = cli::temp_file("config.toml", "");
    let log = config.with_file_name("jobtop.log");
    let child = Command::new(env!("CARGO_BIN_EXE_jobtop"))
        .args(["serve", url, "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .arg("--config")
        .arg(&config)
        .arg("--log-file")
        .arg(&log)
        .env_remove("DATABASE_URL")
        .env_remove("JOBTOP_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run the jobtop binary");
    Running(child)
}

/// A real Prometheus scraping `target` every second, its storage in a temp folder.
fn prometheus(binary: &Path, target: u16, port: u16) -> Running {
    let config = cli::temp_file(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {RULES}\n\
             scrape_configs:\n  - job_name: jobtop\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    );
    let storage = config.with_file_name("tsdb");
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", storage.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run prometheus");
    Running(child)
}

/// One HTTP/1.1 GET on loopback: (status, body).
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

async fn wait_for<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query's single value, or `None` while it has no result.
async fn promql(port: u16, query: &str) -> Option<f64> {
    let (status, body) = get(port, &format!("/api/v1/query?query={}", encode(query))).await?;
    if status != 200 {
        return None;
    }
    let doc: Value = serde_json::from_str(&body).ok()?;
    let result = doc["data"]["result"].as_array()?;
    assert!(result.len() <= 1, "{query}: more than one series: {body}");
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// The value of the one sample of `name` whose labels include all of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `mail`: 7 ready jobs. `hooks`: 12 attempts, 8 succeeded and 4 failed, all stamped in the
/// minute before the current one, so serve counts them when that minute becomes final
/// (at the next minute boundary) rather than taking them as history from before its start.
async fn workload(pool: &PgPool) {
    // Not in a minute's last 15 s: serve's first poll must fall in this same minute.
    let second: f64 = sqlx::query_scalar("SELECT extract(second FROM now())::float8")
        .fetch_one(pool)
        .await
        .unwrap();
    if second > 45.0 {
        tokio::time::sleep(Duration::from_secs_f64(61.0 - second)).await;
    }
    exec(
        pool,
        "SELECT jobtop.register_worker('w', 'h1', 1, ARRAY['mail', 'hooks'], '1.0')",
    )
    .await;
    enqueue_n(pool, "mail", 7).await;
    enqueue_n(pool, "hooks", 12).await;
    exec(pool, "SELECT jobtop.claim('w', ARRAY['hooks'], 12)").await;
    exec(
        pool,
        "SELECT jobtop.complete(id, 'w') FROM jobtop.jobs WHERE queue = 'hooks' AND state = 'running' AND id IN
           (SELECT id FROM jobtop.jobs WHERE queue = 'hooks' ORDER BY id LIMIT 8)",
    )
    .await;
    exec(
        pool,
        "SELECT jobtop.fail(id, 'w', 'boom', interval '1 hour') FROM jobtop.jobs
         WHERE queue = 'hooks' AND state = 'running'",
    )
    .await;
    // Back to the middle of the previous minute: the end stamps and each error entry's.
    exec(
        pool,
        "WITH t AS (SELECT to_timestamp((floor(extract(epoch FROM now()) / 60) - 1) * 60 + 30) AS at)
         UPDATE jobtop.jobs j SET
           finished_at = CASE WHEN j.finished_at IS NULL THEN NULL ELSE t.at END,
           failed_at = CASE WHEN j.failed_at IS NULL THEN NULL ELSE t.at END,
           errors = (SELECT coalesce(jsonb_agg(jsonb_set(e, '{at}', to_jsonb(t.at))), '[]'::jsonb)
                     FROM jsonb_array_elements(j.errors) AS e)
         FROM t WHERE j.queue = 'hooks'",
    )
    .await;
}

#[tokio::test]
async fn prometheus_scrapes_serve_and_reads_the_workload_back() {
    let Some((prometheus_bin, promtool)) = prometheus_tools() else {
        return;
    };
    let db = common::test_db().await;
    workload(&db.pool).await;
    let url = cli::url(&db.options);
    let (serve_port, prom_port) = (free_port(), free_port());
    let served = serve(&url, serve_port, &["--interval", "1"]);
    let _prometheus = prometheus(&prometheus_bin, serve_port, prom_port);

    // The JSON snapshot: the schema of `snapshot --json`, with the workload's figures.
    let snapshot = wait_for(
        "serve's first snapshot",
        Duration::from_secs(30),
        async || {
            get(serve_port, "/snapshot")
                .await
                .filter(|(status, _)| *status == 200)
        },
    )
    .await;
    let doc: Value = serde_json::from_str(&snapshot.1).unwrap();
    crate::snapshot_command::assert_valid(&doc);
    let mail = doc["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "mail")
        .unwrap();
    assert_eq!(mail["ready"], 7);

    // promtool finds no problem with the metrics as served.
    let (status, metrics) = get(serve_port, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &metrics,
            "jobtop_jobs",
            &["queue=\"mail\"", "state=\"ready\""]
        ),
        Some(7.0),
        "{metrics}"
    );
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&checked.stdout) + String::from_utf8_lossy(&checked.stderr);
    assert!(
        checked.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}"
    );

    // The shipped rules pass promtool, and Prometheus loaded them.
    let rules = Command::new(&promtool)
        .args(["check", "rules", RULES])
        .output()
        .unwrap();
    assert!(
        rules.status.success(),
        "{}",
        String::from_utf8_lossy(&rules.stdout)
    );

    // Through Prometheus: the ready count now, the failure rate once the minute is final.
    let ready = wait_for(
        "the ready count in Prometheus",
        Duration::from_secs(30),
        async || promql(prom_port, r#"jobtop_jobs{queue="mail",state="ready"}"#).await,
    )
    .await;
    assert_eq!(ready, 7.0);
    let failed = wait_for(
        "the failed attempts to be counted",
        Duration::from_secs(150),
        async || {
            promql(prom_port, r#"jobtop_jobs_failed_total{queue="hooks"}"#)
                .await
                .filter(|v| *v > 0.0)
        },
    )
    .await;
    assert_eq!(failed, 4.0);
    let succeeded = promql(prom_port, r#"jobtop_jobs_succeeded_total{queue="hooks"}"#).await;
    assert_eq!(succeeded, Some(8.0));
    // The shipped failure-rate rule's expression, over a window.
    let rate = promql(
        prom_port,
        r#"sum by (source, queue) (rate(jobtop_jobs_failed_total{queue="hooks"}[1h]))
           / (sum by (source, queue) (rate(jobtop_jobs_succeeded_total{queue="hooks"}[1h]))
              + sum by (source, queue) (rate(jobtop_jobs_failed_total{queue="hooks"}[1h])))"#,
    )
    .await
    .expect("a failure rate");
    assert!((rate - 4.0 / 12.0).abs() < 1e-3, "failure rate {rate}");
    let (_, rules_doc) = get(prom_port, "/api/v1/rules").await.unwrap();
    assert!(rules_doc.contains("JobtopHighFailureRate"), "{rules_doc}");

    // SIGTERM: a graceful stop, exit 0.
    let mut served = served;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(served.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_for("serve to stop", Duration::from_secs(10), async || {
        served.0.try_wait().unwrap()
    })
    .await;
    assert!(status.success(), "serve ended with {status}");
}

/// Index and sequential scans of jobtop's tables in this database: every overview poll
/// makes some, and so would any scrape that reached the database.
async fn scans(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)::bigint
         FROM pg_stat_user_tables WHERE schemaname = 'jobtop'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Long enough for every backend to have flushed its table statistics: an idle backend
/// flushes within PostgreSQL's idle interval (10 s) when a flush was due sooner.
const STATS_FLUSH: Duration = Duration::from_secs(11);

#[tokio::test]
async fn fifty_concurrent_scrapers_add_no_database_reads() {
    if prometheus_tools().is_none() {
        return;
    }
    let db = common::test_db().await;
    enqueue_n(&db.pool, "mail", 5).await;
    tokio::time::sleep(STATS_FLUSH).await;
    let before_serve = scans(&db.pool).await;
    let url = cli::url(&db.options);
    let port = free_port();
    // One poll a minute and no kinds reads: the window below holds no poll of its own.
    let _served = serve(
        &url,
        port,
        &["--interval", "60", "--kinds-every", "0", "--no-share"],
    );
    let polls = |metrics: &str| sample(metrics, "jobtop_polls_total", &[]);
    let first = wait_for("serve's first poll", Duration::from_secs(30), async || {
        let (_, m) = get(port, "/metrics").await?;
        polls(&m).filter(|n| *n >= 1.0).map(|_| m)
    })
    .await;
    tokio::time::sleep(STATS_FLUSH).await;
    let after_poll = scans(&db.pool).await;
    assert!(
        after_poll > before_serve,
        "a poll must show in the counter, or the assertion below proves nothing ({before_serve} -> {after_poll})"
    );

    let started = Instant::now();
    let mut scrapers = tokio::task::JoinSet::new();
    for i in 0..50 {
        scrapers.spawn(async move {
            let mut ok = 0;
            for round in 0..4 {
                let path = if (i + round) % 2 == 0 {
                    "/metrics"
                } else {
                    "/snapshot"
                };
                if let Some((200, _)) = get(port, path).await {
                    ok += 1;
                }
            }
            ok
        });
    }
    let answered: i32 = scrapers.join_all().await.into_iter().sum();
    assert_eq!(answered, 200, "every scrape answered");
    let (_, last) = get(port, "/metrics").await.unwrap();
    assert_eq!(
        polls(&last),
        polls(&first),
        "a poll ran during the scrapes (after {:?}): the window proves nothing",
        started.elapsed()
    );
    tokio::time::sleep(STATS_FLUSH).await;
    let after_scrapes = scans(&db.pool).await;
    assert_eq!(
        after_scrapes, after_poll,
        "200 scrapes from 50 clients read the database"
    );
}

/// Secrets in what jobs carry (here a Solid Queue recurring task's command) are masked in
/// both exports, `snapshot --json` and `/snapshot`, unless the config's `redact` is off.
#[tokio::test]
async fn snapshot_exports_mask_secrets() {
    let db = common::test_db().await;
    common::exec(&db.pool, crate::common::fixture::SOLIDQUEUE).await;
    sqlx::query(
        "INSERT INTO solid_queue_recurring_tasks (key, schedule, command, static, created_at, updated_at) \
         VALUES ('rotate', 'every hour', 'Rotator.run(api_key: \"sk_live_51Hx\", password=hunter2)', \
                 true, now(), now())",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let url = cli::url(&db.options);
    let command = |doc: &Value| {
        doc["schedules"]["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "rotate")
            .map(|s| s["command"].as_str().unwrap().to_string())
            .expect("the recurring task")
    };

    let args = ["snapshot", &url, "--backend", "solid-queue", "--json"];
    let out = cli::jobtop("", &args);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        command(&doc),
        "Rotator.run(api_key: [redacted], password=[redacted])"
    );
    let out = cli::jobtop("[redact]\ndefaults = false\n", &args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(command(&doc).contains("hunter2"), "redact off shows it");

    let port = free_port();
    let _served = serve(&url, port, &["--backend", "solid-queue", "--interval", "1"]);
    let (_, body) = wait_for(
        "serve's first snapshot",
        Duration::from_secs(30),
        async || {
            get(port, "/snapshot")
                .await
                .filter(|(status, _)| *status == 200)
        },
    )
    .await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        command(&doc),
        "Rotator.run(api_key: [redacted], password=[redacted])"
    );
    assert!(
        !body.contains("hunter2") && !body.contains("sk_live"),
        "{body}"
    );
}
