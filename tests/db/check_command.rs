//! `jobtop check`: the built binary's exit codes and lines against seeded databases (OK,
//! WARNING, CRITICAL) and an unreachable one (UNKNOWN).

use serde_json::Value;
use sqlx::PgPool;

use crate::cli;
use crate::common::{self, exec};

/// A healthy queue: three fresh ready jobs, one done, a worker with a fresh heartbeat.
async fn healthy(pool: &PgPool) {
    exec(
        pool,
        "SELECT jobtop.register_worker('w-1', 'host-1', 42, ARRAY['mail'], '1.0')",
    )
    .await;
    for _ in 0..4 {
        exec(pool, "SELECT jobtop.enqueue('mail', 'send')").await;
    }
    exec(pool, "SELECT jobtop.claim('w-1', ARRAY['mail'], 1)").await;
    exec(
        pool,
        "SELECT jobtop.complete(id, 'w-1') FROM jobtop.jobs WHERE state = 'running'",
    )
    .await;
}

/// One job that went dead (a single attempt, failed): the dead-letter warning.
async fn one_dead(pool: &PgPool) {
    exec(
        pool,
        "SELECT jobtop.enqueue(queue => 'hooks', kind => 'post', max_attempts => 1)",
    )
    .await;
    exec(pool, "SELECT jobtop.claim('w-1', ARRAY['hooks'], 1)").await;
    exec(
        pool,
        "SELECT jobtop.fail(id, 'w-1', 'HTTP 500') FROM jobtop.jobs WHERE state = 'running'",
    )
    .await;
}

/// A ready job due ten minutes ago: the oldest-ready critical.
async fn stuck(pool: &PgPool) {
    exec(
        pool,
        "SELECT jobtop.enqueue(queue => 'mail', kind => 'send', run_at => now() - interval '10 minutes')",
    )
    .await;
}

#[tokio::test]
async fn ok_warning_and_critical_databases() {
    let db = common::test_db().await;
    let url = cli::url(&db.options);
    healthy(&db.pool).await;

    let out = cli::jobtop("", &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", cli::stderr(&out));
    assert!(
        text.starts_with("JOBTOP OK - 1 queues, 1 workers, no alert firing | 'mail_ready'=3;;;0"),
        "{text}"
    );
    // The `for` durations a single check cannot judge are said to be instantaneous.
    assert!(
        text.contains("evaluated as instantaneous: backlog (for 5m), no_worker (for 1m)"),
        "{text}"
    );
    assert!(
        text.contains("note: backlog_baseline not evaluated: needs history"),
        "{text}"
    );

    one_dead(&db.pool).await;
    let out = cli::jobtop("", &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("JOBTOP WARNING - 0 critical, 1 warning: queue hooks dead jobs 1 > 0 |"),
        "{text}"
    );
    assert!(
        text.contains("\nWARNING dead_letter queue hooks: 1 > 0, since "),
        "{text}"
    );

    // The same database with the rule switched off for that queue in the config: OK.
    let config = "[rules.dead_letter.queues.hooks]\nenabled = false\n";
    let out = cli::jobtop(config, &["check", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stdout(&out));

    stuck(&db.pool).await;
    let out = cli::jobtop("", &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("JOBTOP CRITICAL - 1 critical, 1 warning: queue mail oldest ready job 10m00s > 5m00s; queue hooks dead jobs 1 > 0 |"),
        "{text}"
    );
    assert!(
        text.contains("\nCRITICAL oldest_ready queue mail: 10m00s > 5m00s"),
        "{text}"
    );

    // --json: the same verdict, and the age judged from the database's own timestamps.
    let out = cli::jobtop("", &["check", &url, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "CRITICAL");
    assert_eq!(doc["exit_code"], 2);
    let alert = &doc["alerts"][0];
    assert_eq!(alert["rule"], "oldest_ready");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(
        alert["subject"],
        serde_json::json!({"type": "queue", "name": "mail"})
    );
    let value = alert["value"].as_f64().unwrap();
    assert!((600.0..605.0).contains(&value), "{value}");
    // It crossed five minutes five minutes ago.
    let since: chrono::DateTime<chrono::Utc> = alert["since"].as_str().unwrap().parse().unwrap();
    let checked: chrono::DateTime<chrono::Utc> =
        doc["checked_at"].as_str().unwrap().parse().unwrap();
    let held = (checked - since).num_seconds();
    assert!((299..=305).contains(&held), "held {held}s");
    assert_eq!(doc["instantaneous"][0]["rule"], "backlog");
    assert_eq!(doc["instantaneous"][0]["for_seconds"], 300.0);
}

#[tokio::test]
async fn a_dead_worker_and_a_queue_nobody_serves_are_critical() {
    let db = common::test_db().await;
    let url = cli::url(&db.options);
    healthy(&db.pool).await;
    exec(&db.pool, "SELECT jobtop.claim('w-1', ARRAY['mail'], 1)").await;
    exec(
        &db.pool,
        "UPDATE jobtop.workers SET last_heartbeat_at = now() - interval '6 minutes'",
    )
    .await;
    let out = cli::jobtop("", &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("\nCRITICAL worker_down worker w-1: 6m00s > 5m00s"),
        "{text}"
    );
    assert!(text.contains("(holds 1 running jobs)"), "{text}");
    assert!(
        text.contains("\nCRITICAL no_worker queue mail: 2 > 0"),
        "{text}"
    );
}

#[test]
fn an_unreachable_database_is_unknown() {
    // A socket directory where no server listens: refused at once.
    let dir = std::env::temp_dir().join(format!("jobtop-no-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!(
        "postgres://nobody:s3cret@localhost/app?host={}",
        dir.display()
    );
    let out = cli::jobtop("", &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}{}", cli::stderr(&out));
    assert!(
        text.starts_with("JOBTOP UNKNOWN - cannot read the database: cannot connect to nobody@"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    let out = cli::jobtop("", &["check", &url, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "UNKNOWN");
    assert_eq!(doc["exit_code"], 3);
}

#[test]
fn a_broken_config_is_unknown_with_its_line_and_column() {
    let out = cli::jobtop(
        "refresh = 2\n[rules.backlog]\nthreshold = \"lots\"\n",
        &["check", "postgres://nobody@localhost/app"],
    );
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.starts_with("JOBTOP UNKNOWN - bad configuration: "),
        "{text}"
    );
    assert!(
        text.contains("config.toml:3:13: invalid value: string \"lots\""),
        "{text}"
    );
}

#[tokio::test]
async fn a_named_connection_from_the_config() {
    let db = common::test_db().await;
    healthy(&db.pool).await;
    let config = format!(
        "[connections.local]\nurl = \"{}\"\nread_only = true\n",
        cli::url(&db.options)
    );
    let out = cli::jobtop(&config, &["check", "@local"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stdout(&out));
    let out = cli::jobtop(&config, &["check", "@prod"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        cli::stdout(&out).contains("no connection named @prod in "),
        "{}",
        cli::stdout(&out)
    );
    assert!(cli::stdout(&out).contains("known: @local"));
}
