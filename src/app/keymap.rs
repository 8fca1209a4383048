//! Keys and what they mean: one table that drives both `update` and the help overlay.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    Up,
    Down,
    Top,
    Bottom,
    NextPane,
    IntervalUp,
    IntervalDown,
    Freeze,
    RefreshNow,
    SortNext,
    SortPrev,
    SortInvert,
    Back,
    Alerts,
    // Actions (issue 3): the ones that change data are hidden in read-only mode.
    PauseResume,
    Retry,
    CancelJobs,
    Discard,
    Delete,
    ResetStuck,
    Mark,
    MarkAll,
    Audit,
    // Drill-down.
    Open,
    DeadLetters,
    Stuck,
    Workers,
    Kinds,
    Tenants,
    Filter,
    Copy,
    ToggleOrder,
    PageUp,
    PageDown,
    Left,
    Right,
}

/// Keys that change data (or prepare to): hidden from the footer and the help in
/// read-only mode, and refused there.
pub fn changes_data(command: Command) -> bool {
    matches!(
        command,
        Command::PauseResume
            | Command::Retry
            | Command::CancelJobs
            | Command::Discard
            | Command::Delete
            | Command::ResetStuck
            | Command::Mark
            | Command::MarkAll
    )
}

/// The bindings the screen lists: all of them, less the actions in read-only mode.
pub fn visible_bindings(read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| !(read_only && changes_data(b.command)))
}

/// A key binding as the help overlay and footer list it.
pub struct Binding {
    pub keys: &'static str,
    pub command: Command,
    pub help: &'static str,
    /// Shown in the footer, in this order, when there is room.
    pub footer: Option<&'static str>,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "?",
        command: Command::Help,
        help: "show or hide this help",
        footer: Some("help"),
    },
    Binding {
        keys: "q",
        command: Command::Quit,
        help: "quit (also Ctrl-C)",
        footer: Some("quit"),
    },
    Binding {
        keys: "a",
        command: Command::Alerts,
        help: "alerts pane: firing, pending, resolved (1 h)",
        footer: Some("alerts"),
    },
    Binding {
        keys: "Enter",
        command: Command::Open,
        help: "open the selected queue, job, group or worker",
        footer: Some("open"),
    },
    Binding {
        keys: "d",
        command: Command::DeadLetters,
        help: "dead letters by error signature",
        footer: Some("dead"),
    },
    Binding {
        keys: "s",
        command: Command::Stuck,
        help: "stuck jobs (running long, worker silent)",
        footer: Some("stuck"),
    },
    Binding {
        keys: "w",
        command: Command::Workers,
        help: "workers and the jobs they hold",
        footer: Some("workers"),
    },
    Binding {
        keys: "t",
        command: Command::Kinds,
        help: "job kinds by failure rate",
        footer: Some("kinds"),
    },
    Binding {
        keys: "T",
        command: Command::Tenants,
        help: "tenants and their heartbeat budget",
        footer: None,
    },
    Binding {
        keys: "/",
        command: Command::Filter,
        help: "filter: 48213 kind:K tenant:T error text",
        footer: Some("filter"),
    },
    Binding {
        keys: "Tab ← →",
        command: Command::Right,
        help: "in a view: next tab, window or pane",
        footer: None,
    },
    Binding {
        keys: "PgUp PgDn",
        command: Command::PageDown,
        help: "previous / next page (also [ ])",
        footer: None,
    },
    Binding {
        keys: "o",
        command: Command::ToggleOrder,
        help: "oldest or newest first",
        footer: None,
    },
    Binding {
        keys: "y",
        command: Command::Copy,
        help: "copy the job id (OSC 52)",
        footer: None,
    },
    Binding {
        keys: "↑/k ↓/j",
        command: Command::Down,
        help: "move the selection",
        footer: None,
    },
    Binding {
        keys: "g G",
        command: Command::Top,
        help: "first / last row",
        footer: None,
    },
    Binding {
        keys: "Tab",
        command: Command::NextPane,
        help: "next pane (queues, workers)",
        footer: Some("pane"),
    },
    Binding {
        keys: "< >",
        command: Command::SortNext,
        help: "sort by the previous / next column",
        footer: Some("sort"),
    },
    Binding {
        keys: "I",
        command: Command::SortInvert,
        help: "invert the sort order",
        footer: None,
    },
    Binding {
        keys: "space",
        command: Command::Freeze,
        help: "freeze the display (data keeps arriving)",
        footer: Some("freeze"),
    },
    Binding {
        keys: "r",
        command: Command::RefreshNow,
        help: "refresh now",
        footer: Some("refresh"),
    },
    Binding {
        keys: "+ -",
        command: Command::IntervalUp,
        help: "longer / shorter refresh interval (0.5–60 s)",
        footer: Some("interval"),
    },
    Binding {
        keys: "Esc",
        command: Command::Back,
        help: "back (a filter first), close the overlay",
        footer: None,
    },
    // ---- actions ----
    Binding {
        keys: "p",
        command: Command::PauseResume,
        help: "pause / resume the selected queue",
        footer: Some("pause"),
    },
    Binding {
        keys: "R",
        command: Command::Retry,
        help: "retry the queue's dead jobs (phased) / marked",
        footer: Some("retry"),
    },
    Binding {
        keys: "c",
        command: Command::CancelJobs,
        help: "cancel marked / selected jobs (not running)",
        footer: None,
    },
    Binding {
        keys: "D",
        command: Command::Discard,
        help: "discard marked / selected jobs to dead letters",
        footer: None,
    },
    Binding {
        keys: "X",
        command: Command::Delete,
        help: "delete marked / selected dead or cancelled jobs",
        footer: None,
    },
    Binding {
        keys: "S",
        command: Command::ResetStuck,
        help: "reset stuck jobs of the queue / worker",
        footer: Some("stuck"),
    },
    Binding {
        keys: "v V",
        command: Command::Mark,
        help: "mark a job / act on all jobs that match",
        footer: None,
    },
    Binding {
        keys: "L",
        command: Command::Audit,
        help: "audit log: who did what",
        footer: Some("audit"),
    },
];

