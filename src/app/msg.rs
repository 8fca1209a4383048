//! What flows into `App::update` and what comes out of it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::backend::Action;
use crate::backend::drill::{Request, Response};
use crate::backend::{ActionOutcome, AuditEntry, AuditFilter, JobId, JobState, Plan, Snapshot};

/// A mouse event, as what it landed on (the UI's hit map turns a position into this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mouse {
    /// A row of a table: `row` counts the table's rows in display order.
    Row { table: Table, row: usize },
    /// The `i`th tab of the view on top (a queue's states, a report's windows, the
    /// detail's panes).
    Tab(usize),
    /// The wheel: rows down (positive) or up.
    Wheel(isize),
}

/// Rows one notch of the wheel moves, on every screen.
pub const WHEEL_ROWS: isize = 3;

/// Which table a click landed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Queues,
    Workers,
    /// The table of the drill-down view on top.
    View,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// Time passes: every age on screen is measured against this clock.
    Tick(DateTime<Utc>),
    /// A poll ended, at `at` by the local clock.
    Polled {
        result: Result<Snapshot, String>,
        at: DateTime<Utc>,
    },
    /// Where the data comes from changed ("shared: follower", "replica lag 0.4s").
    Source(Option<String>),
    /// The mouse: a click on what the screen drew there, or the wheel.
    Mouse(Mouse),
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
    /// The backend looked at what an action would do (`Effect::PlanAction`).
    Planned {
        request: u64,
        result: Result<Box<Plan>, String>,
    },
    /// A batch of a run committed.
    ActionProgress {
        run: u64,
        progress: Box<ActionOutcome>,
    },
    /// A run ended; `Err` when the gate refused it.
    ActionDone {
        run: u64,
        result: Result<Box<ActionOutcome>, String>,
    },
    /// The states of the jobs a phased retry watches.
    Watched {
        result: Result<Vec<(JobId, JobState)>, String>,
    },
    AuditLoaded {
        result: Result<Vec<AuditEntry>, String>,
    },
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
    /// Look at what `action` would change; answers with `Msg::Planned`.
    PlanAction {
        request: u64,
        action: Box<Action>,
    },
    /// Carry out a confirmed plan through the gate; answers with `Msg::ActionProgress` after
    /// each batch and `Msg::ActionDone` at the end.
    RunAction {
        run: u64,
        plan: Box<Plan>,
    },
    /// Stop a run before its next batch.
    StopAction {
        run: u64,
    },
    /// Look up the states of these jobs; answers with `Msg::Watched`.
    WatchJobs {
        ids: Vec<JobId>,
    },
    /// Read the audit log; answers with `Msg::AuditLoaded`.
    LoadAudit {
        filter: AuditFilter,
    },

    // ---- alert effects ----
    /// Ring the terminal bell: a critical alert started firing.
    Bell,
    /// Ctrl-Z: give the terminal back and stop (SIGTSTP) until `fg`, then redraw it all.
    Suspend,
}
