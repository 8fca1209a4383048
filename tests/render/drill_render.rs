//! The drill-down views drawn into ratatui's TestBackend at 80×24 and 160×48, compared with
//! stored snapshots (`tests/render/snapshots/`), and a corpus of hostile database text that must
//! reach the screen escaped, measured and cut, never raw.

use crate::drill_data;
use crate::drill_data::{
    answer, code, dead_report, detail, key, kinds_report, page, tenants_report,
};
use crate::ui_data::{app_on_screen, buffer, render, t0};
use crossterm::event::KeyCode;
use jobtop::app::{App, Msg};
use jobtop::backend::JobState;
use jobtop::backend::drill::{JobPage, Response};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn app(width: u16, height: u16) -> App {
    app_on_screen(chrono::Duration::milliseconds(400), width, height)
}

/// Every size, one snapshot each.
fn snapshots(name: &str, setup: impl Fn(&mut App)) {
    for (w, h) in SIZES {
        let mut app = app(w, h);
        setup(&mut app);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(&app, w, h));
    }
}

fn dead_page() -> JobPage {
    let mut p = page(48200..48230, JobState::Dead, true);
    p.scope_count = jobtop::backend::Count::exact(64);
    p
}

/// webhooks (the last queue by name), opened on its dead tab.
fn open_webhooks_dead(app: &mut App) {
    app.update(key('G'));
    answer(
        app,
        code(KeyCode::Enter),
        Response::Jobs(page(1..4, JobState::Ready, false)),
    );
    for _ in 0..4 {
        app.update(code(KeyCode::Tab));
    }
    answer(app, key('r'), Response::Jobs(dead_page()));
    app.update(key('j'));
}

#[test]
fn queue_jobs_on_the_dead_tab() {
    snapshots("jobs_dead", open_webhooks_dead);
}

#[test]
fn queue_jobs_running_with_a_filter() {
    snapshots("jobs_running_filtered", |app| {
        answer(
            app,
            code(KeyCode::Enter),
            Response::Jobs(page(1..4, JobState::Ready, false)),
        );
        app.update(code(KeyCode::Tab));
        answer(
            app,
            code(KeyCode::Tab),
            Response::Jobs(page(300..304, JobState::Running, false)),
        );
        app.update(key('/'));
        for c in "tenant:acme".chars() {
            app.update(key(c));
        }
        answer(
            app,
            code(KeyCode::Enter),
            Response::Jobs(page(300..303, JobState::Running, false)),
        );
    });
}

#[test]
fn filter_prompt_warning_before_a_big_scan() {
    snapshots("filter_warning", |app| {
        let mut big = page(1..40, JobState::Ready, true);
        big.scope_count = jobtop::backend::Count::capped_at(10_001, 10_000);
        app.update(key('j'));
        app.update(key('j'));
        answer(app, code(KeyCode::Enter), Response::Jobs(big));
        app.update(key('/'));
        for c in "connection reset".chars() {
            app.update(key(c));
        }
        app.update(code(KeyCode::Enter));
    });
}

#[test]
fn job_detail_errors_and_payload() {
    snapshots("job_errors", |app| {
        open_webhooks_dead(app);
        answer(
            app,
            code(KeyCode::Enter),
            Response::Job(Some(Box::new(detail(48201)))),
        );
    });
    snapshots("job_payload", |app| {
        open_webhooks_dead(app);
        answer(
            app,
            code(KeyCode::Enter),
            Response::Job(Some(Box::new(detail(48201)))),
        );
        app.update(code(KeyCode::Tab));
    });
}

#[test]
fn dead_letters_grouped() {
    snapshots("dead_letters", |app| {
        answer(app, key('d'), Response::DeadLetters(dead_report()));
        app.update(key('j'));
    });
}

#[test]
fn dead_letter_group_jobs() {
    snapshots("dead_letter_group", |app| {
        answer(app, key('d'), Response::DeadLetters(dead_report()));
        let mut p = page(48220..48237, JobState::Dead, false);
        p.rows.reverse();
        answer(app, code(KeyCode::Enter), Response::Jobs(p));
    });
}

