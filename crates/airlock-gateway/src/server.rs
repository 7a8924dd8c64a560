//! The gateway's HTTP server (axum on hyper; rustls unless the address is loopback and the
//! configuration says `tls = false`) and its upstream client (hyper's pooled client, rustls
//! with the system's roots).
//!
//! A call: authenticate (API key or client certificate; roles from access.toml), choose the
//! route (model and role), guard the input, call the upstream with a timeout, guard the
//! answer (each streamed field held back by a small window), answer, and audit: one entry
//! per call in the workspace's log, written by one thread in batches (one signed checkpoint
//! per batch).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use airlock_core::keys::{PurposeKey, WorkspaceSecret};
use airlock_run::Workspace;
use airlock_server::server::Peer;
use airlock_text::TextEngine;
use airlock_vault::Event;

use crate::auth::{Auth, Caller};
use crate::config::{GatewayConfig, Route};
use crate::guard::{Counts, Cut, Held, InputPass, OutputFilter, Refused};
use crate::writer::{Finish, Message, Writer};
use crate::{Error, Result};

/// A callback that receives the operator's access log, one JSON object per call (no text).
pub type AccessLog = Arc<dyn Fn(&Value) + Send + Sync>;

/// What `airlock gateway` needs.
pub struct Options {
    /// The workspace folder (`.airlock/`) whose API keys, access rules and audit log the
    /// gateway uses.
    pub workspace: PathBuf,
    pub config: GatewayConfig,
    pub access_log: Option<AccessLog>,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

struct Upstream {
    base: String,
    key: Option<String>,
    client: HttpsClient,
}

/// The gateway's state.
struct Gateway {
    config: GatewayConfig,
    engine: Arc<TextEngine>,
    /// This process's own random key: each request's surrogates are keyed by a subkey of it.
    key: PurposeKey,
    upstreams: HashMap<String, Upstream>,
    auth: Arc<Auth>,
    writer: Writer,
    access_log: Option<AccessLog>,
    timeout: Duration,
}

/// A gateway ready to listen.
pub struct Prepared {
    gateway: Arc<Gateway>,
    tls: Option<Arc<rustls::ServerConfig>>,
    finish: Finish,
}

/// What a finished run served.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Audit entries written.
    pub audited: u64,
}

/// Opens the workspace, checks the configuration against it, reads the upstreams' keys and
/// starts the audit writer.
pub fn open(options: Options) -> Result<Prepared> {
    let secret = options.workspace.join(airlock_core::keys::SECRET_FILE);
    let mut ws = Workspace::open(Some(&secret))?;
    let actor = gateway_actor();
    let vault = ws.vault_mut().ok_or(airlock_vault::VaultError::NoVault)?;
    vault.require_bound_roles();
    vault.refresh_access(&actor)?;
    let mode = options.config.mode()?;
    let tls = tls(&options.config.server, &options.workspace)?;
    let mut upstreams = HashMap::new();
    for u in &options.config.upstreams {
        upstreams.insert(
            u.name.clone(),
            Upstream {
                base: u.base_url.trim_end_matches('/').to_owned(),
                key: u.api_key()?,
                client: client(u.ca_file.as_deref())?,
            },
        );
    }
    let logger = if options.config.routes.iter().any(|r| r.log_prompts) {
        Some(prompt_logger(vault)?)
    } else {
        None
    };
    let (writer, finish) = Writer::start(
        Workspace::open(Some(&secret))?,
        logger.map(|who| (who, "gateway-prompts")),
        None,
    )?;
    let timeout = Duration::from_secs_f64(options.config.server.upstream_timeout_s);
    let gateway = Gateway {
        engine: Arc::new(TextEngine::without_key().with_mode(mode)),
        key: WorkspaceSecret::generate()
            .map_err(|_| Error::Usage("the system random source failed".into()))?
            .derive(airlock_core::keys::Purpose::Surrogate),
        upstreams,
        auth: Arc::new(Auth::new(ws, actor)),
        writer,
        access_log: options.access_log,
        timeout,
        config: options.config,
    };
    Ok(Prepared {
        gateway: Arc::new(gateway),
        tls,
        finish,
    })
}

