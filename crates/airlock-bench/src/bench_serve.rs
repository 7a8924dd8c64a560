//! `airlock-bench --suite serve`: the load test in full. `airlock serve` (the binary, on
//! 127.0.0.1) and 32 concurrent clients, two authenticated identities (client certificates),
//! doing put / get / ls / promote for `--rows` seconds (default 60); the baseline, in the same
//! run, is the same operations by 32 threads on the vault in local mode (each with the
//! workspace secret and its own `Vault`, as 32 local users would). Reports operations per
//! second and latency percentiles, checks that every acknowledged put is in the catalog, that
//! every operation is in the audit log, and that the log verifies against the tree heads taken
//! before and after.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use airlock_core::keys::WorkspaceSecret;
use airlock_server::client::{Claim, Client, Connection};
use airlock_vault::{Actor, Vault, Zone};

use crate::report;
use crate::{BenchArgs, ExitStatus};

const CLIENTS: usize = 32;

/// Latencies (seconds) of one kind of operation.
#[derive(Default)]
struct Timings(Vec<f64>);

impl Timings {
    fn pct(&mut self, p: f64) -> f64 {
        self.0.sort_by(f64::total_cmp);
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0.get(i).copied().unwrap_or(0.0)
    }
}

/// One client's (or local user's) operations: put, get, and every fourth round ls and a
/// promote into deid (refused: raw data enters deid only through a deid run).
trait Ops {
    fn put(&self, file: &Path) -> anyhow::Result<String>;
    fn get(&self, id: &str, out: &Path) -> anyhow::Result<()>;
    fn ls(&self) -> anyhow::Result<()>;
    /// Ok when refused as expected.
    fn promote_refused(&self, id: &str) -> anyhow::Result<()>;
}

struct Remote(Client);

fn claim() -> Claim {
    Claim {
        role: "steward".into(),
        purpose: "benchmark".into(),
    }
}

impl Ops for Remote {
    fn put(&self, file: &Path) -> anyhow::Result<String> {
        Ok(self.0.put(file, "raw", "data.csv", &claim())?.id)
    }
    fn get(&self, id: &str, out: &Path) -> anyhow::Result<()> {
        self.0.get(id, out, true, &claim())?;
        Ok(())
    }
    fn ls(&self) -> anyhow::Result<()> {
        self.0.list()?;
        Ok(())
    }
    fn promote_refused(&self, id: &str) -> anyhow::Result<()> {
        match self.0.promote(id, "deid", &claim()) {
            Err(airlock_server::Error::Server { status: 409, .. }) => Ok(()),
            other => anyhow::bail!("promote into deid was not refused: {other:?}"),
        }
    }
}

struct Local(Vault, Actor);

impl Ops for Local {
    fn put(&self, file: &Path) -> anyhow::Result<String> {
        Ok(self.0.put(file, Zone::Raw, Some("data.csv"), &self.1)?.id)
    }
    fn get(&self, id: &str, out: &Path) -> anyhow::Result<()> {
        self.0.get(id, out, true, &self.1)?;
        Ok(())
    }
    fn ls(&self) -> anyhow::Result<()> {
        self.0.list(&self.1)?;
        Ok(())
    }
    fn promote_refused(&self, id: &str) -> anyhow::Result<()> {
        let scan = |_: &Path| Ok(0);
        match self.0.promote(id, Zone::Deid, &self.1, &scan) {
            Err(airlock_vault::VaultError::Gate { .. }) => Ok(()),
            other => anyhow::bail!("promote into deid was not refused: {other:?}"),
        }
    }
}

#[derive(Default)]
struct Run {
    seconds: f64,
    ops: u64,
    put: Timings,
    get: Timings,
}

