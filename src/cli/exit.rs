//! An exit status that is a command's answer rather than a failure: `jobtop check` exits
//! 1, 2 or 3 after printing its verdict, and nothing more is printed.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}
