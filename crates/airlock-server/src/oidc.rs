//! OIDC bearer tokens: a JWT from the configured issuer, verified against the keys its
//! discovery document's `jwks_uri` publishes (jsonwebtoken). The identity is `oidc:SUB`.
//! Checked: an asymmetric algorithm (never `none` or a shared-secret HMAC, so a public key
//! cannot be used as an HMAC secret), the key named by `kid` (the keys are fetched again, at
//! most every 30 seconds, for a `kid` not seen), the signature, `iss` exactly, `aud`
//! containing the configured audience, `exp` and `nbf` with 30 seconds of leeway.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::{Error, Result};

/// What `airlock serve --oidc-issuer` configures.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL, exactly as tokens name it in `iss`.
    pub issuer: String,
    /// The audience tokens must be for (`aud`).
    pub audience: String,
    /// PEM roots that verify the issuer's TLS certificate (https issuers).
    pub ca: Option<std::path::PathBuf>,
}

/// A verifier for one issuer.
pub struct Oidc {
    config: OidcConfig,
    jwks_uri: String,
    agent: ureq::Agent,
    keys: Mutex<(JwkSet, Instant)>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An issuer or key URL airlock will fetch: https, or plain http on the loopback interface
/// only (a provider on this machine).
fn check_url(url: &str) -> Result<()> {
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|p| url.starts_with(p));
    if url.starts_with("https://") || loopback {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "OIDC URL {} must be https:// (plain http only on the loopback interface)",
            airlock_core::shown::escape(url, 200)
        )))
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Oidc {
    /// Reads the issuer's discovery document and keys.
    pub fn discover(config: OidcConfig) -> Result<Self> {
        check_url(&config.issuer)?;
        let agent = agent(config.ca.as_deref())?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = fetch_json(&agent, &url)?;
        if discovery.issuer != config.issuer {
            return Err(Error::Usage(format!(
                "the OIDC discovery document names issuer {}, not {} (give --oidc-issuer exactly as the provider names itself)",
                airlock_core::shown::escape(&discovery.issuer, 200),
                airlock_core::shown::escape(&config.issuer, 200)
            )));
        }
        check_url(&discovery.jwks_uri)?;
        let keys: JwkSet = fetch_json(&agent, &discovery.jwks_uri)?;
        Ok(Self {
            config,
            jwks_uri: discovery.jwks_uri,
            agent,
            keys: Mutex::new((keys, Instant::now())),
        })
    }

    /// The identity a token proves (`oidc:SUB`), or why it proves none (no token content in
    /// the reason).
    pub fn verify(&self, token: &str) -> std::result::Result<String, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "not a JWT".to_owned())?;
        if !ALLOWED.contains(&header.alg) {
            return Err(format!(
                "algorithm {:?} is not accepted (asymmetric signatures only)",
                header.alg
            ));
        }
        let kid = header.kid.clone().unwrap_or_default();
        let jwk = match self.key(&kid) {
            Some(k) => k,
            None => {
                self.refresh();
                self.key(&kid)
                    .ok_or_else(|| "signed with a key the issuer does not publish".to_owned())?
            }
        };
        if let Some(alg) = jwk.common.key_algorithm
            && format!("{alg:?}") != format!("{:?}", header.alg)
        {
            return Err("the token's algorithm is not its key's".into());
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| "the issuer's key is not usable")?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&[&self.config.audience]);
        v.leeway = 30;
        v.validate_nbf = true;
        v.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            match e.kind() {
                ExpiredSignature => "the token has expired".to_owned(),
                ImmatureSignature => "the token is not valid yet".to_owned(),
                InvalidIssuer => "the token is from another issuer".to_owned(),
                InvalidAudience => "the token is for another audience".to_owned(),
                InvalidSignature => "the token's signature does not verify".to_owned(),
                MissingRequiredClaim(c) => format!("the token has no {c} claim"),
                _ => "the token is not valid".to_owned(),
            }
        })?;
        let sub = data.claims.sub;
        let ok = !sub.is_empty()
            && sub.len() <= 128
            && sub
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if ok {
            Ok(format!("oidc:{sub}"))
        } else {
            Err("the token's subject is empty, too long or has characters airlock does not accept in an identity".into())
        }
    }

    fn key(&self, kid: &str) -> Option<jsonwebtoken::jwk::Jwk> {
        let keys = self.keys.lock().ok()?;
        if kid.is_empty() {
            // no kid: only an issuer with a single key is unambiguous
            return (keys.0.keys.len() == 1).then(|| keys.0.keys[0].clone());
        }
        keys.0.find(kid).cloned()
    }

    /// Fetches the keys again (rotation), at most every 30 seconds.
    fn refresh(&self) {
        let due = self
            .keys
            .lock()
            .is_ok_and(|k| k.1.elapsed() > Duration::from_secs(30));
        if !due {
            return;
        }
        if let Ok(fresh) = fetch_json::<JwkSet>(&self.agent, &self.jwks_uri)
            && let Ok(mut keys) = self.keys.lock()
        {
            *keys = (fresh, Instant::now());
        }
    }
}

fn agent(ca: Option<&std::path::Path>) -> Result<ureq::Agent> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let bundle = ca.map(std::path::Path::to_path_buf).or_else(|| {
        let system = std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
        system.exists().then_some(system)
    });
    let mut roots = Vec::new();
    if let Some(path) = bundle {
        for cert in CertificateDer::pem_file_iter(&path).map_err(|e| Error::Tls(e.to_string()))? {
            let cert = cert.map_err(|e| Error::Tls(e.to_string()))?;
            roots.push(Certificate::from_der(cert.as_ref()).to_owned());
        }
    }
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::new_with_certs(&roots))
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent())
}

fn fetch_json<T: serde::de::DeserializeOwned>(agent: &ureq::Agent, url: &str) -> Result<T> {
    let shown = airlock_core::shown::escape(url, 200);
    let mut resp = agent.get(url).call().map_err(|e| Error::Connect {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| Error::Connect {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
    serde_json::from_str(&text)
        .map_err(|_| Error::Usage(format!("{shown} did not answer with the expected JSON")))
}
