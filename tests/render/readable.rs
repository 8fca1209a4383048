//! What is on screen is right and readable (issue 18): the header names the database at
//! every width, a figure is never cut, invisible characters are shown escaped with the
//! width the terminal draws, one error is one signature.

use crate::drill_data::{answer, dead_report, key};
use crate::ui_data::{self, app_polled, buffer, render, t0};
use jobtop::app::{App, Msg};
use jobtop::backend::Count;
use jobtop::backend::drill::Response;

/// The demo's target: a socket directory as long as the throwaway cluster's.
const SOCKET_TARGET: &str = "postgres@/tmp/jobtop-pg-3f9a2023cabe:5432/jobtop_demo";

fn app_on(target: &str) -> App {
    let mut config = ui_data::config();
    config.target = target.to_string();
    let mut app = app_polled(config, ui_data::snapshot());
    app.update(Msg::Tick(t0() + chrono::Duration::milliseconds(400)));
    app
}

fn line(screen: &str, n: usize) -> &str {
    screen.lines().nth(n).unwrap_or_default()
}

#[test]
fn the_header_names_the_database_at_every_width() {
    for width in [80u16, 100, 120, 160] {
        let app = app_on(SOCKET_TARGET);
        let screen = render(&app, width, 24);
        let top = line(&screen, 0);
        // Shortened in the middle: the port and the database stay whole.
        assert!(top.contains(":5432/jobtop_demo"), "{width}: {top}");
        assert!(top.contains("postgres@"), "{width}: {top}");
        assert!(top.contains("ago"), "freshness stays: {width}: {top}");
    }
    // Where the whole line fits, nothing is shortened.
    let top = line(&render(&app_on(SOCKET_TARGET), 160, 24), 0).to_string();
    assert!(top.contains(SOCKET_TARGET), "{top}");
    assert!(top.contains("every 1s"), "{top}");
}

#[test]
fn a_target_shortens_in_the_middle_of_its_host() {
    use jobtop::ui::header_target;
    assert_eq!(
        header_target("ops@db.internal:5432/app", 40),
        "ops@db.internal:5432/app"
    );
    let short = header_target(SOCKET_TARGET, 36);
    assert!(short.ends_with(":5432/jobtop_demo"), "{short}");
    assert!(short.starts_with("postgres@/tmp"), "{short}");
    assert!(short.contains('…'), "{short}");
    assert_eq!(jobtop::ui::text::width(&short), 36, "{short}");
    // Too narrow even for the port and the database: both ends still show.
    let tiny = header_target(SOCKET_TARGET, 12);
    assert!(jobtop::ui::text::width(&tiny) <= 12, "{tiny}");
    assert!(tiny.ends_with("demo"), "{tiny}");
}

#[test]
fn header_totals_are_whole_or_absent() {
    let mut snapshot = ui_data::snapshot();
    snapshot.queues[2].dead = Count {
        value: 1409,
        capped: false,
        estimated: true,
    };
    let mut app = app_polled(ui_data::config(), snapshot);
    app.update(Msg::Tick(t0()));
    for width in [80u16, 90, 100, 120, 160] {
        let screen = render(&app, width, 24);
        let totals = line(&screen, 1);
        if let Some(at) = totals.find("dead ") {
            assert!(
                totals[at..].starts_with("dead ~1409"),
                "{width}: a cut figure: {totals}"
            );
        }
        assert!(totals.contains("ready 10k+"), "{width}: {totals}");
    }
    let totals = render(&app, 160, 24);
    assert!(line(&totals, 1).contains("dead ~1409"), "{totals}");
}

#[test]
fn a_big_figure_widens_its_column_or_drops_it_never_cut() {
    let mut snapshot = ui_data::snapshot();
    snapshot.queues[0].running = Count {
        value: 123_456_789,
        capped: false,
        estimated: true,
    };
    let app = app_polled(ui_data::config(), snapshot);
    for width in [80u16, 120, 160] {
        let screen = render(&app, width, 24);
        let row = screen
            .lines()
            .find(|l| l.contains("default"))
            .unwrap_or_default();
        // ~123M: either whole or its column gave way.
        assert!(
            row.contains("~123M") || !screen.contains("RUN"),
            "{width}: {row}"
        );
    }
}

