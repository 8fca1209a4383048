//! Figures a schema cannot count per queue on its own indexes, counted for every queue in
//! one pass on a slower clock instead of once per queue on every poll.
//!
//! Where no index holds a pile by queue (procrastinate's failed jobs, PgQueuer's held
//! failures, good_job's running and discarded jobs as their projects ship them, Solid
//! Queue's failed executions, which carry no queue at all), a
//! per-queue count reads each queue's rows, finished ones included, on every poll: minutes
//! a poll at 10 M rows. One `GROUP BY queue` pass reads them once, and is read again every
//! `Tally::every`. Between passes its figures are marked estimated ("~", and `estimated` in
//! the JSON): they were exact when counted, not now.
//!
//! A pass is never paid twice for one database: each one is kept in jobtop's side table
//! `jobtop.tallies` (where `jobtop migrate --side-tables` installed it and the session may
//! write), and a monitor without a pass of its own (a new one, or a new leader of the
//! shared snapshot) starts from the stored one. Once a monitor holds a pass, the next one
//! is taken in the background, on a session of its own, while the polls go on showing the
//! last one; so a pass as slow as a read of the whole table never holds up a poll (nor the
//! shared snapshot's leader). Where no pass is at hand at all and the pass would read a big
//! table (`Tally::estimate_first`), the first poll shows the planner's estimate of the pile
//! instead (`pile_estimates`), until the pass lands.
//!
//! A pass taken in this poll is exact. An action anyone took since a pass (an audit row
//! newer than it) makes the next poll count again, in the poll, so a figure never
//! contradicts an action; a pile too slow to count in a poll is then estimated, except in
//! the queues acted on, which `pile_estimates` counts exactly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgPool, Postgres, Row, Transaction};

use crate::backend::doctor::Probe;
use crate::backend::engine::states::{Range, StateMap};
use crate::backend::model::{Count, JobState, QueueStats};
use crate::backend::pg::catalog::TableInfo;

/// One pass, and how often it is taken.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Columns: name, then any of ready, scheduled, retrying, running, dead (bigint),
    /// oldest_ready_at and oldest_running_at (timestamptz). Each column present replaces the queues statement's
    /// figure; `also_<count>` (say `also_running`) is added to it instead. A queue only the
    /// pass knows is added.
    pub sql: Arc<str>,
    pub every: Duration,
    /// The pass reads the whole table (no index holds its rows) and its only pile is the
    /// dead one: where no pass is at hand and the table is big (`BIG_TABLE_ROWS`), a poll
    /// shows the planner's estimate of each queue's dead pile rather than wait for it.
    pub estimate_first: bool,
    /// The pass reads every row of a partial index's predicate, where a bitmap scan reads
    /// each heap page once: planned with plain index scans off (`enable_indexscan`, for
    /// this statement only). Where every job has one priority, the planner takes an index
    /// led by it for one in table order and walks it instead, a buffer per row (good_job's
    /// unfinished jobs at 10 M rows: 300,720 buffers and 1.5 s against 15,800 and 0.45 s).
    pub bitmap_scan: bool,
}

/// How doctor's probe of a pass is named (the bench tells it from the poll's statements).
pub const TALLY_PROBE: &str = "slow pass";

/// A table with fewer rows (the planner's figure) is read whole in about a fifth of a
/// second: its pass is taken in the poll even when none is at hand.
const BIG_TABLE_ROWS: f64 = 200_000.0;

/// A pass older than this many of its intervals is not shown while the next is taken.
const STAND_IN_INTERVALS: u32 = 4;

/// The longest a pass taken in the background may run (its own session's timeout; the
/// monitor's statement timeout, 5 s by default, bounds the polls, not this).
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(600);

/// How often a pass over `table` is taken: `every`, or in every poll while the table is
/// small (`TableInfo::is_small`), where reading it costs less than figures marked "~".
pub fn every_unless_small(table: &TableInfo, every: Duration) -> Duration {
    if table.is_small() {
        Duration::ZERO
    } else {
        every
    }
}

/// How often the jobs due later are counted (`Tally::due_later`).
pub const DUE_LATER_EVERY: Duration = Duration::from_secs(30);

