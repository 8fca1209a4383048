//! Behind PgBouncer, which refuses the startup parameters it does not know (`options`,
//! `extra_float_digits`), sessions still connect and still carry the monitor's settings,
//! read-only included. Needs the `pgbouncer` program; `.ci/run` installs it, and
//! `JOBTOP_REQUIRE_PGBOUNCER=1` turns its absence into a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jobtop::backend::pg::connect::{self, SessionSettings};
use nix::unistd::{User, geteuid};
use sqlx::postgres::PgConnectOptions;

use crate::common;

fn pgbouncer() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("pgbouncer"))
        .find(|p| p.is_file())
}

struct Bouncer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PgBouncer in session pooling in front of the test database's server.
fn start(program: &Path, server: &PgConnectOptions) -> Bouncer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("jobtop-pgb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let host = match server.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => server.get_host().to_string(),
    };
    // `auth_type = any` logs every client in as the server user named here.
    let ini = format!(
        "[databases]\n* = host={host} port={port} user={user}\n\
         [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n\
         auth_type = any\npool_mode = session\nlogfile = {log}\n",
        port = server.get_port(),
        user = server.get_username(),
        listen = port,
        log = dir.join("pgbouncer.log").display(),
    );
    let ini_path = dir.join("pgbouncer.ini");
    std::fs::write(&ini_path, ini).unwrap();
    let mut cmd = Command::new(program);
    cmd.arg(&ini_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // PgBouncer, like PostgreSQL, will not run as root.
    if geteuid().is_root() {
        let user = ["postgres", "nobody"]
            .iter()
            .find_map(|n| User::from_name(n).ok().flatten())
            .expect("an unprivileged user to run pgbouncer as");
        std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).unwrap();
        std::os::unix::fs::chown(&ini_path, Some(user.uid.as_raw()), None).unwrap();
        use std::os::unix::process::CommandExt;
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let child = cmd.spawn().expect("pgbouncer starts");
    let bouncer = Bouncer { child, dir, port };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pgbouncer did not listen; its log: {}",
            std::fs::read_to_string(bouncer.dir.join("pgbouncer.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    bouncer
}

#[tokio::test]
async fn behind_pgbouncer_the_settings_arrive_by_set() {
    let Some(program) = pgbouncer() else {
        assert!(
            std::env::var_os("JOBTOP_REQUIRE_PGBOUNCER").is_none(),
            "JOBTOP_REQUIRE_PGBOUNCER is set but no pgbouncer program was found"
        );
        eprintln!("SKIPPED: no pgbouncer program (install the pgbouncer package to run this)");
        return;
    };
    let db = common::test_db().await;
    let bouncer = start(&program, &db.options);
    let through = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(bouncer.port)
        .username(db.options.get_username())
        .database(&db.name);

    // The way every other session starts is refused by the pooler itself.
    let refused = connect::with_session_settings(through.clone(), &SessionSettings::default());
    let err = sqlx::ConnectOptions::connect(&refused).await.unwrap_err();
    assert!(
        err.to_string().contains("unsupported startup parameter"),
        "{err}"
    );

    let settings = SessionSettings {
        statement_timeout: Duration::from_millis(1500),
        read_only: true,
        ..SessionSettings::default()
    };
    let pool = connect::connect(through, &settings).await.unwrap();
    let got: (String, String, String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('jit'),
                current_setting('max_parallel_workers_per_gather'),
                current_setting('default_transaction_read_only')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        got,
        ("1500ms".into(), "off".into(), "0".into(), "on".into())
    );
    let write = sqlx::query("CREATE TABLE not_allowed (x int)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        write.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("25006"),
        "read-only transaction: {write}"
    );
    let slow = sqlx::query("SELECT pg_sleep(5)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        slow.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("57014"),
        "cancelled by statement_timeout: {slow}"
    );
    pool.close().await;
}
