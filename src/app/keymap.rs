//! Keys and what they mean: one table that drives both `update` and the help overlay, and
//! the keys each place on screen offers (`hints`): every footer and key line comes from here.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCommand {
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
    /// The overview chart's window: 1 h, 24 h, 7 d.
    HistoryWindow,
    Schedules,
    Filter,
    Copy,
    ToggleOrder,
    PageUp,
    PageDown,
    Left,
    Right,
    /// Show or mask again the values `redact` hides (never read-only or kiosk).
    Reveal,
}

/// Keys hidden from the footer and the help in read-only mode: those that change data,
/// and revealing masked values (refused there: a read-only screen is often a shared one).
pub fn hidden_when_read_only(command: KeyCommand) -> bool {
    changes_data(command) || command == KeyCommand::Reveal
}

/// Keys that change data (or prepare to): hidden from the footer and the help in
/// read-only mode, and refused there.
pub fn changes_data(command: KeyCommand) -> bool {
    matches!(
        command,
        KeyCommand::PauseResume
            | KeyCommand::Retry
            | KeyCommand::CancelJobs
            | KeyCommand::Discard
            | KeyCommand::Delete
            | KeyCommand::ResetStuck
            | KeyCommand::Mark
            | KeyCommand::MarkAll
    )
}

/// The bindings the screen lists: all of them, less the actions in read-only mode.
pub fn visible_bindings(read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| !(read_only && hidden_when_read_only(b.command)))
}

/// A key binding as the help overlay lists it.
pub struct Binding {
    pub keys: &'static str,
    pub command: KeyCommand,
    pub help: &'static str,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "?",
        command: KeyCommand::Help,
        help: "show or hide this help",
    },
    Binding {
        keys: "q",
        command: KeyCommand::Quit,
        help: "quit (also Ctrl-C)",
    },
    Binding {
        keys: "a",
        command: KeyCommand::Alerts,
        help: "alerts pane: firing, pending, resolved (1 h)",
    },
    Binding {
        keys: "Enter",
        command: KeyCommand::Open,
        help: "open the selection (an alert: its subject)",
    },
    Binding {
        keys: "d",
        command: KeyCommand::DeadLetters,
        help: "dead letters (in a queue: that queue's)",
    },
    Binding {
        keys: "s",
        command: KeyCommand::Stuck,
        help: "stuck jobs (running long, worker silent)",
    },
    Binding {
        keys: "w",
        command: KeyCommand::Workers,
        help: "workers; STALE: no heartbeat for --stale-after, its jobs stuck",
    },
    Binding {
        keys: "t",
        command: KeyCommand::Kinds,
        help: "job kinds by failure rate",
    },
    Binding {
        keys: "H",
        command: KeyCommand::HistoryWindow,
        help: "throughput chart over 1 h, 24 h or 7 d",
    },
    Binding {
        keys: "T",
        command: KeyCommand::Tenants,
        help: "tenants and their heartbeat budget",
    },
    Binding {
        keys: "C",
        command: KeyCommand::Schedules,
        help: "schedules: last runs, failures, missed runs",
    },
    Binding {
        keys: "/",
        command: KeyCommand::Filter,
        help: "filter: 48213 kind:K payload.k:v text; names",
    },
    Binding {
        keys: "Tab ← →",
        command: KeyCommand::Right,
        help: "in a view: next tab, window or pane",
    },
    Binding {
        keys: "PgUp PgDn",
        command: KeyCommand::PageDown,
        help: "a screen up / down (also [ ])",
    },
    Binding {
        keys: "o",
        command: KeyCommand::ToggleOrder,
        help: "oldest or newest first",
    },
    Binding {
        keys: "y",
        command: KeyCommand::Copy,
        help: "copy the job id (OSC 52)",
    },
    Binding {
        keys: "U",
        command: KeyCommand::Reveal,
        help: "show or mask again redacted secrets",
    },
    Binding {
        keys: "↑/k ↓/j",
        command: KeyCommand::Down,
        help: "move the selection",
    },
    Binding {
        keys: "g G",
        command: KeyCommand::Top,
        help: "first / last row",
    },
    Binding {
        keys: "Tab",
        command: KeyCommand::NextPane,
        help: "next pane (queues, workers)",
    },
    Binding {
        keys: "< >",
        command: KeyCommand::SortNext,
        help: "sort by the previous / next column",
    },
    Binding {
        keys: "I",
        command: KeyCommand::SortInvert,
        help: "invert the sort order",
    },
    Binding {
        keys: "space",
        command: KeyCommand::Freeze,
        help: "freeze the display (data keeps arriving)",
    },
    Binding {
        keys: "r",
        command: KeyCommand::RefreshNow,
        help: "refresh now",
    },
    Binding {
        keys: "+ -",
        command: KeyCommand::IntervalUp,
        help: "longer / shorter refresh interval (0.5–60 s)",
    },
    Binding {
        keys: "Esc",
        command: KeyCommand::Back,
        help: "back (a filter first), close the overlay",
    },
    // ---- actions ----
    Binding {
        keys: "p",
        command: KeyCommand::PauseResume,
        help: "pause / resume the selected queue; in schedules (C): deactivate / activate",
    },
    Binding {
        keys: "R",
        command: KeyCommand::Retry,
        help: "retry the queue's dead jobs (phased) / marked; in schedules (C): run now",
    },
    Binding {
        keys: "c",
        command: KeyCommand::CancelJobs,
        help: "cancel marked / selected jobs (not running)",
    },
    Binding {
        keys: "D",
        command: KeyCommand::Discard,
        help: "discard marked / selected jobs to dead letters",
    },
    Binding {
        keys: "X",
        command: KeyCommand::Delete,
        help: "delete marked / selected dead or cancelled jobs",
    },
    Binding {
        keys: "S",
        command: KeyCommand::ResetStuck,
        help: "reset stuck jobs of the queue / a STALE worker",
    },
    Binding {
        keys: "v V",
        command: KeyCommand::Mark,
        help: "mark a job / act on all jobs that match",
    },
    Binding {
        keys: "L",
        command: KeyCommand::Audit,
        help: "audit log: who did what",
    },
];