impl Tally {
    /// The scheduled and retrying jobs of every queue (`queue`, an expression over `from`'s
    /// rows) counted in one read of them, every `DUE_LATER_EVERY` (every poll while `table`
    /// is small): the ranges of the state map's two buckets that `keep` accepts (a schema
    /// leaves out a range no index finds). `None` where there are none.
    ///
    /// Where a schema tells these jobs from ready ones only by a due time in the future
    /// (`status = 'queued' AND run_at > now()`), the planner's estimate of one queue's
    /// pile takes that time as unrelated to the status and the queue: at 10 M rows it put
    /// a profile's pile of 14,793 at ~167, and at 2 M rows pg-boss's 1,737 at "100+".
    /// Counted per queue to the pile cap and estimated past it, such a pile reads wrong;
    /// counted here it is exact when taken and "~" until the next pass.
    pub fn due_later(
        states: &StateMap,
        keep: impl Fn(&Range) -> bool,
        queue: &str,
        from: &str,
        table: &TableInfo,
    ) -> Option<Tally> {
        let piles: Vec<(JobState, String)> = [JobState::Scheduled, JobState::Retrying]
            .into_iter()
            .filter_map(|state| {
                let ranges: Vec<String> = (states.list(state)?.ranges.iter())
                    .filter(|r| keep(r))
                    .map(|r| format!("({})", r.cond))
                    .collect();
                (!ranges.is_empty()).then(|| (state, ranges.join(" OR ")))
            })
            .collect();
        if piles.is_empty() {
            return None;
        }
        let columns: Vec<String> = piles
            .iter()
            .map(|(state, c)| format!("count(*) FILTER (WHERE {c}) AS {}", state.as_str()))
            .collect();
        let any: Vec<String> = piles.iter().map(|(_, c)| format!("({c})")).collect();
        Some(Tally {
            sql: Arc::from(format!(
                "SELECT {queue}::text AS name, {columns} FROM {from} WHERE {any} GROUP BY 1",
                columns = columns.join(", "),
                any = any.join(" OR "),
            )),
            every: every_unless_small(table, DUE_LATER_EVERY),
            estimate_first: false,
            bitmap_scan: false,
        })
    }

    /// The pass as doctor explains it and the bench times it.
    pub fn probe(&self, fix: Option<String>) -> Probe {
        let every = if self.every.is_zero() {
            "every poll while the table is small".to_string()
        } else {
            format!("every {} s", self.every.as_secs())
        };
        Probe {
            name: format!("{TALLY_PROBE} ({every})"),
            sql: self.sql.clone(),
            binds_cap: false,
            fix,
        }
    }
}

const COUNTS: [&str; 5] = ["ready", "scheduled", "retrying", "running", "dead"];

/// Where `Row_::oldest` keeps each time.
const TIMES: [&str; 2] = ["oldest_ready_at", "oldest_running_at"];

/// One queue's figures from a pass, as kept in memory and in `jobtop.tallies`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Row_ {
    name: String,
    /// (index in `COUNTS`, value); the `also_` columns at `COUNTS.len()` + index.
    counts: Vec<(usize, i64)>,
    /// (index in `TIMES`, value), for the time columns the pass has.
    oldest: Vec<(usize, Option<DateTime<Utc>>)>,
}

impl Row_ {
    fn oldest(&self, i: usize) -> Option<Option<DateTime<Utc>>> {
        self.oldest.iter().find(|(j, _)| *j == i).map(|(_, at)| *at)
    }
}

#[derive(Debug, Clone)]
struct Taken {
    /// When the pass started, on this machine's clock (its age says when it is due).
    at: Instant,
    /// When it started, on the database's clock (actions are compared with it).
    db_at: DateTime<Utc>,
    rows: Vec<Row_>,
}

#[derive(Debug, Default)]
struct Slot {
    taken: Option<Taken>,
    /// A pass is being taken in the background.
    running: bool,
    /// When a background pass last failed: the next waits an interval.
    failed_at: Option<Instant>,
    /// Taken in a poll, not yet written to `jobtop.tallies`.
    unstored: bool,
}

