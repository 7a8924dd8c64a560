//! `airlock serve-model`: a model from the registry (an `airlock train` model file in the
//! vault's staging or prod zone, where only the `[models]` gate lets one in) served over HTTP,
//! under the same authentication, roles and audit log as the gateway.
//!
//! Every prediction is a line of the inference log (model version, the SHA-256 of its
//! features, prediction, confidence, the arm that answered, a shadow model's answer) with the
//! patient as a keyed token; the token's link to the patient is sealed into the vault. A
//! candidate model scores every request in shadow (only the log sees it) or answers a share
//! or a cohort of callers (rollout). Drift of the inputs from the training data (PSI, KS) is
//! measured over a sliding window; a feature past a threshold raises an alert, once, in the
//! audit log and at `GET /v1/drift`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use airlock_core::keys::{Purpose, PurposeKey};
use airlock_run::Workspace;
use airlock_server::server::Peer;
use airlock_train::ModelFile;
use airlock_train::data::{Feature, Table};
use airlock_vault::{Actor, Event, Vault, Zone};

use crate::auth::{Auth, Caller};
use crate::drift::{FeatureDrift, Reference, Window};
use crate::writer::{Finish, Message, Writer};
use crate::{Error, Result};

/// `serve-model.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeModelConfig {
    pub server: crate::config::ServerSection,
    pub model: ModelSection,
    #[serde(default)]
    pub candidate: Option<Candidate>,
    pub access: AccessSection,
    #[serde(default)]
    pub drift: Option<DriftSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// The model's dataset id in the vault (zone staging or prod).
    pub id: String,
}

/// How a candidate model takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateMode {
    /// Scores every request; only the inference log sees its answers.
    Shadow,
    /// Answers `percent` of requests and every request of `callers`; the model in service
    /// scores those in shadow.
    Rollout,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub id: String,
    pub mode: CandidateMode,
    #[serde(default)]
    pub percent: u8,
    #[serde(default)]
    pub callers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Roles (access.toml `[actors]`) that may ask for predictions.
    pub roles: Vec<String>,
    /// Roles that may override a prediction (a clinician's correction).
    #[serde(default)]
    pub override_roles: Vec<String>,
    /// The role `serve-model` reads the models, the reference and seals the link table as:
    /// access.toml's `[actors]` must bind the identity `serve-model` to it.
    pub service_role: String,
    /// The purpose it reads them for.
    #[serde(default = "inference")]
    pub purpose: String,
}

fn inference() -> String {
    "inference".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSection {
    /// The training table's dataset id (zone deid or dev): the reference.
    pub reference: String,
    /// Requests in the sliding window.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Requests between measurements.
    #[serde(default = "default_every")]
    pub every: usize,
    #[serde(default = "default_psi")]
    pub psi_alert: f64,
    #[serde(default = "default_ks")]
    pub ks_alert: f64,
}

fn default_window() -> usize {
    500
}
fn default_every() -> usize {
    50
}
fn default_psi() -> f64 {
    0.2
}
fn default_ks() -> f64 {
    0.1
}

impl ServeModelConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: Self = crate::config::from_toml(&crate::config::read(path)?)?;
        c.server.check()?;
        c.server.rebase(path.parent().unwrap_or(Path::new(".")));
        if c.access.roles.is_empty() {
            return Err(Error::Config("[access] roles must not be empty".into()));
        }
        if let Some(cand) = &c.candidate
            && cand.percent > 100
        {
            return Err(Error::Config("[candidate] percent is at most 100".into()));
        }
        if let Some(d) = &c.drift
            && (d.window == 0 || d.every == 0 || d.psi_alert <= 0.0 || d.ks_alert <= 0.0)
        {
            return Err(Error::Config(
                "[drift] window, every and the thresholds must be positive".into(),
            ));
        }
        Ok(c)
    }
}

/// A served model.
struct Served {
    version: String,
    file: ModelFile,
}

