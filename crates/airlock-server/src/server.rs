//! The HTTPS server (axum on hyper, rustls with ring). Each connection's TLS handshake may
//! carry a client certificate (verified against the workspace CA); each request is then
//! authenticated (that certificate, found in the catalog by fingerprint, or an API key in
//! `Authorization: Bearer`), its role checked against the identity's bindings, and only then
//! does the vault decide and audit. The vault's decisions are the library's: the same calls
//! the local CLI makes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde_json::{Value, json};

use airlock_run::Workspace;
use airlock_vault::{Actor, CredentialKind, Vault, VaultError, Zone};

use crate::ca::CaFiles;
use crate::{DATASET_HEADER, Error, PURPOSE_HEADER, ROLE_HEADER, Result};

/// What `airlock serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The workspace folder (`.airlock/`) whose keys the server holds.
    pub workspace: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// An OIDC issuer whose bearer tokens identify people (`oidc:SUB`).
    pub oidc: Option<crate::oidc::OidcConfig>,
}

/// A server ready to listen: the workspace it holds, its TLS configuration, its OIDC issuer.
pub struct Prepared {
    pool: Vec<Workspace>,
    tls: rustls::ServerConfig,
    oidc: Option<crate::oidc::Oidc>,
}

/// The certificate a connection's client presented (its SHA-256), if any: a request
/// extension set by [`serve_router`].
#[derive(Debug, Clone, Default)]
pub struct Peer(pub Option<String>);

/// The server's state: handles on the workspace (its vault and secret), and the API keys
/// already checked (their SHA-256) so argon2id runs once per key.
struct App {
    pool: Pool,
    checked_keys: crate::apikey::Checked,
    oidc: Option<crate::oidc::Oidc>,
}

/// Open handles on the workspace: each its own catalog connection and keyring view, so that
/// operations on different datasets overlap (SQLite and the audit log's file lock serialize
/// what must be; the vault is safe with several handles, as with several processes).
const POOL: usize = 4;

