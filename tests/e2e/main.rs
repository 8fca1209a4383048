//! The real binary from the outside, in one test binary: in a pseudo-terminal on the
//! reference schema and on each queue schema's fixture, its config file, and the demo's
//! throwaway cluster and workload simulator.
//!
//! The tests that need a database share one throwaway cluster (see `common`), a fresh
//! database each.

#[path = "../cli/mod.rs"]
mod cli;
#[path = "../common/mod.rs"]
mod common;
#[path = "../pty/mod.rs"]
mod pty;

mod config_file;
mod demo_cluster;
mod e2e_backends;
mod e2e_pty;
