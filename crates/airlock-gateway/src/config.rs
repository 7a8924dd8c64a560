//! `gateway.toml`: where the gateway listens, the upstreams it may call (and which of them are
//! under a Business Associate Agreement), and the routes that say which roles may send which
//! models to which upstream under which guardrails. Unknown keys, unknown upstreams and
//! unsafe combinations are refused when the file is read, never at the first request.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use airlock_core::text::DetectionMode;

use crate::{Error, Result};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub server: ServerSection,
    #[serde(default)]
    pub upstreams: Vec<Upstream>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// TLS (the default). Plain HTTP is refused unless `listen` is a loopback address.
    #[serde(default = "yes")]
    pub tls: bool,
    /// The server's certificate chain and key (PEM); without them, the workspace CA's server
    /// certificate (`airlock ca init`).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Roots that client certificates must chain to (mTLS callers, known as `cert:NAME`);
    /// without it, the workspace CA's.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Seconds an upstream has to answer (its first byte; for a stream, each next chunk).
    #[serde(default = "default_timeout")]
    pub upstream_timeout_s: f64,
    /// The largest request body taken, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The detector's mode for prompts and completions (strict by default).
    #[serde(default)]
    pub mode: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> f64 {
    60.0
}

fn default_max_body() -> usize {
    4 << 20
}

/// `[[upstreams]]`: an OpenAI-compatible API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    pub name: String,
    /// The API's base, ending before `/chat/completions` (e.g. `https://api.example/v1`).
    pub base_url: String,
    /// Whether a Business Associate Agreement covers this upstream: only then may it receive
    /// identifiers (a route with `input = "allow"`).
    pub baa: bool,
    /// The environment variable that holds the upstream's API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A file that holds the upstream's API key (its first line).
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Extra PEM roots for the upstream's TLS certificate (the system's are always used).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// What a route does with identifiers in what the caller sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputAction {
    /// Refuse the request (403, with the kinds found).
    Block,
    /// Replace each identifier with its typed tag (`[NAME]`).
    Redact,
    /// Replace each identifier with a consistent surrogate for this request only.
    Pseudonymize,
    /// Send identifiers as they are: only to an upstream under a BAA.
    Allow,
}

/// What a route does with identifiers in what the upstream answers that did not come from
/// the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputAction {
    /// End the answer with an error (an error event in a stream).
    Block,
    /// Replace each with its typed tag.
    Redact,
}

/// `[[routes]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Model names this route serves: exact names, `prefix*` or `*`.
    pub models: Vec<String>,
    pub upstream: String,
    /// Roles (access.toml `[actors]`) that may use this route.
    pub roles: Vec<String>,
    pub input: InputAction,
    pub output: OutputAction,
    /// With `input = "pseudonymize"`: put the caller's own identifiers back into the answer.
    #[serde(default)]
    pub rehydrate: bool,
    /// Keep prompts and completions, encrypted in the vault's raw zone (off by default).
    #[serde(default)]
    pub log_prompts: bool,
    /// The model name sent upstream instead of the caller's.
    #[serde(default)]
    pub upstream_model: Option<String>,
}

impl Route {
    /// Whether this route serves `model`.
    pub fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => p == model,
        })
    }
}

impl Upstream {
    /// The API key, read when the gateway starts.
    pub fn api_key(&self) -> Result<Option<String>> {
        if let Some(var) = &self.api_key_env {
            let key = std::env::var(var).map_err(|_| {
                Error::Config(format!(
                    "upstream {}: the environment variable {} (api_key_env) is not set",
                    self.name,
                    airlock_core::shown::escape(var, 80)
                ))
            })?;
            return Ok(Some(key.trim().to_owned()));
        }
        if let Some(file) = &self.api_key_file {
            let text = std::fs::read_to_string(file).map_err(|e| Error::Io {
                action: "read the upstream's API key file",
                path: file.clone(),
                source: e,
            })?;
            return Ok(text.lines().next().map(|l| l.trim().to_owned()));
        }
        Ok(None)
    }
}