#[test]
fn workers_view() {
    snapshots("workers", |app| {
        app.update(key('w'));
    });
}

#[test]
fn stuck_jobs() {
    snapshots("stuck", |app| {
        let mut p = page(500..504, JobState::Running, false);
        for (i, r) in p.rows.iter_mut().enumerate() {
            r.worker = Some(if i < 3 { "worker-dead" } else { "worker-a" }.into());
            r.started_at = Some(t0() - chrono::Duration::seconds(600 + 2000 * i as i64));
            r.worker_heartbeat_at =
                Some(t0() - chrono::Duration::seconds(if i < 3 { 600 } else { 1 }));
            r.queue = if i % 2 == 0 { "billing" } else { "default" }.into();
        }
        answer(app, key('s'), Response::Jobs(p));
    });
}

#[test]
fn kinds_view() {
    snapshots("kinds", |app| {
        answer(app, key('t'), Response::Kinds(kinds_report()));
    });
}

#[test]
fn tenants_view() {
    snapshots("tenants", |app| {
        answer(app, key('T'), Response::Tenants(tenants_report()));
    });
}

#[test]
fn loading_and_failure_keep_the_rows() {
    let mut app = app(80, 24);
    let effects = app.update(code(KeyCode::Enter));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("loading…"), "{screen}");
    let (ticket, _) = drill_data::load(&effects);
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Jobs(page(1..4, JobState::Ready, false))),
    });
    let (ticket, _) = drill_data::load(&app.update(key('r')));
    // A refresh says nothing while it is quick, and "loading…" once it is slow.
    assert!(!render(&app, 80, 24).contains("loading…"));
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(1)));
    assert!(render(&app, 80, 24).contains("loading…"));
    app.update(Msg::Loaded {
        ticket,
        result: Err(
            "error returned from database: canceling statement due to statement timeout".into(),
        ),
    });
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("failed: took longer than the statement"),
        "{screen}"
    );
    assert!(screen.contains("email.send"), "rows stay: {screen}");
    let (ticket, _) = drill_data::load(&app.update(key('r')));
    app.update(Msg::Loaded {
        ticket,
        result: Err("error communicating with database: Connection refused".into()),
    });
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("failed: error communicating with database"),
        "{screen}"
    );
    assert!(screen.contains("email.send"), "rows stay: {screen}");
}

/// Database text meant to break a terminal.
fn hostile() -> Vec<String> {
    vec![
        "clear\x1b[2J\x1b[Hscreen".into(),
        "title\x1b]0;pwned\x07set".into(),
        "osc52\x1b]52;c;cm0gLXJmIC8=\x07copy".into(),
        "bell\x07 nul\0 del\x7f c1\u{9b}31m csi".into(),
        "line\r\nbreak\ttab\x08back".into(),
        "bidi \u{202e}txt.exe\u{202c} \u{2066}iso\u{2069}".into(),
        "wide 日本語のジョブ 🚀🚀 done".into(),
        "combining e\u{301}e\u{301}e\u{301} zero\u{200b}width".into(),
        "bad utf8 \u{fffd}\u{fffd} here".into(),
        format!("huge {}", "x".repeat(1_000_000)),
    ]
}

