//! The identities a server authenticates, kept in the catalog: client certificates issued by
//! the workspace's CA (by fingerprint) and API keys (by an argon2id hash the server computes).
//! Every row carries a MAC under the catalog key, so a credential added or un-revoked outside
//! airlock is refused like an edited dataset row. Issuing and revoking are audited.
//!
//! The versions of `access.toml` live here too: every change to the file is recorded in the
//! catalog (sealed) and in the audit log, whoever made it.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};
use crate::{Actor, Event, Vault};

/// How an identity proves itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// A client certificate issued by `airlock ca issue`; `digest` is its SHA-256, hex.
    Cert,
    /// An API key for a service; `digest` is its argon2id hash (PHC string).
    Key,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cert => "cert",
            Self::Key => "key",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "cert" => Some(Self::Cert),
            "key" => Some(Self::Key),
            _ => None,
        }
    }
}

/// A credential as the catalog holds it (the digest never leaves the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    /// The name bound to roles in access.toml's `[actors]`, as `cert:NAME` or `key:NAME`.
    pub subject: String,
    #[serde(skip)]
    pub digest: String,
    pub created_at: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl Credential {
    fn mac_input(&self) -> serde_json::Value {
        serde_json::json!([
            "credential",
            self.id,
            self.kind.as_str(),
            self.subject,
            self.digest,
            self.created_at,
            self.created_by,
            self.revoked_at,
        ])
    }
}

/// A recorded version of `access.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessVersion {
    pub version: u64,
    pub sha256: String,
    pub recorded_at: String,
    pub recorded_by: String,
}

pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS credentials (
         id TEXT PRIMARY KEY,
         kind TEXT NOT NULL,
         subject TEXT NOT NULL,
         digest TEXT NOT NULL,
         created_at TEXT NOT NULL,
         created_by TEXT NOT NULL,
         revoked_at TEXT,
         mac TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS credentials_digest ON credentials (kind, digest);
     CREATE TABLE IF NOT EXISTS access_versions (
         version INTEGER PRIMARY KEY,
         sha256 TEXT NOT NULL,
         text TEXT NOT NULL,
         recorded_at TEXT NOT NULL,
         recorded_by TEXT NOT NULL,
         mac TEXT NOT NULL
     );";

/// A subject name: a short label of letters, digits and `.-_@`, so that it is safe in a
/// certificate, a log line and access.toml.
pub fn check_subject_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(VaultError::BadIdentity)
    }
}

impl Vault {
    /// Records a new credential for `name` and audits it; returns it. `digest` is the
    /// certificate's SHA-256 or the key's argon2id hash.
    pub fn add_credential(
        &self,
        kind: CredentialKind,
        name: &str,
        digest: &str,
        who: &Actor,
    ) -> Result<Credential> {
        check_subject_name(name)?;
        crate::check_actor(who)?;
        let cred = Credential {
            id: format!("cr-{}", &crate::new_id()?[3..]),
            kind,
            subject: format!("{}:{name}", kind.as_str()),
            digest: digest.to_owned(),
            created_at: airlock_core::manifest::now_rfc3339(),
            created_by: who.name.clone(),
            revoked_at: None,
        };
        let mac = self.catalog_mac(&cred.mac_input());
        self.catalog
            .execute(
                "INSERT INTO credentials (id, kind, subject, digest, created_at, created_by, revoked_at, mac)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
                params![cred.id, kind.as_str(), cred.subject, cred.digest, cred.created_at, cred.created_by, mac],
            )
            .map_err(|e| self.cat_err(e))?;
        self.record(&[Event {
            dataset: Some(cred.id.clone()),
            ..Self::event(
                who,
                &format!("credential:issue:{}", cred.subject),
                None,
                None,
                "ok",
            )
        }])?;
        Ok(cred)
    }

    /// Revokes credential `id` (a certificate or key is refused from then on); audited.
    pub fn revoke_credential(&self, id: &str, who: &Actor) -> Result<Credential> {
        crate::check_actor(who)?;
        let mut cred = self
            .credential(id)?
            .ok_or_else(|| VaultError::UnknownCredential(airlock_core::shown::escape(id, 64)))?;
        if cred.revoked_at.is_none() {
            cred.revoked_at = Some(airlock_core::manifest::now_rfc3339());
            let mac = self.catalog_mac(&cred.mac_input());
            self.catalog
                .execute(
                    "UPDATE credentials SET revoked_at = ?2, mac = ?3 WHERE id = ?1",
                    params![cred.id, cred.revoked_at, mac],
                )
                .map_err(|e| self.cat_err(e))?;
        }
        self.record(&[Event {
            dataset: Some(cred.id.clone()),
            ..Self::event(
                who,
                &format!("credential:revoke:{}", cred.subject),
                None,
                None,
                "ok",
            )
        }])?;
        Ok(cred)
    }

    /// Every credential, revoked ones included; a row edited outside airlock is an error.
    pub fn credentials(&self) -> Result<Vec<Credential>> {
        self.credentials_where("1 = 1", params![])
    }

