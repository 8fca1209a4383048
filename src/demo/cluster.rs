//! A throwaway PostgreSQL cluster: initdb into a fresh temporary folder, reachable only
//! through a unix socket in that folder, trust auth, superuser `jobtop`.
//!
//! It must never outlive its process. `Drop` stops it and removes the folder; a watchdog
//! shell started alongside does the same when the process ends without dropping it (Ctrl-C,
//! SIGKILL, panic=abort, a test harness that never drops its statics).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User, geteuid};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// The superuser every throwaway cluster is created with.
/// Not `jobtop`: a role named like the reference schema would put every unqualified
/// CREATE TABLE into that schema (`search_path` starts with `"$user"`).
pub const SUPERUSER: &str = "postgres";

/// Only names the socket file: the socket directory is private to the cluster, so every
/// cluster can use the default port without colliding.
const PORT: u16 = 5432;

/// Settings that make a scratch server fast and quiet. Durability is worthless here: the
/// data dies with the process anyway.
const SERVER_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "''"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("wal_level", "minimal"),
    ("max_wal_senders", "0"),
    ("max_wal_size", "256MB"),
    ("shared_buffers", "32MB"),
    // Tests run in parallel, each with its own pool.
    ("max_connections", "200"),
    ("max_parallel_workers_per_gather", "0"),
    ("jit", "off"),
    ("log_min_messages", "warning"),
    ("log_checkpoints", "off"),
];

/// A running throwaway cluster. Dropping it stops the server and removes its folder.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bindir: PathBuf,
    version: String,
    postmaster: Option<Pid>,
    watchdog: Option<Child>,
}

impl Cluster {
    /// Creates and starts a cluster owned by this process. Blocking: ~1-2 s, most of it initdb.
    pub fn start() -> Result<Cluster> {
        Cluster::start_owned_by(std::process::id())
    }

    /// Like [`Cluster::start`], but the watchdog removes the cluster when process `owner`
    /// ends rather than this one. Exists so that tests can watch the watchdog work.
    pub fn start_owned_by(owner: u32) -> Result<Cluster> {
        Cluster::start_with(owner, &[])
    }

    /// A cluster with settings of its own on top of the usual ones (`shared_preload_libraries`
    /// for pg_cron, say): the demo's and the tests' opt-in for an extension that must be
    /// loaded at server start.
    pub fn start_with(owner: u32, extra: &[(&str, String)]) -> Result<Cluster> {
        let bindir = find_server_binaries()?;
        let run_as = unprivileged_user()?;
        let dir = make_private_dir(run_as.as_ref())?;
        let mut cluster = Cluster {
            dir,
            version: String::new(),
            bindir,
            postmaster: None,
            watchdog: None,
        };
        // From here on the folder exists: guard it before anything can fail.
        cluster.watchdog = Some(spawn_watchdog(owner, &cluster.dir)?);
        cluster.version = server_version(&cluster.bindir);
        cluster.init(run_as.as_ref(), extra)?;
        cluster.launch(run_as.as_ref())?;
        Ok(cluster)
    }

    /// The folder holding the data directory, the socket and the server log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory the unix socket lives in.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// `PostgreSQL 15.8`, as the server reports it.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        // Without ~/.pgpass and with TLS off: the socket is private and auth is trust, so the
        // user's own settings for other servers must not leak in.
        PgConnectOptions::new_without_pgpass()
            .socket(&self.dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
            .ssl_mode(PgSslMode::Disable)
    }

