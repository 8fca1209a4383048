//! `App::update` for the drill-down: opening views and the loads they ask for, answers
//! (current, stale, failed), paging, tabs, the filter prompt, Esc, refresh on poll, copy.

use std::time::Duration;

use crate::drill_data::{answer, code, dead_report, detail, key, kinds_report, load, page, row};
use crate::ui_data;
use crate::ui_data::{snapshot, t0};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jobtop::app::views::{DetailPane, View};
use jobtop::app::{App, Effect, Msg, Pane};
use jobtop::backend::drill::{
    Cursor, DeadWindow, HistoryWindow, JobScope, Order, Request, Response, SortKey,
};
use jobtop::backend::{JobId, JobState};

fn jobs_request(r: &Request) -> &jobtop::backend::drill::JobQuery {
    match r {
        Request::Jobs(q) => q,
        other => panic!("not a jobs request: {other:?}"),
    }
}

/// The request the jobs view on top makes for its current page.
fn jobs_request_of(app: &App) -> Request {
    match app.top_view() {
        Some(View::Jobs(v)) => Request::Jobs(jobtop::backend::drill::JobQuery {
            scope: v.scope.clone(),
            filter: v.filter.clone(),
            order: v.order,
            after: v.pages.last().cloned().flatten(),
            limit: 100,
        }),
        _ => panic!("no jobs view"),
    }
}

fn poll(app: &mut App, secs: i64) -> Vec<Effect> {
    app.update(Msg::Polled {
        result: Ok(snapshot()),
        at: t0() + chrono::Duration::seconds(secs),
    })
}

/// The overview (queues by name, `billing` selected) on a screen of 80×24.
fn app() -> App {
    ui_data::app_on_screen(chrono::Duration::zero(), 80, 24)
}

#[test]
fn enter_opens_the_selected_queue_on_its_first_busy_tab_and_loads_it() {
    let mut app = app();
    // billing: 3 ready.
    let effects = app.update(code(KeyCode::Enter));
    let (ticket, request) = load(&effects);
    let q = jobs_request(&request);
    assert_eq!(
        q.scope,
        JobScope::Queue {
            queue: "billing".into(),
            state: JobState::Ready
        }
    );
    assert_eq!(q.after, None);
    assert_eq!(q.order, Order::OldestFirst);
    assert_eq!(q.limit, 100);
    assert_eq!(app.breadcrumb(), vec!["overview", "billing", "ready"]);
    let Some(View::Jobs(v)) = app.top_view() else {
        panic!("jobs view on top")
    };
    assert!(v.load.is_loading());
    assert_eq!(v.load.pending, Some(ticket));

    // reports has nothing ready or running: it opens on scheduled.
    app.update(code(KeyCode::Esc));
    assert!(app.top_view().is_none());
    app.update(key('G'));
    app.update(key('k'));
    assert_eq!(app.selected_queue.as_deref(), Some("reports"));
    let (_, request) = load(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        jobs_request(&request).scope,
        JobScope::Queue {
            queue: "reports".into(),
            state: JobState::Scheduled
        }
    );
}

#[test]
fn answers_fill_the_view_and_stale_or_failed_ones_keep_what_is_there() {
    let mut app = app();
    let effects = app.update(code(KeyCode::Enter));
    let (first, _) = load(&effects);
    // Switching tabs asks again; the first answer arrives late and is ignored.
    let (second, request) = load(&app.update(code(KeyCode::Tab)));
    assert!(second > first);
    assert_eq!(
        jobs_request(&request).scope,
        JobScope::Queue {
            queue: "billing".into(),
            state: JobState::Scheduled
        }
    );
    app.update(Msg::Loaded {
        ticket: first,
        result: Ok(Response::Jobs(page(1..4, JobState::Ready, false))),
    });
    let jobs = |app: &App| match app.top_view() {
        Some(View::Jobs(v)) => v.clone(),
        _ => panic!("jobs view on top"),
    };
    assert!(jobs(&app).page.is_none(), "a stale answer is dropped");
    app.update(Msg::Loaded {
        ticket: second,
        result: Ok(Response::Jobs(page(10..15, JobState::Scheduled, false))),
    });
    let v = jobs(&app);
    assert_eq!(v.rows().len(), 5);
    assert_eq!(v.selected, Some(JobId::Int(10)), "first row selected");
    assert!(!v.load.is_loading());

    // A failed refresh keeps the rows and says why.
    app.update(key('j'));
    let (third, _) = load(&app.update(key('r')));
    app.update(Msg::Loaded {
        ticket: third,
        result: Err("statement timeout".into()),
    });
    let v = jobs(&app);
    assert_eq!(v.rows().len(), 5);
    assert_eq!(v.selected, Some(JobId::Int(11)));
    assert_eq!(v.load.error.as_deref(), Some("statement timeout"));
    assert!(!v.load.is_loading());
    // A failed read is not repeated on every poll, only after a while (or on `r`).
    assert!(poll(&mut app, 1).is_empty());
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(31)));
    let (ticket, request) = load(&poll(&mut app, 31));
    assert_eq!(request, jobs_request_of(&app));
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Jobs(page(10..15, JobState::Scheduled, false))),
    });
    assert_eq!(jobs(&app).load.error, None);
    load(&poll(&mut app, 32));
}

