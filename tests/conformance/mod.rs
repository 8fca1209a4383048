//! One conformance suite every backend runs, in the spirit of River's driver test suite.
//!
//! For each schema: its fixture is loaded into a fresh test database (which holds the
//! reference schema's migrations, so `jobtop.audit` is there, and an empty `jobtop.jobs`
//! that detection sets aside), the backend is opened through detection exactly as a bare
//! URL would open it (`api::open`), and what it shows and does is checked against the
//! schema's expectation file, `expect/<schema>.toml`. Adding a backend means adding a
//! fixture, an expectation file, and its name to `conformance!` at the bottom.
//!
//! An expectation file may carry `setup`: SQL run after the fixture, for a schema as a user
//! who followed `jobtop doctor` has it (an index doctor names, say).
//!
//! It may carry `schema_from`: where the schema comes from when the fixture holds only our
//! rows, the project's real package (`"pypi:procrastinate"`: procrastinate's schema as the
//! installed PyPI package ships it, `common::pypi`), applied before the fixture. Without the
//! package the schema's tests print SKIPPED and pass, unless `JOBTOP_REQUIRE_PYPI=1`.
//!
//! What an expectation file states, and each test checks exactly ("not at least"):
//! - `overview`: the queues; per queue the counts (ready, scheduled, running, retrying,
//!   dead), exact; the oldest ready job's age (fixtures set times relative to now(), so
//!   within `age_tolerance_secs` above the figure); paused or not; throughput or not
//!   (`throughput = false`, or succeeded and failed over the last hour).
//! - `lists`: for every queue and counted state, the job list holds as many jobs as the
//!   overview counts, each of that queue and state (the point of the suite: the number on
//!   screen, the rows listed and the rows an action touches must agree); and each
//!   `[[list]]`'s ids in list order (or their count, for uuid-keyed fixtures). Every
//!   non-zero count must have its `[[list]]`.
//! - `detail`: one job of a list (`pick`, oldest first) in full: id, queue, kind, state,
//!   attempts, last error (absent: none).
//! - `running`: the longest-running job's age per queue (absent: none); the stuck list
//!   (ids, count, or `refused` with a part of the reason); the workers, and which of them
//!   are stale (`stale = "not evaluated"` where the schema keeps no heartbeats).
//! - one test per action (retry, cancel, discard, delete, reset_stuck, purge, pause,
//!   resume), each `[[action]]` of that kind on a fresh database: either `refused` (a part
//!   of the gate's reason), or `changes = N` jobs of `queue` `from` one state `to` another
//!   (or "gone"); for pause and resume the queue's `paused_after`. The plan must take
//!   exactly the jobs the list shows (job actions: the list of `queue` in `state`;
//!   reset-stuck: the stuck list by staleness alone), the run must change N, the overview
//!   and every list must move by exactly those jobs and nothing else, and one audit row
//!   must record the N.
//!
//! Where the code disagrees with what a user would expect, the expectation says what the
//! user expects and carries a `# BUG:` comment: such a test fails until the code is fixed.

mod api;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sqlx::{AssertSqlSafe, PgPool};

use jobtop::backend::{JobId, JobState};

use api::{COUNTED, Opened, Request, Row};

// ------------------------------------------------------------------ expectation files

