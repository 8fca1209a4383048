//! The alert rules as configured (the config file's `[rules]` table): per rule a severity, a
//! threshold, a `for` duration and an on/off switch, each overridable per queue (and per kind,
//! tenant or worker where the rule is about those).
//!
//! Thresholds have a type per rule (a duration, a count, a fraction), so a wrong value is
//! refused while the file is read, with its line and column, not silently misread later.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The Nagios word.
    pub fn upper(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// A duration in seconds, written `"90s"`, `"5m"`, `"1h30m"`, `"2d"` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Secs(pub f64);

/// A fraction, written `"10%"` or `0.1`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Ratio(pub f64);

/// A plain number, at least zero.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Num(pub f64);

impl Secs {
    pub const fn minutes(m: u32) -> Secs {
        Secs(m as f64 * 60.0)
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs_f64(self.0.max(0.0))
    }
}

/// How rule code reads a threshold, whatever its type.
pub trait Threshold: Copy {
    fn value(self) -> f64;
}

impl Threshold for Secs {
    fn value(self) -> f64 {
        self.0
    }
}

impl Threshold for Ratio {
    fn value(self) -> f64 {
        self.0
    }
}

impl Threshold for Num {
    fn value(self) -> f64 {
        self.0
    }
}

/// Parses `90s`, `5m`, `1h30m`, `1.5h`, `2d`, `250ms`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return (n.is_finite() && n >= 0.0).then_some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match rest[..unit_len].trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    total.is_finite().then_some(total)
}

/// The shortest way to write a duration that parses back to it: `5m`, `1h30m`, `2.5s`.
pub fn format_duration(secs: f64) -> String {
    if secs.fract() != 0.0 {
        return format!("{}s", trim_float(secs));
    }
    let mut s = secs as u64;
    if s == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", trim_float(self.0 * 100.0)))
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 9e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// One visitor for the three number-like types: what each accepts differs only in the
/// text form and the range.
struct NumberVisitor {
    expecting: &'static str,
    from_str: fn(&str) -> Option<f64>,
    max: f64,
}

impl NumberVisitor {
    fn check<E: de::Error>(&self, v: f64) -> Result<f64, E> {
        if v.is_finite() && (0.0..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(E::custom(format!(
                "{v} is out of range: expected {}",
                self.expecting
            )))
        }
    }
}

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.check(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.check(v as f64)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        self.check(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match (self.from_str)(v) {
            Some(n) => self.check(n),
            None => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor {
            expecting: "a duration such as \"90s\", \"5m\" or \"1h30m\", or a number of seconds",
            from_str: parse_duration,
            max: 10.0 * 365.0 * 86_400.0,
        })
        .map(Secs)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor {
            expecting: "a percentage such as \"10%\", or a fraction from 0 to 1",
            from_str: |s| {
                let pct: f64 = s.trim().strip_suffix('%')?.trim().parse().ok()?;
                Some(pct / 100.0)
            },
            max: 1.0,
        })
        .map(Ratio)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor {
            expecting: "a number, zero or more",
            from_str: |_| None,
            max: f64::MAX,
        })
        .map(Num)
    }
}

/// Settings for one queue, kind, tenant or worker; unset fields fall back to the rule's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<T>,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Secs>,
}

impl<T> Default for Override<T> {
    fn default() -> Self {
        Override {
            enabled: None,
            severity: None,
            threshold: None,
            for_: None,
        }
    }
}

pub type Overrides<T> = BTreeMap<String, Override<T>>;

/// A rule's settings for one subject, after overrides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub severity: Severity,
    pub threshold: f64,
    pub for_: Duration,
}

/// The rule's own settings, then each override that applies, most specific last; `None` when
/// the result is switched off.
fn resolve<T: Threshold>(
    enabled: bool,
    severity: Severity,
    threshold: T,
    for_: Secs,
    overrides: &[Option<&Override<T>>],
) -> Option<Resolved> {
    let mut r = (enabled, severity, threshold, for_);
    for o in overrides.iter().flatten() {
        r.0 = o.enabled.unwrap_or(r.0);
        r.1 = o.severity.unwrap_or(r.1);
        r.2 = o.threshold.unwrap_or(r.2);
        r.3 = o.for_.unwrap_or(r.3);
    }
    r.0.then(|| Resolved {
        severity: r.1,
        threshold: r.2.value(),
        for_: r.3.duration(),
    })
}