pub fn command_for(key: &KeyEvent) -> Option<KeyCommand> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(KeyCommand::Quit),
            KeyCode::Char('l') => Some(KeyCommand::RefreshNow),
            KeyCode::Char('f') => Some(KeyCommand::PageDown),
            KeyCode::Char('b') => Some(KeyCommand::PageUp),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => KeyCommand::Quit,
        KeyCode::Char('?') | KeyCode::F(1) => KeyCommand::Help,
        KeyCode::Up | KeyCode::Char('k') => KeyCommand::Up,
        KeyCode::Down | KeyCode::Char('j') => KeyCommand::Down,
        KeyCode::Home | KeyCode::Char('g') => KeyCommand::Top,
        KeyCode::End | KeyCode::Char('G') => KeyCommand::Bottom,
        KeyCode::Tab | KeyCode::BackTab => KeyCommand::NextPane,
        KeyCode::Char('+') | KeyCode::Char('=') => KeyCommand::IntervalUp,
        KeyCode::Char('-') | KeyCode::Char('_') => KeyCommand::IntervalDown,
        KeyCode::Char(' ') => KeyCommand::Freeze,
        KeyCode::Char('r') => KeyCommand::RefreshNow,
        KeyCode::Char('>') | KeyCode::Char('.') => KeyCommand::SortNext,
        KeyCode::Char('<') | KeyCode::Char(',') => KeyCommand::SortPrev,
        KeyCode::Char('I') => KeyCommand::SortInvert,
        KeyCode::Char('a') => KeyCommand::Alerts,
        KeyCode::Esc => KeyCommand::Back,
        KeyCode::Char('p') => KeyCommand::PauseResume,
        KeyCode::Char('R') => KeyCommand::Retry,
        KeyCode::Char('c') => KeyCommand::CancelJobs,
        KeyCode::Char('D') => KeyCommand::Discard,
        KeyCode::Char('X') => KeyCommand::Delete,
        KeyCode::Char('S') => KeyCommand::ResetStuck,
        KeyCode::Char('v') => KeyCommand::Mark,
        KeyCode::Char('V') => KeyCommand::MarkAll,
        KeyCode::Char('L') => KeyCommand::Audit,
        KeyCode::Enter => KeyCommand::Open,
        KeyCode::Char('d') => KeyCommand::DeadLetters,
        KeyCode::Char('s') => KeyCommand::Stuck,
        KeyCode::Char('w') => KeyCommand::Workers,
        KeyCode::Char('t') => KeyCommand::Kinds,
        KeyCode::Char('T') => KeyCommand::Tenants,
        KeyCode::Char('H') => KeyCommand::HistoryWindow,
        KeyCode::Char('C') => KeyCommand::Schedules,
        KeyCode::Char('/') => KeyCommand::Filter,
        KeyCode::Char('y') => KeyCommand::Copy,
        KeyCode::Char('U') => KeyCommand::Reveal,
        KeyCode::Char('o') => KeyCommand::ToggleOrder,
        KeyCode::PageDown | KeyCode::Char(']') => KeyCommand::PageDown,
        KeyCode::PageUp | KeyCode::Char('[') => KeyCommand::PageUp,
        KeyCode::Left | KeyCode::Char('h') => KeyCommand::Left,
        KeyCode::Right | KeyCode::Char('l') => KeyCommand::Right,
        _ => return None,
    })
}