fn default_tolerance() -> f64 {
    10.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The fixture, relative to the expectation file.
    fixture: String,
    /// `Backend::name()` of what detection opens.
    backend: String,
    /// The shipped profile detection picks, or the name of `profile_file` (mapped backends
    /// only).
    profile: Option<String>,
    /// A profile file passed as `--profile` (relative to the expectation file), for a
    /// table no shipped profile describes.
    profile_file: Option<String>,
    /// Where the schema itself comes from when the fixture holds only rows: the real
    /// package's (`"pypi:procrastinate"`, see `common::pypi`), applied before the fixture.
    schema_from: Option<String>,
    /// `schema_from`'s SQL, resolved by `check` (not part of the file).
    #[serde(skip)]
    schema_sql: Option<String>,
    /// SQL run before the payload filter's test only: values in a fixture whose payloads
    /// are empty.
    #[serde(default)]
    payload_setup: Option<String>,
    /// SQL run after the fixture (an index `jobtop doctor` names).
    setup: Option<String>,
    /// How far above its figure an age may be (the snapshot comes after the load).
    #[serde(default = "default_tolerance")]
    age_tolerance_secs: f64,
    queue: Vec<QueueExpect>,
    #[serde(default)]
    list: Vec<ListExpect>,
    detail: DetailExpect,
    stuck: StuckExpect,
    workers: WorkersExpect,
    action: Vec<ActionExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueExpect {
    name: String,
    ready: i64,
    scheduled: i64,
    running: i64,
    retrying: i64,
    dead: i64,
    /// Absent: nothing is ready.
    oldest_ready_secs: Option<f64>,
    #[serde(default)]
    paused: bool,
    throughput: Throughput,
    /// Absent: none shown.
    longest_running_secs: Option<f64>,
}

impl QueueExpect {
    fn count(&self, state: JobState) -> i64 {
        match state {
            JobState::Ready => self.ready,
            JobState::Scheduled => self.scheduled,
            JobState::Running => self.running,
            JobState::Retrying => self.retrying,
            JobState::Dead => self.dead,
            other => panic!("the overview does not count {}", other.as_str()),
        }
    }
}

/// `false` (no throughput shown), or the figures over the last hour.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Throughput {
    Shown { succeeded: u64, failed: u64 },
    Flag(bool),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListExpect {
    queue: String,
    state: JobState,
    /// In list order (oldest first).
    ids: Option<Vec<JobId>>,
    count: Option<usize>,
}

impl ListExpect {
    fn len(&self) -> usize {
        match (&self.ids, self.count) {
            (Some(ids), None) => ids.len(),
            (None, Some(n)) => n,
            _ => panic!(
                "[[list]] {} {}: give ids or count",
                self.queue,
                self.state.as_str()
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailExpect {
    queue: String,
    state: JobState,
    /// Which row of the list, oldest first.
    #[serde(default)]
    pick: usize,
    /// Absent for uuid-keyed fixtures (their ids are random).
    id: Option<JobId>,
    kind: String,
    attempts: Option<i32>,
    last_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StuckExpect {
    running_longer_than_secs: f64,
    stale_after_secs: f64,
    ids: Option<Vec<JobId>>,
    count: Option<usize>,
    /// The list is refused with a reason containing this.
    refused: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkersExpect {
    ids: Vec<String>,
    stale_after_secs: f64,
    stale: Stale,
}

/// The stale workers' ids, or "not evaluated" where no worker has a heartbeat.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stale {
    Ids(Vec<String>),
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Retry,
    Cancel,
    Discard,
    Delete,
    ResetStuck,
    Purge,
    Pause,
    Resume,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Retry,
        Kind::Cancel,
        Kind::Discard,
        Kind::Delete,
        Kind::ResetStuck,
        Kind::Purge,
        Kind::Pause,
        Kind::Resume,
    ];

    /// The name the audit log keeps.
    fn name(self) -> &'static str {
        match self {
            Kind::Retry => "retry",
            Kind::Cancel => "cancel",
            Kind::Discard => "discard",
            Kind::Delete => "delete",
            Kind::ResetStuck => "reset_stuck",
            Kind::Purge => "purge",
            Kind::Pause => "pause",
            Kind::Resume => "resume",
        }
    }

    fn is_job_action(self) -> bool {
        matches!(
            self,
            Kind::Retry | Kind::Cancel | Kind::Discard | Kind::Delete
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionExpect {
    kind: Kind,
    queue: Option<String>,
    /// Job actions: the list the action is taken from ("all that match").
    state: Option<JobState>,
    /// Reset-stuck.
    stale_after_secs: Option<f64>,
    /// Purge.
    states: Option<Vec<JobState>>,
    older_than_secs: Option<f64>,
    /// A part of the gate's reason.
    refused: Option<String>,
    changes: Option<u64>,
    from: Option<JobState>,
    /// A state, or "gone".
    to: Option<String>,
    /// Pause and resume: what the overview shows afterwards.
    paused_after: Option<bool>,
}

/// Where the jobs an action changed end up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum To {
    State(JobState),
    Gone,
}

impl ActionExpect {
    fn to(&self) -> Option<To> {
        self.to.as_deref().map(|t| match t {
            "gone" => To::Gone,
            s => To::State(JobState::parse(s).unwrap_or_else(|| panic!("unknown state {s:?}"))),
        })
    }

    fn queue_or_first(&self, expect: &Expect) -> String {
        self.queue
            .clone()
            .unwrap_or_else(|| expect.queue[0].name.clone())
    }

    /// The request this case makes; a refused case may leave out what it never gets to.
    fn request(&self, expect: &Expect) -> Request {
        let secs = |s: Option<f64>, default: f64| Duration::from_secs_f64(s.unwrap_or(default));
        match self.kind {
            k if k.is_job_action() => Request::Jobs {
                kind: k.name(),
                queue: self.queue_or_first(expect),
                state: self.state.unwrap_or(match k {
                    Kind::Cancel | Kind::Discard => JobState::Ready,
                    _ => JobState::Dead,
                }),
            },
            Kind::ResetStuck => Request::ResetStuck {
                queue: self.queue.clone(),
                stale_after: secs(self.stale_after_secs, 60.0),
            },
            Kind::Purge => Request::Purge {
                states: self
                    .states
                    .clone()
                    .unwrap_or_else(|| vec![JobState::Succeeded]),
                older_than: secs(self.older_than_secs, 3600.0),
                queue: self.queue.clone(),
            },
            Kind::Pause => Request::Pause {
                queue: self.queue_or_first(expect),
            },
            _ => Request::Resume {
                queue: self.queue_or_first(expect),
            },
        }
    }
}

impl Expect {
    fn path(schema: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance/expect")
            .join(format!("{schema}.toml"))
    }

    fn load(schema: &str) -> Expect {
        let path = Expect::path(schema);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let expect: Expect =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        expect.validate(schema);
        expect
    }

    fn fixture_path(&self, schema: &str) -> PathBuf {
        let path = Expect::path(schema);
        path.parent().expect("a folder").join(&self.fixture)
    }

    fn queue(&self, name: &str) -> &QueueExpect {
        self.queue
            .iter()
            .find(|q| q.name == name)
            .unwrap_or_else(|| panic!("no [[queue]] named {name:?}"))
    }

    /// Mistakes in the file itself, before anything runs.
    fn validate(&self, schema: &str) {
        let bad = |what: String| panic!("{schema}.toml: {what}");
        for k in Kind::ALL {
            if !self.action.iter().any(|a| a.kind == k) {
                bad(format!("no [[action]] of kind {:?}", k.name()));
            }
        }
        for a in &self.action {
            let k = a.kind.name();
            match (&a.refused, a.changes) {
                (Some(_), None) => continue,
                (None, Some(_)) => {}
                _ => bad(format!("[[action]] {k}: give either refused or changes")),
            }
            if a.queue.is_none() {
                bad(format!("[[action]] {k}: changes needs the queue"));
            }
            match a.kind {
                Kind::Pause | Kind::Resume => {
                    if a.paused_after.is_none() {
                        bad(format!("[[action]] {k}: say paused_after"));
                    }
                }
                _ => {
                    if a.from.is_none() || a.to().is_none() {
                        bad(format!("[[action]] {k}: changes needs from and to"));
                    }
                }
            }
            if a.kind.is_job_action() && a.state.is_none() {
                bad(format!("[[action]] {k}: say which list (state)"));
            }
            if a.kind == Kind::ResetStuck && a.stale_after_secs.is_none() {
                bad(format!("[[action]] {k}: say stale_after_secs"));
            }
            if a.kind == Kind::Purge && (a.states.is_none() || a.older_than_secs.is_none()) {
                bad(format!("[[action]] {k}: say states and older_than_secs"));
            }
        }
        for l in &self.list {
            let q = self.queue(&l.queue);
            if COUNTED.contains(&l.state) && q.count(l.state) != l.len() as i64 {
                bad(format!(
                    "[[list]] {} {} has {} jobs, its [[queue]] counts {}",
                    l.queue,
                    l.state.as_str(),
                    l.len(),
                    q.count(l.state)
                ));
            }
        }
        for q in &self.queue {
            for state in COUNTED {
                if q.count(state) > 0
                    && !self
                        .list
                        .iter()
                        .any(|l| l.queue == q.name && l.state == state)
                {
                    bad(format!(
                        "no [[list]] for {} {} (it counts {})",
                        q.name,
                        state.as_str(),
                        q.count(state)
                    ));
                }
            }
            if let Throughput::Flag(true) = q.throughput {
                bad(format!(
                    "queue {}: throughput = true says nothing: give succeeded and failed",
                    q.name
                ));
            }
        }
        match (&self.stuck.ids, self.stuck.count, &self.stuck.refused) {
            (Some(_), None, None) | (None, Some(_), None) | (None, None, Some(_)) => {}
            _ => bad("[stuck]: give one of ids, count, refused".into()),
        }
        if let Stale::Word(w) = &self.workers.stale
            && w != "not evaluated"
        {
            bad(format!(
                "[workers] stale: a list of ids or \"not evaluated\", not {w:?}"
            ));
        }
    }
}

// ------------------------------------------------------------------ mismatches

/// The mismatches of one test, all reported at its end.
struct Failures {
    test: String,
    context: String,
    checks: usize,
    items: Vec<String>,
}

impl Failures {
    fn new(test: String) -> Failures {
        Failures {
            test,
            context: String::new(),
            checks: 0,
            items: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            let m = message();
            self.items.push(format!("{}{m}", self.context));
        }
    }

    fn eq<T: PartialEq + Debug>(&mut self, what: &str, actual: T, expected: T) {
        self.check(actual == expected, || {
            format!("{what}: got {actual:?}, expected {expected:?}")
        });
    }

    fn fail(&mut self, message: String) {
        self.check(false, || message);
    }

    fn finish(self) {
        assert!(
            self.checks > 0,
            "{}: checked nothing (an empty expectation?)",
            self.test
        );
        if !self.items.is_empty() {
            panic!(
                "{}: {} of {} checks failed:\n  - {}",
                self.test,
                self.items.len(),
                self.checks,
                self.items.join("\n  - ")
            );
        }
    }
}

/// An age as a message says it.
fn secs(age: Option<f64>) -> String {
    match age {
        Some(s) => format!("{s:.1} s"),
        None => "none".to_string(),
    }
}

/// An age `actual` measured a moment after the fixture's `expected`.
fn age_ok(actual: Option<f64>, expected: Option<f64>, tolerance: f64) -> bool {
    match (actual, expected) {
        (None, None) => true,
        (Some(a), Some(e)) => a >= e - 1.0 && a <= e + tolerance,
        _ => false,
    }
}

// ------------------------------------------------------------------ set-up

struct Loaded {
    opened: Opened,
    _db: crate::common::TestDb,
}

async fn load_fixture(pool: &PgPool, path: &Path) {
    let sql = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
}

/// A fresh database with the schema's fixture, opened through detection.
async fn set_up(schema: &str, expect: &Expect) -> Loaded {
    let db = crate::common::test_db().await;
    if let Some(sql) = &expect.schema_sql {
        sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{schema}: the schema from schema_from fails: {e}"));
    }
    load_fixture(&db.pool, &expect.fixture_path(schema)).await;
    if let Some(sql) = &expect.setup {
        sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{schema}: the expectation's setup fails: {e}"));
    }
    let profile = expect
        .profile_file
        .as_ref()
        .map(|f| Expect::path(schema).parent().expect("a folder").join(f));
    let opened = api::open(&db.pool, profile)
        .await
        .unwrap_or_else(|e| panic!("{schema}: detection opens nothing: {e}"));
    assert_eq!(
        (opened.name.as_str(), opened.profile.as_deref()),
        (expect.backend.as_str(), expect.profile.as_deref()),
        "{schema}: detection opened another backend"
    );
    Loaded { opened, _db: db }
}

// ------------------------------------------------------------------ the parts

#[derive(Debug, Clone, Copy)]
pub enum Part {
    Overview,
    Lists,
    Detail,
    Running,
    /// `/` with a payload term finds a job by a value in its payload.
    Payload,
    Action(Kind),
}

pub async fn check(schema: &str, part: Part) {
    let mut expect = Expect::load(schema);
    if let Some(source) = &expect.schema_from {
        // Not installed: skipped (printed), or a failure under JOBTOP_REQUIRE_PYPI=1.
        let Some(sql) = crate::common::pypi::schema(source) else {
            return;
        };
        expect.schema_sql = Some(sql);
    }
    let mut f = Failures::new(format!("{schema} {part:?}"));
    match part {
        Part::Overview => overview(schema, &expect, &mut f).await,
        Part::Lists => lists(schema, &expect, &mut f).await,
        Part::Detail => detail(schema, &expect, &mut f).await,
        Part::Running => running(schema, &expect, &mut f).await,
        Part::Payload => payload_filter(schema, &expect, &mut f).await,
        Part::Action(kind) => {
            for (i, case) in expect.action.iter().filter(|a| a.kind == kind).enumerate() {
                f.context = format!("[[action]] {} #{}: ", kind.name(), i + 1);
                action(schema, &expect, case, &mut f).await;
            }
        }
    }
    f.finish();
}

async fn overview(schema: &str, expect: &Expect, f: &mut Failures) {
    let loaded = set_up(schema, expect).await;
    let ov = loaded.opened.overview().await;
    let mut names: Vec<&str> = ov.queues.iter().map(|q| q.name.as_str()).collect();
    names.sort();
    let mut want: Vec<&str> = expect.queue.iter().map(|q| q.name.as_str()).collect();
    want.sort();
    f.eq("queues", names, want);
    for e in &expect.queue {
        let Some(q) = ov.queues.iter().find(|q| q.name == e.name) else {
            continue;
        };
        let name = &e.name;
        for state in COUNTED {
            f.eq(
                &format!("{name} {}", state.as_str()),
                q.counts[&state],
                e.count(state),
            );
        }
        f.eq(&format!("{name} inexact counts"), q.inexact.clone(), vec![]);
        f.check(
            age_ok(
                q.oldest_ready_secs,
                e.oldest_ready_secs,
                expect.age_tolerance_secs,
            ),
            || {
                format!(
                    "{name} oldest ready: got {}, expected {}",
                    secs(q.oldest_ready_secs),
                    secs(e.oldest_ready_secs)
                )
            },
        );
        f.eq(&format!("{name} paused"), q.paused, e.paused);
        let throughput = match e.throughput {
            Throughput::Shown { succeeded, failed } => Some((succeeded, failed)),
            Throughput::Flag(_) => None,
        };
        f.eq(
            &format!("{name} throughput (succeeded, failed) over the last hour"),
            q.throughput,
            throughput,
        );
    }
}

async fn lists(schema: &str, expect: &Expect, f: &mut Failures) {
    let loaded = set_up(schema, expect).await;
    let o = &loaded.opened;
    // The overview's figure and the list behind it agree, for every queue and state.
    let ov = o.overview().await;
    for q in &ov.queues {
        for state in COUNTED {
            let rows = o.list(&q.name, state).await;
            let shown = q.counts[&state];
            f.check(rows.len() as i64 == shown, || {
                format!(
                    "disagreement: {} {}: the overview shows {shown}, the list holds {}",
                    q.name,
                    state.as_str(),
                    rows.len()
                )
            });
            let stray: Vec<&Row> = rows
                .iter()
                .filter(|r| r.queue != q.name || r.state != state)
                .collect();
            f.check(stray.is_empty(), || {
                format!(
                    "the list of {} {} holds other jobs: {stray:?}",
                    q.name,
                    state.as_str()
                )
            });
        }
    }
    for l in &expect.list {
        let rows = o.list(&l.queue, l.state).await;
        let what = format!("list {} {}", l.queue, l.state.as_str());
        match &l.ids {
            Some(ids) => f.eq(
                &format!("{what} ids"),
                rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
                ids.clone(),
            ),
            None => f.eq(&format!("{what} length"), rows.len(), l.len()),
        }
    }
}

/// The scalar values of a JSON payload with their paths (objects only): strings of one
/// word, and numbers.
fn payload_leaves(
    value: &serde_json::Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k.contains(['.', ':', ' ']) || k.is_empty() {
                    continue;
                }
                path.push(k.clone());
                payload_leaves(v, path, out);
                path.pop();
            }
        }
        serde_json::Value::String(s)
            if !path.is_empty()
                && !s.is_empty()
                && s.len() <= 40
                && !s.contains(char::is_whitespace) =>
        {
            out.push((path.clone(), s.clone()))
        }
        serde_json::Value::Number(n) if !path.is_empty() => out.push((path.clone(), n.to_string())),
        _ => {}
    }
}

/// Finds a job by a value of its payload: the value at its path (a string, a number, a
/// nested path where the fixture has one), and the text anywhere; a schema that keeps its
/// payload as bytes says a path needs JSON and finds the text; one that keeps none says so.
async fn payload_filter(schema: &str, expect: &Expect, f: &mut Failures) {
    use jobtop::backend::drill::{ListFilter, PayloadTerm};
    let loaded = set_up(schema, expect).await;
    if let Some(sql) = &expect.payload_setup {
        sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&loaded._db.pool)
            .await
            .unwrap_or_else(|e| panic!("{schema}: payload_setup fails: {e}"));
    }
    let o = &loaded.opened;
    let ov = o.overview().await;
    // Every (queue, state, job, leaves) with a payload, in list order.
    let mut found = Vec::new();
    let mut any_payload = false;
    for q in &ov.queues {
        for state in COUNTED {
            for row in o.list(&q.name, state).await.into_iter().take(20) {
                let Some((text, _)) = o.payload(&row.id).await else {
                    continue;
                };
                any_payload = true;
                let mut leaves = Vec::new();
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                    payload_leaves(&json, &mut Vec::new(), &mut leaves);
                }
                if !leaves.is_empty() {
                    found.push((q.name.clone(), state, row.id.clone(), leaves));
                }
            }
        }
    }
    let term = |path: &[String], value: &str| ListFilter {
        payload: Some(PayloadTerm {
            path: path.to_vec(),
            value: value.to_string(),
        }),
        ..ListFilter::default()
    };
    if !any_payload {
        let q = &ov.queues[0].name;
        let err = o
            .list_matching(q, JobState::Ready, term(&[], "x"))
            .await
            .expect_err("a schema without payloads refuses a payload filter");
        f.check(err.contains("no payload"), || format!("refusal: {err}"));
        return;
    }
    f.check(!found.is_empty(), || {
        "no job of the fixture has a JSON payload with a value to look for".to_string()
    });
    // One of each: a string, a number, a nested path, where the fixture has them.
    let mut tried: BTreeSet<&str> = BTreeSet::new();
    for (queue, state, id, leaves) in &found {
        for (path, value) in leaves {
            let sort = match (path.len() > 1, value.parse::<f64>().is_ok()) {
                (true, _) => "nested",
                (false, true) => "number",
                (false, false) => "string",
            };
            if !tried.insert(sort) {
                continue;
            }
            let what = format!(
                "{queue} {} #{id} payload.{}:{value}",
                state.as_str(),
                path.join(".")
            );
            match o.list_matching(queue, *state, term(path, value)).await {
                Ok(rows) => {
                    f.check(rows.iter().any(|r| &r.id == id), || {
                        format!("{what}: not found in {rows:?}")
                    });
                    // Every job found holds that value at that path.
                    for r in &rows {
                        let (text, _) = o.payload(&r.id).await.unwrap_or_default();
                        let at = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|j| path.iter().try_fold(j, |j, k| j.get(k).cloned()));
                        let shown = at.map(|v| match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        });
                        f.check(shown.as_deref() == Some(value.as_str()), || {
                            format!("{what}: #{} holds {shown:?}", r.id)
                        });
                    }
                }
                Err(err) => f.check(err.contains("bytes"), || format!("{what}: {err}")),
            }
            // The text anywhere finds it too, and a value no job holds finds nothing.
            match o.list_matching(queue, *state, term(&[], value)).await {
                Ok(rows) => f.check(rows.iter().any(|r| &r.id == id), || {
                    format!("{what} as text: not found in {rows:?}")
                }),
                Err(err) => f.fail(format!("{what} as text: {err}")),
            }
            let none = o
                .list_matching(queue, *state, term(path, "jobtop-no-such-value-7"))
                .await
                .unwrap_or_default();
            f.eq(&format!("{what}: a value no job holds"), none.len(), 0);
        }
    }
    eprintln!("{schema}: payload filter tried {tried:?}");
}

