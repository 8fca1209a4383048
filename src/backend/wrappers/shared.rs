//! One snapshot for many watchers: monitors on one database elect a leader, the leader takes
//! the overview snapshot once per interval and publishes it, the others read it.
//!
//! - Election: `pg_try_advisory_lock` on a session kept open for as long as the monitor
//!   runs. When the leader goes away its session ends, the lock with it, and the next
//!   follower to try (each tries on every poll) leads from then on: within one interval
//!   plus the wait below.
//! - Publishing: one row per snapshot key in `jobtop.snapshot_cache` (the serialized
//!   `Snapshot`), then `NOTIFY jobtop_snapshot` with the new version only (a payload is
//!   limited to 8,000 bytes; a snapshot is not).
//! - Following: LISTEN on the same session; a poll waits (at most `max_wait`) for a version
//!   newer than the last one it returned, then reads the row. A leader that holds the lock
//!   but stopped publishing is not waited on forever: when its row is older than two
//!   intervals, the follower takes its own snapshot for that poll.
//! - A monitor that may not write (`--read-only`, a role without INSERT/UPDATE on the cache
//!   table, a standby, a schema without the table) never takes part: it polls on its own,
//!   with the same queries.
//!
//! The wrapper forwards everything but `snapshot()` to the inner backend.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::Mutex;

use crate::backend::{Overview, Reads, Snapshot, SnapshotOptions};

/// LISTEN/NOTIFY channel; the payload is the new version.
pub const CHANNEL: &str = "jobtop_snapshot";

/// First half of the advisory lock key ("jobt"); the second is a hash of the snapshot key.
const LOCK_CLASS: i32 = 0x6A6F_6274;

const SESSION_FACTS_SQL: &str = r#"
SELECT to_regclass('jobtop.snapshot_cache') IS NOT NULL AS has_table,
       pg_is_in_recovery() AS standby,
       current_setting('transaction_read_only') = 'on' AS read_only,
       CASE WHEN to_regclass('jobtop.snapshot_cache') IS NULL THEN false
            ELSE has_table_privilege('jobtop.snapshot_cache', 'INSERT, UPDATE') END AS can_write
"#;

const TRY_LOCK_SQL: &str = "SELECT pg_try_advisory_lock($1, hashtext($2)), pg_backend_pid()";

const UNLOCK_SQL: &str = "SELECT pg_advisory_unlock_all()";

/// Writes the snapshot and announces its version, in one statement. Only from the session
/// that took the lock (`$5`): a session that was silently replaced holds no lock.
const PUBLISH_SQL: &str = r#"
WITH up AS (
  INSERT INTO jobtop.snapshot_cache AS c
    (key, version, published_at, interval_ms, leader, snapshot)
  SELECT $1, 1, now(), $2,
         current_setting('application_name') || ' pid ' || pg_backend_pid(), $3::json
  WHERE pg_backend_pid() = $4
  ON CONFLICT (key) DO UPDATE SET
    version = c.version + 1,
    published_at = excluded.published_at,
    interval_ms = excluded.interval_ms,
    leader = excluded.leader,
    snapshot = excluded.snapshot
  RETURNING c.version
)
SELECT up.version FROM up, pg_notify('jobtop_snapshot', up.version::text) AS n
"#;

/// The row, without its JSON when the reader already has that version.
const READ_SQL: &str = r#"
SELECT c.version, c.interval_ms,
       extract(epoch FROM now() - c.published_at)::float8 AS age_s,
       CASE WHEN c.version = $2 THEN NULL ELSE c.snapshot::text END AS snapshot
FROM jobtop.snapshot_cache c
WHERE c.key = $1
"#;

/// version, interval_ms, age_s, snapshot (absent when the reader has that version).
type CacheRow = (i64, i32, f64, Option<String>);

/// How a shared snapshot is taken.
#[derive(Debug, Clone, Copy)]
pub struct SharedOptions {
    /// The monitor's refresh interval: the leader publishes about this often.
    pub interval: Duration,
    /// The longest a follower's poll waits for the leader's next version.
    pub max_wait: Duration,
    /// The monitor must not write: it polls on its own.
    pub read_only: bool,
}

impl SharedOptions {
    /// A follower waits up to one interval, but never so long that the poller's own
    /// timeout (`poll_timeout`) would cut the poll off.
    pub fn new(interval: Duration, poll_timeout: Duration, read_only: bool) -> SharedOptions {
        SharedOptions {
            interval,
            max_wait: interval.min(poll_timeout.saturating_sub(Duration::from_secs(2)) / 2),
            read_only,
        }
    }
}