struct Pool {
    members: Vec<Mutex<Workspace>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Pool {
    fn new(members: Vec<Workspace>) -> Self {
        Self {
            members: members.into_iter().map(Mutex::new).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A free handle, or the next one in turn when all are busy.
    fn lock(&self) -> std::result::Result<std::sync::MutexGuard<'_, Workspace>, Refusal> {
        let n = self.members.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.members[(start + i) % n].try_lock() {
                return Ok(guard);
            }
        }
        self.members[start % n].lock().map_err(|_| poisoned())
    }
}

/// The identity the server itself records changes under (access.toml edits it notices).
fn server_actor() -> Actor {
    Actor {
        name: "server".into(),
        role: "-".into(),
        purpose: "access rules changed".into(),
    }
}

/// Opens the workspace the server will hold: its vault in server mode (roles only where
/// `[actors]` binds them), the TLS configuration from its CA, the OIDC issuer's keys.
pub fn open(config: &ServeConfig) -> Result<Prepared> {
    let secret = config.workspace.join(airlock_core::keys::SECRET_FILE);
    let pool = (0..POOL)
        .map(|_| {
            let mut ws = Workspace::open(Some(&secret))?;
            ws.vault_mut()
                .ok_or(VaultError::NoVault)?
                .require_bound_roles();
            Ok(ws)
        })
        .collect::<Result<Vec<_>>>()?;
    let files = CaFiles::of(&config.workspace);
    if !files.exists() {
        return Err(Error::Usage(
            "this workspace has no CA: run `airlock ca init` first (it makes the server's certificate)".into(),
        ));
    }
    let oidc = config
        .oidc
        .clone()
        .map(crate::oidc::Oidc::discover)
        .transpose()?;
    Ok(Prepared {
        pool,
        tls: tls_config(&files)?,
        oidc,
    })
}

fn tls_config(files: &CaFiles) -> Result<rustls::ServerConfig> {
    tls_server_config(&files.server_cert(), &files.server_key(), &files.ca_cert())
}

/// A TLS server configuration (HTTP/1.1): the certificate chain and key (PEM) the server
/// presents, and the roots client certificates must chain to. A connection without a
/// client certificate is let through the handshake: each request must then authenticate
/// with a bearer credential.
pub fn tls_server_config(
    cert: &Path,
    key: &Path,
    client_roots: &Path,
) -> Result<rustls::ServerConfig> {
    server_tls(cert, key, client_roots, None)
}

/// A TLS configuration that admits only clients whose certificate `client_roots` issued and
/// `crl` (that CA's revocation list, PEM) does not name: the handshake of any other client
/// fails (a federation's mutual TLS).
pub fn mutual_tls_server_config(
    cert: &Path,
    key: &Path,
    client_roots: &Path,
    crl: &Path,
) -> Result<rustls::ServerConfig> {
    server_tls(cert, key, client_roots, Some(crl))
}

fn server_tls(
    cert: &Path,
    key: &Path,
    client_roots: &Path,
    crl: Option<&Path>,
) -> Result<rustls::ServerConfig> {
    let tls = |what: &Path| {
        let what = airlock_core::shown::path(what).to_string();
        move |e: rustls::pki_types::pem::Error| Error::Tls(format!("{what}: {e}"))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(client_roots).map_err(tls(client_roots))? {
        roots
            .add(cert.map_err(tls(client_roots))?)
            .map_err(|e| Error::Tls(e.to_string()))?;
    }
    let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    );
    let verifier = match crl {
        Some(crl) => {
            let crls = rustls::pki_types::CertificateRevocationListDer::pem_file_iter(crl)
                .map_err(tls(crl))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(tls(crl))?;
            builder.with_crls(crls).build()
        }
        // a connection without a certificate may still authenticate each request with an
        // API key
        None => builder.allow_unauthenticated().build(),
    }
    .map_err(|e| Error::Tls(e.to_string()))?;
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(tls(cert))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(tls(cert))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(tls(key))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves until `shutdown` resolves. `ready` is told the bound address once listening.
pub async fn serve(
    prepared: Prepared,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let (listener, addr) = bind(listen).await?;
    let app = Arc::new(App {
        pool: Pool::new(prepared.pool),
        checked_keys: crate::apikey::Checked::default(),
        oidc: prepared.oidc,
    });
    ready(addr);
    serve_router(
        listener,
        Some(Arc::new(prepared.tls)),
        routes(app),
        shutdown,
    )
    .await;
    Ok(())
}

/// Listens on `listen` (port 0: any free one); the address it got.
pub async fn bind(listen: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
    Ok((listener, addr))
}

/// Serves `router` on `listener` until `shutdown` resolves: over TLS when `tls` is given
/// (each request then carries the client certificate's [`Peer`] fingerprint, if any), else
/// plain HTTP/1.1 (the caller has made sure the address is loopback). A handshake or a
/// request's headers that take too long end the connection.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(_) => continue,
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    );
                    let Ok(Ok(tls)) = handshake.await else {
                        return;
                    };
                    let peer = Peer(
                        tls.get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| crate::ca::fingerprint(c)),
                    );
                    serve_connection(tls, peer, router).await;
                }
                None => serve_connection(tcp, Peer(None), router).await,
            }
        });
    }
}

async fn serve_connection<S>(io: S, peer: Peer, router: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer.clone());
            tower::ServiceExt::oneshot(router.clone(), req)
        });
    // a client that sends its headers slowly is dropped
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(30))
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/datasets", get(list).post(put))
        .route("/v1/datasets/{id}", get(fetch))
        .route("/v1/datasets/{id}/promote", post(promote))
        .route("/v1/datasets/{id}/approve", post(approve))
        .route("/v1/datasets/{id}/shred", post(shred))
        .route("/v1/datasets/{id}/deid", post(deid))
        .route("/v1/datasets/{id}/canaries", post(canaries))
        .route("/v1/artifacts", post(artifact))
        .route("/v1/retention/apply", post(retention))
        .route("/v1/keys/rotate", post(rotate))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/audit/head", get(audit_head))
        .route("/v1/audit/entries", get(audit_entries))
        .route("/v1/audit/log", get(audit_log))
        .route("/v1/audit/pubkey", get(audit_pubkey))
        .route("/v1/lineage/pubkey", get(lineage_pubkey))
        .fallback(|| async { failure(StatusCode::NOT_FOUND, "no such endpoint".into(), None) })
        .with_state(app)
}

