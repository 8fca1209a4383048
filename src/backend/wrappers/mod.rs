//! Wrappers around any backend's reads: one snapshot shared by many monitors, and reads
//! sent to a replica.

pub mod replica;
pub mod shared;