pub fn command_for(key: &KeyEvent) -> Option<Command> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Command::Quit),
            KeyCode::Char('l') => Some(Command::RefreshNow),
            KeyCode::Char('f') => Some(Command::PageDown),
            KeyCode::Char('b') => Some(Command::PageUp),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Command::Quit,
        KeyCode::Char('?') | KeyCode::F(1) => Command::Help,
        KeyCode::Up | KeyCode::Char('k') => Command::Up,
        KeyCode::Down | KeyCode::Char('j') => Command::Down,
        KeyCode::Home | KeyCode::Char('g') => Command::Top,
        KeyCode::End | KeyCode::Char('G') => Command::Bottom,
        KeyCode::Tab | KeyCode::BackTab => Command::NextPane,
        KeyCode::Char('+') | KeyCode::Char('=') => Command::IntervalUp,
        KeyCode::Char('-') | KeyCode::Char('_') => Command::IntervalDown,
        KeyCode::Char(' ') => Command::Freeze,
        KeyCode::Char('r') => Command::RefreshNow,
        KeyCode::Char('>') | KeyCode::Char('.') => Command::SortNext,
        KeyCode::Char('<') | KeyCode::Char(',') => Command::SortPrev,
        KeyCode::Char('I') => Command::SortInvert,
        KeyCode::Char('a') => Command::Alerts,
        KeyCode::Esc => Command::Back,
        KeyCode::Char('p') => Command::PauseResume,
        KeyCode::Char('R') => Command::Retry,
        KeyCode::Char('c') => Command::CancelJobs,
        KeyCode::Char('D') => Command::Discard,
        KeyCode::Char('X') => Command::Delete,
        KeyCode::Char('S') => Command::ResetStuck,
        KeyCode::Char('v') => Command::Mark,
        KeyCode::Char('V') => Command::MarkAll,
        KeyCode::Char('L') => Command::Audit,
        KeyCode::Enter => Command::Open,
        KeyCode::Char('d') => Command::DeadLetters,
        KeyCode::Char('s') => Command::Stuck,
        KeyCode::Char('w') => Command::Workers,
        KeyCode::Char('t') => Command::Kinds,
        KeyCode::Char('T') => Command::Tenants,
        KeyCode::Char('/') => Command::Filter,
        KeyCode::Char('y') => Command::Copy,
        KeyCode::Char('o') => Command::ToggleOrder,
        KeyCode::PageDown | KeyCode::Char(']') => Command::PageDown,
        KeyCode::PageUp | KeyCode::Char('[') => Command::PageUp,
        KeyCode::Left | KeyCode::Char('h') => Command::Left,
        KeyCode::Right | KeyCode::Char('l') => Command::Right,
        _ => return None,
    })
}