/// What a request says about who it is.
#[derive(Clone)]
struct Claim {
    bearer: Option<String>,
    peer: Option<String>,
    role: String,
    purpose: String,
}

impl Claim {
    fn from(headers: &HeaderMap, peer: &Peer) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        Self {
            bearer: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned),
            peer: peer.0.clone(),
            role: text(ROLE_HEADER),
            purpose: text(PURPOSE_HEADER),
        }
    }
}

/// A refusal before the vault was asked.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
    hint: Option<String>,
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Vault(v) | Error::Run(airlock_run::RunError::Vault(v)) => vault_status(v),
            Error::Usage(_) => StatusCode::BAD_REQUEST,
            Error::Core(_) | Error::Run(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            status,
            message: airlock_core::shown::escape_message(&message, 2000),
            hint: e.hint(),
        }
    }
}

impl From<VaultError> for Refusal {
    fn from(e: VaultError) -> Self {
        Error::Vault(e).into()
    }
}

fn vault_status(e: &VaultError) -> StatusCode {
    match e {
        VaultError::Denied { .. } => StatusCode::FORBIDDEN,
        VaultError::UnknownDataset(_) => StatusCode::NOT_FOUND,
        VaultError::Shredded(_) => StatusCode::GONE,
        VaultError::Gate { .. } => StatusCode::CONFLICT,
        VaultError::BadLabel { .. }
        | VaultError::BadIdentity
        | VaultError::UnknownZone(_)
        | VaultError::Access { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn failure(status: StatusCode, message: String, hint: Option<String>) -> Response {
    (
        status,
        axum::Json(json!({ "status": "error", "error": message, "hint": hint })),
    )
        .into_response()
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        failure(self.status, self.message, self.hint)
    }
}

fn unauthenticated(why: &str) -> Refusal {
    Refusal {
        status: StatusCode::UNAUTHORIZED,
        message: format!("not authenticated: {why}"),
        hint: Some("present a client certificate from `airlock ca issue` (--cert, --cert-key), an OIDC token from the configured issuer (AIRLOCK_TOKEN) or an API key from `airlock apikey create` (AIRLOCK_API_KEY)".into()),
    }
}

impl App {
    /// Runs `f` with the workspace and the authenticated actor, on a blocking thread. The
    /// access rules are re-read first (a change is versioned and audited), the caller is
    /// authenticated, and `needs_role` asks that the claimed role be bound to the identity
    /// (the vault checks the rest, and audits refusals).
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        claim: Claim,
        needs_role: bool,
        f: impl FnOnce(&Workspace, &Actor) -> std::result::Result<T, Refusal> + Send + 'static,
    ) -> std::result::Result<T, Refusal> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            // bearer credentials are checked before the workspace is locked for the operation:
            // an OIDC token may fetch keys, an API key's argon2id takes tens of milliseconds
            let bearer_subject = match claim.bearer.as_deref() {
                Some(_) if claim.peer.is_some() => {
                    return Err(unauthenticated(
                        "the request carries both a client certificate and a bearer credential; present one",
                    ));
                }
                Some(key) if key.starts_with(crate::apikey::PREFIX) => Some(app.check_key(key)?),
                Some(token) => Some(app.check_token(token)?),
                None => None,
            };
            let mut ws = app.pool.lock()?;
            let vault = ws.vault_mut().ok_or(VaultError::NoVault)?;
            vault.refresh_access(&server_actor())?;
            let subject = match bearer_subject {
                Some(s) => s,
                None => app.identify_peer(vault, &claim)?,
            };
            let who = Actor {
                name: subject,
                role: claim.role,
                purpose: claim.purpose,
            };
            airlock_vault::check_actor(&who)?;
            if needs_role && (who.role.is_empty() || who.purpose.is_empty()) {
                return Err(Refusal {
                    status: StatusCode::BAD_REQUEST,
                    message: "this operation needs a role and a purpose (--role, --purpose)".into(),
                    hint: None,
                });
            }
            // the claimed role must be bound to the identity; an identity bound to none may
            // do nothing at all (not even list or read the log). Refusals are recorded.
            let roles = vault.roles_of(&who.name);
            let refused = if roles.is_empty() {
                Some((
                    format!(
                        "{} is bound to no role (access.toml [actors]): it may do nothing here",
                        who.name
                    ),
                    None,
                ))
            } else if (needs_role || !who.role.is_empty()) && !roles.contains(&who.role) {
                // a role claimed where none is needed is still checked: the log records it
                Some((
                    format!(
                        "{} is not bound to role {} (access.toml [actors])",
                        who.name,
                        airlock_core::shown::escape(&who.role, 60)
                    ),
                    Some(format!("roles bound to {}: {roles:?}", who.name)),
                ))
            } else {
                None
            };
            if let Some((message, hint)) = refused {
                vault.record(&[airlock_vault::Event {
                    actor: who.name.clone(),
                    role: who.role.clone(),
                    purpose: who.purpose.clone(),
                    action: "role".into(),
                    outcome: "denied".into(),
                    ..Default::default()
                }])?;
                return Err(Refusal {
                    status: StatusCode::FORBIDDEN,
                    message,
                    hint,
                });
            }
            f(&ws, &who)
        })
        .await
        .map_err(|_| Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the operation failed inside the server".into(),
            hint: None,
        })?
    }

    /// The identity a client certificate proves: `cert:NAME` for one this workspace issued
    /// and has not revoked.
    fn identify_peer(&self, vault: &Vault, claim: &Claim) -> std::result::Result<String, Refusal> {
        let Some(fp) = &claim.peer else {
            return Err(unauthenticated("no client certificate and no API key"));
        };
        vault
            .live_credentials(CredentialKind::Cert, fp)?
            .into_iter()
            .next()
            .map(|c| c.subject)
            .ok_or_else(|| {
                unauthenticated(
                    "this certificate is not one the workspace issued, or it was revoked",
                )
            })
    }

    /// The identity an OIDC token proves.
    fn check_token(&self, token: &str) -> std::result::Result<String, Refusal> {
        let Some(oidc) = &self.oidc else {
            return Err(unauthenticated(
                "this server accepts no OIDC tokens (start it with --oidc-issuer)",
            ));
        };
        oidc.verify(token)
            .map_err(|why| unauthenticated(&format!("the OIDC token is refused: {why}")))
    }

    /// The identity an API key proves (`key:NAME`). The workspace is held only to read the
    /// key's row; the argon2id check runs outside it, once per key (then by its SHA-256), and
    /// a revocation counts from the next request.
    fn check_key(&self, key: &str) -> std::result::Result<String, Refusal> {
        let cred = {
            let ws = self.pool.lock()?;
            crate::apikey::lookup(vault_of(&ws)?, key).map_err(Refusal::from)?
        };
        self.checked_keys
            .verify(cred, key)
            .ok_or_else(|| unauthenticated("the API key is unknown or revoked"))
    }
}

