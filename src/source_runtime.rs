//! What one source of a several-database screen runs: opening its schema (retried with
//! backoff while the database is away or refuses us), then its own poller, drill-down
//! loads and action runner, each answering on the source's own channel. Nothing here
//! waits on another source: a source that is down or slow holds up only itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::mpsc;

use crate::action_effects::ActionEffects;
use crate::app::{Effect, Msg};
use crate::backend::detect::{self, Selection};
use crate::backend::gate::Gate;
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::wrappers::shared::SharedOptions;
use crate::backend::{Backend, SnapshotOptions};
use crate::poller::{self, PollerHandle};

/// How to reach and read one source.
#[derive(Debug, Clone)]
pub struct SourceSetup {
    pub opts: PgConnectOptions,
    /// `user@host:port/db`, for messages.
    pub described: String,
    pub session: SessionSettings,
    pub selection: Selection,
    /// Share one snapshot with the other monitors of this database.
    pub share: bool,
    pub interval: Duration,
    pub poll_timeout: Duration,
    pub snapshot: SnapshotOptions,
}

/// What a source's tasks tell the screen.
pub enum SourceEvent {
    /// The schema is open: start the source's runtime with it.
    Opened(Backend),
    /// A message for the source's `App`.
    Msg(Msg),
}

/// Opens the source in its own task, trying again (the poller's backoff) until it works;
/// each failure arrives as a failed poll, so the source's rows say why (a refused password
/// says so).
pub fn spawn_open(index: usize, setup: SourceSetup, tx: mpsc::Sender<(usize, SourceEvent)>) {
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            let opened = tokio::time::timeout(setup.poll_timeout, open(&setup)).await;
            let message = match opened {
                Ok(Ok(backend)) => {
                    let _ = tx.send((index, SourceEvent::Opened(backend))).await;
                    return;
                }
                Ok(Err(err)) => crate::error_text::one_line(&err),
                Err(_) => format!(
                    "no answer from {} within {}s",
                    setup.described,
                    setup.poll_timeout.as_secs_f32()
                ),
            };
            failures += 1;
            tracing::warn!(source = %setup.described, failures, "cannot open: {message}");
            let failed = Msg::Polled {
                result: Err(message),
                at: Utc::now(),
            };
            if tx.send((index, SourceEvent::Msg(failed))).await.is_err() {
                return;
            }
            tokio::time::sleep(poller::backoff(setup.interval, failures)).await;
        }
    });
}

/// Connects, finds the schema (never asking: several matches are an error naming the
/// flags), and puts the shared snapshot in front where asked.
async fn open(setup: &SourceSetup) -> anyhow::Result<Backend> {
    let pool = connect::connect(setup.opts.clone(), &setup.session).await?;
    let (found, backend) = detect::resolve(&pool, &setup.selection)
        .await
        .map_err(|err| anyhow::anyhow!("{}: {err:#}", setup.described))?;
    tracing::info!(source = %setup.described, %found, "backend chosen");
    let shared = setup
        .share
        .then(|| SharedOptions::new(setup.interval, setup.poll_timeout, setup.session.read_only));
    Ok(backend.watched(&pool, shared))
}

/// A source's running parts once its schema is open.
pub struct SourceRuntime {
    backend: Backend,
    poller: PollerHandle,
    actions: ActionEffects,
    tx: mpsc::Sender<Msg>,
    poll_timeout: Duration,
}

impl SourceRuntime {
    /// Starts the source's poller; its messages reach `out` tagged with `index`.
    pub fn start(
        index: usize,
        backend: Backend,
        setup: &SourceSetup,
        out: mpsc::Sender<(usize, SourceEvent)>,
    ) -> SourceRuntime {
        let (tx, mut rx) = mpsc::channel::<Msg>(64);
        let polled = out.clone();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                if out.send((index, SourceEvent::Msg(msg))).await.is_err() {
                    return;
                }
            }
        });
        let gate = Arc::new(Gate::new(backend.clone(), setup.session.read_only));
        let (poller, mut polls) = poller::spawn(
            backend.overview().clone(),
            setup.snapshot,
            setup.interval,
            setup.poll_timeout,
            // While the source is away its poller probes it cheaply.
            Some(setup.opts.clone()),
        );
        // A poll leaves the source's mailbox (newest only) once the screen's channel has
        // room for it; a poll that ends meanwhile replaces the one waiting there.
        tokio::spawn(async move {
            while let Some(msg) = polls.next().await {
                if polled.send((index, SourceEvent::Msg(msg))).await.is_err() {
                    return;
                }
            }
        });
        SourceRuntime {
            actions: ActionEffects::new(gate, tx.clone()),
            backend,
            poller,
            tx,
            poll_timeout: setup.poll_timeout,
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Carries out one of the source's effects (not quit, bell or copy: the terminal's).
    pub fn run(&mut self, effect: Effect) {
        match effect {
            Effect::RefreshNow => self.poller.refresh_now(),
            Effect::SetInterval(d) => self.poller.set_interval(d),
            Effect::Load { ticket, request } => crate::terminal::spawn_load(
                self.backend.reads().clone(),
                ticket,
                request,
                self.poll_timeout,
                self.tx.clone(),
            ),
            action => self.actions.run(action),
        }
    }
}
