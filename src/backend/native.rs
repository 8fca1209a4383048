//! The project's own reference schema (`migrations/`, schema `jobtop`).
