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

    /// Every button names what it does: the way out never shares a word with the action
    /// ("Cancel 1,489 jobs" next to "Keep them", not "Cancel" next to "Cancel").
    pub fn label(&self, choice: Choice) -> String {
        match choice {
            Choice::Cancel => match self.plan.kind() {
                ActionKind::Pause => "Keep it running".to_string(),
                ActionKind::Resume => "Keep it paused".to_string(),
                ActionKind::Retry => "Don't retry".to_string(),
                ActionKind::ResetStuck => "Don't reset".to_string(),
                _ if self.plan.eligible == 1 => "Keep it".to_string(),
                _ => "Keep them".to_string(),
            },
            Choice::Phased => {
                let sizes: Vec<String> = phased::split(&self.plan.ids, phased::DEFAULT_SAMPLE)
                    .iter()
                    .map(|(_, ids)| thousands(ids.len() as u64))
                    .collect();
                format!("Retry in phases: {}", sizes.join(" → "))
            }
            Choice::Proceed if self.choices.contains(&Choice::Phased) => {
                format!("Retry all {} at once", thousands(self.plan.eligible))
            }
            Choice::Proceed => self.plan.button(),
        }
    }

    /// The word is typed exactly: Enter may act.
    pub fn word_typed(&self) -> bool {
        self.word().is_some_and(|w| self.input.as_str().trim() == w)
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

/// The buttons of a phased retry between phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhasedChoice {
    Stop,
    /// Resume the paused queue (through the gate), so the retried jobs can run.
    Resume,
    Next,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhasedRetry {
    /// The whole set, as confirmed.
    pub plan: Plan,
    pub phases: Vec<(Phase, Vec<JobId>)>,
    pub results: Vec<PhaseResult>,
    pub running: Option<Running>,
    /// The highlighted button, an index into `choices`.
    pub focus: usize,
    /// The queue retried into, while the overview says it is paused: its jobs wait.
    pub paused_queue: Option<String>,
    /// The ticket of the resume asked from this dialog (its plan, then its run).
    pub resuming: Option<u64>,
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

    /// The buttons between phases, the way out first.
    pub fn choices(&self) -> Vec<PhasedChoice> {
        let mut choices = vec![PhasedChoice::Stop];
        if self.paused_queue.is_some() && self.resuming.is_none() && !self.over {
            choices.push(PhasedChoice::Resume);
        }
        if self.next_phase().is_some() {
            choices.push(PhasedChoice::Next);
        }
        choices
    }

    pub fn label(&self, choice: PhasedChoice) -> String {
        match choice {
            PhasedChoice::Stop => "Stop here".to_string(),
            PhasedChoice::Resume => format!(
                "Resume `{}`",
                self.paused_queue.as_deref().unwrap_or_default()
            ),
            PhasedChoice::Next => {
                let Some((p, ids)) = self.next_phase() else {
                    return String::new();
                };
                let n = thousands(ids.len() as u64);
                if self.all_failed_again().is_some() {
                    format!("Go on anyway: retry phase {} ({n} jobs)", p.number)
                } else {
                    format!("Retry phase {}: {n} jobs", p.number)
                }
            }
        }
    }

    /// The last phase's jobs all failed again (failed, of retried): going on would most
    /// likely fail the same way.
    pub fn all_failed_again(&self) -> Option<(u64, u64)> {
        let last = self.results.last()?;
        let t = last.tally;
        (t.failed > 0 && t.succeeded == 0 && t.pending == 0)
            .then_some((t.failed, last.outcome.changed))
    }

    pub(super) fn watched_ids(&self) -> Vec<JobId> {
        self.results
            .iter()
            .flat_map(|r| r.outcome.changed_ids.iter().cloned())
            .collect()
    }

    /// "retried 30 of 200 jobs in 2 of 3 phases; 170 not retried — phase 1 (sample): 10
    /// retried, 7 succeeded, …; phase 2 (10%): 20 retried, …; phase 3 (rest): 170 not run".
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
        let phases: Vec<String> = self
            .phases
            .iter()
            .enumerate()
            .map(|(i, (phase, ids))| {
                let head = format!("phase {} ({})", phase.number, phase.label);
                let planned = ids.len() as u64;
                let Some(r) = self.results.get(i) else {
                    return format!("{head}: {} not run", thousands(planned));
                };
                let mut text = if r.outcome.changed == planned {
                    format!("{head}: {} retried", thousands(planned))
                } else {
                    format!(
                        "{head}: {} of {} retried",
                        thousands(r.outcome.changed),
                        thousands(planned)
                    )
                };
                // Until its jobs are looked up, how they fare is not known: not said.
                let t = r.tally;
                if t.total() + r.gone > 0 {
                    text.push_str(&format!(
                        ", {} succeeded, {} failed again, {} waiting",
                        t.succeeded, t.failed, t.pending
                    ));
                }
                if r.outcome.stopped {
                    text.push_str(" (stopped)");
                }
                if r.outcome.error.is_some() {
                    text.push_str(" (failed)");
                }
                text
            })
            .collect();
        s.push_str(" — ");
        s.push_str(&phases.join("; "));
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
