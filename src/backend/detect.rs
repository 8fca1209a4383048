//! Which queue schemas a database holds: probes the catalog (every schema, so River or Oban
//! migrated into a prefix schema is found too) and opens the backend the user picks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::bail;
use serde::Serialize;
use sqlx::PgPool;

use crate::backend::mapped::Profile;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::{
    Backend, goodjob, graphile, mapped, oban, pgboss, pgmq, pgqueuer, procrastinate, river,
    solidqueue,
};

/// The queue schemas jobtop can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    Native,
    River,
    Oban,
    PgBoss,
    Graphile,
    Procrastinate,
    PgQueuer,
    Pgmq,
    SolidQueue,
    GoodJob,
    Mapped,
    /// No queue, only the database's schedules (pg_cron): opened when nothing else is there.
    Schedules,
}

impl BackendKind {
    pub const ALL: [BackendKind; 12] = [
        BackendKind::Native,
        BackendKind::River,
        BackendKind::Oban,
        BackendKind::PgBoss,
        BackendKind::Graphile,
        BackendKind::Procrastinate,
        BackendKind::PgQueuer,
        BackendKind::Pgmq,
        BackendKind::SolidQueue,
        BackendKind::GoodJob,
        BackendKind::Mapped,
        BackendKind::Schedules,
    ];

    /// The name `--backend` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Native => "native",
            BackendKind::River => "river",
            BackendKind::Oban => "oban",
            BackendKind::PgBoss => "pg-boss",
            BackendKind::Graphile => "graphile-worker",
            BackendKind::Procrastinate => "procrastinate",
            BackendKind::PgQueuer => "pgqueuer",
            BackendKind::Pgmq => "pgmq",
            BackendKind::SolidQueue => "solid-queue",
            BackendKind::GoodJob => "good-job",
            BackendKind::Mapped => "mapped",
            BackendKind::Schedules => "schedules",
        }
    }

    /// Where the project installs itself unless told otherwise.
    pub fn default_schema(self) -> &'static str {
        match self {
            BackendKind::Native => "jobtop",
            BackendKind::River
            | BackendKind::Oban
            | BackendKind::Procrastinate
            | BackendKind::PgQueuer
            | BackendKind::SolidQueue
            | BackendKind::GoodJob
            | BackendKind::Mapped => "public",
            BackendKind::PgBoss => "pgboss",
            BackendKind::Schedules => "cron",
            BackendKind::Graphile => "graphile_worker",
            BackendKind::Pgmq => "pgmq",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<BackendKind, String> {
        let norm = s.to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "native" | "jobtop" => Ok(BackendKind::Native),
            "river" => Ok(BackendKind::River),
            "oban" => Ok(BackendKind::Oban),
            "pg-boss" | "pgboss" => Ok(BackendKind::PgBoss),
            "graphile-worker" | "graphile" => Ok(BackendKind::Graphile),
            "procrastinate" => Ok(BackendKind::Procrastinate),
            "pgqueuer" | "pgq" => Ok(BackendKind::PgQueuer),
            "pgmq" | "supabase-queues" => Ok(BackendKind::Pgmq),
            "solid-queue" | "solidqueue" => Ok(BackendKind::SolidQueue),
            "good-job" | "goodjob" => Ok(BackendKind::GoodJob),
            "mapped" | "profile" => Ok(BackendKind::Mapped),
            "schedules" | "pg-cron" => Ok(BackendKind::Schedules),
            _ => Err(format!(
                "unknown backend {s:?}: expected one of {}",
                BackendKind::ALL.map(|k| k.as_str()).join(", ")
            )),
        }
    }
}

/// One queue schema found in the database.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Detected {
    pub backend: BackendKind,
    pub schema: String,
    /// For `Mapped`: the shipped profile whose table was found.
    pub profile: Option<String>,
}

impl Detected {
    /// The command-line flags that select this one.
    pub fn flags(&self) -> String {
        match &self.profile {
            Some(p) => format!("--profile {p} --schema {}", self.schema),
            None => format!("--backend {} --schema {}", self.backend, self.schema),
        }
    }
}

