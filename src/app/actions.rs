//! The state of actions in the monitor: confirmations, the progress of a run, the phased
//! retry and the audit pane. `update::actions` changes it.

use chrono::{DateTime, Utc};

use super::editor::LineEditor;
use super::phased::{self, Tally};
use super::selection::{ListSelection, rows};
use crate::backend::JobId;
use crate::backend::actions::{Phase, thousands};
use crate::backend::{ActionKind, ActionOutcome, AuditEntry, AuditFilter, Plan};

/// Seconds a message stays in the footer.
pub const TOAST_SECS: i64 = 10;
/// Audit rows the pane reads.
pub const AUDIT_ROWS: i64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Warn,
    Error,
}

/// A one-line message in the footer: an action's result, or a hint about a key (the only
/// kind of footer message there is).
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

/// What a confirmation can do; the first is always Cancel, and it has the focus first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Cancel,
    /// Do it (all of it).
    Proceed,
    /// Retry a sample, then 10%, then the rest.
    Phased,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub plan: Plan,
    pub choices: Vec<Choice>,
    pub focus: usize,
    /// What the operator typed: the confirmation word, or a pause's reason.
    pub input: LineEditor,
    /// Said when Enter came before the right word.
    pub hint: Option<String>,
}

impl Confirm {
    pub(super) fn new(plan: Plan, phased: bool) -> Confirm {
        let mut choices = vec![Choice::Cancel];
        if phased && plan.kind() == ActionKind::Retry && plan.ids.len() > phased::PHASE_ABOVE {
            choices.push(Choice::Phased);
        }
        choices.push(Choice::Proceed);
        Confirm {
            plan,
            choices,
            focus: 0,
            input: LineEditor::default(),
            hint: None,
        }
    }

    /// The word to type before proceeding, if the plan asks for one.
    pub fn word(&self) -> Option<String> {
        self.plan.typed_confirmation()
    }

    /// The prompt of the input line, when there is one.
    pub fn input_label(&self) -> Option<String> {
        match (self.word(), self.plan.kind()) {
            (Some(w), _) => Some(format!("Type `{w}` to confirm:")),
            (None, ActionKind::Pause) => Some("Reason (optional):".to_string()),
            _ => None,
        }
    }

    pub fn label(&self, choice: Choice) -> String {
        match choice {
            Choice::Cancel => "Cancel".to_string(),
            Choice::Phased => {
                let sizes: Vec<String> = phased::split(&self.plan.ids, phased::DEFAULT_SAMPLE)
                    .iter()
                    .map(|(_, ids)| thousands(ids.len() as u64))
                    .collect();
                format!("Phased: {}", sizes.join(" → "))
            }
            Choice::Proceed if self.choices.contains(&Choice::Phased) => {
                format!("All {} at once", thousands(self.plan.eligible))
            }
            Choice::Proceed => self.plan.kind().verb().to_string(),
        }
    }
}

/// A run in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub run: u64,
    pub plan: Plan,
    /// After the latest committed batch.
    pub progress: Option<ActionOutcome>,
    /// Esc was pressed: the run ends before its next batch.
    pub stopping: bool,
}

/// A finished phase of a phased retry and how its jobs fare since.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseResult {
    pub phase: Phase,
    pub outcome: ActionOutcome,
    /// The retried jobs by state now (from the latest look-up).
    pub tally: Tally,
    /// Retried jobs that no longer exist.
    pub gone: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhasedRetry {
    /// The whole set, as confirmed.
    pub plan: Plan,
    pub phases: Vec<(Phase, Vec<JobId>)>,
    pub results: Vec<PhaseResult>,
    pub running: Option<Running>,
    /// 0 = stop here, 1 = next phase.
    pub focus: usize,
    /// A look-up of the watched jobs is on its way.
    pub watching: bool,
    /// Every phase ran, or a phase stopped or failed: nothing more will run.
    pub over: bool,
}

impl PhasedRetry {
    pub fn next_phase(&self) -> Option<&(Phase, Vec<JobId>)> {
        if self.over || self.running.is_some() {
            return None;
        }
        self.phases.get(self.results.len())
    }

    pub(super) fn watched_ids(&self) -> Vec<JobId> {
        self.results
            .iter()
            .flat_map(|r| r.outcome.changed_ids.iter().cloned())
            .collect()
    }

    /// "retried 30 of 200 jobs in 2 of 3 phases; 170 not retried".
    pub fn summary(&self) -> String {
        let changed: u64 = self.results.iter().map(|r| r.outcome.changed).sum();
        let mut s = format!(
            "phased retry: retried {} of {} jobs in {} of {} phases",
            thousands(changed),
            thousands(self.plan.eligible),
            self.results.len(),
            self.phases.len()
        );
        let left: usize = self.phases[self.results.len().min(self.phases.len())..]
            .iter()
            .map(|(_, ids)| ids.len())
            .sum();
        if left > 0 {
            s.push_str(&format!("; {} not retried", thousands(left as u64)));
        }
        if let Some(first) = self.results.first() {
            s.push_str(&format!(
                " (sample: {} succeeded, {} failed again)",
                first.tally.succeeded, first.tally.failed
            ));
        }
        s
    }
}

// One dialog at a time lives in the state: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    /// Waiting for the plan.
    Looking {
        request: u64,
        title: String,
        phased: bool,
    },
    Confirm(Confirm),
    Running(Running),
    Phased(PhasedRetry),
    /// Nothing to do, or why not.
    Notice {
        title: String,
        lines: Vec<String>,
    },
}

/// The audit pane (`L`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPane {
    pub entries: Vec<AuditEntry>,
    /// `queue:mailers action:retry actor:alice outcome:failed`; bare words are read as an
    /// action or outcome name when they are one, else as actor text.
    pub filter: String,
    /// The filter being typed, while `/` is active.
    pub editing: Option<LineEditor>,
    /// By row: entries are a log, newest first.
    pub selected: ListSelection<usize>,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<String>,
}

impl Default for AuditPane {
    fn default() -> Self {
        AuditPane {
            entries: Vec::new(),
            filter: String::new(),
            editing: None,
            selected: ListSelection::at(0),
            loading: false,
            loaded: false,
            error: None,
        }
    }
}

impl AuditPane {
    /// The row numbers: the keys of the selection.
    pub fn keys(&self) -> Vec<usize> {
        rows(self.entries.len())
    }

    pub fn selected_index(&self) -> Option<usize> {
        self.selected.index(&self.keys())
    }

    pub fn query(&self) -> AuditFilter {
        parse_audit_filter(&self.filter)
    }
}

pub fn parse_audit_filter(text: &str) -> AuditFilter {
    let mut f = AuditFilter {
        limit: AUDIT_ROWS,
        ..AuditFilter::default()
    };
    for word in text.split_whitespace() {
        let (key, value) = match word.split_once(':') {
            Some((k, v)) if !v.is_empty() => (k, v.to_string()),
            _ if ActionKind::parse(word).is_some() => ("action", word.to_string()),
            _ if matches!(word, "ok" | "partial" | "failed") => ("outcome", word.to_string()),
            _ => ("actor", word.to_string()),
        };
        match key {
            "queue" | "q" => f.queue = Some(value),
            "action" | "a" => f.action = Some(value),
            "outcome" | "o" => f.outcome = Some(value),
            _ => f.actor = Some(value),
        }
    }
    f
}

/// Everything about actions that the monitor keeps.
#[derive(Debug, Clone, Default)]
pub struct ActionsState {
    pub dialog: Option<Dialog>,
    pub audit: Option<AuditPane>,
}