impl Served {
    /// Class probabilities of one encoded row.
    fn predict(&self, x: &[f64]) -> (usize, f64, Vec<f64>) {
        let p = self.file.model.probabilities(x);
        let (best, conf) = p
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::MIN), |a, (i, v)| if v > a.1 { (i, v) } else { a });
        (best, conf, p)
    }

    /// The columns it reads, in order.
    fn feature_names(&self) -> Vec<&str> {
        self.file
            .encoding
            .features
            .iter()
            .map(|f| match f {
                Feature::Numeric { name, .. } | Feature::Categorical { name, .. } => name.as_str(),
            })
            .collect()
    }

    /// One request's values (in [`Self::feature_names`]' order) under this model's own
    /// encoding.
    fn encode(&self, values: &[Option<String>]) -> Vec<f64> {
        let enc = &self.file.encoding;
        let table = Table {
            names: self
                .feature_names()
                .into_iter()
                .map(str::to_owned)
                .chain([enc.target.clone()])
                .collect(),
            columns: values
                .iter()
                .map(|v| vec![v.clone()])
                .chain([vec![None]])
                .collect(),
            rows: 1,
        };
        enc.encoder(&table).map(|e| e.row(0)).unwrap_or_default()
    }

    fn label(&self, class: usize) -> String {
        self.file
            .encoding
            .classes
            .get(class)
            .cloned()
            .unwrap_or_default()
    }
}

/// Reads a model from the vault: only from staging or prod (the `[models]` gate's zones).
fn load_model(vault: &Vault, dir: &Path, id: &str, who: &Actor) -> Result<Served> {
    let ds = vault.dataset(id)?;
    if !matches!(Zone::parse(&ds.zone)?, Zone::Staging | Zone::Prod) {
        return Err(Error::Config(format!(
            "{id} is in zone {}: only a model promoted to staging or prod (through the [models] gate) is served",
            ds.zone
        )));
    }
    let bytes = with_vault_file(vault, dir, id, who, |path| {
        std::fs::read(path).map_err(|e| Error::Io {
            action: "read",
            path: path.to_path_buf(),
            source: e,
        })
    })?;
    let file: ModelFile = serde_json::from_slice(&bytes)
        .map_err(|_| Error::Config(format!("{id} is not a model file from `airlock train`")))?;
    let sha = data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes));
    Ok(Served {
        version: format!("{id}@{}", &sha[..12]),
        file,
    })
}

/// `read` of a dataset decrypted by the vault's audited `get` into a private temporary
/// folder (under its own name, so a table is read by its extension), removed when done.
fn with_vault_file<T>(
    vault: &Vault,
    dir: &Path,
    id: &str,
    who: &Actor,
    read: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let tmp = tempfile::Builder::new()
        .prefix(".serve-model-")
        .tempdir_in(dir)
        .map_err(|e| Error::Io {
            action: "create a temporary folder in",
            path: dir.to_path_buf(),
            source: e,
        })?;
    let out = tmp.path().join(vault.dataset(id)?.name);
    vault.get(id, &out, true, who)?;
    read(&out)
}

/// What `airlock serve-model` needs.
pub struct Options {
    pub workspace: PathBuf,
    pub config: ServeModelConfig,
    pub access_log: Option<crate::server::AccessLog>,
}

struct DriftState {
    window: Window,
    since: usize,
    last: Vec<FeatureDrift>,
    alerted: Vec<bool>,
}

struct ModelServer {
    config: ServeModelConfig,
    primary: Served,
    candidate: Option<Served>,
    auth: Arc<Auth>,
    writer: Writer,
    patient_key: PurposeKey,
    /// Keys the features' hash: an unkeyed hash of a few clinical values could be reversed by
    /// trying them all.
    feature_key: PurposeKey,
    /// Tokens whose link was already sealed by this process.
    linked: Mutex<std::collections::HashSet<String>>,
    /// Recent predictions (request id → served version, label), for overrides.
    recent: Mutex<Recent>,
    drift: Option<Mutex<DriftState>>,
    access_log: Option<crate::server::AccessLog>,
}

/// Predictions remembered for overrides.
const RECENT: usize = 100_000;

/// The latest predictions: request id → (the version that answered, its label), and their
/// order, oldest first.
type Recent = (HashMap<String, (String, String)>, VecDeque<String>);

/// A server ready to listen.
pub struct Prepared {
    state: Arc<ModelServer>,
    tls: Option<Arc<rustls::ServerConfig>>,
    finish: Finish,
}