/// The last pass of each of a backend's tallies, by its place in `Statements::tallies`.
#[derive(Debug, Default)]
pub struct TallyCache {
    slots: Arc<Mutex<Vec<Slot>>>,
    /// Whether `jobtop.tallies` can be read: unknown until the first poll looks.
    store: Mutex<Option<bool>>,
    /// Writing to it failed once (a read-only session, no privilege): not tried again.
    store_refused: Arc<AtomicBool>,
    /// Polls so far: a background pass starts from the second one, so that a command that
    /// polls once (`check`, `snapshot`) leaves none running behind it.
    polls: AtomicU64,
}

impl TallyCache {
    /// Counts again on the next poll.
    pub fn forget(&self) {
        let mut slots = lock(&self.slots);
        for slot in slots.iter_mut() {
            slot.taken = None;
        }
    }

    fn taken(&self, i: usize) -> Option<Taken> {
        lock(&self.slots).get(i).and_then(|s| s.taken.clone())
    }

    fn keep(&self, i: usize, taken: Taken, unstored: bool) {
        keep(&self.slots, i, taken, unstored);
    }
}

fn lock(slots: &Mutex<Vec<Slot>>) -> std::sync::MutexGuard<'_, Vec<Slot>> {
    slots.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps a pass unless a newer one is kept already (a background pass that landed after
/// a pass taken in a poll).
fn keep(slots: &Mutex<Vec<Slot>>, i: usize, taken: Taken, unstored: bool) {
    let mut all = lock(slots);
    if all.len() <= i {
        all.resize_with(i + 1, Slot::default);
    }
    let slot = &mut all[i];
    if slot.taken.as_ref().is_some_and(|t| t.db_at > taken.db_at) {
        return;
    }
    slot.taken = Some(taken);
    slot.unstored = unstored;
}

/// Whether someone acted on the jobs since `at` (an audit row newer than it).
const LAST_ACTION_SQL: &str = "SELECT max(a.at) FROM jobtop.audit a";

/// Whether this session can read stored passes.
const STORE_FACTS_SQL: &str = "SELECT CASE WHEN to_regclass('jobtop.tallies') IS NULL THEN false \
     ELSE has_table_privilege('jobtop.tallies', 'SELECT') END";

/// The stored pass of a statement (`$2`, its text) for a source (`$1`).
const STORED_SQL: &str = "SELECT t.taken_at, t.rows::text FROM jobtop.tallies t \
     WHERE t.source = $1 AND t.statement = md5($2)";

/// Stores a pass, unless a newer one is stored already.
const STORE_SQL: &str = "INSERT INTO jobtop.tallies AS t (source, statement, taken_at, rows) \
     VALUES ($1, md5($2), $3, $4::json) \
     ON CONFLICT (source, statement) DO UPDATE SET taken_at = excluded.taken_at, rows = excluded.rows \
     WHERE t.taken_at < excluded.taken_at";

/// Forgets a source's stored passes (the benchmark's first monitor starts from none).
pub async fn forget_stored(pool: &PgPool, source: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM jobtop.tallies WHERE source = $1")
        .bind(source)
        .execute(pool)
        .await?;
    Ok(())
}

/// The planner's row count of a table (`$1`, a relation name).
const TABLE_ROWS_SQL: &str = "SELECT coalesce((SELECT c.reltuples::float8 FROM pg_class c \
     WHERE c.oid = to_regclass($1)), 0)";

/// What a poll's passes need besides the transaction.
pub struct PollContext<'a> {
    /// The monitor's pool: background passes and stores take a session from it.
    pub pool: &'a PgPool,
    /// `history::source_key`: which queue system and schema the stored passes belong to.
    pub source: &'a str,
    /// When someone last acted, as `jobtop.audit` tells.
    pub actions: &'a LastAction,
    /// The jobs table whose size decides `Tally::estimate_first` (`None`: not one table).
    pub table: Option<&'a str>,
    pub db_now: DateTime<Utc>,
}

