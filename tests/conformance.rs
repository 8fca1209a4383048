//! One conformance suite every backend runs: see tests/conformance/mod.rs.

mod common;
#[path = "conformance/mod.rs"]
mod conformance;
