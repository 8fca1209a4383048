//! Outages on demand: a TCP port in front of a test database that can go away (connections
//! refused, open sessions cut, as when the server is stopped or killed) and come back; and a
//! port that takes connections and never answers (a stuck pooler or load balancer).

use std::sync::{Arc, Mutex};

use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::task::JoinHandle;

/// A port forwarding to the database's server while up; refusing while down.
pub struct Outage {
    pub port: u16,
    server: PgConnectOptions,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    listener: Option<JoinHandle<()>>,
}

impl Outage {
    pub async fn new(server: &PgConnectOptions) -> Outage {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut outage = Outage {
            port,
            server: server.clone(),
            tasks: Arc::default(),
            listener: None,
        };
        outage.up().await;
        outage
    }

    /// The database's URL through this port.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            self.server.get_username(),
            self.port
        )
    }

    pub async fn up(&mut self) {
        // The port of a listener just cut may take a moment to be free again.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(err) if tries < 50 => {
                    tries += 1;
                    let _ = err;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(err) => panic!("cannot listen on {} again: {err}", self.port),
            }
        };
        let server = self.server.clone();
        let tasks = self.tasks.clone();
        self.listener = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = server.clone();
                let task = tokio::spawn(async move {
                    let _ = forward(client, &server).await;
                });
                tasks.lock().unwrap().push(task);
            }
        }));
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn down(&mut self) {
        self.cut();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// `down` from where nothing can be awaited (an action's progress callback).
    pub fn cut(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

async fn forward(mut client: TcpStream, server: &PgConnectOptions) -> std::io::Result<()> {
    match server.get_socket() {
        Some(dir) => {
            let path = dir.join(format!(".s.PGSQL.{}", server.get_port()));
            let mut upstream = UnixStream::connect(path).await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        }
        None => {
            let mut upstream = TcpStream::connect((server.get_host(), server.get_port())).await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        }
    }
    Ok(())
}

/// A port that accepts every connection and never says a word, on a thread of its own (so
/// it outlives any one test's runtime). Returns the port.
pub fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}