/// What `apply` left for the piles' estimates.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The dead piles await their pass: each queue's is 0 and capped, for
    /// `pile_estimates::past_the_cap` to estimate (or count, in a queue acted on), then
    /// `settle_pending`.
    pub dead_pending: bool,
}

/// Puts each pass's figures into `queues`: the pass in memory while it is current, else
/// the newer of it and the stored one while neither is too old (a new pass taken in the
/// background meanwhile), else a pass taken now, or for a slow pass over a big table the
/// planner's estimate.
pub async fn apply(
    tx: &mut Transaction<'static, Postgres>,
    tallies: &[Tally],
    cache: &TallyCache,
    ctx: &PollContext<'_>,
    queues: &mut Vec<QueueStats>,
) -> anyhow::Result<Applied> {
    let polled_before = cache.polls.fetch_add(1, Ordering::Relaxed) > 0;
    let mut applied = Applied::default();
    if tallies.is_empty() {
        return Ok(applied);
    }
    let store = {
        let known = *cache.store.lock().unwrap_or_else(|e| e.into_inner());
        match known {
            Some(known) => known,
            None => {
                let can: bool = sqlx::query_scalar(STORE_FACTS_SQL)
                    .fetch_one(&mut **tx)
                    .await?;
                *cache.store.lock().unwrap_or_else(|e| e.into_inner()) = Some(can);
                can
            }
        }
    };
    for (i, tally) in tallies.iter().enumerate() {
        if tally.every.is_zero() {
            let rows = read(tx, &tally.sql, tally.bitmap_scan).await?;
            merge(queues, &rows, false);
            continue;
        }
        let memory = cache.taken(i);
        if let Some(t) = memory.as_ref().filter(|t| t.at.elapsed() < tally.every)
            && !ctx.actions.since(tx, t.db_at).await?
        {
            merge(queues, &t.rows, true);
            continue;
        }
        // Due, or older than an action: the newer of the pass in memory and the stored one.
        let stored = if store {
            stored(tx, ctx, tally).await?
        } else {
            None
        };
        let last = match (memory, stored) {
            (Some(m), Some(s)) => Some(if s.db_at > m.db_at { s } else { m }),
            (m, s) => m.or(s),
        };
        let last = match last {
            Some(t) if !ctx.actions.since(tx, t.db_at).await? => Some(t),
            _ => None,
        };
        if let Some(t) = last {
            let age = t.at.elapsed();
            if age < tally.every * STAND_IN_INTERVALS {
                merge(queues, &t.rows, true);
                cache.keep(i, t, false);
                if age >= tally.every && polled_before {
                    in_background(cache, i, tally, ctx, store);
                }
                continue;
            }
        }
        if tally.estimate_first && big(tx, ctx.table).await? {
            pending(queues);
            applied.dead_pending = true;
            if polled_before {
                in_background(cache, i, tally, ctx, store);
            }
            continue;
        }
        let rows = read(tx, &tally.sql, tally.bitmap_scan).await?;
        merge(queues, &rows, false);
        cache.keep(
            i,
            Taken {
                at: Instant::now(),
                db_at: ctx.db_now,
                rows,
            },
            store,
        );
    }
    Ok(applied)
}

/// When anyone last acted on the jobs (the newest audit row), read once a poll when the
/// first kept figure (the queue list, a pass) asks whether it is older than an action,
/// rather than once per figure.
pub struct LastAction {
    /// `jobtop.audit` exists to tell.
    audit: bool,
    /// `None` until read; then the newest row's time, `None` in an empty table.
    newest: Mutex<Option<Option<DateTime<Utc>>>>,
}

impl LastAction {
    pub fn new(audit: bool) -> LastAction {
        LastAction {
            audit,
            newest: Mutex::new(None),
        }
    }

    /// Whether anyone acted since `at` (false where there is no audit table).
    pub async fn since(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        if !self.audit {
            return Ok(false);
        }
        let read = *self.newest.lock().unwrap_or_else(|e| e.into_inner());
        let newest = match read {
            Some(newest) => newest,
            None => {
                let newest: Option<DateTime<Utc>> = sqlx::query_scalar(LAST_ACTION_SQL)
                    .fetch_one(&mut **tx)
                    .await?;
                *self.newest.lock().unwrap_or_else(|e| e.into_inner()) = Some(newest);
                newest
            }
        };
        Ok(newest.is_some_and(|newest| newest > at))
    }
}