/// Declares a rule's settings struct: the common fields plus the rule's own.
macro_rules! rule {
    (
        $(#[$doc:meta])*
        $name:ident, $threshold:ty,
        defaults { $enabled:expr, $severity:expr, $default_threshold:expr, $for:expr }
        $( $(#[$fdoc:meta])* $field:ident : $fty:ty = $fdefault:expr ),* $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub enabled: bool,
            pub severity: Severity,
            pub threshold: $threshold,
            #[serde(rename = "for")]
            pub for_: Secs,
            $( $(#[$fdoc])* pub $field: $fty, )*
        }

        impl $name {
            /// The rule as it applies after `overrides` (a queue's, a kind's), in order. Rules
            /// that resolve some other way (per worker, per tenant) leave it unused.
            #[allow(dead_code)]
            fn resolved(&self, overrides: &[Option<&Override<$threshold>>]) -> Option<Resolved> {
                resolve(self.enabled, self.severity, self.threshold, self.for_, overrides)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: $enabled,
                    severity: $severity,
                    threshold: $default_threshold,
                    for_: $for,
                    $( $field: $fdefault, )*
                }
            }
        }
    };
}

rule! {
    /// The oldest ready job of a queue is older than the threshold.
    OldestReady, Secs,
    defaults { true, Severity::Critical, Secs::minutes(5), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Secs> = BTreeMap::new(),
}

rule! {
    /// More ready jobs than the threshold.
    Backlog, Num,
    defaults { true, Severity::Warning, Num(1000.0), Secs::minutes(5) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// The ready backlog is above `threshold` times its own normal (a moving average over
    /// `window`) and above it by more than `min_excess` jobs.
    BacklogBaseline, Num,
    defaults { true, Severity::Warning, Num(2.0), Secs::minutes(10) }
    window: Secs = Secs::minutes(60),
    min_excess: Num = Num(100.0),
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// More dead (dead-letter) jobs than the threshold.
    DeadLetter, Num,
    defaults { true, Severity::Warning, Num(0.0), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// More jobs went dead in the last hour than the threshold.
    DeadSpike, Num,
    defaults { true, Severity::Critical, Num(100.0), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// Failed attempts over all ended attempts in the last hour, per queue, once at least
    /// `min_attempts` attempts ended.
    FailureRate, Ratio,
    defaults { true, Severity::Critical, Ratio(0.10), Secs(0.0) }
    min_attempts: Num = Num(20.0),
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Ratio> = BTreeMap::new(),
}

rule! {
    /// The same per job kind of each queue.
    KindFailureRate, Ratio,
    defaults { true, Severity::Warning, Ratio(0.10), Secs(0.0) }
    min_attempts: Num = Num(20.0),
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Ratio> = BTreeMap::new(),
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    kinds: Overrides<Ratio> = BTreeMap::new(),
}

rule! {
    /// A worker's last heartbeat is older than the threshold. A worker that holds no job
    /// and has been silent for longer than `forget_idle_after` is taken to have been
    /// stopped on purpose and is no longer reported.
    WorkerDown, Secs,
    defaults { true, Severity::Critical, Secs::minutes(5), Secs(0.0) }
    forget_idle_after: Secs = Secs::minutes(60),
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    workers: Overrides<Secs> = BTreeMap::new(),
}

rule! {
    /// A queue has more ready jobs than the threshold and no live worker serves it (live:
    /// heartbeat within `worker_down.threshold`).
    NoWorker, Num,
    defaults { true, Severity::Critical, Num(0.0), Secs::minutes(1) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// A job of the queue has been running for longer than the threshold.
    SlowJob, Secs,
    defaults { true, Severity::Warning, Secs::minutes(60), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    queues: Overrides<Secs> = BTreeMap::new(),
}

rule! {
    /// The monitor's own polls have been failing for longer than the threshold (pending
    /// from the first failed poll).
    DbUnreachable, Secs,
    defaults { true, Severity::Critical, Secs::minutes(2), Secs(0.0) }
}

rule! {
    /// Expected heartbeats per minute of one tenant's running jobs (running jobs × 60 /
    /// `heartbeat_interval`) above the threshold. Off by default.
    TenantHeartbeatBudget, Num,
    defaults { false, Severity::Warning, Num(600.0), Secs(0.0) }
    heartbeat_interval: Secs = Secs(30.0),
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tenants: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// The same over all running jobs. Off by default.
    HeartbeatBudget, Num,
    defaults { false, Severity::Warning, Num(6000.0), Secs(0.0) }
    heartbeat_interval: Secs = Secs(30.0),
}

rule! {
    /// A schedule has not started a run that was due more than the threshold (its grace)
    /// ago: it stopped firing (deactivated, its scheduler down, its database renamed).
    /// Overrides are by schedule name or `source/name` (`pg_cron/nightly`).
    ScheduleMissed, Secs,
    defaults { true, Severity::Critical, Secs(60.0), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    schedules: Overrides<Secs> = BTreeMap::new(),
}

rule! {
    /// More of a schedule's latest runs failed in a row than the threshold (0: its last
    /// run failed).
    ScheduleFailed, Num,
    defaults { true, Severity::Warning, Num(0.0), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    schedules: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// The same, for a streak that is no accident: more than the threshold in a row.
    ScheduleFailing, Num,
    defaults { true, Severity::Critical, Num(2.0), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    schedules: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// A run has been going for longer than the threshold times its schedule's period
    /// (the next run is due before it ends), or was left running by a session that is gone.
    ScheduleOverrun, Num,
    defaults { true, Severity::Warning, Num(1.0), Secs(0.0) }
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    schedules: Overrides<Num> = BTreeMap::new(),
}

rule! {
    /// pg_net: the share of the last hour's HTTP requests that got no 2xx (4xx, 5xx, timed
    /// out, failed) is above the threshold, once at least `min_responses` ended.
    NetFailures, Ratio,
    defaults { true, Severity::Critical, Ratio(0.10), Secs(0.0) }
    min_responses: Num = Num(10.0),
}

/// Every rule. Field names are the rule ids used in the config file, `check` and JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    pub oldest_ready: OldestReady,
    pub backlog: Backlog,
    pub backlog_baseline: BacklogBaseline,
    pub dead_letter: DeadLetter,
    pub dead_spike: DeadSpike,
    pub failure_rate: FailureRate,
    pub kind_failure_rate: KindFailureRate,
    pub worker_down: WorkerDown,
    pub no_worker: NoWorker,
    pub slow_job: SlowJob,
    pub db_unreachable: DbUnreachable,
    pub tenant_heartbeat_budget: TenantHeartbeatBudget,
    pub heartbeat_budget: HeartbeatBudget,
    pub schedule_missed: ScheduleMissed,
    pub schedule_failed: ScheduleFailed,
    pub schedule_failing: ScheduleFailing,
    pub schedule_overrun: ScheduleOverrun,
    pub net_failures: NetFailures,
}

/// A schedule's overrides, the plain name first, `source/name` (more specific) last.
fn schedule_overrides<'a, T>(
    overrides: &'a Overrides<T>,
    source: &str,
    name: &str,
) -> [Option<&'a Override<T>>; 2] {
    [
        overrides.get(name),
        overrides.get(&format!("{source}/{name}")),
    ]
}

/// The key a tenant's override is found under; jobs without a tenant use `"-"`.
pub const NO_TENANT: &str = "-";

impl Rules {
    pub fn oldest_ready(&self, queue: &str) -> Option<Resolved> {
        let r = &self.oldest_ready;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn backlog(&self, queue: &str) -> Option<Resolved> {
        let r = &self.backlog;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn backlog_baseline(&self, queue: &str) -> Option<Resolved> {
        let r = &self.backlog_baseline;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn dead_letter(&self, queue: &str) -> Option<Resolved> {
        let r = &self.dead_letter;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn dead_spike(&self, queue: &str) -> Option<Resolved> {
        let r = &self.dead_spike;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn failure_rate(&self, queue: &str) -> Option<Resolved> {
        let r = &self.failure_rate;
        r.resolved(&[r.queues.get(queue)])
    }

    /// A kind's own override wins over its queue's.
    pub fn kind_failure_rate(&self, queue: &str, kind: &str) -> Option<Resolved> {
        let r = &self.kind_failure_rate;
        r.resolved(&[r.queues.get(queue), r.kinds.get(kind)])
    }

    pub fn worker_down(&self, worker: &str) -> Option<Resolved> {
        let r = &self.worker_down;
        r.resolved(&[r.workers.get(worker)])
    }

    pub fn no_worker(&self, queue: &str) -> Option<Resolved> {
        let r = &self.no_worker;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn slow_job(&self, queue: &str) -> Option<Resolved> {
        let r = &self.slow_job;
        r.resolved(&[r.queues.get(queue)])
    }

    pub fn db_unreachable(&self) -> Option<Resolved> {
        let r = &self.db_unreachable;
        resolve(r.enabled, r.severity, r.threshold, r.for_, &[])
    }

    pub fn tenant_heartbeat_budget(&self, tenant: Option<&str>) -> Option<Resolved> {
        let r = &self.tenant_heartbeat_budget;
        let key = tenant.unwrap_or(NO_TENANT);
        r.resolved(&[r.tenants.get(key)])
    }

    pub fn heartbeat_budget(&self) -> Option<Resolved> {
        let r = &self.heartbeat_budget;
        resolve(r.enabled, r.severity, r.threshold, r.for_, &[])
    }

    /// A schedule's own override wins over its name's; both by `name` and `source/name`.
    pub fn schedule_missed(&self, source: &str, name: &str) -> Option<Resolved> {
        let r = &self.schedule_missed;
        r.resolved(&schedule_overrides(&r.schedules, source, name))
    }

    pub fn schedule_failed(&self, source: &str, name: &str) -> Option<Resolved> {
        let r = &self.schedule_failed;
        r.resolved(&schedule_overrides(&r.schedules, source, name))
    }

    pub fn schedule_failing(&self, source: &str, name: &str) -> Option<Resolved> {
        let r = &self.schedule_failing;
        r.resolved(&schedule_overrides(&r.schedules, source, name))
    }

    pub fn schedule_overrun(&self, source: &str, name: &str) -> Option<Resolved> {
        let r = &self.schedule_overrun;
        r.resolved(&schedule_overrides(&r.schedules, source, name))
    }

    pub fn net_failures(&self) -> Option<Resolved> {
        let r = &self.net_failures;
        resolve(r.enabled, r.severity, r.threshold, r.for_, &[])
    }

    /// The snapshot must count running jobs per tenant.
    pub fn needs_tenants(&self) -> bool {
        self.tenant_heartbeat_budget.enabled
            || self
                .tenant_heartbeat_budget
                .tenants
                .values()
                .any(|o| o.enabled == Some(true))
    }

    /// The largest dead-letter threshold, so that dead jobs are counted exactly up to it
    /// (past a small pile they are otherwise estimated).
    pub fn largest_dead_letter_threshold(&self) -> f64 {
        let mut max = self.dead_letter.threshold.0;
        for o in self.dead_letter.queues.values() {
            max = max.max(o.threshold.map_or(0.0, |t| t.0));
        }
        max
    }

    /// The largest count threshold, so that live counts are not capped below it.
    pub fn largest_count_threshold(&self) -> f64 {
        let mut max = self.backlog.threshold.0;
        for o in self.backlog.queues.values() {
            max = max.max(o.threshold.map_or(0.0, |t| t.0));
        }
        max = max.max(self.dead_letter.threshold.0);
        for o in self.dead_letter.queues.values() {
            max = max.max(o.threshold.map_or(0.0, |t| t.0));
        }
        max = max.max(self.dead_spike.threshold.0);
        for o in self.dead_spike.queues.values() {
            max = max.max(o.threshold.map_or(0.0, |t| t.0));
        }
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_back() {
        assert_eq!(parse_duration("90s"), Some(90.0));
        assert_eq!(parse_duration("5m"), Some(300.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        assert_eq!(parse_duration("250ms"), Some(0.25));
        assert_eq!(parse_duration("2d"), Some(172_800.0));
        assert_eq!(parse_duration("45"), Some(45.0));
        assert_eq!(parse_duration("5 minutes"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("-5s"), None);
        assert_eq!(parse_duration(""), None);
        for s in ["5m", "1h30m", "2d", "0s", "1d1h1m1s", "2.5s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn overrides_apply_most_specific_last() {
        let mut rules = Rules::default();
        rules.kind_failure_rate.queues.insert(
            "mail".into(),
            Override {
                threshold: Some(Ratio(0.5)),
                severity: Some(Severity::Critical),
                ..Override::default()
            },
        );
        rules.kind_failure_rate.kinds.insert(
            "send".into(),
            Override {
                threshold: Some(Ratio(0.2)),
                ..Override::default()
            },
        );
        rules.kind_failure_rate.kinds.insert(
            "noisy".into(),
            Override {
                enabled: Some(false),
                ..Override::default()
            },
        );
        let r = rules.kind_failure_rate("mail", "send").unwrap();
        assert_eq!((r.threshold, r.severity), (0.2, Severity::Critical));
        let r = rules.kind_failure_rate("mail", "other").unwrap();
        assert_eq!(r.threshold, 0.5);
        let r = rules.kind_failure_rate("web", "other").unwrap();
        assert_eq!((r.threshold, r.severity), (0.1, Severity::Warning));
        assert_eq!(rules.kind_failure_rate("mail", "noisy"), None);
    }
}
