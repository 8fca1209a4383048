//! The TOML profile that describes a home-grown queue table: where it is, which column holds
//! each field, which status values mean which state, and how (if at all) a queue is paused.
//! Every mistake is reported with the line and column it was made on, including the ones
//! only the database can reveal (a column that does not exist).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

/// How a status value is shown. `Queued` and `Retrying` are split by the run-at column (and
/// `Queued` by attempts) the way the reference schema splits `queued` and `retrying`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// Waiting: ready once due; before that scheduled, or retrying if attempted before.
    Queued,
    /// Failed and waiting for another attempt: ready once due, retrying before.
    Retrying,
    Ready,
    Scheduled,
    Running,
    Succeeded,
    Dead,
    Cancelled,
}

impl Target {
    const NAMES: [(&'static str, Target); 8] = [
        ("queued", Target::Queued),
        ("retrying", Target::Retrying),
        ("ready", Target::Ready),
        ("scheduled", Target::Scheduled),
        ("running", Target::Running),
        ("succeeded", Target::Succeeded),
        ("dead", Target::Dead),
        ("cancelled", Target::Cancelled),
    ];

    fn parse(s: &str) -> Option<Target> {
        Target::NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
    }

    fn expected() -> String {
        Target::NAMES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub id: Spanned<String>,
    pub status: Spanned<String>,
    pub queue: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub run_at: Option<Spanned<String>>,
    pub created_at: Option<Spanned<String>>,
    pub started_at: Option<Spanned<String>>,
    pub finished_at: Option<Spanned<String>>,
    pub attempts: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<String>>,
    pub worker: Option<Spanned<String>>,
    pub heartbeat_at: Option<Spanned<String>>,
    pub tenant: Option<Spanned<String>>,
    /// The last error: text, or JSON (shown as its `message`, else as JSON text).
    pub error: Option<Spanned<String>>,
    /// A JSON array with one entry per failed attempt.
    pub errors: Option<Spanned<String>>,
    pub payload: Option<Spanned<String>>,
}

impl Columns {
    /// Every column named, with the profile key it was given under.
    pub fn named(&self) -> Vec<(&'static str, &Spanned<String>)> {
        let optional = [
            ("queue", &self.queue),
            ("kind", &self.kind),
            ("run_at", &self.run_at),
            ("created_at", &self.created_at),
            ("started_at", &self.started_at),
            ("finished_at", &self.finished_at),
            ("attempts", &self.attempts),
            ("max_attempts", &self.max_attempts),
            ("worker", &self.worker),
            ("heartbeat_at", &self.heartbeat_at),
            ("tenant", &self.tenant),
            ("error", &self.error),
            ("errors", &self.errors),
            ("payload", &self.payload),
        ];
        let mut out = vec![("id", &self.id), ("status", &self.status)];
        out.extend(
            optional
                .into_iter()
                .filter_map(|(key, col)| col.as_ref().map(|c| (key, c))),
        );
        out
    }
}

/// A table of its own that says which queues are paused: a row with `paused_at` set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub schema: Option<Spanned<String>>,
    pub table: Spanned<String>,
    pub queue: Spanned<String>,
    pub paused_at: Spanned<String>,
    pub paused_by: Option<Spanned<String>>,
    pub reason: Option<Spanned<String>>,
}

/// What NULL means where the table allows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nulls {
    /// `"now"`: a waiting job without a run-at time is due now (ready, waiting since its
    /// creation). Left out, such a job is in no bucket.
    pub run_at: Option<Spanned<String>>,
    /// Columns the actions never set to NULL (those declared NOT NULL are found in the
    /// catalog): an action that would clear one leaves it as it is.
    #[serde(default)]
    pub never_null: Vec<Spanned<String>>,
}

/// A table of its own that keeps the workers' heartbeats: the job's `worker` column holds
/// the `id` of its row there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workers {
    pub schema: Option<Spanned<String>>,
    pub table: Spanned<String>,
    pub id: Spanned<String>,
    pub heartbeat: Spanned<String>,
}