impl fmt::Display for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.profile {
            Some(p) => write!(
                f,
                "{} (profile {p}) in schema {}",
                self.backend, self.schema
            ),
            None => write!(f, "{} in schema {}", self.backend, self.schema),
        }
    }
}

/// What detection looks for, in words (for "nothing found").
pub const LOOKED_FOR: &str = "jobtop.jobs (native), river_job (River), oban_jobs (Oban, any prefix), \
job + queue + version + its job_state type (pg-boss 10+, any schema), graphile_worker _private_jobs or jobs + tasks \
(graphile-worker), procrastinate_jobs + its procrastinate_job_status type (procrastinate, any \
schema), pgqueuer + pgqueuer_log + its pgqueuer_status type (PgQueuer, any schema), pgmq.meta (pgmq, \
Supabase Queues), solid_queue_jobs + solid_queue_ready_executions (Solid Queue), good_jobs + \
good_job_executions (good_job), cron.job (pg_cron alone: its schedules), and the tables of the shipped profiles (job_queue, jobforge_jobs, background_jobs)";

/// Every queue schema in the database, in a stable order.
pub async fn detect(pool: &PgPool) -> anyhow::Result<Vec<Detected>> {
    let mut wanted: Vec<String> = [
        "jobs",
        "workers",
        "queues",
        "river_job",
        "oban_jobs",
        "job",
        "queue",
        "version",
        "_private_jobs",
        "_private_tasks",
        "tasks",
        "job_queues",
        "migrations",
        "procrastinate_jobs",
        "pgqueuer",
        "pgqueuer_log",
        "meta",
        "solid_queue_jobs",
        "solid_queue_ready_executions",
        "good_jobs",
        "good_job_executions",
        "job_run_details",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let profiles: Vec<Profile> = Profile::shipped_names()
        .into_iter()
        .filter_map(Profile::shipped)
        .collect();
    wanted.extend(profiles.iter().map(|p| p.table.get_ref().clone()));
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relname = ANY($1) AND c.relkind IN ('r', 'p', 'v') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
         UNION ALL \
         SELECT n.nspname::text, 'type:' || t.typname, 't' \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typname IN ('job_state', 'procrastinate_job_status', 'pgqueuer_status') AND t.typtype = 'e'",
    )
    .bind(&wanted)
    .fetch_all(pool)
    .await?;
    let mut by_schema: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (schema, name, kind) in rows {
        by_schema.entry(schema).or_default().insert(name, kind);
    }
    let mut found = BTreeSet::new();
    let mut add = |backend, schema: &str, profile: Option<String>| {
        found.insert(Detected {
            backend,
            schema: schema.to_string(),
            profile,
        });
    };
    for (schema, rels) in &by_schema {
        let has = |n: &str| rels.contains_key(n);
        if schema == "jobtop" && has("jobs") && has("workers") && has("queues") {
            add(BackendKind::Native, schema, None);
        }
        if has("river_job") {
            add(BackendKind::River, schema, None);
        }
        if has("oban_jobs") {
            add(BackendKind::Oban, schema, None);
        }
        if has("job") && has("queue") && has("version") && has("type:job_state") {
            add(BackendKind::PgBoss, schema, None);
        }
        let graphile_new = has("_private_jobs") && has("_private_tasks");
        let graphile_old = rels.get("jobs").is_some_and(|k| k == "r")
            && has("tasks")
            && has("job_queues")
            && has("migrations");
        if graphile_new || graphile_old {
            add(BackendKind::Graphile, schema, None);
        }
        if has("procrastinate_jobs") && has("type:procrastinate_job_status") {
            add(BackendKind::Procrastinate, schema, None);
        }
        if has("pgqueuer") && has("pgqueuer_log") && has("type:pgqueuer_status") {
            add(BackendKind::PgQueuer, schema, None);
        }
        // pgmq's install script names its schema itself.
        if schema == "pgmq" && has("meta") {
            add(BackendKind::Pgmq, schema, None);
        }
        // Solid Queue 1.x (and 0.x, whose tables these are too); the version is read at open.
        if has("solid_queue_jobs") && has("solid_queue_ready_executions") {
            add(BackendKind::SolidQueue, schema, None);
        }
        // good_job with its executions table (3.x's split, kept in 4.x).
        if has("good_jobs") && has("good_job_executions") {
            add(BackendKind::GoodJob, schema, None);
        }
        // pg_cron: watched on its own only where no queue is (below).
        if schema == "cron" && has("job") && has("job_run_details") {
            add(BackendKind::Schedules, schema, None);
        }
        for p in &profiles {
            if !has(p.table.get_ref()) {
                continue;
            }
            // A table of that name is not enough: every column the profile names must exist.
            if let Some(info) = TableInfo::load(pool, schema, p.table.get_ref()).await?
                && p.columns.named().iter().all(|(_, c)| info.has(c.get_ref()))
            {
                add(BackendKind::Mapped, schema, Some(p.name.clone()));
            }
        }
    }
    let mut found: Vec<Detected> = found.into_iter().collect();
    // Schedules beside a queue are read with it (`Backend::with_schedules`): not a choice.
    if found.iter().any(|d| d.backend != BackendKind::Schedules) {
        found.retain(|d| d.backend != BackendKind::Schedules);
    }
    // `jobtop migrate` on another queue's database (to get jobtop.audit for its actions)
    // leaves an empty reference schema: that is not a second queue to choose between.
    if found.len() > 1 && found.iter().any(|d| d.backend == BackendKind::Native) {
        let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM jobtop.jobs)")
            .fetch_one(pool)
            .await?;
        if empty {
            found.retain(|d| d.backend != BackendKind::Native);
        }
    }
    Ok(found)
}

