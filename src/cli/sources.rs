//! Which databases a command watches: one URL, `@name`, several of them, or a config
//! screen (`[screens.oncall] sources = [...]`, named as `@oncall`). Each source keeps its
//! connection's settings: read-only flag, schema choice, rules, and its label.

use anyhow::{Result, bail};
use sqlx::postgres::PgConnectOptions;

use crate::backend::detect::Selection;
use crate::backend::pg::connect;
use crate::config::{Connection, Loaded};

/// One database to watch.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// What the screen calls it: the connection's label or name, else `host/db`.
    pub label: String,
    pub opts: PgConnectOptions,
    /// The config file's connection, when it came from one.
    pub connection: Option<Connection>,
}

impl SourceSpec {
    /// The schema to read: the connection's choice, else the command line's.
    pub fn selection(&self, global: &Selection) -> Result<Selection> {
        let Some(conn) = &self.connection else {
            return Ok(global.clone());
        };
        let backend = match &conn.backend {
            Some(name) => Some(
                name.parse()
                    .map_err(|e: String| anyhow::anyhow!("connection {}: {e}", self.label))?,
            ),
            None => global.backend,
        };
        Ok(Selection {
            backend,
            schema: conn.schema.clone().or_else(|| global.schema.clone()),
            profile: conn.profile.clone().or_else(|| global.profile.clone()),
        })
    }
}

/// The sources `args` name, in order; none given: the `PG*` variables' one database.
pub fn resolve(args: &[String], loaded: &Loaded) -> Result<Vec<SourceSpec>> {
    if args.is_empty() {
        let opts = super::target(None)?;
        return Ok(vec![from_url(opts)]);
    }
    let mut out = Vec::new();
    for arg in args {
        match arg.strip_prefix('@') {
            Some(name) if !loaded.config.connections.contains_key(name) => {
                match loaded.config.screens.get(name) {
                    Some(screen) if screen.sources.is_empty() => {
                        bail!("screen @{name} lists no sources")
                    }
                    Some(screen) => {
                        for entry in &screen.sources {
                            out.push(one(entry, loaded, true)?);
                        }
                    }
                    // Says which connections exist.
                    None => out.push(one(arg, loaded, false)?),
                }
            }
            _ => out.push(one(arg, loaded, false)?),
        }
    }
    unique_labels(&mut out);
    Ok(out)
}

/// `entry` is `@name`, or (inside a screen) a bare connection name, or a URL.
fn one(entry: &str, loaded: &Loaded, bare_names: bool) -> Result<SourceSpec> {
    let name = match entry.strip_prefix('@') {
        Some(name) => Some(name),
        None if bare_names && !entry.contains("://") && !entry.contains('=') => Some(entry),
        None => None,
    };
    match name {
        Some(name) => {
            let conn = loaded.config.connection(name, loaded.path.as_deref())?;
            Ok(SourceSpec {
                label: conn.label.clone().unwrap_or_else(|| name.to_string()),
                opts: connect::parse_target(Some(&conn.url))?,
                connection: Some(conn.clone()),
            })
        }
        None => Ok(from_url(super::target(Some(entry))?)),
    }
}

fn from_url(opts: PgConnectOptions) -> SourceSpec {
    let db = opts.get_database().unwrap_or(opts.get_username());
    let label = match opts.get_socket() {
        Some(_) => db.to_string(),
        None => format!("{}/{db}", opts.get_host()),
    };
    SourceSpec {
        label,
        opts,
        connection: None,
    }
}

/// Two sources with one label would be told apart by nothing: the later ones get `#2`, ...
fn unique_labels(specs: &mut [SourceSpec]) {
    for i in 1..specs.len() {
        let base = specs[i].label.clone();
        let mut n = 1;
        while specs[..i].iter().any(|s| s.label == specs[i].label) {
            n += 1;
            specs[i].label = format!("{base}#{n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn loaded(text: &str) -> Loaded {
        Loaded {
            config: parse(text, "test").unwrap(),
            path: None,
        }
    }

    const FILE: &str = r#"
[connections.billing]
url = "postgres://a@db1/billing"
backend = "river"
[connections.web]
url = "postgres://a@db2/web"
read_only = true
label = "webapp"
[screens.oncall]
sources = ["billing", "@web", "postgres://a@db3/legacy"]
"#;

    #[test]
    fn names_screens_and_urls_become_labelled_sources() {
        let args: Vec<String> = vec!["@oncall".into()];
        let specs = resolve(&args, &loaded(FILE)).unwrap();
        let labels: Vec<&str> = specs.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["billing", "webapp", "db3/legacy"]);
        assert!(specs[1].connection.as_ref().unwrap().read_only);
        let sel = specs[0].selection(&Selection::default()).unwrap();
        assert_eq!(
            sel.backend,
            Some(crate::backend::detect::BackendKind::River)
        );
        assert_eq!(
            specs[2].selection(&Selection::default()).unwrap().backend,
            None
        );

        let args: Vec<String> = vec!["@web".into(), "@web".into()];
        let specs = resolve(&args, &loaded(FILE)).unwrap();
        assert_eq!(specs[1].label, "webapp#2");
        let err = resolve(&["@nope".to_string()], &loaded(FILE)).unwrap_err();
        assert!(err.to_string().contains("known: @billing, @web"), "{err}");
    }
}
