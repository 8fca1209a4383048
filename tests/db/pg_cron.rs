//! pg_cron for real: a cluster that preloads it (`common::cron`), jobs scheduled every
//! minute (pg_cron 1.4, Debian's, has no second schedules), and what jobtop reads of them,
//! the alerts they raise, `check` and `snapshot --json`.

use std::time::Duration;

use jobtop::backend::schedules::{RunStatus, Schedule, Sources};
use serde_json::Value;
use sqlx::PgPool;

use crate::cli;
use crate::common::{self, exec};

async fn schedule(pool: &PgPool, name: &str, every: &str, command: &str) -> i64 {
    sqlx::query_scalar("SELECT cron.schedule($1, $2, $3)")
        .bind(name)
        .bind(every)
        .bind(command)
        .fetch_one(pool)
        .await
        .expect("cron.schedule")
}

async fn read(pool: &PgPool, name: &str) -> Option<Schedule> {
    let sources = Sources::detect(pool).await.expect("detect");
    let found = sources.read(pool).await;
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.present, ["pg_cron"]);
    found.schedules.into_iter().find(|s| s.name == name)
}

/// Waits until `ready` holds of the named schedule (pg_cron runs on its own clock).
async fn until(
    pool: &PgPool,
    name: &str,
    what: &str,
    ready: impl Fn(&Schedule) -> bool,
) -> Schedule {
    for _ in 0..150 {
        if let Some(s) = read(pool, name).await
            && ready(&s)
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "{name}: {what} did not happen within 75 s: {:?}",
        read(pool, name).await
    );
}

/// A job that succeeds, one that fails, one deactivated after its first run: each shown
/// as it is, the failure with pg_cron's message, the deactivated one missed within its
/// grace, `check` critical for it and `snapshot --json` carrying them all.
#[tokio::test]
async fn succeeding_failing_and_deactivated_jobs() {
    let Some(pool) = common::cron::pool().await else {
        return;
    };
    schedule(&pool, "t_ok", "* * * * *", "SELECT 1").await;
    schedule(&pool, "t_fail", "* * * * *", "SELECT 1/0").await;
    let off = schedule(&pool, "t_off", "* * * * *", "SELECT 2").await;

    let ended = |s: &Schedule| {
        s.last_run()
            .is_some_and(|r| matches!(r.status, RunStatus::Succeeded | RunStatus::Failed))
    };
    let ok = until(&pool, "t_ok", "a run", ended).await;
    let run = ok.last_run().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(ok.expression, "* * * * *");
    assert_eq!(ok.period_seconds, Some(60.0));
    assert!(ok.active);
    let next = ok.next_due_at.expect("next run");
    assert!(next > run.started_at.unwrap(), "{next} after {run:?}");
    assert_eq!(ok.failures_24h.value, 0);

    let fail = until(&pool, "t_fail", "a failed run", ended).await;
    let run = fail.last_run().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.message.as_deref(), Some("ERROR: division by zero"));
    assert_eq!(fail.failures_24h.value, 1);
    assert_eq!(fail.failures_in_a_row(), 1);

    until(&pool, "t_off", "a run", |s| !s.runs.is_empty()).await;
    exec(
        &pool,
        &format!("SELECT cron.alter_job({off}, active := false)"),
    )
    .await;
    let off_read = read(&pool, "t_off").await.unwrap();
    assert!(!off_read.active);
    assert_eq!(off_read.next_due_at, None, "a deactivated job is due never");

    // The next minute comes: t_ok runs again, t_off does not and is missed 5 s after.
    until(&pool, "t_ok", "a second run", |s| {
        s.runs.len() >= 2 && ended(s)
    })
    .await;
    let grace = chrono::Duration::seconds(5);
    let missed = until(&pool, "t_off", "missed past its grace", |s| {
        s.missed_since(chrono::Utc::now(), grace).is_some()
    })
    .await;
    assert_eq!(missed.runs.len(), 1);
    let ok = read(&pool, "t_ok").await.unwrap();
    assert_eq!(ok.missed_since(chrono::Utc::now(), grace), None);

    // `check` with a 5 s grace: critical for the missed one, warning for the failing one.
    let url = cli::url(&common::cron::options().unwrap());
    let config = "[rules.schedule_missed]\nthreshold = \"5s\"\n";
    let out = cli::jobtop(config, &["check", &url]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}{}", cli::stderr(&out));
    assert!(
        text.contains("\nCRITICAL schedule_missed schedule pg_cron/t_off: "),
        "{text}"
    );
    assert!(
        text.contains("WARNING schedule_failed schedule pg_cron/t_fail: "),
        "{text}"
    );
    assert!(!text.contains("pg_cron/t_ok"), "{text}");

    // The same with the rule off for that schedule: no longer critical for it.
    let config = "[rules.schedule_missed.schedules.t_off]\nenabled = false\n";
    let out = cli::jobtop(config, &["check", &url]);
    assert!(
        !cli::stdout(&out).contains("t_off"),
        "{}",
        cli::stdout(&out)
    );

    let out = cli::jobtop(config, &["snapshot", &url, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schedules = &doc["schedules"];
    assert_eq!(
        schedules["present"],
        serde_json::json!(["pg_cron", "jobtop"])
    );
    assert_eq!(
        schedules["absent"],
        serde_json::json!(["pg_net: not installed in this database (net.http_request_queue)"])
    );
    let by_name = |name: &str| {
        schedules["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {schedules}"))
    };
    let fail = by_name("t_fail");
    assert_eq!(fail["source"], "pg_cron");
    assert_eq!(fail["runs"][0]["status"], "failed");
    assert_eq!(fail["runs"][0]["message"], "ERROR: division by zero");
    assert_eq!(by_name("t_off")["active"], false);
    assert_eq!(by_name("t_ok")["runs"][0]["status"], "succeeded");
    let alerts: Vec<&str> = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert!(alerts.contains(&"schedule_failed"), "{alerts:?}");
    assert!(!alerts.contains(&"schedule_missed"), "{alerts:?}");
}

