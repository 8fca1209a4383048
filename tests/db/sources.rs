//! Several sources on one screen, on real databases of three queue systems (River, pg-boss,
//! Solid Queue): each source's own runtime (`source_runtime`) feeding the wrapped screen
//! state (`app::sources`) as the terminal does; one source stopped halfway goes STALE alone
//! while the others keep refreshing, and comes back; an action confirmed on one source is
//! audited there and nowhere else. Then `check` and `snapshot` over several sources.

use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::mpsc;

use jobtop::app::sources::{Sources, SourcesMsg};
use jobtop::app::{App, AppConfig, DrillSettings, Effect, Msg};
use jobtop::backend::detect::{BackendKind, Selection};
use jobtop::backend::pg::connect::SessionSettings;
use jobtop::backend::{Capabilities, SnapshotOptions};
use jobtop::source_runtime::{self, SourceEvent, SourceRuntime, SourceSetup};

use crate::cli;
use crate::common::fixture::{PGBOSS, RIVER, SOLIDQUEUE};
use crate::common::{self, TestDb, exec};
use crate::helpers::audit_rows;

const INTERVAL: Duration = Duration::from_millis(500);

/// (label, backend, fixture) of the three sources.
const SOURCES: [(&str, BackendKind, &str); 3] = [
    ("billing", BackendKind::River, RIVER),
    ("web", BackendKind::PgBoss, PGBOSS),
    ("legacy", BackendKind::SolidQueue, SOLIDQUEUE),
];

async fn databases() -> Vec<TestDb> {
    let mut dbs = Vec::new();
    for (_, _, fixture) in SOURCES {
        let db = common::test_db().await;
        exec(&db.pool, fixture).await;
        dbs.push(db);
    }
    dbs
}

fn setup(db: &TestDb, backend: BackendKind, read_only: bool) -> SourceSetup {
    SourceSetup {
        opts: db.options.clone(),
        described: db.name.clone(),
        session: SessionSettings {
            statement_timeout: Duration::from_secs(2),
            read_only,
            ..SessionSettings::default()
        },
        selection: Selection {
            backend: Some(backend),
            ..Selection::default()
        },
        share: true,
        interval: INTERVAL,
        poll_timeout: Duration::from_secs(4),
        snapshot: SnapshotOptions {
            count_cap: 10_000,
            running_by_tenant: false,
            pile_cap: 100,
            estimates: jobtop::backend::pile_estimates::PER_POLL,
        },
    }
}

fn app(label: &str, read_only: bool) -> App {
    let config = AppConfig {
        target: label.to_string(),
        backend: "…".to_string(),
        capabilities: Capabilities::FULL,
        read_only,
        stale_after: Duration::from_secs(60),
        oldest_warn: Duration::from_secs(60),
        oldest_critical: Duration::from_secs(300),
        drill: DrillSettings::default(),
    };
    App::new(config, INTERVAL, Utc::now())
}

/// The terminal's loop without a terminal: sources open, poll and act in their own tasks;
/// their messages fold into `screen`; effects go to the source that asked.
struct Harness {
    screen: Sources,
    setups: Vec<SourceSetup>,
    runtimes: Vec<Option<SourceRuntime>>,
    tx: mpsc::Sender<(usize, SourceEvent)>,
    rx: mpsc::Receiver<(usize, SourceEvent)>,
    /// When each source's good polls arrived.
    polled_ok: Vec<Vec<Instant>>,
}

impl Harness {
    fn start(dbs: &[TestDb], read_only: [bool; 3]) -> Harness {
        let (tx, rx) = mpsc::channel(256);
        let setups: Vec<SourceSetup> = dbs
            .iter()
            .zip(SOURCES)
            .zip(read_only)
            .map(|((db, (_, backend, _)), ro)| setup(db, backend, ro))
            .collect();
        for (i, s) in setups.iter().enumerate() {
            source_runtime::spawn_open(i, s.clone(), tx.clone());
        }
        let apps = SOURCES
            .iter()
            .zip(read_only)
            .map(|((label, _, _), ro)| (label.to_string(), app(label, ro)))
            .collect();
        Harness {
            screen: Sources::new(apps, Utc::now()),
            runtimes: setups.iter().map(|_| None).collect(),
            setups,
            tx,
            rx,
            polled_ok: vec![Vec::new(); 3],
        }
    }

