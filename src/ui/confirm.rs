//! Confirmations: the exact target and count, what will and will not happen, a typed word
//! where it matters, and buttons that start on Cancel. Also "looking…" and notices.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::dialog::{self, wrapped};
use super::text::sanitize;
use super::theme::Theme;
use crate::app::actions::{Confirm, Dialog};
use crate::app::keymap::{KeyContext, hint_line};
use crate::backend::ActionKind;

pub fn draw(frame: &mut Frame, area: Rect, dialog: &Dialog, theme: &Theme) {
    let width = dialog::inner_width(area);
    match dialog {
        Dialog::Looking { title, .. } => {
            let lines = vec![Line::styled("counting the jobs it would touch…", theme.dim)];
            dialog::draw(frame, area, title, theme.border_focused, lines);
        }
        Dialog::Notice { title, lines } => {
            let mut body = Vec::new();
            for l in lines {
                body.extend(wrapped(l, width, theme.text));
            }
            body.push(Line::default());
            body.push(Line::styled(hint_line(KeyContext::Notice), theme.dim));
            dialog::draw(frame, area, &sanitize(title, 200), theme.warn, body);
        }
        Dialog::Confirm(confirm) => draw_confirm(frame, area, confirm, theme),
        Dialog::Running(_) | Dialog::Phased(_) => {}
    }
}

/// Destructive actions get the alarming border.
pub fn border(kind: ActionKind, theme: &Theme) -> Style {
    match kind {
        ActionKind::Delete | ActionKind::Purge | ActionKind::Discard => theme.critical,
        _ => theme.warn,
    }
}

fn draw_confirm(frame: &mut Frame, area: Rect, confirm: &Confirm, theme: &Theme) {
    let width = dialog::inner_width(area);
    let plan = &confirm.plan;
    let mut lines = wrapped(&plan.question(), width, theme.title);
    lines.push(Line::default());
    for detail in plan.details() {
        lines.extend(wrapped(&detail, width, theme.text));
    }
    if let Some(label) = confirm.input_label() {
        lines.push(Line::default());
        let input = sanitize(confirm.input.as_str(), 200).into_owned();
        lines.push(Line::from(vec![
            Span::styled(sanitize(&label, 300).into_owned(), theme.header_key),
            Span::raw(" "),
            Span::styled(input, theme.title),
            Span::styled("▏", theme.header_key),
        ]));
    }
    if let Some(hint) = &confirm.hint {
        lines.extend(wrapped(hint, width, theme.warn));
    }
    lines.push(Line::default());
    let labels: Vec<String> = confirm.choices.iter().map(|c| confirm.label(*c)).collect();
    lines.extend(dialog::buttons(&labels, confirm.focus, width, theme));
    lines.push(Line::styled(hint_line(KeyContext::Confirm), theme.dim));
    let title = format!("{} — confirm", plan.kind().verb());
    dialog::draw(frame, area, &title, border(plan.kind(), theme), lines);
}
