//! Secrets on a shared screen (issue 18): a job's payload and errors, the job list's error
//! column and the dead letters' samples are drawn masked; `U` shows them on this screen
//! and masks them again, and is refused in a read-only session or on the wall screen.

use crossterm::event::KeyCode;
use jobtop::app::App;
use jobtop::app::redact::{RedactConfig, Redactor};
use jobtop::backend::JobState;
use jobtop::backend::drill::{JobDetail, Response};

use crate::drill_data::{answer, code, dead_report, detail, key, page};
use crate::ui_data::{self, app_with_data, render};

const PAYLOAD: &str = r#"{"to": "alice@example.com", "password": "hunter2", "headers": {"Authorization": "Bearer eyJabc.def"}, "n": 1}"#;
const ERROR: &str = "401 from https://api.example/v1?api_key=sk_live_9 (token=abc123)";

fn secret_detail() -> JobDetail {
    let mut d = detail(48201);
    d.payload = Some(PAYLOAD.into());
    d.job.last_error = Some(ERROR.into());
    d.errors[0].error = ERROR.into();
    d
}

/// The job detail of a job whose payload and errors hold secrets, on its payload pane.
fn open_secret_job(app: &mut App) {
    app.update(key('G'));
    let mut jobs = page(48200..48203, JobState::Dead, false);
    jobs.rows[0].last_error = Some(ERROR.into());
    answer(app, code(KeyCode::Enter), Response::Jobs(jobs));
    answer(
        app,
        code(KeyCode::Enter),
        Response::Job(Some(Box::new(secret_detail()))),
    );
}

fn shows_no_secret(screen: &str) {
    for secret in ["hunter2", "eyJabc", "sk_live_9", "abc123"] {
        assert!(!screen.contains(secret), "{secret} on screen:\n{screen}");
    }
}

#[test]
fn the_job_detail_masks_payload_and_errors_until_u() {
    let mut app = app_with_data(chrono::Duration::zero());
    open_secret_job(&mut app);
    let errors = render(&app, 160, 48);
    shows_no_secret(&errors);
    assert!(errors.contains("api_key=[redacted]"), "{errors}");
    app.update(code(KeyCode::Tab));
    let payload = render(&app, 160, 48);
    shows_no_secret(&payload);
    assert!(payload.contains(r#""password": "[redacted]""#), "{payload}");
    assert!(
        payload.contains(r#""to": "alice@example.com""#),
        "{payload}"
    );

    // U: shown on this screen, with a warning; U again masks them.
    app.update(key('U'));
    let revealed = render(&app, 160, 48);
    assert!(revealed.contains(r#""password": "hunter2""#), "{revealed}");
    assert!(
        revealed.contains("secrets shown on this screen"),
        "{revealed}"
    );
    app.update(key('U'));
    shows_no_secret(&render(&app, 160, 48));
}

#[test]
fn the_job_list_and_dead_letters_are_masked() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.update(key('G'));
    let mut jobs = page(48200..48203, JobState::Dead, false);
    jobs.rows[0].last_error = Some(ERROR.into());
    answer(&mut app, code(KeyCode::Enter), Response::Jobs(jobs));
    let list = render(&app, 160, 48);
    shows_no_secret(&list);
    assert!(list.contains("api_key=[redacted]"), "{list}");

    let mut app = app_with_data(chrono::Duration::zero());
    let mut report = dead_report();
    report.groups[0].sample = ERROR.into();
    report.groups[0].signature = "401 from https://api.example/v1?api_key=sk_live_9".into();
    answer(&mut app, key('d'), Response::DeadLetters(report));
    let screen = render(&app, 160, 48);
    shows_no_secret(&screen);
    assert!(screen.contains("(token=[redacted])"), "{screen}");
}

#[test]
fn u_is_refused_read_only_and_on_the_wall_screen() {
    let mut config = ui_data::config();
    config.read_only = true;
    let mut app = ui_data::app_polled(config, ui_data::snapshot());
    open_secret_job(&mut app);
    app.update(key('U'));
    assert!(!app.revealed);
    assert_eq!(
        app.visible_toast().unwrap().text,
        "secrets stay masked in a read-only session"
    );
    app.update(code(KeyCode::Tab));
    shows_no_secret(&render(&app, 160, 48));
    assert!(
        !render(&app, 160, 48).contains("U unmask"),
        "the hint is hidden too"
    );

    let mut app = app_with_data(chrono::Duration::zero());
    app.kiosk = true;
    app.update(key('U'));
    assert!(!app.revealed, "the wall screen takes no key but quit");
}

#[test]
fn the_config_can_turn_masking_off_and_then_u_says_so() {
    let mut app = app_with_data(chrono::Duration::zero());
    app.redact = Redactor::new(&RedactConfig {
        defaults: false,
        ..RedactConfig::default()
    });
    open_secret_job(&mut app);
    app.update(code(KeyCode::Tab));
    assert!(render(&app, 160, 48).contains("hunter2"));
    app.update(key('U'));
    assert_eq!(
        app.visible_toast().unwrap().text,
        "nothing is masked: the config's redact is off"
    );
}