#[test]
fn dead_letter_tallies_keep_their_numbers_and_the_signature_takes_the_room() {
    let mut report = dead_report();
    report.groups[1].queues = vec![("webhooks".into(), 475)];
    report.groups[1].count = 475;
    let long = "upstream rejected request req_<id> with status <n> after <n> attempts because the \
                remote end closed the connection";
    report.groups[0].signature = long.into();
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut app = app_on("ops@db.internal:5432/app");
        app.update(Msg::ScreenSize {
            width: w,
            height: h,
        });
        answer(&mut app, key('d'), Response::DeadLetters(report.clone()));
        let screen = render(&app, w, h);
        let row = screen
            .lines()
            .find(|l| l.contains("webhook.deliver") || l.contains("HTTP <n>"))
            .unwrap_or_default();
        assert!(
            !row.contains("webhooks 4 ") && !row.ends_with("webhooks 4"),
            "{row}"
        );
        if row.contains("webhooks") || row.contains("webh") {
            assert!(row.contains("475"), "{w}: {row}");
        }
        if w == 160 {
            let first = screen.lines().find(|l| l.contains("upstream")).unwrap();
            // Not cut at 58 cells while the tallies take 70: the signature comes first.
            assert!(first.contains("because the remote end closed"), "{first}");
        }
    }
}

/// Format and invisible characters in a queue name and an error: escaped, one cell each.
const INVISIBLE: [(char, &str); 12] = [
    ('\u{00ad}', "\\xad"),
    ('\u{200b}', "\\u{200b}"),
    ('\u{200c}', "\\u{200c}"),
    ('\u{200d}', "\\u{200d}"),
    ('\u{2028}', "\\u{2028}"),
    ('\u{2029}', "\\u{2029}"),
    ('\u{2060}', "\\u{2060}"),
    ('\u{feff}', "\\u{feff}"),
    ('\u{fe0f}', "\\u{fe0f}"),
    ('\u{202e}', "\\u{202e}"),
    ('\u{2066}', "\\u{2066}"),
    ('\u{e0041}', "\\u{e0041}"),
];

fn invisible(c: char) -> bool {
    INVISIBLE.iter().any(|(i, _)| *i == c)
}

#[test]
fn invisible_characters_are_escaped_with_the_width_the_terminal_draws() {
    let mut snapshot = ui_data::snapshot();
    snapshot.queues[0].name = INVISIBLE.iter().map(|(c, _)| format!("q{c}")).collect();
    snapshot.workers[0].host = Some(format!("host{}", '\u{00ad}'));
    let mut app = app_polled(ui_data::config(), snapshot);
    app.update(Msg::Tick(t0()));
    let mut report = dead_report();
    report.groups[0].signature = format!("boom{}here", '\u{200b}');
    report.groups[0].sample = "boom\u{2028}here\u{feff}".to_string();
    let mut dead = app.clone();
    dead.update(Msg::ScreenSize {
        width: 160,
        height: 48,
    });
    answer(&mut dead, key('d'), Response::DeadLetters(report));
    for (app, what) in [(&app, "overview"), (&dead, "dead letters")] {
        let buffer = buffer(app, 160, 48);
        for cell in buffer.content() {
            assert!(
                !cell.symbol().chars().any(invisible),
                "{what}: {:?} reached the buffer raw",
                cell.symbol()
            );
            // Every cell the buffer holds is as wide as the terminal will draw it.
            let drawn = jobtop::ui::text::width(cell.symbol());
            assert!(drawn <= 2, "{what}: {:?}", cell.symbol());
        }
    }
    for (c, escaped) in INVISIBLE {
        let mut snapshot = ui_data::snapshot();
        snapshot.queues[0].name = format!("a{c}b");
        let screen = render(&app_polled(ui_data::config(), snapshot), 160, 48);
        assert!(
            screen.contains(&format!("a{escaped}b")),
            "{escaped}: {screen}"
        );
    }
    let screen = render(&dead, 160, 48);
    assert!(screen.contains("boom\\u{200b}here"), "{screen}");
    assert!(screen.contains("boom\\u{2028}here\\u{feff}"), "{screen}");
}