fn poisoned() -> Refusal {
    Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "the server failed while it held the workspace".into(),
        hint: None,
    }
}

fn ok(value: Value) -> Response {
    let mut v = json!({ "status": "ok" });
    if let (Some(o), Value::Object(add)) = (v.as_object_mut(), value) {
        o.extend(add);
    }
    axum::Json(v).into_response()
}

/// Runs an operation for the caller and answers with its JSON or its refusal.
async fn answer(
    app: &Arc<App>,
    claim: Claim,
    needs_role: bool,
    f: impl FnOnce(&Workspace, &Actor) -> std::result::Result<Value, Refusal> + Send + 'static,
) -> Response {
    respond(app.run(claim, needs_role, f).await)
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Claim {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<Peer>().cloned().unwrap_or_default();
        Ok(Self::from(&parts.headers, &peer))
    }
}

fn respond(result: std::result::Result<Value, Refusal>) -> Response {
    match result {
        Ok(v) => ok(v),
        Err(r) => r.into_response(),
    }
}

fn vault_of(ws: &Workspace) -> std::result::Result<&Vault, Refusal> {
    Ok(ws.vault().ok_or(VaultError::NoVault)?)
}

type AppState = State<Arc<App>>;

async fn whoami(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, false, |ws, who| {
        Ok(json!({ "identity": who.name, "roles": vault_of(ws)?.roles_of(&who.name) }))
    })
    .await
}

