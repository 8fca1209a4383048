//! The config file: named connections, refresh, thresholds and rules, theme. TOML, read from
//! the user's config directory (`~/.config/jobtop/config.toml` on Linux) or `--config`.
//!
//! A file is read whole or not at all: any error (syntax, a misspelt key, a wrong type or
//! range) stops jobtop with the file, line, column and what was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::app::ThemeName;
use crate::app::alerts::Rules;
use crate::app::alerts::rules::{Num, Secs};
use crate::app::redact::RedactConfig;
use crate::backend::pg::connect::redact_url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time between refreshes (0.5 s to 60 s).
    pub refresh: Secs,
    /// Bound on every monitoring statement.
    pub statement_timeout: Secs,
    /// Live counts stop at this many jobs per queue and state.
    pub count_cap: Num,
    /// The workers pane marks a worker stale after this long without a heartbeat.
    pub stale_after: Secs,
    /// `default`, `high-contrast` or `monochrome`; unset: default, or high contrast with
    /// `--kiosk`. `NO_COLOR` always means monochrome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<ThemeName>,
    /// Ring the terminal bell when a critical alert starts firing; unset: only in kiosk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bell: Option<bool>,
    /// `jobtop @name` connects to `connections.name`.
    pub connections: BTreeMap<String, Connection>,
    /// `jobtop @name` shows every source of `screens.name` on one screen.
    pub screens: BTreeMap<String, Screen>,
    pub rules: Rules,
    /// Secrets masked in payloads and errors, on screen and in every export.
    pub redact: RedactConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            refresh: Secs(1.0),
            statement_timeout: Secs(5.0),
            count_cap: Num(10_000.0),
            stale_after: Secs(60.0),
            theme: None,
            bell: None,
            connections: BTreeMap::new(),
            screens: BTreeMap::new(),
            rules: Rules::default(),
            redact: RedactConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// `postgres://user:password@host:port/db?sslmode=require`; a password here is never
    /// shown (`jobtop config` masks it). `~/.pgpass` or `PGPASSWORD` keep it out of the file.
    pub url: String,
    /// Open this connection read-only, as `--read-only` does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// What the screen calls this source when it shows several (default: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The queue schema to read, as `--backend` says it (default: detected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// As `--schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// As `--profile`: a home-grown table's profile file or shipped name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<PathBuf>,
    /// This source's own alert rules and thresholds, in place of the file's `[rules]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Rules>,
}

/// Several sources on one screen: `[screens.oncall] sources = ["billing", "web"]`, each
/// a connection's name (with or without `@`) or a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Screen {
    pub sources: Vec<String>,
}

/// A config file that could not be used, said the way editors and compilers say it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: String,
    /// 1-based; `None` when the error has no place (an unreadable file).
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The offending line and a caret under the column.
    pub excerpt: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.path, self.message)?,
            _ => write!(f, "{}: {}", self.path, self.message)?,
        }
        if let Some(excerpt) = &self.excerpt {
            write!(f, "\n{excerpt}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The configuration in force and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    /// The file read; `None`: there was none, defaults apply.
    pub path: Option<PathBuf>,
}

/// `~/.config/jobtop/config.toml` (or the platform's equivalent).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("jobtop").join("config.toml"))
}

/// Reads `explicit` (which must exist), else the default file if there is one, else the
/// defaults.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_path() {
            Some(p) if p.exists() => p,
            _ => {
                return Ok(Loaded {
                    config: Config::default(),
                    path: None,
                });
            }
        },
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|err| ConfigError {
        path: shown.clone(),
        line: None,
        column: None,
        message: format!("cannot read the config file: {err}"),
        excerpt: None,
    })?;
    let config = parse(&text, &shown)?;
    Ok(Loaded {
        config,
        path: Some(path),
    })
}

/// Parses a config file's text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    toml::from_str::<Config>(text).map_err(|err| {
        let place = err.span().map(|span| position(text, span.start));
        ConfigError {
            path: origin.to_string(),
            line: place.map(|p| p.0),
            column: place.map(|p| p.1),
            message: err.message().trim().to_string(),
            excerpt: place.map(|(line, col)| excerpt(text, line, col)),
        }
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn excerpt(text: &str, line: usize, column: usize) -> String {
    let source = text.lines().nth(line - 1).unwrap_or("");
    let shown = crate::ui::text::sanitize(source, 200);
    format!(
        "{line:>5} | {shown}\n      | {}^",
        " ".repeat(column.saturating_sub(1))
    )
}

impl Config {
    /// The connection `name` (from `@name`), or why there is none.
    pub fn connection(&self, name: &str, path: Option<&Path>) -> anyhow::Result<&Connection> {
        self.connections.get(name).ok_or_else(|| {
            let from = match path {
                Some(p) => format!("in {}", p.display()),
                None => "(no config file was found)".to_string(),
            };
            let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
            if known.is_empty() {
                anyhow::anyhow!("no connection named @{name} {from}: none are defined")
            } else {
                anyhow::anyhow!(
                    "no connection named @{name} {from}; known: @{}",
                    known.join(", @")
                )
            }
        })
    }

    /// The configuration as TOML, with every default written out and every password masked.
    pub fn to_toml_masked(&self) -> String {
        let mut masked = self.clone();
        for conn in masked.connections.values_mut() {
            conn.url = redact_url(&conn.url);
        }
        for screen in masked.screens.values_mut() {
            for source in &mut screen.sources {
                if !source.starts_with('@') && source.contains("://") {
                    *source = redact_url(source);
                }
            }
        }
        toml::to_string_pretty(&masked).unwrap_or_else(|err| format!("# cannot print: {err}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 6), (2, 1));
        assert_eq!(position(text, 10), (2, 4));
    }
}
