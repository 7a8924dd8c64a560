//! The blocking client the CLI uses when `AIRLOCK_SERVER` is set: HTTPS with rustls (ring),
//! trusting only the workspace CA given with `--ca`, authenticating with a client certificate
//! or an API key. It never holds key material of the workspace. Results come back as the
//! vault's own types, so the CLI prints them the same way in both modes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use airlock_vault::audit::{Entry, TreeHead};
use airlock_vault::{Dataset, Expired, Promotion, Rotation};

use crate::{DATASET_HEADER, Error, PURPOSE_HEADER, ROLE_HEADER, Result};

/// How to reach and authenticate to a server.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `https://HOST:PORT`
    pub url: String,
    /// The workspace CA's certificate (`ca.pem`): the only root the client trusts.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, from `airlock ca issue`.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// An API key from `airlock apikey create` (AIRLOCK_API_KEY) or an OIDC token from the
    /// configured issuer (AIRLOCK_TOKEN); read from the environment, never a flag.
    pub bearer: Option<String>,
}

/// The role and purpose a request claims (checked by the server against the identity).
#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub role: String,
    pub purpose: String,
}

/// A connected client.
pub struct Client {
    agent: ureq::Agent,
    url: String,
    bearer: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("url", &self.url).finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// An HTTPS agent (rustls with ring) that trusts only the CA certificate `ca` and presents
/// the client certificate `cert` (certificate, key; PEM) when given. Refusals come back as
/// responses, not errors.
pub fn tls_agent(ca: &Path, cert: Option<(&Path, &Path)>) -> Result<ureq::Agent> {
    let bad = |what: &Path| {
        let shown = airlock_core::shown::path(what).to_string();
        move |_| Error::Usage(format!("{shown} is not a PEM certificate or key"))
    };
    let root = Certificate::from_pem(&read(ca)?).map_err(bad(ca))?;
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::new_with_certs(&[root]));
    if let Some((cert, key)) = cert {
        let c = Certificate::from_pem(&read(cert)?).map_err(bad(cert))?;
        let k = PrivateKey::from_pem(&read(key)?).map_err(bad(key))?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[c], k)));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_connect(Some(std::time::Duration::from_secs(10)))
        .build()
        .new_agent())
}

impl Client {
    /// A client for `conn`. The URL must be `https://`; the CA is required (the workspace's
    /// own, not the system's roots).
    pub fn new(conn: &Connection) -> Result<Self> {
        let url = conn.url.trim_end_matches('/').to_owned();
        if !url.starts_with("https://") {
            return Err(Error::Usage(
                "--server must be an https:// URL (the server speaks TLS only)".into(),
            ));
        }
        let Some(ca) = &conn.ca else {
            return Err(Error::Usage(
                "--ca (or AIRLOCK_CA) must name the workspace CA's certificate, ca.pem from `airlock ca init`".into(),
            ));
        };
        let cert = conn.cert.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
        let agent = tls_agent(ca, cert)?;
        Ok(Self {
            agent,
            url,
            bearer: conn.bearer.clone(),
        })
    }

