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

/// The simulator test times how soon the demo has written its hour of history, which it did
/// in a binary of its own before these tests shared one: it holds this lock to write, and the
/// tests that run the binary in a terminal (several jobtop processes polling the same cluster)
/// hold it to read. They still run beside each other, never beside the timed one.
pub static QUIET: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

mod config_file;
mod demo_cluster;
mod e2e_backends;
mod e2e_pty;
mod robust;