fn steady_minutes(ok: u32, failed: u32) -> Vec<jobtop::backend::MinuteBucket> {
    (0..60)
        .map(|_| jobtop::backend::MinuteBucket {
            succeeded: ok,
            failed,
        })
        .collect()
}

#[test]
fn the_open_minute_is_not_drawn_as_a_drop() {
    let mut snapshot = ui_data::snapshot();
    let mut minutes = steady_minutes(20, 0);
    // Five seconds into the minute: one job so far.
    minutes.last_mut().unwrap().succeeded = 1;
    snapshot.queues[0].minutes = minutes;
    let app = app_polled(ui_data::config(), snapshot);
    let screen = render(&app, 160, 48);
    let row = screen.lines().find(|l| l.contains("default")).unwrap();
    assert!(row.ends_with("████"), "a steady queue draws steady: {row}");
    assert!(!row.contains('▁'), "{row}");
}

/// The style of the cell where `needle` starts on the row of `queue`.
fn style_of(app: &App, queue: &str, needle: &str) -> ratatui::style::Style {
    let buffer = buffer(app, 160, 48);
    let screen = render(app, 160, 48);
    let (y, line) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(queue))
        .unwrap();
    let x = line[..line.find(needle).unwrap()].chars().count();
    buffer[(x as u16, y as u16)].style()
}

#[test]
fn failure_rates_are_coloured_by_the_alert_rule_not_by_being_above_zero() {
    let mut snapshot = ui_data::snapshot();
    snapshot.queues[0].minutes = steady_minutes(99, 1);
    snapshot.queues[4].minutes = steady_minutes(80, 20);
    let app = app_polled(ui_data::config(), snapshot);
    let plain = style_of(&app, "mailers", "0.0%");
    assert_eq!(
        style_of(&app, "default", "1.0%"),
        plain,
        "1% is under the 10% rule"
    );
    // The default rule: critical above 10%.
    let theme = jobtop::ui::theme::Theme::named(app.theme);
    assert_eq!(style_of(&app, "billing", "20.0%").fg, theme.critical.fg);
    // A stricter rule makes 1% alarming.
    let mut strict = app.clone();
    strict.rules.failure_rate.threshold = jobtop::app::alerts::rules::Ratio(0.005);
    assert_eq!(style_of(&strict, "default", "1.0%").fg, theme.critical.fg);
}

/// A fleet on EC2: hosts differ only at their end.
fn ec2_fleet() -> App {
    let mut snapshot = ui_data::snapshot();
    for (i, w) in snapshot.workers.iter_mut().enumerate() {
        w.host = Some(format!("ip-10-0-1-{}.eu-west-1.compute.internal", 20 + i));
    }
    let mut app = app_polled(ui_data::config(), snapshot);
    app.update(Msg::Tick(t0()));
    app
}

#[test]
fn worker_hosts_get_the_room_there_is_and_shorten_in_the_middle() {
    let app = ec2_fleet();
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("ip-10-0-1-22.eu-west-1.compute.internal"),
        "{screen}"
    );
    let mut view = app.clone();
    view.update(key('w'));
    let screen = render(&view, 160, 48);
    assert!(
        screen.contains("ip-10-0-1-22.eu-west-1.compute.internal"),
        "{screen}"
    );
    // Narrow: both dead workers' hosts still tell apart.
    let screen = render(&app, 80, 24);
    let dead = screen.lines().find(|l| l.contains("worker-dead")).unwrap();
    if dead.contains("ip-") {
        assert!(dead.contains("ip-10"), "{dead}");
    }
}