/// Where keys are read, each with the keys it offers on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    /// The overview, and the alerts pane over it (keys it does not answer go through).
    Overview,
    /// A queue's job list, with its state tabs.
    QueueJobs,
    /// Any other job list: a worker's, a dead-letter group's, the stuck jobs.
    Jobs,
    Job,
    DeadLetters,
    Workers,
    Kinds,
    Tenants,
    Schedules,
    /// One schedule's run history.
    ScheduleRuns,
    /// The alerts pane's title.
    Alerts,
    Audit,
    /// The audit pane's filter being typed.
    AuditFilter,
    /// The `/` prompt.
    Prompt,
    Confirm,
    Running,
    Phased,
    Notice,
}

/// A key as a footer or a key line shows it: the key(s), what it does there, and the
/// command, where it is one (read-only mode hides the hints whose command changes data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub keys: &'static str,
    pub label: &'static str,
    pub command: Option<KeyCommand>,
}

const fn hint(keys: &'static str, label: &'static str, command: KeyCommand) -> Hint {
    Hint {
        keys,
        label,
        command: Some(command),
    }
}

/// A key read as a raw key, not a command (dialogs, prompts).
const fn raw(keys: &'static str, label: &'static str) -> Hint {
    Hint {
        keys,
        label,
        command: None,
    }
}

// Keys several views offer. In job lists and the detail the action keys come right after
// the way back (and Enter): they are what a list is opened for.
const BACK: Hint = hint("Esc", "back", KeyCommand::Back);
const MARK: Hint = hint("v", "mark", KeyCommand::Mark);
const MARK_ALL: Hint = hint("V", "all", KeyCommand::MarkAll);
const JOB_ACTIONS: Hint = hint("R c D X", "retry cancel discard delete", KeyCommand::Retry);
const FILTER: Hint = hint("/", "filter", KeyCommand::Filter);
const PAGE: Hint = hint("PgDn PgUp", "page", KeyCommand::PageDown);
const ORDER: Hint = hint("o", "order", KeyCommand::ToggleOrder);
const COPY_ID: Hint = hint("y", "copy id", KeyCommand::Copy);
const HELP: Hint = hint("?", "help", KeyCommand::Help);
const SORT: Hint = hint("< >", "sort", KeyCommand::SortNext);
const STATE_TABS: Hint = hint("Tab ←→", "state", KeyCommand::NextPane);

