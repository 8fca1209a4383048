//! `jobtop check [URL]`: the rules evaluated once, as a monitoring plugin (Nagios, Icinga,
//! Sensu, ...): one summary line with performance data, then a line per alert; exit 0 OK,
//! 1 WARNING, 2 CRITICAL, 3 UNKNOWN. `--json` gives the same as one JSON document.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::oneshot::{self, AlertDoc, Failure, OneShot};
use super::{CheckArgs, Exit, GlobalArgs, output};
use crate::app::alerts::{AlertState, Severity};
use crate::ui::text::sanitize;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Serialize)]
struct Report {
    status: Status,
    exit_code: u8,
    summary: String,
    target: Option<String>,
    backend: Option<String>,
    /// The database's clock when the snapshot was taken.
    checked_at: Option<DateTime<Utc>>,
    alerts: Vec<AlertDoc>,
    not_evaluated: Vec<Note>,
    /// Rules whose `for` needs history: evaluated as instantaneous.
    instantaneous: Vec<Instantaneous>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Note {
    rule: &'static str,
    reason: &'static str,
}

#[derive(Serialize)]
struct Instantaneous {
    rule: &'static str,
    for_seconds: f64,
}

pub async fn run(args: &CheckArgs, global: &GlobalArgs) -> Result<()> {
    let mut out = String::new();
    let status = match oneshot::take_all(&args.urls, global, args.timeout).await {
        Ok(mut shots) if shots.len() == 1 => match shots.remove(0).1 {
            Ok(shot) => report(&shot, args.json, &mut out),
            Err(failure) => unknown(&failure, args.json, &mut out),
        },
        Ok(shots) => several(&shots, args.json, &mut out),
        Err(failure) => unknown(&failure, args.json, &mut out),
    };
    output::print(&out)?;
    match status {
        Status::Ok => Ok(()),
        other => Err(Exit(other.code()).into()),
    }
}

/// Worst first for the exit status: a critical alert outranks a database that cannot be
/// read, which outranks a warning (Nagios's own ordering for aggregated checks).
fn severity_rank(status: Status) -> u8 {
    match status {
        Status::Ok => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Critical => 3,
    }
}

/// Several sources: a summary line, then one line per source (`label: STATUS - ...`); with
/// `--json`, `{"status", "exit_code", "summary", "sources": [each source's report with its
/// "source"]}`. Exits with the worst status.
fn several(shots: &[(String, Result<OneShot, Failure>)], json: bool, out: &mut String) -> Status {
    let mut statuses = Vec::new();
    let mut lines = Vec::new();
    let mut docs = Vec::new();
    for (label, shot) in shots {
        let mut one = String::new();
        let status = match shot {
            Ok(shot) => report(shot, json, &mut one),
            Err(failure) => unknown(failure, json, &mut one),
        };
        statuses.push(status);
        let label = sanitize(label, 100).into_owned();
        if json {
            let mut doc: serde_json::Value =
                serde_json::from_str(&one).unwrap_or(serde_json::Value::Null);
            if let Some(map) = doc.as_object_mut() {
                map.insert("source".into(), serde_json::Value::String(label));
            }
            docs.push(doc);
        } else {
            let first = first_line(&one);
            lines.push(format!(
                "{label}: {}",
                first.strip_prefix("JOBTOP ").unwrap_or(first)
            ));
        }
    }
    let worst = statuses
        .iter()
        .copied()
        .max_by_key(|s| severity_rank(*s))
        .unwrap_or(Status::Unknown);
    let count = |want: Status| statuses.iter().filter(|s| **s == want).count();
    let summary = format!(
        "{} sources: {} critical, {} unknown, {} warning, {} ok",
        statuses.len(),
        count(Status::Critical),
        count(Status::Unknown),
        count(Status::Warning),
        count(Status::Ok)
    );
    if json {
        let doc = serde_json::json!({
            "status": worst,
            "exit_code": worst.code(),
            "summary": summary,
            "sources": docs,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = writeln!(out, "JOBTOP {} - {summary}", worst.word());
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    worst
}

fn unknown(failure: &Failure, json: bool, out: &mut String) -> Status {
    let what = match failure {
        Failure::Config(_) => "bad configuration",
        Failure::Database(_) => "cannot read the database",
    };
    let message = plugin_text(&failure.to_string(), 2000);
    let summary = format!("{what}: {}", first_line(&message));
    if json {
        print_json(
            out,
            &Report {
                status: Status::Unknown,
                exit_code: Status::Unknown.code(),
                summary,
                target: None,
                backend: None,
                checked_at: None,
                alerts: Vec::new(),
                not_evaluated: Vec::new(),
                instantaneous: Vec::new(),
                error: Some(failure.to_string()),
            },
        );
    } else {
        let _ = writeln!(out, "JOBTOP UNKNOWN - {summary}");
        for line in message.lines().skip(1) {
            let _ = writeln!(out, "{line}");
        }
    }
    Status::Unknown
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn report(shot: &OneShot, json: bool, out: &mut String) -> Status {
    let firing = shot.alerts(Some(AlertState::Firing));
    let pending = shot.alerts(Some(AlertState::Pending));
    let critical = firing
        .iter()
        .filter(|a| a.severity == Severity::Critical)
        .count();
    let warning = firing.len() - critical;
    let status = match shot.book.worst_firing() {
        Some(Severity::Critical) => Status::Critical,
        Some(Severity::Warning) => Status::Warning,
        None => Status::Ok,
    };
    let summary = if firing.is_empty() {
        format!(
            "{} queues, {} workers, no alert firing",
            shot.snapshot.queues.len(),
            shot.snapshot.workers.len()
        )
    } else {
        let mut parts: Vec<String> = firing
            .iter()
            .take(3)
            .map(|a| {
                format!(
                    "{} {}",
                    plugin_text(&a.key.subject.label(), 200),
                    a.comparison()
                )
            })
            .collect();
        if firing.len() > 3 {
            parts.push(format!("and {} more", firing.len() - 3));
        }
        format!(
            "{critical} critical, {warning} warning: {}",
            parts.join("; ")
        )
    };
    let instantaneous = oneshot::instantaneous(&shot.rules);
    if json {
        print_json(
            out,
            &Report {
                status,
                exit_code: status.code(),
                summary,
                target: Some(shot.target.clone()),
                backend: Some(shot.backend.clone()),
                checked_at: Some(shot.snapshot.db_now),
                alerts: firing
                    .iter()
                    .chain(&pending)
                    .map(|a| AlertDoc::from(a))
                    .collect(),
                not_evaluated: shot
                    .not_evaluated
                    .iter()
                    .map(|(rule, reason)| Note {
                        rule: rule.as_str(),
                        reason,
                    })
                    .collect(),
                instantaneous: instantaneous
                    .iter()
                    .map(|(rule, for_)| Instantaneous {
                        rule: rule.as_str(),
                        for_seconds: for_.0,
                    })
                    .collect(),
                error: None,
            },
        );
        return status;
    }
    let _ = writeln!(
        out,
        "JOBTOP {} - {summary} | {}",
        status.word(),
        perfdata(shot)
    );
    for a in firing.iter().chain(&pending) {
        let word = match a.state {
            AlertState::Pending => "PENDING",
            _ => a.severity.upper(),
        };
        let mut line = format!(
            "{word} {} {}: {} > {}, since {}",
            a.key.rule.as_str(),
            plugin_text(&a.key.subject.label(), 200),
            a.value_text(),
            a.threshold_text(),
            a.since.format("%Y-%m-%dT%H:%M:%SZ"),
        );
        if let Some(detail) = &a.detail {
            line.push_str(&format!(" ({})", plugin_text(detail, 300)));
        }
        let _ = writeln!(out, "{line}");
    }
    for (rule, reason) in &shot.not_evaluated {
        let _ = writeln!(out, "note: {} not evaluated: {reason}", rule.as_str());
    }
    if !instantaneous.is_empty() {
        let list: Vec<String> = instantaneous
            .iter()
            .map(|(rule, for_)| {
                format!(
                    "{} (for {})",
                    rule.as_str(),
                    crate::app::alerts::rules::format_duration(for_.0)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "note: a single check has no history, so these `for` durations are evaluated as instantaneous: {}; oldest_ready, worker_down and slow_job are judged from the database's timestamps",
            list.join(", ")
        );
    }
    status
}

/// Per queue: ready, dead and the oldest ready age, as plugin performance data.
fn perfdata(shot: &OneShot) -> String {
    let now = shot.snapshot.db_now;
    let mut out = Vec::new();
    for q in &shot.snapshot.queues {
        let label = perf_label(&q.name);
        out.push(format!("'{label}_ready'={};;;0", q.ready.value));
        out.push(format!("'{label}_dead'={};;;0", q.dead.value));
        let age = q
            .oldest_ready_age(now)
            .map_or(0.0, |a| a.num_milliseconds() as f64 / 1000.0);
        out.push(format!("'{label}_oldest_ready'={age:.0}s;;;0"));
    }
    out.join(" ")
}

/// Database text in a plugin's status or long output: control characters escaped (a
/// newline would start a line of our own), and `|`, where monitoring systems start the
/// performance data, shown as `¦` so a queue name cannot cut the text or inject figures.
fn plugin_text(raw: &str, max_chars: usize) -> String {
    sanitize(raw, max_chars).replace('|', "¦")
}

/// Plugin labels may not hold quotes, `=` or spaces; control characters never go out.
fn perf_label(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.:".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect()
}

fn print_json<T: Serialize>(out: &mut String, value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => out.push_str(&s),
        Err(err) => out.push_str(&format!(
            "{{\"status\":\"UNKNOWN\",\"exit_code\":3,\"error\":\"{err}\"}}"
        )),
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_labels_are_plain() {
        assert_eq!(perf_label("mail's = queue\x1b"), "mail_s___queue_");
        assert_eq!(perf_label("billing.v2"), "billing.v2");
    }

    #[test]
    fn plugin_text_cannot_inject_performance_data_or_lines() {
        let text = plugin_text("evil | 'x_ready'=999\nOK fake", 200);
        assert!(!text.contains('|') && !text.contains('\n'), "{text}");
        assert_eq!(text, "evil ¦ 'x_ready'=999\\nOK fake");
    }
}
