//! The federation's certificate authority (`airlock fl ca`): the coordinator's server
//! certificate, a client certificate per site, a signed revocation list, and the registry of
//! the sites it issued (`sites.json`: name, id, certificate fingerprint and serial, revoked).
//! The coordinator admits a connection only with a certificate this CA issued and did not
//! revoke (checked in the TLS handshake against the CA and its revocation list), and a
//! request only from a certificate the registry names (so a certificate minted with a stolen
//! CA key alone names no site).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use airlock_server::ca::{self as server_ca, CaFiles};

use crate::secagg::SiteId;
use crate::{FlError, Result};

/// The organization the federation CA's certificates name.
pub const FL_ORG: &str = "airlock federation";
const REGISTRY: &str = "sites.json";

/// One site the CA issued a certificate to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteEntry {
    pub name: String,
    /// Its id in every round (secure aggregation's party number).
    pub id: SiteId,
    /// SHA-256 of its certificate's DER, hex.
    pub sha256: String,
    pub serial: String,
    pub issued_at: String,
    pub revoked: bool,
}

/// The sites the federation CA issued certificates to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub sites: Vec<SiteEntry>,
}

impl Registry {
    /// The registry of the CA in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(REGISTRY);
        let text = std::fs::read_to_string(&path).map_err(|e| FlError::io("read", &path, e))?;
        serde_json::from_str(&text).map_err(|_| {
            FlError::Usage(format!(
                "{} is not a federation site registry",
                airlock_core::shown::path(&path)
            ))
        })
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        Ok(airlock_core::output::write_atomic(
            &dir.join(REGISTRY),
            text.as_bytes(),
            true,
        )?)
    }

    /// The site whose certificate has this fingerprint, unless revoked.
    pub fn by_fingerprint(&self, sha256: &str) -> Option<&SiteEntry> {
        self.sites.iter().find(|s| !s.revoked && s.sha256 == sha256)
    }

    /// The sites not revoked.
    pub fn active(&self) -> impl Iterator<Item = &SiteEntry> {
        self.sites.iter().filter(|s| !s.revoked)
    }
}

/// The CA's files in `dir`.
pub fn files(dir: &Path) -> CaFiles {
    CaFiles::at(dir.to_path_buf())
}

/// Creates the federation CA in `dir` with the coordinator's certificate for `hosts`.
pub fn init(dir: &Path, hosts: &[String]) -> Result<CaFiles> {
    let files = files(dir);
    server_ca::create(&files, FL_ORG, hosts)?;
    Registry::default().save(dir)?;
    Ok(files)
}

/// A site's certificate as issued.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub site: SiteEntry,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA certificate the site trusts the coordinator by.
    pub ca: PathBuf,
}

/// Issues site `name` a client certificate valid `days`, written to `out` as `NAME.pem` and
/// `NAME.key`; a name already issued and not revoked is refused.
pub fn issue(dir: &Path, name: &str, days: u32, out: &Path) -> Result<Issued> {
    airlock_vault::credentials::check_subject_name(name)?;
    let files = files(dir);
    let mut registry = Registry::load(dir)?;
    if registry.active().any(|s| s.name == name) {
        return Err(FlError::Usage(format!(
            "site {name} already has a certificate; revoke it first (`airlock fl ca revoke {name}`)"
        )));
    }
    let cert = server_ca::issue_client(&files, FL_ORG, name, days, out)?;
    // a re-issued site keeps its id
    let id = registry
        .sites
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.id)
        .unwrap_or_else(|| registry.sites.iter().map(|s| s.id).max().unwrap_or(0) + 1);
    let site = SiteEntry {
        name: name.to_owned(),
        id,
        sha256: cert.sha256,
        serial: cert.serial,
        issued_at: airlock_core::manifest::now_rfc3339(),
        revoked: false,
    };
    registry.sites.push(site.clone());
    registry.save(dir)?;
    Ok(Issued {
        site,
        cert: cert.cert,
        key: cert.key,
        ca: files.ca_cert(),
    })
}

/// Revokes every certificate of site `name`: the revocation list is rewritten (the
/// coordinator's handshake refuses them from its next start) and the registry marks them
/// (its requests are refused from the next round).
pub fn revoke(dir: &Path, name: &str) -> Result<usize> {
    let mut registry = Registry::load(dir)?;
    let mut n = 0;
    for s in registry
        .sites
        .iter_mut()
        .filter(|s| s.name == name && !s.revoked)
    {
        s.revoked = true;
        n += 1;
    }
    if n == 0 {
        return Err(FlError::Usage(format!(
            "no certificate of site {} to revoke",
            airlock_core::shown::escape(name, 64)
        )));
    }
    let serials: Vec<String> = registry
        .sites
        .iter()
        .filter(|s| s.revoked)
        .map(|s| s.serial.clone())
        .collect();
    server_ca::revoke(&files(dir), FL_ORG, &serials)?;
    registry.save(dir)?;
    Ok(n)
}
