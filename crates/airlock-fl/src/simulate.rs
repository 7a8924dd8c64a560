//! `airlock fl simulate`: a whole federation on one machine, for trying it out and for tests.
//! The table is split by a column into site slices (and a held-out fifth of its rows, which
//! no site holds, to score the model); a federation CA is made with a certificate per site;
//! each site gets its own workspace with its slice in its own vault; then the coordinator and
//! one process per site run on loopback, the real commands (`airlock fl coordinator`,
//! `airlock fl site`) over mutual TLS. `kill_site` kills one site with SIGKILL in the middle
//! round, after it trained and before its input went out (it holds there until killed, so
//! the kill always lands at that point).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use airlock_train::data::Table;
use airlock_train::model::ModelKind;
use airlock_vault::{Actor, Vault, Zone};

use crate::coordinator::FederatedModel;
use crate::spec::{DpSpec, Spec, SpecInput};
use crate::wire::RoundRecord;
use crate::{FlError, Result};

/// What `airlock fl simulate` was asked.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// The `airlock` binary the processes run.
    pub exe: PathBuf,
    pub data: PathBuf,
    pub target: String,
    pub positive: Option<String>,
    pub features: Vec<String>,
    pub model: ModelKind,
    pub split_by: String,
    pub sites: usize,
    pub rounds: u32,
    pub secure_agg: bool,
    pub epsilon: Option<f64>,
    pub delta: f64,
    /// Site number (1-based) to kill in the middle round.
    pub kill_site: Option<usize>,
    /// Where the federation's files are kept (CA, workspaces, logs, models); a temporary
    /// folder, removed at the end, when none.
    pub dir: Option<PathBuf>,
    pub local_epochs: f64,
    pub learning_rate: f64,
    /// Each site's update norm bound.
    pub clip: f64,
}

/// One round as the simulation saw it.
#[derive(Debug, Clone, Serialize)]
pub struct SimRound {
    pub round: u64,
    pub outcome: String,
    pub sites: Vec<String>,
    pub dropped: Vec<String>,
    /// On the held-out rows; absent for an aborted round.
    pub accuracy: Option<f64>,
    pub epsilon: Option<f64>,
    pub seconds: f64,
}

/// What the simulation produced.
#[derive(Debug, Clone, Serialize)]
pub struct SimOutcome {
    pub rounds: Vec<SimRound>,
    /// The final model's accuracy and AUC on the held-out rows.
    pub accuracy: Option<f64>,
    pub auc: Option<f64>,
    pub epsilon: Option<f64>,
    pub sites: Vec<SiteSlice>,
    pub flagged: Vec<String>,
    pub killed: Option<String>,
    /// Sites that ended with an error (not the one killed): each with its last error line.
    pub failed: Vec<SiteFailure>,
    pub held_out_rows: usize,
    pub seconds: f64,
    /// The federation's folder, when kept.
    pub dir: Option<PathBuf>,
}

/// A site process that ended with an error.
#[derive(Debug, Clone, Serialize)]
pub struct SiteFailure {
    pub site: String,
    /// Its own error message (value-free): from its JSON answer, or its stderr.
    pub error: String,
}

/// A site's slice.
#[derive(Debug, Clone, Serialize)]
pub struct SiteSlice {
    pub name: String,
    pub rows: usize,
    /// How many distinct values of the split column it holds.
    pub groups: usize,
}

/// The rows each site holds and the held-out rows: every fifth row is held out; the others
/// go by their value of `column`, each value whole to one site, the most frequent values
/// first, each to the site with the fewest rows so far.
pub fn split(table: &Table, column: &str, sites: usize) -> Result<(Vec<Vec<usize>>, Vec<usize>)> {
    let c = table.column(column)?;
    let mut groups: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    let mut held_out = Vec::new();
    for r in 0..table.rows {
        if r % 5 == 0 {
            held_out.push(r);
        } else {
            groups
                .entry(table.columns[c][r].as_deref())
                .or_default()
                .push(r);
        }
    }
    if groups.len() < sites {
        return Err(FlError::Usage(format!(
            "the split column has {} distinct values, fewer than the {sites} sites",
            groups.len()
        )));
    }
    let mut ordered: Vec<Vec<usize>> = groups.into_values().collect();
    ordered.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); sites];
    for g in ordered {
        if let Some(smallest) = out.iter_mut().min_by_key(|s| s.len()) {
            smallest.extend(g);
        }
    }
    for s in &mut out {
        s.sort_unstable();
    }
    Ok((out, held_out))
}

