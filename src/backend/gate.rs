//! The gate: the one door every state-changing effect passes through, from the monitor and
//! from the command line alike. It refuses everything in read-only mode (whose database
//! session is read-only as well, so even a bug cannot write), refuses what the backend
//! cannot do, runs a plan batch by batch, stops between batches when asked, and sees that
//! every run that touched anything, or failed, leaves its audit row.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::backend::actions::{BATCH_SIZE, Progress};
use crate::backend::{
    Action, ActionKind, ActionOutcome, AuditEnd, Backend, BatchStep, JobId, Plan,
};

/// Proof that a call to `Writes` comes from the gate: its field is private, so no other
/// module can make one, and no write can skip the checks below.
#[derive(Clone, Copy)]
pub struct WriteKey(());

/// Up to this many jobs a run keeps the ids it changed, to watch them afterwards.
pub const WATCH_IDS_UP_TO: usize = 10_000;

/// Raised between batches to stop a run; what was done stays done.
pub type StopFlag = Arc<AtomicBool>;

/// Why the gate would not let an action through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The refusal of read-only mode, worded the same everywhere.
pub use crate::backend::actions::READ_ONLY_REFUSAL as READ_ONLY;

pub struct Gate {
    backend: Backend,
    read_only: bool,
    /// `user@host` of the operator; the backend adds the database role.
    actor: String,
}

impl Gate {
    pub fn new(backend: Backend, read_only: bool) -> Gate {
        Gate::with_actor(backend, read_only, local_actor())
    }

    pub fn with_actor(backend: Backend, read_only: bool, actor: String) -> Gate {
        Gate {
            backend,
            read_only,
            actor,
        }
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether `kind` may pass at all: not in read-only mode, only what the backend does, and
    /// only with an audit table to record it (`Capabilities::refusal`).
    pub fn check(&self, kind: ActionKind) -> Result<(), Refused> {
        if self.read_only {
            return Err(Refused(READ_ONLY.to_string()));
        }
        match self
            .backend
            .capabilities()
            .refusal(self.backend.name(), kind)
        {
            Some(why) => Err(Refused(why)),
            None => Ok(()),
        }
    }

    /// What `action` would change (a read; refused where the action itself would be).
    pub async fn plan(&self, action: &Action) -> anyhow::Result<Plan> {
        self.check(action.kind())?;
        if action.kind().on_schedule() {
            return self
                .backend
                .schedule_writes()?
                .plan(WriteKey(()), action)
                .await;
        }
        self.backend
            .writes()
            .plan_action(WriteKey(()), action)
            .await
    }

    /// Runs `plan`: its jobs in batches of at most `BATCH_SIZE`, each batch one conditional
    /// statement committed with its audit row. `progress` hears after every batch. A raised
    /// `stop` ends the run before the next batch. Never retries a failed batch: the outcome
    /// says what was done and what was not.
    pub async fn execute(
        &self,
        plan: &Plan,
        stop: &StopFlag,
        progress: &mut (dyn FnMut(&ActionOutcome) + Send),
    ) -> Result<ActionOutcome, Refused> {
        let kind = plan.kind();
        self.check(kind)?;
        // Rows left "in progress" by runs that are gone are closed by the next run, which
        // may write; a failure here must not stop the action asked for.
        match self.backend.writes().close_abandoned(WriteKey(())).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "closed the audit rows of abandoned runs"),
            Err(err) => tracing::warn!("cannot close abandoned audit rows: {err:#}"),
        }
        let mut done = Progress::default();
        let mut audit_id: Option<i64> = None;
        let mut changed_ids: Vec<JobId> = Vec::new();
        let keep_ids = plan.ids.len() <= WATCH_IDS_UP_TO;
        let mut stopped = false;
        let mut error: Option<String> = None;
        let mut finished = plan.eligible == 0;