/// The runs are read as a key range of `cron.job_run_details`, never its whole history.
#[tokio::test]
async fn runs_are_read_by_key_range() {
    let Some(pool) = common::cron::pool().await else {
        return;
    };
    // On the test's few runs a sequential scan costs less; what matters is that the
    // statement can take the key range, as it does on a big table.
    let mut tx = pool.begin().await.unwrap();
    exec_in(&mut tx, "SET LOCAL enable_seqscan = off").await;
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN {}",
        jobtop::backend::cron::RUNS_SQL
            .replace("$1", "5000")
            .replace("$2", "20")
            .replace("$3", "500")
    )))
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("job_run_details_pkey"), "{plan}");
    assert!(plan.contains("Cond: (runid > ($"), "{plan}");
    assert!(!plan.contains("Seq Scan on job_run_details"), "{plan}");
}

async fn exec_in(tx: &mut sqlx::PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(tx)
        .await
        .expect("statement runs");
}

/// Deactivate and activate a pg_cron job through the gate: one row changed each time, with
/// its audit row; a second press changes nothing and says so; run-now and read-only are
/// refused; the command line does the same with `--yes`.
#[tokio::test]
async fn activate_and_deactivate_through_the_gate() {
    use jobtop::backend::actions::{Action, ScheduleOp, ScheduleTarget};
    use jobtop::backend::detect::{Selection, resolve};
    use jobtop::backend::gate::Gate;

    let Some(pool) = common::cron::pool().await else {
        return;
    };
    let id = schedule(&pool, "t_gate", "* * * * *", "SELECT 3").await;
    let (_, backend) = resolve(&pool, &Selection::default()).await.unwrap();
    let backend = backend.with_schedules(pool.clone());
    let gate = Gate::with_actor(backend.clone(), false, "ana@bastion".into());
    let target = ScheduleTarget {
        source: "pg_cron".into(),
        id: id.to_string(),
        name: "t_gate".into(),
    };
    let action = |op| Action::Schedule {
        op,
        target: target.clone(),
    };
    let active = || async {
        sqlx::query_scalar::<_, bool>("SELECT active FROM cron.job WHERE jobid = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    let off = gate.plan(&action(ScheduleOp::Deactivate)).await.unwrap();
    assert_eq!(off.eligible, 1);
    assert_eq!(off.question(), "Deactivate schedule `pg_cron/t_gate`?");
    let done = crate::helpers::run(&gate, &off).await;
    assert_eq!(done.changed, 1);
    assert_eq!(done.summary(), "deactivated schedule `pg_cron/t_gate`");
    assert_eq!(done.exit_code(), 0);
    assert!(!active().await);
    let (action_name, count, detail): (String, i64, String) =
        sqlx::query_as("SELECT action, count, detail FROM jobtop.audit WHERE id = $1")
            .bind(done.audit_id.expect("audited"))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (action_name.as_str(), count, detail.as_str()),
        (
            "schedule_deactivate",
            1,
            "deactivated schedule `pg_cron/t_gate`"
        )
    );
    let s = read(&pool, "t_gate").await.unwrap();
    assert!(!s.active);
    assert_eq!(s.next_due_at, None);

    // A second press: the look says it is already off; the old plan run again changes nothing.
    let again = gate.plan(&action(ScheduleOp::Deactivate)).await.unwrap();
    assert_eq!(again.eligible, 0);
    assert_eq!(
        again.note.as_deref(),
        Some("`pg_cron/t_gate` is already inactive")
    );
    let stale = crate::helpers::run(&gate, &off).await;
    assert_eq!(stale.changed, 0);
    assert_eq!(
        stale.summary(),
        "schedule `pg_cron/t_gate` not deactivated: it had changed since the look"
    );
    assert_eq!(stale.exit_code(), 2);

    let on = gate.plan(&action(ScheduleOp::Activate)).await.unwrap();
    let done = crate::helpers::run(&gate, &on).await;
    assert_eq!(done.summary(), "activated schedule `pg_cron/t_gate`");
    assert!(active().await);

    let err = gate
        .plan(&action(ScheduleOp::RunNow))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "cannot run now a pg_cron schedule: pg_cron has no run-now; run the job's command yourself"
    );
    let read_only = Gate::with_actor(backend, true, "ana@bastion".into());
    let err = read_only
        .plan(&action(ScheduleOp::Deactivate))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("read-only"), "{err}");
    assert!(active().await);

    // The command line, by name.
    let url = cli::url(&common::cron::options().unwrap());
    let args = [
        "schedule",
        "deactivate",
        "pg_cron/t_gate",
        "--url",
        &url,
        "--yes",
    ];
    let out = cli::jobtop("", &args);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    assert!(
        cli::stdout(&out).contains("\ndeactivated schedule `pg_cron/t_gate`\n"),
        "{}",
        cli::stdout(&out)
    );
    assert!(!active().await);
    let out = cli::jobtop("", &args);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    assert!(
        cli::stdout(&out).contains("nothing deactivated: `pg_cron/t_gate` is already inactive"),
        "{}",
        cli::stdout(&out)
    );
    exec(&pool, &format!("SELECT cron.unschedule({id})")).await;
}

