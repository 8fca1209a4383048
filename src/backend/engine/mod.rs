//! The generic engine most foreign schemas are built on: a schema describes its tables once
//! at open (statements, drill table, actions) and the engine runs every read and action.

pub mod actions;
pub mod drill;
pub mod foreign;
pub mod prioritized;
pub mod queue_list;
pub mod snapshot;
pub mod states;
pub mod tally;
