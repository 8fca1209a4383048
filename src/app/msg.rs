//! What flows into `App::update` and what comes out of it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::backend::Snapshot;
use crate::backend::drill::{Request, Response};

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
    /// The terminal's size, at start and after every resize (paging and scrolling move by
    /// a screenful).
    ScreenSize {
        width: u16,
        height: u16,
    },
    /// The answer to `Effect::Load` with the same ticket.
    Loaded {
        ticket: u64,
        result: Result<Response, String>,
    },
    // ---- action messages go below ----
}

/// Work that `update` asks the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    RefreshNow,
    SetInterval(Duration),
    // ---- drill-down effects go below ----
    /// Read drill-down data; answered by `Msg::Loaded` with the same ticket.
    Load {
        ticket: u64,
        request: Request,
    },
    /// Put text on the user's clipboard (OSC 52, written by the terminal layer).
    Copy(String),
    // ---- action effects go below ----
}