/// Why a monitor polls on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AloneBecause {
    ReadOnly,
    NoWriteAccess,
    Standby,
    NoCacheTable,
    /// For this poll only: no session (the server refused one), or the leader is overdue.
    SessionLost,
    LeaderOverdue,
}

/// What this monitor did on its last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Starting,
    Leader,
    Follower,
    Alone(AloneBecause),
}

impl Role {
    /// A few words for the header.
    pub fn describe(self) -> String {
        match self {
            Role::Starting => "shared".into(),
            Role::Leader => "shared: leader".into(),
            Role::Follower => "shared: follower".into(),
            Role::Alone(why) => format!(
                "polling alone ({})",
                match why {
                    AloneBecause::ReadOnly => "read-only",
                    AloneBecause::NoWriteAccess => "no write access",
                    AloneBecause::Standby => "standby",
                    AloneBecause::NoCacheTable =>
                        "no jobtop.snapshot_cache: jobtop migrate --side-tables",
                    AloneBecause::SessionLost => "no session",
                    AloneBecause::LeaderOverdue => "leader overdue",
                }
            ),
        }
    }
}

/// Counters over the monitor's life, for the benchmark and the log.
#[derive(Debug, Default)]
pub struct SharedStats {
    pub led: AtomicU64,
    pub followed: AtomicU64,
    pub alone: AtomicU64,
    /// Microseconds followers spent waiting for the leader's next version.
    pub waited_us: AtomicU64,
}

/// What the session (and so the election) holds between polls.
#[derive(Default)]
struct State {
    session: Option<PgListener>,
    /// Server pid of the session while it holds the lock.
    leader_pid: Option<i32>,
    /// Set once the monitor is known never to take part.
    alone: Option<AloneBecause>,
    /// The last snapshot read or published, with its key and version.
    cached: Option<(String, i64, Snapshot)>,
    /// The newest version announced so far.
    announced: i64,
}

/// A backend whose snapshots are shared with the other monitors on the same database.
pub struct SharedSnapshot<B: ?Sized> {
    inner: Arc<B>,
    session_options: PgConnectOptions,
    opts: SharedOptions,
    state: Mutex<State>,
    role: StdMutex<Role>,
    pub stats: SharedStats,
}

