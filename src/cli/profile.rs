//! `jobtop profile new URL TABLE`: drafts a profile for a home-grown queue table, its
//! guesses marked for the user to check, on stdout or into a file.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::backend::mapped::draft;
use crate::backend::pg::connect::{self, SessionSettings};

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Draft a profile from a table's columns and status values; read the lines marked
    /// `# guess: check`, then pass the file with --profile.
    New(NewArgs),
}

#[derive(Args, Debug)]
pub struct NewArgs {
    /// postgres://user@host:port/db, or @name for a connection of the config file.
    pub url: String,
    /// The queue table.
    pub table: String,
    /// The table's schema (default: the first on the search path that has it).
    #[arg(long)]
    pub schema: Option<String>,
    /// Write the profile to this file instead of stdout (an existing file is kept).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(command: ProfileCommand) -> Result<()> {
    let ProfileCommand::New(args) = command;
    let opts = super::target(Some(&args.url))?;
    let settings = SessionSettings {
        read_only: true,
        ..SessionSettings::default()
    };
    let pool = connect::connect(opts, &settings).await?;
    let text = draft::draft(&pool, args.schema.as_deref(), &args.table).await?;
    match &args.out {
        None => print!("{text}"),
        Some(path) => {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|err| anyhow::anyhow!("cannot create {}: {err}", path.display()))?;
            file.write_all(text.as_bytes())?;
            eprintln!(
                "jobtop: profile drafted in {}; check the lines marked `# guess: check`, then run \
                 jobtop --profile {} URL",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}