#[test]
fn a_worker_whose_heartbeat_stopped_has_one_name_everywhere() {
    let app = ec2_fleet();
    let overview = render(&app, 160, 48);
    let mut view = app.clone();
    view.update(key('w'));
    let workers = render(&view, 160, 48);
    for screen in [&overview, &workers] {
        // Its row in the workers table (the overview's alerts may name it too).
        let row = screen
            .lines()
            .find(|l| l.contains("worker-dead") && l.contains("ip-"))
            .unwrap();
        assert!(row.contains("STALE 3 stuck"), "{row}");
        assert!(!screen.contains("CRASHED"), "{screen}");
    }
    // Help explains the word.
    let mut help = app.clone();
    help.update(key('?'));
    assert!(render(&help, 160, 48).contains("STALE: no heartbeat"));
}

#[test]
fn s_on_a_worker_resets_its_stuck_jobs_or_says_why_not() {
    use jobtop::app::Effect;
    let planned = |effects: &[Effect]| {
        effects
            .iter()
            .any(|e| matches!(e, Effect::PlanAction { .. }))
    };
    // The workers view: the selected (stale) worker's jobs.
    let mut app = ec2_fleet();
    app.update(key('w'));
    let effects = app.update(key('S'));
    assert!(planned(&effects), "{effects:?}");
    // A live worker: no plan, a reason.
    let mut app = ec2_fleet();
    app.update(key('w'));
    app.update(key('j'));
    let effects = app.update(key('S'));
    assert!(!planned(&effects), "{effects:?}");
    let toast = app.visible_toast().expect("S says why");
    assert!(toast.text.contains("is live"), "{}", toast.text);
    // Another view: where to go.
    let mut app = ec2_fleet();
    answer(&mut app, key('d'), Response::DeadLetters(dead_report()));
    app.update(key('S'));
    assert!(app.visible_toast().unwrap().text.contains("stuck list"));
}

#[test]
fn the_audit_log_opens_from_every_view() {
    use jobtop::app::Effect;
    let mut app = ec2_fleet();
    let views: Vec<(char, Option<Response>)> = vec![
        ('w', None),
        ('d', Some(Response::DeadLetters(dead_report()))),
        (
            't',
            Some(Response::Kinds(crate::drill_data::kinds_report())),
        ),
    ];
    for (k, response) in views {
        let mut a = app.clone();
        match response {
            Some(r) => {
                answer(&mut a, key(k), r);
            }
            None => {
                a.update(key(k));
            }
        }
        let effects = a.update(key('L'));
        assert!(
            matches!(effects.as_slice(), [Effect::LoadAudit { .. }]),
            "{k}: {effects:?}"
        );
        assert!(a.actions.audit.is_some());
    }
    app.update(key('L'));
    assert!(app.actions.audit.is_some());
}

fn audit_entry(actor: &str, params: serde_json::Value) -> jobtop::backend::AuditEntry {
    jobtop::backend::AuditEntry {
        id: 7,
        at: t0(),
        actor: actor.into(),
        action: "pause".into(),
        queue: Some("reports".into()),
        job_ids: None,
        count: None,
        params,
        outcome: "ok".into(),
        detail: None,
    }
}

#[test]
fn the_audit_pane_keeps_the_actor_at_80x24_and_says_the_pause_reason() {
    let mut app = ec2_fleet();
    app.update(key('L'));
    app.update(Msg::AuditLoaded {
        result: Ok(vec![audit_entry(
            "alice@jump-1",
            serde_json::json!({"reason": "deploy of billing v2"}),
        )]),
    });
    let screen = render(&app, 80, 24);
    assert!(screen.contains("ACTOR"), "{screen}");
    assert!(screen.contains("alice@jump-1"), "{screen}");
    assert!(screen.contains("reason: deploy of billing v2"), "{screen}");
}