/// Which job actions the table allows, each as the status value a changed job gets. What a
/// change also sets follows from the columns the profile names (run-at now on retry, the
/// finish time, the worker and heartbeat cleared); no SQL comes from the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    /// Dead, cancelled, scheduled or retrying -> this waiting status, due now.
    pub retry: Option<Spanned<String>>,
    /// Waiting -> this cancelled status.
    pub cancel: Option<Spanned<String>>,
    /// Waiting -> this dead status.
    pub discard: Option<Spanned<String>>,
    /// Dead or cancelled rows may be deleted.
    #[serde(default)]
    pub delete: bool,
    /// Finished rows (the statuses mapped to succeeded, dead, cancelled) whose finished-at
    /// is older than a cutoff may be deleted in batches (`jobtop purge`).
    #[serde(default)]
    pub purge: bool,
    /// Running jobs whose heartbeat (else start) is stale -> this waiting status, due now.
    pub reset_stuck: Option<Spanned<String>>,
}

/// An `[actions]` key, the status it sets, and the states that status may be mapped to.
type ActionStatus<'a> = (&'a str, &'a Option<Spanned<String>>, &'a [Target]);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<Spanned<String>>,
    description: Option<String>,
    schema: Option<Spanned<String>>,
    table: Spanned<String>,
    queue_name: Option<Spanned<String>>,
    columns: Columns,
    statuses: Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
    #[serde(default)]
    nulls: Nulls,
    workers: Option<Workers>,
    pause: Option<Pause>,
    actions: Option<Actions>,
}

/// A validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    pub schema: Option<Spanned<String>>,
    pub table: Spanned<String>,
    /// The queue every job belongs to when the table has no queue column.
    pub queue_name: Option<String>,
    pub columns: Columns,
    /// Status value -> how it is shown, in the profile's order of values.
    pub statuses: Vec<(String, Target)>,
    pub nulls: Nulls,
    /// Whether a waiting job with a NULL run-at time is due now (`[nulls] run_at = "now"`).
    pub null_run_at_is_now: bool,
    pub workers: Option<Workers>,
    pub pause: Option<Pause>,
    pub actions: Actions,
    origin: String,
    text: Arc<str>,
}

/// A mistake in a profile, where it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    /// The file (or shipped profile) the text came from.
    pub origin: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ProfileError {}

/// Line and column (1-based) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// Status values become SQL literals (so partial indexes match): keep them plain.
fn plain_value(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | ' '))
}

const SHIPPED: [(&str, &str); 3] = [
    (
        "job_queue",
        include_str!("../../../assets/profiles/job_queue.toml"),
    ),
    (
        "jobforge",
        include_str!("../../../assets/profiles/jobforge.toml"),
    ),
    ("cepro", include_str!("../../../assets/profiles/cepro.toml")),
];