impl<B: Reads + ?Sized> SharedSnapshot<B> {
    /// `pool` is the monitor's pool: the election session is opened with the same settings.
    pub fn new(inner: Arc<B>, pool: &PgPool, opts: SharedOptions) -> SharedSnapshot<B> {
        let alone = opts.read_only.then_some(AloneBecause::ReadOnly);
        SharedSnapshot {
            inner,
            session_options: (*pool.connect_options()).clone(),
            opts,
            state: Mutex::new(State {
                alone,
                ..State::default()
            }),
            role: StdMutex::new(alone.map_or(Role::Starting, Role::Alone)),
            stats: SharedStats::default(),
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    pub fn role(&self) -> Role {
        *self.role.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_role(&self, role: Role) {
        *self.role.lock().unwrap_or_else(|e| e.into_inner()) = role;
    }

    /// Gives up leadership and closes the session (dropping does the same, a moment later).
    pub async fn close(&self) {
        let mut st = self.state.lock().await;
        if st.leader_pid.take().is_some()
            && let Some(session) = st.session.as_mut()
        {
            let _ = sqlx::query(UNLOCK_SQL).execute(&mut *session).await;
        }
        st.session = None;
    }

    async fn alone(&self, why: AloneBecause, opts: &SnapshotOptions) -> Result<Snapshot> {
        self.set_role(Role::Alone(why));
        self.stats.alone.fetch_add(1, Ordering::Relaxed);
        self.inner.snapshot(opts).await
    }

    /// Opens the election session, or says why this monitor will not take part.
    async fn open_session(&self) -> Result<std::result::Result<PgListener, AloneBecause>> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(self.session_options.clone())
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        let (has_table, standby, read_only, can_write): (bool, bool, bool, bool) =
            sqlx::query_as(SESSION_FACTS_SQL)
                .fetch_one(&mut listener)
                .await?;
        let refusal = if standby {
            Some(AloneBecause::Standby)
        } else if read_only {
            Some(AloneBecause::ReadOnly)
        } else if !has_table {
            Some(AloneBecause::NoCacheTable)
        } else if !can_write {
            Some(AloneBecause::NoWriteAccess)
        } else {
            None
        };
        if let Some(why) = refusal {
            return Ok(Err(why));
        }
        listener.listen(CHANNEL).await?;
        Ok(Ok(listener))
    }

    async fn lead(
        &self,
        st: &mut State,
        opts: &SnapshotOptions,
        key: &str,
        pid: i32,
    ) -> Result<Snapshot> {
        let snapshot = self.inner.snapshot(opts).await?;
        self.stats.led.fetch_add(1, Ordering::Relaxed);
        self.set_role(Role::Leader);
        let json = serde_json::to_string(&snapshot)?;
        let Some(session) = st.session.as_mut() else {
            return Ok(snapshot);
        };
        // Our own notifications, and any from before we led.
        while session.next_buffered().is_some() {}
        let interval_ms = self.opts.interval.as_millis().min(i32::MAX as u128) as i32;
        let published: std::result::Result<Option<i64>, sqlx::Error> =
            sqlx::query_scalar(PUBLISH_SQL)
                .bind(key)
                .bind(interval_ms)
                .bind(json)
                .bind(pid)
                .fetch_optional(&mut *session)
                .await;
        match published {
            Ok(Some(version)) => {
                st.announced = st.announced.max(version);
                // A leader reads its own snapshots from no cache; a copy of ten thousand
                // queues each poll only held memory. Should it follow later, it reads once.
                st.cached = None;
            }
            Ok(None) => {
                tracing::warn!("shared snapshot: the election session was replaced; re-electing");
                st.leader_pid = None;
                st.session = None;
            }
            Err(err) => {
                let code = err
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(|c| c.into_owned());
                match code.as_deref() {
                    // read_only_sql_transaction, insufficient_privilege
                    Some("25006") | Some("42501") => st.alone = Some(AloneBecause::NoWriteAccess),
                    Some("42P01") => st.alone = Some(AloneBecause::NoCacheTable),
                    _ => {}
                }
                tracing::warn!("shared snapshot: cannot publish: {err}");
                // Ending the session releases the lock for someone who can publish.
                st.leader_pid = None;
                st.session = None;
            }
        }
        Ok(snapshot)
    }

    async fn try_lock(&self, st: &mut State, key: &str) -> Result<Option<i32>> {
        let Some(session) = st.session.as_mut() else {
            return Ok(None);
        };
        let (got, pid): (bool, i32) = sqlx::query_as(TRY_LOCK_SQL)
            .bind(LOCK_CLASS)
            .bind(key)
            .fetch_one(&mut *session)
            .await?;
        if got {
            st.leader_pid = Some(pid);
            tracing::info!(pid, "shared snapshot: leading");
        }
        Ok(got.then_some(pid))
    }

    /// Waits for a version newer than `seen`, up to `max_wait`; an error when the session
    /// broke while waiting.
    async fn wait_for_version(&self, st: &mut State, seen: i64) -> Result<()> {
        let Some(session) = st.session.as_mut() else {
            return Ok(());
        };
        let started = Instant::now();
        let deadline = started + self.opts.max_wait;
        let mut announced = st.announced;
        while let Some(n) = session.next_buffered() {
            announced = announced.max(n.payload().parse().unwrap_or(0));
        }
        while announced <= seen {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match tokio::time::timeout(deadline - now, session.try_recv()).await {
                Ok(Ok(Some(n))) => announced = announced.max(n.payload().parse().unwrap_or(0)),
                // Reconnected: notifications may have been lost, so read the row now.
                Ok(Ok(None)) => break,
                Ok(Err(err)) => {
                    st.announced = announced;
                    self.stats
                        .waited_us
                        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    return Err(err.into());
                }
                Err(_) => break,
            }
        }
        st.announced = announced;
        self.stats
            .waited_us
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn follow(&self, st: &mut State, opts: &SnapshotOptions, key: &str) -> Result<Snapshot> {
        let seen = match &st.cached {
            Some((k, v, _)) if k == key => Some(*v),
            _ => None,
        };
        if let Some(seen) = seen {
            if let Err(err) = self.wait_for_version(st, seen).await {
                return self.session_failed(st, err, opts).await;
            }
            // Nothing new within the wait: perhaps the leader is gone; if so, lead.
            if st.announced <= seen {
                match self.try_lock(st, key).await {
                    Ok(Some(pid)) => return self.lead(st, opts, key, pid).await,
                    Ok(None) => {}
                    Err(err) => return self.session_failed(st, err, opts).await,
                }
            }
        }
        let Some(session) = st.session.as_mut() else {
            return self.alone(AloneBecause::SessionLost, opts).await;
        };
        let row: std::result::Result<Option<CacheRow>, sqlx::Error> = sqlx::query_as(READ_SQL)
            .bind(key)
            .bind(seen.unwrap_or(-1))
            .fetch_optional(&mut *session)
            .await;
        let row = match row {
            Ok(row) => row,
            Err(err) => return self.session_failed(st, err.into(), opts).await,
        };
        let Some((version, interval_ms, age_s, json)) = row else {
            // Elected but not yet published: this one poll on our own.
            return self.alone(AloneBecause::LeaderOverdue, opts).await;
        };
        let pace = self
            .opts
            .interval
            .max(Duration::from_millis(interval_ms.max(0) as u64));
        if age_s > 2.0 * pace.as_secs_f64() {
            return self.alone(AloneBecause::LeaderOverdue, opts).await;
        }
        let snapshot = match (json, &st.cached) {
            (Some(json), _) => match serde_json::from_str::<Snapshot>(&json) {
                Ok(snapshot) => snapshot,
                // Published by a different version of jobtop, say.
                Err(err) => {
                    tracing::warn!("shared snapshot: cannot read the published snapshot: {err}");
                    return self.alone(AloneBecause::LeaderOverdue, opts).await;
                }
            },
            (None, Some((_, _, cached))) => cached.clone(),
            (None, None) => return self.alone(AloneBecause::LeaderOverdue, opts).await,
        };
        st.announced = st.announced.max(version);
        st.cached = Some((key.to_string(), version, snapshot.clone()));
        self.stats.followed.fetch_add(1, Ordering::Relaxed);
        self.set_role(Role::Follower);
        Ok(snapshot)
    }

    /// The session broke: start over on the next poll; this one polls on its own.
    async fn session_failed(
        &self,
        st: &mut State,
        err: anyhow::Error,
        opts: &SnapshotOptions,
    ) -> Result<Snapshot> {
        tracing::warn!("shared snapshot: session failed: {err:#}");
        st.leader_pid = None;
        st.session = None;
        self.alone(AloneBecause::SessionLost, opts).await
    }
}

/// Snapshots taken with different options are different rows; so are different schemas
/// (the backend's name and the database schema it reads).
fn cache_key(name: &str, schema: &str, opts: &SnapshotOptions) -> String {
    format!(
        "{name}@{schema}:cap={}:piles={}:tenants={}",
        opts.count_cap, opts.pile_cap, opts.running_by_tenant
    )
}

#[async_trait]
impl<B: Reads + ?Sized> Overview for SharedSnapshot<B> {
    fn source(&self) -> Option<String> {
        let role = self.role().describe();
        Some(match self.inner.source() {
            Some(inner) => format!("{inner}, {role}"),
            None => role,
        })
    }

    async fn snapshot(&self, opts: &SnapshotOptions) -> Result<Snapshot> {
        let key = cache_key(self.inner.name(), self.inner.schema(), opts);
        let mut st = self.state.lock().await;
        if let Some(why) = st.alone {
            drop(st);
            return self.alone(why, opts).await;
        }
        if st.session.is_none() {
            match self.open_session().await {
                Ok(Ok(session)) => {
                    st.session = Some(session);
                    st.leader_pid = None;
                }
                Ok(Err(why)) => {
                    tracing::info!("shared snapshot: {}", Role::Alone(why).describe());
                    st.alone = Some(why);
                    drop(st);
                    return self.alone(why, opts).await;
                }
                Err(err) => {
                    tracing::warn!("shared snapshot: no session: {err:#}");
                    drop(st);
                    return self.alone(AloneBecause::SessionLost, opts).await;
                }
            }
        }
        let pid = match st.leader_pid {
            Some(pid) => Some(pid),
            None => match self.try_lock(&mut st, &key).await {
                Ok(pid) => pid,
                Err(err) => return self.session_failed(&mut st, err, opts).await,
            },
        };
        match pid {
            Some(pid) => self.lead(&mut st, opts, &key, pid).await,
            None => self.follow(&mut st, opts, &key).await,
        }
    }
}
