//! A fixed snapshot for state and rendering tests: every figure the overview shows,
//! at a fixed database time so the rendering is the same on every run.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use jobtop::app::{App, AppConfig, DrillSettings, Msg};
use jobtop::backend::{
    Capabilities, Count, MinuteBucket, PauseInfo, QueueStats, Snapshot, WorkerInfo,
};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// Everything a backend can show and do.
pub const CAPABILITIES: Capabilities = Capabilities::FULL;

pub fn config() -> AppConfig {
    AppConfig {
        target: "ops@db.internal:5432/app".to_string(),
        backend: "native".to_string(),
        capabilities: CAPABILITIES,
        read_only: false,
        stale_after: Duration::from_secs(60),
        oldest_warn: Duration::from_secs(60),
        oldest_critical: Duration::from_secs(300),
        drill: DrillSettings::default(),
    }
}

fn minutes(seed: u32, fail_every: u32) -> Vec<MinuteBucket> {
    (0..60)
        .map(|m| MinuteBucket {
            succeeded: (m * 7 + seed) % 23 + 10,
            failed: if fail_every > 0 && m % fail_every == 0 {
                3
            } else {
                0
            },
        })
        .collect()
}

pub fn queue(name: &str, ready: i64, oldest_secs: Option<i64>) -> QueueStats {
    let mut q = QueueStats::new(name);
    q.ready = Count::exact(ready);
    q.oldest_ready_at = oldest_secs.map(|s| t0() - chrono::Duration::seconds(s));
    q
}

pub fn snapshot() -> Snapshot {
    let mut default = queue("default", 12, Some(2));
    default.running = Count::exact(8);
    default.scheduled = Count::exact(40);
    default.minutes = minutes(1, 0);

    let mut mailers = queue("mailers", 10_000, Some(420));
    mailers.ready = Count::capped_at(10_001, 10_000);
    mailers.running = Count::exact(2);
    mailers.minutes = minutes(5, 0);

    let mut webhooks = queue("webhooks", 30, Some(75));
    webhooks.retrying = Count::exact(17);
    webhooks.dead = Count::exact(64);
    webhooks.running = Count::exact(4);
    webhooks.minutes = minutes(3, 2);

    let mut reports = queue("reports", 0, None);
    reports.scheduled = Count::exact(120);
    reports.paused = Some(PauseInfo {
        at: t0() - chrono::Duration::minutes(10),
        by: Some("alice@ops".into()),
        reason: Some("deploy".into()),
    });
    reports.minutes = minutes(2, 0);

    let mut billing = queue("billing", 3, Some(1));
    billing.running = Count::exact(3);
    billing.minutes = minutes(9, 9);

    let worker = |id: &str, beat_secs: i64, jobs: i64, queues: &[&str]| WorkerInfo {
        id: id.to_string(),
        host: Some("app-1.internal".to_string()),
        pid: Some(4242),
        queues: queues.iter().map(|s| s.to_string()).collect(),
        started_at: Some(t0() - chrono::Duration::hours(2)),
        last_heartbeat_at: Some(t0() - chrono::Duration::seconds(beat_secs)),
        running_jobs: jobs,
    };
    Snapshot {
        db_now: t0(),
        queues: vec![default, mailers, webhooks, reports, billing],
        workers: vec![
            worker("worker-a", 1, 8, &["default"]),
            worker("worker-b", 2, 6, &["webhooks", "billing"]),
            worker("worker-dead", 600, 3, &["billing", "default"]),
            worker("worker-m", 3, 2, &["mailers"]),
        ],
        count_cap: 10_000,
        running_by_tenant: None,
        schedules: None,
    }
}

/// `snapshot()` taken `offset` later: every timestamp moves with the clock, so every age
/// stays the same (a queue that is stuck stays stuck, a live worker stays live).
pub fn snapshot_at(offset: chrono::Duration) -> Snapshot {
    let mut s = snapshot();
    s.db_now += offset;
    for q in &mut s.queues {
        q.oldest_ready_at = q.oldest_ready_at.map(|t| t + offset);
    }
    for w in &mut s.workers {
        w.last_heartbeat_at = w.last_heartbeat_at.map(|t| t + offset);
    }
    s
}

/// An app on `config` that has received `snapshot` at `t0()`.
pub fn app_polled(config: AppConfig, snapshot: Snapshot) -> App {
    let mut app = App::new(config, Duration::from_secs(1), t0());
    app.update(Msg::Polled {
        result: Ok(snapshot),
        at: t0(),
    });
    app
}

/// An app that has received `snapshot()` at `t0()`, shown `after` later.
pub fn app_with_data(after: chrono::Duration) -> App {
    let mut app = app_polled(config(), snapshot());
    app.update(Msg::Tick(t0() + after));
    app
}

/// `app_with_data(after)` on a screen of `width`×`height`.
pub fn app_on_screen(after: chrono::Duration, width: u16, height: u16) -> App {
    let mut app = app_with_data(after);
    app.update(Msg::ScreenSize { width, height });
    app
}

/// One frame of `app` drawn into ratatui's TestBackend.
pub fn buffer(app: &App, width: u16, height: u16) -> ratatui::buffer::Buffer {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| jobtop::ui::draw(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The frame as text: what a snapshot stores.
pub fn render(app: &App, width: u16, height: u16) -> String {
    text(&buffer(app, width, height))
}

/// A drawn buffer as text, one line per row, trailing blanks trimmed.
pub fn text(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let line: String = (area.left()..area.right())
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
