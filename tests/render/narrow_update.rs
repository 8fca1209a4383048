//! `/` filters and `<` `>` sorts every table, and PgDn/PgUp move a screen: the overview's
//! queues, workers, kinds, dead letters, tenants (schedules: `render_schedules`).

use crossterm::event::KeyCode;
use jobtop::app::App;
use jobtop::app::views::View;
use jobtop::backend::JobState;
use jobtop::backend::drill::Response;

use crate::drill_data::{answer, code, dead_report, key, kinds_report, page, tenants_report};
use crate::ui_data::{app_on_screen, render};

fn app() -> App {
    app_on_screen(chrono::Duration::zero(), 80, 24)
}

/// `/`, the words, Enter.
fn filter(app: &mut App, words: &str) {
    app.update(key('/'));
    // The prompt starts with the filter in force: clear it first.
    for _ in 0..40 {
        app.update(code(KeyCode::Backspace));
    }
    for c in words.chars() {
        app.update(key(c));
    }
    app.update(code(KeyCode::Enter));
}

fn kinds(app: &App) -> Vec<String> {
    match app.top_view() {
        Some(View::Kinds(v)) => v.keys(),
        other => panic!("kinds view on top, not {other:?}"),
    }
}

#[test]
fn slash_filters_the_overviews_queues_by_name_and_esc_clears_it() {
    let mut app = app();
    filter(&mut app, "hook");
    assert_eq!(app.queue_names(), ["webhooks"]);
    assert_eq!(*app.selected_queue, Some("webhooks".to_string()));
    assert!(render(&app, 80, 24).contains("Queues (1 of 5, /hook)"));
    // Enter opens the one queue left.
    assert!(app.top_view().is_none());
    app.update(code(KeyCode::Esc));
    assert_eq!(app.queue_names().len(), 5);
    // An id alone still opens the job.
    filter(&mut app, "48213");
    assert!(matches!(app.top_view(), Some(View::Job(_))));
}

#[test]
fn slash_and_sort_in_the_kinds_dead_letters_workers_and_tenants_tables() {
    let mut app = app();
    answer(&mut app, key('t'), Response::Kinds(kinds_report()));
    assert_eq!(
        kinds(&app),
        [
            "webhook.deliver",
            "email.send",
            "billing.invoice",
            "report.build"
        ]
    );
    filter(&mut app, "e");
    assert_eq!(kinds(&app).len(), 4);
    filter(&mut app, "EMAIL");
    assert_eq!(kinds(&app), ["email.send"]);
    assert!(render(&app, 120, 30).contains("[/EMAIL]"));
    // Esc clears the filter first, and only then leaves.
    app.update(code(KeyCode::Esc));
    assert_eq!(kinds(&app).len(), 4);
    // `>`: by kind, A to Z; again: OK, most first; `I` turns it round; `<` walks back.
    app.update(key('>'));
    assert_eq!(
        kinds(&app),
        [
            "billing.invoice",
            "email.send",
            "report.build",
            "webhook.deliver"
        ]
    );
    app.update(key('>'));
    assert_eq!(kinds(&app)[0], "email.send");
    assert!(render(&app, 120, 30).contains("sorted by OK ↓"));
    app.update(key('I'));
    assert_eq!(kinds(&app)[0], "report.build");
    app.update(key('<'));
    app.update(key('<'));
    assert_eq!(
        kinds(&app)[0],
        "webhook.deliver",
        "back to the report's order"
    );
    app.update(code(KeyCode::Esc));
    assert!(app.top_view().is_none());

    // Dead letters: the filter looks in the signature, the sample, kinds and queues.
    answer(&mut app, key('d'), Response::DeadLetters(dead_report()));
    filter(&mut app, "billing");
    let Some(View::DeadLetters(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(v.keys().len(), 1);
    assert!(v.keys()[0].starts_with("PG::UniqueViolation"));
    app.update(code(KeyCode::Esc));
    app.update(key('>'));
    app.update(key('>'));
    let Some(View::DeadLetters(v)) = app.top_view() else {
        panic!()
    };
    let counts: Vec<i64> = v.shown().iter().map(|g| g.count).collect();
    assert_eq!(counts, [37, 21, 2], "by JOBS, most first");
    app.update(code(KeyCode::Esc));

    // Workers: by host, queue or id.
    app.update(key('w'));
    filter(&mut app, "mailers");
    let Some(View::Workers(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(app.worker_ids_narrowed(&v.narrow), ["worker-m"]);
    assert!(render(&app, 80, 24).contains("worker-m"));
    assert!(!render(&app, 80, 24).contains("worker-a"));
    app.update(code(KeyCode::Esc));
    app.update(key('>'));
    app.update(key('>'));
    let Some(View::Workers(v)) = app.top_view() else {
        panic!()
    };
    let by_jobs = app.worker_ids_narrowed(&v.narrow);
    assert_eq!(by_jobs[0], "worker-a", "by JOBS, most first: {by_jobs:?}");
    app.update(code(KeyCode::Esc));

    // Tenants.
    answer(&mut app, key('T'), Response::Tenants(tenants_report()));
    let Some(View::Tenants(v)) = app.top_view() else {
        panic!()
    };
    let all = v.shown().len();
    let first = v.shown()[0].tenant.clone().unwrap();
    filter(&mut app, &first);
    let Some(View::Tenants(v)) = app.top_view() else {
        panic!()
    };
    assert!(v.shown().len() < all, "{first} narrows {all} tenants");
}

#[test]
fn page_down_moves_a_screen_of_rows_then_the_next_page() {
    let mut app = app();
    answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Jobs(page(1..101, JobState::Ready, true)),
    );
    let selected = |app: &App| match app.top_view() {
        Some(View::Jobs(v)) => (v.page_number(), v.selected_index()),
        _ => panic!(),
    };
    // At 80×24 a screen is 16 rows: no load, the selection moves.
    assert!(app.update(code(KeyCode::PageDown)).is_empty());
    assert_eq!(selected(&app), (1, Some(16)));
    assert!(app.update(code(KeyCode::PageUp)).is_empty());
    assert_eq!(selected(&app), (1, Some(0)));
    // From the last row PageDown loads the next page.
    app.update(key('G'));
    answer(
        &mut app,
        code(KeyCode::PageDown),
        Response::Jobs(page(101..201, JobState::Ready, false)),
    );
    assert_eq!(selected(&app), (2, Some(0)));
}