#[test]
fn paging_moves_by_cursor_and_back() {
    let mut app = app();
    answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Jobs(page(1..101, JobState::Ready, true)),
    );
    // PageDown from the last row: the next page starts after the last row's (run_at, id).
    app.update(key('G'));
    let request = answer(
        &mut app,
        code(KeyCode::PageDown),
        Response::Jobs(page(101..201, JobState::Ready, true)),
    );
    let last = row(100, JobState::Ready);
    assert_eq!(
        jobs_request(&request).after,
        Some(Cursor {
            key: last.run_at,
            id: JobId::Int(100)
        })
    );
    assert_eq!(
        JobScope::Stuck {
            running_longer_than: Duration::ZERO,
            stale_after: Duration::ZERO
        }
        .sort_key(),
        SortKey::StartedAt
    );
    // Down past the last row of a page goes on to the next page, selecting its first row.
    app.update(key('G'));
    let request = answer(
        &mut app,
        key('j'),
        Response::Jobs(page(201..231, JobState::Ready, false)),
    );
    assert_eq!(jobs_request(&request).after.clone().unwrap().id, 200);
    let Some(View::Jobs(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(v.page_number(), 3);
    assert_eq!(v.selected, Some(JobId::Int(201)));
    // No more pages: Down at the end stays.
    app.update(key('G'));
    assert!(app.update(key('j')).is_empty());
    // Up from the first row goes back a page and lands on its last row.
    app.update(key('g'));
    let request = answer(
        &mut app,
        key('k'),
        Response::Jobs(page(101..201, JobState::Ready, true)),
    );
    assert_eq!(jobs_request(&request).after.clone().unwrap().id, 100);
    let Some(View::Jobs(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(v.page_number(), 2);
    assert_eq!(v.selected, Some(JobId::Int(200)));
    // PageUp from the first row to the first page; PageUp there only moves the selection.
    app.update(key('g'));
    let request = answer(
        &mut app,
        code(KeyCode::PageUp),
        Response::Jobs(page(1..101, JobState::Ready, true)),
    );
    assert_eq!(jobs_request(&request).after, None);
    assert!(app.update(code(KeyCode::PageUp)).is_empty());
    // `o` flips the order and starts over.
    let (_, request) = load(&app.update(key('o')));
    assert_eq!(jobs_request(&request).order, Order::NewestFirst);
    assert_eq!(jobs_request(&request).after, None);
}

#[test]
fn refreshes_keep_the_selection_on_the_same_job() {
    let mut app = app();
    answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Jobs(page(1..6, JobState::Ready, false)),
    );
    app.update(key('j'));
    app.update(key('j'));
    // A poll refreshes the page; job 1 was claimed meanwhile.
    let effects = poll(&mut app, 1);
    let (ticket, request) = load(&effects);
    assert_eq!(jobs_request(&request).after, None, "the same page again");
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Jobs(page(2..7, JobState::Ready, false))),
    });
    let selected = |app: &App| match app.top_view() {
        Some(View::Jobs(v)) => (v.selected.key().cloned(), v.selected_index()),
        _ => panic!(),
    };
    assert_eq!(selected(&app), (Some(JobId::Int(3)), Some(1)));
    // Job 3 leaves: the selection stays at the same row.
    let (ticket, _) = load(&poll(&mut app, 2));
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Jobs(JobPageWithout::page(&[2, 4, 5, 6]))),
    });
    assert_eq!(selected(&app), (Some(JobId::Int(4)), Some(1)));
    // No refresh while one is under way, or while frozen.
    let (_, _) = load(&poll(&mut app, 3));
    assert!(poll(&mut app, 4).is_empty(), "one load at a time");
}

struct JobPageWithout;