/// The identity `serve-model` acts as in the vault.
fn service(config: &ServeModelConfig) -> Actor {
    Actor {
        name: "serve-model".into(),
        role: config.access.service_role.clone(),
        purpose: config.access.purpose.clone(),
    }
}

/// Opens the workspace, reads the models (and the drift reference) from the vault, starts the
/// log writer.
pub fn open(options: Options) -> Result<Prepared> {
    let secret = options.workspace.join(airlock_core::keys::SECRET_FILE);
    let mut ws = Workspace::open(Some(&secret))?;
    let who = service(&options.config);
    {
        let vault = ws.vault_mut().ok_or(airlock_vault::VaultError::NoVault)?;
        vault.require_bound_roles();
        vault.refresh_access(&who)?;
    }
    let vault = ws.vault().ok_or(airlock_vault::VaultError::NoVault)?;
    let dir = options.workspace.clone();
    let primary = load_model(vault, &dir, &options.config.model.id, &who)?;
    let candidate = options
        .config
        .candidate
        .as_ref()
        .map(|c| load_model(vault, &dir, &c.id, &who))
        .transpose()?;
    if let Some(c) = &candidate
        && c.feature_names() != primary.feature_names()
    {
        return Err(Error::Config(
            "the candidate model reads other features than the model in service".into(),
        ));
    }
    let drift = match &options.config.drift {
        Some(d) => {
            // the training table as de-identified: never raw data in the server's memory
            let zone = Zone::parse(&vault.dataset(&d.reference)?.zone)?;
            if !matches!(zone, Zone::Deid | Zone::Dev) {
                return Err(Error::Config(format!(
                    "[drift] reference {} is in zone {zone}: the reference is the de-identified training table (zone deid or dev)",
                    d.reference
                )));
            }
            let table = with_vault_file(vault, &dir, &d.reference, &who, |path| {
                Table::read(path).map_err(|e| Error::Config(e.to_string()))
            })?;
            let reference = Reference::of(&primary.file.encoding.features, &table)
                .map_err(|e| Error::Config(format!("the drift reference: {e}")))?;
            let features = primary.file.encoding.features.len();
            Some(Mutex::new(DriftState {
                window: Window::new(reference, d.window, d.psi_alert, d.ks_alert),
                since: 0,
                last: Vec::new(),
                alerted: vec![false; features],
            }))
        }
        None => None,
    };
    let tls = crate::server::tls(&options.config.server, &options.workspace)?;
    let patient_key = ws
        .secret()
        .derive(Purpose::Tokenize)
        .subkey("serve-model/patient");
    let feature_key = ws
        .secret()
        .derive(Purpose::Tokenize)
        .subkey("serve-model/features");
    let log_dir = options.workspace.join("inference");
    std::fs::create_dir_all(&log_dir).map_err(|e| Error::Io {
        action: "create",
        path: log_dir.clone(),
        source: e,
    })?;
    let log_file = log_dir.join(format!(
        "{}.jsonl",
        options
            .config
            .model
            .id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
    ));
    let (writer, finish) = Writer::start(
        Workspace::open(Some(&secret))?,
        Some((who.clone(), "serve-model-links")),
        Some(log_file),
    )?;
    writer.send(Message::Event(Event {
        actor: who.name.clone(),
        role: who.role.clone(),
        purpose: who.purpose.clone(),
        action: "serve-model:start".into(),
        dataset: Some(options.config.model.id.clone()),
        outcome: "ok".into(),
        detail: Some(
            json!({
                "model": primary.version,
                "candidate": candidate.as_ref().map(|c| c.version.clone()),
                "mode": options.config.candidate.as_ref().map(|c| format!("{:?}", c.mode).to_lowercase()),
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ),
        ..Default::default()
    }));
    Ok(Prepared {
        state: Arc::new(ModelServer {
            auth: Arc::new(Auth::new(ws, who)),
            primary,
            candidate,
            writer,
            patient_key,
            feature_key,
            linked: Mutex::new(std::collections::HashSet::new()),
            recent: Mutex::new((HashMap::new(), VecDeque::new())),
            drift,
            access_log: options.access_log,
            config: options.config,
        }),
        tls,
        finish,
    })
}

/// Serves until `shutdown` resolves, then drains the logs.
pub async fn serve(
    prepared: Prepared,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<u64> {
    let listen = prepared.state.config.server.listen;
    let (listener, addr) = airlock_server::server::bind(listen).await?;
    let router = Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/predictions/{id}/override", post(override_prediction))
        .route("/v1/drift", get(drift))
        .route("/v1/model", get(model))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(1 << 20))
        .with_state(prepared.state.clone());
    ready(addr);
    airlock_server::server::serve_router(listener, prepared.tls, router, shutdown).await;
    // the writer ends when the state's last holder (a request still running) is gone
    drop(prepared.state);
    let finish = prepared.finish;
    tokio::task::spawn_blocking(move || finish.finish())
        .await
        .map_err(|_| Error::Usage("the log writer failed".into()))?
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "status": "error", "error": message })),
    )
        .into_response()
}

