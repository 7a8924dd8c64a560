//! `airlock fl coordinator`: runs the federation's rounds. An HTTPS server (axum, rustls) that
//! admits only sites with a certificate from the federation CA that it has not revoked; each
//! round goes through [`Round`]'s phases, each closed when every site still alive has answered
//! or its deadline has passed. It never sees a row, and under secure aggregation never an
//! update: only masked vectors and their sum. Every round is recorded (`rounds.jsonl` and the
//! audit log of the coordinator's workspace); the final model goes to the workspace's registry
//! (dev zone) with lineage naming the sites and rounds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use airlock_server::server::Peer;
use airlock_train::data::Encoding;
use airlock_train::model::Model;
use airlock_vault::{Actor, Vault};

use crate::ca::{Registry, SiteEntry};
use crate::fedavg::ClientDp;
use crate::round::{Phase, Round, RoundError};
use crate::secagg::{Advert, Quantizer, SiteId};
use crate::sitedrift::FeatureDistance;
use crate::spec::Spec;
use crate::task::{self, RoundKind};
use crate::wire::{self, AdvertMsg, MaskedMsg, RevealMsg, RoundRecord, SharesMsg, View};
use crate::{FlError, Result};

/// A site that has not called for this long is taken to be gone: phases stop waiting for it.
const ALIVE: Duration = Duration::from_secs(5);
/// How long a poll waits for the round to move on.
const POLL_WAIT: Duration = Duration::from_secs(1);

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8643))
}

fn default_phase_timeout() -> f64 {
    30.0
}

fn default_join_timeout() -> f64 {
    120.0
}

/// `fl.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// The federation's spec (JSON, from `airlock fl spec`).
    pub spec: PathBuf,
    /// The federation CA's folder (`airlock fl ca init --dir`).
    pub ca: PathBuf,
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The longest a phase waits for sites that are still calling.
    #[serde(default = "default_phase_timeout")]
    pub phase_timeout_s: f64,
    /// The longest the first round waits for every site to join.
    #[serde(default = "default_join_timeout")]
    pub join_timeout_s: f64,
    /// Where the model, the round log and each round's parameters are written.
    pub out: PathBuf,
    /// The final model's name in the registry (default `fl-<spec hash>.json`).
    pub model_name: Option<String>,
}

impl CoordinatorConfig {
    /// Reads `fl.toml`; its relative paths are read from its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: Self = crate::read_toml(path)?;
        c.spec = crate::rebase(path, &c.spec);
        c.ca = crate::rebase(path, &c.ca);
        c.out = crate::rebase(path, &c.out);
        for t in [c.phase_timeout_s, c.join_timeout_s] {
            if !(t.is_finite() && t > 0.0 && t <= 86_400.0) {
                return Err(FlError::Usage(
                    "phase_timeout_s and join_timeout_s must be between 0 and 86400 seconds".into(),
                ));
            }
        }
        Ok(c)
    }
}

/// The federation's result as written to `model.json` and registered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedModel {
    pub format: String,
    pub spec_sha256: String,
    pub encoding: Encoding,
    pub model: Model,
    pub rounds: Vec<RoundRecord>,
    /// Every site whose update is in the model.
    pub sites: Vec<String>,
    /// Client-level DP: epsilon spent, delta, the noise multiplier and the clip.
    pub privacy: Option<Value>,
    /// Each site's distance from the federation, per feature (PSI), and the sites flagged.
    pub drift: BTreeMap<String, Vec<FeatureDistance>>,
    pub flagged: Vec<String>,
}

/// The predicate type of a federation's signed statement.
pub const FL_PREDICATE: &str = "https://airlock.dev/fl-run/v1";

/// The format name of [`FederatedModel`] (the registry's model gate knows it).
pub const MODEL_FORMAT: &str = airlock_run::vault::FEDERATED_MODEL_FORMAT;

/// What a finished federation left.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub rounds: Vec<RoundRecord>,
    /// `model.json`, when a training round completed.
    pub model: Option<PathBuf>,
    /// Its id in the registry.
    pub registered: Option<String>,
    /// Its card (HTML).
    pub card: Option<PathBuf>,
    pub flagged: Vec<String>,
    pub epsilon: Option<f64>,
}