/// Drives `ops` (one per thread) for `secs`.
fn drive(ops: Vec<Box<dyn Ops + Send>>, scratch: &Path, secs: u64) -> anyhow::Result<Run> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let run = Arc::new(Mutex::new(Run::default()));
    let start = Instant::now();
    let threads: Vec<_> = ops
        .into_iter()
        .enumerate()
        .map(|(t, ops)| {
            let run = run.clone();
            let dir = scratch.join(format!("client-{t}"));
            std::thread::spawn(move || -> anyhow::Result<()> {
                std::fs::create_dir_all(&dir)?;
                let (file, back) = (dir.join("data.csv"), dir.join("back.csv"));
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    std::fs::write(&file, format!("id,value\n{t},{i}\n"))?;
                    let t0 = Instant::now();
                    let id = ops.put(&file)?;
                    let t1 = Instant::now();
                    ops.get(&id, &back)?;
                    let t2 = Instant::now();
                    let mut n = 2;
                    if i.is_multiple_of(4) {
                        ops.ls()?;
                        ops.promote_refused(&id)?;
                        n += 2;
                    }
                    let mut r = run.lock().map_err(|_| anyhow::anyhow!("lock"))?;
                    r.put.0.push((t1 - t0).as_secs_f64());
                    r.get.0.push((t2 - t1).as_secs_f64());
                    r.ops += n;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    let mut run = Arc::try_unwrap(run)
        .map_err(|_| anyhow::anyhow!("threads still hold the results"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("lock"))?;
    run.seconds = start.elapsed().as_secs_f64();
    Ok(run)
}

fn airlock(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new(crate::airlock_exe()?)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "airlock {args:?} failed");
    Ok(())
}

/// Checks the log against the heads and that every acknowledged put is cataloged; returns the
/// log's entries.
fn check(ws: &Path, first: &airlock_vault::audit::TreeHead, puts: usize) -> anyhow::Result<u64> {
    let vault = Vault::open(ws, WorkspaceSecret::load(&ws.join("secret"))?)?;
    let v = vault.verify_audit()?;
    let last = v.head.clone().context("no tree head")?;
    let (log, pk) = (vault.audit().path(), vault.audit().public_key());
    airlock_vault::audit::verify_from(log, &pk, first)?;
    airlock_vault::audit::verify_from(log, &pk, &last)?;
    let who = Actor {
        name: "bench".into(),
        role: "steward".into(),
        purpose: "benchmark".into(),
    };
    let cataloged = vault.list(&who)?.len();
    anyhow::ensure!(
        cataloged >= puts,
        "{cataloged} datasets cataloged, {puts} puts acknowledged"
    );
    Ok(v.entries)
}

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir: PathBuf = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let secs = if args.rows == 1_000_000 {
        60
    } else {
        args.rows.max(1)
    };

    // the server's workspace: a CA, two people bound to steward
    airlock(&dir, &["init", "--dir", "."])?;
    airlock(&dir, &["ca", "init"])?;
    for who in ["alice", "bob"] {
        airlock(&dir, &["ca", "issue", who, "--out", "certs"])?;
    }
    let ws = dir.join(".airlock");
    let access = ws.join("access.toml");
    let mut text = std::fs::read_to_string(&access)?;
    text.push_str("\n[actors]\n\"cert:alice\" = [\"steward\"]\n\"cert:bob\" = [\"steward\"]\nbench = [\"steward\"]\n");
    std::fs::write(&access, text)?;
    let open = || -> anyhow::Result<Vault> {
        Ok(Vault::open(
            &ws,
            WorkspaceSecret::load(&ws.join("secret"))?,
        )?)
    };
    let first = open()?.verify_audit()?.head.context("no tree head")?;

    let ready = dir.join("ready");
    let mut server = std::process::Command::new(crate::airlock_exe()?)
        .args([
            "serve",
            "--workspace",
            ".",
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
        ])
        .arg(&ready)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while !ready.exists() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = std::fs::read_to_string(&ready)?;
    let clients: Vec<Box<dyn Ops + Send>> = (0..CLIENTS)
        .map(|t| {
            let who = if t % 2 == 0 { "alice" } else { "bob" };
            Ok(Box::new(Remote(Client::new(&Connection {
                url: url.clone(),
                ca: Some(ws.join("ca/ca.pem")),
                cert: Some((
                    dir.join(format!("certs/{who}.pem")),
                    dir.join(format!("certs/{who}.key")),
                )),
                bearer: None,
            })?)) as Box<dyn Ops + Send>)
        })
        .collect::<anyhow::Result<_>>()?;
    let served = drive(clients, &dir.join("served"), secs);
    let _ = server.kill();
    let _ = server.wait();
    let mut served = served?;
    let served_entries = check(&ws, &first, served.put.0.len())?;

    // the baseline: the same operations, 32 local users of the same workspace
    let first = open()?.verify_audit()?.head.context("no tree head")?;
    let locals: Vec<Box<dyn Ops + Send>> = (0..CLIENTS)
        .map(|_| {
            Ok(Box::new(Local(
                open()?,
                Actor {
                    name: "bench".into(),
                    role: "steward".into(),
                    purpose: "benchmark".into(),
                },
            )) as Box<dyn Ops + Send>)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut local = drive(locals, &dir.join("local"), secs)?;
    check(&ws, &first, local.put.0.len())?;

    let rate = |r: &Run| r.ops as f64 / r.seconds.max(1e-9);
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "clients": CLIENTS,
            "seconds": secs,
            "server_ops": served.ops,
            "server_ops_per_s": rate(&served),
            "server_put_p50_ms": served.put.pct(0.5) * 1e3,
            "server_put_p99_ms": served.put.pct(0.99) * 1e3,
            "server_get_p50_ms": served.get.pct(0.5) * 1e3,
            "server_get_p99_ms": served.get.pct(0.99) * 1e3,
            "local_ops_per_s": rate(&local),
            "audit_entries": served_entries,
        }));
        return Ok(ExitStatus::Success);
    }
    report::out(&format!(
        "bench serve: {CLIENTS} concurrent clients for {secs} s each way, put/get/ls/promote of small CSVs\n\n  \
         through airlock serve (mTLS)   {:>8.0} ops/s  put p50 {:.1} ms p99 {:.1} ms, get p50 {:.1} ms p99 {:.1} ms\n  \
         local mode (32 vault users)    {:>8.0} ops/s  put p50 {:.1} ms p99 {:.1} ms  ({:.2}x the server's rate)\n\n\
         every acknowledged put is cataloged; the log ({} entries after the served run) verifies against the heads before and after\n",
        rate(&served),
        served.put.pct(0.5) * 1e3,
        served.put.pct(0.99) * 1e3,
        served.get.pct(0.5) * 1e3,
        served.get.pct(0.99) * 1e3,
        rate(&local),
        local.put.pct(0.5) * 1e3,
        local.put.pct(0.99) * 1e3,
        rate(&local) / rate(&served).max(1e-9),
        served_entries,
    ));
    Ok(ExitStatus::Success)
}