type St = State<Arc<ModelServer>>;

impl ModelServer {
    fn audit(
        &self,
        caller: &Caller,
        role: &str,
        action: &str,
        outcome: &str,
        detail: Map<String, Value>,
    ) {
        if let Some(log) = &self.access_log {
            let mut line = detail.clone();
            line.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
            line.insert("caller".into(), caller.name.clone().into());
            line.insert("action".into(), action.into());
            log(&Value::Object(line));
        }
        self.writer.send(Message::Event(Event {
            actor: caller.name.clone(),
            role: role.into(),
            purpose: "inference".into(),
            action: action.into(),
            dataset: Some(self.config.model.id.clone()),
            outcome: outcome.into(),
            detail: Some(detail),
            ..Default::default()
        }));
    }

    /// The caller's role among `allowed`, or a refusal (audited).
    async fn caller(
        &self,
        headers: &HeaderMap,
        peer: Peer,
        allowed: &[String],
        action: &str,
    ) -> std::result::Result<(Caller, String), Response> {
        if !self.writer.alive() {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written: no call is taken",
            ));
        }
        let caller = match crate::auth::authenticate(self.auth.clone(), headers.clone(), peer).await
        {
            Ok(c) => c,
            Err(why) => {
                let anon = Caller {
                    name: "(unauthenticated)".into(),
                    roles: vec![],
                };
                self.audit(&anon, "-", action, "denied", Map::new());
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    &format!("not authenticated: {why}"),
                ));
            }
        };
        match caller.roles.iter().find(|r| allowed.contains(r)) {
            Some(role) => {
                let role = role.clone();
                Ok((caller, role))
            }
            None => {
                self.audit(&caller, "-", action, "denied", Map::new());
                Err(refuse(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "{} has no role that may do this ([access] in the serving configuration, access.toml [actors])",
                        caller.name
                    ),
                ))
            }
        }
    }

    /// The request's feature values in the model's order; unknown fields refused (without
    /// naming them: a field name may be anything).
    fn features(
        &self,
        given: &Map<String, Value>,
    ) -> std::result::Result<Vec<Option<String>>, String> {
        let features = &self.primary.file.encoding.features;
        let name = |f: &Feature| match f {
            Feature::Numeric { name, .. } | Feature::Categorical { name, .. } => name.clone(),
        };
        let unknown = given
            .keys()
            .filter(|k| !features.iter().any(|f| &name(f) == *k))
            .count();
        if unknown > 0 {
            return Err(format!(
                "{unknown} field(s) the model does not read; nothing was scored"
            ));
        }
        features
            .iter()
            .map(|f| match given.get(&name(f)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Bool(b)) => Ok(Some(b.to_string())),
                Some(_) => {
                    Err("a feature's value is an array or object; nothing was scored".to_string())
                }
            })
            .collect()
    }

    /// Which model answers this request: the candidate for its cohort or share in rollout.
    fn candidate_answers(&self, caller: &Caller, request_id: &str) -> bool {
        let Some(c) = &self.config.candidate else {
            return false;
        };
        if c.mode != CandidateMode::Rollout {
            return false;
        }
        if c.callers.contains(&caller.name) {
            return true;
        }
        let h = Sha256::digest(request_id.as_bytes());
        u16::from_le_bytes([h[0], h[1]]) % 100 < u16::from(c.percent)
    }

    fn patient_token(&self, patient: &str) -> String {
        let mac = self.patient_key.mac(patient.as_bytes());
        format!(
            "pt_{}",
            data_encoding::BASE32_NOPAD
                .encode(&mac[..15])
                .to_ascii_lowercase()
        )
    }

    fn observe(&self, values: Vec<Option<String>>, caller: &Caller) {
        let Some(drift) = &self.drift else { return };
        let Some(every) = self.config.drift.as_ref().map(|d| d.every) else {
            return;
        };
        let Ok(mut d) = drift.lock() else { return };
        d.window.push(values);
        d.since += 1;
        if d.since < every {
            return;
        }
        d.since = 0;
        let measured = d.window.measure();
        let n = d.window.len();
        for (i, m) in measured.iter().enumerate() {
            // an alert is raised once, and again only after the feature has recovered
            if m.alert && !d.alerted[i] {
                let detail = json!({
                    "feature": airlock_core::shown::escape(&m.feature, 80),
                    "psi": m.psi, "ks": m.ks, "window": n,
                    "model": self.primary.version,
                });
                self.audit(
                    caller,
                    "-",
                    "serve-model:drift",
                    "alert",
                    detail.as_object().cloned().unwrap_or_default(),
                );
            }
            d.alerted[i] = m.alert;
        }
        d.last = measured;
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    #[serde(default)]
    patient_id: Option<String>,
    features: Map<String, Value>,
}

