//! `jobtop snapshot --json` from the built binary against a seeded database, checked against
//! its documented schema (`assets/snapshot.schema.json`, `docs/snapshot-schema.md`).

use serde_json::Value;
use sqlx::PgPool;

use crate::cli;
use crate::common::{self, exec};

const SCHEMA: &str = include_str!("../../assets/snapshot.schema.json");
const DOC: &str = include_str!("../../docs/snapshot-schema.md");

/// The subset of JSON Schema the snapshot schema uses: type, const, enum, required,
/// properties, additionalProperties: false, items, $ref to $defs, oneOf, minimum, maximum,
/// format date-time. Returns every violation with its path.
fn validate(schema: &Value, root: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("only local $defs refs");
        return validate(&root["$defs"][name], root, value, path, errors);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                validate(o, root, value, path, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!("{path}: matches {matching} of oneOf"));
        }
        return;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {path}"),
        };
        let ok = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            errors.push(format!("{path}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{path}: {value} is not {c}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {options:?}"));
    }
    if let (Some(min), Some(v)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && v < min
    {
        errors.push(format!("{path}: {v} < {min}"));
    }
    if let (Some(max), Some(v)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) && v > max
    {
        errors.push(format!("{path}: {v} > {max}"));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = value.as_str()
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        errors.push(format!("{path}: {s} is not RFC 3339"));
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap();
            if !obj.contains_key(req) {
                errors.push(format!("{path}: missing {req}"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, v, &format!("{path}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: {k} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(items, root, v, &format!("{path}[{i}]"), errors);
        }
    }
}

pub(crate) fn assert_valid(doc: &Value) {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

async fn seed(pool: &PgPool) {
    exec(
        pool,
        "SELECT jobtop.register_worker('w-live', 'h1', 1, ARRAY['mail', 'reports'], '1.0')",
    )
    .await;
    exec(
        pool,
        "SELECT jobtop.register_worker('w-gone', 'h2', 2, ARRAY['mail'], '1.0')",
    )
    .await;
    // mail: 5 ready (the oldest 7 minutes), 2 scheduled, 2 running (one for 2 h), 1 dead,
    // 1 retrying, 3 succeeded.
    exec(
        pool,
        "SELECT jobtop.enqueue(queue => 'mail', kind => 'send', tenant_id => 'acme',
                               run_at => now() - interval '7 minutes')",
    )
    .await;
    for _ in 0..4 {
        exec(pool, "SELECT jobtop.enqueue('mail', 'send')").await;
    }
    for _ in 0..2 {
        exec(
            pool,
            "SELECT jobtop.enqueue(queue => 'mail', kind => 'digest', run_at => now() + interval '1 hour')",
        )
        .await;
    }
    // Done, dead, retrying, running: claimed by priority so the ready ones stay put.
    for _ in 0..3 {
        exec(
            pool,
            "SELECT jobtop.enqueue(queue => 'mail', kind => 'digest', priority => 9::smallint)",
        )
        .await;
    }
    exec(pool, "SELECT jobtop.claim('w-live', ARRAY['mail'], 3)").await;
    exec(
        pool,
        "SELECT jobtop.complete(id, 'w-live') FROM jobtop.jobs WHERE state = 'running'",
    )
    .await;
    exec(
        pool,
        "SELECT jobtop.enqueue(queue => 'mail', kind => 'send', priority => 9::smallint, max_attempts => 1)",
    )
    .await;
    exec(
        pool,
        "SELECT jobtop.enqueue(queue => 'mail', kind => 'send', priority => 9::smallint, max_attempts => 3)",
    )
    .await;
    exec(pool, "SELECT jobtop.claim('w-live', ARRAY['mail'], 2)").await;
    exec(
        pool,
        "SELECT jobtop.fail(id, 'w-live', 'boom', interval '1 hour') FROM jobtop.jobs WHERE state = 'running'",
    )
    .await;
    for _ in 0..2 {
        exec(
            pool,
            "SELECT jobtop.enqueue(queue => 'mail', kind => 'send', priority => 9::smallint, tenant_id => 'acme')",
        )
        .await;
    }
    exec(pool, "SELECT jobtop.claim('w-gone', ARRAY['mail'], 2)").await;
    exec(
        pool,
        "UPDATE jobtop.jobs SET started_at = now() - interval '2 hours'
         WHERE id = (SELECT min(id) FROM jobtop.jobs WHERE state = 'running')",
    )
    .await;
    exec(
        pool,
        "UPDATE jobtop.workers SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = 'w-gone'",
    )
    .await;
    // reports: paused with a backlog.
    exec(pool, "SELECT jobtop.enqueue('reports', 'build')").await;
    exec(
        pool,
        "UPDATE jobtop.queues SET paused_at = now(), paused_by = 'alice', pause_reason = 'deploy'
         WHERE name = 'reports'",
    )
    .await;
}

#[tokio::test]
async fn snapshot_json_follows_its_schema_and_tells_the_truth() {
    let db = common::test_db().await;
    seed(&db.pool).await;
    let url = cli::url(&db.options);
    let config = "[rules.tenant_heartbeat_budget]\nenabled = true\nthreshold = 1\n";
    let out = cli::jobtop(config, &["snapshot", &url, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&doc);

    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["backend"], "native");
    let mail = &doc["queues"][0];
    assert_eq!(mail["name"], "mail");
    let figures: Vec<i64> = [
        "ready",
        "scheduled",
        "running",
        "retrying",
        "dead",
        "pending",
        "processing",
        "dead_letter",
    ]
    .iter()
    .map(|k| mail[*k].as_i64().unwrap())
    .collect();
    assert_eq!(figures, [5, 2, 2, 1, 1, 7, 2, 1]);
    let age = mail["oldest_ready_age_seconds"].as_f64().unwrap();
    assert!((420.0..425.0).contains(&age), "{age}");
    let longest = mail["longest_running_seconds"].as_f64().unwrap();
    assert!((7200.0..7205.0).contains(&longest), "{longest}");
    assert_eq!(mail["dead_last_hour"], 1);
    assert_eq!(mail["throughput"]["succeeded"], 3);
    assert_eq!(mail["throughput"]["failed"], 2);
    assert_eq!(mail["throughput"]["failure_rate"], 0.4);
    let kinds: Vec<(&str, i64, i64)> = mail["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kind"].as_str().unwrap(),
                k["succeeded"].as_i64().unwrap(),
                k["failed"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("digest", 3, 0), ("send", 0, 2)]);
    let reports = &doc["queues"][1];
    assert_eq!(reports["paused"], true);
    assert_eq!(reports["paused_by"], "alice");
    assert_eq!(doc["totals"]["paused_queues"], 1);
    assert_eq!(doc["totals"]["ready"], 6);
    assert_eq!(doc["totals"]["pending"], 8);

    let workers = doc["workers"].as_array().unwrap();
    let gone = workers.iter().find(|w| w["id"] == "w-gone").unwrap();
    assert_eq!(gone["stale"], true);
    assert_eq!(gone["running_jobs"], 2);
    let live = workers.iter().find(|w| w["id"] == "w-live").unwrap();
    assert_eq!(live["stale"], false);
    assert_eq!(
        doc["running_by_tenant"],
        serde_json::json!([{"tenant": "acme", "running": 2}])
    );

    // Firing, critical first: the oldest ready job, the job running for 2 h is a warning,
    // the worker gone quiet holding jobs, the dead job, acme's heartbeats (2 jobs at 30 s =
    // 4/min, budget 1). The paused queue's backlog raises nothing.
    let alerts: Vec<(&str, &str, &str)> = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["severity"].as_str().unwrap(),
                a["rule"].as_str().unwrap(),
                a["subject_label"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        alerts,
        [
            ("critical", "worker_down", "worker w-gone"),
            ("critical", "oldest_ready", "queue mail"),
            ("warning", "slow_job", "queue mail"),
            ("warning", "dead_letter", "queue mail"),
            ("warning", "tenant_heartbeat_budget", "tenant acme"),
        ]
    );
    assert!(
        doc["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "firing")
    );
    assert_eq!(doc["not_evaluated"][0]["rule"], "backlog_baseline");

    // The table for people says the same.
    let out = cli::jobtop(config, &["snapshot", &url]);
    let text = cli::stdout(&out);
    assert!(text.contains("\nmail "), "{text}");
    assert!(
        text.contains("CRITICAL oldest_ready queue mail: 7m0"),
        "{text}"
    );
}

/// Every field of the schema is explained in the document, and the document's example is
/// itself valid.
#[test]
fn the_schema_and_its_document_agree() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let mut missing = Vec::new();
    let mut objects = vec![&schema];
    objects.extend(schema["$defs"].as_object().unwrap().values());
    for obj in objects {
        for key in obj["properties"].as_object().unwrap().keys() {
            if !DOC.contains(&format!("`{key}`")) {
                missing.push(key.clone());
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
    let example = DOC
        .split("```json")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .unwrap();
    let example: Value = serde_json::from_str(example).unwrap();
    assert_valid(&example);
    // And the CE Pro runbook's health snapshot fields are all there, top level and per queue.
    for field in [
        "pending",
        "retrying",
        "processing",
        "dead_letter",
        "oldest_ready_at",
        "oldest_ready_age_seconds",
    ] {
        assert!(schema["$defs"]["totals"]["properties"].get(field).is_some());
        assert!(schema["$defs"]["queue"]["properties"].get(field).is_some());
    }
}

/// Queue `webhooks` with 3,000 dead jobs, analyzed: past the pile cap, and past a count cap
/// of 100.
async fn three_thousand_dead_webhooks(pool: &sqlx::PgPool) {
    exec(pool, "INSERT INTO jobtop.queues (name) VALUES ('webhooks')").await;
    exec(
        pool,
        "INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'webhooks', 'hook', 'dead', now() - interval '2 hours' FROM generate_series(1, 3000);
         ANALYZE jobtop.jobs",
    )
    .await;
}

/// A pile past the count cap is the planner's estimate, and the document says so, per
/// queue and in the totals, and on the alert it raises.
#[tokio::test]
async fn snapshot_json_marks_estimates() {
    let db = common::test_db().await;
    let pool = &db.pool;
    three_thousand_dead_webhooks(pool).await;
    let url = cli::url(&db.options);
    let config = "count_cap = 100\n[rules.dead_letter]\nenabled = true\nthreshold = 50\n";
    let out = cli::jobtop(config, &["snapshot", &url, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&doc);
    let webhooks = &doc["queues"][0];
    assert_eq!(webhooks["estimated"], serde_json::json!(["dead"]));
    assert_eq!(webhooks["capped"], serde_json::json!([]));
    assert_eq!(doc["totals"]["estimated"], true);
    let alert = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "dead_letter")
        .expect("the dead-letter alert");
    assert_eq!(alert["estimated"], true);
    assert!(
        alert["value_text"].as_str().unwrap().starts_with('~'),
        "{alert}"
    );
}

/// `snapshot` reads as the monitor does: a pile past the pile cap (100) is estimated, not
/// counted to the count cap (which at 10 M rows took longer than the statement timeout).
#[tokio::test]
async fn snapshot_estimates_a_pile_past_100_under_the_count_cap() {
    let db = common::test_db().await;
    let pool = &db.pool;
    three_thousand_dead_webhooks(pool).await;
    let out = cli::jobtop("", &["snapshot", &cli::url(&db.options), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&doc);
    let webhooks = &doc["queues"][0];
    assert_eq!(webhooks["estimated"], serde_json::json!(["dead"]));
    let dead = webhooks["dead"].as_i64().unwrap();
    assert!((2000..=4000).contains(&dead), "{webhooks}");
}

/// One poll estimates every pile past the cap: a monitor spreads its estimates over a few
/// polls, but a command that polls once showed "100+" beyond its first few piles.
#[tokio::test]
async fn snapshot_estimates_every_queues_pile_in_its_one_poll() {
    let db = common::test_db().await;
    let pool = &db.pool;
    exec(
        pool,
        "INSERT INTO jobtop.queues (name) SELECT 'q' || g FROM generate_series(1, 8) g;
         INSERT INTO jobtop.jobs (queue, kind, state, finished_at)
         SELECT 'q' || (g % 8 + 1), 'hook', 'dead', now() - interval '2 hours'
         FROM generate_series(1, 8000) g;
         ANALYZE jobtop.jobs",
    )
    .await;
    let out = cli::jobtop("", &["snapshot", &cli::url(&db.options), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&doc);
    let queues = doc["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 8);
    for q in queues {
        assert_eq!(q["estimated"], serde_json::json!(["dead"]), "{q}");
        let dead = q["dead"].as_i64().unwrap();
        assert!((500..=1500).contains(&dead), "{q}");
    }
}
