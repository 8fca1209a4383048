//! Several sources on one screen (`app::sources`): the merged overview at 80×24 and 160×48
//! with one source stale, the selection following (source, queue), keys that act going to
//! the selected queue's source, a read-only source refusing while the others act.

use crossterm::event::{KeyCode, KeyEvent};
use jobtop::app::sources::{Sources, SourcesMsg};
use jobtop::app::{App, Effect, Msg};
use jobtop::backend::{Action, Count, JobId, JobState, Plan, Snapshot};

use crate::ui_data::{config, queue, snapshot, t0};

fn key(code: KeyCode) -> SourcesMsg {
    SourcesMsg::Key(KeyEvent::from(code))
}

fn billing() -> Snapshot {
    snapshot()
}

fn web() -> Snapshot {
    let mut s = snapshot();
    let mut mailers = queue("mailers", 7, Some(30));
    mailers.dead = Count::exact(12);
    let mut hooks = queue("hooks", 2, Some(5));
    hooks.running = Count::exact(1);
    s.queues = vec![mailers, hooks];
    s.workers.truncate(1);
    s
}

fn legacy() -> Snapshot {
    let mut s = snapshot();
    s.queues = vec![queue("default", 3, Some(20)), queue("exports", 0, None)];
    s
}

/// Three sources polled at t0; `legacy` (read-only) then fails at t0+3s; shown at t0+4s.
fn screen() -> Sources {
    let app = |backend: &str, read_only: bool| {
        let mut c = config();
        c.backend = backend.to_string();
        c.read_only = read_only;
        c.target = format!("ops@db.internal:5432/{backend}");
        App::new(c, std::time::Duration::from_secs(1), t0())
    };
    let mut screen = Sources::new(
        vec![
            ("billing".into(), app("river", false)),
            ("web".into(), app("pg-boss", false)),
            ("legacy".into(), app("solid-queue", true)),
        ],
        t0(),
    );
    for (i, snap) in [billing(), web(), legacy()].into_iter().enumerate() {
        let backend = screen.sources[i].app.config.backend.clone();
        screen.update(SourcesMsg::Opened {
            source: i,
            backend,
            capabilities: crate::ui_data::CAPABILITIES,
        });
        screen.update(SourcesMsg::Source(
            i,
            Msg::Polled {
                result: Ok(snap),
                at: t0(),
            },
        ));
    }
    screen.update(SourcesMsg::Source(
        2,
        Msg::Polled {
            result: Err(
                "error communicating with database: Connection refused (os error 111)".into(),
            ),
            at: t0() + chrono::Duration::seconds(3),
        },
    ));
    screen.update(SourcesMsg::Tick(t0() + chrono::Duration::seconds(4)));
    screen
}

fn render(screen: &Sources, width: u16, height: u16) -> String {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| jobtop::ui::sources::draw(f, screen))
        .unwrap();
    crate::ui_data::text(terminal.backend().buffer())
}

/// The rows of the queues table that name `source`.
fn rows_of<'a>(screen: &'a str, source: &str) -> Vec<&'a str> {
    screen
        .lines()
        .skip_while(|l| !l.contains("SOURCE"))
        .filter(|l| l.contains(&format!(" {source} ")))
        .collect()
}

/// Types `/`, `words` and Enter: the merged list narrowed to what matches.
fn narrow(s: &mut Sources, words: &str) {
    s.update(key(KeyCode::Char('/')));
    for c in words.chars() {
        s.update(key(KeyCode::Char(c)));
    }
    s.update(key(KeyCode::Enter));
}

/// web answers the plan `request` for retrying its `mailers` dead letters: `dead` of them.
fn plan_web_mailers_retry(s: &mut Sources, request: u64, dead: i64) {
    let rows = (1..=dead)
        .map(|i| {
            (
                JobId::Int(i),
                "mailers".to_string(),
                "send".to_string(),
                JobState::Dead,
            )
        })
        .collect();
    let action = Action::Retry(jobtop::backend::JobTarget::Matching {
        filter: jobtop::backend::JobFilter::queue("mailers", JobState::Dead),
        limit: None,
    });
    s.update(SourcesMsg::Source(
        1,
        Msg::Planned {
            request,
            result: Ok(Box::new(Plan::from_rows(action, rows, 1000))),
        },
    ));
}

