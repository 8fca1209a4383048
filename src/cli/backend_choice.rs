//! Which queue schema a command reads: `--backend`, `--schema` and `--profile` narrow what
//! detection finds; several matches are listed (and, on a terminal, one is asked for).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use sqlx::PgPool;

use crate::backend::Backend;
use crate::backend::detect::{self, ChooseError, Selection};

/// Set once from the global flags, before any command opens a backend.
static SELECTION: OnceLock<Selection> = OnceLock::new();

pub fn remember(selection: Selection) {
    let _ = SELECTION.set(selection);
}

pub fn selection() -> Selection {
    SELECTION.get().cloned().unwrap_or_default()
}

/// Opens the backend the flags and the database's catalog name.
pub async fn open(pool: &PgPool, described: &str) -> Result<Backend> {
    open_with(pool, described, &selection()).await
}

/// `open` with a source's own choice (a config connection's `backend`, `schema`, `profile`).
pub async fn open_with(pool: &PgPool, described: &str, selection: &Selection) -> Result<Backend> {
    match detect::resolve(pool, selection).await {
        Ok((found, backend)) => {
            tracing::info!(%found, "backend chosen");
            Ok(backend)
        }
        Err(err) => match err.downcast_ref::<ChooseError>() {
            Some(ChooseError::Ambiguous(found)) if std::io::stdin().is_terminal() => {
                let pick = ask(found)?;
                detect::open(pool, &found[pick]).await
            }
            Some(_) => Err(anyhow::anyhow!("{described}: {err}")),
            None => Err(err).with_context(|| format!("cannot read the catalog of {described}")),
        },
    }
}

/// Lists the candidates on the terminal and reads a number.
fn ask(found: &[detect::Detected]) -> Result<usize> {
    let mut err = std::io::stderr();
    writeln!(err, "This database holds more than one job queue:")?;
    for (i, d) in found.iter().enumerate() {
        writeln!(err, "  {}) {d}    ({})", i + 1, d.flags())?;
    }
    loop {
        write!(err, "Watch which one? [1-{}] ", found.len())?;
        err.flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            anyhow::bail!("no choice made: pass one of the flags above");
        }
        match line.trim().parse::<usize>() {
            Ok(n) if (1..=found.len()).contains(&n) => return Ok(n - 1),
            _ => writeln!(err, "a number from 1 to {}, please", found.len())?,
        }
    }
}
