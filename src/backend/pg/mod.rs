//! PostgreSQL plumbing every schema shares: connecting, quoting, catalog facts, read
//! transactions, row decoding and the audit table.

pub mod admin;
pub mod audit;
pub mod catalog;
pub mod connect;
pub mod decode;
pub mod mask;
pub mod read;
pub mod side_tables;
pub mod sql;
pub mod target;