fn hostile_app(width: u16, height: u16) -> Vec<App> {
    let corpus = hostile();
    let mut apps = Vec::new();
    let rows = |state| -> JobPage {
        let mut p = page(1..(corpus.len() as i64 + 1), state, false);
        for (r, s) in p.rows.iter_mut().zip(&corpus) {
            r.kind = s.clone();
            r.tenant = Some(s.clone());
            r.queue = s.clone();
            r.worker = Some(s.clone());
            r.last_error = Some(s.clone());
        }
        p
    };
    // A job list with every column.
    let mut a = app(width, height);
    a.update(key('w'));
    answer(
        &mut a,
        code(KeyCode::Enter),
        Response::Jobs(rows(JobState::Running)),
    );
    apps.push(a.clone());
    // Job detail: every field, payload and errors.
    let mut d = detail(1);
    d.job.kind = corpus.join(" | ");
    d.job.queue = corpus[0].clone();
    d.job.tenant = Some(corpus[1].clone());
    d.job.worker = Some(corpus[4].clone());
    d.job.last_error = Some(corpus.join("\n"));
    d.idempotency_key = Some(corpus[5].clone());
    d.payload = Some(format!(
        "{{\"a\": \"{}\", \"b\": [\"{}\"], \"c\": \"{}\"}}",
        corpus[0], corpus[6], corpus[5]
    ));
    for e in &mut d.errors {
        e.error = corpus.join("\n");
        e.worker = Some(corpus[1].clone());
    }
    let mut b = a.clone();
    answer(
        &mut b,
        code(KeyCode::Enter),
        Response::Job(Some(Box::new(d))),
    );
    apps.push(b.clone());
    b.update(code(KeyCode::Tab));
    apps.push(b.clone());
    // Dead letters, kinds, tenants.
    let mut report = dead_report();
    for (g, s) in report.groups.iter_mut().zip(corpus.iter().skip(3)) {
        g.signature = s.clone();
        g.sample = corpus.join("\n");
        g.kinds = vec![(s.clone(), 3)];
        g.queues = vec![(s.clone(), 3)];
    }
    let mut c = app(width, height);
    answer(&mut c, key('d'), Response::DeadLetters(report));
    apps.push(c.clone());
    let mut kinds = kinds_report();
    for (k, s) in kinds.kinds.iter_mut().zip(corpus.iter().skip(5)) {
        k.kind = s.clone();
    }
    answer(&mut c, key('t'), Response::Kinds(kinds));
    apps.push(c.clone());
    let mut tenants = tenants_report();
    for (t, s) in tenants.tenants.iter_mut().zip(corpus.iter().skip(2)) {
        t.tenant = Some(s.clone());
    }
    answer(&mut c, key('T'), Response::Tenants(tenants));
    apps.push(c.clone());
    // The prompt itself, with a pasted escape sequence.
    let mut p = app(width, height);
    app_prompt(&mut p, &corpus[1]);
    apps.push(p);
    apps
}

fn app_prompt(app: &mut App, text: &str) {
    app.update(key('/'));
    for ch in text.chars() {
        app.update(key(ch));
    }
}

fn bad_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

#[test]
fn hostile_content_never_reaches_the_terminal_raw() {
    for (w, h) in SIZES {
        for (i, app) in hostile_app(w, h).iter().enumerate() {
            let buffer = buffer(app, w, h);
            for cell in buffer.content() {
                assert!(
                    !cell.symbol().chars().any(bad_char),
                    "view {i} at {w}x{h}: raw control character {:?} reached the buffer",
                    cell.symbol()
                );
            }
            let screen = render(app, w, h);
            assert!(!screen.contains("\x1b"), "{screen}");
        }
    }
    // Escaped, visibly, and cut to the screen.
    let names = [
        "list",
        "detail_errors",
        "detail_payload",
        "dead_letters",
        "kinds",
        "tenants",
        "prompt",
    ];
    for (name, app) in names.iter().zip(hostile_app(80, 24)) {
        insta::assert_snapshot!(format!("hostile_{name}_80x24"), render(&app, 80, 24));
    }
    let apps = hostile_app(160, 48);
    let detail = render(&apps[1], 160, 48);
    assert!(detail.contains("clear\\x1b[2J\\x1b[Hscreen"), "{detail}");
    assert!(detail.contains("\\u{202e}"), "{detail}");
}

