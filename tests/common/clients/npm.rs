//! The npm clients: pg-boss (12, and 11 and 10 under the aliases `pgboss11` and `pgboss10`,
//! for schemas beside it) and graphile-worker, installed once into a cache directory with npm and run
//! with Node.js 22 or later (pg-boss 11+ and graphile-worker 0.18 need it).
//!
//! Node is `$JOBTOP_NODE`, else the one `.ci/run` installs from the npm registry's `node`
//! package (`~/.cache/jobtop-ci/node22`), else `node` on PATH; npm is `npm` on PATH. The
//! packages go to `$JOBTOP_NPM_DIR`, else `~/.cache/jobtop-ci/npm-clients`, and are
//! installed again only when the versions below change. Without them the tests skip,
//! unless `JOBTOP_REQUIRE_NPM=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The versions the tests were written against; `.ci/run` needs nothing else.
pub const PACKAGES: [&str; 4] = [
    "pg-boss@12.38.1",
    "pgboss11@npm:pg-boss@11.1.2",
    "pgboss10@npm:pg-boss@10.4.2",
    "graphile-worker@0.18.0",
];

/// Node.js major the clients need.
const NODE_MAJOR: u32 = 22;

/// The installed clients: where they are and the node that runs them.
pub struct Npm {
    node: PathBuf,
    dir: PathBuf,
}

/// The clients, installed on first use; `None` (after `SKIPPED`) where node or npm is
/// missing, unless `JOBTOP_REQUIRE_NPM=1`.
pub fn clients() -> Option<&'static Npm> {
    static FOUND: OnceLock<Result<Npm, String>> = OnceLock::new();
    match FOUND.get_or_init(install) {
        Ok(npm) => Some(npm),
        Err(why) => super::missing(
            "JOBTOP_REQUIRE_NPM",
            "the npm clients (pg-boss, graphile-worker)",
            why,
            "install Node.js 22+ and npm (.ci/run does: npm install --prefix \
             ~/.cache/jobtop-ci/node22 node@22)",
        ),
    }
}

impl Npm {
    /// `node tests/clients/<name>.mjs`, run from the install directory so that its imports
    /// resolve to the installed packages; DATABASE_URL is the test's database.
    pub fn script(&self, name: &str, database_url: &str) -> Command {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients")
            .join(format!("{name}.mjs"));
        // Copied beside node_modules: node resolves a module's imports from where the file
        // really is.
        let copy = self.dir.join(format!("{name}.mjs"));
        std::fs::copy(&source, &copy).unwrap_or_else(|e| {
            panic!(
                "cannot copy {} to {}: {e}",
                source.display(),
                copy.display()
            )
        });
        let mut command = Command::new(&self.node);
        command
            .arg(&copy)
            .current_dir(&self.dir)
            .env("DATABASE_URL", database_url);
        command
    }
}

fn install() -> Result<Npm, String> {
    let node = find_node()?;
    let dir = std::env::var_os("JOBTOP_NPM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("npm-clients"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let marker = dir.join(".jobtop-packages");
    let wanted = PACKAGES.join("\n");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        // npm runs under the node found, so that a node-version check sees the one the
        // scripts run on.
        let bin = node.parent().map(Path::to_path_buf).unwrap_or_default();
        let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .map_err(|e| e.to_string())?;
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .args(PACKAGES)
            .env("PATH", path)
            .output()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm install {} failed: {}",
                PACKAGES.join(" "),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        std::fs::write(&marker, wanted).map_err(|e| e.to_string())?;
    }
    Ok(Npm { node, dir })
}

fn cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("jobtop-ci")
}

/// The first node of version 22 or later among `$JOBTOP_NODE`, the npm `node` package
/// `.ci/run` installs, and PATH's.
fn find_node() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = std::env::var_os("JOBTOP_NODE")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            cache().join("node22/node_modules/node/bin/node"),
            PathBuf::from("node"),
        ])
        .collect();
    let mut seen = Vec::new();
    for node in candidates {
        let Ok(out) = Command::new(&node).arg("--version").output() else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let major = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if major.is_some_and(|m| m >= NODE_MAJOR) {
            return Ok(node);
        }
        seen.push(format!("{} is {version}", node.display()));
    }
    Err(if seen.is_empty() {
        "no node found".to_string()
    } else {
        format!("no node {NODE_MAJOR}+ ({})", seen.join(", "))
    })
}