    /// A URL that `jobtop`, `psql` and sqlx all understand.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/{}?host={}&sslmode=disable",
            percent_encode(database),
            percent_encode(&self.dir.to_string_lossy())
        )
    }

    /// The shortest URL of a database here that `jobtop` and `psql` take (no host: the
    /// socket's folder says where), for a person to copy from the screen.
    pub fn short_url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@/{}?host={}",
            percent_encode(database),
            percent_encode(&self.dir.to_string_lossy())
        )
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn command(&self, program: &str, run_as: Option<&User>) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        // The unprivileged user may not be able to enter our working directory.
        cmd.current_dir(&self.dir)
            .env_remove("PGDATA")
            .stdin(Stdio::null());
        if let Some(user) = run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    fn init(&self, run_as: Option<&User>, extra: &[(&str, String)]) -> Result<()> {
        let output = self
            .command("initdb", run_as)
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ])
            .output()
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .context("cannot open postgresql.conf")?;
        writeln!(conf, "\n# jobtop throwaway cluster")?;
        writeln!(
            conf,
            "unix_socket_directories = '{}'",
            self.dir.display().to_string().replace('\'', "''")
        )?;
        writeln!(conf, "port = {PORT}")?;
        for (name, value) in SERVER_SETTINGS {
            writeln!(conf, "{name} = {value}")?;
        }
        for (name, value) in extra {
            writeln!(conf, "{name} = '{}'", value.replace('\'', "''"))?;
        }
        Ok(())
    }

    fn launch(&mut self, run_as: Option<&User>) -> Result<()> {
        let output = self
            .command("pg_ctl", run_as)
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-s", "start"])
            .output()
            .context("cannot run pg_ctl")?;
        if !output.status.success() {
            let log = fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            bail!(
                "the throwaway PostgreSQL server did not start ({}): {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        self.postmaster = Some(postmaster_pid(&self.data_dir())?);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The watchdog stays until the folder is gone: a signal that ends us half-way
        // through (the terminal closed during shutdown) leaves it to finish the job. It
        // cannot race us: it acts only once we are gone or the folder is.
        if let Some(pid) = self.postmaster.take() {
            // SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint, nothing to keep.
            if kill(pid, Signal::SIGQUIT).is_ok() {
                let deadline = Instant::now() + Duration::from_secs(10);
                while is_running(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Whether the server binaries jobtop would start have extension `name` installed (its
/// control file in `pg_config --sharedir`): pg_cron must be there before a cluster can
/// preload it.
pub fn extension_installed(name: &str) -> bool {
    let Ok(bindir) = find_server_binaries() else {
        return false;
    };
    // PATH may hold links to the binaries: their pg_config is beside the real ones.
    let bindir = fs::canonicalize(bindir.join("postgres"))
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or(bindir);
    let Ok(out) = Command::new(bindir.join("pg_config"))
        .arg("--sharedir")
        .output()
    else {
        return false;
    };
    let sharedir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    out.status.success()
        && Path::new(&sharedir)
            .join("extension")
            .join(format!("{name}.control"))
            .exists()
}

/// Where `initdb`, `pg_ctl` and `postgres` live: `JOBTOP_PG_BINDIR`, then PATH, then
/// `pg_config --bindir`, then the well-known install locations, newest version first.
pub fn find_server_binaries() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("JOBTOP_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
        bail!(
            "JOBTOP_PG_BINDIR={} does not hold initdb, pg_ctl and postgres",
            dir.display()
        );
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_server_binaries(dir))
    {
        return Ok(dir);
    }
    if let Ok(output) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server_binaries(&dir) {
            return Ok(dir);
        }
    }
    // Debian/Ubuntu, the PGDG RPMs, Homebrew (keg-only, so not on PATH).
    let layouts: [(&str, &str, &str); 4] = [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
    ];
    for (parent, prefix, sub) in layouts {
        if let Some(dir) = newest_versioned_dir(Path::new(parent), prefix, sub) {
            return Ok(dir);
        }
    }
    Err(anyhow!(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on PATH, via \
         `pg_config --bindir`, or under /usr/lib/postgresql/*/bin.\n\
         Install PostgreSQL, for example:\n  \
         Debian/Ubuntu:  sudo apt-get install postgresql\n  \
         macOS:          brew install postgresql@16\n  \
         Fedora/RHEL:    sudo dnf install postgresql-server\n\
         or set JOBTOP_PG_BINDIR to the folder holding initdb, \
         or point jobtop at an existing database with a URL."
    ))
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"].iter().all(|name| {
        fs::metadata(dir.join(name))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// `parent/<prefix><version>/<sub>` with the highest version holding the server binaries.
fn newest_versioned_dir(parent: &Path, prefix: &str, sub: &str) -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(parent)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let version = parse_version(name.strip_prefix(prefix)?)?;
            let dir = entry.path().join(sub);
            has_server_binaries(&dir).then_some((version, dir))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, dir)| dir)
}

/// "16" → [16], "9.6" → [9, 6]; anything else is not a version folder.
fn parse_version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

fn server_version(bindir: &Path) -> String {
    Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .map(|v| v.replace("postgres (PostgreSQL)", "PostgreSQL"))
        .unwrap_or_default()
}

/// PostgreSQL refuses to run as root; then we run it as `postgres`, or `nobody`.
fn unprivileged_user() -> Result<Option<User>> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(user));
        }
    }
    bail!(
        "running as root, and PostgreSQL refuses to run as root: create a `postgres` user \
         or run jobtop as an ordinary user"
    )
}

fn make_private_dir(owner: Option<&User>) -> Result<PathBuf> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "jobtop-pg-{}-{}-{:08x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        nanos
    ));
    // The socket path must fit in sockaddr_un (107 bytes on Linux, 103 on macOS).
    let socket_len = dir.join(format!(".s.PGSQL.{PORT}")).as_os_str().len();
    if socket_len > 100 {
        bail!(
            "the temporary folder {} is too deep for a unix socket path; set TMPDIR to a \
             shorter folder such as /tmp",
            base.display()
        );
    }
    fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    if let Some(user) = owner {
        std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .with_context(|| format!("cannot hand {} to user {}", dir.display(), user.name))?;
    }
    Ok(dir)
}

/// Whether `pid` still runs: a server that exited but that its parent (often init, after
/// pg_ctl left) has not reaped yet is done, not running.
fn is_running(pid: Pid) -> bool {
    if kill(pid, None).is_err() {
        return false;
    }
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    !status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains('Z'))
}

fn postmaster_pid(data_dir: &Path) -> Result<Pid> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid"))
        .context("the server started but left no postmaster.pid")?;
    let pid: i32 = text
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .context("unreadable postmaster.pid")?;
    Ok(Pid::from_raw(pid))
}

/// Waits while `owner` lives and the folder exists; then stops the server (immediate
/// shutdown) and removes the folder. It runs as our own user, in its own process group and
/// deaf to SIGINT/SIGHUP, so a Ctrl-C aimed at us or a closed terminal does not take it down.
/// An owner that died but was never reaped (its parent, a closed terminal's shell, gone too,
/// and no init that reaps) still answers `kill -0`: a zombie counts as gone.
const WATCHDOG: &str = r#"
trap '' INT HUP QUIT TSTP
owner=$1
dir=$2
alive() {
    kill -0 "$owner" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$owner/status" 2>/dev/null
}
while alive && [ -d "$dir" ]; do sleep 1; done
pidfile="$dir/data/postmaster.pid"
if [ -f "$pidfile" ]; then
    pm=$(head -n 1 "$pidfile")
    kill -QUIT "$pm" 2>/dev/null
    i=0
    while kill -0 "$pm" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$dir"
"#;

fn spawn_watchdog(owner: u32, dir: &Path) -> Result<Child> {
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("jobtop-pg-watchdog")
        .arg(owner.to_string())
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(child) => Ok(child),
        Err(err) => {
            let _ = fs::remove_dir_all(dir);
            Err(err).context("cannot start the cluster's watchdog (/bin/sh)")
        }
    }
}

/// Percent-encodes everything but unreserved characters and `/`, for URL parts.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert_eq!(parse_version("16"), Some(vec![16]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("common"), None);
        assert!(parse_version("10").unwrap() > parse_version("9.6").unwrap());
    }

    #[test]
    fn url_encodes_odd_socket_paths() {
        assert_eq!(percent_encode("/tmp/a b&c"), "/tmp/a%20b%26c");
    }
}
