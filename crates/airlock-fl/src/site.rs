//! `airlock fl site`: one hospital's side of the federation. It reads its rows from its own
//! vault (decrypted into the vault's private temporary folder, read, deleted) and never sends
//! them: each round it trains the global model locally and sends its update, masked under
//! secure aggregation, to the coordinator it reaches by mutual TLS. It pins the federation's
//! spec by its hash and refuses to take part in a round under any other spec. Every round it
//! takes part in is in its own audit log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use airlock_train::data::Table;
use airlock_vault::{Actor, Vault};

use crate::local::LocalData;
use crate::round::Phase;
use crate::secagg;
use crate::sitedrift;
use crate::task::{self, RoundKind};
use crate::wire::{self, AdvertMsg, MaskedMsg, RevealMsg, SharesMsg, View};
use crate::{FlError, Result};

/// Marks a connection error as "nothing listens there (yet)".
const NOT_LISTENING: &str = " (nothing listens there yet)";

/// How long a site keeps trying to reach a coordinator that does not answer.
const PATIENCE: Duration = Duration::from_secs(60);

fn default_role() -> String {
    "engineer".into()
}

fn default_purpose() -> String {
    "model-training".into()
}

/// `site.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// `https://HOST:PORT` of the coordinator.
    pub coordinator: String,
    /// The federation CA's certificate (the only root trusted).
    pub ca: PathBuf,
    /// This site's certificate and key from `airlock fl ca issue`.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The SHA-256 of the spec this site agreed to (printed by `airlock fl spec`).
    pub spec_sha256: String,
    /// The dataset (id) in this site's vault the site trains on.
    pub dataset: String,
    /// The role and purpose the site reads its dataset as (the vault's access rules decide).
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default = "default_purpose")]
    pub purpose: String,
}

impl SiteConfig {
    /// Reads `site.toml`; its relative paths are read from its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: Self = crate::read_toml(path)?;
        c.ca = crate::rebase(path, &c.ca);
        c.cert = crate::rebase(path, &c.cert);
        c.key = crate::rebase(path, &c.key);
        if !c.coordinator.starts_with("https://") {
            return Err(FlError::Usage(
                "coordinator must be an https:// URL (the federation speaks mutual TLS only)"
                    .into(),
            ));
        }
        if c.spec_sha256.len() != 64 || !c.spec_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FlError::Usage(
                "spec_sha256 must be the 64 hex digits `airlock fl spec` printed".into(),
            ));
        }
        Ok(c)
    }

    /// Who the site reads its data and records its rounds as.
    pub fn actor(&self) -> Actor {
        Actor {
            name: airlock_vault::access::current_user(),
            role: self.role.clone(),
            purpose: self.purpose.clone(),
        }
    }
}

/// What a site did in one round.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteRound {
    pub round: u64,
    pub kind: RoundKind,
    /// Whether its input reached the coordinator.
    pub sent: bool,
    /// SHA-256 of its (clipped) update, as it was before masking and noise.
    pub update_sha256: Option<String>,
    pub examples: u64,
}

/// A site's run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteOutcome {
    pub site: String,
    pub rounds: Vec<SiteRound>,
}

/// Reads dataset `id` from the vault into memory (its plaintext exists only in the vault's
/// private temporary folder while it is read).
pub fn read_dataset(vault: &Vault, id: &str, who: &Actor) -> Result<Table> {
    let tmp = vault.private_temp()?;
    let ds = vault.dataset(id)?;
    let path = tmp.path().join(&ds.name);
    vault.get(id, &path, true, who)?;
    let table = Table::read(&path)?;
    drop(tmp);
    Ok(table)
}

struct Conn {
    agent: ureq::Agent,
    url: String,
}

impl Conn {
    fn fail(&self, e: &ureq::Error) -> FlError {
        let refused =
            matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
        FlError::Connect(format!(
            "{}: {e}{}",
            airlock_core::shown::escape(&self.url, 200),
            if refused { NOT_LISTENING } else { "" }
        ))
    }