async fn predict(
    State(s): St,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let (caller, role) = match s
        .caller(
            &headers,
            peer.map(|p| p.0).unwrap_or_default(),
            &s.config.access.roles,
            "serve-model:predict",
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_slice::<PredictRequest>(&body) else {
        s.audit(&caller, &role, "serve-model:predict", "failed", Map::new());
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body must be {\"features\": {...}} with an optional \"patient_id\"",
        );
    };
    let values = match s.features(&req.features) {
        Ok(v) => v,
        Err(why) => {
            s.audit(&caller, &role, "serve-model:predict", "failed", Map::new());
            return refuse(StatusCode::BAD_REQUEST, &why);
        }
    };
    let mut id = [0u8; 12];
    let _ = getrandom::fill(&mut id);
    let request_id = format!("pred-{}", data_encoding::HEXLOWER.encode(&id));
    let canonical = serde_json::to_vec(&values).unwrap_or_default();
    let feature_sha = data_encoding::HEXLOWER.encode(&s.feature_key.mac(&canonical));
    let to_candidate = s.candidate_answers(&caller, &request_id);
    let (answering, shadow) = match (&s.candidate, to_candidate) {
        (Some(c), true) => (c, Some(&s.primary)),
        (Some(c), false) => (&s.primary, Some(c)),
        (None, _) => (&s.primary, None),
    };
    let (class, confidence, probs) = answering.predict(&answering.encode(&values));
    let label = answering.label(class);
    let shadow_line = shadow.map(|m| {
        let (c, conf, _) = m.predict(&m.encode(&values));
        json!({"model": m.version, "prediction": m.label(c), "confidence": conf})
    });
    let patient = req.patient_id.as_deref().map(|p| s.patient_token(p));
    if let (Some(p), Some(token)) = (&req.patient_id, &patient)
        && s.linked.lock().is_ok_and(|mut l| l.insert(token.clone()))
    {
        s.writer
            .send(Message::Sealed(json!({"token": token, "patient_id": p})));
    }
    let arm = if to_candidate && s.candidate.is_some() {
        "candidate"
    } else {
        "primary"
    };
    s.writer.send(Message::Line(json!({
        "time": chrono::Utc::now().to_rfc3339(),
        "request_id": request_id,
        "caller": caller.name,
        "model": answering.version,
        "arm": arm,
        "patient": patient,
        "feature_hmac": feature_sha,
        "prediction": label,
        "confidence": confidence,
        "shadow": shadow_line,
    })));
    if let Ok(mut r) = s.recent.lock() {
        let (map, order) = &mut *r;
        map.insert(
            request_id.clone(),
            (answering.version.clone(), label.clone()),
        );
        order.push_back(request_id.clone());
        if order.len() > RECENT
            && let Some(old) = order.pop_front()
        {
            map.remove(&old);
        }
    }
    s.observe(values, &caller);
    let detail = json!({
        "request_id": request_id, "model": answering.version, "arm": arm,
        "feature_hmac": feature_sha,
        "latency_ms": started.elapsed().as_secs_f64() * 1000.0,
    });
    s.audit(
        &caller,
        &role,
        "serve-model:predict",
        "ok",
        detail.as_object().cloned().unwrap_or_default(),
    );
    let probabilities: Map<String, Value> = answering
        .file
        .encoding
        .classes
        .iter()
        .zip(&probs)
        .map(|(c, p)| (c.clone(), json!(p)))
        .collect();
    axum::Json(json!({
        "request_id": request_id, "model": answering.version, "prediction": label,
        "confidence": confidence, "probabilities": probabilities,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    /// The correct class.
    label: String,
    /// A short code for why (letters, digits, - and _; free text could hold anything).
    #[serde(default)]
    reason: Option<String>,
}

async fn override_prediction(
    State(s): St,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    body: Bytes,
) -> Response {
    let (caller, role) = match s
        .caller(
            &headers,
            peer.map(|p| p.0).unwrap_or_default(),
            &s.config.access.override_roles,
            "serve-model:override",
        )
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(req) = serde_json::from_slice::<OverrideRequest>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body must be {\"label\": ..., \"reason\": CODE}",
        );
    };
    if req.reason.as_deref().is_some_and(|r| {
        r.len() > 40
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "reason is a short code (letters, digits, - and _), not free text",
        );
    }
    let known = s.recent.lock().ok().and_then(|r| r.0.get(&id).cloned());
    let Some((version, predicted)) = known else {
        return refuse(StatusCode::NOT_FOUND, "no recent prediction has this id");
    };
    if !s.primary.file.encoding.classes.contains(&req.label) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the label is not one of the model's classes",
        );
    }
    s.writer.send(Message::Line(json!({
        "time": chrono::Utc::now().to_rfc3339(),
        "request_id": id,
        "override": {"by": caller.name, "role": role, "model": version, "predicted": predicted, "label": req.label, "reason": req.reason},
    })));
    let detail = json!({"request_id": id, "model": version});
    s.audit(
        &caller,
        &role,
        "serve-model:override",
        "ok",
        detail.as_object().cloned().unwrap_or_default(),
    );
    axum::Json(json!({"status": "ok", "request_id": id})).into_response()
}

async fn drift(State(s): St, headers: HeaderMap, peer: Option<axum::Extension<Peer>>) -> Response {
    let allowed: Vec<String> = s
        .config
        .access
        .roles
        .iter()
        .chain(&s.config.access.override_roles)
        .cloned()
        .collect();
    if let Err(r) = s
        .caller(
            &headers,
            peer.map(|p| p.0).unwrap_or_default(),
            &allowed,
            "serve-model:drift",
        )
        .await
    {
        return r;
    }
    let Some(d) = &s.drift else {
        return refuse(
            StatusCode::NOT_FOUND,
            "drift is not measured: the configuration has no [drift]",
        );
    };
    let Ok(d) = d.lock() else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the drift state failed");
    };
    axum::Json(json!({"window": d.window.len(), "features": d.last})).into_response()
}

async fn model(State(s): St, headers: HeaderMap, peer: Option<axum::Extension<Peer>>) -> Response {
    if let Err(r) = s
        .caller(
            &headers,
            peer.map(|p| p.0).unwrap_or_default(),
            &s.config.access.roles,
            "serve-model:model",
        )
        .await
    {
        return r;
    }
    axum::Json(json!({
        "model": s.primary.version,
        "classes": s.primary.file.encoding.classes,
        "metrics": s.primary.file.metrics,
        "privacy": s.primary.file.privacy,
        "candidate": s.candidate.as_ref().map(|c| c.version.clone()),
        "mode": s.config.candidate.as_ref().map(|c| format!("{:?}", c.mode).to_lowercase()),
    }))
    .into_response()
}