/// Most important first: the footer shows those that fit, in this order (`?` lists all).
const OVERVIEW_KEYS: &[Hint] = &[
    hint("?", "help", KeyCommand::Help),
    hint("q", "quit", KeyCommand::Quit),
    hint("a", "alerts", KeyCommand::Alerts),
    hint("Enter", "open", KeyCommand::Open),
    hint("d", "dead", KeyCommand::DeadLetters),
    hint("s", "stuck", KeyCommand::Stuck),
    hint("w", "workers", KeyCommand::Workers),
    hint("R", "retry", KeyCommand::Retry),
    hint("p", "pause", KeyCommand::PauseResume),
    hint("L", "audit", KeyCommand::Audit),
    hint("t", "kinds", KeyCommand::Kinds),
    FILTER,
    hint("S", "reset", KeyCommand::ResetStuck),
    hint("C", "schedules", KeyCommand::Schedules),
    hint("H", "1h/24h/7d", KeyCommand::HistoryWindow),
    hint("Tab", "pane", KeyCommand::NextPane),
    hint("< >", "sort", KeyCommand::SortNext),
    hint("space", "freeze", KeyCommand::Freeze),
    hint("r", "refresh", KeyCommand::RefreshNow),
    hint("+ -", "interval", KeyCommand::IntervalUp),
];
/// A job list's keys; lists that are not a queue's have no state tabs (`hints`).
const JOB_LIST_KEYS: &[Hint] = &[
    BACK,
    hint("Enter", "job", KeyCommand::Open),
    MARK,
    MARK_ALL,
    JOB_ACTIONS,
    STATE_TABS,
    FILTER,
    PAGE,
    ORDER,
    COPY_ID,
    HELP,
];
const JOB_KEYS: &[Hint] = &[
    BACK,
    hint("Tab", "errors/payload", KeyCommand::NextPane),
    JOB_ACTIONS,
    hint("↑↓ PgUp PgDn", "scroll", KeyCommand::Down),
    hint("←→", "sideways", KeyCommand::Right),
    COPY_ID,
    hint("U", "unmask", KeyCommand::Reveal),
    HELP,
];
const DEAD_LETTERS_KEYS: &[Hint] = &[
    BACK,
    hint("Enter", "jobs", KeyCommand::Open),
    hint("Tab ←→", "1h/24h/7d", KeyCommand::NextPane),
    FILTER,
    SORT,
    HELP,
];
const WORKERS_KEYS: &[Hint] = &[
    BACK,
    hint("Enter", "jobs held", KeyCommand::Open),
    FILTER,
    SORT,
    HELP,
];
const KINDS_KEYS: &[Hint] = &[
    BACK,
    hint("Enter", "errors", KeyCommand::Open),
    hint("Tab ←→", "1h/1d", KeyCommand::NextPane),
    FILTER,
    SORT,
    HELP,
];
const SCHEDULE_SWITCH: Hint = hint("p", "on/off", KeyCommand::PauseResume);
const SCHEDULE_RUN_NOW: Hint = hint("R", "run now", KeyCommand::Retry);
const SCHEDULES_KEYS: &[Hint] = &[
    BACK,
    hint("Enter", "run history", KeyCommand::Open),
    SCHEDULE_SWITCH,
    SCHEDULE_RUN_NOW,
    FILTER,
    SORT,
    HELP,
];
const SCHEDULE_RUNS_KEYS: &[Hint] = &[
    BACK,
    hint("↑↓", "move", KeyCommand::Down),
    SCHEDULE_SWITCH,
    SCHEDULE_RUN_NOW,
    HELP,
];
const TENANTS_KEYS: &[Hint] = &[
    BACK,
    hint("r", "refresh", KeyCommand::RefreshNow),
    FILTER,
    SORT,
    HELP,
];
const ALERTS_KEYS: &[Hint] = &[raw("a or Esc", "closes"), raw("Enter", "opens its subject")];
const AUDIT_KEYS: &[Hint] = &[
    raw("/", "filter"),
    raw("↑↓", "move"),
    raw("r", "reload"),
    raw("Esc or L", "closes"),
];
const AUDIT_FILTER_KEYS: &[Hint] = &[raw("Enter", "applies"), raw("Esc", "")];
const PROMPT_KEYS: &[Hint] = &[raw("Enter", "applies"), raw("Esc", "cancels")];
const CONFIRM_KEYS: &[Hint] = &[
    raw("arrows", "choose"),
    raw("Enter", "confirms the highlighted button"),
    raw("Esc", "cancels"),
];
const RUNNING_KEYS: &[Hint] = &[raw(
    "Esc",
    "stops after this batch; what is done stays done",
)];
const PHASED_KEYS: &[Hint] = &[
    raw("arrows", "choose"),
    raw("Enter", ""),
    raw("Esc", "stops (what was done stays done)"),
];
const NOTICE_KEYS: &[Hint] = &[raw("Enter or Esc", "closes")];