/// The TLS configuration `[server]` asks for: its certificate and client roots, or the
/// workspace CA's; `None` for plain HTTP (loopback only: the configuration checked that).
pub(crate) fn tls(
    server: &crate::config::ServerSection,
    workspace: &std::path::Path,
) -> Result<Option<Arc<rustls::ServerConfig>>> {
    if !server.tls {
        return Ok(None);
    }
    let files = airlock_server::ca::CaFiles::of(workspace);
    let (cert, key) = match (&server.cert, &server.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ if files.exists() => (files.server_cert(), files.server_key()),
        _ => {
            return Err(Error::Config(
                "[server] tls needs cert and key, or a workspace CA (`airlock ca init`)".into(),
            ));
        }
    };
    let roots = match &server.client_ca {
        Some(r) => r.clone(),
        None if files.exists() => files.ca_cert(),
        None => {
            return Err(Error::Config(
                "[server] tls needs client_ca, or a workspace CA (`airlock ca init`)".into(),
            ));
        }
    };
    Ok(Some(Arc::new(airlock_server::server::tls_server_config(
        &cert, &key, &roots,
    )?)))
}

fn client(ca_file: Option<&std::path::Path>) -> Result<HttpsClient> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs();
    for cert in native {
        let _ = roots.add(cert);
    }
    if let Some(file) = ca_file {
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(file)
            .map_err(|e| Error::Config(format!("upstream ca_file: {e}")))?
        {
            roots
                .add(cert.map_err(|e| Error::Config(format!("upstream ca_file: {e}")))?)
                .map_err(|e| Error::Config(format!("upstream ca_file: {e}")))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Config(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector))
}

/// The system's root certificates (none where it has no bundle).
fn rustls_native_certs() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

/// The identity the gateway's own entries are recorded as.
fn gateway_actor() -> airlock_vault::Actor {
    airlock_vault::Actor {
        name: "gateway".into(),
        role: "-".into(),
        purpose: "inference".into(),
    }
}

/// The identity prompts are sealed into the vault as: `gateway`, under a role access.toml's
/// `[actors]` binds to it that may write the raw zone. Refused at start when there is none.
fn prompt_logger(vault: &airlock_vault::Vault) -> Result<airlock_vault::Actor> {
    vault
        .roles_of("gateway")
        .into_iter()
        .map(|role| airlock_vault::Actor {
            name: "gateway".into(),
            role,
            purpose: "inference-log".into(),
        })
        .find(|who| vault.may(who, airlock_vault::access::Action::Write, airlock_vault::Zone::Raw))
        .ok_or_else(|| {
            Error::Config(
                "a route logs prompts (log_prompts = true): bind \"gateway\" in access.toml's [actors] to a role that may write the raw zone for purpose inference-log (e.g. \"gateway\" = [\"steward\"])".into(),
            )
        })
}

/// Serves until `shutdown` resolves, then finishes the audit log. `ready` is told the bound
/// address once listening.
pub async fn serve(
    prepared: Prepared,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Summary> {
    let listen = prepared.gateway.config.server.listen;
    let (listener, addr) = airlock_server::server::bind(listen).await?;
    let max_body = prepared.gateway.config.server.max_body_bytes;
    let router = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/completions", post(openai))
        .route("/v1/embeddings", post(openai))
        .route("/v1/models", get(models))
        .fallback(|| async {
            oai_error(
                StatusCode::NOT_FOUND,
                "no such endpoint",
                "invalid_request_error",
                "not_found",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(prepared.gateway.clone());
    ready(addr);
    airlock_server::server::serve_router(listener, prepared.tls, router, shutdown).await;
    // the last calls' entries: the writer ends when the state's sender goes
    drop(prepared.gateway);
    let finish = prepared.finish;
    let audited = tokio::task::spawn_blocking(move || finish.finish())
        .await
        .map_err(|_| Error::Usage("the audit writer failed".into()))??;
    Ok(Summary { audited })
}

/// An error in the shape OpenAI's clients read.
fn oai_error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "error": { "message": message, "type": kind, "code": code, "param": null }
        })),
    )
        .into_response()
}

/// Which API a call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Completions,
    Embeddings,
}

impl Endpoint {
    /// Its name in the audit log.
    fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat.completions",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Chat => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
        }
    }
}

/// Everything the audit entry and access log of one call say.
#[derive(Debug, Default)]
struct Record {
    request_id: String,
    caller: String,
    role: String,
    purpose: String,
    endpoint: &'static str,
    route: Option<usize>,
    upstream: Option<String>,
    model: Option<String>,
    stream: bool,
    status: u16,
    decision: &'static str,
    phi_in: Counts,
    phi_out: Counts,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_sha256: Option<String>,
    completion_sha256: Option<String>,
}