impl JobPageWithout {
    fn page(ids: &[i64]) -> jobtop::backend::drill::JobPage {
        let mut p = page(0..0, JobState::Ready, false);
        p.rows = ids.iter().map(|&id| row(id, JobState::Ready)).collect();
        p
    }
}

#[test]
fn frozen_views_do_not_refresh_and_reports_refresh_slowly() {
    let mut app = app();
    answer(&mut app, key('d'), Response::DeadLetters(dead_report()));
    // Dead letters read many rows: a poll a second later does not ask again...
    assert!(poll(&mut app, 1).is_empty());
    // ...fifteen seconds later it does.
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(16)));
    let effects = poll(&mut app, 16);
    let (ticket, request) = load(&effects);
    assert!(matches!(request, Request::DeadLetters(_)));
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::DeadLetters(dead_report())),
    });
    app.update(key(' '));
    assert!(app.is_frozen());
    app.update(Msg::Tick(t0() + chrono::Duration::seconds(60)));
    assert!(poll(&mut app, 60).is_empty(), "frozen");
}

#[test]
fn enter_walks_from_kinds_to_dead_letters_to_jobs_to_one_job_and_esc_walks_back() {
    let mut app = app();
    let request = answer(&mut app, key('t'), Response::Kinds(kinds_report()));
    assert!(matches!(&request, Request::Kinds(q) if q.window == HistoryWindow::Hour));
    // Worst kind first and selected; Tab switches the window.
    let Some(View::Kinds(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(v.selected.as_deref(), Some("webhook.deliver"));
    let (_, request) = load(&app.update(code(KeyCode::Tab)));
    assert!(matches!(&request, Request::Kinds(q) if q.window == HistoryWindow::Day));
    let (ticket, _) = load(&app.update(key('r')));
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Kinds(kinds_report())),
    });
    app.update(key('j'));

    // Enter on email.send: its dead letters over the day.
    let mut report = dead_report();
    report.groups.truncate(1);
    let request = answer(
        &mut app,
        code(KeyCode::Enter),
        Response::DeadLetters(report),
    );
    match &request {
        Request::DeadLetters(q) => {
            assert_eq!(q.kind.as_deref(), Some("email.send"));
            assert_eq!(q.window, DeadWindow::Day);
            assert_eq!(q.limit, 20_000);
        }
        other => panic!("{other:?}"),
    }
    // Enter on the group: its jobs, by id, newest first.
    let request = answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Jobs(page(48200..48237, JobState::Dead, false)),
    );
    let q = jobs_request(&request);
    assert_eq!(q.order, Order::NewestFirst);
    match &q.scope {
        JobScope::Ids { ids } => {
            assert_eq!(ids.len(), 37);
            assert_eq!(ids[0], 48236);
        }
        other => panic!("{other:?}"),
    }
    // Enter on a job: its detail.
    app.update(key('j'));
    let request = answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Job(Some(Box::new(detail(48201)))),
    );
    assert!(matches!(
        request,
        Request::Job {
            id: JobId::Int(48201),
            ..
        }
    ));
    assert_eq!(
        app.breadcrumb(),
        vec![
            "overview",
            "kinds 24h",
            "dead letters 24h · email.send",
            "SMTP <n> mailbox unavailable for user <n>",
            "#48201"
        ]
    );
    assert_eq!(app.selected_job_ids(), vec![48201]);

    // Esc pops, and the view shown again is fetched again.
    let (_, request) = load(&app.update(code(KeyCode::Esc)));
    assert!(matches!(request, Request::Jobs(_)));
    assert_eq!(app.selected_job_ids(), vec![48201]);
    load(&app.update(code(KeyCode::Esc)));
    load(&app.update(code(KeyCode::Esc)));
    assert!(
        app.update(code(KeyCode::Esc)).is_empty(),
        "back on the overview"
    );
    assert!(app.top_view().is_none());
    assert_eq!(app.breadcrumb(), vec!["overview"]);
}