impl GatewayConfig {
    /// Reads and checks `path`; relative file names in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut config = Self::parse(&read(path)?)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.server.rebase(base);
        for u in &mut config.upstreams {
            rebase(base, &mut u.api_key_file);
            rebase(base, &mut u.ca_file);
        }
        Ok(config)
    }

    /// Parses and checks a configuration's text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Self = from_toml(text)?;
        config.check()?;
        Ok(config)
    }

    /// The detector's mode.
    pub fn mode(&self) -> Result<DetectionMode> {
        match self.server.mode.as_deref() {
            None | Some("strict") => Ok(DetectionMode::Strict),
            Some("balanced") => Ok(DetectionMode::Balanced),
            Some(other) => Err(Error::Config(format!(
                "[server] mode {} is not strict or balanced",
                airlock_core::shown::escape(other, 40)
            ))),
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        self.server.check()?;
        self.mode()?;
        let mut names = HashSet::new();
        for u in &self.upstreams {
            if !names.insert(u.name.as_str()) {
                return bad(format!(
                    "upstream {} is defined twice",
                    airlock_core::shown::escape(&u.name, 60)
                ));
            }
            let url = u.base_url.trim_end_matches('/');
            let uri: hyper::Uri = url.parse().map_err(|_| {
                Error::Config(format!(
                    "upstream {}: base_url is not a URL",
                    airlock_core::shown::escape(&u.name, 60)
                ))
            })?;
            match uri.scheme_str() {
                Some("https") => {}
                Some("http") if host_is_loopback(uri.host().unwrap_or("")) => {}
                Some("http") => {
                    return bad(format!(
                        "upstream {}: plain http is refused for a host that is not loopback (use https)",
                        airlock_core::shown::escape(&u.name, 60)
                    ));
                }
                _ => {
                    return bad(format!(
                        "upstream {}: base_url must be http or https",
                        airlock_core::shown::escape(&u.name, 60)
                    ));
                }
            }
            if u.api_key_env.is_some() && u.api_key_file.is_some() {
                return bad(format!(
                    "upstream {}: api_key_env or api_key_file, not both",
                    airlock_core::shown::escape(&u.name, 60)
                ));
            }
        }
        if self.routes.is_empty() {
            return bad("no [[routes]]: the gateway would refuse every request".into());
        }
        for (i, r) in self.routes.iter().enumerate() {
            let n = i + 1;
            let Some(up) = self.upstreams.iter().find(|u| u.name == r.upstream) else {
                return bad(format!(
                    "route {n}: no upstream named {}",
                    airlock_core::shown::escape(&r.upstream, 60)
                ));
            };
            if r.models.is_empty() || r.roles.is_empty() {
                return bad(format!("route {n}: models and roles must not be empty"));
            }
            if r.models
                .iter()
                .any(|m| m.is_empty() || m[..m.len() - 1].contains('*'))
            {
                return bad(format!(
                    "route {n}: a model pattern is a name, `prefix*` or `*`"
                ));
            }
            if r.input == InputAction::Allow && !up.baa {
                return bad(format!(
                    "route {n}: input = \"allow\" sends identifiers to upstream {}, which has no BAA (baa = false): only redact, pseudonymize or block may go there",
                    airlock_core::shown::escape(&up.name, 60)
                ));
            }
            if r.rehydrate && r.input != InputAction::Pseudonymize {
                return bad(format!(
                    "route {n}: rehydrate needs input = \"pseudonymize\""
                ));
            }
        }
        Ok(())
    }
}