/// What `airlock fl coordinator` needs.
pub struct Options {
    /// The coordinator's workspace (`.airlock/`): its audit log and registry.
    pub workspace: PathBuf,
    pub vault: Vault,
    pub config: CoordinatorConfig,
    /// Who the rounds are recorded as.
    pub who: Actor,
}

struct St {
    version: u64,
    done: bool,
    number: u64,
    kind: RoundKind,
    round: Round,
    model: Vec<f64>,
    federation_histogram: Option<Vec<f64>>,
    adverts: Vec<Advert>,
    quantizer: Option<Quantizer>,
    u2: Vec<SiteId>,
    u3: Vec<SiteId>,
    seen: HashMap<SiteId, Instant>,
    saw_done: BTreeSet<SiteId>,
    drift: BTreeMap<SiteId, Vec<FeatureDistance>>,
    /// This round's inputs as received: their SHA-256 by site.
    received: BTreeMap<SiteId, String>,
}

struct Hub {
    spec: Spec,
    spec_sha256: String,
    ca: PathBuf,
    registry: RwLock<Registry>,
    st: Mutex<St>,
    version: tokio::sync::watch::Sender<u64>,
    arrived: tokio::sync::Notify,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, St> {
        self.st
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bump(&self, st: &mut St) {
        st.version += 1;
        self.version.send_replace(st.version);
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The site the connection's certificate names, if the registry knows it and has not
    /// revoked it.
    fn site(&self, peer: Option<&Peer>) -> std::result::Result<SiteEntry, Box<Response>> {
        let refused = || {
            Box::new(refusal(
                StatusCode::FORBIDDEN,
                "this certificate names no site of the federation",
            ))
        };
        let fp = peer.and_then(|p| p.0.as_deref()).ok_or_else(refused)?;
        self.registry()
            .by_fingerprint(fp)
            .cloned()
            .ok_or_else(refused)
    }

    fn alive(st: &St, site: SiteId) -> bool {
        st.seen.get(&site).is_some_and(|t| t.elapsed() < ALIVE)
    }

    fn view(&self, st: &St, site: &SiteEntry) -> View {
        let secure = st.round.secure();
        View {
            version: st.version,
            site: site.id,
            name: site.name.clone(),
            done: st.done,
            round: st.number,
            kind: st.kind,
            phase: st.round.phase(),
            spec: self.spec.clone(),
            spec_sha256: self.spec_sha256.clone(),
            model: st.model.clone(),
            federation_histogram: st.federation_histogram.clone(),
            adverts: st.adverts.clone(),
            quantizer: st.quantizer,
            u2: st.u2.clone(),
            envelopes: if secure {
                st.round.envelopes_for(site.id)
            } else {
                Vec::new()
            },
            u3: st.u3.clone(),
        }
    }
}

fn refusal(status: StatusCode, why: &str) -> Response {
    (status, axum::Json(json!({ "error": why }))).into_response()
}

fn round_refusal(e: &RoundError) -> Response {
    let status = match e {
        RoundError::Spec(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::CONFLICT,
    };
    refusal(status, &e.to_string())
}

#[derive(Deserialize)]
struct PollQuery {
    #[serde(default)]
    after: u64,
    /// Answer at once (a heartbeat while the site trains).
    #[serde(default)]
    now: bool,
}

async fn poll(
    State(hub): State<Arc<Hub>>,
    peer: Option<axum::Extension<Peer>>,
    Query(q): Query<PollQuery>,
) -> Response {
    let site = match hub.site(peer.as_deref()) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut rx = hub.version.subscribe();
    {
        let mut st = hub.lock();
        st.seen.insert(site.id, Instant::now());
        if st.done {
            st.saw_done.insert(site.id);
            hub.arrived.notify_one();
        }
    }
    if *rx.borrow_and_update() <= q.after && !q.now {
        let _ = tokio::time::timeout(POLL_WAIT, rx.changed()).await;
    }
    let mut st = hub.lock();
    st.seen.insert(site.id, Instant::now());
    if st.done {
        st.saw_done.insert(site.id);
        hub.arrived.notify_one();
    }
    axum::Json(hub.view(&st, &site)).into_response()
}

/// Applies a site's message to the current round.
fn message(
    hub: &Hub,
    peer: Option<&Peer>,
    round: u64,
    apply: impl FnOnce(&mut St, SiteId) -> std::result::Result<(), RoundError>,
) -> Response {
    let site = match hub.site(peer) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut st = hub.lock();
    st.seen.insert(site.id, Instant::now());
    if round != st.number {
        return refusal(StatusCode::CONFLICT, "that round is over");
    }
    match apply(&mut st, site.id) {
        Ok(()) => {
            hub.arrived.notify_one();
            axum::Json(json!({ "status": "ok" })).into_response()
        }
        Err(e) => round_refusal(&e),
    }
}

async fn advert(
    State(hub): State<Arc<Hub>>,
    peer: Option<axum::Extension<Peer>>,
    axum::Json(m): axum::Json<AdvertMsg>,
) -> Response {
    message(&hub, peer.as_deref(), m.round, |st, id| {
        st.round.advert(
            Advert {
                site: id,
                c_public: m.c_public,
                s_public: m.s_public,
            },
            &m.spec_sha256,
        )?;
        if let Some(d) = m.drift {
            st.drift.insert(id, d);
        }
        Ok(())
    })
}

async fn shares(
    State(hub): State<Arc<Hub>>,
    peer: Option<axum::Extension<Peer>>,
    axum::Json(m): axum::Json<SharesMsg>,
) -> Response {
    message(&hub, peer.as_deref(), m.round, |st, id| {
        st.round.shares(id, m.envelopes)
    })
}

async fn masked(
    State(hub): State<Arc<Hub>>,
    peer: Option<axum::Extension<Peer>>,
    axum::Json(m): axum::Json<MaskedMsg>,
) -> Response {
    message(&hub, peer.as_deref(), m.round, |st, id| {
        let sha = task::input_sha256(&m.y);
        st.round.masked(id, m.y)?;
        st.received.insert(id, sha);
        Ok(())
    })
}

async fn reveal(
    State(hub): State<Arc<Hub>>,
    peer: Option<axum::Extension<Peer>>,
    axum::Json(m): axum::Json<RevealMsg>,
) -> Response {
    message(&hub, peer.as_deref(), m.round, |st, id| {
        st.round.reveal(id, m.reveals)
    })
}

fn routes(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(wire::POLL, get(poll))
        .route(wire::ADVERT, post(advert))
        .route(wire::SHARES, post(shares))
        .route(wire::MASKED, post(masked))
        .route(wire::REVEAL, post(reveal))
        .layer(DefaultBodyLimit::max(256 << 20))
        .with_state(hub)
}

/// Everything checked before listening.
pub struct Prepared {
    options: Options,
    spec: Spec,
    tls: rustls::ServerConfig,
    registry: Registry,
}

/// Reads the spec, the CA and its registry, and checks the coordinator may write models.
pub fn open(options: Options) -> Result<Prepared> {
    let c = &options.config;
    let text = std::fs::read_to_string(&c.spec).map_err(|e| FlError::io("read", &c.spec, e))?;
    let spec = Spec::from_json(&text)?;
    let files = crate::ca::files(&c.ca);
    if !files.exists() {
        return Err(FlError::Usage(format!(
            "{} holds no federation CA (make one with `airlock fl ca init`)",
            airlock_core::shown::path(&c.ca)
        )));
    }
    let tls = airlock_server::server::mutual_tls_server_config(
        &files.server_cert(),
        &files.server_key(),
        &files.ca_cert(),
        &files.crl(),
    )?;
    let registry = Registry::load(&c.ca)?;
    if registry.active().count() < spec.min_sites {
        return Err(FlError::Usage(format!(
            "the federation CA has issued {} site certificates that are not revoked, fewer than the spec's min_sites {}",
            registry.active().count(),
            spec.min_sites
        )));
    }
    options.vault.allow(
        &options.who,
        airlock_vault::access::Action::Write,
        airlock_vault::Zone::Dev,
        None,
    )?;
    std::fs::create_dir_all(c.out.join("models")).map_err(|e| FlError::io("create", &c.out, e))?;
    Ok(Prepared {
        options,
        spec,
        tls,
        registry,
    })
}

/// Runs every round, then writes and registers the model. `ready` is told the address once
/// listening; `progress` each round's record as it closes; `stop` ends the federation early
/// (what was trained so far is kept).
pub async fn run(
    prepared: Prepared,
    ready: impl FnOnce(SocketAddr),
    progress: &(dyn Fn(&RoundRecord) + Sync),
    stop: impl std::future::Future<Output = ()>,
) -> Result<Outcome> {
    let Prepared {
        options,
        spec,
        tls,
        registry,
    } = prepared;
    let config = options.config.clone();
    let dp = task::client_dp(&spec)?;
    let model = spec.initial_model();
    let (version, _) = tokio::sync::watch::channel(0u64);
    let first_kind = if spec.drift_threshold.is_some() {
        RoundKind::Drift
    } else {
        RoundKind::Train
    };
    let first_number = u64::from(first_kind == RoundKind::Train);
    let hub = Arc::new(Hub {
        spec_sha256: spec.sha256(),
        ca: config.ca.clone(),
        registry: RwLock::new(registry),
        st: Mutex::new(St {
            version: 0,
            done: false,
            number: first_number,
            kind: first_kind,
            round: new_round(&spec, first_number, first_kind, model.params.len()),
            model: model.params.clone(),
            federation_histogram: None,
            adverts: Vec::new(),
            quantizer: None,
            u2: Vec::new(),
            u3: Vec::new(),
            seen: HashMap::new(),
            saw_done: BTreeSet::new(),
            drift: BTreeMap::new(),
            received: BTreeMap::new(),
        }),
        spec: spec.clone(),
        version,
        arrived: tokio::sync::Notify::new(),
    });
    let (listener, addr) = airlock_server::server::bind(config.listen).await?;
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(airlock_server::server::serve_router(
        listener,
        Some(Arc::new(tls)),
        routes(hub.clone()),
        async {
            let _ = server_stopped.await;
        },
    ));
    ready(addr);
    let driver = Driver {
        hub: hub.clone(),
        spec: &spec,
        dp: dp.as_ref(),
        config: &config,
        vault: &options.vault,
        who: &options.who,
        progress,
        records: Mutex::new(Vec::new()),
    };
    let records = tokio::select! {
        r = driver.rounds(first_kind) => r?,
        () = stop => driver.records.lock().map(|r| r.clone()).unwrap_or_default(),
    };
    driver.finish().await;
    let _ = stop_server.send(());
    let _ = server.await;
    let outcome = driver.write_model(records)?;
    Ok(outcome)
}

fn new_round(spec: &Spec, number: u64, kind: RoundKind, params: usize) -> Round {
    Round::new(
        number,
        spec,
        spec.min_sites,
        spec.min_sites,
        task::input_width(spec, kind, params),
    )
}

struct Driver<'a> {
    hub: Arc<Hub>,
    spec: &'a Spec,
    dp: Option<&'a ClientDp>,
    config: &'a CoordinatorConfig,
    vault: &'a Vault,
    who: &'a Actor,
    progress: &'a (dyn Fn(&RoundRecord) + Sync),
    records: Mutex<Vec<RoundRecord>>,
}

impl Driver<'_> {
    /// Waits until `closed` holds or `deadline` passes.
    async fn wait(&self, deadline: Instant, closed: impl Fn(&St, &Registry) -> bool) {
        loop {
            {
                let st = self.hub.lock();
                if closed(&st, &self.hub.registry()) {
                    return;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let tick = (deadline - now).min(Duration::from_millis(200));
            tokio::select! {
                () = self.hub.arrived.notified() => {},
                () = tokio::time::sleep(tick) => {},
            }
        }
    }

    fn deadline(&self, seconds: f64) -> Instant {
        Instant::now() + Duration::from_secs_f64(seconds)
    }

    async fn rounds(&self, first_kind: RoundKind) -> Result<Vec<RoundRecord>> {
        let mut plan: Vec<(u64, RoundKind)> = Vec::new();
        if first_kind == RoundKind::Drift {
            plan.push((0, RoundKind::Drift));
        }
        plan.extend((1..=u64::from(self.spec.rounds)).map(|r| (r, RoundKind::Train)));
        let mut trained = 0u64;
        for (i, (number, kind)) in plan.into_iter().enumerate() {
            // a revocation in the registry takes effect from the next round
            if let Ok(r) = Registry::load(&self.hub.ca) {
                *self
                    .hub
                    .registry
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = r;
            }
            let started = Instant::now();
            if i > 0 {
                let mut st = self.hub.lock();
                st.number = number;
                st.kind = kind;
                st.round = new_round(self.spec, number, kind, st.model.len());
                st.adverts.clear();
                st.quantizer = None;
                st.u2.clear();
                st.u3.clear();
                st.received.clear();
                self.hub.bump(&mut st);
            }
            let join = if i == 0 {
                self.config.join_timeout_s
            } else {
                self.config.phase_timeout_s
            };
            let result = self.one_round(i == 0, join).await;
            let mut record = self.record(number, kind, started);
            match result {
                Ok((sum, n)) => {
                    let q = self.hub.lock().quantizer;
                    let values: Vec<f64> = match q {
                        Some(q) => sum.iter().map(|&v| q.dequantize_sum(v, n)).collect(),
                        None => Vec::new(),
                    };
                    match kind {
                        RoundKind::Drift => {
                            let counts = values.iter().map(|v| v.round().max(0.0)).collect();
                            let mut st = self.hub.lock();
                            st.federation_histogram = Some(counts);
                        }
                        RoundKind::Train => match task::mean_update(self.dp, &values, n) {
                            Some(mean) => {
                                trained += 1;
                                record.update_sha256 = Some(task::values_sha256(&mean));
                                record.epsilon = match (self.dp, self.spec.dp) {
                                    (Some(dp), Some(d)) => Some(dp.epsilon(trained, d.delta)?),
                                    _ => None,
                                };
                                let mut st = self.hub.lock();
                                crate::local::apply_params(&mut st.model, &mean);
                                let params = json!({ "round": number, "params": st.model });
                                drop(st);
                                let path = self
                                    .config
                                    .out
                                    .join("models")
                                    .join(format!("round-{number}.json"));
                                airlock_core::output::write_atomic(
                                    &path,
                                    params.to_string().as_bytes(),
                                    true,
                                )?;
                            }
                            None => {
                                record.outcome = "aborted".into();
                                record.reason = Some("no example took part".into());
                            }
                        },
                    }
                }
                Err(e) => {
                    record.outcome = "aborted".into();
                    record.reason = Some(e.to_string());
                }
            }
            record.seconds = started.elapsed().as_secs_f64();
            self.close(&record)?;
        }
        Ok(self.records.lock().map(|r| r.clone()).unwrap_or_default())
    }

    /// The round's record so far: who is in the aggregate, who dropped.
    fn record(&self, number: u64, kind: RoundKind, started: Instant) -> RoundRecord {
        let st = self.hub.lock();
        let names: BTreeMap<SiteId, String> = self
            .hub
            .registry()
            .sites
            .iter()
            .map(|s| (s.id, s.name.clone()))
            .collect();
        let name = |id: &SiteId| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        let done = st.round.phase() == Phase::Done;
        let sites: Vec<String> = if done {
            st.u3.iter().map(name).collect()
        } else {
            Vec::new()
        };
        let dropped = st
            .round
            .advertised()
            .filter(|id| !done || !st.u3.contains(id))
            .map(|id| name(&id))
            .collect();
        RoundRecord {
            round: number,
            kind,
            outcome: if done { "done" } else { "aborted" }.into(),
            reason: None,
            spec_sha256: self.hub.spec_sha256.clone(),
            sites,
            dropped,
            update_sha256: None,
            received: st
                .received
                .iter()
                .map(|(id, sha)| (name(id), sha.clone()))
                .collect(),
            epsilon: None,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Writes the round's record to the log and the audit log.
    fn close(&self, record: &RoundRecord) -> Result<()> {
        let line = serde_json::to_string(record).unwrap_or_default() + "\n";
        let path = self.config.out.join("rounds.jsonl");
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| FlError::io("write", &path, e))?;
            f.write_all(line.as_bytes())
                .and_then(|()| f.sync_data())
                .map_err(|e| FlError::io("write", &path, e))?;
        }
        let mut event = Vault::event(
            self.who,
            "fl:round",
            None,
            record.update_sha256.as_deref(),
            &record.outcome,
        );
        if let Value::Object(mut detail) = serde_json::to_value(record).unwrap_or(Value::Null) {
            // the reason is a message of this crate's, never a value; kept
            detail.remove("seconds");
            event.detail = Some(detail);
        }
        self.vault.record(&[event])?;
        (self.progress)(record);
        if let Ok(mut r) = self.records.lock() {
            r.push(record.clone());
        }
        Ok(())
    }

    /// The phases of the current round; the sum of the inputs and how many sites it holds.
    async fn one_round(&self, first: bool, join_s: f64) -> Result<(Vec<u64>, usize)> {
        let min = self.spec.min_sites;
        // adverts: every active site, or (after the first round) every site still calling
        self.wait(self.deadline(join_s), |st, reg| {
            let joined: BTreeSet<SiteId> = st.round.advertised().collect();
            let all = reg.active().all(|s| joined.contains(&s.id));
            let alive = reg
                .active()
                .filter(|s| Hub::alive(st, s.id))
                .all(|s| joined.contains(&s.id));
            all || (!first && alive && joined.len() >= min)
        })
        .await;
        {
            let mut st = self.hub.lock();
            let adverts = st.round.close_adverts()?;
            st.quantizer = Some(task::quantizer(self.spec, self.dp, st.kind, adverts.len()));
            st.adverts = adverts;
            if !st.round.secure() {
                st.u2 = st.round.shared().collect();
            }
            self.hub.bump(&mut st);
        }
        let phase = self.config.phase_timeout_s;
        // each later phase: every site of the last still calling has answered
        let answered_by_alive =
            |st: &St,
             expected: &dyn Fn(&St) -> BTreeSet<SiteId>,
             answered: &dyn Fn(&St) -> BTreeSet<SiteId>| {
                let a = answered(st);
                expected(st)
                    .iter()
                    .filter(|id| Hub::alive(st, **id))
                    .all(|id| a.contains(id))
            };
        if self.hub.lock().round.secure() {
            self.wait(self.deadline(phase), |st, _| {
                answered_by_alive(st, &|s| s.round.advertised().collect(), &|s| {
                    s.round.shared().collect()
                })
            })
            .await;
            let mut st = self.hub.lock();
            st.u2 = st.round.close_shares()?;
            self.hub.bump(&mut st);
        }
        self.wait(self.deadline(phase), |st, _| {
            answered_by_alive(st, &|s| s.round.shared().collect(), &|s| {
                s.round.sent().collect()
            })
        })
        .await;
        {
            let mut st = self.hub.lock();
            st.u3 = st.round.close_masked()?;
            self.hub.bump(&mut st);
        }
        if self.hub.lock().round.secure() {
            self.wait(self.deadline(phase), |st, _| {
                st.round.revealed().count() >= min
                    && answered_by_alive(st, &|s| s.round.sent().collect(), &|s| {
                        s.round.revealed().collect()
                    })
            })
            .await;
        }
        let mut st = self.hub.lock();
        let out = st.round.close_unmask()?;
        self.hub.bump(&mut st);
        Ok(out)
    }

    /// Tells the sites the federation is over and waits (briefly) until those still calling
    /// have heard it.
    async fn finish(&self) {
        {
            let mut st = self.hub.lock();
            st.done = true;
            self.hub.bump(&mut st);
        }
        self.wait(self.deadline(5.0), |st, reg| {
            reg.active()
                .filter(|s| Hub::alive(st, s.id))
                .all(|s| st.saw_done.contains(&s.id))
        })
        .await;
    }

    /// Writes `model.json` and registers it, when any training round completed.
    fn write_model(&self, rounds: Vec<RoundRecord>) -> Result<Outcome> {
        let st = self.hub.lock();
        let names: BTreeMap<SiteId, String> = self
            .hub
            .registry()
            .sites
            .iter()
            .map(|s| (s.id, s.name.clone()))
            .collect();
        let drift: BTreeMap<String, Vec<FeatureDistance>> = st
            .drift
            .iter()
            .map(|(id, d)| (names.get(id).cloned().unwrap_or_default(), d.clone()))
            .collect();
        let flagged: Vec<String> = self
            .spec
            .drift_threshold
            .map(|t| {
                crate::sitedrift::flagged(drift.iter().map(|(n, d)| (n.as_str(), d.as_slice())), t)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let trained: Vec<&RoundRecord> = rounds
            .iter()
            .filter(|r| r.kind == RoundKind::Train && r.outcome == "done")
            .collect();
        let epsilon = trained.last().and_then(|r| r.epsilon);
        let mut outcome = Outcome {
            rounds: rounds.clone(),
            model: None,
            registered: None,
            card: None,
            flagged: flagged.clone(),
            epsilon,
        };
        if trained.is_empty() {
            return Ok(outcome);
        }
        let sites: BTreeSet<String> = trained.iter().flat_map(|r| r.sites.clone()).collect();
        let privacy = match (self.dp, self.spec.dp) {
            (Some(dp), Some(d)) => Some(json!({
                "level": "client",
                "epsilon": epsilon,
                "delta": d.delta,
                "noise_multiplier": dp.sigma,
                "clip": dp.clip,
                "rounds": trained.len(),
                "accountant": "rdp",
            })),
            _ => None,
        };
        let file = FederatedModel {
            format: MODEL_FORMAT.into(),
            spec_sha256: self.hub.spec_sha256.clone(),
            encoding: self.spec.encoding.clone(),
            model: task::model_at(self.spec, &st.model),
            rounds: rounds.clone(),
            sites: sites.iter().cloned().collect(),
            privacy: privacy.clone(),
            drift,
            flagged,
        };
        drop(st);
        let path = self.config.out.join("model.json");
        let text = serde_json::to_string_pretty(&file).unwrap_or_default() + "\n";
        airlock_core::output::write_atomic(&path, text.as_bytes(), true)?;
        let card = self.config.out.join("model-card.html");
        airlock_core::output::write_atomic(&card, crate::card::html_card(&file).as_bytes(), true)?;
        let name = self
            .config
            .model_name
            .clone()
            .unwrap_or_else(|| format!("fl-{}.json", &self.hub.spec_sha256[..12]));
        let lineage = json!({
            "kind": "federated",
            "spec_sha256": self.hub.spec_sha256,
            "sites": file.sites,
            "rounds": trained.iter().map(|r| json!({
                "round": r.round, "sites": r.sites, "update_sha256": r.update_sha256,
                "epsilon": r.epsilon,
            })).collect::<Vec<_>>(),
            "privacy": privacy,
        });
        let ds = self
            .vault
            .put_federated_model(&path, &name, self.who, &lineage.to_string())?;
        // the model's signed statement (in-toto, the workspace's key): `airlock lineage verify`
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "name": "model.json", "digest": { "sha256": ds.sha256 } }],
            "predicateType": FL_PREDICATE,
            "predicate": lineage,
        });
        let key = airlock_vault::lineage::signing_key(
            &self
                .vault
                .secret()
                .derive(airlock_core::keys::Purpose::ManifestSigning),
        );
        airlock_vault::lineage::sign(&path, &statement, &key, true)?;
        outcome.card = Some(card);
        outcome.model = Some(path);
        outcome.registered = Some(ds.id);
        Ok(outcome)
    }
}
