//! The monitor's settings: the command line (and environment) first, then the config file,
//! then the defaults.

use std::collections::BTreeSet;
use std::time::Duration;

use super::MonitorArgs;
use crate::app::alerts::Rules;
use crate::app::redact::Redactor;
use crate::app::{DrillSettings, ThemeName};
use crate::backend::pg::connect::SessionSettings;
use crate::config::{Config, Connection};

#[derive(Debug, Clone)]
pub struct MonitorSettings {
    pub interval: Duration,
    pub session: SessionSettings,
    pub stale_after: Duration,
    pub count_cap: i64,
    /// Scheduled and dead jobs are counted exactly up to this many per queue.
    pub pile_cap: i64,
    /// Monitoring reads go to this replica (`--replica-url`); actions to the primary.
    pub replica_url: Option<String>,
    /// Share one snapshot with the other monitors of the database (not `--no-share`).
    pub share: bool,
    pub kiosk: bool,
    pub theme: ThemeName,
    pub bell: bool,
    pub rules: Rules,
    pub drill: DrillSettings,
    /// Secrets masked in payloads and errors (the config's `redact`).
    pub redact: Redactor,
}

pub fn monitor(
    config: &Config,
    args: &MonitorArgs,
    explicit: &BTreeSet<String>,
    connection: Option<&Connection>,
    no_color: Option<&str>,
) -> MonitorSettings {
    let given = |id: &str| explicit.contains(id);
    let pick = |id: &str, arg: f64, file: f64| if given(id) { arg } else { file };
    let interval = pick("interval", args.interval, config.refresh.0);
    let timeout = pick(
        "statement_timeout",
        args.statement_timeout,
        config.statement_timeout.0,
    );
    let stale_after = pick("stale_after", args.stale_after as f64, config.stale_after.0);
    let cap = pick("count_cap", args.count_cap as f64, config.count_cap.0);
    let kiosk = args.kiosk;
    // A connection with rules of its own (a source's thresholds) replaces the file's.
    let rules = connection
        .and_then(|c| c.rules.clone())
        .unwrap_or_else(|| config.rules.clone());
    MonitorSettings {
        interval: Duration::from_secs_f64(interval.clamp(0.5, 60.0)),
        session: SessionSettings {
            statement_timeout: Duration::from_secs_f64(timeout.clamp(0.1, 600.0)),
            read_only: args.read_only || kiosk || connection.is_some_and(|c| c.read_only),
            ..SessionSettings::default()
        },
        stale_after: Duration::from_secs_f64(stale_after.max(1.0)),
        count_cap: count_cap(cap, &rules),
        pile_cap: pile_cap(&rules),
        replica_url: args.replica_url.clone(),
        share: !args.no_share,
        kiosk,
        theme: ThemeName::choose(config.theme, kiosk, no_color),
        bell: config.bell.unwrap_or(kiosk),
        rules,
        redact: Redactor::new(&config.redact),
        drill: DrillSettings {
            stuck_after: Duration::from_secs(args.stuck_after.max(1)),
            heartbeat_interval: Duration::from_secs_f64(args.heartbeat_interval.clamp(0.1, 3600.0)),
            ..DrillSettings::default()
        },
    }
}

/// Dead jobs past the pile cap are estimated: the pile cap is raised just above the largest
/// dead-letter threshold, so that alert decides on an exact count.
pub fn pile_cap(rules: &Rules) -> i64 {
    let needed = rules.largest_dead_letter_threshold() + 1.0;
    needed
        .max(crate::backend::PILE_CAP as f64)
        .clamp(1.0, i64::MAX as f64 / 2.0) as i64
}

/// Counts stop at the cap, so a count threshold above it could never be passed: the cap is
/// raised to just above the largest one.
pub fn count_cap(configured: f64, rules: &Rules) -> i64 {
    let needed = rules.largest_count_threshold() + 1.0;
    configured.max(needed).clamp(1.0, i64::MAX as f64 / 2.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn settings(args: &[&str], file: &str) -> MonitorSettings {
        let mut argv = vec!["jobtop"];
        argv.extend(args);
        let cli = super::super::parse_from(argv);
        let config = parse(file, "test").unwrap();
        let conn = cli
            .url()
            .and_then(|u| u.strip_prefix('@'))
            .and_then(|name| config.connections.get(name));
        monitor(&config, &cli.monitor, &cli.explicit, conn, None)
    }

    #[test]
    fn command_line_then_file_then_defaults() {
        let s = settings(&[], "");
        assert_eq!(s.interval, Duration::from_secs(1));
        assert!(!s.session.read_only && !s.kiosk && !s.bell);
        assert_eq!(s.theme, ThemeName::Default);

        let file = "refresh = \"5s\"\nstale_after = \"2m\"\nstatement_timeout = 2\n";
        let s = settings(&[], file);
        assert_eq!(s.interval, Duration::from_secs(5));
        assert_eq!(s.stale_after, Duration::from_secs(120));
        assert_eq!(s.session.statement_timeout, Duration::from_secs(2));

        // Given on the command line, even at its default value, it wins.
        let s = settings(&["--interval", "1"], file);
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.stale_after, Duration::from_secs(120));
    }

    #[test]
    fn kiosk_is_read_only_high_contrast_and_rings() {
        let s = settings(&["--kiosk"], "");
        assert!(s.kiosk && s.session.read_only && s.bell);
        assert_eq!(s.theme, ThemeName::HighContrast);
        let s = settings(&["--kiosk"], "bell = false\ntheme = \"default\"\n");
        assert!(!s.bell);
        assert_eq!(s.theme, ThemeName::Default);
        let s = settings(
            &["@prod"],
            "[connections.prod]\nurl = \"postgres://a@b/c\"\nread_only = true\n",
        );
        assert!(s.session.read_only && !s.kiosk);
    }

    #[test]
    fn the_count_cap_stays_above_every_count_threshold() {
        let s = settings(&["--count-cap", "100"], "");
        assert_eq!(s.count_cap, 1001, "the backlog threshold is 1000");
        let s = settings(&[], "[rules.backlog.queues.bulk]\nthreshold = 50000\n");
        assert_eq!(s.count_cap, 50_001);
    }

    #[test]
    fn dead_jobs_are_counted_exactly_up_to_every_dead_letter_threshold() {
        assert_eq!(settings(&[], "").pile_cap, 100);
        let s = settings(&[], "[rules.dead_letter.queues.mail]\nthreshold = 500\n");
        assert_eq!(s.pile_cap, 501);
    }
}