impl Profile {
    /// Parses and checks a profile's text; `origin` names it in error messages.
    pub fn parse(origin: &str, text: &str) -> Result<Profile, ProfileError> {
        let text: Arc<str> = Arc::from(text);
        let fail = |span: Range<usize>, message: String| {
            let (line, column) = position(&text, span.start);
            ProfileError {
                origin: origin.to_string(),
                line,
                column,
                message,
            }
        };
        let raw: Raw = toml::from_str(&text).map_err(|err| {
            fail(
                err.span().unwrap_or(0..0),
                err.message().trim_end().to_string(),
            )
        })?;
        let mut names: Vec<&Spanned<String>> = vec![&raw.table];
        names.extend(raw.schema.iter());
        names.extend(raw.columns.named().into_iter().map(|(_, c)| c));
        if let Some(p) = &raw.pause {
            names.extend([&p.table, &p.queue, &p.paused_at]);
            names.extend(p.schema.iter().chain(&p.paused_by).chain(&p.reason));
        }
        if let Some(w) = &raw.workers {
            names.extend([&w.table, &w.id, &w.heartbeat]);
            names.extend(w.schema.iter());
        }
        names.extend(raw.nulls.never_null.iter());
        for name in names {
            if name.get_ref().is_empty() || name.get_ref().contains('\0') {
                return Err(fail(name.span(), "a name cannot be empty".into()));
            }
        }
        if let (Some(_), Some(constant)) = (&raw.columns.queue, &raw.queue_name) {
            return Err(fail(
                constant.span(),
                "`queue_name` is for tables without a queue column, but `columns.queue` is set"
                    .into(),
            ));
        }
        if let (Some(hb), None) = (&raw.columns.heartbeat_at, &raw.columns.worker) {
            return Err(fail(
                hb.span(),
                "`heartbeat_at` needs `worker`: a heartbeat belongs to a worker".into(),
            ));
        }
        if let Some(w) = &raw.workers {
            if raw.columns.worker.is_none() {
                return Err(fail(
                    w.table.span(),
                    "[workers] needs `columns.worker`: the job's worker id joins the two".into(),
                ));
            }
            if let Some(hb) = &raw.columns.heartbeat_at {
                return Err(fail(
                    hb.span(),
                    "`heartbeat_at` and [workers] both give heartbeats: keep one".into(),
                ));
            }
        }
        let null_run_at_is_now = match &raw.nulls.run_at {
            None => false,
            Some(v) if v.get_ref() == "now" => {
                if raw.columns.run_at.is_none() {
                    return Err(fail(
                        v.span(),
                        "`[nulls] run_at` needs `columns.run_at`".into(),
                    ));
                }
                true
            }
            Some(v) => {
                return Err(fail(
                    v.span(),
                    format!(
                        "`[nulls] run_at` is {:?}: the one value it takes is \"now\"",
                        v.get_ref()
                    ),
                ));
            }
        };
        let mut statuses = Vec::new();
        for (value, target) in raw.statuses.get_ref() {
            if !plain_value(value.get_ref()) {
                return Err(fail(
                    value.span(),
                    format!(
                        "status value {:?}: use letters, digits, spaces and _ - . : only",
                        value.get_ref()
                    ),
                ));
            }
            let Some(t) = Target::parse(target.get_ref()) else {
                return Err(fail(
                    target.span(),
                    format!(
                        "unknown state {:?} for status {:?}: expected one of {}",
                        target.get_ref(),
                        value.get_ref(),
                        Target::expected()
                    ),
                ));
            };
            statuses.push((value.get_ref().clone(), t));
        }
        let waits = statuses.iter().any(|(_, t)| {
            matches!(
                t,
                Target::Queued | Target::Retrying | Target::Ready | Target::Scheduled
            )
        });
        if !waits || !statuses.iter().any(|(_, t)| *t == Target::Running) {
            return Err(fail(
                raw.statuses.span(),
                "map at least one status to \"running\" and one to a waiting state \
                 (\"queued\", \"ready\", \"scheduled\" or \"retrying\")"
                    .into(),
            ));
        }
        let actions = raw.actions.clone().unwrap_or_default();
        let waiting = [Target::Queued, Target::Retrying, Target::Ready];
        let wants: [ActionStatus; 4] = [
            ("retry", &actions.retry, &waiting),
            ("cancel", &actions.cancel, &[Target::Cancelled]),
            ("discard", &actions.discard, &[Target::Dead]),
            ("reset_stuck", &actions.reset_stuck, &waiting),
        ];
        for (key, value, targets) in wants {
            let Some(value) = value else { continue };
            let target = statuses
                .iter()
                .find(|(v, _)| v == value.get_ref())
                .map(|(_, t)| *t);
            if !target.is_some_and(|t| targets.contains(&t)) {
                let names: Vec<&str> = targets
                    .iter()
                    .map(|t| Target::NAMES.iter().find(|(_, x)| x == t).unwrap().0)
                    .collect();
                return Err(fail(
                    value.span(),
                    format!(
                        "`{key}` sets status {:?}: name a value of [statuses] mapped to {}",
                        value.get_ref(),
                        names.join(" or ")
                    ),
                ));
            }
        }
        if let (Some(r), None, None, None) = (
            &actions.reset_stuck,
            &raw.columns.heartbeat_at,
            &raw.workers,
            &raw.columns.started_at,
        ) {
            return Err(fail(
                r.span(),
                "`reset_stuck` needs `heartbeat_at`, [workers] or `started_at`: a stuck job \
                 is one that stopped showing signs of life"
                    .into(),
            ));
        }
        let name = raw
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_else(|| raw.table.get_ref().clone());
        let queue_name = match (&raw.columns.queue, &raw.queue_name) {
            (Some(_), _) => None,
            (None, Some(q)) => Some(q.get_ref().clone()),
            (None, None) => Some(raw.table.get_ref().clone()),
        };
        Ok(Profile {
            name,
            description: raw.description,
            schema: raw.schema,
            table: raw.table,
            queue_name,
            columns: raw.columns,
            statuses,
            nulls: raw.nulls,
            null_run_at_is_now,
            workers: raw.workers,
            pause: raw.pause,
            actions,
            origin: origin.to_string(),
            text,
        })
    }

