//! One poll and one evaluation of the rules, without history: what `check` and `snapshot`
//! stand on. Ages come from the database's own clock and timestamps; a `for` duration that
//! only history could judge is taken as instantaneous, and said so.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::GlobalArgs;
use super::settings;
use crate::app::alerts::rules::Secs;
use crate::app::alerts::{
    self, Alert, AlertBook, AlertState, Mode, Observation, RuleId, Rules, Subject, Unit,
};
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::{Capabilities, Snapshot, SnapshotOptions};

pub struct OneShot {
    pub target: String,
    pub backend: String,
    pub capabilities: Capabilities,
    pub rules: Rules,
    /// The config's `stale_after`, in seconds: when the workers pane calls a worker stale.
    pub stale_after: f64,
    pub snapshot: Snapshot,
    pub book: AlertBook,
    /// Rules that are on but could not be judged, and why.
    pub not_evaluated: Vec<(RuleId, &'static str)>,
}

/// Why a one-shot could not be taken: the config, or the database.
#[derive(Debug)]
pub enum Failure {
    Config(String),
    Database(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Config(m) | Failure::Database(m) => f.write_str(m),
        }
    }
}

/// Every source `urls` names (none: the `PG*` variables' database), each taken at the
/// same time as the others and labelled; a source that fails fails alone.
pub async fn take_all(
    urls: &[String],
    global: &GlobalArgs,
    timeout: f64,
) -> std::result::Result<Vec<(String, std::result::Result<OneShot, Failure>)>, Failure> {
    let loaded = crate::config::load(global.config.as_deref())
        .map_err(|e| Failure::Config(e.to_string()))?;
    let specs =
        super::sources::resolve(urls, &loaded).map_err(|e| Failure::Config(format!("{e:#}")))?;
    let selection = super::backend_choice::selection();
    let shots = specs
        .iter()
        .map(|spec| take_source(spec, &loaded.config, &selection, timeout));
    let shots = futures::future::join_all(shots).await;
    Ok(specs.into_iter().map(|s| s.label).zip(shots).collect())
}

async fn take_source(
    spec: &super::sources::SourceSpec,
    config: &crate::config::Config,
    selection: &crate::backend::detect::Selection,
    timeout: f64,
) -> std::result::Result<OneShot, Failure> {
    let opts = spec.opts.clone();
    let selection = spec
        .selection(selection)
        .map_err(|e| Failure::Config(format!("{e:#}")))?;
    let target = connect::describe(&opts);
    let session = SessionSettings {
        statement_timeout: config
            .statement_timeout
            .duration()
            .max(Duration::from_millis(100)),
        // Reading is all a check does: a session that cannot write.
        read_only: true,
        ..SessionSettings::default()
    };
    // A connection's own rules are that source's thresholds.
    let rules = spec
        .connection
        .as_ref()
        .and_then(|c| c.rules.clone())
        .unwrap_or_else(|| config.rules.clone());
    let count_cap = settings::count_cap(config.count_cap.0, &rules);
    let snapshot_opts = SnapshotOptions {
        count_cap,
        running_by_tenant: rules.needs_tenants(),
        // The monitor's bounded reads: a big pile counted exactly up to the count cap reads
        // each entry's heap (a jobforge table of 10 M rows did not answer within the 5 s
        // statement timeout); past the pile cap it is estimated, and the output says so.
        pile_cap: settings::pile_cap(&rules).min(count_cap),
        // One poll: every pile past the cap gets its estimate now.
        estimates: usize::MAX,
    };
    let limit = Duration::from_secs_f64(timeout.clamp(0.5, 600.0));
    let read = async {
        let pool = connect::connect(opts, &session).await?;
        let backend = super::backend_choice::open_with(&pool, &target, &selection)
            .await?
            .with_schedules(pool.clone());
        let snapshot = backend
            .overview()
            .snapshot(&snapshot_opts)
            .await
            .with_context(|| format!("cannot read {target}"))?;
        pool.close().await;
        Ok::<_, anyhow::Error>((backend.name().to_string(), backend.capabilities(), snapshot))
    };
    let (backend, capabilities, mut snapshot) = match tokio::time::timeout(limit, read).await {
        Ok(Ok(read)) => read,
        Ok(Err(err)) => return Err(Failure::Database(crate::error_text::one_line(&err))),
        Err(_) => {
            return Err(Failure::Database(format!(
                "no answer from {target} within {}s",
                limit.as_secs_f64()
            )));
        }
    };
    // What `snapshot --json` exports: job text with its secrets masked.
    crate::app::redact::snapshot(
        &crate::app::redact::Redactor::new(&config.redact),
        &mut snapshot,
    );
    let (book, _) = alerts::evaluate(
        &rules,
        &AlertBook::default(),
        &Observation::Snapshot {
            snapshot: &snapshot,
            capabilities: &capabilities,
        },
        snapshot.db_now,
        Mode::OneShot,
    );
    let not_evaluated = alerts::unavailable(&rules, &snapshot, &capabilities, Mode::OneShot);
    Ok(OneShot {
        target,
        backend,
        capabilities,
        rules,
        stale_after: config.stale_after.0,
        snapshot,
        book,
        not_evaluated,
    })
}

