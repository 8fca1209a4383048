//! What flows into `App::update` and what comes out of it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::backend::Snapshot;

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal was resized; the next frame lays itself out again.
    Resize,
    /// Time passes: every age on screen is measured against this clock.
    Tick(DateTime<Utc>),
    /// A poll ended, at `at` by the local clock.
    Polled {
        result: Result<Snapshot, String>,
        at: DateTime<Utc>,
    },
    // ---- drill-down messages go below ----

    // ---- action messages go below ----
}

/// Work that `update` asks the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    RefreshNow,
    SetInterval(Duration),
    // ---- drill-down effects go below ----

    // ---- action effects go below ----

    // ---- alert effects ----
    /// Ring the terminal bell: a critical alert started firing.
    Bell,
}