impl ServerSection {
    /// Refuses plain HTTP off loopback, a certificate without its key, a timeout out of range.
    pub fn check(&self) -> Result<()> {
        if !self.tls && !self.listen.ip().is_loopback() {
            return Err(Error::Config(format!(
                "[server] tls = false is refused on {}: plain HTTP only on a loopback address",
                self.listen
            )));
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err(Error::Config("[server] cert and key go together".into()));
        }
        if !(self.upstream_timeout_s > 0.0 && self.upstream_timeout_s <= 3600.0) {
            return Err(Error::Config(
                "[server] upstream_timeout_s must be in (0, 3600]".into(),
            ));
        }
        Ok(())
    }

    /// Its file names taken from `base` (the configuration's folder) when relative.
    pub fn rebase(&mut self, base: &Path) {
        rebase(base, &mut self.cert);
        rebase(base, &mut self.key);
        rebase(base, &mut self.client_ca);
    }
}

fn rebase(base: &Path, p: &mut Option<PathBuf>) {
    if let Some(p) = p
        && p.is_relative()
    {
        *p = base.join(&*p);
    }
}

/// A configuration file's text.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source: e,
    })
}

/// A configuration from TOML; unknown keys refused by the types.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    // toml's message quotes the offending line; a config holds no PHI, but cap it
    toml::from_str(text)
        .map_err(|e| Error::Config(airlock_core::shown::escape_message(e.message(), 300)))
}

/// Whether a URL's host is a loopback name or address.
fn host_is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The issue's smallest configuration, as written.
    pub(crate) const SMALLEST: &str = r#"
[server]
listen = "127.0.0.1:8808"
tls = false                 # refused unless the address is loopback
[[upstreams]]
name = "local"
base_url = "http://127.0.0.1:9909/v1"
baa = false
[[routes]]
models = ["*"]
upstream = "local"
roles = ["engineer"]
input = "redact"            # block | redact | pseudonymize
output = "redact"           # block | redact
"#;

    #[test]
    fn the_smallest_configuration_works_as_written() {
        let c = GatewayConfig::parse(SMALLEST).unwrap();
        assert!(!c.server.tls);
        assert!(c.routes[0].serves("gpt-4o"));
        assert_eq!(c.routes[0].input, InputAction::Redact);
    }

    #[test]
    fn unsafe_or_unknown_configurations_are_refused() {
        let cases = [
            (
                SMALLEST.replace("127.0.0.1:8808", "0.0.0.0:8808"),
                "loopback",
            ),
            (
                SMALLEST.replace("input = \"redact\"", "input = \"allow\""),
                "no BAA",
            ),
            (
                SMALLEST.replace("upstream = \"local\"", "upstream = \"other\""),
                "no upstream",
            ),
            (
                SMALLEST.replace("127.0.0.1:9909", "10.0.0.5:9909"),
                "plain http",
            ),
            (
                SMALLEST.replace("baa = false", "baa = false\nextra = 1"),
                "unknown field",
            ),
            (
                SMALLEST.replace(
                    "output = \"redact\"",
                    "output = \"redact\"\nrehydrate = true",
                ),
                "rehydrate",
            ),
            (
                SMALLEST.replace("models = [\"*\"]", "models = [\"a*b\"]"),
                "pattern",
            ),
            (
                SMALLEST.replace("input = \"redact\"", "input = \"maybe\""),
                "unknown variant",
            ),
        ];
        for (text, want) in cases {
            let e = GatewayConfig::parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        // allow is fine under a BAA
        let baa = SMALLEST
            .replace("baa = false", "baa = true")
            .replace("input = \"redact\"", "input = \"allow\"");
        GatewayConfig::parse(&baa).unwrap();
    }

    #[test]
    fn model_patterns() {
        let mut c = GatewayConfig::parse(SMALLEST).unwrap();
        c.routes[0].models = vec!["gpt-4*".into(), "local-llama".into()];
        assert!(c.routes[0].serves("gpt-4o-mini"));
        assert!(c.routes[0].serves("local-llama"));
        assert!(!c.routes[0].serves("local-llama-2"));
        assert!(!c.routes[0].serves("claude"));
    }
}