/// Whether the jobs table is too big to read whole in a poll.
async fn big(tx: &mut Transaction<'static, Postgres>, table: Option<&str>) -> anyhow::Result<bool> {
    let Some(table) = table else {
        return Ok(false);
    };
    let rows: f64 = sqlx::query_scalar(TABLE_ROWS_SQL)
        .bind(table)
        .fetch_one(&mut **tx)
        .await?;
    Ok(rows >= BIG_TABLE_ROWS)
}

/// The pass another monitor stored, dated on this machine's clock by its age.
async fn stored(
    tx: &mut Transaction<'static, Postgres>,
    ctx: &PollContext<'_>,
    tally: &Tally,
) -> anyhow::Result<Option<Taken>> {
    let row: Option<(DateTime<Utc>, String)> = sqlx::query_as(STORED_SQL)
        .bind(ctx.source)
        .bind(tally.sql.as_ref())
        .fetch_optional(&mut **tx)
        .await?;
    let Some((db_at, json)) = row else {
        return Ok(None);
    };
    let Ok(rows) = serde_json::from_str::<Vec<Row_>>(&json) else {
        // Written by another version of jobtop: as if none.
        return Ok(None);
    };
    let age = (ctx.db_now - db_at).to_std().unwrap_or_default();
    let Some(at) = Instant::now().checked_sub(age) else {
        return Ok(None);
    };
    Ok(Some(Taken { at, db_at, rows }))
}

/// Takes pass `i` on a session of its own unless one is running (or failed within an
/// interval), keeps it, and stores it.
fn in_background(cache: &TallyCache, i: usize, tally: &Tally, ctx: &PollContext<'_>, store: bool) {
    {
        let mut all = lock(&cache.slots);
        if all.len() <= i {
            all.resize_with(i + 1, Slot::default);
        }
        let slot = &mut all[i];
        if slot.running || slot.failed_at.is_some_and(|at| at.elapsed() < tally.every) {
            return;
        }
        slot.running = true;
    }
    let slots = cache.slots.clone();
    let refused = cache.store_refused.clone();
    let pool = ctx.pool.clone();
    let source = ctx.source.to_string();
    let sql = tally.sql.clone();
    let bitmap_scan = tally.bitmap_scan;
    // Where passes are shared, one monitor takes each while the others wait for it.
    let shared = store && !refused.load(Ordering::Relaxed);
    tokio::spawn(async move {
        let at = Instant::now();
        let key = shared.then_some(source.as_str());
        let taken = pass(&pool, &sql, bitmap_scan, key).await;
        let done = {
            let mut all = lock(&slots);
            let slot = &mut all[i];
            slot.running = false;
            match &taken {
                Ok(Some(_)) => slot.failed_at = None,
                // Another monitor's pass: stored when it lands, read by the next polls.
                Ok(None) | Err(_) => slot.failed_at = Some(Instant::now()),
            }
            drop(all);
            taken
        };
        match done {
            Ok(None) => {}
            Ok(Some((db_at, rows))) => {
                if store && !refused.load(Ordering::Relaxed) {
                    write(&pool, &source, &sql, db_at, &rows, &refused).await;
                }
                keep(&slots, i, Taken { at, db_at, rows }, false);
            }
            Err(err) => tracing::warn!("a background count of {source} failed: {err:#}"),
        }
    });
}

/// Takes the pass of a statement (`$2`) for a source (`$1`) unless another session is
/// taking it: the lock ends with the transaction.
const PASS_LOCK_SQL: &str = "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || md5($2), 0))";