/// The simulation's spec from its options.
pub fn spec_for(table: &Table, o: &SimulateOptions) -> Result<Spec> {
    let mut spec = Spec::fit(&SpecInput {
        table,
        target: &o.target,
        positive: o.positive.as_deref(),
        features: &o.features,
        model: o.model,
    })?;
    spec.rounds = o.rounds;
    spec.local_epochs = o.local_epochs;
    spec.learning_rate = o.learning_rate;
    spec.clip = o.clip;
    spec.min_sites = o.sites.saturating_sub(2).max(2).min(o.sites);
    spec.secure_aggregation = o.secure_agg || o.epsilon.is_some();
    spec.dp = o.epsilon.map(|epsilon| DpSpec {
        epsilon,
        delta: o.delta,
    });
    spec.check()?;
    Ok(spec)
}

/// Children killed when dropped (a failed simulation leaves no process behind).
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn write_csv(table: &Table, rows: &[usize], path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_path(path)
        .map_err(|e| FlError::io("write", path, std::io::Error::other(e)))?;
    let io = |e: csv::Error| FlError::io("write", path, std::io::Error::other(e));
    w.write_record(&table.names).map_err(io)?;
    for &r in rows {
        w.write_record(table.columns.iter().map(|c| c[r].as_deref().unwrap_or("")))
            .map_err(io)?;
    }
    w.flush().map_err(|e| FlError::io("write", path, e))
}

fn workspace(dir: &Path) -> Result<Vault> {
    let ws = dir.join(airlock_core::keys::WORKSPACE_DIR);
    let secret =
        airlock_core::keys::WorkspaceSecret::create(&ws.join(airlock_core::keys::SECRET_FILE))?;
    Ok(Vault::init(&ws, secret)?)
}

fn steward() -> Actor {
    Actor {
        name: airlock_vault::access::current_user(),
        role: "steward".into(),
        purpose: "model-training".into(),
    }
}

fn toml_str(s: &Path) -> String {
    toml::Value::String(s.to_string_lossy().into_owned()).to_string()
}

