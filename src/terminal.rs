//! The terminal loop: owns the screen, turns events into `Msg`, runs `Effect`s, draws.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyCode, KeyEventKind,
    KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::{DefaultTerminal, Terminal};
use tokio::sync::mpsc;

use crate::action_effects::ActionEffects;
use crate::app::ThemeName;
use crate::app::sources::{Sources, SourcesMsg};
use crate::app::{App, Effect, Mouse, Msg};
use crate::backend::drill::{self, Request};
use crate::backend::gate::Gate;
use crate::backend::{Backend, Reads, SnapshotOptions};
use crate::poller;
use crate::source_runtime::{self, SourceEvent, SourceRuntime, SourceSetup};
use crate::ui::hits::Hits;
use crate::ui::theme::Theme;
use sqlx::postgres::PgConnectOptions;

/// How often the clock ticks so "updated 0.5s ago" and ages keep moving. Every tick draws a
/// frame (written only when it differs from the last): at 250 ms an idle monitor at 200×60
/// spent ~1% of a core drawing; at 500 ms ages still move smoothly at whole seconds.
const TICK: Duration = Duration::from_millis(500);

pub struct MonitorOptions {
    pub snapshot: SnapshotOptions,
    pub poll_timeout: Duration,
    /// Where the poller asks, cheaply, whether a database that went away is back.
    pub probe: Option<PgConnectOptions>,
}

/// Runs the monitor until the user quits. The screen is taken at once and says whom it is
/// connecting to while `open` runs (a server that accepts and never answers leaves no blank
/// terminal; `q` and Ctrl-C leave); then `start` makes the app for the opened backend. The
/// terminal is restored on every way out: return, error, and panic (ratatui's hook).
pub async fn run<T, F, S>(target: &str, theme: ThemeName, open: F, start: S) -> Result<()>
where
    F: Future<Output = Result<T>>,
    S: FnOnce(T) -> (App, Backend, MonitorOptions),
{
    require_terminal()?;
    let mut terminal = ratatui::try_init()?;
    crossterm::execute!(std::io::stdout(), EnableMouseCapture)?;
    let result = async {
        let Some(opened) = while_connecting(&mut terminal, target, theme, open).await? else {
            return Ok(());
        };
        let (app, backend, opts) = start(opened);
        event_loop(&mut terminal, app, backend, opts).await
    }
    .await;
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// The monitor draws on a terminal; without one (`ssh host jobtop`, a cron job, a pipe)
/// it says so and names the commands made for that.
pub fn require_terminal() -> Result<()> {
    let has_tty = std::io::stdout().is_terminal() && std::fs::File::open("/dev/tty").is_ok();
    if !has_tty {
        anyhow::bail!(
            "the monitor needs a terminal (ssh -t host jobtop …); for scripts and monitoring systems use `jobtop snapshot URL` or `jobtop check URL`"
        );
    }
    Ok(())
}

/// Draws "connecting to … Ns" until `open` is done; `None` when the user left first.
async fn while_connecting<T, F>(
    terminal: &mut DefaultTerminal,
    target: &str,
    theme: ThemeName,
    open: F,
) -> Result<Option<T>>
where
    F: Future<Output = Result<T>>,
{
    let theme = Theme::named(theme);
    let started = Instant::now();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let open = std::pin::pin!(open);
    let mut open = open;
    loop {
        tokio::select! {
            opened = &mut open => return opened.map(Some),
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                        && key.code == KeyCode::Char('c');
                    if ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
                        return Ok(None);
                    }
                }
                Some(Err(err)) => return Err(err.into()),
                None => return Ok(None),
                Some(Ok(_)) => {}
            },
            _ = tick.tick() => {}
            _ = terminate.recv() => return Ok(None),
            _ = hangup.recv() => return Ok(None),
        }
        terminal
            .draw(|frame| crate::ui::connecting::draw(frame, target, started.elapsed(), &theme))?;
    }
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    mut app: App,
    backend: Backend,
    opts: MonitorOptions,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    let gate = Arc::new(Gate::new(backend.clone(), app.config.read_only));
    let mut actions = ActionEffects::new(gate, tx.clone());
    let (poller, mut polls) = poller::spawn(
        backend.overview().clone(),
        opts.snapshot,
        app.interval,
        opts.poll_timeout,
        opts.probe,
    );
    let mut events = EventStream::new();
    let mut timers = LoopTimers::new(TICK)?;

    if let Ok(size) = terminal.size() {
        app.update(Msg::ScreenSize {
            width: size.width,
            height: size.height,
        });
    }
    let mut last_frame = None;
    let mut hits = draw_noting(terminal, &app, &mut last_frame)?;
    loop {
        let Some(msg) = next_msg(&mut events, &mut rx, &mut polls, &mut timers, &hits).await?
        else {
            return Ok(());
        };
        for effect in app.update(msg) {
            let Some(effect) = terminal_effect(terminal, effect, &mut last_frame)? else {
                continue;
            };
            match effect {
                Effect::Quit => return Ok(()),
                Effect::RefreshNow => poller.refresh_now(),
                Effect::SetInterval(d) => poller.set_interval(d),
                Effect::Load { ticket, request } => spawn_load(
                    backend.reads().clone(),
                    ticket,
                    request,
                    opts.poll_timeout,
                    tx.clone(),
                ),
                action => actions.run(action),
            }
        }
        hits = draw_noting(terminal, &app, &mut last_frame)?;
    }
}