#[test]
fn wide_and_combining_characters_keep_columns_aligned() {
    let mut a = app(160, 48);
    let mut p = page(1..4, JobState::Dead, false);
    p.rows[0].kind = "日本語のジョブ種類ですよ".into();
    p.rows[1].kind = "e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}".into();
    p.rows[2].kind = "plain".into();
    a.update(key('G'));
    answer(&mut a, code(KeyCode::Enter), Response::Jobs(p));
    let buffer = buffer(&a, 160, 48);
    // The TRY column ("5/5") starts at the same cell on every row.
    let mut columns = Vec::new();
    for y in 0..48 {
        let line: Vec<&str> = (0..160).map(|x| buffer[(x, y)].symbol()).collect();
        let joined: String = line.concat();
        if joined.contains("5/5") {
            let x = (0..158)
                .find(|&x| line[x] == "5" && line[x + 1] == "/" && line[x + 2] == "5")
                .unwrap();
            columns.push(x);
        }
    }
    assert_eq!(columns.len(), 3, "{columns:?}");
    assert!(columns.iter().all(|&c| c == columns[0]), "{columns:?}");
}

/// The kinds view with `sync.push` on top: it fails (14 attempts) and has no dead job.
fn kinds_with_a_retried_kind(app: &mut App) {
    let mut kinds = kinds_report();
    kinds.kinds.insert(
        0,
        jobtop::backend::drill::KindStats {
            kind: "sync.push".into(),
            succeeded: 40,
            failed_attempts: 14,
            dead: 0,
            run_p50: Some(0.5),
            run_p95: Some(2.0),
            wait_p50: Some(1.0),
        },
    );
    answer(app, key('t'), Response::Kinds(kinds));
}

/// sync.push's attempts: two signatures, the first made by two jobs.
fn sync_push_attempts() -> jobtop::backend::drill::DeadLetterReport {
    let mut report = dead_report();
    report.window = jobtop::backend::drill::HistoryWindow::Hour;
    report.groups.truncate(2);
    let set = |g: &mut jobtop::backend::drill::ErrorGroup, sig: &str, sample: &str, n: i64| {
        g.signature = sig.into();
        g.sample = sample.into();
        g.count = n;
        g.kinds = vec![("sync.push".into(), n)];
        g.queues = vec![("sync".into(), n)];
    };
    set(
        &mut report.groups[0],
        "timeout after <n>s talking to '?'",
        "timeout after 30s talking to 'crm.internal'",
        9,
    );
    report.groups[0].ids = vec![
        jobtop::backend::JobId::Int(902),
        jobtop::backend::JobId::Int(901),
    ];
    set(
        &mut report.groups[1],
        "connection refused",
        "connection refused",
        5,
    );
    report.groups[1].ids = vec![jobtop::backend::JobId::Int(950)];
    report.jobs = 14;
    report
}

#[test]
fn a_kind_without_dead_jobs_opens_its_failed_attempts() {
    snapshots("kind_failed_attempts", |app| {
        kinds_with_a_retried_kind(app);
        let request = answer(
            app,
            code(KeyCode::Enter),
            Response::DeadLetters(sync_push_attempts()),
        );
        match request {
            jobtop::backend::drill::Request::FailedAttempts(q) => {
                assert_eq!(q.kind, "sync.push");
                assert_eq!(q.window, jobtop::backend::drill::HistoryWindow::Hour);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            app.breadcrumb().last().unwrap(),
            "failed attempts 1h · sync.push"
        );
    });
    // A kind with dead jobs still opens its dead letters.
    let mut app = app(80, 24);
    kinds_with_a_retried_kind(&mut app);
    app.update(code(KeyCode::Down));
    let request = answer(
        &mut app,
        code(KeyCode::Enter),
        Response::DeadLetters(dead_report()),
    );
    assert!(
        matches!(&request, jobtop::backend::drill::Request::DeadLetters(q) if q.kind.is_some()),
        "{request:?}"
    );
}

#[test]
fn a_schema_without_failed_attempts_says_so_where_the_rows_would_be() {
    let mut app = app(80, 24);
    kinds_with_a_retried_kind(&mut app);
    let (ticket, _) = drill_data::load(&app.update(code(KeyCode::Enter)));
    app.update(Msg::Loaded {
        ticket,
        result: Err(format!(
            "failed attempts: not supported by the mapped backend: {}",
            jobtop::backend::drill::NO_FAILED_ATTEMPTS
        )),
    });
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("this system keeps no failed attempts"),
        "{screen}"
    );
    assert!(!screen.contains("loading…"), "{screen}");
}
