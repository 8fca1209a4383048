//! What every action command shares: connect, look (plan), say what will happen, ask,
//! run through the gate, report, and turn the outcome into the exit status.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::Exit;
use crate::backend::actions::ScheduleOp;
use crate::backend::actions::{Progress, thousands};
use crate::backend::gate::Gate;
use crate::backend::pg::connect::{self, SessionSettings};
use crate::backend::schedules;
use crate::backend::{Action, ActionOutcome, Backend, JobState, Plan};
use crate::ui::text::sanitize;

pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  everything asked was done, or there was nothing to do
  1  part of it: some jobs had moved on, or it was stopped (Ctrl-C) or failed midway
  2  nothing: refused, declined, no terminal to ask on and no --yes, or an error

On a terminal it says what it will do and asks; --yes skips the question. Every run is
recorded in the jobtop.audit table, like the monitor's actions.";

#[derive(Args, Debug, Clone)]
pub struct ActArgs {
    /// postgres://user@host:port/db or @name of the config file (else DATABASE_URL or the
    /// PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub url: Option<String>,

    /// Do it without asking (required when not on a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Bound on every statement, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = super::values::seconds(0.1..=3600.0))]
    pub statement_timeout: f64,
}

/// Runs `action` the way every action command does; a non-zero status comes back as `Exit`.
pub async fn run(args: &ActArgs, action: Action) -> Result<()> {
    match act(args, action).await {
        Ok(0) => Ok(()),
        Ok(code) => Err(Exit(code).into()),
        Err(err) => {
            eprintln!("jobtop: {}", clean(&crate::error_text::one_line(&err)));
            Err(Exit(2).into())
        }
    }
}

/// `run` for an action on a schedule named on the command line (`jobtop schedule …`): the
/// name is looked up among the database's schedules first.
pub async fn run_on_schedule(args: &ActArgs, op: ScheduleOp, name: &str) -> Result<()> {
    let result = async {
        let (pool, backend) = open(args).await?;
        let target = schedules::find(
            &pool,
            backend.reads().name(),
            backend.reads().schema(),
            name,
        )
        .await?;
        carry_out(
            args,
            backend.with_schedules(pool),
            Action::Schedule { op, target },
        )
        .await
    };
    match result.await {
        Ok(0) => Ok(()),
        Ok(code) => Err(Exit(code).into()),
        Err(err) => {
            eprintln!("jobtop: {}", clean(&crate::error_text::one_line(&err)));
            Err(Exit(2).into())
        }
    }
}

/// Connects for writing and opens the backend the flags and the catalog name.
async fn open(args: &ActArgs) -> Result<(sqlx::PgPool, Backend)> {
    let opts = super::target(args.url.as_deref())?;
    let settings = SessionSettings {
        statement_timeout: Duration::from_secs_f64(args.statement_timeout.clamp(0.1, 3600.0)),
        read_only: false,
        ..SessionSettings::default()
    };
    let described = connect::describe(&opts);
    let pool = connect::connect(opts, &settings).await?;
    let backend = super::backend_choice::open(&pool, &described).await?;
    Ok((pool, backend))
}

async fn act(args: &ActArgs, action: Action) -> Result<u8> {
    let (_, backend) = open(args).await?;
    carry_out(args, backend, action).await
}

/// Look, say, ask, run through the gate, report.
async fn carry_out(args: &ActArgs, backend: Backend, action: Action) -> Result<u8> {
    let gate = Gate::new(backend, false);
    let plan = gate.plan(&action).await?;

    println!("{}", clean(&plan.question()));
    for line in plan.details() {
        println!("  {}", clean(&line));
    }
    if plan.eligible == 0 {
        let nothing = ActionOutcome::of(&plan, &Progress::default(), true);
        println!("{}", clean(&nothing.summary()));
        return Ok(nothing.exit_code());
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "jobtop: not on a terminal, so nobody can confirm: nothing done (pass --yes)"
            );
            return Ok(2);
        }
        if !ask(&plan).await? {
            println!("Nothing done.");
            return Ok(2);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("jobtop: stopping after the current batch…");
            flag.store(true, Ordering::SeqCst);
        }
    });
    let batches = plan.total_batches().unwrap_or(0);
    let outcome = gate
        .execute(&plan, &stop, &mut |p| {
            if batches > 1 {
                eprintln!(
                    "  batch {}/{batches}: {} {} so far",
                    p.batches,
                    p.kind.past(),
                    thousands(p.changed)
                );
            }
        })
        .await?;
    ctrl_c.abort();
    println!("{}", clean(&outcome.summary()));
    Ok(outcome.exit_code())
}

/// Asks on the terminal; a typed word where the plan demands one, else y/N.
async fn ask(plan: &Plan) -> Result<bool> {
    let word = plan.typed_confirmation();
    let prompt = match &word {
        Some(w) => format!("Type `{}` to confirm (anything else cancels): ", clean(w)),
        None => "Proceed? [y/N] ".to_string(),
    };
    let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut out = std::io::stdout();
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    })
    .await
    .context("reading the answer")??;
    let answer = answer.trim();
    Ok(match word {
        Some(w) => answer == w,
        None => matches!(answer, "y" | "Y" | "yes" | "YES" | "Yes"),
    })
}

/// Database text and error messages, safe for the terminal.
fn clean(s: &str) -> String {
    sanitize(s, 10_000).into_owned()
}

/// `30s`, `90m`, `36h`, `14d`, `2w`, `1h30m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return if (0.0..=super::values::LONGEST_SECS).contains(&secs) {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(format!("not a duration: {s}"))
        };
    }
    let mut total = 0f64;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3_600.0,
            'd' => 86_400.0,
            'w' => 7.0 * 86_400.0,
            _ => return Err(format!("not a duration: {s} (try 30s, 90m, 36h, 14d, 2w)")),
        };
        let n: f64 = number
            .parse()
            .map_err(|_| format!("not a duration: {s} (try 30s, 90m, 36h, 14d, 2w)"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || s.is_empty() {
        return Err(format!(
            "not a duration: {s} (a unit is missing: s, m, h, d, w)"
        ));
    }
    if total > super::values::LONGEST_SECS {
        return Err(format!("{s} is longer than ten years"));
    }
    Ok(Duration::from_secs_f64(total))
}

pub fn parse_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s.trim()).ok_or_else(|| {
        format!(
            "unknown state {s:?} (one of: {})",
            JobState::ALL.map(|s| s.as_str()).join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("14").is_ok());
        assert!(parse_duration("14x").is_err());
        assert!(parse_duration("1h30").is_err());
        for huge in ["99999999999999999999w", "1e400", "nan", "inf", "-3"] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
    }
}
