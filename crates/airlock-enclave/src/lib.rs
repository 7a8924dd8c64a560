//! The training enclave: a user's own command (a training script, anything) on vault datasets,
//! sealed from the network and from everything but its inputs and one output folder.
//!
//! [`run`]: the datasets (deid and dev zones only, for roles and purposes access.toml allows:
//! the vault's own `get`, audited) are decrypted into a private folder under the workspace; a
//! helper process (the `airlock` binary, `enclave exec-confined`) confines itself
//! ([`sandbox::Confinement`]) and becomes the command, with a scrubbed environment that names
//! `AIRLOCK_DATA` and `AIRLOCK_OUT`; the command writes into a private staging folder. When it
//! ends, however it ends, the plaintext is deleted (and swept by the next start if the enclave
//! itself was killed; the command dies with the enclave). Then every file it wrote is scanned
//! for identifiers: findings hold the outputs (deleted, reported by place, never by value) and
//! the run exits 1; otherwise they are released into the output folder with a run record
//! (datasets, command hash, outputs' hashes, exit status) signed as an in-toto statement.
//! Every run is audited.

#![forbid(unsafe_code, unused_must_use)]

pub mod sandbox;
pub mod store;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use airlock_run::Workspace;
use airlock_vault::{Actor, VaultError, Zone};

/// Why an enclave run could not run.
#[derive(Debug, thiserror::Error)]
pub enum EnclaveError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
    #[error("cannot confine the command: {0}")]
    Confine(String),
    #[error("cannot {action} {}", airlock_core::shown::path(path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
}

impl From<airlock_run::RunError> for EnclaveError {
    fn from(e: airlock_run::RunError) -> Self {
        match e {
            airlock_run::RunError::Vault(v) => Self::Vault(v),
            airlock_run::RunError::Core(c) => Self::Core(c),
            other => Self::Refused(other.to_string()),
        }
    }
}

pub type Result<T, E = EnclaveError> = std::result::Result<T, E>;

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> EnclaveError + 'a {
    move |source| EnclaveError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Vault dataset ids, each decrypted to `AIRLOCK_DATA/<its name>`.
    pub datasets: Vec<String>,
    /// Where the outputs are released (must not exist yet).
    pub out: PathBuf,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// More read-only paths for the command (its code, its virtualenv).
    pub read: Vec<PathBuf>,
    /// Address-space limit (bytes) and CPU limit (seconds) of the command.
    pub memory: Option<u64>,
    pub cpu_seconds: Option<u64>,
    /// Wall-clock limit: the command is killed after it.
    pub timeout: Option<Duration>,
    /// The helper: the `airlock` binary, which confines itself and execs the command.
    pub helper: PathBuf,
    /// Bring up the namespace's own loopback interface and allow TCP on it.
    pub loopback: bool,
}

/// One output file.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    /// Residual identifiers the scan found in it.
    pub findings: u64,
    /// Values of the workspace's canary patients found in it (any one holds the run).
    pub canary_hits: u64,
    /// Why it holds the run when that is not what the scan found in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_because: Option<&'static str>,
}

/// Why a compressed output is held.
pub const UNSCANNABLE: &str = "compressed or an archive (gzip, zstd, bzip2, xz, zip, 7z): its content cannot be scanned; write it uncompressed (safetensors, .npy, CSV, JSON)";

/// The record of a run, written beside the released outputs and signed.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub format: &'static str,
    pub actor: String,
    pub role: String,
    pub purpose: String,
    pub datasets: Vec<InputRecord>,
    /// SHA-256 of the command line and of every file it names.
    pub command_sha256: String,
    /// The command's exit code, or the signal that ended it.
    pub exit: ExitState,
    pub outputs: Vec<Output>,
    /// The vault datasets (zone dev, encrypted) the released outputs were registered as, in
    /// the order of `outputs`.
    pub registered: Vec<String>,
    /// `released`, `held` (identifiers found), or `failed` (the command did not exit 0).
    pub outcome: &'static str,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputRecord {
    pub dataset: String,
    pub name: String,
    pub zone: String,
    pub sha256: String,
    /// SHA-256 of the de-identification manifest kept with the dataset, and of the policy it
    /// names (where the store hands the manifest over: the local vault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExitState {
    Code(i32),
    Signal(i32),
    TimedOut,
}

/// What airlock itself writes into a release.
const RESERVED: [&str; 4] = [
    "airlock-run.json",
    "airlock-run.json.intoto.json",
    "airlock-stdout.log",
    "airlock-stderr.log",
];

