//! Alerts: the runbooks' alert rules, evaluated as a pure function of (rules, the previous
//! alert states, one poll's result, now) to the new alert states. No I/O, no clock: the
//! monitor calls it on every poll result (so alerts keep moving while the display is
//! frozen), `jobtop check` and `jobtop snapshot` call it once.
//!
//! An alert is *pending* while its condition holds but its `for` duration has not passed,
//! *firing* after, and *resolved* when its condition stops holding; resolved alerts are kept
//! for an hour. A pending alert whose condition stops holding is dropped: it never fired.

mod baseline;
mod conditions;
mod eval;
pub mod format;
pub mod rules;
mod schedule_conditions;

mod book;

pub use baseline::Baseline;
pub use book::{
    Alert, AlertBook, AlertKey, AlertState, AlertTally, RESOLVED_KEPT, RESOLVED_RETENTION, RuleId,
    Subject, Transition, Unit,
};
pub use eval::{Mode, Observation, evaluate, next_book, unavailable};
pub use rules::{Rules, Severity};