/// A pass in its own read-only transaction, on a session of its own (not one of the
/// pool's, which the polls and views need meanwhile), with a timeout of its own. With
/// `shared` (the source, where passes are stored), `None` when another monitor is taking
/// the same pass: twenty monitors due at once read the table once, not twenty times.
async fn pass(
    pool: &PgPool,
    sql: &Arc<str>,
    bitmap_scan: bool,
    shared: Option<&str>,
) -> anyhow::Result<Option<(DateTime<Utc>, Vec<Row_>)>> {
    let mut session = pool.connect_options().connect().await?;
    let mut tx = session
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "SET LOCAL statement_timeout = {}",
        BACKGROUND_TIMEOUT.as_millis()
    )))
    .execute(&mut *tx)
    .await?;
    if let Some(source) = shared {
        let ours: bool = sqlx::query_scalar(PASS_LOCK_SQL)
            .bind(source)
            .bind(sql.as_ref())
            .fetch_one(&mut *tx)
            .await?;
        if !ours {
            tx.rollback().await?;
            let _ = session.close().await;
            return Ok(None);
        }
    }
    let db_at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let rows = read(&mut tx, sql, bitmap_scan).await?;
    tx.commit().await?;
    let _ = session.close().await;
    Ok(Some((db_at, rows)))
}

/// Writes the passes this monitor took in its polls to `jobtop.tallies`, after the poll's
/// read-only transaction. A session that may not write says so once, and is not asked
/// again.
pub async fn store_taken(pool: &PgPool, source: &str, tallies: &[Tally], cache: &TallyCache) {
    if cache.store_refused.load(Ordering::Relaxed) {
        return;
    }
    let unstored: Vec<(usize, Taken)> = {
        let mut all = lock(&cache.slots);
        all.iter_mut()
            .enumerate()
            .filter(|(_, s)| s.unstored)
            .filter_map(|(i, s)| {
                s.unstored = false;
                s.taken.clone().map(|t| (i, t))
            })
            .collect()
    };
    for (i, taken) in unstored {
        if let Some(tally) = tallies.get(i) {
            write(
                pool,
                source,
                &tally.sql,
                taken.db_at,
                &taken.rows,
                &cache.store_refused,
            )
            .await;
        }
    }
}

async fn write(
    pool: &PgPool,
    source: &str,
    sql: &Arc<str>,
    db_at: DateTime<Utc>,
    rows: &[Row_],
    refused: &AtomicBool,
) {
    let json = match serde_json::to_string(rows) {
        Ok(json) => json,
        Err(err) => return tracing::warn!("cannot store a count: {err}"),
    };
    let written = sqlx::query(STORE_SQL)
        .bind(source)
        .bind(sql.as_ref())
        .bind(db_at)
        .bind(json)
        .execute(pool)
        .await;
    if let Err(err) = written {
        tracing::info!("counts are not shared with other monitors (jobtop.tallies): {err}");
        refused.store(true, Ordering::Relaxed);
    }
}

/// Plain index scans off for the rest of the transaction, returning what they were.
const INDEX_SCANS_OFF_SQL: &str = "SELECT current_setting('enable_indexscan'), \
     set_config('enable_indexscan', 'off', true)";

/// Puts the setting back (`$1`, as `INDEX_SCANS_OFF_SQL` found it).
const INDEX_SCANS_BACK_SQL: &str = "SELECT set_config('enable_indexscan', $1, true)";

