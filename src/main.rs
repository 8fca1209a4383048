//! `jobtop`: parse the command line, start logging, run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use jobtop::cli::{self, Exit};
use tracing_subscriber::fmt::MakeWriter;

fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    let _log_guard = match init_logging(cli.global.log_file.clone()) {
        Ok(guard) => Some(guard),
        // A monitoring system's check must answer even where it may not write a log.
        Err(_) if cli.logs_optional() => None,
        Err(err) => {
            eprintln!("jobtop: cannot open the log file: {err:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if cli.one_worker_thread() {
        builder.worker_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("jobtop: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<Exit>() {
            // A status that is the command's answer, already printed (`jobtop check`).
            Some(Exit(code)) => std::process::ExitCode::from(*code),
            None => {
                let line = jobtop::error_text::one_line(&err);
                tracing::error!("{line}");
                eprintln!("jobtop: {line}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}

/// A log line with every credential masked: sqlx and our own messages may quote a URL.
struct MaskedWriter<W>(W);

impl<W: std::io::Write> std::io::Write for MaskedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let masked = jobtop::backend::pg::mask::mask_credentials(&String::from_utf8_lossy(buf));
        self.0.write_all(masked.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Logs go to a file, never to the terminal the UI owns.
fn init_logging(path: Option<PathBuf>) -> Result<tracing_appender::non_blocking::WorkerGuard> {
    let path = match path {
        Some(p) => p,
        None => dirs::state_dir()
            .or_else(dirs::cache_dir)
            .unwrap_or_else(std::env::temp_dir)
            .join("jobtop")
            .join("jobtop.log"),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file_name = path.file_name().context("the log file needs a file name")?;
    let appender = tracing_appender::rolling::never(dir, file_name);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("JOBTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || MaskedWriter(writer.make_writer()))
        .with_ansi(false)
        .init();
    Ok(guard)
}