#[test]
fn job_detail_scrolls_its_panes_and_copies_the_id() {
    let mut app = app();
    // `/` on the overview opens a job by id.
    app.update(key('/'));
    for c in "#48213".chars() {
        app.update(key(c));
    }
    let request = answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Job(Some(Box::new(detail(48213)))),
    );
    assert!(matches!(
        request,
        Request::Job {
            id: JobId::Int(48213),
            ..
        }
    ));
    let view = |app: &App| match app.top_view() {
        Some(View::Job(v)) => v.clone(),
        _ => panic!(),
    };
    let v = view(&app);
    assert_eq!(
        v.pane,
        DetailPane::Errors,
        "errors first when there are some"
    );
    // 3 attempts: a header and 3 message lines each, a blank line between.
    assert_eq!(v.error_lines.len(), 3 * 4 + 2);
    assert_eq!(v.payload_lines.len(), 13);
    app.update(code(KeyCode::Tab));
    assert_eq!(view(&app).pane, DetailPane::Payload);
    // 80×24 leaves 24 - 2 (header) - 2 (breadcrumb, footer) - 8 (head) = 12 rows: of 13
    // payload lines one can scroll away.
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(view(&app).scroll, [0, 1]);
    app.update(key('g'));
    assert_eq!(view(&app).scroll, [0, 0]);
    app.update(key('G'));
    assert_eq!(view(&app).scroll, [0, 1]);
    app.update(code(KeyCode::Right));
    app.update(code(KeyCode::Right));
    app.update(code(KeyCode::Left));
    assert_eq!(view(&app).hscroll, 8);

    let effects = app.update(key('y'));
    assert!(effects.contains(&Effect::Copy("48213".into())));
    assert_eq!(
        app.visible_toast().map(|n| n.text.as_str()),
        Some("copied #48213 (OSC 52)")
    );

    // A job that is not there says so.
    app.update(code(KeyCode::Esc));
    app.update(key('/'));
    app.update(key('7'));
    answer(&mut app, code(KeyCode::Enter), Response::Job(None));
    assert_eq!(view(&app).detail, Some(None));
}

#[test]
fn the_filter_prompt_parses_warns_before_big_scans_and_esc_clears_it() {
    let mut app = app();
    // webhooks: ready 30 (opens on ready).
    app.update(key('G'));
    let answer_page = |app: &mut App, msg: Msg, count: i64| {
        let mut p = page(1..31, JobState::Ready, false);
        p.scope_count = jobtop::backend::Count::capped_at(count, 10_000);
        answer(app, msg, Response::Jobs(p))
    };
    answer_page(&mut app, code(KeyCode::Enter), 30);
    app.update(key('/'));
    assert!(app.drill.input.is_some());
    // While the prompt is open keys are text: `q` does not quit.
    for c in "kind:email.send q".chars() {
        assert!(app.update(key(c)).is_empty());
    }
    app.update(code(KeyCode::Backspace));
    app.update(code(KeyCode::Backspace));
    // A small list is filtered straight away.
    let request = answer_page(&mut app, code(KeyCode::Enter), 30);
    let q = jobs_request(&request);
    assert_eq!(q.filter.kind.as_deref(), Some("email.send"));
    assert_eq!(q.filter.error_text, None);
    assert!(app.drill.input.is_none());
    // A filtered list refreshes like a report: not on every poll.
    assert!(poll(&mut app, 1).is_empty());

    // A big one (10k+) warns first; a second Enter searches.
    let (ticket, _) = load(&app.update(key('r')));
    let mut big = page(1..31, JobState::Ready, false);
    big.scope_count = jobtop::backend::Count::capped_at(10_001, 10_000);
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Jobs(big)),
    });
    app.update(key('/'));
    assert_eq!(app.drill.input.as_ref().unwrap().text, "kind:email.send");
    for c in " timeout".chars() {
        app.update(key(c));
    }
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    let confirm = app.drill.input.as_ref().unwrap().confirm.clone().unwrap();
    assert!(confirm.contains("10000+ jobs"), "{confirm}");
    let (_, request) = load(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        jobs_request(&request).filter.error_text.as_deref(),
        Some("timeout")
    );

    // A bad term is reported and nothing is asked.
    app.update(key('/'));
    app.update(code(KeyCode::Backspace));
    for c in " id:".chars() {
        app.update(key(c));
    }
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert!(app.drill.input.as_ref().unwrap().error.is_some());
    app.update(code(KeyCode::Esc));
    assert!(app.drill.input.is_none());

    // Esc clears the filter first, then goes back.
    let (_, request) = load(&app.update(code(KeyCode::Esc)));
    assert!(jobs_request(&request).filter.is_empty());
    assert!(app.top_view().is_some());
    app.update(code(KeyCode::Esc));
    assert!(app.top_view().is_none());
}