async fn detail(schema: &str, expect: &Expect, f: &mut Failures) {
    let loaded = set_up(schema, expect).await;
    let o = &loaded.opened;
    let d = &expect.detail;
    let rows = o.list(&d.queue, d.state).await;
    let Some(row) = rows.get(d.pick) else {
        f.fail(format!(
            "the list of {} {} has no row {} (it holds {})",
            d.queue,
            d.state.as_str(),
            d.pick,
            rows.len()
        ));
        return;
    };
    if let Some(id) = &d.id {
        f.eq("picked id", &row.id, id);
    }
    let Some(job) = o.detail(&row.id).await else {
        f.fail(format!(
            "job {} listed, but its detail finds nothing",
            row.id
        ));
        return;
    };
    f.eq("id", &job.id, &row.id);
    f.eq("queue", job.queue.as_str(), d.queue.as_str());
    f.eq("kind", job.kind.as_str(), d.kind.as_str());
    f.eq("state", job.state, d.state);
    f.eq("attempts", job.attempts, d.attempts);
    f.eq(
        "last error",
        job.last_error.as_deref(),
        d.last_error.as_deref(),
    );
}

async fn running(schema: &str, expect: &Expect, f: &mut Failures) {
    let loaded = set_up(schema, expect).await;
    let o = &loaded.opened;
    let ov = o.overview().await;
    for e in &expect.queue {
        let Some(q) = ov.queues.iter().find(|q| q.name == e.name) else {
            f.fail(format!("no queue {} in the overview", e.name));
            continue;
        };
        f.check(
            age_ok(
                q.longest_running_secs,
                e.longest_running_secs,
                expect.age_tolerance_secs,
            ),
            || {
                format!(
                    "{} longest running: got {}, expected {}",
                    e.name,
                    secs(q.longest_running_secs),
                    secs(e.longest_running_secs)
                )
            },
        );
    }

    let s = &expect.stuck;
    let stuck = o
        .stuck(
            Duration::from_secs_f64(s.running_longer_than_secs),
            Duration::from_secs_f64(s.stale_after_secs),
        )
        .await;
    match (stuck, &s.refused) {
        (Ok(rows), None) => {
            let ids: Vec<JobId> = rows.iter().map(|r| r.id.clone()).collect();
            match &s.ids {
                Some(want) => f.eq("stuck list ids", ids, want.clone()),
                None => f.eq("stuck list length", ids.len(), s.count.unwrap_or(0)),
            }
            let stray: Vec<&Row> = rows
                .iter()
                .filter(|r| r.state != JobState::Running)
                .collect();
            f.check(stray.is_empty(), || {
                format!("the stuck list holds jobs that do not run: {stray:?}")
            });
        }
        (Err(reason), Some(why)) => f.check(reason.contains(why.as_str()), || {
            format!("stuck list refused with {reason:?}, expected {why:?}")
        }),
        (Ok(rows), Some(why)) => f.fail(format!(
            "stuck list shows {} jobs; expected a refusal with {why:?}",
            rows.len()
        )),
        (Err(reason), None) => f.fail(format!("stuck list refused: {reason}")),
    }

    let w = &expect.workers;
    let mut ids: Vec<&str> = ov.workers.iter().map(|w| w.id.as_str()).collect();
    ids.sort();
    let mut want: Vec<&str> = w.ids.iter().map(String::as_str).collect();
    want.sort();
    f.eq("workers", ids, want);
    match &w.stale {
        Stale::Word(_) => {
            let beating: Vec<&str> = ov
                .workers
                .iter()
                .filter(|w| w.heartbeat_age_secs.is_some())
                .map(|w| w.id.as_str())
                .collect();
            f.check(beating.is_empty(), || {
                format!("staleness expected not evaluated, but {beating:?} have heartbeats")
            });
        }
        Stale::Ids(want) => {
            // A list says staleness is evaluated: an empty one is no "not evaluated".
            f.check(
                ov.workers.iter().any(|w| w.heartbeat_age_secs.is_some()),
                || "no worker has a heartbeat: staleness is \"not evaluated\"".to_string(),
            );
            let mut stale: Vec<&str> = ov
                .workers
                .iter()
                .filter(|x| x.heartbeat_age_secs.is_some_and(|a| a > w.stale_after_secs))
                .map(|x| x.id.as_str())
                .collect();
            stale.sort();
            let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
            want.sort();
            f.eq("stale workers", stale, want);
        }
    }
}