    fn answer<T: DeserializeOwned>(
        &self,
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut resp = resp.map_err(|e| self.fail(&e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(512 << 20)
            .read_to_string()
            .map_err(|e| self.fail(&e))?;
        if !(200..300).contains(&status) {
            let why = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Err(FlError::Refused(format!(
                "the coordinator refused ({status}): {}",
                airlock_core::shown::escape(&why, 300)
            )));
        }
        serde_json::from_str(&text).map_err(|_| {
            FlError::Refused("the coordinator's answer is not one this site understands".into())
        })
    }

    fn poll(&self, after: u64) -> Result<View> {
        self.answer(
            self.agent
                .get(format!("{}{}", self.url, wire::POLL))
                .query("after", after.to_string())
                .call(),
        )
    }

    /// Tells the coordinator this site is still here (while it trains).
    fn heartbeat(&self) {
        let _ = self
            .agent
            .get(format!("{}{}", self.url, wire::POLL))
            .query("now", "true")
            .call();
    }

    /// Sends a message of the current round; `false` when the round had moved on without it
    /// (409: this site was late, and waits for the next round).
    fn post(&self, route: &str, body: &impl serde::Serialize) -> Result<bool> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let resp = self
            .agent
            .post(format!("{}{route}", self.url))
            .header("content-type", "application/json")
            .send(&bytes[..])
            .map_err(|e| self.fail(&e))?;
        if resp.status().as_u16() == 409 {
            return Ok(false);
        }
        let _: Value = self.answer(Ok(resp))?;
        Ok(true)
    }
}

/// The current round, as this site has taken part in it.
struct Current {
    round: u64,
    keys: Option<secagg::Site>,
    advertised: bool,
    shared: bool,
    sent: bool,
    revealed: bool,
    /// The round moved on without this site: it waits for the next.
    missed: bool,
    update_sha256: Option<String>,
    examples: u64,
    kind: RoundKind,
}

impl Current {
    fn new(round: u64, kind: RoundKind) -> Self {
        Self {
            round,
            keys: None,
            advertised: false,
            shared: false,
            sent: false,
            revealed: false,
            missed: false,
            update_sha256: None,
            examples: 0,
            kind,
        }
    }
}

/// What `airlock fl site` needs.
pub struct Options {
    pub vault: Vault,
    pub config: SiteConfig,
    /// In this round, stop before sending the input (still answering polls) until killed:
    /// how `fl simulate --kill-site` kills a site in the middle of a round, every time.
    pub hold_in_round: Option<u64>,
}

/// Takes part in the federation until the coordinator says it is over. `progress` is told
/// each step (`{"event": ..., "round": ...}`), before it is taken.
pub fn run(options: Options, progress: &dyn Fn(&Value)) -> Result<SiteOutcome> {
    let Options {
        vault,
        config,
        hold_in_round,
    } = options;
    let who = config.actor();
    let table = read_dataset(&vault, &config.dataset, &who)?;
    let agent = airlock_server::client::tls_agent(
        &config.ca,
        Some((config.cert.as_path(), config.key.as_path())),
    )?;
    let conn = Conn {
        agent,
        url: config.coordinator.trim_end_matches('/').to_owned(),
    };
    let mut rng = {
        use rand::SeedableRng;
        rand_chacha::ChaCha12Rng::from_seed(
            getrandom::u64()
                .map(|s| {
                    let mut seed = [0u8; 32];
                    seed[..8].copy_from_slice(&s.to_le_bytes());
                    if let Ok(more) = getrandom::u64() {
                        seed[8..16].copy_from_slice(&more.to_le_bytes());
                    }
                    seed
                })
                .map_err(|_| FlError::SecAgg(secagg::SecAggError::Random))?,
        )
    };
    let mut after = 0u64;
    let mut last_answer = Instant::now();
    let mut answered = false;
    let mut data: Option<(LocalData, Vec<f64>)> = None;
    let mut current: Option<Current> = None;
    let mut rounds: Vec<SiteRound> = Vec::new();
    let mut drift_sent = false;
    let mut name = String::new();
    let finish = |c: Option<Current>, rounds: &mut Vec<SiteRound>| -> Result<()> {
        if let Some(c) = c.filter(|c| c.advertised) {
            let r = SiteRound {
                round: c.round,
                kind: c.kind,
                sent: c.sent,
                update_sha256: c.update_sha256,
                examples: c.examples,
            };
            let mut event = Vault::event(
                &who,
                "fl:round",
                None,
                r.update_sha256.as_deref(),
                if r.sent { "ok" } else { "dropped" },
            );
            event.detail = serde_json::to_value(&r)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .map(|mut d| {
                    d.insert(
                        "spec_sha256".into(),
                        Value::from(config.spec_sha256.clone()),
                    );
                    d
                });
            vault.record(&[event])?;
            rounds.push(r);
        }
        Ok(())
    };
    loop {
        let view = match conn.poll(after) {
            Ok(v) => {
                last_answer = Instant::now();
                answered = true;
                v
            }
            // before the first answer only a coordinator not listening yet is waited for (a
            // refused handshake is final); after it, any failure for a while
            Err(FlError::Connect(why)) if answered || why.contains(NOT_LISTENING) => {
                if last_answer.elapsed() > PATIENCE {
                    return Err(FlError::Connect(why));
                }
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            Err(e) => return Err(e),
        };
        after = view.version;
        name.clone_from(&view.name);
        if view.spec_sha256 != config.spec_sha256 || view.spec.sha256() != config.spec_sha256 {
            let event = Vault::event(&who, "fl:round", None, None, "refused");
            vault.record(&[event])?;
            return Err(FlError::Refused(format!(
                "the coordinator runs spec {}, this site agreed to {}: refused",
                airlock_core::shown::escape(&view.spec_sha256, 64),
                config.spec_sha256
            )));
        }
        if current.as_ref().is_none_or(|c| c.round != view.round) {
            finish(current.take(), &mut rounds)?;
            current = Some(Current::new(view.round, view.kind));
        }
        if view.done {
            finish(current.take(), &mut rounds)?;
            progress(&json!({ "event": "done" }));
            return Ok(SiteOutcome { site: name, rounds });
        }
        let spec = &view.spec;
        if data.is_none() {
            let encoded = LocalData::encode(&table, &spec.encoding)?;
            let hist = sitedrift::histogram(&table, &spec.drift_bins()).map_err(FlError::Usage)?;
            data = Some((encoded, hist));
        }
        let Some((local, hist)) = &data else {
            continue;
        };
        let Some(c) = current.as_mut() else {
            continue;
        };
        let me = view.site;
        let secure = spec.secure_aggregation;
        if c.missed {
            continue;
        }
        match view.phase {
            Phase::Adverts if !c.advertised => {
                let (keys, advert) = secagg::Site::new(me)?;
                let drift = match (&view.federation_histogram, view.kind, drift_sent) {
                    (Some(fed), RoundKind::Train, false) => {
                        Some(sitedrift::distances(hist, fed, &spec.drift_bins()))
                    }
                    _ => None,
                };
                progress(&json!({ "event": "advert", "round": view.round }));
                if !conn.post(
                    wire::ADVERT,
                    &AdvertMsg {
                        round: view.round,
                        spec_sha256: config.spec_sha256.clone(),
                        c_public: advert.c_public,
                        s_public: advert.s_public,
                        drift: drift.clone(),
                    },
                )? {
                    c.missed = true;
                    progress(&json!({ "event": "missed", "round": view.round }));
                    continue;
                }
                drift_sent |= drift.is_some();
                c.keys = Some(keys);
                c.advertised = true;
            }
            Phase::Shares
                if c.advertised && !c.shared && view.adverts.iter().any(|a| a.site == me) =>
            {
                let Some(keys) = c.keys.as_mut() else {
                    continue;
                };
                let envelopes = keys.share_keys(&view.adverts, spec.min_sites)?;
                progress(&json!({ "event": "shares", "round": view.round }));
                if !conn.post(
                    wire::SHARES,
                    &SharesMsg {
                        round: view.round,
                        envelopes,
                    },
                )? {
                    c.missed = true;
                    progress(&json!({ "event": "missed", "round": view.round }));
                    continue;
                }
                c.shared = true;
            }
            Phase::Masked
                if c.advertised
                    && !c.sent
                    && if secure {
                        c.shared && view.u2.contains(&me)
                    } else {
                        view.adverts.iter().any(|a| a.site == me)
                    } =>
            {
                let Some(q) = view.quantizer else { continue };
                progress(&json!({ "event": "training", "round": view.round }));
                let (x, sha, examples) = match view.kind {
                    RoundKind::Drift => (hist.clone(), None, local.y.len() as u64),
                    RoundKind::Train => {
                        let dp = task::client_dp(spec)?;
                        // trains while still answering the coordinator's polls (a site that
                        // stops calling is taken to be gone)
                        let (update, n) = std::thread::scope(|s| {
                            let h = s.spawn(|| {
                                task::site_update(spec, &view.model, local, view.round, me)
                            });
                            let mut beat = Instant::now();
                            while !h.is_finished() {
                                if beat.elapsed() > Duration::from_millis(500) {
                                    conn.heartbeat();
                                    beat = Instant::now();
                                }
                                std::thread::sleep(Duration::from_millis(2));
                            }
                            h.join().unwrap_or_else(|_| {
                                Err(FlError::Usage("local training failed".into()))
                            })
                        })?;
                        let mut spare: Option<f64> = None;
                        let rng = &mut rng;
                        let mut normal = || {
                            if let Some(v) = spare.take() {
                                return v;
                            }
                            let (a, b) = airlock_train::normal_pair(rng);
                            spare = Some(b);
                            a
                        };
                        let x = task::site_input(spec, dp.as_ref(), &update, n, &mut normal);
                        (x, Some(task::values_sha256(&update)), n)
                    }
                };
                let y = match (&mut c.keys, secure) {
                    (Some(keys), true) => {
                        keys.receive(&view.envelopes)?;
                        keys.masked_input(&x, &q, &view.u2)?
                    }
                    _ => q.encode(&x),
                };
                if hold_in_round == Some(view.round) {
                    progress(&json!({ "event": "holding", "round": view.round }));
                    loop {
                        conn.heartbeat();
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                if !conn.post(
                    wire::MASKED,
                    &MaskedMsg {
                        round: view.round,
                        y,
                    },
                )? {
                    c.missed = true;
                    progress(&json!({ "event": "missed", "round": view.round }));
                    continue;
                }
                progress(&json!({ "event": "sent", "round": view.round }));
                c.sent = true;
                c.update_sha256 = sha;
                c.examples = examples;
            }
            // without secure aggregation there is nothing to reveal: the coordinator closes
            // the round at once, but a poll can see the phase in between (a plain site that
            // answered it failed: "site N is unknown in this round", now and then under load)
            Phase::Unmask if secure && c.sent && !c.revealed && view.u3.contains(&me) => {
                let Some(keys) = c.keys.as_ref() else {
                    continue;
                };
                let reveals = keys.unmask(&view.u2, &view.u3)?;
                if !conn.post(
                    wire::REVEAL,
                    &RevealMsg {
                        round: view.round,
                        reveals,
                    },
                )? {
                    c.missed = true;
                    progress(&json!({ "event": "missed", "round": view.round }));
                    continue;
                }
                c.revealed = true;
            }
            _ => {}
        }
    }
}