    fn request<B>(
        &self,
        mut req: ureq::RequestBuilder<B>,
        claim: Option<&Claim>,
    ) -> ureq::RequestBuilder<B> {
        if let Some(key) = &self.bearer {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        if let Some(c) = claim {
            req = req
                .header(ROLE_HEADER, c.role.as_str())
                .header(PURPOSE_HEADER, c.purpose.as_str());
        }
        req
    }

    fn get_req(
        &self,
        path: &str,
        claim: Option<&Claim>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        self.request(self.agent.get(format!("{}{path}", self.url)), claim)
    }

    fn post_req(
        &self,
        path: &str,
        claim: Option<&Claim>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        self.request(self.agent.post(format!("{}{path}", self.url)), claim)
    }

    fn connect_error(&self, e: ureq::Error) -> Error {
        Error::Connect {
            url: airlock_core::shown::escape(&self.url, 200),
            reason: e.to_string(),
        }
    }

    /// The JSON body of a response; a refusal becomes [`Error::Server`].
    fn json(
        &self,
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value> {
        let mut resp = self.success(resp)?;
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| self.connect_error(e))?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A response with a body to stream; a refusal becomes [`Error::Server`].
    fn success(
        &self,
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut resp = resp.map_err(|e| self.connect_error(e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        Err(refusal(
            status,
            &serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    }

    fn field<T: DeserializeOwned>(body: &Value, name: &str) -> Result<T> {
        serde_json::from_value(body.get(name).cloned().unwrap_or(Value::Null)).map_err(|_| {
            Error::Usage(format!(
                "the server's answer has no valid `{name}` (is it an airlock server of this version?)"
            ))
        })
    }

    /// Who the server says the caller is, and the roles bound to it.
    pub fn whoami(&self) -> Result<(String, Vec<String>)> {
        let body = self.json(self.get_req("/v1/whoami", None).call())?;
        Ok((
            Self::field(&body, "identity")?,
            Self::field(&body, "roles")?,
        ))
    }

    /// Stores `file` as `name` (the vault takes puts into raw only, and audits a refusal).
    pub fn put(&self, file: &Path, zone: &str, name: &str, claim: &Claim) -> Result<Dataset> {
        let f = std::fs::File::open(file).map_err(|e| Error::io("read", file, e))?;
        let body = self.json(
            self.post_req("/v1/datasets", Some(claim))
                .query("name", name)
                .query("zone", zone)
                .send(f),
        )?;
        Self::field(&body, "dataset")
    }

    /// Keeps a canary file with raw dataset `id` on the server.
    pub fn attach_canaries(&self, id: &str, canaries: &[u8], claim: &Claim) -> Result<()> {
        self.json(
            self.post_req(
                &format!("/v1/datasets/{}/canaries", path_part(id)),
                Some(claim),
            )
            .send(canaries),
        )?;
        Ok(())
    }

    /// Fetches dataset `id` into `output` (atomically: nothing is left on failure), checked
    /// against the SHA-256 of what the server released.
    pub fn get(&self, id: &str, output: &Path, force: bool, claim: &Claim) -> Result<Dataset> {
        let resp = self.success(
            self.get_req(&format!("/v1/datasets/{}", path_part(id)), Some(claim))
                .call(),
        )?;
        let ds: Dataset = resp
            .headers()
            .get(DATASET_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| data_encoding::BASE64URL_NOPAD.decode(v.as_bytes()).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::Usage("the server's answer has no dataset record".into()))?;
        let released = resp
            .headers()
            .get(crate::RELEASED_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Error::Usage("the server's answer has no released SHA-256".into()))?;
        let out = airlock_core::output::AtomicOutput::create(output, force)?;
        let mut file = airlock_core::output::Digesting::new(out.file()?);
        let mut reader = resp.into_body().into_reader();
        std::io::copy(&mut reader, &mut file).map_err(|e| Error::io("write", output, e))?;
        if file.sha256() != released {
            return Err(Error::Usage(format!(
                "dataset {} arrived incomplete or changed (its SHA-256 is not what the server released); nothing was written",
                ds.id
            )));
        }
        file.into_inner()
            .sync_all()
            .map_err(|e| Error::io("write", output, e))?;
        out.commit()?;
        Ok(ds)
    }

    /// Registers an output of an enclave run in zone dev; the server scans it first.
    pub fn register_artifact(
        &self,
        file: &Path,
        name: &str,
        source: &str,
        summary: &str,
        claim: &Claim,
    ) -> Result<Dataset> {
        let f = std::fs::File::open(file).map_err(|e| Error::io("read", file, e))?;
        let body = self.json(
            self.post_req("/v1/artifacts", Some(claim))
                .query("name", name)
                .query("source", source)
                .query("summary", summary)
                .send(f),
        )?;
        Self::field(&body, "dataset")
    }

    pub fn list(&self) -> Result<Vec<Dataset>> {
        Self::field(
            &self.json(self.get_req("/v1/datasets", None).call())?,
            "datasets",
        )
    }

    pub fn promote(&self, id: &str, to: &str, claim: &Claim) -> Result<Promotion> {
        let body = self.json(
            self.post_req(
                &format!("/v1/datasets/{}/promote", path_part(id)),
                Some(claim),
            )
            .query("to", to)
            .send_empty(),
        )?;
        Self::field(&body, "promotion")
    }

    pub fn approve(&self, id: &str, to: &str, claim: &Claim) -> Result<u64> {
        let body = self.json(
            self.post_req(
                &format!("/v1/datasets/{}/approve", path_part(id)),
                Some(claim),
            )
            .query("to", to)
            .send_empty(),
        )?;
        Self::field(&body, "approvals")
    }

    pub fn shred(&self, id: &str, claim: &Claim) -> Result<Dataset> {
        let body = self.json(
            self.post_req(
                &format!("/v1/datasets/{}/shred", path_part(id)),
                Some(claim),
            )
            .send_empty(),
        )?;
        Self::field(&body, "dataset")
    }

    /// `vault deid` on the server: the policy's text goes up, the run happens there. The
    /// answer: `outcome` (stored, findings, no-solution) and what goes with it.
    pub fn deid(&self, id: &str, policy: &str, claim: &Claim) -> Result<Value> {
        self.json(
            self.post_req(&format!("/v1/datasets/{}/deid", path_part(id)), Some(claim))
                .send(policy),
        )
    }

    pub fn retention(&self, dry_run: bool, claim: &Claim) -> Result<Vec<Expired>> {
        let body = self.json(
            self.post_req("/v1/retention/apply", Some(claim))
                .query("dry_run", if dry_run { "true" } else { "false" })
                .send_empty(),
        )?;
        Self::field(&body, "expired")
    }

    pub fn rotate_keys(&self, claim: &Claim) -> Result<Rotation> {
        Self::field(
            &self.json(self.post_req("/v1/keys/rotate", Some(claim)).send_empty())?,
            "rotation",
        )
    }

    /// The server's own verification of its log: (entries, latest head).
    pub fn audit_verify(&self) -> Result<(u64, Option<TreeHead>)> {
        let body = self.json(self.get_req("/v1/audit/verify", None).call())?;
        Ok((Self::field(&body, "entries")?, Self::field(&body, "head")?))
    }

    pub fn audit_head(&self) -> Result<Option<TreeHead>> {
        Self::field(
            &self.json(self.get_req("/v1/audit/head", None).call())?,
            "head",
        )
    }

    pub fn audit_entries(
        &self,
        actor: Option<&str>,
        dataset: Option<&str>,
        since: Option<&str>,
    ) -> Result<Vec<Entry>> {
        let mut req = self.get_req("/v1/audit/entries", None);
        for (k, v) in [("actor", actor), ("dataset", dataset), ("since", since)] {
            if let Some(v) = v {
                req = req.query(k, v);
            }
        }
        Self::field(&self.json(req.call())?, "entries")
    }

    /// Downloads the log as it is, to verify it here with a key the caller trusts.
    pub fn audit_log(&self, to: &Path) -> Result<()> {
        let resp = self.success(self.get_req("/v1/audit/log", None).call())?;
        let mut file = std::fs::File::create(to).map_err(|e| Error::io("write", to, e))?;
        std::io::copy(&mut resp.into_body().into_reader(), &mut file)
            .map_err(|e| Error::io("write", to, e))?;
        Ok(())
    }

    pub fn audit_pubkey(&self) -> Result<String> {
        Self::field(
            &self.json(self.get_req("/v1/audit/pubkey", None).call())?,
            "public_key",
        )
    }

    pub fn lineage_pubkey(&self) -> Result<String> {
        Self::field(
            &self.json(self.get_req("/v1/lineage/pubkey", None).call())?,
            "public_key",
        )
    }
}

/// A dataset id as one URL path segment (ids are `ds-` and base32; anything else is escaped
/// so it cannot reach another endpoint).
fn path_part(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn refusal(status: u16, body: &Value) -> Error {
    Error::Server {
        status,
        message: body.get("error").and_then(Value::as_str).map_or_else(
            || format!("HTTP {status}"),
            |m| airlock_core::shown::escape_message(m, 2000),
        ),
        hint: body.get("hint").and_then(Value::as_str).map(str::to_owned),
    }
}
