//! The one snapshot routine of the schemas built on the engine: runs a backend's statements
//! (built once at open) in one read-only repeatable-read transaction.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use crate::backend::engine::queue_list::QueueList;
use crate::backend::engine::tally::{self, PollContext, Tally, TallyCache};
use crate::backend::history::HourCache;
use crate::backend::minute_cache::{self, MinuteCache};
use crate::backend::model::{
    Count, PILE_CAP, PauseInfo, QueueStats, Snapshot, SnapshotOptions, WorkerInfo,
};
use crate::backend::pg::decode;
use crate::backend::pile_estimates::{self, EstimateCache, Piles};

/// Start of the history window (the minute 59 minutes before the current one), as a
/// `timestamptz` expression. Epoch arithmetic keeps it independent of the session time zone.
pub const WINDOW_START: &str = "to_timestamp(floor(extract(epoch FROM now()) / 60) * 60 - 59 * 60)";

/// The first minute a minutes statement reads, as a `timestamptz` expression: `$1` is an
/// epoch minute (the cache's `read_from`), so the hour is read once and then only its last
/// minutes.
pub const MINUTES_FROM: &str = "to_timestamp($1::float8 * 60)";

/// The end (exclusive) of the minutes a minutes statement reads: `$2` is an epoch minute.
/// The live poll binds infinity (it reads up to now); a history read binds the end of the
/// closed hours it fills (`backend::history`).
pub const MINUTES_UNTIL: &str = "to_timestamp($2::float8 * 60)";

/// `MINUTES_UNTIL` an hour later: the bound on a job's *last* failure or finish where the
/// statement counts its earlier failed attempts by their own time. A job that failed in the
/// range and then went on for more than an hour is missing from a history read (never from
/// the live one, whose end is infinity); without this bound a closed hour a week ago would
/// read every job finished since.
pub const FINISHED_UNTIL: &str = "(to_timestamp($2::float8 * 60) + interval '1 hour')";

/// The minutes statement as doctor explains it: the whole hour, as a new monitor's first
/// poll reads it, with no parameter to bind.
pub fn minutes_probe(sql: &str) -> Arc<str> {
    Arc::from(
        sql.replace(FINISHED_UNTIL, "'infinity'::timestamptz")
            .replace(MINUTES_UNTIL, "'infinity'::timestamptz")
            .replace(MINUTES_FROM, WINDOW_START),
    )
}

/// Where the minutes a poll after the first reads again begin (the one under way and the
/// one before it, `minute_cache`), as `WINDOW_START` is where the hour begins.
const OPEN_MINUTES_START: &str = "to_timestamp(floor(extract(epoch FROM now()) / 60) * 60 - 60)";

/// A `minutes_probe` as a poll after the first runs it: the open minutes, not the hour.
pub fn open_minutes_probe(probe: &str) -> String {
    probe.replace(WINDOW_START, OPEN_MINUTES_START)
}

/// Estimates a poll takes at most when piles await their pass (one per queue; past it,
/// the rest are an estimated 0 until the pass lands).
const PENDING_ESTIMATES: usize = 200;

/// The limit of a pile's count (scheduled, retrying, dead): the pile cap + 1. Past it the
/// engine estimates the pile (`pile_estimates`).
pub const PILE_LIMIT: &str = "$2";

/// The queue names a queues statement reads when the schema lists them on the slower clock
/// (`Statements::queue_names`).
pub const QUEUE_NAMES: &str = "$3::text[]";

/// The statements one snapshot runs, built once when the backend opens.
#[derive(Debug, Clone)]
pub struct Statements {
    /// `$1` is the count cap + 1; `$2` (`PILE_LIMIT`, `capped_pile`) the pile cap + 1 where
    /// the statement counts its scheduled, retrying and dead piles up to it (then they are
    /// estimated past it); `$3` (`QUEUE_NAMES`) the queue names when `queue_names` is set.
    /// Columns: name, paused_at, paused_by, pause_reason, ready, scheduled, retrying,
    /// running, dead (bigint), oldest_ready_at (timestamptz); and
    /// optionally `<count>_estimated` (boolean) where a figure may come from a cache or a
    /// planner estimate instead of a count, `oldest_running_at` (timestamptz: when the
    /// longest-running job started) where the schema keeps a start time, and
    /// `dead_last_hour` (bigint, capped like the counts) where it keeps when jobs died.
    pub queues: Arc<str>,
    /// Column: name. Every queue to show, read on the slower clock (`queue_list`) and handed
    /// to `queues` as `$3` (`QUEUE_NAMES`); `None` where `queues` finds the queues itself,
    /// cheaply.
    pub queue_names: Option<Arc<str>>,
    /// Columns: queue, kind, minute (epoch minute, bigint), succeeded, failed, from the epoch
    /// minute `$1` (`MINUTES_FROM`) to the epoch minute `$2` (`MINUTES_UNTIL`, exclusive). `None` where the schema keeps no affordable
    /// completion history.
    pub minutes: Option<Arc<str>>,
    /// Columns: id, host, pid, queues (text[]), started_at, last_heartbeat_at, running_jobs.
    pub workers: Option<Arc<str>>,
    /// The figures no index holds by queue, each set counted for every queue in one pass
    /// on a slower clock (`tally`); the queues statement returns zero for them.
    pub tallies: Vec<Tally>,
}