async fn list(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, false, |ws, who| {
        Ok(json!({ "datasets": vault_of(ws)?.list(who)? }))
    })
    .await
}

#[derive(Deserialize)]
struct PutQuery {
    name: String,
    /// The zone asked for: anything but raw is refused by the vault (and audited).
    #[serde(default = "raw")]
    zone: String,
}

fn raw() -> String {
    Zone::Raw.as_str().into()
}

/// `put`: the upload is staged (`stage`), then stored in the vault.
async fn put(
    State(app): AppState,
    claim: Claim,
    Query(q): Query<PutQuery>,
    body: Body,
) -> Response {
    let (tmp, staged) = match stage(&app, &claim, body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    answer(&app, claim, true, move |ws, who| {
        let zone = Zone::parse(&q.zone)?;
        let ds = vault_of(ws)?.put(&staged, zone, Some(&q.name), who)?;
        drop(tmp);
        Ok(json!({ "dataset": ds }))
    })
    .await
}

/// The canary file of the canary patients planted in a raw dataset, kept with it (checked to
/// record this very table's planting).
async fn canaries(
    State(app): AppState,
    claim: Claim,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Response {
    answer(&app, claim, true, move |ws, who| {
        airlock_run::vault::attach_canaries(vault_of(ws)?, &id, &body, who).map_err(Error::from)?;
        Ok(json!({ "dataset": id }))
    })
    .await
}

/// An upload: the caller is authenticated (with a role) before a byte of the body is read; the
/// body goes to a private temporary folder of the vault's (swept if the server is killed).
async fn stage(
    app: &Arc<App>,
    claim: &Claim,
    body: Body,
) -> std::result::Result<(tempfile::TempDir, PathBuf), Response> {
    let tmp = app
        .run(claim.clone(), true, |ws, _| {
            Ok(vault_of(ws)?.private_temp()?)
        })
        .await
        .map_err(IntoResponse::into_response)?;
    let staged = tmp.path().join("upload");
    if let Err(e) = receive(body, &staged).await {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            format!("the upload did not complete: {e}"),
            None,
        ));
    }
    Ok((tmp, staged))
}

/// Writes a request body to `path` as it arrives, and syncs it.
async fn receive(mut body: Body, path: &Path) -> std::io::Result<()> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path).await?;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(std::io::Error::other)?.into_data() {
            file.write_all(&data).await?;
        }
    }
    file.sync_all().await
}

/// `get`: authorization, decryption into a private folder, the audit entry written and synced
/// (all in the vault's `get`), then the file is unlinked and streamed from its open handle.
async fn fetch(State(app): AppState, claim: Claim, UrlPath(id): UrlPath<String>) -> Response {
    let result = app
        .run(claim, true, move |ws, who| {
            let vault = vault_of(ws)?;
            let tmp = vault.private_temp()?;
            let out = tmp.path().join("release");
            let ds = vault.get(&id, &out, true, who)?;
            // what is released: the dataset, or fewer columns where the role is denied some
            let (sha, bytes) = airlock_core::output::digest_file(&out).map_err(Error::from)?;
            let file = std::fs::File::open(&out).map_err(|e| Error::io("read", &out, e))?;
            // unlinked: the plaintext has no name on disk while it streams
            drop(tmp);
            Ok((ds, sha, bytes, file))
        })
        .await;
    match result {
        Ok((ds, sha, bytes, file)) => {
            let meta = data_encoding::BASE64URL_NOPAD
                .encode(serde_json::to_string(&ds).unwrap_or_default().as_bytes());
            let stream = tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                1 << 16,
            );
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, bytes)
                .header(DATASET_HEADER, meta)
                .header(crate::RELEASED_HEADER, sha)
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| {
                    failure(StatusCode::INTERNAL_SERVER_ERROR, "response".into(), None)
                })
        }
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize)]
struct ToQuery {
    to: String,
}

async fn promote(
    State(app): AppState,
    claim: Claim,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<ToQuery>,
) -> Response {
    answer(&app, claim, true, move |ws, who| {
        let to = Zone::parse(&q.to)?;
        let p = airlock_run::vault::promote(ws, &id, to, who).map_err(Error::from)?;
        Ok(json!({ "promotion": p }))
    })
    .await
}

