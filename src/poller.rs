//! The refresh loop: one poll at a time, each bounded, backing off while the database is away.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, mpsc, watch};

use crate::app::Msg;
use crate::backend::pg::connect;
use crate::backend::{Overview, SnapshotOptions};
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

/// Starts polling; results arrive as `Msg::Polled`. Stops when the receiver is dropped.
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
    tx: mpsc::Sender<Msg>,
) -> PollerHandle {
    let refresh = Arc::new(Notify::new());
    let (interval_tx, mut interval_rx) = watch::channel(interval);
    let handle = PollerHandle {
        refresh: refresh.clone(),
        interval: interval_tx,
    };
    tokio::spawn(async move {
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
            if now_source != source {
                source = now_source.clone();
                if tx.send(Msg::Source(now_source)).await.is_err() {
                    return;
                }
            }
            if tx
                .send(Msg::Polled {
                    result,
                    at: Utc::now(),
                })
                .await
                .is_err()
            {
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
    handle
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