#[test]
fn view_keys_open_from_anywhere_and_worker_lists() {
    let mut app = app();
    // `w`: the workers view uses the overview's data, and loads nothing.
    assert!(app.update(key('w')).is_empty());
    let Some(View::Workers(v)) = app.top_view() else {
        panic!()
    };
    assert_eq!(v.selected.as_deref(), Some("worker-dead"), "crashed first");
    let (_, request) = load(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        jobs_request(&request).scope,
        JobScope::Worker {
            worker: "worker-dead".into()
        }
    );
    assert_eq!(
        app.breadcrumb(),
        vec!["overview", "workers", "worker worker-dead"]
    );
    // `s` on top of that.
    let (_, request) = load(&app.update(key('s')));
    assert_eq!(
        jobs_request(&request).scope,
        JobScope::Stuck {
            running_longer_than: Duration::from_secs(3600),
            stale_after: Duration::from_secs(60)
        }
    );
    // `T` tenants, `d` dead letters.
    let (_, request) = load(&app.update(key('T')));
    assert!(matches!(request, Request::Tenants(q) if q.stale_after == Duration::from_secs(60)));
    let (_, request) = load(&app.update(key('d')));
    assert!(
        matches!(request, Request::DeadLetters(q) if q.window == DeadWindow::Day && q.kind.is_none())
    );
    assert_eq!(app.drill.stack.len(), 5);

    // Enter on the overview's workers pane lists that worker's jobs.
    let mut app = self::app();
    app.update(code(KeyCode::Tab));
    assert_eq!(app.pane, Pane::Workers);
    let (_, request) = load(&app.update(code(KeyCode::Enter)));
    assert!(matches!(
        jobs_request(&request).scope,
        JobScope::Worker { .. }
    ));
}

#[test]
fn selected_and_marked_job_ids_for_actions() {
    let mut app = app();
    assert!(app.selected_job_ids().is_empty());
    answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Jobs(page(1..6, JobState::Ready, false)),
    );
    app.update(key('j'));
    assert_eq!(app.selected_job_ids(), vec![2]);
    if let Some(View::Jobs(v)) = app.drill.stack.last_mut() {
        v.marked.extend([4, 1].map(JobId::Int));
    }
    assert_eq!(app.selected_job_ids(), vec![1, 4]);
    let v = app.jobs_view().unwrap();
    assert!(
        matches!(&v.scope, JobScope::Queue { queue, state: JobState::Ready } if queue == "billing")
    );
    assert!(v.filter.is_empty());
    // Under a job's detail the list is still the one actions apply to; under another
    // view it is not.
    answer(
        &mut app,
        code(KeyCode::Enter),
        Response::Job(Some(Box::new(detail(2)))),
    );
    assert!(app.jobs_view().is_some());
    assert_eq!(app.selected_job_ids(), vec![2]);
    app.update(key('d'));
    assert!(app.jobs_view().is_none());
    assert!(app.selected_job_ids().is_empty());
    // Ctrl-C quits even from the prompt.
    app.update(key('/'));
    let effects = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(effects, vec![Effect::Quit]);
}

#[test]
fn the_alerts_pane_opens_over_a_drill_down_and_esc_returns_to_it() {
    let mut app = app();
    answer(&mut app, key('d'), Response::DeadLetters(dead_report()));
    assert!(matches!(app.top_view(), Some(View::DeadLetters(_))));
    app.update(key('a'));
    assert!(app.show_alerts);
    let screen = ui_data::render(&app, 80, 24);
    assert!(screen.contains("Alerts"), "{screen}");
    assert!(!screen.contains("ERROR SIGNATURE"), "{screen}");
    app.update(code(KeyCode::Esc));
    assert!(!app.show_alerts);
    assert!(
        matches!(app.top_view(), Some(View::DeadLetters(_))),
        "back on the view it opened from"
    );
    assert!(ui_data::render(&app, 80, 24).contains("ERROR SIGNATURE"));
}

/// The overview with an estimated dead pile in webhooks, as a big pile reads.
fn estimated_webhooks(value: i64) -> jobtop::backend::Snapshot {
    let mut snap = snapshot();
    let webhooks = snap
        .queues
        .iter_mut()
        .find(|q| q.name == "webhooks")
        .unwrap();
    webhooks.dead = jobtop::backend::Count {
        value,
        capped: false,
        estimated: true,
    };
    snap
}

