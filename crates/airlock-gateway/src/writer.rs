//! One thread that writes what the gateway and `serve-model` record: audit events in batches
//! (one fsync and one signed checkpoint per batch), lines of an inference log (appended and
//! synced per batch), and records to seal into the vault's raw zone (logged prompts, a
//! patient-token link table: a dataset per thousand records or ten seconds, never written in
//! the clear outside a private temporary file that the vault encrypts and removes).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use airlock_run::Workspace;
use airlock_vault::{Actor, Event};

use crate::{Error, Result};

/// What the writer receives.
pub enum Message {
    /// An audit entry.
    Event(Event),
    /// A record to seal into the vault.
    Sealed(Value),
    /// A line of the inference log.
    Line(Value),
}

/// Records sealed together.
const SEAL_BATCH: usize = 1000;
/// Seconds a record waits at most before it is sealed.
const SEAL_SECONDS: u64 = 10;

/// The sending side (shared by every request), and whether the thread still writes.
pub struct Writer {
    tx: Mutex<mpsc::Sender<Message>>,
    alive: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The thread; [`Finish::finish`] waits for it once every [`Writer`] is gone.
pub struct Finish(JoinHandle<Result<u64>>);

impl Writer {
    /// Starts the thread on its own handle of the workspace. `seal`: who seals records, and
    /// the name their datasets begin with; `log`: the inference log to append to.
    pub fn start(
        ws: Workspace,
        seal: Option<(Actor, &'static str)>,
        log: Option<PathBuf>,
    ) -> Result<(Self, Finish)> {
        let (tx, rx) = mpsc::channel();
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = alive.clone();
        let handle = std::thread::Builder::new()
            .name("airlock-writer".into())
            .spawn(move || {
                let result = run(ws, rx, seal, log);
                // a log that cannot be written stops the service taking calls
                flag.store(false, std::sync::atomic::Ordering::SeqCst);
                result
            })
            .map_err(|e| Error::Usage(format!("cannot start the log writer: {e}")))?;
        Ok((
            Self {
                tx: Mutex::new(tx),
                alive,
            },
            Finish(handle),
        ))
    }

    /// Queues one message (never blocks on the disk).
    pub fn send(&self, m: Message) {
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(m);
        }
    }

    /// Whether the thread still writes: once it has failed (a full disk, a log it cannot
    /// lock), every call is refused, since none could be audited.
    pub fn alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Finish {
    /// Waits for the writer to drain: the audit entries written.
    pub fn finish(self) -> Result<u64> {
        self.0
            .join()
            .map_err(|_| Error::Usage("the log writer failed".into()))?
    }
}

fn run(
    ws: Workspace,
    rx: mpsc::Receiver<Message>,
    seal: Option<(Actor, &'static str)>,
    log: Option<PathBuf>,
) -> Result<u64> {
    let vault = ws.vault().ok_or(airlock_vault::VaultError::NoVault)?;
    let dir = ws
        .dir()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut log = log
        .map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map(|f| (f, path.clone()))
                .map_err(|e| Error::Io {
                    action: "open",
                    path,
                    source: e,
                })
        })
        .transpose()?;
    let mut written = 0u64;
    let mut pending: Vec<Value> = Vec::new();
    let mut since = Instant::now();
    let seal_now = |pending: &mut Vec<Value>| -> Result<()> {
        let Some((who, prefix)) = &seal else {
            pending.clear();
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let mut file = tempfile::Builder::new()
            .prefix(".airlock-seal-")
            .tempfile_in(&dir)
            .map_err(|e| Error::Io {
                action: "create a temporary file in",
                path: dir.clone(),
                source: e,
            })?;
        for p in pending.drain(..) {
            writeln!(file, "{p}").map_err(|e| Error::Io {
                action: "write",
                path: file.path().to_path_buf(),
                source: e,
            })?;
        }
        let name = format!(
            "{prefix}-{}.jsonl",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        );
        vault.put(file.path(), airlock_vault::Zone::Raw, Some(&name), who)?;
        Ok(())
    };
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(m) => Some(m),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let (mut events, mut lines) = (Vec::new(), String::new());
        let mut take = |m: Message, events: &mut Vec<Event>, lines: &mut String| match m {
            Message::Event(e) => events.push(e),
            Message::Sealed(v) => pending.push(v),
            Message::Line(v) => {
                lines.push_str(&v.to_string());
                lines.push('\n');
            }
        };
        if let Some(m) = first {
            take(m, &mut events, &mut lines);
            while events.len() < 4096 {
                match rx.try_recv() {
                    Ok(m) => take(m, &mut events, &mut lines),
                    Err(_) => break,
                }
            }
        }
        if !lines.is_empty()
            && let Some((file, path)) = &mut log
        {
            file.write_all(lines.as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(|e| Error::Io {
                    action: "append to",
                    path: path.clone(),
                    source: e,
                })?;
        }
        if !events.is_empty() {
            vault.record(&events)?;
            written += events.len() as u64;
        }
        if pending.len() >= SEAL_BATCH
            || (!pending.is_empty() && since.elapsed() > Duration::from_secs(SEAL_SECONDS))
        {
            seal_now(&mut pending)?;
            since = Instant::now();
        }
    }
    seal_now(&mut pending)?;
    Ok(written)
}
