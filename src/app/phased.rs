//! Phased retry of a dead-letter set (the playbook's "retry a controlled subset first"):
//! a sample, then 10%, then the rest, watching between phases how the retried jobs fare.

use crate::backend::actions::Phase;
use crate::backend::{JobId, JobState};

/// Jobs in the first phase unless told otherwise.
pub const DEFAULT_SAMPLE: usize = 10;
/// Below this many jobs a retry is not worth phasing.
pub const PHASE_ABOVE: usize = 20;

/// The phases of a retry of `ids` (oldest first): `sample` jobs spread evenly over the set,
/// so the sample covers old and new failures alike; then a tenth of the set, spread again;
/// then the rest. Every id lands in exactly one phase.
pub fn split(ids: &[JobId], sample: usize) -> Vec<(Phase, Vec<JobId>)> {
    let n = ids.len();
    let sample = sample.max(1);
    if n <= sample {
        return vec![(phase(1, 1, "all"), ids.to_vec())];
    }
    let (first, rest) = spread(ids, sample);
    let tenth = n.div_ceil(10);
    if rest.len() <= tenth {
        return vec![(phase(1, 2, "sample"), first), (phase(2, 2, "rest"), rest)];
    }
    let (second, third) = spread(&rest, tenth);
    vec![
        (phase(1, 3, "sample"), first),
        (phase(2, 3, "10%"), second),
        (phase(3, 3, "rest"), third),
    ]
}

fn phase(number: u32, of: u32, label: &str) -> Phase {
    Phase {
        number,
        of,
        label: label.to_string(),
    }
}

/// `take` ids at evenly spaced positions, and the others, both in their original order.
fn spread(ids: &[JobId], take: usize) -> (Vec<JobId>, Vec<JobId>) {
    let n = ids.len();
    let mut picked = vec![false; n];
    for i in 0..take.min(n) {
        picked[i * n / take] = true;
    }
    let mut chosen = Vec::with_capacity(take);
    let mut others = Vec::with_capacity(n - take.min(n));
    for (i, id) in ids.iter().enumerate() {
        if picked[i] {
            chosen.push(id.clone());
        } else {
            others.push(id.clone());
        }
    }
    (chosen, others)
}

/// How the retried jobs of a phase are doing now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub succeeded: u64,
    /// Failed again: dead, or retrying after another failure.
    pub failed: u64,
    /// Not done yet: ready, scheduled or running.
    pub pending: u64,
    /// Cancelled by someone meanwhile.
    pub other: u64,
}

impl Tally {
    pub fn of(states: impl IntoIterator<Item = JobState>) -> Tally {
        let mut t = Tally::default();
        for s in states {
            match s {
                JobState::Succeeded => t.succeeded += 1,
                JobState::Dead | JobState::Retrying => t.failed += 1,
                JobState::Ready | JobState::Scheduled | JobState::Running => t.pending += 1,
                JobState::Cancelled => t.other += 1,
            }
        }
        t
    }

    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.pending + self.other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_cover_every_id_once() {
        let ids: Vec<JobId> = (1..=200).map(JobId::Int).collect();
        let phases = split(&ids, 10);
        assert_eq!(
            phases.iter().map(|(_, v)| v.len()).collect::<Vec<_>>(),
            vec![10, 20, 170]
        );
        assert_eq!(
            phases[0].1,
            vec![1, 21, 41, 61, 81, 101, 121, 141, 161, 181]
        );
        let mut all: Vec<JobId> = phases.into_iter().flat_map(|(_, v)| v).collect();
        all.sort();
        assert_eq!(all, ids);
    }

    #[test]
    fn small_sets_take_fewer_phases() {
        let ids: Vec<JobId> = (1..=8).map(JobId::Int).collect();
        assert_eq!(split(&ids, 10).len(), 1);
        let ids: Vec<JobId> = (1..=12).map(JobId::Int).collect();
        let phases = split(&ids, 10);
        assert_eq!(phases.len(), 2);
        assert_eq!(phases[1].0.label, "rest");
        assert_eq!(phases[1].1.len(), 2);
    }
}
