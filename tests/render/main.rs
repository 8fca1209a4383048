//! The monitor without a database, in one test binary: `App::update` as a pure function
//! (keys, drill-downs, actions, alerts), the alert rules over synthetic snapshots, and every
//! screen drawn into ratatui's TestBackend and compared with the stored snapshots in
//! `tests/render/snapshots/` (`cargo insta review` after an intended change).

#[path = "../actions_ui/mod.rs"]
mod actions_ui;
mod drill_data;
#[path = "../ui_data/mod.rs"]
mod ui_data;

mod alert_rules;
mod app_actions;
mod app_alerts;
mod app_dialogs;
mod app_subjects;
mod app_update;
mod drill_render;
mod drill_update;
mod frame_bytes;
mod many_queues;
mod mouse;
mod narrow_update;
mod readable;
mod render;
mod render_actions;
mod render_alerts;
mod render_history;
mod render_redact;
mod render_schedules;
mod render_source;
mod render_sources;