/// Opens a detected (or explicitly named) schema.
pub async fn open(pool: &PgPool, choice: &Detected) -> anyhow::Result<Backend> {
    let pool = pool.clone();
    let schema = choice.schema.as_str();
    Ok(match choice.backend {
        BackendKind::Native => open_native(pool, schema)?,
        BackendKind::River => Backend::new(river::open(pool, schema).await?),
        BackendKind::Oban => Backend::new(oban::open(pool, schema).await?),
        BackendKind::PgBoss => Backend::new(pgboss::open(pool, schema).await?),
        BackendKind::Graphile => Backend::new(graphile::open(pool, schema).await?),
        BackendKind::Procrastinate => Backend::new(procrastinate::open(pool, schema).await?),
        BackendKind::PgQueuer => Backend::new(pgqueuer::open(pool, schema).await?),
        BackendKind::Pgmq => Backend::new(pgmq::open(pool, schema).await?),
        BackendKind::SolidQueue => Backend::new(solidqueue::open(pool, schema).await?),
        BackendKind::GoodJob => Backend::new(goodjob::open(pool, schema).await?),
        BackendKind::Schedules => Backend::new(crate::backend::schedules::only::open(pool).await?),
        BackendKind::Mapped => {
            let Some(name) = &choice.profile else {
                bail!("the mapped backend needs a profile (--profile FILE)");
            };
            let Some(profile) = Profile::shipped(name) else {
                bail!("no shipped profile named {name:?}");
            };
            Backend::new(mapped::open(pool, profile, Some(schema)).await?)
        }
    })
}

/// The reference schema's SQL functions name `jobtop.` themselves: it cannot move.
fn open_native(pool: PgPool, schema: &str) -> anyhow::Result<Backend> {
    if schema != BackendKind::Native.default_schema() {
        bail!("the reference schema lives in schema `jobtop`, not `{schema}`");
    }
    Ok(Backend::new(crate::backend::native::NativeBackend::new(
        pool,
    )))
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub backend: Option<BackendKind>,
    pub schema: Option<String>,
    pub profile: Option<PathBuf>,
}