impl Record {
    /// A call's record before anything is known of it but its endpoint and the purpose it
    /// declares (`x-airlock-purpose`, a short label; `inference` otherwise).
    fn start(endpoint: &'static str, headers: &HeaderMap) -> Self {
        Self {
            request_id: request_id(),
            caller: "(unauthenticated)".into(),
            role: "-".into(),
            purpose: headers
                .get(airlock_server::PURPOSE_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|p| airlock_vault::check_label("purpose", p).is_ok() && p.len() <= 60)
                .unwrap_or("inference")
                .to_owned(),
            endpoint,
            ..Default::default()
        }
    }
}

impl Gateway {
    /// The answer to every call once the audit log can no longer be written.
    fn unavailable(&self) -> Option<Response> {
        (!self.writer.alive()).then(|| {
            oai_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written: the gateway takes no calls",
                "server_error",
                "audit_unavailable",
            )
        })
    }

    fn audit(&self, r: &Record, started: Instant) {
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut detail = Map::new();
        detail.insert("request_id".into(), r.request_id.clone().into());
        detail.insert("endpoint".into(), r.endpoint.into());
        if let Some(i) = r.route {
            detail.insert("route".into(), (i + 1).into());
        }
        if let Some(u) = &r.upstream {
            detail.insert("upstream".into(), u.clone().into());
        }
        if let Some(m) = &r.model {
            detail.insert("model".into(), m.clone().into());
        }
        detail.insert("stream".into(), r.stream.into());
        detail.insert("status".into(), r.status.into());
        detail.insert("decision".into(), r.decision.into());
        detail.insert("phi_in".into(), r.phi_in.json());
        detail.insert("phi_out".into(), r.phi_out.json());
        if let Some(n) = r.prompt_tokens {
            detail.insert("prompt_tokens".into(), n.into());
        }
        if let Some(n) = r.completion_tokens {
            detail.insert("completion_tokens".into(), n.into());
        }
        if let Some(h) = &r.completion_sha256 {
            detail.insert("completion_sha256".into(), h.clone().into());
        }
        detail.insert(
            "latency_ms".into(),
            json!((latency_ms * 1000.0).round() / 1000.0),
        );
        let outcome = match r.status {
            200..=299 => "ok",
            401 | 403 => "denied",
            _ => "failed",
        };
        if let Some(log) = &self.access_log {
            let mut line = detail.clone();
            line.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
            line.insert("caller".into(), r.caller.clone().into());
            line.insert("role".into(), r.role.clone().into());
            log(&Value::Object(line));
        }
        let event = Event {
            actor: r.caller.clone(),
            role: r.role.clone(),
            purpose: r.purpose.clone(),
            action: format!("gateway:{}", r.endpoint),
            dataset: None,
            object_sha256: r.prompt_sha256.clone(),
            outcome: outcome.into(),
            detail: Some(detail),
        };
        self.writer.send(Message::Event(event));
    }

    /// Keeps a call's request and answer for the vault, on a route that logs prompts.
    fn log_prompt(&self, rec: &Record, request: Option<Value>, completion: Value) {
        let Some(request) = request else { return };
        let line = json!({
            "request_id": rec.request_id,
            "time": chrono::Utc::now().to_rfc3339(),
            "caller": rec.caller,
            "role": rec.role,
            "route": rec.route.map(|i| i + 1),
            "decision": rec.decision,
            "request": request,
            "completion": completion,
        });
        self.writer.send(Message::Sealed(line));
    }

    /// The route for `model` that one of the caller's roles may use.
    fn route(
        &self,
        model: &str,
        caller: &Caller,
    ) -> std::result::Result<(usize, &Route, String), StatusCode> {
        let mut served = false;
        for (i, r) in self.config.routes.iter().enumerate() {
            if !r.serves(model) {
                continue;
            }
            served = true;
            if let Some(role) = caller.roles.iter().find(|role| r.roles.contains(role)) {
                return Ok((i, r, role.clone()));
            }
        }
        Err(if served {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        })
    }
}

