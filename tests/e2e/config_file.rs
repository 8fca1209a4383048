//! The config file: what it sets, the errors it gives (file, line, column, what was
//! expected), `jobtop config` (defaults written out, passwords masked), and that jobtop does
//! not start on a file it could only half read.

use jobtop::app::ThemeName;
use jobtop::app::alerts::rules::Severity;
use jobtop::config::{self, Config};

use crate::cli;

fn error(text: &str) -> config::ConfigError {
    config::parse(text, "jobtop.toml").expect_err("should not parse")
}

#[test]
fn an_empty_file_is_all_defaults() {
    assert_eq!(config::parse("", "x").unwrap(), Config::default());
    let c = Config::default();
    assert_eq!(c.refresh.0, 1.0);
    assert_eq!(c.rules.oldest_ready.threshold.0, 300.0);
    assert!(c.rules.dead_letter.enabled);
    assert!(!c.rules.tenant_heartbeat_budget.enabled);
    assert_eq!(c.theme, None);
}

#[test]
fn a_full_file_sets_what_it_says() {
    let c = config::parse(
        r#"
refresh = "2.5s"
statement_timeout = 3
count_cap = 50000
theme = "high-contrast"
bell = true

[connections.prod]
url = "postgres://ops:hunter2@db.internal/app?sslmode=require"
read_only = true

[rules.oldest_ready]
threshold = "10m"
severity = "warning"

[rules.oldest_ready.queues.reports]
threshold = "2h"

[rules.failure_rate]
threshold = "25%"
for = "5m"
min_attempts = 50

[rules.kind_failure_rate.kinds.flaky]
enabled = false

[rules.tenant_heartbeat_budget]
enabled = true
threshold = 120
heartbeat_interval = "15s"
"#,
        "x",
    )
    .unwrap();
    assert_eq!(c.refresh.0, 2.5);
    assert_eq!(c.statement_timeout.0, 3.0);
    assert_eq!(c.count_cap.0, 50_000.0);
    assert_eq!(c.theme, Some(ThemeName::HighContrast));
    assert_eq!(c.bell, Some(true));
    assert!(c.connections["prod"].read_only);
    let r = c.rules.oldest_ready("mail").unwrap();
    assert_eq!((r.threshold, r.severity), (600.0, Severity::Warning));
    assert_eq!(c.rules.oldest_ready("reports").unwrap().threshold, 7200.0);
    let r = c.rules.failure_rate("mail").unwrap();
    assert_eq!((r.threshold, r.for_.as_secs()), (0.25, 300));
    assert_eq!(c.rules.failure_rate.min_attempts.0, 50.0);
    assert_eq!(c.rules.kind_failure_rate("mail", "flaky"), None);
    assert!(c.rules.needs_tenants());
    assert_eq!(c.rules.tenant_heartbeat_budget.heartbeat_interval.0, 15.0);
}

#[test]
fn errors_give_line_column_and_what_was_expected() {
    let e = error("refresh = 2\n\n[rules.backlog]\nthreshold = \"lots\"\n");
    assert_eq!((e.line, e.column), (Some(4), Some(13)));
    assert!(e.message.contains("expected a number, zero or more"), "{e}");
    assert!(
        e.to_string()
            .starts_with("jobtop.toml:4:13: invalid value: string \"lots\""),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with("    4 | threshold = \"lots\"\n      |             ^"),
        "{e}"
    );

    let e = error("[rules.oldest_ready]\nthreshold = \"5 minutes\"\n");
    assert_eq!((e.line, e.column), (Some(2), Some(13)));
    assert!(
        e.message.contains("a duration such as \"90s\", \"5m\""),
        "{e}"
    );

    // A misspelt rule is refused, with the names that exist.
    let e = error("[rules.oldest_redy]\nthreshold = \"5m\"\n");
    assert_eq!((e.line, e.column), (Some(1), Some(8)));
    assert!(
        e.message
            .contains("unknown field `oldest_redy`, expected one of `oldest_ready`"),
        "{e}"
    );

    // A misspelt setting inside a rule too.
    let e = error("[rules.backlog]\nthreshhold = 5\n");
    assert_eq!((e.line, e.column), (Some(2), Some(1)));
    assert!(e.message.contains("unknown field `threshhold`"), "{e}");

    // A ratio written as a percentage number is caught, not read as 1000%.
    let e = error("[rules.failure_rate]\nthreshold = 10\n");
    assert!(e.message.contains("a percentage such as \"10%\""), "{e}");

    let e = error("theme = \"neon\"\n");
    assert!(
        e.message
            .contains("expected one of `default`, `high-contrast`, `monochrome`"),
        "{e}"
    );
    let e = error("[rules.dead_letter.queues.mail]\nseverity = \"fatal\"\n");
    assert_eq!((e.line, e.column), (Some(2), Some(12)));
    assert!(
        e.message.contains("expected `warning` or `critical`"),
        "{e}"
    );

    // Broken TOML itself.
    let e = error("refresh = 1\n[rules\n");
    assert_eq!(e.line, Some(2));
    assert!(e.column.is_some());
}