/// Runs the simulation.
pub fn run(o: &SimulateOptions, progress: &dyn Fn(&Value)) -> Result<SimOutcome> {
    let started = Instant::now();
    if o.sites < 2 || o.sites > 64 {
        return Err(FlError::Usage("--sites must be between 2 and 64".into()));
    }
    if let Some(k) = o.kill_site
        && (k == 0 || k > o.sites)
    {
        return Err(FlError::Usage(format!(
            "--kill-site must name a site from 1 to {}",
            o.sites
        )));
    }
    let table = Table::read(&o.data)?;
    let (slices, held_out) = split(&table, &o.split_by, o.sites)?;
    let spec = spec_for(&table, o)?;
    let tmp;
    let dir = match &o.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| FlError::io("create", d, e))?;
            if std::fs::read_dir(d)
                .map(|mut r| r.next().is_some())
                .unwrap_or(false)
            {
                return Err(FlError::Usage(format!(
                    "{} is not empty: a simulation makes a new federation there",
                    airlock_core::shown::path(d)
                )));
            }
            std::fs::canonicalize(d).map_err(|e| FlError::io("read", d, e))?
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("airlock-fl-simulate-")
                .tempdir()
                .map_err(|e| FlError::io("create", &std::env::temp_dir(), e))?;
            tmp.path().to_path_buf()
        }
    };
    // the federation: its CA, its spec, the coordinator's workspace
    let ca_dir = dir.join("ca");
    crate::ca::init(&ca_dir, &["127.0.0.1".into(), "localhost".into()])?;
    let spec_path = dir.join("spec.json");
    let spec_text = serde_json::to_string_pretty(&spec).unwrap_or_default() + "\n";
    airlock_core::output::write_atomic(&spec_path, spec_text.as_bytes(), false)?;
    let coord_dir = dir.join("coordinator");
    std::fs::create_dir_all(&coord_dir).map_err(|e| FlError::io("create", &coord_dir, e))?;
    drop(workspace(&coord_dir)?);
    let out = coord_dir.join("out");
    let fl_toml = dir.join("fl.toml");
    let config = format!(
        "spec = {}\nca = {}\nlisten = \"127.0.0.1:0\"\nout = {}\nphase_timeout_s = 20\njoin_timeout_s = 60\n",
        toml_str(&spec_path),
        toml_str(&ca_dir),
        toml_str(&out)
    );
    airlock_core::output::write_atomic(&fl_toml, config.as_bytes(), false)?;
    // each site: a certificate, a workspace, its slice in its vault
    let mut sites = Vec::new();
    for (k, rows) in slices.iter().enumerate() {
        let name = format!("site-{}", k + 1);
        let site_dir = dir.join(&name);
        std::fs::create_dir_all(&site_dir).map_err(|e| FlError::io("create", &site_dir, e))?;
        let issued = crate::ca::issue(&ca_dir, &name, 30, &site_dir.join("certs"))?;
        let vault = workspace(&site_dir)?;
        let private = vault.private_temp()?;
        let file = private.path().join(format!("{name}.csv"));
        write_csv(&table, rows, &file)?;
        let ds = vault.put(&file, Zone::Raw, Some(&format!("{name}.csv")), &steward())?;
        drop(private);
        let c = table.column(&o.split_by)?;
        let groups = rows
            .iter()
            .map(|&r| table.columns[c][r].as_deref())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        sites.push((name, site_dir, issued, ds.id, rows.len(), groups));
    }
    // the coordinator
    let mut procs = Procs(Vec::new());
    let ready = dir.join("coordinator.ready");
    let coord = Command::new(&o.exe)
        .args(["fl", "coordinator", "--json", "--config"])
        .arg(&fl_toml)
        .arg("--workspace")
        .arg(&coord_dir)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(file_for(&dir.join("coordinator.out"))?)
        .stderr(file_for(&dir.join("coordinator.err"))?)
        .spawn()
        .map_err(|e| FlError::io("run", &o.exe, e))?;
    procs.0.push(coord);
    let url = wait_ready(&ready, &mut procs.0[0], &dir.join("coordinator.err"))?;
    // the sites
    let kill_round = u64::from(o.rounds.div_ceil(2).max(1));
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Value)>();
    for (k, (name, site_dir, issued, dataset, _, _)) in sites.iter().enumerate() {
        let site_toml = site_dir.join("site.toml");
        let text = format!(
            "coordinator = {}\nca = {}\ncert = {}\nkey = {}\nspec_sha256 = \"{}\"\ndataset = \"{}\"\nrole = \"steward\"\n",
            toml::Value::String(url.clone()),
            toml_str(&issued.ca),
            toml_str(&issued.cert),
            toml_str(&issued.key),
            spec.sha256(),
            dataset
        );
        airlock_core::output::write_atomic(&site_toml, text.as_bytes(), false)?;
        let mut cmd = Command::new(&o.exe);
        cmd.args(["fl", "site", "--json", "--config"])
            .arg(&site_toml)
            .arg("--workspace")
            .arg(site_dir);
        if o.kill_site == Some(k + 1) {
            cmd.args(["--hold-in-round", &kill_round.to_string()]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(file_for(&dir.join(format!("{name}.err")))?)
            .spawn()
            .map_err(|e| FlError::io("run", &o.exe, e))?;
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            // the site's events, kept beside its stderr (what a failed run is read from)
            let mut kept = file_for(&dir.join(format!("{name}.out")))?;
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(|l| l.ok())
                {
                    use std::io::Write;
                    let _ = writeln!(kept, "{line}");
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        let _ = tx.send((k, v));
                    }
                }
            });
        }
        procs.0.push(child);
    }
    drop(tx);
    // watch the sites; kill the one asked for when it holds in the middle round
    let mut killed = None;
    for (k, event) in rx.iter() {
        if Some(k + 1) == o.kill_site
            && killed.is_none()
            && event.get("event").and_then(Value::as_str) == Some("holding")
            && event.get("round").and_then(Value::as_u64) == Some(kill_round)
        {
            let _ = procs.0[k + 1].kill();
            killed = Some(sites[k].0.clone());
            progress(
                &serde_json::json!({ "event": "killed", "site": sites[k].0, "round": kill_round }),
            );
        }
    }
    // every site's output is closed: the federation is over (or every site failed)
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = procs.0[0]
            .try_wait()
            .map_err(|e| FlError::io("wait for", &o.exe, e))?
        {
            break s;
        }
        if Instant::now() > deadline {
            return Err(FlError::Refused(
                "the coordinator did not finish within two minutes of the sites".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // every site's output is closed, so each has ended (or soon will): which failed
    let mut failed = Vec::new();
    for (k, (name, ..)) in sites.iter().enumerate() {
        if killed.as_ref() == Some(name) {
            continue;
        }
        let ended = procs.0[k + 1]
            .wait()
            .map_err(|e| FlError::io("wait for", &o.exe, e))?;
        if !ended.success() {
            failed.push(SiteFailure {
                site: name.clone(),
                error: airlock_core::shown::escape(&site_error(&dir, name), 300),
            });
        }
    }
    if !status.success() {
        let err = std::fs::read_to_string(dir.join("coordinator.err")).unwrap_or_default()
            + &std::fs::read_to_string(dir.join("coordinator.out")).unwrap_or_default();
        return Err(FlError::Refused(format!(
            "the coordinator failed: {}",
            airlock_core::shown::escape_message(err.trim(), 2000)
        )));
    }
    // score each round's model on the held-out rows
    let (test_x, test_y) = held_out_data(&table, &spec, &held_out)?;
    let records: Vec<RoundRecord> = std::fs::read_to_string(out.join("rounds.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut rounds = Vec::new();
    for r in records {
        let accuracy = round_params(&out, r.round).map(|p| {
            airlock_train::evaluate(&crate::task::model_at(&spec, &p), &test_x, &test_y, 0).accuracy
        });
        rounds.push(SimRound {
            round: r.round,
            outcome: r.outcome,
            sites: r.sites,
            dropped: r.dropped,
            accuracy: if r.kind == crate::task::RoundKind::Train {
                accuracy
            } else {
                None
            },
            epsilon: r.epsilon,
            seconds: r.seconds,
        });
    }
    let model: Option<FederatedModel> = std::fs::read_to_string(out.join("model.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let metrics = model
        .as_ref()
        .map(|m| airlock_train::evaluate(&m.model, &test_x, &test_y, 0));
    Ok(SimOutcome {
        accuracy: metrics.as_ref().map(|m| m.accuracy),
        auc: metrics.as_ref().map(|m| m.auc),
        epsilon: rounds.iter().rev().find_map(|r| r.epsilon),
        rounds,
        sites: sites
            .iter()
            .map(|(name, _, _, _, rows, groups)| SiteSlice {
                name: name.clone(),
                rows: *rows,
                groups: *groups,
            })
            .collect(),
        flagged: model.map(|m| m.flagged).unwrap_or_default(),
        killed,
        failed,
        held_out_rows: test_y.len(),
        seconds: started.elapsed().as_secs_f64(),
        dir: o.dir.clone(),
    })
}

/// The held-out rows, encoded.
fn held_out_data(
    table: &Table,
    spec: &Spec,
    rows: &[usize],
) -> Result<(Vec<Vec<f64>>, Vec<usize>)> {
    let enc = spec.encoding.encoder(table)?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for &r in rows {
        if let Some(label) = enc.label(r) {
            x.push(enc.row(r));
            y.push(label);
        }
    }
    Ok((x, y))
}

/// The global model's parameters after round `round`, as the coordinator wrote them.
pub fn round_params(out: &Path, round: u64) -> Option<Vec<f64>> {
    let text =
        std::fs::read_to_string(out.join("models").join(format!("round-{round}.json"))).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get("params")?.clone()).ok()
}

/// Why a site failed: its JSON error on stdout (sites run with `--json`), or the last line
/// of its stderr, or how it ended.
fn site_error(dir: &Path, name: &str) -> String {
    let out = std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default();
    let at = out.rfind("\n{\n").map_or(0, |i| i + 1);
    let from_json = serde_json::from_str::<Value>(&out[at..])
        .ok()
        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned));
    let err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
    from_json
        .or_else(|| err.trim().lines().last().map(str::to_owned))
        .unwrap_or_else(|| "it ended without saying why (killed?)".into())
}

fn file_for(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| FlError::io("create", path, e))
}

fn wait_ready(ready: &Path, child: &mut Child, err: &Path) -> Result<String> {
    let start = Instant::now();
    loop {
        if let Ok(url) = std::fs::read_to_string(ready)
            && !url.is_empty()
        {
            return Ok(url.trim().to_owned());
        }
        if let Ok(Some(_)) = child.try_wait() {
            let text = std::fs::read_to_string(err).unwrap_or_default()
                + &std::fs::read_to_string(err.with_extension("out")).unwrap_or_default();
            return Err(FlError::Refused(format!(
                "the coordinator did not start: {}",
                airlock_core::shown::escape_message(text.trim(), 2000)
            )));
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(FlError::Refused(
                "the coordinator did not start within a minute".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
