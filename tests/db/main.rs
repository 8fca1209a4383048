//! Everything that needs PostgreSQL, in one test binary: the backends (native and each queue
//! schema's), actions through the gate, drill-down reads, snapshot figures, the commands run
//! as the built binary (`check`, `snapshot`, the action commands), sessions, the shared
//! snapshot, the replica, the pooler, and procrastinate on its real schema.
//!
//! One throwaway cluster serves the whole binary (see `common`): each test still gets a
//! fresh database of its own, copied from a migrated template. `cargo test --test db NAME`
//! runs a part, e.g. `backends::` for one module.

#[path = "../actions_ui/mod.rs"]
mod actions_ui;
#[path = "../cli/mod.rs"]
mod cli;
#[path = "../common/mod.rs"]
mod common;
#[path = "../pty/mod.rs"]
mod pty;
#[path = "../ui_data/mod.rs"]
mod ui_data;

mod helpers;

mod actions_backend;
mod backend_actions;
mod backends;
mod bench;
mod check_command;
mod cli_actions;
mod dialogs;
mod drill_backend;
mod drill_foreign;
mod estimates;
mod failed_attempts;
mod goodjob;
mod history;
mod homegrown;
mod incremental_minutes;
mod many_queues;
mod migrate_indexes;
mod native_alert_figures;
mod native_backend;
mod outage;
mod pg_cron;
mod pg_net;
mod pgboss_actions;
mod pgmq;
mod pgqueuer;
mod poller;
mod pooler;
mod procrastinate;
mod purge;
mod queue_list;
mod queue_schedules;
mod real_clients;
mod replica;
mod scan_estimate;
mod serve;
mod session_settings;
mod shared_snapshot;
mod snapshot_command;
mod solidqueue;
mod sources;
mod stored_tallies;