/// The single-source loop's next message; `None` when the session ends (the terminal's
/// input closed, SIGTERM, SIGHUP). Keys first: a key and a poll both waiting, the key is
/// answered (and drawn) before the poll is folded, since at ten thousand queues a fold is
/// the loop's longest step; then an action's or a load's answer, a poll, the clock.
async fn next_msg(
    events: &mut (impl futures::Stream<Item = std::io::Result<Event>> + Unpin),
    rx: &mut mpsc::Receiver<Msg>,
    polls: &mut poller::Polls,
    timers: &mut LoopTimers,
    hits: &Hits,
) -> Result<Option<Msg>> {
    loop {
        let msg = tokio::select! {
            biased;
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => Msg::Key(key),
                Some(Ok(Event::Resize(width, height))) => Msg::ScreenSize { width, height },
                Some(Ok(Event::Mouse(mouse))) => match mouse_msg(&mouse, hits) {
                    Some(msg) => msg,
                    None => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
                None => return Ok(None),
            },
            Some(msg) = rx.recv() => msg,
            Some(msg) = polls.next() => msg,
            _ = timers.tick.tick() => Msg::Tick(Utc::now()),
            _ = timers.terminate.recv() => return Ok(None),
            _ = timers.hangup.recv() => return Ok(None),
        };
        return Ok(Some(msg));
    }
}

/// A mouse event as a message: a left click on what the last frame drew there, the wheel.
fn mouse_msg(mouse: &MouseEvent, hits: &Hits) -> Option<Msg> {
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => hits.at(mouse.column, mouse.row).map(Msg::Mouse),
        MouseEventKind::ScrollDown => Some(Msg::Mouse(Mouse::Wheel(1))),
        MouseEventKind::ScrollUp => Some(Msg::Mouse(Mouse::Wheel(-1))),
        _ => None,
    }
}