async fn approve(
    State(app): AppState,
    claim: Claim,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<ToQuery>,
) -> Response {
    answer(&app, claim, true, move |ws, who| {
        let to = Zone::parse(&q.to)?;
        Ok(json!({ "approvals": vault_of(ws)?.approve(&id, to, who)? }))
    })
    .await
}

async fn shred(State(app): AppState, claim: Claim, UrlPath(id): UrlPath<String>) -> Response {
    answer(&app, claim, true, move |ws, who| {
        Ok(json!({ "dataset": vault_of(ws)?.shred(&id, who)? }))
    })
    .await
}

/// `vault deid`: the body is the policy (TOML); the run is the library's.
async fn deid(
    State(app): AppState,
    claim: Claim,
    UrlPath(id): UrlPath<String>,
    policy: String,
) -> Response {
    answer(&app, claim, true, move |ws, who| {
        let policy = airlock_core::policy::Policy::parse(&policy, Path::new("policy.toml"))
            .map_err(Error::from)?;
        let outcome =
            airlock_run::vault::deid_dataset(ws, &id, &policy, who).map_err(Error::from)?;
        Ok(match outcome {
            airlock_run::vault::VaultDeid::Stored {
                dataset,
                manifest,
                rows,
            } => json!({
                "outcome": "stored",
                "dataset": dataset,
                "rows": rows,
                "manifest": serde_json::from_str::<Value>(&manifest).unwrap_or(Value::Null),
            }),
            airlock_run::vault::VaultDeid::Findings { findings } => {
                json!({ "outcome": "findings", "findings": findings })
            }
            airlock_run::vault::VaultDeid::NoSolution => json!({ "outcome": "no-solution" }),
            airlock_run::vault::VaultDeid::Canaries { hits } => {
                json!({ "outcome": "canaries", "hits": hits })
            }
        })
    })
    .await
}

#[derive(Deserialize)]
struct ArtifactQuery {
    name: String,
    /// The enclave run's first input.
    source: String,
    /// The run's summary (JSON): its inputs, command hash, actor.
    summary: String,
}

/// An output of an enclave run that ran on a client: the server scans it itself (the gate into
/// dev is the server's, whatever the client says it checked), then registers it in zone dev
/// with the run's summary as its lineage. Its source must be a deid or dev dataset.
async fn artifact(
    State(app): AppState,
    claim: Claim,
    Query(q): Query<ArtifactQuery>,
    body: Body,
) -> Response {
    let (tmp, staged) = match stage(&app, &claim, body).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    answer(&app, claim, true, move |ws, who| {
        let vault = vault_of(ws)?;
        let source = vault.dataset(&q.source)?;
        if !matches!(Zone::parse(&source.zone)?, Zone::Deid | Zone::Dev) {
            return Err(Error::Usage(format!(
                "dataset {} is not de-identified data (zone {}): no enclave ran on it",
                source.id, source.zone
            ))
            .into());
        }
        if serde_json::from_str::<Value>(&q.summary).is_err() {
            return Err(Error::Usage("the run summary is not JSON".into()).into());
        }
        // scanned as what its name says it is (a model's JSON as JSON, a table cell by cell)
        let ext = Path::new(&q.name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| e.len() <= 10 && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or("bin")
            .to_ascii_lowercase();
        let named = staged.with_extension(&ext);
        std::fs::rename(&staged, &named)
            .map_err(|e| Error::from(airlock_core::Error::io("write", &named, e)))?;
        let staged = named;
        let inner = airlock_text::TextEngine::without_key();
        // the source's policy vouched for its category labels (a model lists them)
        let manifest = vault.lineage(&source.id)?.1;
        let engine = airlock_text::scan::Vouched {
            inner: &inner,
            digests: airlock_text::scan::Vouched::digests_of(manifest.as_deref()),
        };
        // the enclave's verdict: a compressed output is held
        let findings = match airlock_text::scan::scan_output(&staged, &engine)
            .map_err(|e| Error::Usage(e.to_string()))?
        {
            airlock_text::scan::OutputScan::Findings(n) => n,
            airlock_text::scan::OutputScan::Unscannable => {
                vault.record(&[Vault::event(who, "enclave:output", Some(&source.id), None, "held")])?;
                return Err(Refusal {
                    status: StatusCode::CONFLICT,
                    message: "this output is compressed or an archive: the server cannot scan it, and holds it".into(),
                    hint: Some("write it uncompressed (safetensors, .npy, CSV, JSON)".into()),
                });
            }
        };
        let hits = match airlock_run::vault::workspace_canaries(vault).map_err(Error::from)? {
            Some(c) => airlock_run::vault::canary_hits(&c, &staged)?,
            None => 0,
        };
        if findings + hits > 0 {
            vault.record(&[Vault::event(who, "enclave:output", Some(&source.id), None, "held")])?;
            return Err(Refusal {
                status: StatusCode::CONFLICT,
                message: format!(
                    "the server's scan found {findings} identifiers and {hits} canary values in this output: it is held, not registered"
                ),
                hint: None,
            });
        }
        let ds = vault.put_artifact(&staged, &q.name, who, &source.id, &q.summary)?;
        drop(tmp);
        Ok(json!({ "dataset": ds }))
    })
    .await
}

#[derive(Deserialize)]
struct RetentionQuery {
    #[serde(default)]
    dry_run: bool,
}

async fn retention(
    State(app): AppState,
    claim: Claim,
    Query(q): Query<RetentionQuery>,
) -> Response {
    answer(&app, claim, true, move |ws, who| {
        let expired = vault_of(ws)?.apply_retention(chrono::Utc::now(), q.dry_run, who)?;
        Ok(json!({ "dry_run": q.dry_run, "expired": expired }))
    })
    .await
}

async fn rotate(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, true, |ws, who| {
        Ok(json!({ "rotation": vault_of(ws)?.rotate_keys(who)? }))
    })
    .await
}

