//! What a queue schema can show and do, said once per schema with the reason for each thing
//! it cannot: the gate refuses by it, and the screens hide or explain what is missing.

use serde::Serialize;

use super::actions::{AUDIT_REQUIRED, ActionKind};

/// Whether a schema offers something; when it does not, why, in words for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    Yes,
    No(&'static str),
}

impl Support {
    /// `Yes` when `offered`, else `No(why)`.
    pub fn when(offered: bool, why: &'static str) -> Support {
        if offered {
            Support::Yes
        } else {
            Support::No(why)
        }
    }

    pub fn yes(self) -> bool {
        self == Support::Yes
    }

    /// Why not; `None` when offered.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Support::Yes => None,
            Support::No(why) => Some(why),
        }
    }
}

/// What a backend can show and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub pause: Support,
    pub heartbeats: Support,
    pub workers: Support,
    pub error_history: Support,
    pub tenants: Support,
    pub throughput: Support,
    /// Which job actions the backend carries out (pausing is `pause` above).
    pub actions: ActionCapabilities,
    /// The snapshot shows whether a queue is paused (Oban keeps pauses in its nodes' memory:
    /// it can be paused, but the database does not say whether it is).
    pub pause_visible: Support,
    /// Failed-per-minute counts every failed attempt; when not, only jobs that failed for
    /// good (the schema keeps no time of the attempts that were retried).
    pub failed_attempts: Support,
    /// The schema keeps failures at all, so a failure rate is a figure; where not (pgmq),
    /// FAIL/m and FAIL% show "–" rather than a 0 that was never measured.
    pub failures: Support,
}

/// The job actions, each offered or not; `Capabilities::actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionCapabilities {
    pub retry: Support,
    pub cancel: Support,
    pub discard: Support,
    pub delete: Support,
    pub reset_stuck: Support,
    pub purge: Support,
    /// The database holds `jobtop.audit` in the form this jobtop writes; no action runs
    /// without it.
    pub audit: Support,
}

impl ActionCapabilities {
    pub const ALL: ActionCapabilities = ActionCapabilities {
        retry: Support::Yes,
        cancel: Support::Yes,
        discard: Support::Yes,
        delete: Support::Yes,
        reset_stuck: Support::Yes,
        purge: Support::Yes,
        audit: Support::Yes,
    };
}

/// Whether the database has `jobtop.audit` as this jobtop writes it.
pub fn audit_support(present: bool) -> Support {
    Support::when(present, AUDIT_REQUIRED)
}

impl Capabilities {
    /// Everything shown and offered: the reference schema.
    pub const FULL: Capabilities = Capabilities {
        pause: Support::Yes,
        heartbeats: Support::Yes,
        workers: Support::Yes,
        error_history: Support::Yes,
        tenants: Support::Yes,
        throughput: Support::Yes,
        actions: ActionCapabilities::ALL,
        pause_visible: Support::Yes,
        failed_attempts: Support::Yes,
        failures: Support::Yes,
    };

    /// Whether and why this backend can carry out `kind`.
    pub fn support(&self, kind: ActionKind) -> Support {
        use ActionKind as K;
        let a = &self.actions;
        match kind {
            K::Pause | K::Resume => self.pause,
            K::Retry => a.retry,
            K::Cancel => a.cancel,
            K::Discard => a.discard,
            K::Delete => a.delete,
            K::ResetStuck => a.reset_stuck,
            K::Purge => a.purge,
            // Schedules belong to the database's schedule sources, not to the queue schema:
            // the source says at plan time what it cannot do.
            K::ScheduleActivate | K::ScheduleDeactivate | K::ScheduleRunNow => Support::Yes,
        }
    }

    /// Why `backend` refuses `kind`, or None when it may go ahead. The one rule the gate and
    /// the monitor both apply: only what the schema allows, and never without an audit trail.
    pub fn refusal(&self, backend: &str, kind: ActionKind) -> Option<String> {
        if let Support::No(why) = self.support(kind) {
            return Some(format!(
                "the {backend} backend cannot {}: {why}",
                kind.verb().to_lowercase()
            ));
        }
        self.actions.audit.reason().map(str::to_string)
    }
}