#[test]
fn three_sources_one_stale_80x24() {
    let s = screen();
    let screen = render(&s, 80, 24);
    let legacy_rows = rows_of(&screen, "legacy");
    assert_eq!(legacy_rows.len(), 2, "{screen}");
    assert!(legacy_rows.iter().all(|r| r.contains("STALE")), "{screen}");
    for other in ["billing", "web"] {
        let rows = rows_of(&screen, other);
        assert!(!rows.is_empty(), "{screen}");
        assert!(rows.iter().all(|r| !r.contains("STALE")), "{screen}");
    }
    let header_legacy = screen.lines().find(|l| l.contains("✗ legacy")).unwrap();
    assert!(header_legacy.contains("STALE 4s"), "{screen}");
    assert!(header_legacy.contains("Connection refused"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn three_sources_one_stale_160x48() {
    let screen = render(&screen(), 160, 48);
    assert!(screen.contains("● web"), "{screen}");
    assert!(
        screen.contains("DONE/min, 1h"),
        "the wall screen has room: {screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn selection_follows_source_and_queue_across_refreshes() {
    let mut s = screen();
    // Sorted by name: billing, default (billing), default (legacy), exports, hooks, mailers
    // (billing), mailers (web), ...
    let keys: Vec<_> = s.rows().into_iter().map(|r| s.row_key(r)).collect();
    let web_mailers = keys
        .iter()
        .position(|k| *k == (1, "mailers".to_string()))
        .unwrap();
    for _ in 0..web_mailers {
        s.update(key(KeyCode::Down));
    }
    assert_eq!(s.selected.key(), Some(&(1, "mailers".to_string())));
    // web gains a queue that sorts first; billing loses one.
    let mut more = web();
    more.queues.push(queue("aaa", 1, None));
    s.update(SourcesMsg::Source(
        1,
        Msg::Polled {
            result: Ok(more),
            at: t0() + chrono::Duration::seconds(5),
        },
    ));
    assert_eq!(s.selected.key(), Some(&(1, "mailers".to_string())));
    // Tab shows one source at a time; the selection lands on its rows.
    s.update(key(KeyCode::Tab));
    assert!(s.rows().iter().all(|r| r.source() == 0));
    s.update(key(KeyCode::Esc));
    // `/` filters across sources by "source queue".
    narrow(&mut s, "web m");
    let keys: Vec<_> = s.rows().into_iter().map(|r| s.row_key(r)).collect();
    assert_eq!(keys, vec![(1, "mailers".to_string())]);
}

#[test]
fn another_sources_poll_moves_the_selected_row_and_its_own_poll_settles_it() {
    let mut s = screen();
    let keys: Vec<_> = s.rows().into_iter().map(|r| s.row_key(r)).collect();
    let billing_default = (0, "default".to_string());
    let at = keys.iter().position(|k| *k == billing_default).unwrap();
    for _ in 0..at {
        s.update(key(KeyCode::Down));
    }
    assert_eq!(s.selected.key(), Some(&billing_default));
    assert_eq!(s.selected_row(), Some(at));
    // web gains a queue sorted first: the same queue stays selected, one row lower.
    let mut more = web();
    more.queues.push(queue("aaa", 1, None));
    let polled = |result| Msg::Polled {
        result: Ok(result),
        at: t0() + chrono::Duration::seconds(5),
    };
    s.update(SourcesMsg::Source(1, polled(more)));
    assert_eq!(s.selected.key(), Some(&billing_default));
    assert_eq!(s.selected_row(), Some(at + 1));
    // billing loses the selected queue: the selection lands on the first row.
    let mut fewer = billing();
    fewer.queues.retain(|q| q.name != "default");
    s.update(SourcesMsg::Source(0, polled(fewer)));
    let first = s.rows().into_iter().map(|r| s.row_key(r)).next();
    assert_eq!(s.selected.key(), first.as_ref());
    assert_eq!(s.selected_row(), Some(0));
}

#[test]
fn actions_go_to_the_selected_source_and_name_it() {
    let mut s = screen();
    narrow(&mut s, "web mailers");
    let effects = s.update(key(KeyCode::Char('R')));
    let request = match effects.as_slice() {
        [(1, Effect::PlanAction { request, action })] => {
            assert_eq!(action.queue(), Some("mailers"));
            *request
        }
        other => panic!("a plan for web: {other:?}"),
    };
    plan_web_mailers_retry(&mut s, request, 12);
    let screen = render(&s, 80, 24);
    assert!(
        screen.contains("Retry 12 dead jobs of kind `send` in `web` › `mailers`?"),
        "{screen}"
    );
    // Esc closes the dialog: the merged overview has the keys again.
    s.update(key(KeyCode::Esc));
    assert!(s.active.is_none());

    // The read-only source refuses, and says which source refused.
    s.update(key(KeyCode::Esc));
    narrow(&mut s, "legacy default");
    let effects = s.update(key(KeyCode::Char('R')));
    assert!(effects.is_empty(), "{effects:?}");
    let toast = s.visible_toast().expect("a refusal").text.clone();
    assert!(toast.starts_with("legacy: read-only"), "{toast}");
}

#[test]
fn a_drill_down_covers_the_screen_and_names_its_source() {
    let mut s = screen();
    narrow(&mut s, "web hooks");
    let effects = s.update(key(KeyCode::Enter));
    assert!(
        effects
            .iter()
            .all(|(i, e)| *i == 1 && matches!(e, Effect::Load { .. })),
        "{effects:?}"
    );
    assert_eq!(s.active, Some(1));
    let breadcrumb = s.covering().expect("web's view").breadcrumb();
    assert_eq!(breadcrumb[..3], ["overview", "web", "hooks"]);
    s.update(key(KeyCode::Esc));
    assert!(s.covering().is_none(), "Esc goes back to every source");
}

#[test]
fn a_source_that_never_answered_says_why_on_its_row() {
    let mut s = Sources::new(
        vec![
            (
                "billing".into(),
                App::new(config(), std::time::Duration::from_secs(1), t0()),
            ),
            (
                "web".into(),
                App::new(config(), std::time::Duration::from_secs(1), t0()),
            ),
        ],
        t0(),
    );
    s.update(SourcesMsg::Source(
        0,
        Msg::Polled {
            result: Ok(billing()),
            at: t0(),
        },
    ));
    s.update(SourcesMsg::Source(
        1,
        Msg::Polled {
            result: Err("password authentication failed for user \"ops\"".into()),
            at: t0(),
        },
    ));
    let screen = render(&s, 80, 24);
    let row = screen
        .lines()
        .find(|l| l.contains(" web ") && l.contains("✗"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("password authentication failed"), "{screen}");
    assert!(screen.contains("NO DATA"), "{screen}");
}

#[test]
fn the_workers_pane_shows_the_selected_queues_source() {
    let mut s = screen();
    let first = render(&s, 80, 24);
    let (source, _) = s.selected.key().cloned().expect("a row is selected");
    let label = s.sources[source].label.clone();
    assert!(first.contains(&format!("Workers of {label} (")), "{first}");
    // Down until a row of `web` (one worker) is selected.
    for _ in 0..10 {
        if s.selected
            .key()
            .is_some_and(|(i, _)| s.sources[*i].label == "web")
        {
            break;
        }
        s.update(key(KeyCode::Down));
    }
    let screen = render(&s, 80, 24);
    assert!(screen.contains("Workers of web (1)"), "{screen}");
    assert!(screen.contains("worker-a"), "{screen}");
    assert!(!screen.contains("worker-dead"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn h_changes_the_chart_window_of_every_source() {
    use jobtop::backend::drill::{HistoryWindow, Request};
    let mut s = screen();
    let effects = s.update(key(KeyCode::Char('H')));
    for source in &s.sources {
        assert_eq!(
            source.app.history.window,
            HistoryWindow::Day,
            "{}",
            source.label
        );
    }
    let mut asked: Vec<usize> = effects
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Effect::Load {
                    request: Request::History(HistoryWindow::Day),
                    ..
                }
            )
        })
        .map(|(i, _)| *i)
        .collect();
    asked.sort();
    assert_eq!(asked, vec![0, 1, 2], "each source reads its own hours");
    let screen = render(&s, 160, 48);
    assert!(screen.contains("24h"), "{screen}");
}

#[test]
fn a_count_read_in_one_source_replaces_its_estimate_on_the_merged_row() {
    let mut s = screen();
    // web's mailers: the overview estimates its dead letters.
    let mut snap = web();
    snap.queues[0].dead = Count {
        value: 45_000,
        capped: false,
        estimated: true,
    };
    s.update(SourcesMsg::Source(
        1,
        Msg::Polled {
            result: Ok(snap),
            at: t0() + chrono::Duration::seconds(4),
        },
    ));
    let row = |screen: &str| {
        screen
            .lines()
            .find(|l| l.contains(" web ") && l.contains("mailers"))
            .unwrap_or_else(|| panic!("{screen}"))
            .to_string()
    };
    assert!(row(&render(&s, 160, 48)).contains("~45k"));
    // Retry's plan counts the whole pile in that source: 321 jobs.
    narrow(&mut s, "web mailers");
    let effects = s.update(key(KeyCode::Char('R')));
    let [(1, Effect::PlanAction { request, .. })] = effects.as_slice() else {
        panic!("a plan for web: {effects:?}");
    };
    plan_web_mailers_retry(&mut s, *request, 321);
    s.update(key(KeyCode::Esc));
    let screen = render(&s, 160, 48);
    let mailers = row(&screen);
    assert!(
        mailers.contains(" 321 "),
        "one number for the pile: {screen}"
    );
    assert!(!mailers.contains("~45k"), "{screen}");
    let header = screen.lines().find(|l| l.contains("● web")).unwrap();
    assert!(
        header.contains("dead 321"),
        "the source's totals too: {screen}"
    );
}

/// The frame at `width`×`height` as lines, and where its tables and tabs are.
fn frame_hits(screen: &Sources, width: u16, height: u16) -> (Vec<String>, jobtop::ui::hits::Hits) {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    let mut hits = jobtop::ui::hits::Hits::default();
    terminal
        .draw(|f| hits = jobtop::ui::hits::draw_sources_with_hits(f, screen))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let lines = (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect();
    (lines, hits)
}

/// Clicks the first line holding every one of `words` that answers a click (the header
/// names sources too), where the terminal reports the first word.
fn click_line(s: &mut Sources, size: (u16, u16), words: &[&str]) -> Vec<(usize, Effect)> {
    let (lines, hits) = frame_hits(s, size.0, size.1);
    let mouse = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| words.iter().all(|w| l.contains(w)))
        .find_map(|(y, line)| {
            let x = line[..line.find(words[0])?].chars().count() as u16;
            hits.at(x, y as u16)
        })
        .unwrap_or_else(|| panic!("nothing to click at {words:?}:\n{}", lines.join("\n")));
    s.update(SourcesMsg::Mouse(mouse))
}

#[test]
fn the_mouse_selects_rows_and_workers_scrolls_and_reaches_a_sources_view() {
    use jobtop::app::Mouse;
    let mut s = screen();
    let small = (80, 24);
    click_line(&mut s, small, &["web", "mailers"]);
    assert_eq!(s.selected.key(), Some(&(1, "mailers".to_string())));
    // The workers pane is now web's: a click selects its worker there.
    let web_worker = s.sources[1].app.worker_ids()[0].clone();
    click_line(&mut s, small, &[&web_worker, "app-1"]);
    assert_eq!(*s.sources[1].app.selected_worker, Some(web_worker));
    // A header line selects nothing.
    let (lines, hits) = frame_hits(&s, 80, 24);
    let y = lines.iter().position(|l| l.contains("QUEUE▲")).unwrap();
    assert_eq!(hits.at(5, y as u16), None);

    // The wheel moves three rows, as the arrows would.
    s.update(key(KeyCode::Home));
    s.update(SourcesMsg::Mouse(Mouse::Wheel(1)));
    assert_eq!(s.selected_row(), Some(3));
    s.update(SourcesMsg::Mouse(Mouse::Wheel(-1)));
    assert_eq!(s.selected_row(), Some(0));

    // Scrolled to the last row of a short screen, a click names the table's row, not the
    // window's: the top row shown is not the first queue.
    let short = (80, 14);
    s.update(key(KeyCode::End));
    let (lines, _) = frame_hits(&s, short.0, short.1);
    let header = lines.iter().position(|l| l.contains("QUEUE▲")).unwrap();
    let top = lines[header + 1].clone();
    assert!(
        !top.contains("billing       billing"),
        "{}",
        lines.join("\n")
    );
    let words: Vec<&str> = top.split_whitespace().filter(|w| w.len() > 2).collect();
    click_line(&mut s, short, &words[..1]);
    let (source, queue) = s.selected.key().cloned().unwrap();
    assert!(s.selected_row().unwrap() > 0);
    assert!(
        top.contains(&s.sources[source].label) && top.contains(&format!(" {queue} ")),
        "clicked {top:?}, selected {queue} of {}",
        s.sources[source].label
    );

    // With a source's view over the screen the mouse is that source's: a tab click reads
    // web's dead jobs.
    s.update(key(KeyCode::Home));
    click_line(&mut s, small, &["web", "mailers"]);
    s.update(key(KeyCode::Enter));
    assert_eq!(s.active, Some(1));
    let effects = click_line(&mut s, small, &["dead"]);
    let loads: Vec<_> = effects
        .iter()
        .filter_map(|(i, e)| match e {
            Effect::Load {
                request: jobtop::backend::drill::Request::Jobs(q),
                ..
            } => Some((*i, q.scope.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        loads,
        vec![(
            1,
            jobtop::backend::drill::JobScope::Queue {
                queue: "mailers".into(),
                state: JobState::Dead
            }
        )]
    );
}