impl Statements {
    /// The queues statement as doctor explains it: the queue list inlined where the
    /// statement takes it as a parameter, and the default pile cap for `$2`; only the count
    /// cap (`$1`) is left to bind.
    pub fn queues_probe(&self) -> Arc<str> {
        let sql = match &self.queue_names {
            Some(names) => self.queues.replace(QUEUE_NAMES, &format!("ARRAY({names})")),
            None => self.queues.to_string(),
        };
        Arc::from(sql.replace(PILE_LIMIT, &(PILE_CAP + 1).to_string()))
    }
}

/// What a backend's polls keep for the next ones: the closed minutes of the throughput
/// history and the queue list; and the closed hours its history reads keep.
#[derive(Debug, Default)]
pub struct SnapshotCaches {
    minutes: MinuteCache,
    pub hours: HourCache,
    pub queue_list: QueueList,
    estimates: EstimateCache,
    piles: OnceLock<Piles>,
    tally: TallyCache,
}

impl SnapshotCaches {
    /// The schema's piles, built on the first poll.
    pub fn piles(&self, build: impl FnOnce() -> Piles) -> &Piles {
        self.piles.get_or_init(build)
    }

    /// Reads the queue list and every pass again on the next poll.
    pub fn forget_queue_names(&self) {
        self.queue_list.forget();
        self.tally.forget();
    }
}

/// Runs a backend's statements in one read-only repeatable-read transaction, so every figure
/// and every age is measured at the same `now()`.
/// `piles` tells how to count and estimate a pile that reached its cap.
/// `source` (`history::source_key`) names the schema's passes in `jobtop.tallies`.
pub async fn snapshot(
    pool: &PgPool,
    statements: &Statements,
    piles: &Piles,
    caches: &SnapshotCaches,
    opts: &SnapshotOptions,
    source: &str,
) -> anyhow::Result<Snapshot> {
    let cap = opts.count_cap.max(0);
    let pile_cap = statements
        .queues
        .contains(PILE_LIMIT)
        .then(|| cap.min(opts.pile_cap.max(0)));
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let db_now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    // The queue list and every pass ask it whether they are older than an action.
    let actions = tally::LastAction::new(piles.audit);
    let names = match &statements.queue_names {
        Some(sql) => Some(
            caches
                .queue_list
                .names(&mut tx, sql, &actions, db_now)
                .await
                .context("listing the queues")?,
        ),
        None => None,
    };
    let mut queues = read_queues(&mut tx, &statements.queues, cap, pile_cap, names.clone())
        .await
        .context("reading queue counts")?;
    let context = PollContext {
        pool,
        source,
        actions: &actions,
        table: piles.table.as_deref(),
        db_now,
    };
    let applied = tally::apply(
        &mut tx,
        &statements.tallies,
        &caches.tally,
        &context,
        &mut queues,
    )
    .await
    .context("counting what no index holds by queue")?;
    // Piles awaiting their pass are estimated in one poll, not a few a poll.
    let budget = if applied.dead_pending {
        PENDING_ESTIMATES.max(opts.estimates)
    } else {
        opts.estimates
    };
    pile_estimates::past_the_cap(&mut tx, &mut queues, piles, &caches.estimates, cap, budget)
        .await
        .context("estimating the big piles")?;
    if applied.dead_pending {
        tally::settle_pending(&mut queues);
    }
    if let Some(sql) = &statements.minutes {
        minute_cache::read(&mut tx, sql, db_now, &mut queues, &caches.minutes)
            .await
            .context("reading completions per minute")?;
    }
    if let Some(names) = &names {
        let minutes = caches.minutes.queues();
        // A queue with jobs (a queue a schema registers before it has any is not news).
        let seen = queues
            .iter()
            .filter(|q| {
                [q.ready, q.scheduled, q.retrying, q.running, q.dead]
                    .iter()
                    .any(|c| c.value > 0)
            })
            .map(|q| q.name.as_str());
        caches
            .queue_list
            .saw(names, seen.chain(minutes.iter().map(String::as_str)));
    }
    let workers = match &statements.workers {
        Some(sql) => read_workers(&mut tx, sql)
            .await
            .context("reading workers")?,
        None => Vec::new(),
    };
    tx.commit().await?;
    tally::store_taken(pool, source, &statements.tallies, &caches.tally).await;
    Ok(Snapshot {
        db_now,
        queues,
        workers,
        count_cap: cap,
        running_by_tenant: None,
        schedules: None,
    })
}

