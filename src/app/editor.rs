//! One line of typed text, edited the same way wherever the monitor asks for one: the `/`
//! filter, a pause's reason, a typed confirmation word, the audit pane's filter.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Longest text a line takes.
pub const LINE_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineEditor {
    text: String,
}

impl LineEditor {
    pub fn new(text: impl Into<String>) -> LineEditor {
        LineEditor {
            text: text.into().chars().take(LINE_MAX).collect(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Applies an editing key: a character (typed without Ctrl, up to `LINE_MAX`),
    /// Backspace, or Ctrl-U (clears the line). `false` for any other key: the caller's.
    pub fn edit(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => self.text.clear(),
            KeyCode::Backspace => {
                self.text.pop();
            }
            KeyCode::Char(c) if !ctrl => {
                if self.text.chars().count() < LINE_MAX {
                    self.text.push(c);
                }
            }
            _ => return false,
        }
        true
    }
}

/// An editor reads as the text it holds.
impl PartialEq<&str> for LineEditor {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_deletes_clears_and_leaves_other_keys() {
        let mut line = LineEditor::default();
        for c in "ab c".chars() {
            assert!(line.edit(&KeyEvent::from(KeyCode::Char(c))));
        }
        assert!(line.edit(&KeyEvent::from(KeyCode::Backspace)));
        assert_eq!(line, "ab ");
        assert!(!line.edit(&KeyEvent::from(KeyCode::Enter)));
        assert!(!line.edit(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(line.edit(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
        assert!(line.is_empty());
        let mut full = LineEditor::new("x".repeat(LINE_MAX + 5));
        assert!(
            full.edit(&KeyEvent::from(KeyCode::Char('y'))),
            "taken, not typed"
        );
        assert_eq!(full.as_str().len(), LINE_MAX);
    }
}
