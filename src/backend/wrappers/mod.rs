//! Wrappers around any backend's reads: one snapshot shared by many monitors, reads
//! sent to a replica, and the database's schedules added to each snapshot.

pub mod replica;
pub mod schedules;
pub mod shared;