// ------------------------------------------------------------------ actions

/// A "never" for the stuck list's running-too-long term: only staleness (the schema's sign
/// of life, as reset-stuck judges it) decides.
const NEVER: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Everything an action could move: the overview's counts, every list's ids (every
/// state, finished ones included), which queues are paused.
#[derive(Debug, Clone, Default)]
struct Census {
    counts: BTreeMap<(String, JobState), i64>,
    lists: BTreeMap<(String, JobState), BTreeSet<JobId>>,
    paused: BTreeMap<String, bool>,
}

async fn census(o: &Opened) -> Census {
    let ov = o.overview().await;
    let mut c = Census::default();
    for q in &ov.queues {
        for state in COUNTED {
            c.counts.insert((q.name.clone(), state), q.counts[&state]);
        }
        for state in JobState::ALL {
            let ids = o.list(&q.name, state).await.into_iter().map(|r| r.id);
            c.lists.insert((q.name.clone(), state), ids.collect());
        }
        c.paused.insert(q.name.clone(), q.paused);
    }
    c
}

/// Reports every key whose value differs, a missing key read as `missing`.
fn diff<K: Ord + Clone + Debug, V: PartialEq + Debug + Clone>(
    f: &mut Failures,
    what: &str,
    actual: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
    missing: V,
) {
    let keys: BTreeSet<&K> = actual.keys().chain(expected.keys()).collect();
    for k in keys {
        let a = actual.get(k).cloned().unwrap_or_else(|| missing.clone());
        let e = expected.get(k).cloned().unwrap_or_else(|| missing.clone());
        f.eq(&format!("after the action, {what} {k:?}"), a, e);
    }
}

async fn action(schema: &str, expect: &Expect, case: &ActionExpect, f: &mut Failures) {
    let loaded = set_up(schema, expect).await;
    let o = &loaded.opened;
    let request = case.request(expect);
    let before = census(o).await;
    let audit_before = o.audit().await.len();
    let planned = o.plan(&request).await;
    let planned = match (planned, &case.refused) {
        (Err(reason), Some(why)) => {
            f.check(reason.contains(why.as_str()), || {
                format!("refused with {reason:?}, expected a reason containing {why:?}")
            });
            return;
        }
        (Ok(p), Some(why)) => {
            f.fail(format!(
                "planned {} jobs, expected a refusal containing {why:?}",
                p.eligible()
            ));
            return;
        }
        (Err(reason), None) => {
            f.fail(format!("refused ({reason}), expected it to go through"));
            return;
        }
        (Ok(p), None) => p,
    };
    let n = case.changes.expect("validated");
    let queue = case.queue.clone().expect("validated");
    let planned_ids: BTreeSet<JobId> = planned.ids().into_iter().collect();

    // What the action takes is what the operator was shown.
    match &request {
        Request::Jobs { state, .. } => {
            let listed = before
                .lists
                .get(&(queue.clone(), *state))
                .cloned()
                .unwrap_or_default();
            f.check(planned_ids == listed, || {
                format!(
                    "disagreement: the plan takes {planned_ids:?}, the list of {queue} {} shows {listed:?}",
                    state.as_str()
                )
            });
            if let Some(shown) = before.counts.get(&(queue.clone(), *state)) {
                f.check(planned.eligible() == *shown as u64, || {
                    format!(
                        "disagreement: the plan takes {} jobs, the overview shows {shown} {queue} {}",
                        planned.eligible(),
                        state.as_str()
                    )
                });
            }
        }
        Request::ResetStuck { stale_after, .. } => match o.stuck(NEVER, *stale_after).await {
            Ok(rows) => {
                let listed: BTreeSet<JobId> = rows
                    .into_iter()
                    .filter(|r| r.queue == queue)
                    .map(|r| r.id)
                    .collect();
                f.check(planned_ids == listed, || {
                    format!(
                        "disagreement: reset-stuck takes {planned_ids:?}, the stuck list (stale \
                         after {}s) shows {listed:?} in {queue}",
                        stale_after.as_secs_f64()
                    )
                });
            }
            Err(reason) => f.fail(format!(
                "disagreement: reset-stuck takes {planned_ids:?}, the stuck list cannot show \
                 them: {reason}"
            )),
        },
        _ => {}
    }
    f.eq("jobs planned", planned.eligible(), n);

    let ran = match o.run(&planned).await {
        Ok(ran) => ran,
        Err(reason) => {
            f.fail(format!("the run was refused: {reason}"));
            return;
        }
    };
    f.eq("jobs changed", ran.changed, n);
    if n > 0 {
        f.check(ran.outcome == "ok", || {
            format!("outcome {:?}: {}", ran.outcome, ran.summary)
        });
    }

    // The overview and the lists moved by exactly the changed jobs.
    let after = census(o).await;
    let mut want = before.clone();
    let moved = |want: &mut Census, state: JobState, sign: i64| {
        if let Some(c) = want.counts.get_mut(&(queue.clone(), state)) {
            *c += sign * n as i64;
        } else if COUNTED.contains(&state) {
            want.counts.insert((queue.clone(), state), sign * n as i64);
        }
        let list = want.lists.entry((queue.clone(), state)).or_default();
        if sign < 0 {
            list.retain(|id| !planned_ids.contains(id));
        } else {
            list.extend(planned_ids.iter().cloned());
        }
    };
    let counts_only = planned_ids.len() as u64 != n;
    if let Some(from) = case.from {
        moved(&mut want, from, -1);
    }
    if let Some(To::State(to)) = case.to() {
        moved(&mut want, to, 1);
    }
    if let Some(p) = case.paused_after {
        want.paused.insert(queue.clone(), p);
    }
    diff(f, "count", &after.counts, &want.counts, 0);
    diff(f, "paused", &after.paused, &want.paused, false);
    if counts_only {
        // A purge names no ids: compare how many each list holds.
        let len = |c: &Census| -> BTreeMap<(String, JobState), i64> {
            c.lists
                .iter()
                .map(|(k, v)| (k.clone(), v.len() as i64))
                .collect()
        };
        let mut want_len = len(&before);
        if let Some(from) = case.from {
            *want_len.entry((queue.clone(), from)).or_default() -= n as i64;
        }
        if let Some(To::State(to)) = case.to() {
            *want_len.entry((queue.clone(), to)).or_default() += n as i64;
        }
        diff(f, "list length", &len(&after), &want_len, 0);
    } else {
        diff(f, "list", &after.lists, &want.lists, BTreeSet::new());
    }

    // One audit row, with the count.
    let audit = o.audit().await;
    if n == 0 {
        f.eq("new audit rows", audit.len() - audit_before, 0);
        return;
    }
    f.eq("new audit rows", audit.len() - audit_before, 1);
    if let Some(row) = audit.first() {
        f.eq("audit action", row.action.as_str(), case.kind.name());
        f.eq("audit count", row.count, Some(n as i64));
        f.eq("audit queue", row.queue.as_deref(), Some(queue.as_str()));
        f.eq("audit outcome", row.outcome.as_str(), "ok");
    }
}

// ------------------------------------------------------------------ the schemas

/// One module of tests per schema: `conformance!(river, ...)`.
macro_rules! conformance {
    ($($schema:ident),* $(,)?) => {
        /// Every schema the suite runs.
        const SCHEMAS: &[&str] = &[$(stringify!($schema)),*];

        $(
            mod $schema {
                use super::{Kind, Part, check};

                const SCHEMA: &str = stringify!($schema);

                #[tokio::test]
                async fn overview() {
                    check(SCHEMA, Part::Overview).await;
                }

                #[tokio::test]
                async fn lists() {
                    check(SCHEMA, Part::Lists).await;
                }

                #[tokio::test]
                async fn detail() {
                    check(SCHEMA, Part::Detail).await;
                }

                #[tokio::test]
                async fn running() {
                    check(SCHEMA, Part::Running).await;
                }

                #[tokio::test]
                async fn payload_filter() {
                    check(SCHEMA, Part::Payload).await;
                }

                #[tokio::test]
                async fn action_retry() {
                    check(SCHEMA, Part::Action(Kind::Retry)).await;
                }

                #[tokio::test]
                async fn action_cancel() {
                    check(SCHEMA, Part::Action(Kind::Cancel)).await;
                }

                #[tokio::test]
                async fn action_discard() {
                    check(SCHEMA, Part::Action(Kind::Discard)).await;
                }

                #[tokio::test]
                async fn action_delete() {
                    check(SCHEMA, Part::Action(Kind::Delete)).await;
                }

                #[tokio::test]
                async fn action_reset_stuck() {
                    check(SCHEMA, Part::Action(Kind::ResetStuck)).await;
                }

                #[tokio::test]
                async fn action_purge() {
                    check(SCHEMA, Part::Action(Kind::Purge)).await;
                }

                #[tokio::test]
                async fn action_pause() {
                    check(SCHEMA, Part::Action(Kind::Pause)).await;
                }

                #[tokio::test]
                async fn action_resume() {
                    check(SCHEMA, Part::Action(Kind::Resume)).await;
                }
            }
        )*
    };
}

conformance! {
    native,
    river,
    oban,
    pgboss,
    graphile,
    procrastinate,
    pgqueuer,
    pgmq,
    solidqueue,
    goodjob,
    job_queue,
    jobforge,
    cepro,
    homegrown,
}

/// Every expectation file is registered above, and every shipped fixture has one.
#[test]
fn every_fixture_has_an_expectation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = |dir: &Path, ext: &str| -> BTreeSet<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .collect()
    };
    let registered: BTreeSet<PathBuf> = SCHEMAS.iter().map(|s| Expect::path(s)).collect();
    let on_disk = files(&root.join("tests/conformance/expect"), "toml");
    assert_eq!(
        on_disk, registered,
        "expectation files and conformance!(...) differ"
    );
    let used: BTreeSet<PathBuf> = SCHEMAS
        .iter()
        .map(|s| {
            let p = Expect::load(s).fixture_path(s);
            p.canonicalize()
                .unwrap_or_else(|e| panic!("{s}: fixture {}: {e}", p.display()))
        })
        .collect();
    for fixture in files(&root.join("tests/fixtures"), "sql") {
        let fixture = fixture.canonicalize().expect("a fixture path");
        assert!(
            used.contains(&fixture),
            "{} has no expectation file in tests/conformance/expect",
            fixture.display()
        );
    }
}
