//! jobtop: a terminal live monitor for job queues that live in PostgreSQL.

pub mod app;
pub mod backend;
pub mod cli;
pub mod demo;
pub mod osc52;
pub mod poller;
pub mod terminal;
pub mod ui;