    /// Credential `id`, if any (checked).
    pub fn credential(&self, id: &str) -> Result<Option<Credential>> {
        Ok(self
            .credentials_where("id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// The live (not revoked) credentials of a kind with this digest (checked).
    pub fn live_credentials(&self, kind: CredentialKind, digest: &str) -> Result<Vec<Credential>> {
        Ok(self
            .credentials_where("kind = ?1 AND digest = ?2", params![kind.as_str(), digest])?
            .into_iter()
            .filter(|c| c.revoked_at.is_none())
            .collect())
    }

    fn credentials_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Credential>> {
        let sql = format!(
            "SELECT id, kind, subject, digest, created_at, created_by, revoked_at, mac FROM credentials WHERE {filter} ORDER BY created_at, id"
        );
        let mut stmt = self.catalog.prepare(&sql).map_err(|e| self.cat_err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(|e| self.cat_err(e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.cat_err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, kind, subject, digest, created_at, created_by, revoked_at, mac) in rows {
            let edited = || VaultError::CatalogEdited {
                dataset: airlock_core::shown::escape(&id, 64),
                what: "a credential",
            };
            let kind = CredentialKind::parse(&kind).ok_or_else(edited)?;
            let cred = Credential {
                id: id.clone(),
                kind,
                subject,
                digest,
                created_at,
                created_by,
                revoked_at,
            };
            if !crate::same(&mac, &self.catalog_mac(&cred.mac_input())) {
                return Err(edited());
            }
            out.push(cred);
        }
        Ok(out)
    }

    /// Uses the access rules as they are in `access.toml` now, and records them when they
    /// differ from the last recorded version: a new sealed version in the catalog and an
    /// `access:version:N` audit entry (by `who`, with the text's SHA-256). Another process may
    /// have recorded the change already (the operator's command beside a running server);
    /// the rules are taken up all the same. Returns whether this call recorded a version. A
    /// file that does not parse is an error and the rules in use stay as they were.
    pub fn refresh_access(&mut self, who: &Actor) -> Result<bool> {
        let path = self.dir.join(crate::ACCESS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(VaultError::io("read", &path, e)),
        };
        let sha = sha256_hex(text.as_bytes());
        if self.access_sha.as_deref() == Some(sha.as_str()) {
            return Ok(false);
        }
        let mut access = crate::Access::parse(&text, &path)?;
        access.require_bound = self.access.require_bound;
        // the write lock only when there is a version to record (every command opens a vault)
        let last = self.access_versions()?.pop();
        let recorded = if last.as_ref().is_some_and(|v| v.sha256 == sha) {
            None
        } else {
            self.record_access_version(&sha, &text, who)?
        };
        if let Some(version) = recorded {
            self.record(&[Self::event(
                who,
                &format!("access:version:{version}"),
                None,
                Some(&sha),
                "ok",
            )])?;
        }
        self.access = access;
        self.access_sha = Some(sha);
        Ok(recorded.is_some())
    }

    /// Records `text` as the next version of access.toml, unless another process has just
    /// recorded it; the version number when this call did.
    fn record_access_version(&self, sha: &str, text: &str, who: &Actor) -> Result<Option<u64>> {
        self.write_tx(|| {
            let last = self.access_versions()?.pop();
            if last.as_ref().is_some_and(|v| v.sha256 == sha) {
                return Ok(None);
            }
            let v = AccessVersion {
                version: last.map_or(1, |v| v.version + 1),
                sha256: sha.to_owned(),
                recorded_at: airlock_core::manifest::now_rfc3339(),
                recorded_by: who.name.clone(),
            };
            let mac = self.catalog_mac(&access_mac_input(&v, text));
            self.catalog
                .execute(
                    "INSERT INTO access_versions (version, sha256, text, recorded_at, recorded_by, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![v.version as i64, v.sha256, text, v.recorded_at, v.recorded_by, mac],
                )
                .map_err(|e| self.cat_err(e))?;
            Ok(Some(v.version))
        })
    }

    /// The recorded versions of `access.toml`, oldest first (checked).
    pub fn access_versions(&self) -> Result<Vec<AccessVersion>> {
        let mut stmt = self
            .catalog
            .prepare("SELECT version, sha256, text, recorded_at, recorded_by, mac FROM access_versions ORDER BY version")
            .map_err(|e| self.cat_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    AccessVersion {
                        version: r.get::<_, i64>(0)? as u64,
                        sha256: r.get(1)?,
                        recorded_at: r.get(3)?,
                        recorded_by: r.get(4)?,
                    },
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.cat_err(e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.cat_err(e))?;
        rows.into_iter()
            .map(|(v, text, mac)| {
                if crate::same(&mac, &self.catalog_mac(&access_mac_input(&v, &text)))
                    && sha256_hex(text.as_bytes()) == v.sha256
                {
                    Ok(v)
                } else {
                    Err(VaultError::CatalogEdited {
                        dataset: format!("access.toml version {}", v.version),
                        what: "a recorded version of the access rules",
                    })
                }
            })
            .collect()
    }

    /// The roles access.toml's `[actors]` binds `subject` to.
    pub fn roles_of(&self, subject: &str) -> Vec<String> {
        self.access.roles_of(subject)
    }

    /// Server mode: identities come from authentication, and a role is used only where
    /// `[actors]` binds it to the identity (no `[actors]` table: no role for anyone).
    pub fn require_bound_roles(&mut self) {
        self.access.require_bound = true;
    }
}

fn access_mac_input(v: &AccessVersion, text: &str) -> serde_json::Value {
    serde_json::json!([
        "access",
        v.version as i64,
        v.sha256,
        text,
        v.recorded_at,
        v.recorded_by
    ])
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))
}
