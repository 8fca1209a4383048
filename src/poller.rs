//! The refresh loop: one poll at a time, each bounded, backing off while the database is away.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::app::Msg;
use crate::backend::pg::connect;
use crate::backend::{Overview, Snapshot, SnapshotOptions};
use sqlx::postgres::PgConnectOptions;

/// Longest wait between retries while polls keep failing.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// How the UI steers the poller.
#[derive(Clone)]
pub struct PollerHandle {
    refresh: Arc<Notify>,
    interval: watch::Sender<Duration>,
}

impl PollerHandle {
    pub fn refresh_now(&self) {
        self.refresh.notify_one();
    }

    pub fn set_interval(&self, interval: Duration) {
        let _ = self.interval.send(interval);
    }
}

/// What the poller has for its reader and the reader has not taken yet: at most one poll
/// result, the newest. A snapshot of 10,000 queues is about 10 MB, so a reader that falls
/// behind (a UI folding a big poll) must never find a queue of them waiting.
#[derive(Default)]
struct Slot {
    /// Where the data comes from, when it changed since the reader last took it.
    source: Option<Option<String>>,
    polled: Option<(Result<Snapshot, String>, DateTime<Utc>)>,
    /// The reader is gone: the poller stops.
    closed: bool,
    /// The poller stopped (its handle was dropped): nothing more will come.
    ended: bool,
}

struct Mailbox {
    slot: Mutex<Slot>,
    ready: Notify,
}

impl Mailbox {
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leaves a change for the reader, replacing a poll it has not taken; false once the
    /// reader is gone.
    fn put(&self, fill: impl FnOnce(&mut Slot)) -> bool {
        let mut slot = self.slot();
        if slot.closed {
            return false;
        }
        fill(&mut slot);
        drop(slot);
        self.ready.notify_one();
        true
    }
}

/// Marks the mailbox ended however the poller's task stops.
struct EndsMailbox(Arc<Mailbox>);

impl Drop for EndsMailbox {
    fn drop(&mut self) {
        self.0.slot().ended = true;
        self.0.ready.notify_one();
    }
}

/// The poller's results, newest only: a poll the reader did not take before the next one
/// ended is dropped, so however slow the reader, one snapshot waits at most. A change of
/// source comes before the poll that found it.
pub struct Polls {
    mailbox: Arc<Mailbox>,
}

impl Polls {
    /// The next message: `Msg::Source` when the source changed, else `Msg::Polled`; `None`
    /// once the poller stopped. Cancel-safe (nothing is taken until it is returned), so it
    /// can sit in a `select!`.
    pub async fn next(&mut self) -> Option<Msg> {
        loop {
            {
                let mut slot = self.mailbox.slot();
                if let Some(source) = slot.source.take() {
                    return Some(Msg::Source(source));
                }
                if let Some((result, at)) = slot.polled.take() {
                    return Some(Msg::Polled { result, at });
                }
                if slot.ended {
                    return None;
                }
            }
            self.mailbox.ready.notified().await;
        }
    }
}

impl Polls {
    /// A mailbox holding one poll, from no poller: for the loop's tests.
    #[cfg(test)]
    pub(crate) fn holding(result: Result<Snapshot, String>, at: DateTime<Utc>) -> Polls {
        let slot = Slot {
            polled: Some((result, at)),
            ..Slot::default()
        };
        Polls {
            mailbox: Arc::new(Mailbox {
                slot: Mutex::new(slot),
                ready: Notify::new(),
            }),
        }
    }
}

impl Drop for Polls {
    fn drop(&mut self) {
        self.mailbox.slot().closed = true;
    }
}

/// The wait after `failures` polls in a row have failed: doubling from the interval,
/// capped, so a restarting database is found again quickly but not hammered.
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let factor = 1u32 << failures.min(6).saturating_sub(1);
    (interval * factor).min(MAX_BACKOFF.max(interval))
}

/// Asks whether the database answers at all (`connect::probe`), as the error's cause.
async fn probe(target: &PgConnectOptions) -> Result<(), String> {
    connect::probe(target)
        .await
        .map_err(|err| crate::error_text::one_line(&err))
}

/// Starts polling; results arrive through `Polls` (newest only). Stops when `Polls` is
/// dropped.
/// With a `probe` target, a failed poll is followed by a bare session to it: when that fails
/// too the database is away, its error is the one shown (the cause, not the pool's
/// "timed out"), and until a probe answers again the heavy reads wait while a probe runs
/// every interval, so the monitor is back within one interval of the database.
pub fn spawn(
    overview: Arc<dyn Overview>,
    opts: SnapshotOptions,
    interval: Duration,
    poll_timeout: Duration,
    probe_target: Option<PgConnectOptions>,
) -> (PollerHandle, Polls) {
    let mailbox = Arc::new(Mailbox {
        slot: Mutex::new(Slot::default()),
        ready: Notify::new(),
    });
    let polls = Polls {
        mailbox: mailbox.clone(),
    };
    let refresh = Arc::new(Notify::new());
    let (interval_tx, mut interval_rx) = watch::channel(interval);
    let handle = PollerHandle {
        refresh: refresh.clone(),
        interval: interval_tx,
    };
    tokio::spawn(async move {
        let _ends = EndsMailbox(mailbox.clone());
        let mut failures: u32 = 0;
        let mut source = None;
        let mut away = false;
        loop {
            let mut probed = None;
            if let (true, Some(target)) = (away, &probe_target) {
                probed = Some(probe(target).await);
            }
            // Polls run one after another, never overlapping: a slow database slows the
            // refresh rather than piling up queries.
            let still_away = matches!(probed, Some(Err(_)));
            let mut result = match probed {
                Some(Err(cause)) => Err(cause),
                _ => match tokio::time::timeout(poll_timeout, overview.snapshot(&opts)).await {
                    Ok(Ok(snapshot)) => Ok(snapshot),
                    Ok(Err(err)) => Err(crate::error_text::one_line(&err)),
                    Err(_) => Err(format!(
                        "poll timed out after {}s",
                        poll_timeout.as_secs_f32()
                    )),
                },
            };
            away = match (&mut result, &probe_target) {
                (Ok(_), _) | (Err(_), None) => false,
                (Err(_), Some(_)) if still_away => true,
                (Err(message), Some(target)) => match probe(target).await {
                    Ok(()) => false,
                    Err(cause) => {
                        *message = cause;
                        true
                    }
                },
            };
            match &result {
                Ok(_) => failures = 0,
                Err(message) => {
                    failures += 1;
                    tracing::warn!(failures, "poll failed: {message}");
                }
            }
            let now_source = overview.source();
            let changed = (now_source != source).then(|| now_source.clone());
            source = now_source;
            let at = Utc::now();
            let delivered = mailbox.put(|slot| {
                if let Some(changed) = changed {
                    slot.source = Some(changed);
                }
                slot.polled = Some((result, at));
            });
            if !delivered {
                return;
            }
            let wait = if away {
                *interval_rx.borrow()
            } else {
                backoff(*interval_rx.borrow(), failures)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = refresh.notified() => {}
                changed = interval_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (handle, polls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 0), s);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 2), Duration::from_secs(2));
        assert_eq!(backoff(s, 4), Duration::from_secs(8));
        assert_eq!(backoff(s, 10), Duration::from_secs(15));
        assert_eq!(backoff(Duration::from_secs(60), 3), Duration::from_secs(60));
    }
}