/// Several sources on one screen: each opens, polls, loads and acts in its own tasks
/// (`source_runtime`); this loop only folds their messages into `Sources` and draws.
pub async fn run_sources(screen: Sources, setups: Vec<SourceSetup>) -> Result<()> {
    require_terminal()?;
    let mut terminal = ratatui::try_init()?;
    crossterm::execute!(std::io::stdout(), EnableMouseCapture)?;
    let result = sources_loop(&mut terminal, screen, setups).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// Messages folded before a frame is drawn: twenty sources answering in the same tick
/// cost one frame, not twenty.
const FOLD_BEFORE_DRAW: usize = 64;

/// The several-sources screen's clock, and the only thing that draws new data there: twenty
/// sources polling each second, each answer drawn within 250 ms, spent ~0.6% of a core on
/// frames (a quarter of the screen's cost); one frame a second for data is what a wall
/// needs, and keys are still drawn at once.
const SOURCES_TICK: Duration = Duration::from_secs(1);

async fn sources_loop(
    terminal: &mut DefaultTerminal,
    mut screen: Sources,
    setups: Vec<SourceSetup>,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<(usize, SourceEvent)>(256);
    for (i, setup) in setups.iter().enumerate() {
        source_runtime::spawn_open(i, setup.clone(), tx.clone());
    }
    let mut runtimes: Vec<Option<SourceRuntime>> = setups.iter().map(|_| None).collect();
    let mut events = EventStream::new();
    let mut timers = LoopTimers::new(SOURCES_TICK)?;
    if let Ok(size) = terminal.size() {
        screen.update(SourcesMsg::ScreenSize {
            width: size.width,
            height: size.height,
        });
    }
    let mut last_frame = None;
    let mut hits = draw_sources(terminal, &screen, &mut last_frame)?;
    loop {
        let first = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => SourcesMsg::Key(key),
                Some(Ok(Event::Resize(width, height))) => SourcesMsg::ScreenSize { width, height },
                Some(Ok(Event::Mouse(mouse))) => match mouse_msg(&mouse, &hits) {
                    Some(Msg::Mouse(mouse)) => SourcesMsg::Mouse(mouse),
                    _ => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
                None => return Ok(()),
            },
            Some(event) = rx.recv() => source_msg(event, &mut runtimes, &setups, &tx),
            _ = timers.tick.tick() => SourcesMsg::Tick(Utc::now()),
            _ = timers.terminate.recv() => return Ok(()),
            _ = timers.hangup.recv() => return Ok(()),
        };
        let mut msgs = vec![first];
        while msgs.len() < FOLD_BEFORE_DRAW {
            match rx.try_recv() {
                Ok(event) => msgs.push(source_msg(event, &mut runtimes, &setups, &tx)),
                Err(_) => break,
            }
        }
        // Polls wait for the clock; a key, an action's answer or a drill-down's rows do not.
        let polls_only = msgs
            .iter()
            .all(|msg| matches!(msg, SourcesMsg::Source(_, Msg::Polled { .. })));
        for msg in msgs {
            for (i, effect) in screen.update(msg) {
                let Some(effect) = terminal_effect(terminal, effect, &mut last_frame)? else {
                    continue;
                };
                match effect {
                    Effect::Quit => return Ok(()),
                    effect => {
                        if let Some(Some(runtime)) = runtimes.get_mut(i) {
                            runtime.run(effect);
                        }
                    }
                }
            }
        }
        if !polls_only {
            hits = draw_sources(terminal, &screen, &mut last_frame)?;
        }
    }
}

