//! jobtop: a terminal live monitor for job queues that live in PostgreSQL.

pub mod action_effects;
pub mod app;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error_text;
pub mod osc52;
pub mod poller;
pub mod serve;
pub mod source_runtime;
pub mod terminal;
pub mod ui;