/// The file a dataset is given as inside `AIRLOCK_DATA`: its name where that is a plain file
/// name, else its id (with the name's extension when plain).
fn input_name(ds: &airlock_vault::Dataset) -> String {
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.len() <= 120
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if plain(&ds.name) {
        return ds.name.clone();
    }
    match Path::new(&ds.name).extension().and_then(|e| e.to_str()) {
        Some(ext) if plain(ext) => format!("{}.{ext}", ds.id),
        _ => ds.id.clone(),
    }
}

/// SHA-256 of the command line and of the content of every argument that names a file.
fn command_hash(command: &[String]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for arg in command {
        h.update((arg.len() as u64).to_be_bytes());
        h.update(arg.as_bytes());
        if let Ok((sha, _)) = airlock_core::output::digest_file(Path::new(arg)) {
            h.update(sha.as_bytes());
        }
    }
    data_encoding::HEXLOWER.encode(&h.finalize())
}

/// Runs `req` for `who` in the enclave. The report says what happened; an error means nothing
/// ran (or the outputs could not be released).
pub fn run(workspace: &Workspace, req: &RunRequest, who: &Actor) -> Result<RunRecord> {
    run_with(&store::Local(workspace), req, who)
}

/// [`run`] on any [`store::Store`]: the local workspace, or the server.
pub fn run_with(store: &dyn store::Store, req: &RunRequest, who: &Actor) -> Result<RunRecord> {
    if req.command.is_empty() {
        return Err(EnclaveError::Refused("no command to run".into()));
    }
    if req.out.exists() {
        return Err(EnclaveError::Refused(format!(
            "{} exists: the enclave releases into a new folder",
            airlock_core::shown::path(&req.out)
        )));
    }
    let read: Vec<PathBuf> = req
        .read
        .iter()
        .map(|p| sandbox::real(p))
        .collect::<Result<_>>()?;
    // the command may read these: none may hold the workspace, nor lie inside it (its secret,
    // its keyring, other runs' decrypted inputs)
    let system: Vec<PathBuf> = sandbox::SYSTEM_READ.iter().map(PathBuf::from).collect();
    let guarded = store.guarded()?;
    for p in read.iter().chain(&system) {
        if let Some(ws_dir) = &guarded
            && (ws_dir.starts_with(p) || p.starts_with(ws_dir))
        {
            return Err(EnclaveError::Refused(format!(
                "{} holds the workspace or is inside it, and the command could read it; keep code and workspace apart",
                airlock_core::shown::path(p)
            )));
        }
    }
    // the outputs are registered in the dev zone: a role that may not write there may not run
    store.check_register(who)?;
    let start = Instant::now();
    let private = store.private_dir()?;
    let _live = airlock_core::output::Registered::new(private.path());
    let data = private.path().join("data");
    let staged = private.path().join("out");
    for d in [&data, &staged] {
        std::fs::create_dir(d).map_err(io("create", d))?;
    }
    let mut inputs = Vec::new();
    let mut manifests: Vec<String> = Vec::new();
    for id in &req.datasets {
        let ds = store.dataset(id)?;
        let zone = Zone::parse(&ds.zone)?;
        if !matches!(zone, Zone::Deid | Zone::Dev) {
            store.refuse_input(id, who)?;
            return Err(EnclaveError::Refused(format!(
                "dataset {id} is in zone {zone}: the enclave takes de-identified data only (zones deid and dev)"
            )));
        }
        // two datasets of one name: the second is given by its id as well
        let mut file = data.join(input_name(&ds));
        if file.exists() {
            file = data.join(format!("{}-{}", ds.id, input_name(&ds)));
        }
        // the store's own read (role, purpose and zone checked, audited before release), and
        // the manifest beside it (no values): `airlock train` gates features by it
        let manifest = store.fetch(id, &file, who)?;
        if let Some(m) = &manifest {
            manifests.push(m.clone());
        }
        if let Some(manifest) = &manifest {
            let beside = airlock_core::manifest::Manifest::path_for(&file);
            std::fs::write(&beside, manifest).map_err(io("write", &beside))?;
        }
        let policy_sha256 = manifest
            .as_deref()
            .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
            .and_then(|m| m["policy"]["sha256"].as_str().map(str::to_owned));
        inputs.push(InputRecord {
            dataset: ds.id,
            name: ds.name,
            zone: ds.zone,
            sha256: ds.sha256,
            manifest_sha256: manifest.as_deref().map(|m| {
                use sha2::Digest;
                data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(m.as_bytes()))
            }),
            policy_sha256,
        });
    }
    let command_sha256 = command_hash(&req.command);
    // what the command prints is an output like any other (it may print data): kept beside
    // the staged outputs, scanned, released with them
    let logs = private.path().join("logs");
    std::fs::create_dir(&logs).map_err(io("create", &logs))?;
    let exit = execute(req, &data, &staged, &read, &logs)?;
    // the plaintext goes as soon as the command is done
    std::fs::remove_dir_all(&data).map_err(io("delete", &data))?;
    // the helper's own failure (it could not confine or start the command) is airlock's
    // message, not the command's output: say it
    if exit == ExitState::Code(126) {
        let err = std::fs::read_to_string(logs.join("stderr")).unwrap_or_default();
        let first = err.lines().next().unwrap_or("");
        if let Some(why) = first
            .strip_prefix("error: ")
            .filter(|w| w.starts_with("cannot confine the command") || w.starts_with("cannot run "))
        {
            store.record_run(
                who,
                inputs.first().map(|d| d.dataset.as_str()),
                None,
                "failed",
            )?;
            return Err(EnclaveError::Refused(airlock_core::shown::escape_message(
                why, 500,
            )));
        }
    }

    // values the inputs' policies vouched for (a model lists its categories) are no findings
    let engine = airlock_text::TextEngine::without_key();
    let scanner = airlock_text::scan::Vouched {
        inner: &engine,
        digests: airlock_text::scan::Vouched::digests_of(manifests.iter().map(String::as_str)),
    };
    let canaries = store.canaries()?;
    let mut skipped = Vec::new();
    // names airlock writes into a release: a command that wrote one is held (it could pass
    // its own record off as airlock's)
    for reserved in RESERVED {
        let p = staged.join(reserved);
        if std::fs::symlink_metadata(&p).is_ok() {
            skipped.push((p, "a name airlock reserves for its own record"));
        }
    }
    // the command's printed output joins its files
    for (log, name) in [
        ("stdout", "airlock-stdout.log"),
        ("stderr", "airlock-stderr.log"),
    ] {
        let from = logs.join(log);
        if std::fs::metadata(&from).is_ok_and(|m| m.len() > 0) {
            let to = staged.join(name);
            std::fs::rename(&from, &to).map_err(io("write", &to))?;
        }
    }
    let files =
        airlock_core::walk::collect_files(std::slice::from_ref(&staged), &[], &mut skipped)?;
    let mut outputs = Vec::new();
    for f in &files {
        use airlock_core::text::TextScrubber;
        let (sha256, bytes) = airlock_core::output::digest_file(f)?;
        // a compressed file or an archive cannot be scanned and is held
        let mut held_because = None;
        let mut findings = match airlock_text::scan::scan_output(f, &scanner)
            .map_err(|e| EnclaveError::Refused(e.to_string()))?
        {
            airlock_text::scan::OutputScan::Findings(n) => n,
            airlock_text::scan::OutputScan::Unscannable => {
                held_because = Some(UNSCANNABLE);
                1
            }
        };
        // a file's name is the command's too: one that holds an identifier is not shown
        let name = f
            .strip_prefix(&staged)
            .unwrap_or(f)
            .to_string_lossy()
            .into_owned();
        let mut in_name = 0;
        scanner.scan_name(&name, &mut |_| in_name += 1);
        findings += in_name;
        let canary_hits = match &canaries {
            Some(c) => airlock_run::vault::canary_hits(c, f)?,
            None => 0,
        };
        outputs.push(Output {
            path: if in_name > 0 {
                format!(
                    "[file {} of the outputs: its name holds identifiers]",
                    outputs.len() + 1
                )
            } else {
                name
            },
            sha256,
            bytes,
            findings,
            canary_hits,
            held_because,
        });
    }
    let held = outputs.iter().any(|o| o.findings + o.canary_hits > 0) || !skipped.is_empty();
    let outcome = if held {
        "held"
    } else if exit != ExitState::Code(0) {
        "failed"
    } else {
        "released"
    };
    // released outputs are registered in the vault (dev zone, encrypted), linked to the run
    let mut registered = Vec::new();
    if outcome == "released" {
        let label = format!("enclave-{}", &command_sha256[..12]);
        let source = inputs
            .first()
            .map(|d| d.dataset.clone())
            .unwrap_or_default();
        let summary = serde_json::json!({
            "enclave_run": {
                "datasets": inputs.iter().map(|d| &d.dataset).collect::<Vec<_>>(),
                "command_sha256": command_sha256,
                "actor": who.name,
            }
        })
        .to_string();
        for o in &outputs {
            registered.push(store.register(
                &staged.join(&o.path),
                &format!("{label}/{}", o.path),
                &source,
                &summary,
                who,
            )?);
        }
    }
    let record = RunRecord {
        format: "airlock-enclave-run/1",
        actor: who.name.clone(),
        role: who.role.clone(),
        purpose: who.purpose.clone(),
        datasets: inputs,
        command_sha256,
        exit,
        outputs,
        registered,
        outcome,
        seconds: start.elapsed().as_secs_f64(),
    };
    let text =
        serde_json::to_string_pretty(&record).map_err(|e| EnclaveError::Refused(e.to_string()))?;
    let record_sha = {
        use sha2::Digest;
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(text.as_bytes()))
    };
    if outcome == "released" {
        release(store, &staged, &req.out, &text, &record)?;
    }
    store.record_run(
        who,
        record.datasets.first().map(|d| d.dataset.as_str()),
        Some(&record_sha),
        outcome,
    )?;
    Ok(record)
}