/// The loop's clock and the signals that end a session (SIGTERM; SIGHUP: the terminal went
/// away).
struct LoopTimers {
    tick: tokio::time::Interval,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl LoopTimers {
    fn new(period: Duration) -> Result<LoopTimers> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Ok(LoopTimers {
            tick,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

/// Carries out the effects that belong to the terminal (the bell, the clipboard, Ctrl-Z) and
/// hands every other one back.
fn terminal_effect(
    terminal: &mut DefaultTerminal,
    effect: Effect,
    last: &mut Option<Buffer>,
) -> Result<Option<Effect>> {
    match effect {
        Effect::Suspend => suspend(terminal, last)?,
        // BEL draws nothing: the terminal (or tmux) rings or flashes. It goes out with the
        // next frame's flush.
        Effect::Bell => terminal.backend_mut().write_all(b"\x07")?,
        Effect::Copy(text) => {
            let in_tmux = std::env::var_os("TMUX").is_some();
            let backend = terminal.backend_mut();
            backend.write_all(crate::osc52::sequence(&text, in_tmux).as_bytes())?;
            backend.flush()?;
        }
        other => return Ok(Some(other)),
    }
    Ok(None)
}

/// Ctrl-Z: the terminal goes back to the shell as it was (no raw mode, the main screen, the
/// cursor), the process stops as a shell's Ctrl-Z would stop it (SIGTSTP), and after `fg`
/// the screen is taken again and drawn whole.
fn suspend(terminal: &mut DefaultTerminal, last: &mut Option<Buffer>) -> Result<()> {
    let mut out = std::io::stdout();
    crossterm::execute!(
        out,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    )?;
    crossterm::terminal::disable_raw_mode()?;
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP)?;
    // Here again after SIGCONT.
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(out, EnterAlternateScreen, EnableMouseCapture)?;
    terminal.clear()?;
    *last = None;
    Ok(())
}

/// A source's event as the screen's message; an opened schema starts its runtime first.
fn source_msg(
    (i, event): (usize, SourceEvent),
    runtimes: &mut [Option<SourceRuntime>],
    setups: &[SourceSetup],
    tx: &mpsc::Sender<(usize, SourceEvent)>,
) -> SourcesMsg {
    match event {
        SourceEvent::Msg(msg) => SourcesMsg::Source(i, msg),
        SourceEvent::Opened(backend) => {
            let msg = SourcesMsg::Opened {
                source: i,
                backend: backend.name().to_string(),
                capabilities: backend.capabilities(),
            };
            runtimes[i] = Some(SourceRuntime::start(i, backend, &setups[i], tx.clone()));
            msg
        }
    }
}

/// The screen of several sources, and where its tables and tabs are, for the mouse.
fn draw_sources<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    screen: &Sources,
    last: &mut Option<Buffer>,
) -> Result<Hits> {
    terminal.autoresize()?;
    let mut frame = terminal.get_frame();
    let hits = crate::ui::hits::draw_sources_with_hits(&mut frame, screen);
    finish_frame(terminal, last)?;
    Ok(hits)
}

/// Runs a drill-down read in its own task; the answer comes back as `Msg::Loaded`. Reads
/// may overlap the poll (the pool has room), never each other for one view: a view asks
/// again only after its answer came.
pub fn spawn_load(
    reads: Arc<dyn Reads>,
    ticket: u64,
    request: Request,
    timeout: Duration,
    tx: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let result = match tokio::time::timeout(timeout, drill::run(&*reads, &request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => {
                tracing::warn!(?request, "drill-down read failed: {err:#}");
                Err(format!("{err:#}"))
            }
            Err(_) => Err(format!("timed out after {}s", timeout.as_secs_f32())),
        };
        let _ = tx.send(Msg::Loaded { ticket, result }).await;
    });
}

/// One frame, written inside a synchronized update so a slow link never shows half a frame,
/// and only the cells that changed since the last frame (ratatui's diff). A frame identical
/// to the last one (most clock ticks) writes nothing at all. `last` keeps the last frame
/// written; returns whether anything was written.
pub fn draw_frame<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    app: &App,
    last: &mut Option<Buffer>,
) -> Result<bool> {
    terminal.autoresize()?;
    let mut frame = terminal.get_frame();
    crate::ui::draw(&mut frame, app);
    finish_frame(terminal, last)
}

/// `draw_frame`, and where the frame's tables and tabs are, for the mouse.
fn draw_noting<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    app: &App,
    last: &mut Option<Buffer>,
) -> Result<Hits> {
    terminal.autoresize()?;
    let mut frame = terminal.get_frame();
    let hits = crate::ui::hits::draw_with_hits(&mut frame, app);
    finish_frame(terminal, last)?;
    Ok(hits)
}

/// Writes the frame just drawn, when it differs from `last`.
fn finish_frame<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    last: &mut Option<Buffer>,
) -> Result<bool> {
    let current = terminal.current_buffer_mut();
    if last.as_ref() == Some(&*current) {
        // The next frame is drawn into this buffer again, from scratch. Whatever an effect
        // queued (a bell) still goes out.
        current.reset();
        terminal.backend_mut().flush()?;
        return Ok(false);
    }
    *last = Some(current.clone());
    crossterm::queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.flush()?;
    terminal.hide_cursor()?;
    terminal.swap_buffers();
    crossterm::queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEvent;

    #[tokio::test]
    async fn a_waiting_key_is_answered_before_a_waiting_poll() {
        // Both ready at once, many times over: a fair choice would take the poll first
        // about half the time, and the key would wait while ten thousand queues are folded.
        for _ in 0..32 {
            let key = KeyEvent::from(KeyCode::Char('j'));
            let mut events =
                futures::stream::iter([Ok(Event::Key(key))]).chain(futures::stream::pending());
            let mut polls = poller::Polls::holding(Err("a poll".into()), Utc::now());
            let (_tx, mut rx) = mpsc::channel(1);
            let mut timers = LoopTimers::new(TICK).unwrap();
            let hits = Hits::default();
            let mut order = Vec::new();
            for _ in 0..2 {
                let msg = next_msg(&mut events, &mut rx, &mut polls, &mut timers, &hits).await;
                order.push(match msg.unwrap() {
                    Some(Msg::Key(k)) if k == key => "key",
                    Some(Msg::Polled { .. }) => "poll",
                    other => panic!("{other:?}"),
                });
            }
            assert_eq!(order, ["key", "poll"]);
        }
    }
}