#[test]
fn help_wraps_its_descriptions_and_never_cuts_them() {
    use jobtop::app::keymap::visible_bindings;
    for (w, h) in [(60u16, 15u16), (80, 24), (120, 36), (160, 48), (250, 70)] {
        let mut app = ec2_fleet();
        app.update(key('?'));
        // Every screenful, scrolled to the end.
        let mut seen = String::new();
        for _ in 0..40 {
            seen.push_str(&render(&app, w, h));
            app.update(crate::drill_data::code(crossterm::event::KeyCode::Down));
        }
        let words: String = seen.split_whitespace().collect::<Vec<_>>().join(" ");
        for b in visible_bindings(false) {
            // The description's last word shows whole: nothing was cut off the end.
            let end: Vec<&str> = b.help.split_whitespace().rev().take(2).collect();
            let end = format!("{} {}", end[1], end[0]);
            assert!(words.contains(&end), "{w}x{h}: {:?} cut: {seen}", b.help);
        }
    }
}

#[test]
fn the_footer_shows_whole_hints_by_importance() {
    let app = ec2_fleet();
    let footer = |w: u16| render(&app, w, 24).lines().last().unwrap().to_string();
    let wide = footer(160);
    for hint in [
        "? help",
        "R retry",
        "L audit",
        "C schedules",
        "p pause",
        "S reset",
    ] {
        assert!(wide.contains(hint), "{hint}: {wide}");
    }
    let narrow = footer(80);
    for hint in ["? help", "q quit", "a alerts", "Enter open", "d dead"] {
        assert!(narrow.contains(hint), "{hint}: {narrow}");
    }
    // Never a hint cut at the edge: each word is a whole hint's word.
    for w in 60..=250u16 {
        let line = footer(w);
        assert!(jobtop::ui::text::width(&line) <= w as usize);
        let last = line.split_whitespace().last().unwrap();
        assert!(
            [
                "help",
                "quit",
                "alerts",
                "open",
                "dead",
                "stuck",
                "workers",
                "retry",
                "pause",
                "audit",
                "kinds",
                "filter",
                "reset",
                "schedules",
                "1h/24h/7d",
                "pane",
                "sort",
                "freeze",
                "refresh",
                "interval"
            ]
            .contains(&last),
            "{w}: {line}"
        );
    }
}

fn alert_since(
    app: &App,
    rule: jobtop::app::alerts::RuleId,
    queue: &str,
) -> chrono::DateTime<chrono::Utc> {
    use jobtop::app::alerts::{AlertKey, Subject};
    app.alerts
        .active
        .get(&AlertKey {
            rule,
            subject: Subject::queue(queue),
        })
        .unwrap_or_else(|| panic!("no {rule:?} alert on {queue}"))
        .since
}

#[test]
fn a_failure_rate_alert_began_when_the_failures_did_not_when_the_monitor_started() {
    use jobtop::app::alerts::RuleId;
    let mut snapshot = ui_data::snapshot();
    // Healthy for 45 minutes, then half of every minute failing for the last 15.
    let mut minutes = steady_minutes(40, 0);
    for m in minutes.iter_mut().skip(45) {
        m.succeeded = 20;
        m.failed = 20;
    }
    snapshot.queues[0].minutes = minutes;
    let app = app_polled(ui_data::config(), snapshot);
    let since = alert_since(&app, RuleId::FailureRate, "default");
    assert_eq!(since, t0() - chrono::Duration::minutes(14), "{since}");
}

#[test]
fn the_oldest_ready_alert_does_not_drift_forward() {
    use jobtop::app::alerts::RuleId;
    let mut app = app_polled(ui_data::config(), ui_data::snapshot());
    let first = alert_since(&app, RuleId::OldestReady, "mailers");
    // Later polls: the oldest job was taken, a younger one is now the oldest, and the
    // poll answered late.
    for s in 1..5 {
        let mut later = ui_data::snapshot_at(chrono::Duration::seconds(s * 10));
        later.queues[1].oldest_ready_at = later.queues[1]
            .oldest_ready_at
            .map(|t| t + chrono::Duration::seconds(s * 5));
        app.update(Msg::Polled {
            result: Ok(later),
            at: t0() + chrono::Duration::seconds(s * 10 + 1),
        });
        assert_eq!(alert_since(&app, RuleId::OldestReady, "mailers"), first);
    }
}