/// A model name as recorded: shaped like a model id, else withheld (a caller could put
/// anything there).
fn shown_model(engine: &TextEngine, model: &str) -> String {
    if crate::guard::model_shaped(model) && engine.detect(model).is_empty() {
        model.to_owned()
    } else {
        "(withheld)".into()
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

fn request_id() -> String {
    let mut b = [0u8; 12];
    let _ = getrandom::fill(&mut b);
    format!("req-{}", data_encoding::HEXLOWER.encode(&b))
}

type GwState = State<Arc<Gateway>>;

/// The three OpenAI endpoints, told apart by their path.
async fn openai(
    State(gw): GwState,
    uri: axum::http::Uri,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    body: Bytes,
) -> Response {
    let endpoint = match uri.path() {
        "/v1/chat/completions" => Endpoint::Chat,
        "/v1/completions" => Endpoint::Completions,
        _ => Endpoint::Embeddings,
    };
    proxy(
        gw,
        endpoint,
        headers,
        peer.map(|p| p.0).unwrap_or_default(),
        body,
    )
    .await
}

async fn proxy(
    gw: Arc<Gateway>,
    endpoint: Endpoint,
    headers: HeaderMap,
    peer: Peer,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let mut rec = Record::start(endpoint.name(), &headers);
    let mut response = handle(&gw, endpoint, &headers, peer, body, &mut rec, started).await;
    if let Ok(v) = HeaderValue::from_str(&rec.request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// Answers one call; fills `rec` and audits it (a stream audits when it ends).
async fn handle(
    gw: &Arc<Gateway>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    peer: Peer,
    body: Bytes,
    rec: &mut Record,
    started: Instant,
) -> Response {
    macro_rules! refuse {
        ($status:expr, $decision:expr, $msg:expr, $kind:expr, $code:expr) => {{
            rec.status = $status.as_u16();
            rec.decision = $decision;
            gw.audit(rec, started);
            let message = String::from($msg);
            return oai_error($status, &message, $kind, $code);
        }};
    }
    if let Some(refused) = gw.unavailable() {
        return refused;
    }
    let caller = match crate::auth::authenticate(gw.auth.clone(), headers.clone(), peer).await {
        Ok(c) => c,
        Err(why) => refuse!(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!("not authenticated: {why}"),
            "authentication_error",
            "invalid_api_key"
        ),
    };
    rec.caller = caller.name.clone();
    let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(&body) else {
        refuse!(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body is not a JSON object",
            "invalid_request_error",
            "invalid_json"
        )
    };
    rec.prompt_sha256 = Some(hex_sha256(&body));
    let Some(model) = request
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        refuse!(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request names no model",
            "invalid_request_error",
            "missing_model"
        )
    };
    rec.model = Some(shown_model(&gw.engine, &model));
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    rec.stream = stream;
    if stream && endpoint == Endpoint::Embeddings {
        refuse!(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "embeddings are not streamed",
            "invalid_request_error",
            "invalid_stream"
        )
    }
    let (index, route, role) = match gw.route(&model, &caller) {
        Ok(r) => r,
        Err(StatusCode::FORBIDDEN) => refuse!(
            StatusCode::FORBIDDEN,
            "no_role",
            format!(
                "{} has no role that may use this model (the gateway's routes, access.toml [actors])",
                caller.name
            ),
            "permission_error",
            "route_denied"
        ),
        Err(_) => refuse!(
            StatusCode::NOT_FOUND,
            "no_route",
            "no route serves this model",
            "invalid_request_error",
            "model_not_found"
        ),
    };
    rec.role = role;
    rec.route = Some(index);
    let logged = route
        .log_prompts
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten();
    rec.upstream = Some(route.upstream.clone());
    let Some(upstream) = gw.upstreams.get(&route.upstream) else {
        refuse!(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_upstream",
            "the route's upstream is not configured",
            "server_error",
            "upstream_missing"
        )
    };
    // the input guardrail: a route to an upstream without a BAA never sends identifiers
    // (the configuration refuses `allow` there; this holds whatever a request asks)
    let action = route.input;
    let mut shift = [0u8; 2];
    let _ = getrandom::fill(&mut shift);
    let shift_days = 30 + i32::from(u16::from_le_bytes(shift) % 300);
    let request_key = gw.key.subkey(&rec.request_id);
    let mut pass = InputPass::new(gw.engine.clone(), action, request_key, shift_days);
    let mut body_value = Value::Object(std::mem::take(&mut request));
    let guarded = pass.body(&mut body_value);
    rec.phi_in = pass.found.clone();
    match guarded {
        Ok(()) => {}
        Err(Refused::Identifiers(found)) => refuse!(
            StatusCode::FORBIDDEN,
            "blocked_input",
            format!(
                "the request holds identifiers this route does not send upstream: {}",
                found.kinds()
            ),
            "invalid_request_error",
            "phi_blocked"
        ),
        Err(Refused::Unscannable(what)) => refuse!(
            StatusCode::BAD_REQUEST,
            "unscannable_input",
            format!("the request holds {what}, which the guardrail cannot read; it is not sent"),
            "invalid_request_error",
            "unscannable_content"
        ),
        Err(Refused::KeyIdentifier) => refuse!(
            StatusCode::BAD_REQUEST,
            "unscannable_input",
            "an object key holds an identifier, or the model's name is not shaped like a model id (they are not rewritten); it is not sent",
            "invalid_request_error",
            "unscannable_content"
        ),
    }
    if let (Some(m), Value::Object(o)) = (&route.upstream_model, &mut body_value) {
        o.insert("model".into(), Value::String(m.clone()));
    }
    let out_body = match serde_json::to_vec(&body_value) {
        Ok(b) => b,
        Err(_) => refuse!(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "the request could not be written",
            "server_error",
            "internal"
        ),
    };
    let uri = format!("{}{}", upstream.base, endpoint.path());
    let mut req = hyper::Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::ACCEPT,
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        );
    if let Some(key) = &upstream.key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let Ok(req) = req.body(Full::new(Bytes::from(out_body))) else {
        refuse!(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "the upstream request could not be made",
            "server_error",
            "internal"
        )
    };
    let answer = match tokio::time::timeout(gw.timeout, upstream.client.request(req)).await {
        Ok(Ok(a)) => a,
        Ok(Err(_)) => refuse!(
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "the upstream could not be reached",
            "server_error",
            "upstream_unreachable"
        ),
        Err(_) => refuse!(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the upstream did not answer in time",
            "server_error",
            "upstream_timeout"
        ),
    };
    let status = answer.status();
    if !status.is_success() {
        // the upstream's own message may quote the prompt: only its status is passed on
        let code = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        refuse!(
            code,
            "upstream_error",
            format!("the upstream answered {}", status.as_u16()),
            "upstream_error",
            "upstream_error"
        )
    }
    let filter = pass.output(route.output, route.rehydrate);
    if stream {
        return stream_answer(
            gw.clone(),
            answer.into_body(),
            filter,
            std::mem::take(rec),
            started,
            logged,
        );
    }
    let collected = tokio::time::timeout(
        gw.timeout,
        http_body_util::Limited::new(answer.into_body(), 64 << 20).collect(),
    )
    .await;
    let bytes = match collected {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(_)) => refuse!(
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "the upstream's answer broke off",
            "server_error",
            "upstream_broken"
        ),
        Err(_) => refuse!(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the upstream did not finish its answer in time",
            "server_error",
            "upstream_timeout"
        ),
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        refuse!(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "the upstream's answer is not JSON",
            "server_error",
            "upstream_invalid"
        )
    };
    let mut filter = filter;
    if let Err(Cut(found)) = guard_answer(&mut value, None, &mut filter) {
        rec.phi_out = found.clone();
        refuse!(
            StatusCode::BAD_GATEWAY,
            "blocked_output",
            format!(
                "the upstream's answer held identifiers that were not in the request ({}); it was withheld",
                found.kinds()
            ),
            "server_error",
            "phi_in_completion"
        )
    }
    rec.phi_out = filter.found.clone();
    usage(&value, rec);
    let out = match serde_json::to_vec(&value) {
        Ok(b) => b,
        Err(_) => refuse!(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "the answer could not be written",
            "server_error",
            "internal"
        ),
    };
    rec.completion_sha256 = Some(hex_sha256(&out));
    rec.status = 200;
    rec.decision = if rec.phi_out.total() > 0 {
        "redacted_output"
    } else {
        "forwarded"
    };
    gw.audit(rec, started);
    gw.log_prompt(rec, logged, value);
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

fn usage(value: &Value, rec: &mut Record) {
    if let Some(u) = value.get("usage") {
        rec.prompt_tokens = u
            .get("prompt_tokens")
            .and_then(Value::as_u64)
            .or(rec.prompt_tokens);
        rec.completion_tokens = u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .or(rec.completion_tokens);
    }
}

/// Guards every content string of an answer (all but the structural fields).
fn guard_answer(
    v: &mut Value,
    key: Option<&str>,
    filter: &mut OutputFilter,
) -> std::result::Result<(), Cut> {
    match v {
        Value::String(s) if !key.is_some_and(is_structural) => {
            *s = filter.text(s)?;
        }
        Value::Array(items) => {
            for item in items {
                guard_answer(item, key, filter)?;
            }
        }
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                guard_answer(child, Some(k), filter)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_structural(key: &str) -> bool {
    crate::guard::STRUCTURAL.contains(&key)
}

/// Guards a streamed chunk in place: each text field (by its path, a tool call by its index)
/// keeps its own held-back window.
fn guard_chunk(
    v: &mut Value,
    path: &mut String,
    key: Option<&str>,
    filter: &mut OutputFilter,
    held: &mut HashMap<String, Held>,
) -> std::result::Result<(), Cut> {
    match v {
        Value::String(s) if !key.is_some_and(is_structural) => {
            let h = held.entry(path.clone()).or_default();
            *s = filter.push(h, s)?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let at = item
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(i as u64);
                let len = path.len();
                path.push_str(&format!("/{at}"));
                guard_chunk(item, path, key, filter, held)?;
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                guard_chunk(child, path, Some(k), filter, held)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The rest of every held field of choice `choice` (paths under `/choices/N/`), put into
/// `chunk` (a chunk of that choice) before its finish.
fn flush_choice(
    chunk: &mut Value,
    prefix: &str,
    filter: &mut OutputFilter,
    held: &mut HashMap<String, Held>,
) -> std::result::Result<(), Cut> {
    let paths: Vec<String> = held
        .keys()
        .filter(|p| p.starts_with(prefix))
        .cloned()
        .collect();
    for p in paths {
        let Some(mut h) = held.remove(&p) else {
            continue;
        };
        let rest = filter.finish(&mut h)?;
        if rest.is_empty() {
            continue;
        }
        // the field's place in this chunk (its choice found by index), made if it lacks it
        set_string_at(chunk, &p, rest);
    }
    Ok(())
}

/// Appends `text` to the string at `pointer` (our paths: keys, and array positions by their
/// `index`), making objects on the way.
fn set_string_at(root: &mut Value, pointer: &str, text: String) {
    let mut at = root;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Ok(n) = part.parse::<u64>()
            && at.is_array()
        {
            let Some(items) = at.as_array_mut() else {
                return;
            };
            let pos = items
                .iter()
                .position(|it| it.get("index").and_then(Value::as_u64) == Some(n));
            let pos = match pos {
                Some(p) => p,
                None => {
                    items.push(json!({ "index": n }));
                    items.len() - 1
                }
            };
            at = &mut items[pos];
            continue;
        }
        if !at.is_object() {
            return;
        }
        let Some(map) = at.as_object_mut() else {
            return;
        };
        if last {
            let entry = map
                .entry(part.to_string())
                .or_insert_with(|| Value::String(String::new()));
            if let Value::String(s) = entry {
                s.push_str(&text);
            } else {
                *entry = Value::String(text);
            }
            return;
        }
        let next_is_index = parts.get(i + 1).is_some_and(|p| p.parse::<u64>().is_ok());
        at = map
            .entry(part.to_string())
            .or_insert_with(|| if next_is_index { json!([]) } else { json!({}) });
    }
}

/// Streams the upstream's server-sent events through the output guardrail.
fn stream_answer(
    gw: Arc<Gateway>,
    body: hyper::body::Incoming,
    filter: OutputFilter,
    mut rec: Record,
    started: Instant,
    logged: Option<Value>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let out = Events(rx);
    tokio::spawn(async move {
        let mut filter = filter;
        let mut body = body;
        let mut buf: Vec<u8> = Vec::new();
        let mut held: HashMap<String, Held> = HashMap::new();
        let mut hasher = Sha256::new();
        let mut sent = String::new();
        let mut decision = "forwarded";
        let mut status = 200u16;
        'read: loop {
            let frame = match tokio::time::timeout(gw.timeout, body.frame()).await {
                Ok(Some(Ok(f))) => f,
                Ok(None) => break,
                Ok(Some(Err(_))) => {
                    decision = "upstream_broken";
                    status = 502;
                    let _ = tx
                        .send(error_event(
                            "the upstream's stream broke off",
                            "upstream_broken",
                        ))
                        .await;
                    break;
                }
                Err(_) => {
                    decision = "upstream_timeout";
                    status = 504;
                    let _ = tx
                        .send(error_event(
                            "the upstream's stream stalled",
                            "upstream_timeout",
                        ))
                        .await;
                    break;
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            if buf.len() > MAX_EVENT {
                // an event that never ends would hold memory without bound
                decision = "upstream_broken";
                status = 502;
                let _ = tx
                    .send(error_event(
                        "the upstream sent an event larger than the gateway takes",
                        "upstream_invalid",
                    ))
                    .await;
                break;
            }
            // whole events only: an event ends with a blank line
            while let Some(end) = find_event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end).collect();
                let text = String::from_utf8_lossy(&event);
                let mut outgoing = String::new();
                let mut done = false;
                for line in text.lines() {
                    let Some(data) = line.strip_prefix("data:") else {
                        continue;
                    };
                    let data = data.trim_start();
                    if data == "[DONE]" {
                        done = true;
                        continue;
                    }
                    let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
                        continue;
                    };
                    usage(&chunk, &mut rec);
                    let mut path = String::new();
                    let mut result =
                        guard_chunk(&mut chunk, &mut path, None, &mut filter, &mut held);
                    // a choice that finishes releases what its fields still hold
                    if result.is_ok()
                        && let Some(choices) =
                            chunk.get("choices").and_then(Value::as_array).cloned()
                    {
                        for (i, c) in choices.iter().enumerate() {
                            if c.get("finish_reason").is_some_and(|f| !f.is_null()) {
                                let n = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
                                let prefix = format!("/choices/{n}/");
                                if let Some(slot) =
                                    chunk.get_mut("choices").and_then(|c| c.get_mut(i))
                                {
                                    let mut wrapped = json!({ "choices": [slot.take()] });
                                    if let Some(obj) = wrapped["choices"][0].as_object_mut() {
                                        obj.insert("index".into(), n.into());
                                    }
                                    result =
                                        flush_choice(&mut wrapped, &prefix, &mut filter, &mut held);
                                    *slot = wrapped["choices"][0].take();
                                }
                            }
                        }
                    }
                    if let Err(Cut(found)) = result {
                        rec.phi_out = found;
                        decision = "blocked_output";
                        let _ = tx.send(error_event("the upstream's answer held identifiers that were not in the request; the rest is withheld", "phi_in_completion")).await;
                        break 'read;
                    }
                    let line = chunk.to_string();
                    hasher.update(line.as_bytes());
                    if logged.is_some() {
                        sent.push_str(&line);
                        sent.push('\n');
                    }
                    outgoing.push_str("data: ");
                    outgoing.push_str(&line);
                    outgoing.push_str("\n\n");
                }
                if done {
                    // fields no finish released
                    if !held.is_empty() {
                        let mut tail = json!({ "object": "chat.completion.chunk", "choices": [] });
                        match flush_choice(&mut tail, "/", &mut filter, &mut held) {
                            Ok(()) => {
                                let line = tail.to_string();
                                hasher.update(line.as_bytes());
                                outgoing.push_str(&format!("data: {line}\n\n"));
                            }
                            Err(Cut(found)) => {
                                rec.phi_out = found;
                                decision = "blocked_output";
                                let _ = tx.send(Bytes::from(outgoing)).await;
                                let _ = tx.send(error_event("the upstream's answer held identifiers that were not in the request; the rest is withheld", "phi_in_completion")).await;
                                break 'read;
                            }
                        }
                    }
                    outgoing.push_str("data: [DONE]\n\n");
                }
                if !outgoing.is_empty() && tx.send(Bytes::from(outgoing)).await.is_err() {
                    decision = "client_gone";
                    break 'read;
                }
            }
        }
        if decision == "forwarded" {
            rec.phi_out = filter.found.clone();
            if rec.phi_out.total() > 0 {
                decision = "redacted_output";
            }
        }
        rec.status = status;
        rec.decision = decision;
        rec.completion_sha256 = Some(data_encoding::HEXLOWER.encode(&hasher.finalize()));
        gw.audit(&rec, started);
        gw.log_prompt(&rec, logged, Value::String(sent));
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::new(out))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A streamed answer's body: the events the stream's task sends, to the last.
///
/// Not `http_body_util::channel::Channel`: it looks at its queue, then at whether its sender
/// is gone, and ends the body if the queue was empty and the sender gone, though the sender
/// may have queued its last events in between. A stream's task ends right after its last
/// events, so under load answers lost their tails, `[DONE]` with them (the gateway load
/// test's streams, about one run in two on a busy 2-core machine; none in ten since).
struct Events(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Events {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        // `None` only once every sender is gone and the queue is empty
        self.0
            .poll_recv(cx)
            .map(|event| event.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// The largest server-sent event taken from an upstream.
const MAX_EVENT: usize = 8 << 20;

fn error_event(message: &str, code: &str) -> Bytes {
    let v = json!({ "error": { "message": message, "type": "airlock_guardrail", "code": code } });
    Bytes::from(format!("data: {v}\n\n"))
}

/// Where the first complete server-sent event in `buf` ends (after its blank line).
fn find_event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `GET /v1/models`: the models the caller's roles may use (the routes' exact names, and what
/// their upstreams list that a pattern of theirs serves).
async fn models(
    State(gw): GwState,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
) -> Response {
    let started = Instant::now();
    if let Some(refused) = gw.unavailable() {
        return refused;
    }
    let mut rec = Record::start("models", &headers);
    let caller = match crate::auth::authenticate(
        gw.auth.clone(),
        headers.clone(),
        peer.map(|p| p.0).unwrap_or_default(),
    )
    .await
    {
        Ok(c) => c,
        Err(why) => {
            rec.status = 401;
            rec.decision = "unauthenticated";
            gw.audit(&rec, started);
            return oai_error(
                StatusCode::UNAUTHORIZED,
                &format!("not authenticated: {why}"),
                "authentication_error",
                "invalid_api_key",
            );
        }
    };
    rec.caller = caller.name.clone();
    let usable: Vec<&Route> = gw
        .config
        .routes
        .iter()
        .filter(|r| caller.roles.iter().any(|role| r.roles.contains(role)))
        .collect();
    let mut names: Vec<String> = usable
        .iter()
        .flat_map(|r| r.models.iter())
        .filter(|m| !m.ends_with('*'))
        .cloned()
        .collect();
    let mut asked = std::collections::HashSet::new();
    for r in usable
        .iter()
        .filter(|r| r.models.iter().any(|m| m.ends_with('*')))
    {
        if !asked.insert(r.upstream.clone()) {
            continue;
        }
        let name = r.upstream.as_str();
        let Some(up) = gw.upstreams.get(name) else {
            continue;
        };
        let mut req = hyper::Request::get(format!("{}/models", up.base));
        if let Some(key) = &up.key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let Ok(req) = req.body(Full::new(Bytes::new())) else {
            continue;
        };
        let Ok(Ok(answer)) = tokio::time::timeout(gw.timeout, up.client.request(req)).await else {
            continue;
        };
        if !answer.status().is_success() {
            continue;
        }
        let Ok(Ok(body)) = tokio::time::timeout(
            gw.timeout,
            http_body_util::Limited::new(answer.into_body(), 8 << 20).collect(),
        )
        .await
        else {
            continue;
        };
        let listed: Value = serde_json::from_slice(&body.to_bytes()).unwrap_or(Value::Null);
        for m in listed
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = m.get("id").and_then(Value::as_str)
                && usable.iter().any(|r| r.upstream == name && r.serves(id))
            {
                names.push(id.to_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    rec.status = 200;
    rec.decision = "listed";
    rec.role = caller.roles.first().cloned().unwrap_or_else(|| "-".into());
    gw.audit(&rec, started);
    let data: Vec<Value> = names
        .iter()
        .map(|n| json!({ "id": n, "object": "model", "created": 0, "owned_by": "airlock-gateway" }))
        .collect();
    axum::Json(json!({ "object": "list", "data": data })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events queued and then the sender gone (a stream's task at its end): the body gives
    /// every one, in order, and then ends.
    #[tokio::test]
    async fn a_streamed_body_keeps_what_was_queued_when_its_task_ends() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1024);
        for i in 0..1000 {
            tx.send(Bytes::from(format!("data: {i}\n\n"))).await.ok();
        }
        drop(tx);
        let got = Events(rx).collect().await.map(|c| c.to_bytes());
        let got = match got {
            Ok(b) => b,
            Err(never) => match never {},
        };
        let text = String::from_utf8_lossy(&got);
        assert_eq!(text.matches("data: ").count(), 1000);
        assert!(text.ends_with("data: 999\n\n"));
    }
}