/// Why no single backend could be chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum ChooseError {
    /// Nothing matched: says what was looked for and how to describe a home-grown table.
    NothingFound { asked: Option<String> },
    /// More than one matched: the user picks with the flags each one lists.
    Ambiguous(Vec<Detected>),
}

impl fmt::Display for ChooseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChooseError::NothingFound { asked } => {
                if let Some(asked) = asked {
                    writeln!(f, "no {asked} found in this database.")?;
                } else {
                    writeln!(f, "no known job queue schema found in this database.")?;
                }
                writeln!(f, "Looked for: {LOOKED_FOR}.")?;
                write!(
                    f,
                    "For a home-grown queue table, draft a profile with \
                     `jobtop profile new URL TABLE --out FILE`, check its guesses, and pass it \
                     with --profile FILE."
                )
            }
            ChooseError::Ambiguous(found) => {
                writeln!(f, "this database holds more than one job queue; pick one:")?;
                for d in found {
                    writeln!(f, "  {d}: {}", d.flags())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ChooseError {}

/// Picks and opens the backend for a selection: a profile when one is given, else the one
/// detected schema that matches the flags. A `ChooseError` (inside the `anyhow::Error`) says
/// when there is none or more than one.
pub async fn resolve(pool: &PgPool, selection: &Selection) -> anyhow::Result<(Detected, Backend)> {
    if let Some(path) = &selection.profile {
        // A shipped profile by name, unless a file of that name exists.
        let shipped = path
            .to_str()
            .filter(|_| !path.exists())
            .and_then(Profile::shipped);
        let profile = match shipped {
            Some(profile) => profile,
            None => Profile::load(path)?,
        };
        let name = profile.name.clone();
        let backend = mapped::open(pool.clone(), profile, selection.schema.as_deref()).await?;
        let detected = Detected {
            backend: BackendKind::Mapped,
            schema: backend.schema.clone(),
            profile: Some(name),
        };
        return Ok((detected, Backend::new(backend)));
    }
    let candidates: Vec<Detected> = detect(pool)
        .await?
        .into_iter()
        .filter(|d| selection.backend.is_none_or(|b| b == d.backend))
        .filter(|d| selection.schema.as_ref().is_none_or(|s| s == &d.schema))
        .collect();
    let choice = match candidates.len() {
        1 => candidates.into_iter().next().expect("one candidate"),
        0 => match selection.backend {
            // Named explicitly but not detected (perhaps the role cannot see the catalog
            // entries): try it, so the backend says exactly what is missing.
            Some(kind) if kind != BackendKind::Mapped => Detected {
                backend: kind,
                schema: selection
                    .schema
                    .clone()
                    .unwrap_or_else(|| kind.default_schema().to_string()),
                profile: None,
            },
            asked => {
                return Err(ChooseError::NothingFound {
                    asked: asked.map(|k| k.to_string()),
                }
                .into());
            }
        },
        _ => return Err(ChooseError::Ambiguous(candidates).into()),
    };
    let backend = open(pool, &choice).await?;
    Ok((choice, backend))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip_and_accept_aliases() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.as_str().parse::<BackendKind>(), Ok(kind));
        }
        assert_eq!("pgboss".parse::<BackendKind>(), Ok(BackendKind::PgBoss));
        assert_eq!(
            "graphile_worker".parse::<BackendKind>(),
            Ok(BackendKind::Graphile)
        );
        assert!("sidekiq".parse::<BackendKind>().is_err());
    }

    #[test]
    fn ambiguity_lists_the_flags_for_each_candidate() {
        let err = ChooseError::Ambiguous(vec![
            Detected {
                backend: BackendKind::River,
                schema: "public".into(),
                profile: None,
            },
            Detected {
                backend: BackendKind::Mapped,
                schema: "public".into(),
                profile: Some("jobforge".into()),
            },
        ])
        .to_string();
        assert!(err.contains("--backend river --schema public"), "{err}");
        assert!(err.contains("--profile jobforge --schema public"), "{err}");
    }
}