        let chunks: Vec<&[JobId]> = match kind {
            k if k.single_step() || k == ActionKind::Purge => Vec::new(),
            _ => plan.ids.chunks(BATCH_SIZE).collect(),
        };
        let mut index = 0usize;
        while !finished {
            if stop.load(Ordering::SeqCst) {
                stopped = true;
                break;
            }
            let (ids, last): (&[JobId], bool) = match kind {
                k if k.single_step() => (&[], true),
                ActionKind::Purge => (&[], false),
                _ => match chunks.get(index) {
                    Some(ids) => (ids, index + 1 == chunks.len()),
                    None => break,
                },
            };
            let step = BatchStep {
                plan,
                actor: &self.actor,
                ids,
                before: &done,
                audit_id,
                last,
            };
            let applied = if kind.on_schedule() {
                match self.backend.schedule_writes() {
                    Ok(writes) => writes.apply(WriteKey(()), &step).await,
                    Err(err) => Err(err),
                }
            } else {
                self.backend.writes().apply_batch(WriteKey(()), &step).await
            };
            match applied {
                Ok(batch) => {
                    done.attempted += batch.attempted;
                    done.changed += batch.changed;
                    done.batches += 1;
                    audit_id = Some(batch.audit_id);
                    if keep_ids {
                        changed_ids.extend(batch.changed_ids);
                    }
                    finished = batch.last;
                    let mut now = ActionOutcome::of(plan, &done, finished);
                    now.audit_id = audit_id;
                    progress(&now);
                }
                Err(err) => {
                    tracing::warn!(action = kind.name(), "batch failed: {err:#}");
                    error = Some(format!("{err:#}"));
                    break;
                }
            }
            index += 1;
        }

        let mut outcome = ActionOutcome::of(plan, &done, true);
        outcome.stopped = stopped;
        outcome.error = error;
        outcome.audit_id = audit_id;
        outcome.changed_ids = changed_ids;
        // The batches recorded themselves; a stop or a failure is recorded here, after the
        // failed batch's rollback, in a transaction of its own.
        if (stopped && audit_id.is_some()) || outcome.error.is_some() {
            let end = AuditEnd {
                plan,
                actor: &self.actor,
                audit_id,
                outcome: &outcome,
            };
            if let Err(err) = self.backend.writes().finish_audit(WriteKey(()), &end).await {
                tracing::error!(action = kind.name(), "cannot record the audit row: {err:#}");
                // A batch that failed because the database went away leaves the row saying
                // "in progress": it is closed once the database is back.
                close_when_back(&self.backend, plan, &self.actor, audit_id, &outcome);
                let note = format!(
                    "(the audit row could not be written yet: {err:#}; it is closed when the database is back)"
                );
                outcome.error = Some(match outcome.error.take() {
                    Some(e) => format!("{e} {note}"),
                    None => note,
                });
            }
        }
        tracing::info!(
            action = kind.name(),
            outcome = outcome.outcome().as_str(),
            "{}",
            outcome.summary()
        );
        Ok(outcome)
    }
}

/// How often, and for how long, a run's end that could not be recorded is tried again.
const RECORD_RETRY_EVERY: Duration = Duration::from_secs(1);
const RECORD_RETRY_FOR: Duration = Duration::from_secs(3_600);

/// Records the end of an interrupted run in the background, as soon as the database takes
/// it (for as long as this process runs: the monitor, or a command still reporting).
fn close_when_back(
    backend: &Backend,
    plan: &Plan,
    actor: &str,
    audit_id: Option<i64>,
    outcome: &ActionOutcome,
) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let (backend, plan, actor, outcome) = (
        backend.clone(),
        plan.clone(),
        actor.to_string(),
        outcome.clone(),
    );
    tokio::spawn(async move {
        let started = Instant::now();
        while started.elapsed() < RECORD_RETRY_FOR {
            tokio::time::sleep(RECORD_RETRY_EVERY).await;
            let end = AuditEnd {
                plan: &plan,
                actor: &actor,
                audit_id,
                outcome: &outcome,
            };
            if backend
                .writes()
                .finish_audit(WriteKey(()), &end)
                .await
                .is_ok()
            {
                tracing::info!(audit_id, "the interrupted run's audit row is closed");
                return;
            }
        }
    });
}

/// `user@host` of whoever runs jobtop: the OS account, not the database role.
pub fn local_actor() -> String {
    let user = user_name(|k| std::env::var(k).ok());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{user}@{host}")
}

/// The user from the environment, else from the system: never `unknown`.
fn user_name(env: impl Fn(&str) -> Option<String>) -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()))
        .or_else(account_name)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The effective user's name from the system's account database (`getpwuid_r`), for where
/// `USER` and `LOGNAME` are unset (`kubectl exec`, systemd units, cron); else the uid.
fn account_name() -> Option<String> {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => Some(user.name),
        _ => Some(format!("uid{uid}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_user_or_logname_the_actor_is_the_system_account() {
        let system = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let system = String::from_utf8(system.stdout).unwrap().trim().to_string();
        assert_eq!(user_name(|_| None), system);
        assert_eq!(user_name(|_| Some(String::new())), system);
        assert_eq!(
            user_name(|k| (k == "LOGNAME").then(|| "alice".to_string())),
            "alice"
        );
    }
}