async fn read(
    tx: &mut PgConnection,
    sql: &Arc<str>,
    bitmap_scan: bool,
) -> anyhow::Result<Vec<Row_>> {
    let was = if bitmap_scan {
        let (was, _): (String, String) = sqlx::query_as(INDEX_SCANS_OFF_SQL)
            .fetch_one(&mut *tx)
            .await?;
        Some(was)
    } else {
        None
    };
    let rows = sqlx::query(AssertSqlSafe(sql.clone()))
        .fetch_all(&mut *tx)
        .await?;
    if let Some(was) = was {
        // The poll's later statements are planned as before.
        sqlx::query(INDEX_SCANS_BACK_SQL)
            .bind(was)
            .execute(&mut *tx)
            .await?;
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut counts = Vec::new();
        let also = COUNTS.iter().map(|c| format!("also_{c}"));
        for (i, column) in COUNTS.iter().map(|c| c.to_string()).chain(also).enumerate() {
            match row.try_get::<i64, _>(column.as_str()) {
                Ok(n) => counts.push((i, n)),
                Err(sqlx::Error::ColumnNotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let mut oldest = Vec::new();
        for (i, column) in TIMES.iter().enumerate() {
            match row.try_get::<Option<DateTime<Utc>>, _>(*column) {
                Ok(at) => oldest.push((i, at)),
                Err(sqlx::Error::ColumnNotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        out.push(Row_ {
            name: row.try_get("name")?,
            counts,
            oldest,
        });
    }
    Ok(out)
}

/// The dead piles left for the planner's estimate: 0 and capped, which
/// `pile_estimates::past_the_cap` replaces.
fn pending(queues: &mut [QueueStats]) {
    for q in queues {
        q.dead = Count {
            value: 0,
            capped: true,
            estimated: false,
        };
    }
}

/// After `past_the_cap`: a pending pile the planner put at none (or had no turn for) is
/// an estimated 0, not "0+".
pub fn settle_pending(queues: &mut [QueueStats]) {
    for q in queues {
        if q.dead.capped && q.dead.value == 0 {
            q.dead = Count {
                value: 0,
                capped: false,
                estimated: true,
            };
        }
    }
}

/// The pass's figures in place of the statement's; a queue the statement did not list
/// (a queue whose only jobs are tallied ones) is added. A queue the pass did not see has
/// none of the tallied jobs: zero.
fn merge(queues: &mut Vec<QueueStats>, rows: &[Row_], stale: bool) {
    let Some(columns) = rows
        .first()
        .map(|r| r.counts.iter().map(|(i, _)| *i).collect::<Vec<_>>())
    else {
        // An empty pass: no queue has any of its jobs. Its columns are unknown, so the
        // statement's figures stand (the statement returns zero for what it tallies).
        return;
    };
    let ready_time = rows.first().is_some_and(|r| r.oldest(0).is_some());
    let running_time = rows.first().is_some_and(|r| r.oldest(1).is_some());
    for row in rows {
        if !queues.iter().any(|q| q.name == row.name) {
            queues.push(QueueStats::new(row.name.clone()));
        }
    }
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    for q in queues.iter_mut() {
        let row = rows.iter().find(|r| r.name == q.name);
        for &i in &columns {
            let value = row
                .and_then(|r| r.counts.iter().find(|(j, _)| *j == i))
                .map_or(0, |(_, n)| *n);
            let count = field(q, i % COUNTS.len());
            *count = if i < COUNTS.len() {
                Count {
                    value,
                    capped: false,
                    estimated: stale,
                }
            } else {
                Count {
                    value: count.value + value,
                    capped: count.capped,
                    estimated: count.estimated || (stale && value > 0),
                }
            };
        }
        if ready_time {
            q.oldest_ready_at = row.and_then(|r| r.oldest(0).flatten());
        }
        if running_time {
            q.oldest_running_started_at = row.and_then(|r| r.oldest(1).flatten());
        }
    }
}

fn field(q: &mut QueueStats, i: usize) -> &mut Count {
    match i {
        0 => &mut q.ready,
        1 => &mut q.scheduled,
        2 => &mut q.retrying,
        3 => &mut q.running,
        _ => &mut q.dead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, dead: i64) -> Row_ {
        Row_ {
            name: name.into(),
            counts: vec![(4, dead)],
            oldest: Vec::new(),
        }
    }

    #[test]
    fn a_pass_replaces_its_columns_and_adds_the_queues_only_it_saw() {
        let mut a = QueueStats::new("a");
        a.ready = Count::exact(3);
        let mut queues = vec![a, QueueStats::new("c")];
        merge(&mut queues, &[row("a", 7), row("b", 2)], true);
        let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(queues[0].ready, Count::exact(3));
        assert_eq!(queues[0].dead.value, 7);
        assert!(queues[0].dead.estimated, "an earlier pass's figure says so");
        assert_eq!(
            queues[2].dead.value, 0,
            "a queue the pass did not see has none"
        );
        let mut fresh = vec![QueueStats::new("a")];
        merge(&mut fresh, &[row("a", 7)], false);
        assert_eq!(fresh[0].dead, Count::exact(7));
    }
}
