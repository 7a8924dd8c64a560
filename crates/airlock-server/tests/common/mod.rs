//! A workspace with a vault, a CA, client certificates for named people bound to roles, and a
//! server on loopback in this process.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use airlock_core::keys::{SECRET_FILE, WorkspaceSecret};
use airlock_server::ca::{self, CaFiles};
use airlock_server::client::{Claim, Client, Connection};
use airlock_vault::{Actor, Vault};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// `.airlock/`
    pub ws: PathBuf,
    pub certs: PathBuf,
}

fn operator() -> Actor {
    Actor {
        name: "operator".into(),
        role: "operator".into(),
        purpose: "credentials".into(),
    }
}

impl Fixture {
    /// `people`: (name, roles) each issued a client certificate and bound as cert:NAME.
    pub fn new(people: &[(&str, &[&str])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join(".airlock");
        let secret = WorkspaceSecret::create(&ws.join(SECRET_FILE)).unwrap();
        Vault::init(&ws, secret).unwrap();
        ca::init(&ws, &["localhost".into(), "127.0.0.1".into()]).unwrap();
        let certs = dir.path().join("certs");
        let vault = Self::vault_at(&ws);
        let mut actors = String::from("\n[actors]\n");
        for (name, roles) in people {
            ca::issue(&vault, &CaFiles::of(&ws), name, 30, &certs, &operator()).unwrap();
            actors.push_str(&format!("\"cert:{name}\" = {roles:?}\n"));
        }
        let access = ws.join(airlock_vault::ACCESS_FILE);
        let mut text = std::fs::read_to_string(&access).unwrap();
        text.push_str(&actors);
        std::fs::write(&access, text).unwrap();
        Self { dir, ws, certs }
    }

    fn vault_at(ws: &Path) -> Vault {
        let secret = WorkspaceSecret::load(&ws.join(SECRET_FILE)).unwrap();
        Vault::open(ws, secret).unwrap()
    }

    /// The vault as the operator opens it (on the server's machine).
    pub fn vault(&self) -> Vault {
        Self::vault_at(&self.ws)
    }

    /// A client authenticated as `name`.
    pub fn client(&self, addr: SocketAddr, name: &str) -> Client {
        Client::new(&Connection {
            url: format!("https://{addr}"),
            ca: Some(CaFiles::of(&self.ws).ca_cert()),
            cert: Some((
                self.certs.join(format!("{name}.pem")),
                self.certs.join(format!("{name}.key")),
            )),
            bearer: None,
        })
        .unwrap()
    }
}

pub fn claim(role: &str, purpose: &str) -> Claim {
    Claim {
        role: role.into(),
        purpose: purpose.into(),
    }
}

/// A server on 127.0.0.1 (any port) in this process; stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(ws: &Path) -> Self {
        let config = airlock_server::server::ServeConfig {
            workspace: ws.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            oidc: None,
        };
        let prepared = airlock_server::server::open(&config).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(airlock_server::server::serve(
                prepared,
                config.listen,
                move |addr| ready_tx.send(addr).unwrap(),
                async {
                    let _ = stopped.await;
                },
            ))
            .unwrap();
        });
        let addr = ready_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
