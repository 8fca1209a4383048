//! jobtop against the queue projects' real clients (`common::clients`): pg-boss and
//! graphile-worker from npm, procrastinate from PyPI (PgQueuer's, older, is
//! `tests/db/pgqueuer.rs`). Each client's own
//! migration creates its schema, its own workers make the states, its own maintenance runs,
//! and after a jobtop action its worker takes the job. Skipped where the client cannot be
//! installed, unless its registry's `JOBTOP_REQUIRE_*` is set.

mod graphile;
mod pgboss;
mod procrastinate;

use jobtop::backend::{Count, Snapshot};

/// A queue's counts as the overview shows them: [ready, scheduled, running, retrying, dead],
/// every one exact.
pub fn counts(snap: &Snapshot) -> Vec<(String, [i64; 5])> {
    snap.queues
        .iter()
        .map(|q| {
            let figures = [q.ready, q.scheduled, q.running, q.retrying, q.dead];
            for c in figures {
                assert_eq!(
                    c,
                    Count::exact(c.value),
                    "{} counted, not estimated",
                    q.name
                );
            }
            (q.name.clone(), figures.map(|c| c.value))
        })
        .collect()
}

/// The finished jobs of the history window, per queue: (succeeded, failed).
pub fn finished(snap: &Snapshot, queue: &str) -> (u32, u32) {
    let q = snap
        .queues
        .iter()
        .find(|q| q.name == queue)
        .unwrap_or_else(|| panic!("no queue {queue}"));
    q.minutes
        .iter()
        .fold((0, 0), |(s, f), m| (s + m.succeeded, f + m.failed))
}

/// `expected` as owned names, for comparing with `counts`.
pub fn expect(expected: &[(&str, [i64; 5])]) -> Vec<(String, [i64; 5])> {
    expected.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

/// The alert rules (defaults, as `jobtop check` runs them) this snapshot cannot judge.
pub fn not_evaluated(
    snap: &Snapshot,
    caps: &jobtop::backend::Capabilities,
) -> Vec<jobtop::app::alerts::RuleId> {
    use jobtop::app::alerts::{Mode, Rules, unavailable};
    unavailable(&Rules::default(), snap, caps, Mode::OneShot)
        .into_iter()
        .map(|(rule, _)| rule)
        .collect()
}