    fn apply(&mut self, msg: SourcesMsg) {
        for (i, effect) in self.screen.update(msg) {
            if let Some(Some(runtime)) = self.runtimes.get_mut(i) {
                runtime.run(effect);
            } else {
                assert!(
                    matches!(effect, Effect::Bell),
                    "an effect for a source that is not open: {effect:?}"
                );
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.apply(SourcesMsg::Key(KeyEvent::from(code)));
    }

    /// Folds messages until `done` holds (panics after `limit`).
    async fn until(&mut self, limit: Duration, mut done: impl FnMut(&Harness) -> bool) {
        let end = Instant::now() + limit;
        while !done(self) {
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out; state: {:?}", self.states());
            let Ok(Some((i, event))) = tokio::time::timeout(left, self.rx.recv()).await else {
                continue;
            };
            let msg = match event {
                SourceEvent::Msg(msg) => {
                    if matches!(msg, Msg::Polled { result: Ok(_), .. }) {
                        self.polled_ok[i].push(Instant::now());
                    }
                    SourcesMsg::Source(i, msg)
                }
                SourceEvent::Opened(backend) => {
                    let msg = SourcesMsg::Opened {
                        source: i,
                        backend: backend.name().to_string(),
                        capabilities: backend.capabilities(),
                    };
                    self.runtimes[i] = Some(SourceRuntime::start(
                        i,
                        backend,
                        &self.setups[i],
                        self.tx.clone(),
                    ));
                    msg
                }
            };
            self.apply(msg);
            self.apply(SourcesMsg::Tick(Utc::now()));
        }
    }

    async fn wait(&mut self, d: Duration) {
        let end = Instant::now() + d;
        self.until(d + Duration::from_secs(5), |_| Instant::now() >= end)
            .await;
    }

    /// Per source: (backend, has data, failing).
    fn states(&self) -> Vec<(String, bool, bool)> {
        self.screen
            .sources
            .iter()
            .map(|s| {
                (
                    s.app.config.backend.clone(),
                    s.app.shown().is_some(),
                    s.app.failure.is_some(),
                )
            })
            .collect()
    }

    fn all_fresh(&self) -> bool {
        self.states()
            .iter()
            .all(|(_, data, failing)| *data && !failing)
    }

    fn polls_since(&self, i: usize, since: Instant) -> usize {
        self.polled_ok[i].iter().filter(|t| **t >= since).count()
    }
}

/// Keeps source `db` from answering: no new sessions, and its open ones ended.
async fn stop(admin: &PgPool, db: &TestDb, allow: bool) {
    let sql = format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
        jobtop::backend::pg::sql::ident(&db.name)
    );
    exec(admin, &sql).await;
    if !allow {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&db.name)
            .execute(admin)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_source_goes_stale_alone_and_comes_back() {
    let dbs = databases().await;
    let mut h = Harness::start(&dbs, [false; 3]);
    h.until(Duration::from_secs(30), Harness::all_fresh).await;
    assert_eq!(
        h.states().iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["river", "pg-boss", "solid-queue"]
    );

    // Halfway: web's database stops answering.
    let admin = &dbs[0].pool;
    stop(admin, &dbs[1], false).await;
    h.until(Duration::from_secs(20), |h| h.states()[1].2).await;
    let outage = Instant::now();
    h.wait(Duration::from_secs(4)).await;
    let states = h.states();
    assert!(
        states[1].1 && states[1].2,
        "web keeps its last data, marked: {states:?}"
    );
    assert!(
        !states[0].2 && !states[2].2,
        "only web is stale: {states:?}"
    );
    // Every 0.5 s for 4 s: the others did not wait for web.
    for i in [0, 2] {
        let polls = h.polls_since(i, outage);
        assert!(
            polls >= 5,
            "source {i} polled {polls} times during web's outage"
        );
    }
    assert_eq!(h.polls_since(1, outage), 0);
    let rows = h.screen.rows();
    let web_rows = rows.iter().filter(|r| r.source() == 1).count();
    assert!(web_rows > 0, "web's last rows stay on screen");

    // Back: web refreshes again, on its own.
    stop(admin, &dbs[1], true).await;
    h.until(Duration::from_secs(30), Harness::all_fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_goes_to_its_source_and_is_audited_there_alone() {
    let dbs = databases().await;
    // legacy is read-only: it refuses while the others act.
    let mut h = Harness::start(&dbs, [false, false, true]);
    h.until(Duration::from_secs(30), Harness::all_fresh).await;
    let before: Vec<i64> = futures::future::join_all(dbs.iter().map(|d| audit_rows(&d.pool))).await;

    // The dead jobs of pg-boss's `emails` queue, in `web`.
    for c in "/web emails".chars() {
        h.key(KeyCode::Char(c));
    }
    h.key(KeyCode::Enter);
    assert_eq!(h.screen.selected.key(), Some(&(1, "emails".to_string())));
    h.key(KeyCode::Char('R'));
    h.until(Duration::from_secs(10), |h| {
        h.screen
            .overlaying()
            .and_then(|a| a.actions.dialog.as_ref())
            .is_some_and(|d| matches!(d, jobtop::app::actions::Dialog::Confirm(_)))
    })
    .await;
    let question = match h
        .screen
        .overlaying()
        .unwrap()
        .actions
        .dialog
        .as_ref()
        .unwrap()
    {
        jobtop::app::actions::Dialog::Confirm(c) => c.plan.question(),
        _ => unreachable!(),
    };
    assert!(question.contains("in `web` › `emails`"), "{question}");
    h.key(KeyCode::Right);
    h.key(KeyCode::Enter);
    // The run ends: its dialog closes, its result is said on the footer, naming web.
    h.until(Duration::from_secs(20), |h| {
        h.screen.sources[1].app.actions.dialog.is_none() && h.screen.active.is_none()
    })
    .await;
    let toast = h.screen.visible_toast().map(|t| t.text.clone());
    assert!(
        toast.as_deref().is_some_and(|t| t.starts_with("web: ")),
        "{toast:?}"
    );
    let after: Vec<i64> = futures::future::join_all(dbs.iter().map(|d| audit_rows(&d.pool))).await;
    assert_eq!(
        after
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect::<Vec<_>>(),
        [0, 1, 0],
        "audited in web alone"
    );

    // legacy refuses; nothing reaches its database.
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('/'));
    for c in "legacy default".chars() {
        h.key(KeyCode::Char(c));
    }
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('R'));
    let toast = h.screen.visible_toast().map(|t| t.text.clone());
    assert!(
        toast
            .as_deref()
            .is_some_and(|t| t.starts_with("legacy: read-only")),
        "{toast:?}"
    );
    assert_eq!(audit_rows(&dbs[2].pool).await, before[2]);
}

fn config_for(dbs: &[TestDb], unreachable: &str) -> String {
    let url = |db: &TestDb| cli::url(&db.options);
    format!(
        "[connections.billing]\nurl = \"{}\"\nbackend = \"river\"\n\
         [connections.web]\nurl = \"{}\"\nbackend = \"native\"\n\
         [connections.calm]\nurl = \"{}\"\nbackend = \"river\"\nlabel = \"billing-calm\"\n\
         [connections.calm.rules]\noldest_ready = {{ enabled = false }}\n\
         dead_letter = {{ enabled = false }}\n\
         [connections.legacy]\nurl = \"{unreachable}\"\n\
         [screens.oncall]\nsources = [\"billing\", \"web\", \"legacy\"]\n",
        url(&dbs[0]),
        url(&dbs[1]),
        url(&dbs[0]),
    )
}

fn unreachable_url() -> String {
    let dir = std::env::temp_dir().join(format!("jobtop-no-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    format!(
        "postgres://nobody:s3cret@localhost/app?host={}",
        dir.display()
    )
}

#[tokio::test]
async fn check_over_several_sources_exits_with_the_worst() {
    // billing: River's fixture (critical: a ready job 10 minutes old); web: an empty
    // reference schema (OK); legacy: nothing listens (UNKNOWN).
    let billing = common::test_db().await;
    exec(&billing.pool, RIVER).await;
    let web = common::test_db().await;
    let dbs = [billing, web];
    let config = config_for(&dbs, &unreachable_url());

    let out = cli::jobtop(&config, &["check", "@oncall"]);
    let text = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}{}", cli::stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "JOBTOP CRITICAL - 3 sources: 1 critical, 1 unknown, 0 warning, 1 ok"
    );
    assert!(lines[1].starts_with("billing: CRITICAL - "), "{text}");
    assert!(lines[2].starts_with("web: OK - "), "{text}");
    assert!(
        lines[3].starts_with("legacy: UNKNOWN - cannot read the database"),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "one line per source: {text}");
    assert!(!text.contains("s3cret"), "{text}");

    // Without the critical one, the unreachable one is the worst.
    let out = cli::jobtop(&config, &["check", "@web", "@legacy"]);
    assert_eq!(out.status.code(), Some(3), "{}", cli::stdout(&out));
    // Each source with its own thresholds: the same database, calm where its rules say so.
    let out = cli::jobtop(&config, &["check", "@billing", "@calm", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "CRITICAL");
    let sources = doc["sources"].as_array().unwrap();
    assert_eq!(sources[0]["source"], "billing");
    assert_eq!(sources[0]["status"], "CRITICAL");
    assert_eq!(sources[1]["source"], "billing-calm");
    assert_eq!(sources[1]["status"], "OK", "{doc}");
    // One source: today's output, unchanged.
    let out = cli::jobtop(&config, &["check", "@web"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(cli::stdout(&out).starts_with("JOBTOP OK - "));
}

#[tokio::test]
async fn snapshot_over_several_sources_lists_every_source() {
    let billing = common::test_db().await;
    exec(&billing.pool, RIVER).await;
    let web = common::test_db().await;
    let dbs = [billing, web];
    let config = config_for(&dbs, &unreachable_url());

    let out = cli::jobtop(&config, &["snapshot", "@oncall", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let sources = doc["sources"].as_array().unwrap();
    let labels: Vec<&str> = sources
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["billing", "web", "legacy"]);
    assert_eq!(sources[0]["backend"], "river");
    assert!(sources[0]["error"].is_null());
    assert_eq!(sources[0]["queues"].as_array().unwrap().len(), 4, "{doc}");
    assert_eq!(sources[1]["backend"], "native");
    assert!(
        sources[2]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
    assert!(sources[2].get("queues").is_none());
    // Each source read is today's document beside its `source` and `error`.
    for source in &sources[..2] {
        let mut one = source.clone();
        let map = one.as_object_mut().unwrap();
        map.remove("source");
        map.remove("error");
        crate::snapshot_command::assert_valid(&one);
    }

    // One source keeps today's document.
    let out = cli::jobtop(&config, &["snapshot", "@billing", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc.get("sources").is_none());
    assert_eq!(doc["backend"], "river");
}