#[test]
fn one_pile_shows_one_number_in_the_header_the_row_the_tab_and_the_dialog() {
    let mut app = ui_data::app_polled(ui_data::config(), estimated_webhooks(1316));
    app.update(Msg::ScreenSize {
        width: 160,
        height: 48,
    });
    assert!(ui_data::render(&app, 160, 48).contains("dead ~1316"));
    app.update(key('G'));
    assert_eq!(app.selected_queue.as_deref(), Some("webhooks"));
    let mut effects = app.update(code(KeyCode::Enter));
    while !matches!(
        &load(&effects).1,
        Request::Jobs(q) if q.scope == JobScope::Queue { queue: "webhooks".into(), state: JobState::Dead }
    ) {
        effects = app.update(code(KeyCode::Tab));
    }
    let (ticket, _) = load(&effects);
    let mut dead_page = page(1..4, JobState::Dead, true);
    dead_page.scope_count = jobtop::backend::Count::exact(1368);
    app.update(Msg::Loaded {
        ticket,
        result: Ok(Response::Jobs(dead_page)),
    });
    let screen = ui_data::render(&app, 160, 48);
    assert!(screen.contains("dead 1368 "), "the tab: {screen}");
    assert!(screen.contains("│ dead 1368"), "the header: {screen}");
    assert!(!screen.contains("1316"), "{screen}");

    // The next polls estimate again; the counted figure stands while it is fresh.
    app.update(Msg::Polled {
        result: Ok(estimated_webhooks(1320)),
        at: t0() + chrono::Duration::seconds(5),
    });
    app.update(code(KeyCode::Esc));
    let overview = ui_data::render(&app, 160, 48);
    assert!(overview.contains("│ dead 1368"), "{overview}");
    let row = overview.lines().find(|l| l.contains("webhooks")).unwrap();
    assert!(row.contains("1368") && !row.contains("1320"), "{row}");

    // A minute on, nobody looking: the estimate is back.
    app.update(Msg::Polled {
        result: Ok(estimated_webhooks(1320)),
        at: t0() + chrono::Duration::seconds(90),
    });
    assert!(ui_data::render(&app, 160, 48).contains("dead ~1320"));
}

#[test]
fn the_retry_dialogs_count_of_a_whole_pile_is_the_one_the_overview_shows() {
    let mut app = ui_data::app_polled(ui_data::config(), estimated_webhooks(1316));
    app.update(key('G'));
    let effects = app.update(key('R'));
    let (request, action) = effects
        .iter()
        .find_map(|e| match e {
            Effect::PlanAction { request, action } => Some((*request, action.clone())),
            _ => None,
        })
        .expect("a plan is asked for");
    let rows = (0..1371)
        .map(|id| {
            (
                JobId::Int(id),
                "webhooks".to_string(),
                "hook.deliver".to_string(),
                JobState::Dead,
            )
        })
        .collect();
    let mut plan = jobtop::backend::Plan::from_rows(*action, rows, 10_000);
    plan.truncated = false;
    app.update(Msg::Planned {
        request,
        result: Ok(Box::new(plan)),
    });
    let screen = ui_data::render(&app, 160, 48);
    assert!(screen.contains("│ dead 1371"), "{screen}");
    assert!(
        screen.contains("1,371") || screen.contains("1371 "),
        "{screen}"
    );
}

/// `/` with a payload term warns by the planner's estimate of the list, not by its count:
/// past the count's cap, 40,000 expected jobs filter at once, 2.3 million ask first.
#[test]
fn the_payload_filter_warns_by_the_planners_estimate() {
    let mut app = app();
    app.update(key('G'));
    let listed = |estimate: i64| {
        let mut p = page(1..31, JobState::Ready, false);
        p.scope_count = jobtop::backend::Count::capped_at(10_001, 10_000);
        p.scope_estimate = Some(estimate);
        Response::Jobs(p)
    };
    answer(&mut app, code(KeyCode::Enter), listed(40_000));
    app.update(key('/'));
    for c in "payload.customer_id:4711".chars() {
        app.update(key(c));
    }
    let (ticket, request) = load(&app.update(code(KeyCode::Enter)));
    let payload = jobs_request(&request).filter.payload.clone().unwrap();
    assert_eq!(
        (payload.path, payload.value),
        (vec!["customer_id".to_string()], "4711".to_string())
    );
    app.update(Msg::Loaded {
        ticket,
        result: Ok(listed(2_300_000)),
    });
    app.update(key('/'));
    app.update(code(KeyCode::Backspace));
    app.update(key('2'));
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    let confirm = app.drill.input.as_ref().unwrap().confirm.clone().unwrap();
    assert!(
        confirm.contains("~2300000 jobs of this list (the planner's estimate)"),
        "{confirm}"
    );
    let (_, request) = load(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        jobs_request(&request)
            .filter
            .payload
            .as_ref()
            .unwrap()
            .value,
        "4712"
    );
}