/// Runs the helper, which confines itself and execs the command; waits, with the timeout.
fn execute(
    req: &RunRequest,
    data: &Path,
    out: &Path,
    read: &[PathBuf],
    logs: &Path,
) -> Result<ExitState> {
    let log = |name: &str| -> Result<std::fs::File> {
        let p = logs.join(name);
        std::fs::File::create(&p).map_err(io("create", &p))
    };
    let mut cmd = std::process::Command::new(&req.helper);
    cmd.args(["enclave", "exec-confined", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .arg("--parent")
        .arg(std::process::id().to_string());
    for r in read {
        cmd.arg("--read").arg(r);
    }
    if let Some(m) = req.memory {
        cmd.arg("--memory").arg(m.to_string());
    }
    if let Some(c) = req.cpu_seconds {
        cmd.arg("--cpu-seconds").arg(c.to_string());
    }
    if req.loopback {
        cmd.arg("--loopback");
    }
    cmd.arg("--").args(&req.command);
    // a scrubbed environment: no keys, tokens or paths of the caller's
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("HOME", out)
        .env("TMPDIR", out)
        .env("AIRLOCK_DATA", data)
        .env("AIRLOCK_OUT", out)
        .current_dir(out)
        .stdin(std::process::Stdio::null())
        .stdout(log("stdout")?)
        .stderr(log("stderr")?);
    let mut child = cmd.spawn().map_err(io("run", &req.helper))?;
    let deadline = req.timeout.map(|t| Instant::now() + t);
    loop {
        if let Some(status) = child.try_wait().map_err(io("wait for", &req.helper))? {
            use std::os::unix::process::ExitStatusExt;
            return Ok(match (status.code(), status.signal()) {
                (Some(c), _) => ExitState::Code(c),
                (None, Some(s)) => ExitState::Signal(s),
                (None, None) => ExitState::Code(-1),
            });
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(ExitState::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Moves the outputs into `out` (atomically, as one folder), with the run record and its
/// signed statement (`airlock-run.json`, `airlock-run.json.intoto.json`).
fn release(
    store: &dyn store::Store,
    staged: &Path,
    out: &Path,
    text: &str,
    record: &RunRecord,
) -> Result<()> {
    let run_file = staged.join("airlock-run.json");
    std::fs::write(&run_file, text).map_err(io("write", &run_file))?;
    let (run_sha, _) = airlock_core::output::digest_file(&run_file)?;
    let mut subjects = vec![serde_json::json!({
        "name": "airlock-run.json",
        "digest": { "sha256": run_sha },
    })];
    subjects.extend(
        record
            .outputs
            .iter()
            .map(|o| serde_json::json!({ "name": o.path, "digest": { "sha256": o.sha256 } })),
    );
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": "https://airlock.invalid/enclave-run/v1",
        "predicate": {
            "materials": record.datasets.iter().map(|d| serde_json::json!({
                "name": d.dataset, "digest": { "sha256": d.sha256 }, "zone": d.zone,
                "manifest_sha256": d.manifest_sha256, "policy_sha256": d.policy_sha256,
            })).collect::<Vec<_>>(),
            "command_sha256": record.command_sha256,
            "exit": record.exit,
            "tool": format!("airlock {}", env!("CARGO_PKG_VERSION")),
        },
    });
    store.sign(&run_file, &statement)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    // the private folder is on the workspace's file system: a rename, or a copy elsewhere
    if std::fs::rename(staged, out).is_err() {
        copy_tree(staged, out)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io("create", to))?;
    for entry in std::fs::read_dir(from).map_err(io("read", from))? {
        let entry = entry.map_err(io("read", from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io("write", &dst))?;
        }
    }
    Ok(())
}