/// The keys a place offers, most useful first (a footer shows as many as fit).
pub fn hints(context: KeyContext) -> impl Iterator<Item = &'static Hint> {
    let tabs = context == KeyContext::QueueJobs;
    let keys = match context {
        KeyContext::Overview => OVERVIEW_KEYS,
        KeyContext::QueueJobs | KeyContext::Jobs => JOB_LIST_KEYS,
        KeyContext::Job => JOB_KEYS,
        KeyContext::DeadLetters => DEAD_LETTERS_KEYS,
        KeyContext::Workers => WORKERS_KEYS,
        KeyContext::Kinds => KINDS_KEYS,
        KeyContext::Tenants => TENANTS_KEYS,
        KeyContext::Schedules => SCHEDULES_KEYS,
        KeyContext::ScheduleRuns => SCHEDULE_RUNS_KEYS,
        KeyContext::Alerts => ALERTS_KEYS,
        KeyContext::Audit => AUDIT_KEYS,
        KeyContext::AuditFilter => AUDIT_FILTER_KEYS,
        KeyContext::Prompt => PROMPT_KEYS,
        KeyContext::Confirm => CONFIRM_KEYS,
        KeyContext::Running => RUNNING_KEYS,
        KeyContext::Phased => PHASED_KEYS,
        KeyContext::Notice => NOTICE_KEYS,
    };
    keys.iter().filter(move |h| tabs || **h != STATE_TABS)
}

/// The hints a place shows: all of them, less the ones that change data in read-only mode.
pub fn visible_hints(context: KeyContext, read_only: bool) -> impl Iterator<Item = &'static Hint> {
    hints(context).filter(move |h| !(read_only && h.command.is_some_and(hidden_when_read_only)))
}

/// The hints as one line of text: `/ filter · ↑↓ move · Esc or L closes`.
pub fn hint_line(context: KeyContext) -> String {
    let parts: Vec<String> = hints(context)
        .map(|h| match h.label {
            "" => h.keys.to_string(),
            label => format!("{} {label}", h.keys),
        })
        .collect();
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys a hint names, as key codes: `Esc`, `PgDn`, `space`, or one key per
    /// character (`←→`, `R`).
    fn codes(keys: &str) -> Vec<KeyCode> {
        keys.split(' ')
            .flat_map(|token| match token {
                "Esc" => vec![KeyCode::Esc],
                "Enter" => vec![KeyCode::Enter],
                "Tab" => vec![KeyCode::Tab],
                "PgUp" => vec![KeyCode::PageUp],
                "PgDn" => vec![KeyCode::PageDown],
                "space" => vec![KeyCode::Char(' ')],
                t => t
                    .chars()
                    .map(|c| match c {
                        '↑' => KeyCode::Up,
                        '↓' => KeyCode::Down,
                        '←' => KeyCode::Left,
                        '→' => KeyCode::Right,
                        c => KeyCode::Char(c),
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn every_hint_names_a_key_that_does_what_it_says() {
        let all = [
            KeyContext::Overview,
            KeyContext::QueueJobs,
            KeyContext::Jobs,
            KeyContext::Job,
            KeyContext::DeadLetters,
            KeyContext::Workers,
            KeyContext::Kinds,
            KeyContext::Tenants,
            KeyContext::Schedules,
            KeyContext::ScheduleRuns,
        ];
        for context in all {
            for h in hints(context) {
                let command = h.command.expect("screen keys are commands");
                let found = codes(h.keys)
                    .into_iter()
                    .any(|c| command_for(&KeyEvent::from(c)) == Some(command));
                assert!(found, "{context:?}: {} does not {command:?}", h.keys);
            }
        }
    }

    #[test]
    fn read_only_hides_what_changes_data() {
        let keys: Vec<&str> = visible_hints(KeyContext::QueueJobs, true)
            .map(|h| h.keys)
            .collect();
        assert!(
            !keys.contains(&"v") && !keys.contains(&"R c D X"),
            "{keys:?}"
        );
        assert_eq!(
            hint_line(KeyContext::Audit),
            "/ filter · ↑↓ move · r reload · Esc or L closes"
        );
    }
}
