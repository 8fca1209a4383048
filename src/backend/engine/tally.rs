//! Figures a schema cannot count per queue on its own indexes, counted for every queue in
//! one pass on a slower clock instead of once per queue on every poll.
//!
//! Where no index holds a pile by queue (procrastinate's failed jobs, PgQueuer's held
//! failures, good_job's running and discarded jobs as their projects ship them), a
//! per-queue count reads each queue's rows, finished ones included, on every poll: minutes
//! a poll at 10 M rows. One `GROUP BY queue` pass reads them once, and is read again every
//! `Tally::every`. Between passes its figures are marked estimated ("~", and `estimated` in
//! the JSON): they were exact when counted, not now. A pass taken in this poll is exact, so
//! `check` and `snapshot`, which poll once, count exactly. An action anyone took since the
//! pass (an audit row newer than it) makes the next poll count again, so a figure never
//! contradicts an action.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

use crate::backend::doctor::Probe;
use crate::backend::model::{Count, QueueStats};

/// One pass, and how often it is taken.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Columns: name, then any of ready, scheduled, retrying, running, dead (bigint),
    /// oldest_ready_at and oldest_running_at (timestamptz). Each column present replaces the queues statement's
    /// figure; `also_<count>` (say `also_running`) is added to it instead. A queue only the
    /// pass knows is added.
    pub sql: Arc<str>,
    pub every: Duration,
}

/// How doctor's probe of a pass is named (the bench tells it from the poll's statements).
pub const TALLY_PROBE: &str = "slow pass";

impl Tally {
    /// The pass as doctor explains it and the bench times it.
    pub fn probe(&self, fix: Option<String>) -> Probe {
        Probe {
            name: format!("{TALLY_PROBE} (every {} s)", self.every.as_secs()),
            sql: self.sql.clone(),
            binds_cap: false,
            fix,
        }
    }
}

const COUNTS: [&str; 5] = ["ready", "scheduled", "retrying", "running", "dead"];

#[derive(Debug, Clone)]
struct Row_ {
    name: String,
    /// (index in `COUNTS`, value); the `also_` columns at `COUNTS.len()` + index.
    counts: Vec<(usize, i64)>,
    oldest_ready_at: Option<Option<DateTime<Utc>>>,
    oldest_running_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug)]
struct Taken {
    at: Instant,
    db_at: DateTime<Utc>,
    rows: Vec<Row_>,
}

/// The last pass of each of a backend's tallies, by its place in `Statements::tallies`.
#[derive(Debug, Default)]
pub struct TallyCache {
    taken: Mutex<Vec<Option<Taken>>>,
}

impl TallyCache {
    /// Counts again on the next poll.
    pub fn forget(&self) {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The pass `i` took, unless it is due again.
    fn current(&self, i: usize, every: Duration) -> Option<(DateTime<Utc>, Vec<Row_>)> {
        let taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        taken
            .get(i)
            .and_then(Option::as_ref)
            .filter(|t| t.at.elapsed() < every)
            .map(|t| (t.db_at, t.rows.clone()))
    }

    fn keep(&self, i: usize, taken: Taken) {
        let mut all = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() <= i {
            all.resize_with(i + 1, || None);
        }
        all[i] = Some(taken);
    }
}

/// Whether someone acted on the jobs since `at` (an audit row newer than it).
const ACTED_SINCE_SQL: &str = "SELECT EXISTS (SELECT 1 FROM jobtop.audit a WHERE a.at > $1)";

/// Puts each pass's figures into `queues`, taking a new pass when the last one is due, or
/// older than an action.
pub async fn apply(
    tx: &mut Transaction<'static, Postgres>,
    tallies: &[Tally],
    cache: &TallyCache,
    audit: bool,
    db_now: DateTime<Utc>,
    queues: &mut Vec<QueueStats>,
) -> anyhow::Result<()> {
    for (i, tally) in tallies.iter().enumerate() {
        apply_one(tx, i, tally, cache, audit, db_now, queues).await?;
    }
    Ok(())
}

async fn apply_one(
    tx: &mut Transaction<'static, Postgres>,
    i: usize,
    tally: &Tally,
    cache: &TallyCache,
    audit: bool,
    db_now: DateTime<Utc>,
    queues: &mut Vec<QueueStats>,
) -> anyhow::Result<()> {
    let last = match cache.current(i, tally.every) {
        Some((db_at, rows)) if audit => {
            let acted: bool = sqlx::query_scalar(ACTED_SINCE_SQL)
                .bind(db_at)
                .fetch_one(&mut **tx)
                .await?;
            (!acted).then_some(rows)
        }
        other => other.map(|(_, rows)| rows),
    };
    let (rows, fresh) = match last {
        Some(rows) => (rows, false),
        None => {
            let rows = read(tx, &tally.sql).await?;
            cache.keep(
                i,
                Taken {
                    at: Instant::now(),
                    db_at: db_now,
                    rows: rows.clone(),
                },
            );
            (rows, true)
        }
    };
    merge(queues, &rows, !fresh);
    Ok(())
}

async fn read(
    tx: &mut Transaction<'static, Postgres>,
    sql: &Arc<str>,
) -> anyhow::Result<Vec<Row_>> {
    let rows = sqlx::query(AssertSqlSafe(sql.clone()))
        .fetch_all(&mut **tx)
        .await?;
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
        let time = |column: &str| match row.try_get::<Option<DateTime<Utc>>, _>(column) {
            Ok(at) => Ok(Some(at)),
            Err(sqlx::Error::ColumnNotFound(_)) => Ok(None),
            Err(err) => Err(err),
        };
        out.push(Row_ {
            name: row.try_get("name")?,
            counts,
            oldest_ready_at: time("oldest_ready_at")?,
            oldest_running_at: time("oldest_running_at")?,
        });
    }
    Ok(out)
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
    let ready_time = rows.first().is_some_and(|r| r.oldest_ready_at.is_some());
    let running_time = rows.first().is_some_and(|r| r.oldest_running_at.is_some());
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
            q.oldest_ready_at = row.and_then(|r| r.oldest_ready_at.flatten());
        }
        if running_time {
            q.oldest_running_started_at = row.and_then(|r| r.oldest_running_at.flatten());
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
            oldest_ready_at: None,
            oldest_running_at: None,
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