    /// Reads and parses a profile file.
    pub fn load(path: &Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("cannot read profile {}: {err}", path.display()))?;
        Ok(Profile::parse(&path.display().to_string(), &text)?)
    }

    /// A profile shipped in `assets/profiles/`, by name.
    pub fn shipped(name: &str) -> Option<Profile> {
        SHIPPED.iter().find(|(n, _)| *n == name).map(|(n, text)| {
            Profile::parse(&format!("assets/profiles/{n}.toml"), text)
                .expect("shipped profiles are valid")
        })
    }

    /// The names of the shipped profiles.
    pub fn shipped_names() -> Vec<&'static str> {
        SHIPPED.iter().map(|(n, _)| *n).collect()
    }

    /// An error located at something the profile wrote.
    pub fn error_at<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> ProfileError {
        let (line, column) = position(&self.text, at.span().start);
        ProfileError {
            origin: self.origin.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Status values shown as `target`.
    pub fn values(&self, target: Target) -> Vec<&str> {
        self.statuses
            .iter()
            .filter(|(_, t)| *t == target)
            .map(|(v, _)| v.as_str())
            .collect()
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 6), (2, 1));
        assert_eq!(position(text, 11), (2, 6));
    }

    #[test]
    fn the_example_in_the_profiles_readme_parses() {
        let readme = include_str!("../../../assets/profiles/README.md");
        let start = readme.find("```toml\n").expect("a toml example") + "```toml\n".len();
        let end = start + readme[start..].find("```").expect("closed");
        let p = Profile::parse("README.md", &readme[start..end]).unwrap();
        assert_eq!(p.name, "billing");
        assert_eq!(p.values(Target::Dead), vec!["failed"]);
    }

    #[test]
    fn nulls_and_workers_are_checked_where_written() {
        let base = "table = \"t\"\n[columns]\nid = \"id\"\nstatus = \"s\"\n";
        let statuses = "[statuses]\np = \"queued\"\nr = \"running\"\n";
        let parse = |extra_cols: &str, rest: &str| {
            Profile::parse("p.toml", &format!("{base}{extra_cols}{statuses}{rest}"))
        };
        let p = parse("run_at = \"run_at\"\n", "[nulls]\nrun_at = \"now\"\n").unwrap();
        assert!(p.null_run_at_is_now);
        let err = parse("", "[nulls]\nrun_at = \"now\"\n").unwrap_err();
        assert!(err.message.contains("needs `columns.run_at`"), "{err}");
        let err = parse("run_at = \"run_at\"\n", "[nulls]\nrun_at = \"later\"\n").unwrap_err();
        assert_eq!(
            (err.line, err.message.contains("\"now\"")),
            (10, true),
            "{err}"
        );
        let workers = "[workers]\ntable = \"w\"\nid = \"id\"\nheartbeat = \"seen\"\n";
        let err = parse("", workers).unwrap_err();
        assert!(err.message.contains("needs `columns.worker`"), "{err}");
        let both = "worker = \"w\"\nheartbeat_at = \"hb\"\n";
        let err = parse(both, workers).unwrap_err();
        assert!(err.message.contains("keep one"), "{err}");
        let p = parse(
            "worker = \"w\"\n",
            &format!("{workers}[actions]\nreset_stuck = \"p\"\n"),
        );
        assert!(p.unwrap().workers.is_some());
    }

    #[test]
    fn shipped_profiles_parse() {
        for name in Profile::shipped_names() {
            let p = Profile::shipped(name).unwrap();
            assert!(!p.statuses.is_empty(), "{name}");
        }
    }
}