/// Rules whose `for` only history could judge, with the longest `for` configured: a single
/// evaluation takes them as instantaneous. (`oldest_ready`, `worker_down` and `slow_job`
/// are judged from the database's timestamps instead.)
pub fn instantaneous(rules: &Rules) -> Vec<(RuleId, Secs)> {
    fn longest<T>(
        base: Secs,
        overrides: &std::collections::BTreeMap<String, alerts::rules::Override<T>>,
    ) -> Secs {
        overrides
            .values()
            .filter_map(|o| o.for_)
            .fold(base, |a, b| if b.0 > a.0 { b } else { a })
    }
    let candidates = [
        (
            RuleId::Backlog,
            rules.backlog.enabled,
            longest(rules.backlog.for_, &rules.backlog.queues),
        ),
        (
            RuleId::DeadLetter,
            rules.dead_letter.enabled,
            longest(rules.dead_letter.for_, &rules.dead_letter.queues),
        ),
        (
            RuleId::DeadSpike,
            rules.dead_spike.enabled,
            longest(rules.dead_spike.for_, &rules.dead_spike.queues),
        ),
        (
            RuleId::FailureRate,
            rules.failure_rate.enabled,
            longest(rules.failure_rate.for_, &rules.failure_rate.queues),
        ),
        (
            RuleId::KindFailureRate,
            rules.kind_failure_rate.enabled,
            longest(
                longest(
                    rules.kind_failure_rate.for_,
                    &rules.kind_failure_rate.queues,
                ),
                &rules.kind_failure_rate.kinds,
            ),
        ),
        (
            RuleId::NoWorker,
            rules.no_worker.enabled,
            longest(rules.no_worker.for_, &rules.no_worker.queues),
        ),
        (
            RuleId::TenantHeartbeatBudget,
            rules.needs_tenants(),
            longest(
                rules.tenant_heartbeat_budget.for_,
                &rules.tenant_heartbeat_budget.tenants,
            ),
        ),
        (
            RuleId::HeartbeatBudget,
            rules.heartbeat_budget.enabled,
            rules.heartbeat_budget.for_,
        ),
    ];
    candidates
        .into_iter()
        .filter(|(_, on, for_)| *on && for_.0 > 0.0)
        .map(|(rule, _, for_)| (rule, for_))
        .collect()
}

/// An alert as `check --json` and `snapshot --json` give it.
#[derive(Debug, Serialize)]
pub struct AlertDoc {
    pub rule: &'static str,
    pub title: &'static str,
    pub severity: &'static str,
    pub state: &'static str,
    pub subject: Subject,
    pub subject_label: String,
    pub value: Option<f64>,
    pub value_text: String,
    pub threshold: f64,
    pub threshold_text: String,
    pub unit: Unit,
    pub at_least: bool,
    /// `value` is a planner estimate, not a count.
    pub estimated: bool,
    pub detail: Option<String>,
    pub since: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub for_seconds: f64,
}

impl AlertDoc {
    pub fn from(a: &Alert) -> AlertDoc {
        AlertDoc {
            rule: a.key.rule.as_str(),
            title: a.key.rule.title(),
            severity: a.severity.as_str(),
            state: a.state.as_str(),
            subject: a.key.subject.clone(),
            subject_label: a.key.subject.label(),
            value: a.value,
            value_text: a.value_text(),
            threshold: a.threshold,
            threshold_text: a.threshold_text(),
            unit: a.unit,
            at_least: a.at_least,
            estimated: a.estimated,
            detail: a.detail.clone(),
            since: a.since,
            fired_at: a.fired_at,
            for_seconds: a.for_.as_secs_f64(),
        }
    }
}

impl OneShot {
    /// Firing first (critical first), then pending.
    pub fn alerts(&self, state: Option<AlertState>) -> Vec<&Alert> {
        self.book
            .display_order()
            .into_iter()
            .filter(|a| a.state != AlertState::Resolved)
            .filter(|a| state.is_none_or(|s| a.state == s))
            .collect()
    }
}