async fn read_queues(
    tx: &mut Transaction<'static, Postgres>,
    sql: &Arc<str>,
    cap: i64,
    pile_cap: Option<i64>,
    names: Option<Vec<String>>,
) -> anyhow::Result<Vec<QueueStats>> {
    let mut query = sqlx::query(AssertSqlSafe(sql.clone())).bind(cap.saturating_add(1));
    // The list is `$3`: `$2` is bound before it even where no pile uses it (a typed
    // parameter the statement does not name is allowed).
    if pile_cap.is_some() || names.is_some() {
        query = query.bind(pile_cap.unwrap_or(cap).saturating_add(1));
    }
    if let Some(names) = names {
        query = query.bind(names);
    }
    let rows = query.fetch_all(&mut **tx).await?;
    let mut queues = Vec::with_capacity(rows.len());
    for row in rows {
        // Each count is a sum of ranges capped at cap + 1: any sum above the cap is "at least".
        let count = |column: &str, cap: i64| -> anyhow::Result<Count> {
            let value = row.try_get::<i64, _>(column)?;
            let estimated =
                match row.try_get::<Option<bool>, _>(format!("{column}_estimated").as_str()) {
                    Ok(flag) => flag.unwrap_or(false),
                    Err(sqlx::Error::ColumnNotFound(_)) => false,
                    Err(err) => return Err(err.into()),
                };
            Ok(if estimated {
                Count {
                    value,
                    capped: false,
                    estimated: true,
                }
            } else {
                Count::capped_at(value, cap)
            })
        };
        let mut stats = QueueStats::new(row.try_get::<String, _>("name")?);
        let pile = pile_cap.unwrap_or(cap);
        stats.ready = count("ready", cap)?;
        stats.scheduled = count("scheduled", pile)?;
        stats.retrying = count("retrying", pile)?;
        stats.running = count("running", cap)?;
        stats.dead = count("dead", pile)?;
        stats.oldest_ready_at = row.try_get("oldest_ready_at")?;
        stats.oldest_running_started_at =
            match row.try_get::<Option<DateTime<Utc>>, _>("oldest_running_at") {
                Ok(at) => at,
                Err(sqlx::Error::ColumnNotFound(_)) => None,
                Err(err) => return Err(err.into()),
            };
        stats.dead_last_hour = match row.try_get::<Option<i64>, _>("dead_last_hour") {
            Ok(n) => n.map(|n| Count::capped_at(n, cap)),
            Err(sqlx::Error::ColumnNotFound(_)) => None,
            Err(err) => return Err(err.into()),
        };
        stats.paused = match row.try_get::<Option<DateTime<Utc>>, _>("paused_at")? {
            Some(at) => Some(PauseInfo {
                at,
                by: row.try_get("paused_by")?,
                reason: row.try_get("pause_reason")?,
            }),
            None => None,
        };
        queues.push(stats);
    }
    Ok(queues)
}

async fn read_workers(
    tx: &mut Transaction<'static, Postgres>,
    sql: &Arc<str>,
) -> anyhow::Result<Vec<WorkerInfo>> {
    let rows = sqlx::query(AssertSqlSafe(sql.clone()))
        .fetch_all(&mut **tx)
        .await?;
    rows.into_iter()
        .map(|row| decode::worker_info(&row, "host"))
        .collect()
}

/// A pile's count, stopping at the pile cap + 1 (`PILE_LIMIT`).
pub fn capped_pile(from: &str, cond: &str) -> String {
    format!("(SELECT count(*) FROM (SELECT 1 FROM {from} WHERE {cond} LIMIT {PILE_LIMIT}) c)")
}

/// `(SELECT count(*) FROM (SELECT 1 FROM <from> WHERE <cond> LIMIT $1) c)`: a count that stops
/// at the cap + 1.
pub fn capped(from: &str, cond: &str) -> String {
    format!("(SELECT count(*) FROM (SELECT 1 FROM {from} WHERE {cond} LIMIT $1) c)")
}

/// The epoch minute of a `timestamptz` expression.
pub fn epoch_minute(tz_expr: &str) -> String {
    format!("floor(extract(epoch FROM {tz_expr}) / 60)::bigint")
}
