//! The header says where the data comes from (shared snapshot role, replica lag), and keeps
//! saying the last thing it was told until told otherwise.

use crate::ui_data::app_with_data;
use jobtop::app::{App, Msg};
use jobtop::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn first_line(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..120).map(|x| buffer[(x, 0)].symbol()).collect()
}

#[test]
fn header_names_the_source_of_the_data() {
    let mut app = app_with_data(chrono::Duration::milliseconds(400));
    assert!(first_line(&app).contains("jobtop native · read-write · "));
    app.update(Msg::Source(Some("shared: follower".into())));
    assert!(
        first_line(&app).contains("jobtop native · shared: follower · read-write · "),
        "{}",
        first_line(&app)
    );
    app.update(Msg::Source(Some("replica lag 2.5s\x1b[2J".into())));
    let line = first_line(&app);
    assert!(line.contains("replica lag 2.5s"), "{line}");
    assert!(!line.contains('\x1b'), "sanitized: {line}");
    app.update(Msg::Source(None));
    assert!(first_line(&app).contains("jobtop native · read-write · "));
}