#[test]
fn jobtop_config_prints_every_default_and_masks_passwords() {
    let text = "[connections.prod]\nurl = \"postgres://ops:hunter2@db.internal/app?password=hunter2&sslmode=require\"\n";
    let out = cli::jobtop(text, &["config"]);
    let printed = cli::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", cli::stderr(&out));
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(
        printed
            .contains("url = \"postgres://ops:***@db.internal/app?password=***&sslmode=require\""),
        "{printed}"
    );
    assert!(printed.contains("# read from "), "{printed}");
    for line in [
        "refresh = \"1s\"",
        "[rules.oldest_ready]",
        "threshold = \"5m\"",
        "[rules.failure_rate]",
        "threshold = \"10%\"",
        "[rules.tenant_heartbeat_budget]",
        "enabled = false",
    ] {
        assert!(printed.contains(line), "missing {line}: {printed}");
    }
    // What it prints is a config file that means the same (but for the masked password).
    let mut reread = config::parse(&printed, "printed").unwrap();
    let mut original = config::parse(text, "original").unwrap();
    reread.connections.clear();
    original.connections.clear();
    assert_eq!(reread, original);
}

#[test]
fn jobtop_refuses_to_start_on_a_broken_file() {
    for args in [vec!["config"], vec!["postgres://nobody@localhost/app"]] {
        let out = cli::jobtop("refresh = 2\n[rules.slow_job]\nfor = \"soon\"\n", &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = cli::stderr(&out);
        assert!(
            err.contains("config.toml:3:7: invalid value: string \"soon\""),
            "{err}"
        );
        assert!(cli::stdout(&out).is_empty());
    }
    // An explicit file that does not exist is an error too, not a silent default.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jobtop"))
        .args(["config", "--config", "/nonexistent/jobtop.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        cli::stderr(&out).contains("/nonexistent/jobtop.toml: cannot read the config file"),
        "{}",
        cli::stderr(&out)
    );
}

#[test]
fn an_unknown_named_connection_is_refused() {
    let out = cli::jobtop(
        "[connections.staging]\nurl = \"postgres://x@y/z\"\n",
        &["@prod"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        cli::stderr(&out).contains("no connection named @prod in ")
            && cli::stderr(&out).contains("known: @staging"),
        "{}",
        cli::stderr(&out)
    );
}

#[test]
fn the_shipped_example_is_a_valid_config() {
    let text = include_str!("../../assets/config.example.toml");
    let c = config::parse(text, "assets/config.example.toml").unwrap();
    assert!(c.connections["prod"].read_only);
    assert_eq!(c.rules.oldest_ready("reports").unwrap().threshold, 3600.0);
    assert_eq!(c.rules.kind_failure_rate("any", "flaky_partner_sync"), None);
    // Apart from what it sets on purpose, it spells out the defaults.
    let mut defaults = Config::default().rules;
    defaults.oldest_ready.queues = c.rules.oldest_ready.queues.clone();
    defaults.kind_failure_rate.kinds = c.rules.kind_failure_rate.kinds.clone();
    assert_eq!(c.rules, defaults);
}

/// A named connection works wherever a URL does (the monitor, `check`, the action
/// commands' `--url`, the demo's `--url`); a mistyped command and a URL of another database
/// say what is wrong instead of being tried as a database.
#[test]
fn named_connections_work_everywhere_a_url_does() {
    let config = "[connections.staging]\nurl = \"postgres://x@127.0.0.1:1/z\"\n";
    let tried = |args: &[&str]| {
        let out = cli::jobtop(config, args);
        let err = format!("{}{}", cli::stderr(&out), cli::stdout(&out));
        assert!(
            err.contains("cannot connect to x@127.0.0.1:1/z"),
            "{args:?} did not try @staging: {err}"
        );
        out
    };
    assert_eq!(tried(&["check", "@staging"]).status.code(), Some(3));
    tried(&["retry", "--url", "@staging", "--queue", "q"]);
    tried(&["demo", "--url", "@staging", "--no-ui"]);
    let out = cli::jobtop(config, &["demo", "--url", "@nope", "--no-ui"]);
    assert!(
        cli::stderr(&out).contains("no connection named @nope"),
        "{}",
        cli::stderr(&out)
    );
    let out = cli::jobtop(config, &["chek", "@staging"]);
    assert!(
        cli::stderr(&out).contains("did you mean `jobtop check`"),
        "{}",
        cli::stderr(&out)
    );
    let out = cli::jobtop(config, &["mysql://u@h/db"]);
    assert!(
        cli::stderr(&out).contains("jobtop reads PostgreSQL only"),
        "{}",
        cli::stderr(&out)
    );
}
