//! The line under the header that says where the screen is:
//! `overview › mailers › dead › #48213`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::{self, sanitize};
use super::theme::Theme;
use crate::app::App;

const SEP: &str = " › ";

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    // The last steps matter most: on a narrow line the first ones give way to `…`.
    let room = area.width.saturating_sub(1) as usize;
    let mut parts: Vec<String> = app
        .breadcrumb()
        .iter()
        .map(|s| sanitize(s, 200).into_owned())
        .collect();
    let width =
        |p: &[String]| p.iter().map(|s| text::width(s)).sum::<usize>() + text::width(SEP) * p.len();
    let mut dropped = false;
    while parts.len() > 2 && width(&parts) > room {
        parts.remove(if dropped { 1 } else { 0 });
        if !dropped {
            parts.insert(0, "…".into());
            dropped = true;
        }
    }
    let parts: Vec<String> = parts
        .into_iter()
        .map(|p| text::truncate(&p, room / 2).into_owned())
        .collect();
    let mut spans = vec![Span::raw(" ")];
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(SEP, theme.dim));
        }
        let style = if i == last {
            theme.title
        } else {
            theme.header_key
        };
        spans.push(Span::styled(part.clone(), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