async fn audit_verify(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, false, |ws, _| {
        let v = vault_of(ws)?.verify_audit()?;
        Ok(json!({ "entries": v.entries, "head": v.head }))
    })
    .await
}

async fn audit_head(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, false, |ws, _| {
        Ok(json!({ "head": vault_of(ws)?.verify_audit()?.head }))
    })
    .await
}

#[derive(Deserialize)]
struct EntriesQuery {
    actor: Option<String>,
    dataset: Option<String>,
    since: Option<String>,
}

async fn audit_entries(
    State(app): AppState,
    claim: Claim,
    Query(q): Query<EntriesQuery>,
) -> Response {
    answer(&app, claim, false, move |ws, _| {
        let entries: Vec<_> = vault_of(ws)?
            .audit()
            .entries()?
            .into_iter()
            .filter(|e| q.actor.as_ref().is_none_or(|a| &e.event.actor == a))
            .filter(|e| {
                q.dataset
                    .as_ref()
                    .is_none_or(|d| e.event.dataset.as_ref() == Some(d))
            })
            .filter(|e| {
                q.since
                    .as_ref()
                    .is_none_or(|s| e.time.as_str() >= s.as_str())
            })
            .collect();
        Ok(json!({ "entries": entries }))
    })
    .await
}

/// The log file as it is, for `airlock audit verify` on the client's side.
async fn audit_log(State(app): AppState, claim: Claim) -> Response {
    let result = app
        .run(claim, false, |ws, _| {
            let path = vault_of(ws)?.audit().path().to_path_buf();
            Ok(std::fs::File::open(&path).map_err(|e| Error::io("read", &path, e))?)
        })
        .await;
    match result {
        Ok(file) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/jsonl")],
            Body::from_stream(tokio_util::io::ReaderStream::new(
                tokio::fs::File::from_std(file),
            )),
        )
            .into_response(),
        Err(r) => r.into_response(),
    }
}

async fn audit_pubkey(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, false, |ws, _| {
        Ok(json!({ "public_key": vault_of(ws)?.audit().public_key_hex() }))
    })
    .await
}

async fn lineage_pubkey(State(app): AppState, claim: Claim) -> Response {
    answer(&app, claim, false, |ws, _| {
        let key = airlock_vault::lineage::signing_key(
            &ws.secret()
                .derive(airlock_core::keys::Purpose::ManifestSigning),
        );
        Ok(json!({ "public_key": airlock_vault::audit::public_key_hex(&key.verifying_key()) }))
    })
    .await
}