/// A database with pg_cron and no queue opens on its schedules: `--backend schedules`
/// here (the shared cron database also holds the reference schema, which detection would
/// prefer), `snapshot` with no queues and the pg_cron jobs, `check` judging them.
#[tokio::test]
async fn schedules_without_a_queue() {
    let Some(pool) = common::cron::pool().await else {
        return;
    };
    let id = schedule(&pool, "t_alone", "* * * * *", "SELECT 4").await;
    let url = cli::url(&common::cron::options().unwrap());
    let out = cli::jobtop("", &["snapshot", &url, "--json", "--backend", "schedules"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["queues"], serde_json::json!([]));
    assert_eq!(doc["schedules"]["present"], serde_json::json!(["pg_cron"]));
    assert!(
        doc["schedules"]["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "t_alone"),
        "{doc}"
    );
    // After its first run it is deactivated: once its next minute passes, `check` finds it
    // missed and exits critical.
    until(&pool, "t_alone", "a run", |s| !s.runs.is_empty()).await;
    exec(
        &pool,
        &format!("SELECT cron.alter_job({id}, active := false)"),
    )
    .await;
    let config = "[rules.schedule_missed]\nthreshold = \"1s\"\n";
    let mut last = String::new();
    for _ in 0..150 {
        let out = cli::jobtop(config, &["check", &url, "--backend", "schedules"]);
        last = cli::stdout(&out);
        if last.contains("CRITICAL schedule_missed schedule pg_cron/t_alone: ") {
            assert_eq!(out.status.code(), Some(2), "{last}");
            exec(&pool, &format!("SELECT cron.unschedule({id})")).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("t_alone never missed: {last}");
}
