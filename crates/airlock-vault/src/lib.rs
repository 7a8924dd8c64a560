//! Governance: the workspace vault. Datasets live in zones (raw, deid, dev, staging, prod),
//! each encrypted at rest under its own data key ([`seal`]); a SQLite catalog holds the
//! wrapped keys and what each dataset is; every operation appends to the tamper-evident
//! [`audit`] log; `access.toml` says which role may read or write which zone, for which
//! purposes. Shredding a dataset destroys its wrapped key: the object cannot be opened again.
//!
//! Depends on `airlock-core` only. Never prints.

#![forbid(unsafe_code, unused_must_use)]

pub mod access;
pub mod audit;
pub mod credentials;
pub mod error;
pub mod keyring;
pub mod lineage;
pub mod merkle;
pub mod seal;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use airlock_core::keys::{Purpose, WorkspaceSecret};
use airlock_core::output::AtomicOutput;

pub use access::{Access, Actor};
pub use audit::{AuditLog, Event};
pub use credentials::{AccessVersion, Credential, CredentialKind};
pub use error::{Result, VaultError};
use seal::DataKey;

/// The zones, from raw PHI to production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    Raw,
    Deid,
    Dev,
    Staging,
    Prod,
}

impl Zone {
    /// Every zone, in promotion order.
    pub const ALL: [Zone; 5] = [Zone::Raw, Zone::Deid, Zone::Dev, Zone::Staging, Zone::Prod];

    /// The zone's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Raw => "raw",
            Zone::Deid => "deid",
            Zone::Dev => "dev",
            Zone::Staging => "staging",
            Zone::Prod => "prod",
        }
    }

    /// The zone with this name.
    pub fn parse(name: &str) -> Result<Self> {
        Zone::ALL
            .into_iter()
            .find(|z| z.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| VaultError::UnknownZone(name.to_owned()))
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the catalog knows of a dataset (never its contents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub zone: String,
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
    pub bytes: u64,
    pub created_at: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shredded_at: Option<String>,
}

/// File names inside `.airlock/`.
pub const CATALOG_FILE: &str = "catalog.db";
pub const AUDIT_FILE: &str = "audit.log";
pub const ACCESS_FILE: &str = "access.toml";
pub const OBJECTS_DIR: &str = "objects";
/// Where decrypted data lives while the vault works on it: one private folder per process,
/// swept when its process is gone.
pub const TEMP_DIR: &str = "tmp";

/// An open workspace vault.
pub struct Vault {
    dir: PathBuf,
    secret: WorkspaceSecret,
    catalog: Connection,
    audit: AuditLog,
    access: Access,
    /// SHA-256 of the access.toml text `access` was read from, once checked against the
    /// recorded versions (`refresh_access`).
    access_sha: Option<String>,
    /// The versioned key-encryption keys (`keyring`); a lock, since rotation changes them.
    keyring: std::sync::Mutex<keyring::Keyring>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates what is missing of a vault in the workspace folder `dir` (`.airlock/`): the
    /// catalog, the objects folder, the audit log and default access rules. An existing file
    /// is left as it is.
    pub fn init(dir: &Path, secret: WorkspaceSecret) -> Result<Self> {
        let objects = dir.join(OBJECTS_DIR);
        std::fs::create_dir_all(&objects).map_err(|e| VaultError::io("create", &objects, e))?;
        let access = dir.join(ACCESS_FILE);
        if !access.exists() {
            std::fs::write(&access, access::DEFAULT)
                .map_err(|e| VaultError::io("write", &access, e))?;
        }
        let log = dir.join(AUDIT_FILE);
        let fresh = !log.exists() || std::fs::metadata(&log).is_ok_and(|m| m.len() == 0);
        let vault = Self::open(dir, secret)?;
        if fresh {
            vault.record(&[Event {
                actor: access::current_user(),
                role: "steward".into(),
                purpose: "administration".into(),
                action: "init".into(),
                outcome: "ok".into(),
                ..Event::default()
            }])?;
        }
        Ok(vault)
    }

    /// The workspace secret the vault was opened with.
    pub fn secret(&self) -> &WorkspaceSecret {
        &self.secret
    }

    /// Opens the vault in `dir` (`.airlock/`).
    pub fn open(dir: &Path, secret: WorkspaceSecret) -> Result<Self> {
        let path = dir.join(CATALOG_FILE);
        let cat = |source| VaultError::Catalog {
            path: path.clone(),
            source,
        };
        let catalog = Connection::open(&path).map_err(cat)?;
        catalog
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA secure_delete = ON;
                 PRAGMA busy_timeout = 10000;
                 CREATE TABLE IF NOT EXISTS datasets (
                     id TEXT PRIMARY KEY,
                     name TEXT NOT NULL,
                     zone TEXT NOT NULL,
                     sha256 TEXT NOT NULL,
                     bytes INTEGER NOT NULL,
                     object TEXT NOT NULL,
                     wrapped_key BLOB,
                     created_at TEXT NOT NULL,
                     created_by TEXT NOT NULL,
                     shredded_at TEXT,
                     source TEXT,
                     manifest TEXT
                 );
                 CREATE TABLE IF NOT EXISTS audit_head (
                     id INTEGER PRIMARY KEY CHECK (id = 1),
                     seq INTEGER NOT NULL,
                     hash TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS approvals (
                     dataset TEXT NOT NULL,
                     zone TEXT NOT NULL,
                     actor TEXT NOT NULL,
                     role TEXT NOT NULL,
                     time TEXT NOT NULL,
                     PRIMARY KEY (dataset, zone, actor)
                 );",
            )
            .map_err(cat)?;
        catalog.execute_batch(credentials::SCHEMA).map_err(cat)?;
        // catalogs made before lineage columns and row MACs existed
        let mut unsealed = false;
        for (table, column) in [
            ("datasets", "source TEXT"),
            ("datasets", "manifest TEXT"),
            ("datasets", "mac TEXT"),
            ("approvals", "mac TEXT"),
            ("datasets", "kek_version INTEGER"),
            ("datasets", "canaries TEXT"),
        ] {
            match catalog.execute(&format!("ALTER TABLE {table} ADD COLUMN {column}"), []) {
                Ok(_) => unsealed |= column.starts_with("mac"),
                Err(e) if e.to_string().contains("duplicate column") => {}
                Err(e) => return Err(cat(e)),
            }
        }
        let audit = AuditLog::new(dir.join(AUDIT_FILE), &secret.derive(Purpose::AuditHeads));
        // no rules until `refresh_access` below reads access.toml (once) and records it
        let access = Access::parse("", &dir.join(ACCESS_FILE))?;
        let keyring = keyring::Keyring::open(
            &dir.join(keyring::KEYRING_FILE),
            &secret.derive(Purpose::KeyringWrap),
        )?;
        let mut vault = Self {
            dir: dir.to_path_buf(),
            secret,
            catalog,
            audit,
            access,
            access_sha: None,
            keyring: std::sync::Mutex::new(keyring),
        };
        make_private(dir)?;
        if unsealed {
            // the one time a catalog gains its MAC column: its rows as they are now are sealed
            vault.seal_all()?;
        }
        vault.sweep_orphans()?;
        vault.sweep_temp();
        // a change to access.toml made since the last command is versioned and audited now
        vault.refresh_access(&Actor {
            name: access::current_user(),
            role: "-".into(),
            purpose: "access rules changed".into(),
        })?;
        Ok(vault)
    }

    /// Deletes what a killed `put` or `get` left in `objects/`: objects the catalog never
    /// named (no key opens them) and temporary files, once they are ten minutes old (a put
    /// in progress elsewhere is younger).
    fn sweep_orphans(&self) -> Result<usize> {
        let objects = self.dir.join(OBJECTS_DIR);
        let Ok(entries) = std::fs::read_dir(&objects) else {
            return Ok(0);
        };
        let known: std::collections::HashSet<String> = self
            .datasets()?
            .into_iter()
            .flat_map(|d| [format!("{}.alv", d.id), format!("{}.canaries.alv", d.id)])
            .collect();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
        let mut swept = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let orphan =
                name.ends_with(".alv") && !known.contains(&name) || name.ends_with(".airlock-tmp");
            let aged = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < old);
            if orphan && aged && std::fs::remove_file(entry.path()).is_ok() {
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// Deletes the private temporary folders of processes that are gone (a `get` or `vault
    /// deid` killed with SIGKILL leaves its plaintext there), and loose files in `tmp/` older
    /// than ten minutes. Best effort: a folder that cannot be removed is left for next time.
    fn sweep_temp(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(self.dir.join(TEMP_DIR)) else {
            return 0;
        };
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
        let mut swept = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let aged = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < old);
            let gone = match temp_owner(&name) {
                Some(pid) => !process_alive(pid, aged),
                None => aged,
            };
            let removed = if !gone {
                false
            } else if path.is_dir() {
                std::fs::remove_dir_all(&path).is_ok()
            } else {
                std::fs::remove_file(&path).is_ok()
            };
            swept += usize::from(removed);
        }
        swept
    }

    /// A private folder for decrypted data (0700, inside the workspace, named after this
    /// process so that a later start-up sweeps it if the process is killed); removed on drop.
    pub fn private_temp(&self) -> Result<tempfile::TempDir> {
        let base = self.dir.join(TEMP_DIR);
        std::fs::create_dir_all(&base).map_err(|e| VaultError::io("create", &base, e))?;
        set_mode(&base, 0o700)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("p{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(|e| VaultError::io("create", &base, e))?;
        set_mode(dir.path(), 0o700)?;
        Ok(dir)
    }

    /// A dataset's object: derived from its id, never read from the catalog as a path.
    fn object_path(&self, id: &str) -> Result<PathBuf> {
        check_id(id)?;
        Ok(self.dir.join(OBJECTS_DIR).join(format!("{id}.alv")))
    }

    /// HMAC of a catalog row (its columns as a JSON array, led by the table's tag) under the
    /// workspace's catalog key, hex.
    fn catalog_mac(&self, row: &serde_json::Value) -> String {
        let bytes = serde_json::to_vec(row).unwrap_or_default();
        data_encoding::HEXLOWER.encode(&self.secret.derive(Purpose::CatalogMac).mac(&bytes))
    }

    /// Dataset `id`'s row as stored, unchecked (see [`Vault::row`]).
    fn stored_row(&self, id: &str) -> Result<Option<StoredRow>> {
        self.catalog
            .query_row(
                "SELECT id, name, zone, sha256, bytes, created_at, created_by, shredded_at, object, wrapped_key, source, manifest, kek_version, mac, canaries FROM datasets WHERE id = ?1",
                params![id],
                |r| {
                    Ok(StoredRow {
                        ds: Dataset {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            zone: r.get(2)?,
                            sha256: r.get(3)?,
                            bytes: r.get::<_, i64>(4)? as u64,
                            created_at: r.get(5)?,
                            created_by: r.get(6)?,
                            shredded_at: r.get(7)?,
                        },
                        object: r.get(8)?,
                        wrapped: r.get(9)?,
                        source: r.get(10)?,
                        manifest: r.get(11)?,
                        kek_version: r.get(12)?,
                        mac: r.get(13)?,
                        canaries: r.get(14)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.cat_err(e))
    }

    /// Writes dataset `id`'s MAC over its row as it is now (after airlock changed it).
    fn seal_dataset(&self, id: &str) -> Result<()> {
        let Some(row) = self.stored_row(id)? else {
            return Err(VaultError::UnknownDataset(airlock_core::shown::escape(
                id, 64,
            )));
        };
        self.catalog
            .execute(
                "UPDATE datasets SET mac = ?2 WHERE id = ?1",
                params![id, self.catalog_mac(&row.mac_input())],
            )
            .map_err(|e| self.cat_err(e))?;
        Ok(())
    }

    /// Writes the MACs of dataset `id`'s approval rows: those by `only` (zone, actor), or every
    /// one (at upgrade).
    fn seal_approvals(&self, id: &str, only: Option<(&str, &str)>) -> Result<()> {
        for (row, _) in self.approval_rows(id)? {
            if let Some((zone, actor)) = only
                && (row[2].as_str() != Some(zone) || row[3].as_str() != Some(actor))
            {
                continue;
            }
            self.catalog
                .execute(
                    "UPDATE approvals SET mac = ?4 WHERE dataset = ?1 AND zone = ?2 AND actor = ?3",
                    params![
                        row[1].as_str(),
                        row[2].as_str(),
                        row[3].as_str(),
                        self.catalog_mac(&row)
                    ],
                )
                .map_err(|e| self.cat_err(e))?;
        }
        Ok(())
    }

    /// Seals every row of a catalog that has just gained its MAC column (once, at upgrade).
    fn seal_all(&self) -> Result<()> {
        for id in self.ids("SELECT id FROM datasets")? {
            self.seal_dataset(&id)?;
            self.seal_approvals(&id, None)?;
        }
        Ok(())
    }

    fn cat_err(&self, source: rusqlite::Error) -> VaultError {
        VaultError::Catalog {
            path: self.dir.join(CATALOG_FILE),
            source,
        }
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Appends events (and a checkpoint) to the audit log and records its new head.
    pub fn record(&self, events: &[Event]) -> Result<()> {
        let (seq, hash) = self.audit.append(events)?;
        self.catalog
            .execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
                 WHERE excluded.seq > audit_head.seq",
                params![seq as i64, hash],
            )
            .map_err(|e| self.cat_err(e))?;
        Ok(())
    }

    /// Verifies the audit log: every entry, every tree head's root and signature, and that it
    /// still ends where the catalog last saw it end.
    pub fn verify_audit(&self) -> Result<audit::Verified> {
        let head: Option<(i64, String)> = self
            .catalog
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| self.cat_err(e))?;
        self.audit.verify(
            &self.audit.public_key(),
            head.as_ref().map(|(s, h)| (*s as u64, h.as_str())),
        )
    }

    /// The access rules' `[models]` gate.
    pub fn model_gate(&self) -> access::ModelGate {
        self.access.model_gate().clone()
    }

    /// An audit event of `who` (the vault's, and its callers' such as the enclave's).
    pub fn event(
        who: &Actor,
        action: &str,
        dataset: Option<&str>,
        sha: Option<&str>,
        outcome: &str,
    ) -> Event {
        Event {
            actor: who.name.clone(),
            role: who.role.clone(),
            purpose: who.purpose.clone(),
            action: action.into(),
            dataset: dataset.map(str::to_owned),
            object_sha256: sha.map(str::to_owned),
            outcome: outcome.into(),
            detail: None,
        }
    }

    /// Whether the access rules let `who` `action` in `zone` (a question, not recorded: for a
    /// service that checks its own standing when it starts).
    pub fn may(&self, who: &Actor, action: access::Action, zone: Zone) -> bool {
        self.access.check(who, action, zone).is_ok()
    }

    /// Checks `who` may `action` in `zone`; a refusal is recorded in the audit log.
    pub fn allow(
        &self,
        who: &Actor,
        action: access::Action,
        zone: Zone,
        dataset: Option<&str>,
    ) -> Result<()> {
        check_actor(who)?;
        if let Err(e) = self.access.check(who, action, zone) {
            self.record(&[Self::event(who, action.as_str(), dataset, None, "denied")])?;
            return Err(e);
        }
        Ok(())
    }

    /// Encrypts `file` into `zone` under a fresh data key and catalogs it.
    pub fn put(&self, file: &Path, zone: Zone, name: Option<&str>, who: &Actor) -> Result<Dataset> {
        check_actor(who)?;
        // data enters at raw; the deid zone holds only what an `airlock deid` run wrote
        // (`put_derived`), and only `promote`, through its gates, moves data further
        let why = match zone {
            Zone::Raw => None,
            Zone::Deid => Some("cannot be stored in zone deid: it takes only the output of an airlock deid run (airlock vault deid DATASET --policy P)".to_owned()),
            other => Some(format!("cannot be stored in zone {other}: data reaches it only through `airlock vault promote`, past the residual scan and the approvals")),
        };
        if let Some(why) = why {
            self.record(&[Self::event(who, "put", None, None, "refused")])?;
            return Err(VaultError::Gate {
                dataset: name.map_or_else(
                    || airlock_core::shown::path(file).to_string(),
                    |n| airlock_core::shown::escape(n, 80),
                ),
                why,
            });
        }
        self.put_inner(file, zone, name, who, None, None, "put")
    }

    /// Seals the canary file of the canary patients planted in raw dataset `id` (`airlock
    /// canary plant`) beside it, under its data key. Every dataset de-identified from it after
    /// this, and every enclave output made from those, carries the canary file forward, so
    /// outputs can be searched for the canaries even after the raw data is shredded. Refused
    /// once something was derived from the dataset (those would lack the file) or when it has
    /// one already.
    pub fn attach_canaries(&self, id: &str, canaries: &[u8], who: &Actor) -> Result<()> {
        check_actor(who)?;
        let row = self.row(id)?;
        let zone = Zone::parse(&row.ds.zone)?;
        self.allow(who, access::Action::Write, zone, Some(id))?;
        let derived: i64 = self
            .catalog
            .query_row(
                "SELECT COUNT(*) FROM datasets WHERE source = ?1",
                params![id],
                |r| r.get(0),
            )
            .map_err(|e| self.cat_err(e))?;
        let why = if zone != Zone::Raw {
            Some("canaries are planted in raw data; this dataset is not in zone raw")
        } else if row.canaries.is_some() {
            Some("it carries a canary file already")
        } else if derived > 0 {
            Some("datasets were already derived from it, and they would not carry the canaries")
        } else {
            None
        };
        let Some(wrapped) = row.wrapped.as_ref().filter(|_| why.is_none()) else {
            self.record(&[Self::event(who, "canaries", Some(id), None, "refused")])?;
            return Err(VaultError::Gate {
                dataset: airlock_core::shown::escape(id, 64),
                why: why.unwrap_or("it was shredded").to_owned(),
            });
        };
        let key = self.data_key(&row, wrapped)?;
        let sha = self.seal_canaries(id, &key, canaries)?;
        self.write_tx(|| {
            self.catalog
                .execute(
                    "UPDATE datasets SET canaries = ?2 WHERE id = ?1",
                    params![id, sha],
                )
                .map_err(|e| self.cat_err(e))?;
            self.seal_dataset(id)
        })?;
        self.record(&[Self::event(who, "canaries", Some(id), Some(&sha), "ok")])
    }

    /// Seals a canary file beside dataset `id`'s object; the plaintext's SHA-256.
    fn seal_canaries(&self, id: &str, key: &DataKey, text: &[u8]) -> Result<String> {
        let path = self.canaries_path(id)?;
        let (out, sealed) = stream_to(&path, true, |w| {
            seal::seal(key, &format!("{id}.canaries"), &mut &text[..], w)
        })?;
        out.commit()?;
        set_mode(&path, 0o600)?;
        Ok(sealed.sha256)
    }

    /// The canary file dataset `id` carries (planted in it, or in the data it was made from),
    /// decrypted; `None` when it carries none. A shredded dataset's is gone with its key.
    pub fn canaries(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row = self.row(id)?;
        let (Some(sha), Some(wrapped)) = (&row.canaries, &row.wrapped) else {
            return Ok(None);
        };
        let key = self.data_key(&row, wrapped)?;
        let path = self.canaries_path(id)?;
        let mut input = std::fs::File::open(&path).map_err(|e| VaultError::io("read", &path, e))?;
        let mut plain = Vec::new();
        let opened = seal::open(&key, &format!("{id}.canaries"), &mut input, &mut plain)?;
        if &opened.sha256 != sha {
            return Err(VaultError::Tampered);
        }
        Ok(Some(plain))
    }

    /// Every distinct canary file the workspace holds (of datasets not shredded), decrypted:
    /// what a gate searches its data for.
    pub fn all_canaries(&self) -> Result<Vec<Vec<u8>>> {
        let ids = self.ids(
            "SELECT MIN(id) FROM datasets WHERE canaries IS NOT NULL AND wrapped_key IS NOT NULL GROUP BY canaries ORDER BY canaries",
        )?;
        ids.iter()
            .filter_map(|id| self.canaries(id).transpose())
            .collect()
    }

    fn canaries_path(&self, id: &str) -> Result<PathBuf> {
        check_id(id)?;
        Ok(self
            .dir
            .join(OBJECTS_DIR)
            .join(format!("{id}.canaries.alv")))
    }

    /// Stores the output of a de-identification run of dataset `source` in the deid zone,
    /// with the run's manifest (lineage).
    pub fn put_derived(
        &self,
        file: &Path,
        name: &str,
        who: &Actor,
        source: &str,
        manifest: &str,
    ) -> Result<Dataset> {
        self.put_inner(
            file,
            Zone::Deid,
            Some(name),
            who,
            Some(source),
            Some(manifest),
            "deid",
        )
    }

    /// Registers an output of an enclave run (a model, an evaluation) in the dev zone,
    /// encrypted like any dataset: it passed the enclave's residual scan, the gate into dev.
    /// `source` is the run's first input; `record` the run's record (JSON), kept as its
    /// manifest. From dev it is promoted through the same gates and approvals as datasets.
    pub fn put_artifact(
        &self,
        file: &Path,
        name: &str,
        who: &Actor,
        source: &str,
        record: &str,
    ) -> Result<Dataset> {
        self.put_inner(
            file,
            Zone::Dev,
            Some(name),
            who,
            Some(source),
            Some(record),
            "enclave:output",
        )
    }

    /// Registers a model trained by a federation (`airlock fl coordinator`) in the dev zone:
    /// it was made from no dataset of this workspace; `record` (JSON) names the federation's
    /// spec, sites and rounds, kept as its manifest. From dev it is promoted like any model.
    pub fn put_federated_model(
        &self,
        file: &Path,
        name: &str,
        who: &Actor,
        record: &str,
    ) -> Result<Dataset> {
        self.put_inner(
            file,
            Zone::Dev,
            Some(name),
            who,
            None,
            Some(record),
            "fl:model",
        )
    }

    /// What the catalog knows of dataset `id` (not audited: nothing is decrypted).
    pub fn dataset(&self, id: &str) -> Result<Dataset> {
        self.row(id).map(|r| r.ds)
    }

    /// Datasets whose plaintext has this SHA-256 (to place a file in the vault's lineage).
    pub fn find_by_sha256(&self, sha256: &str) -> Result<Vec<Dataset>> {
        Ok(self
            .datasets()?
            .into_iter()
            .filter(|d| d.sha256 == sha256)
            .collect())
    }

    /// The source dataset and manifest of a dataset written by a deid run.
    pub fn lineage(&self, id: &str) -> Result<(Option<String>, Option<String>)> {
        self.catalog
            .query_row(
                "SELECT source, manifest FROM datasets WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.cat_err(e))?
            .ok_or_else(|| VaultError::UnknownDataset(id.to_owned()))
    }

    #[allow(clippy::too_many_arguments)]
    fn put_inner(
        &self,
        file: &Path,
        zone: Zone,
        name: Option<&str>,
        who: &Actor,
        source: Option<&str>,
        manifest: Option<&str>,
        action: &str,
    ) -> Result<Dataset> {
        self.allow(who, access::Action::Write, zone, None)?;
        // what is made from a dataset carries its canary file forward
        let canaries = source.map(|s| self.canaries(s)).transpose()?.flatten();
        let id = new_id()?;
        let key = DataKey::generate()?;
        let object = self.dir.join(OBJECTS_DIR).join(format!("{id}.alv"));
        let mut input = std::fs::File::open(file).map_err(|e| VaultError::io("read", file, e))?;
        let name = name.map_or_else(
            || {
                file.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("dataset")
                    .to_owned()
            },
            str::to_owned,
        );
        check_label("dataset name", &name)?;
        let (out, sealed) = stream_to(&object, false, |w| seal::seal(&key, &id, &mut input, w))?;
        out.commit()?;
        set_mode(&object, 0o600)?;
        let canaries_sha = canaries
            .map(|text| self.seal_canaries(&id, &key, &text))
            .transpose()?;
        let ds = Dataset {
            id: id.clone(),
            name,
            zone: zone.to_string(),
            sha256: sealed.sha256.clone(),
            bytes: sealed.bytes,
            created_at: airlock_core::manifest::now_rfc3339(),
            created_by: who.name.clone(),
            shredded_at: None,
        };
        // the object is in place before the catalog names it: a crash in between leaves an
        // object no key opens, never a catalog entry without its object
        self.write_tx(|| {
            let (kek_version, wrapped) = self.wrap_current(&key, &id, zone)?;
            self.catalog
                .execute(
                    "INSERT INTO datasets (id, name, zone, sha256, bytes, object, wrapped_key, created_at, created_by, source, manifest, kek_version, canaries)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    params![ds.id, ds.name, ds.zone, ds.sha256, ds.bytes as i64, format!("{id}.alv"), wrapped, ds.created_at, ds.created_by, source, manifest, kek_version, canaries_sha],
                )
                .map_err(|e| self.cat_err(e))?;
            self.seal_dataset(&id)
        })?;
        self.record(&[Self::event(who, action, Some(&id), Some(&ds.sha256), "ok")])?;
        Ok(ds)
    }

    /// Dataset `id`'s catalog row, refused when it was changed outside airlock (relabelled
    /// zone, forged approval state, restored key, edited object): its MAC no longer verifies.
    fn row(&self, id: &str) -> Result<StoredRow> {
        let Some(row) = self.stored_row(id)? else {
            return Err(VaultError::UnknownDataset(id.to_owned()));
        };
        let expected = self.catalog_mac(&row.mac_input());
        let ok = row.mac.as_ref().is_some_and(|m| same(m, &expected));
        if ok {
            Ok(row)
        } else {
            Err(VaultError::CatalogEdited {
                dataset: airlock_core::shown::escape(id, 64),
                what: "its catalog row",
            })
        }
    }

    /// Decrypts dataset `id` to `output` (atomically) for `who`, if the access rules allow.
    pub fn get(&self, id: &str, output: &Path, force: bool, who: &Actor) -> Result<Dataset> {
        let row = self.row(id)?;
        let ds = row.ds.clone();
        self.allow(who, access::Action::Read, Zone::parse(&ds.zone)?, Some(id))?;
        let Some(wrapped) = &row.wrapped else {
            self.record(&[Self::event(who, "get", Some(id), None, "failed")])?;
            return Err(VaultError::Shredded(id.to_owned()));
        };
        let key = match self.data_key(&row, wrapped) {
            Ok(key) => key,
            Err(e) => {
                self.record(&[Self::event(who, "get", Some(id), None, "failed")])?;
                return Err(e);
            }
        };
        let path = self.object_path(&ds.id)?;
        let denied = self.access.denied_columns(who).to_vec();
        // the plaintext is staged beside `output` and released (renamed into place) only after
        // the audit entry of this read is written and synced: if the log cannot be written,
        // nothing is released
        let staged = if denied.is_empty() {
            self.decrypt_to(&key, &ds, &path, output, force, who)?
        } else {
            // decrypt privately, then hand over only the columns the role may have
            let tmp = self.private_temp()?;
            let plain = tmp.path().join(temp_name(&ds));
            // decrypt_to audits its own failures; a failed projection is audited here
            self.decrypt_to(&key, &ds, &path, &plain, true, who)?
                .commit()?;
            let projected = project(&plain, Path::new(&ds.name), output, force, &denied);
            let _ = std::fs::remove_file(&plain);
            match projected {
                Ok(staged) => staged,
                Err(e) => {
                    self.record(&[Self::event(who, "get", Some(id), None, "failed")])?;
                    return Err(e);
                }
            }
        };
        self.record(&[Self::event(who, "get", Some(id), Some(&ds.sha256), "ok")])?;
        staged.commit()?;
        Ok(ds)
    }

    /// Decrypts an object to a staged `output` and checks its SHA-256 against the catalog; the
    /// caller commits it. On any failure nothing is left at `output` and the failure is audited.
    fn decrypt_to(
        &self,
        key: &DataKey,
        ds: &Dataset,
        object: &Path,
        output: &Path,
        force: bool,
        who: &Actor,
    ) -> Result<AtomicOutput> {
        let mut input = std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(object).map_err(|e| VaultError::io("read", object, e))?,
        );
        let fail = |e: VaultError| -> Result<AtomicOutput> {
            self.record(&[Self::event(who, "get", Some(&ds.id), None, "failed")])?;
            Err(e)
        };
        // on failure the temporary output is dropped, never renamed: no plaintext is left
        let (out, opened) =
            match stream_to(output, force, |w| seal::open(key, &ds.id, &mut input, w)) {
                Ok(done) => done,
                Err(e) => return fail(e),
            };
        if opened.sha256 != ds.sha256 {
            return fail(VaultError::Tampered);
        }
        Ok(out)
    }

    /// Every dataset in the catalog, shredded ones included (nothing is decrypted); the
    /// listing itself is audited.
    pub fn list(&self, who: &Actor) -> Result<Vec<Dataset>> {
        check_actor(who)?;
        self.record(&[Self::event(who, "ls", None, None, "ok")])?;
        self.datasets()
    }

    fn datasets(&self) -> Result<Vec<Dataset>> {
        self.ids("SELECT id FROM datasets ORDER BY created_at, id")?
            .iter()
            .map(|id| self.row(id).map(|r| r.ds))
            .collect()
    }

    /// The dataset ids a query without parameters selects.
    fn ids(&self, sql: &str) -> Result<Vec<String>> {
        let mut stmt = self.catalog.prepare(sql).map_err(|e| self.cat_err(e))?;
        stmt.query_map([], |r| r.get(0))
            .map_err(|e| self.cat_err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.cat_err(e))
    }

    /// Destroys dataset `id`'s data key (and deletes its object): it can never be opened again.
    pub fn shred(&self, id: &str, who: &Actor) -> Result<Dataset> {
        let ds = self.row(id)?.ds;
        self.allow(who, access::Action::Shred, Zone::parse(&ds.zone)?, Some(id))?;
        self.shred_unchecked(id, who, "shred", true)
    }

    /// Rotates the key-encryption keys: a new random KEK, every live data key rewrapped under
    /// it (the objects are not touched), then every older KEK destroyed. `who` needs a role
    /// that may shred raw data.
    pub fn rotate_keys(&self, who: &Actor) -> Result<Rotation> {
        self.allow(who, access::Action::Shred, Zone::Raw, None)?;
        self.rotate_unchecked(who)
    }

    fn rotate_unchecked(&self, who: &Actor) -> Result<Rotation> {
        let (version, rewrapped) = self.write_tx(|| {
            let ids =
                self.ids("SELECT id FROM datasets WHERE wrapped_key IS NOT NULL ORDER BY id")?;
            let mut keys = Vec::with_capacity(ids.len());
            for id in &ids {
                let row = self.row(id)?;
                let wrapped = row
                    .wrapped
                    .as_deref()
                    .ok_or_else(|| VaultError::Shredded(id.clone()))?;
                keys.push((row.ds.clone(), self.data_key(&row, wrapped)?));
            }
            let version = self.lock_keyring()?.add_version()?;
            for (ds, key) in &keys {
                let (v, wrapped) = self.wrap_current(key, &ds.id, Zone::parse(&ds.zone)?)?;
                self.catalog
                    .execute(
                        "UPDATE datasets SET wrapped_key = ?2, kek_version = ?3 WHERE id = ?1",
                        params![ds.id, wrapped, v],
                    )
                    .map_err(|e| self.cat_err(e))?;
                self.seal_dataset(&ds.id)?;
            }
            Ok((version, keys.len()))
        })?;
        // every live key is under the new version: a process wrapping after the commit reads
        // the keyring again and uses it
        let destroyed = self.lock_keyring()?.destroy_old()?;
        self.record(&[Self::event(who, "keys:rotate", None, None, "ok")])?;
        Ok(Rotation {
            version,
            rewrapped,
            destroyed,
        })
    }

    /// The keyring as it is on disk now: another process (a second CLI user, the server's
    /// operator) may have rotated it since this vault opened.
    fn lock_keyring(&self) -> Result<std::sync::MutexGuard<'_, keyring::Keyring>> {
        let mut ring = self
            .keyring
            .lock()
            .map_err(|_| VaultError::Keyring("a thread failed while it held the keyring".into()))?;
        ring.reload()?;
        Ok(ring)
    }

    /// Runs `f` in an immediate write transaction of the catalog: a row and its MAC change
    /// together (no reader in another process sees one without the other), and key wrapping
    /// is serialized with rotations (a data key is never wrapped under a KEK version another
    /// process is destroying).
    fn write_tx<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.catalog
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.cat_err(e))?;
        match f() {
            Ok(v) => {
                self.catalog
                    .execute_batch("COMMIT")
                    .map_err(|e| self.cat_err(e))?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.catalog.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The data key's wrapping context: bound to the dataset's id and zone.
    fn key_context(id: &str, zone: Zone) -> Vec<u8> {
        format!("airlock-data-key/v2\n{id}\n{zone}").into_bytes()
    }

    /// Wraps `key` for dataset `id` in `zone` under the current KEK; returns its version.
    fn wrap_current(&self, key: &DataKey, id: &str, zone: Zone) -> Result<(u32, Vec<u8>)> {
        let (version, kek) = self.lock_keyring()?.current()?;
        Ok((version, key.wrap_kek(&kek, &Self::key_context(id, zone))?))
    }

    /// Opens dataset `ds`'s wrapped data key: under the KEK version its row names, bound to its
    /// id and zone (a row from before versioned KEKs: under the key derived from the secret).
    fn data_key(&self, row: &StoredRow, wrapped: &[u8]) -> Result<DataKey> {
        let ds = &row.ds;
        match row.kek_version {
            None => DataKey::unwrap(
                &self.secret.derive(Purpose::DataEncryption),
                &ds.id,
                wrapped,
            ),
            Some(v) => {
                let v = u32::try_from(v).map_err(|_| VaultError::WrongKey)?;
                let kek = self.lock_keyring()?.get(v)?;
                DataKey::unwrap_kek(
                    &kek,
                    &Self::key_context(&ds.id, Zone::parse(&ds.zone)?),
                    wrapped,
                )
            }
        }
    }

    fn shred_unchecked(
        &self,
        id: &str,
        who: &Actor,
        action: &str,
        rotate: bool,
    ) -> Result<Dataset> {
        let mut ds = self.row(id)?.ds;
        let path = self.object_path(&ds.id)?;
        let now = airlock_core::manifest::now_rfc3339();
        // secure_delete zeroes the freed page content of the old key
        self.write_tx(|| {
            self.catalog
                .execute(
                    "UPDATE datasets SET wrapped_key = NULL, shredded_at = COALESCE(shredded_at, ?2) WHERE id = ?1",
                    params![id, now],
                )
                .map_err(|e| self.cat_err(e))?;
            self.seal_dataset(id)
        })?;
        for path in [path, self.canaries_path(id)?] {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(VaultError::io("delete", &path, e));
            }
        }
        self.record(&[Self::event(who, action, Some(id), Some(&ds.sha256), "ok")])?;
        if rotate {
            // a copy of the catalog from before this shred holds the key under a KEK that dies
            self.rotate_unchecked(who)?;
        }
        ds.shredded_at = Some(ds.shredded_at.unwrap_or(now));
        Ok(ds)
    }
}

/// A dataset's catalog row as stored.
struct StoredRow {
    ds: Dataset,
    object: String,
    wrapped: Option<Vec<u8>>,
    source: Option<String>,
    manifest: Option<String>,
    kek_version: Option<i64>,
    mac: Option<String>,
    /// SHA-256 of the canary file sealed beside the object, when the data carries canaries.
    canaries: Option<String>,
}

impl StoredRow {
    /// What the row's MAC covers: every column but the MAC, led by the table's tag.
    fn mac_input(&self) -> serde_json::Value {
        let d = &self.ds;
        let mut v = serde_json::json!([
            "dataset",
            d.id,
            d.name,
            d.zone,
            d.sha256,
            d.bytes as i64,
            self.object,
            self.wrapped
                .as_ref()
                .map(|k| data_encoding::HEXLOWER.encode(k)),
            d.created_at,
            d.created_by,
            d.shredded_at,
            self.source,
            self.manifest,
            self.kek_version,
        ]);
        // rows without canaries keep the MAC they had before the column existed; clearing the
        // column of a row that has them breaks its MAC
        if let (Some(c), Some(a)) = (&self.canaries, v.as_array_mut()) {
            a.push(c.as_str().into());
        }
        v
    }
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Rotation {
    /// The KEK version every live data key is now wrapped under.
    pub version: u32,
    /// Data keys rewrapped (no object is re-encrypted).
    pub rewrapped: usize,
    /// KEK versions destroyed.
    pub destroyed: Vec<u32>,
}

/// What a promotion checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Promotion {
    pub dataset: String,
    pub from: String,
    pub to: String,
    /// Residual-scan findings in the decrypted data (deid to dev).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<u64>,
    /// Distinct approvals recorded for the target zone (to staging and prod).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<u64>,
}

/// A dataset retention would shred, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Expired {
    pub dataset: String,
    pub zone: String,
    pub created_at: String,
    pub retention_days: u32,
}

impl Vault {
    /// Records `who`'s approval of dataset `id` for zone `to` (one per actor).
    pub fn approve(&self, id: &str, to: Zone, who: &Actor) -> Result<u64> {
        let ds = self.row(id)?.ds;
        if ds.shredded_at.is_some() {
            return Err(VaultError::Shredded(id.to_owned()));
        }
        self.allow(who, access::Action::Approve, to, Some(id))?;
        if who.name == ds.created_by {
            // whoever made a dataset asks for its release: its approvals come from others
            self.record(&[Self::event(
                who,
                &format!("approve:{to}"),
                Some(id),
                None,
                "refused",
            )])?;
            return Err(VaultError::Gate {
                dataset: id.to_owned(),
                why: "cannot be approved by the actor who created it: approvals come from others"
                    .into(),
            });
        }
        // the approvals already there must be airlock's own before one is added to them
        self.approvals(id, to)?;
        self.write_tx(|| {
            self.catalog
                .execute(
                    "INSERT OR IGNORE INTO approvals (dataset, zone, actor, role, time) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, to.as_str(), who.name, who.role, airlock_core::manifest::now_rfc3339()],
                )
                .map_err(|e| self.cat_err(e))?;
            self.seal_approvals(id, Some((to.as_str(), &who.name)))
        })?;
        self.record(&[Self::event(
            who,
            &format!("approve:{to}"),
            Some(id),
            Some(&ds.sha256),
            "ok",
        )])?;
        self.approvals(id, to)
    }

    /// Distinct actors who approved `id` into `to`; an approval row edited or added outside
    /// airlock (its MAC does not verify) is refused.
    fn approvals(&self, id: &str, to: Zone) -> Result<u64> {
        let mut actors = std::collections::BTreeSet::new();
        for (row, mac) in self.approval_rows(id)? {
            if !mac
                .as_deref()
                .is_some_and(|m| same(m, &self.catalog_mac(&row)))
            {
                return Err(VaultError::CatalogEdited {
                    dataset: airlock_core::shown::escape(id, 64),
                    what: "an approval",
                });
            }
            // ["approval", dataset, zone, actor, role, time]
            if row[2] == to.as_str() {
                actors.insert(row[3].to_string());
            }
        }
        Ok(actors.len() as u64)
    }

    /// Every approval row of `id` (dataset, zone, actor, role, time) with its stored MAC.
    #[allow(clippy::type_complexity)]
    fn approval_rows(&self, id: &str) -> Result<Vec<(serde_json::Value, Option<String>)>> {
        let mut stmt = self
            .catalog
            .prepare(
                "SELECT dataset, zone, actor, role, time, mac FROM approvals WHERE dataset = ?1 ORDER BY zone, actor",
            )
            .map_err(|e| self.cat_err(e))?;
        stmt.query_map(params![id], |r| {
            Ok((
                serde_json::json!([
                    "approval",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ]),
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .map_err(|e| self.cat_err(e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| self.cat_err(e))
    }

    /// Moves dataset `id` one zone toward production, if its gate passes: raw data reaches
    /// deid only through `airlock deid`; deid to dev needs a clean residual scan of the
    /// decrypted data (`scan` is given the path of a temporary plaintext copy and returns its
    /// findings); staging and prod need the approvals `access.toml` asks for, from distinct
    /// actors. Every attempt is audited.
    pub fn promote(
        &self,
        id: &str,
        to: Zone,
        who: &Actor,
        scan: &dyn Fn(&Path) -> Result<u64>,
    ) -> Result<Promotion> {
        let ds = self.row(id)?.ds;
        if ds.shredded_at.is_some() {
            return Err(VaultError::Shredded(id.to_owned()));
        }
        let from = Zone::parse(&ds.zone)?;
        let refuse = |why: String| -> Result<Promotion> {
            self.record(&[Self::event(
                who,
                &format!("promote:{to}"),
                Some(id),
                Some(&ds.sha256),
                "refused",
            )])?;
            Err(VaultError::Gate {
                dataset: id.to_owned(),
                why: format!("cannot be promoted: {why}"),
            })
        };
        let next = Zone::ALL
            .iter()
            .position(|z| *z == from)
            .and_then(|i| Zone::ALL.get(i + 1))
            .copied();
        if next != Some(to) {
            return refuse(format!(
                "it is in zone {from}; a dataset moves one zone at a time"
            ));
        }
        self.allow(who, access::Action::Write, to, Some(id))?;
        let mut promotion = Promotion {
            dataset: id.to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            findings: None,
            approvals: None,
        };
        match to {
            Zone::Raw => unreachable_zone()?,
            Zone::Deid => {
                return refuse("raw data reaches the deid zone only through an `airlock deid` run (airlock vault deid)".into());
            }
            Zone::Dev => {
                let tmp = self.private_temp()?;
                let plain = tmp.path().join(temp_name(&ds));
                // the deid run's manifest beside the plaintext tells the scan which columns
                // that run transformed
                let beside = airlock_core::manifest::Manifest::path_for(&plain);
                if let (_, Some(manifest)) = self.lineage(id)? {
                    std::fs::write(&beside, manifest)
                        .map_err(|e| VaultError::io("write", &beside, e))?;
                }
                let found = self.get(id, &plain, true, who).and_then(|_| scan(&plain));
                let _ = std::fs::remove_file(&plain);
                let _ = std::fs::remove_file(&beside);
                let found = found?;
                promotion.findings = Some(found);
                if found > 0 {
                    return refuse(format!("the residual scan found {found} identifiers in it"));
                }
            }
            Zone::Staging | Zone::Prod => {
                let needed = self.access.approvals_needed(to);
                let have = self.approvals(id, to)?;
                promotion.approvals = Some(have);
                if have < needed {
                    return refuse(format!(
                        "zone {to} needs {needed} approvals from distinct actors (`airlock approve`); it has {have}"
                    ));
                }
            }
        }
        // the data key is bound to the zone: rewrapped for the new one, in the same update
        self.write_tx(|| {
            let row = self.row(id)?;
            let wrapped = row
                .wrapped
                .as_deref()
                .ok_or_else(|| VaultError::Shredded(id.to_owned()))?;
            let key = self.data_key(&row, wrapped)?;
            let (version, rewrapped) = self.wrap_current(&key, id, to)?;
            self.catalog
                .execute(
                    "UPDATE datasets SET zone = ?2, wrapped_key = ?3, kek_version = ?4 WHERE id = ?1",
                    params![id, to.as_str(), rewrapped, version],
                )
                .map_err(|e| self.cat_err(e))?;
            self.seal_dataset(id)
        })?;
        self.record(&[Self::event(
            who,
            &format!("promote:{to}"),
            Some(id),
            Some(&ds.sha256),
            "ok",
        )])?;
        Ok(promotion)
    }

    /// Datasets older than their zone's retention (`access.toml` `[retention]`, in days);
    /// unless `dry_run`, each is shredded and the shredding audited.
    pub fn apply_retention(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        dry_run: bool,
        who: &Actor,
    ) -> Result<Vec<Expired>> {
        check_actor(who)?;
        let mut expired = Vec::new();
        for ds in self.datasets()? {
            if ds.shredded_at.is_some() {
                continue;
            }
            let Some(days) = self.access.retention_days(Zone::parse(&ds.zone)?) else {
                continue;
            };
            let Ok(created) = chrono::DateTime::parse_from_rfc3339(&ds.created_at) else {
                continue;
            };
            if now.signed_duration_since(created) >= chrono::Duration::days(i64::from(days)) {
                expired.push(Expired {
                    dataset: ds.id.clone(),
                    zone: ds.zone.clone(),
                    created_at: ds.created_at.clone(),
                    retention_days: days,
                });
                if !dry_run {
                    // shredding on retention needs a role that may shred in the zone
                    self.allow(
                        who,
                        access::Action::Shred,
                        Zone::parse(&ds.zone)?,
                        Some(&ds.id),
                    )?;
                    self.shred_unchecked(&ds.id, who, "retention", false)?;
                }
            }
        }
        if dry_run {
            self.record(&[Self::event(who, "retention:dry-run", None, None, "ok")])?;
        } else if !expired.is_empty() {
            // one rotation for all that was shredded
            self.rotate_unchecked(who)?;
        }
        Ok(expired)
    }
}

fn unreachable_zone() -> Result<()> {
    Err(VaultError::UnknownZone(
        "raw (nothing is promoted into raw)".into(),
    ))
}

/// Streams `write`'s bytes into a temporary file beside `target` and flushes them; the caller
/// commits (which syncs and renames) or drops it (which deletes it).
fn stream_to<T>(
    target: &Path,
    force: bool,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<T>,
) -> Result<(AtomicOutput, T)> {
    let out = AtomicOutput::create(target, force)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out.file()?);
    let value = write(&mut w)?;
    w.into_inner()
        .map_err(|e| VaultError::Write(e.into_error()))?;
    Ok((out, value))
}

/// Copies the table at `plain` to a staged `output` without the `denied` columns; the caller
/// commits it.
fn project(
    plain: &Path,
    name: &Path,
    output: &Path,
    force: bool,
    denied: &[String],
) -> Result<AtomicOutput> {
    use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, TableReader, TableWriter};
    let Some(format) = Format::from_path(name) else {
        return Err(VaultError::Gate {
            dataset: airlock_core::shown::escape(&name.display().to_string(), 80),
            why: "is not a table, and this role may receive only some columns of it".into(),
        });
    };
    let mut reader = TableReader::open(plain, format, DEFAULT_BATCH_SIZE)?;
    let schema = reader.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !denied.iter().any(|d| d == schema.field(i).name()))
        .collect();
    let projected = std::sync::Arc::new(
        schema
            .project(&keep)
            .map_err(|e| VaultError::Write(std::io::Error::other(e)))?,
    );
    let out = AtomicOutput::create(output, force)?;
    let mut writer = TableWriter::new(out.file()?, output, format, projected)?;
    while let Some(batch) = reader.next_batch()? {
        let batch = batch
            .project(&keep)
            .map_err(|e| VaultError::Write(std::io::Error::other(e)))?;
        writer.write(&batch)?;
    }
    writer.finish()?;
    Ok(out)
}

/// Most characters of a label (an actor, role, purpose or dataset name).
const LABEL_MAX: usize = 200;

/// Whether two MACs (hex) are equal, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses an actor whose name, role or purpose is no label ([`check_label`]): before anything
/// is done or written to the audit log.
pub fn check_actor(who: &Actor) -> Result<()> {
    check_label("actor name", &who.name)?;
    check_label("role", &who.role)?;
    check_label("purpose", &who.purpose)
}

/// Refuses a label with control characters (they rewrite a terminal or a log line when shown)
/// or longer than [`LABEL_MAX`]; the error does not repeat it. (`vault ls` has no role.)
pub fn check_label(what: &'static str, label: &str) -> Result<()> {
    if label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(VaultError::BadLabel { what });
    }
    Ok(())
}

/// A dataset id as `new_id` makes them (`ds-` and 16 base32 letters): anything else (a
/// catalog row edited to `../../x`) is refused before it can name a file.
fn check_id(id: &str) -> Result<()> {
    let ok = id.strip_prefix("ds-").is_some_and(|rest| {
        rest.len() == 16
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(VaultError::UnknownDataset(airlock_core::shown::escape(
            id, 64,
        )))
    }
}

/// A decrypted dataset's file name in a private folder: its id, and its name's extension when
/// that is a plain one (the format is read from it). The name is a label, never a path.
fn temp_name(ds: &Dataset) -> String {
    let ext = Path::new(&ds.name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 10 && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    match ext {
        Some(ext) => format!("{}.{ext}", ds.id),
        None => ds.id.clone(),
    }
}

/// The process id in a private temporary folder's name (`p1234-…`).
fn temp_owner(name: &str) -> Option<u32> {
    name.strip_prefix('p')?.split('-').next()?.parse().ok()
}

/// Whether process `pid` still runs (Linux: `/proc/PID`); where that cannot be told, a folder
/// counts as live until it is ten minutes old.
fn process_alive(pid: u32, aged: bool) -> bool {
    if Path::new("/proc/self").exists() {
        airlock_core::output::process_may_run(pid)
    } else {
        !aged
    }
}

/// Sets `path`'s permission bits (Unix; elsewhere nothing).
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| VaultError::io("set permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// `.airlock` and its folders 0700, every file in it 0600 (the catalog's journal files too).
fn make_private(dir: &Path) -> Result<()> {
    set_mode(dir, 0o700)?;
    for sub in [OBJECTS_DIR, TEMP_DIR] {
        let p = dir.join(sub);
        if p.is_dir() {
            set_mode(&p, 0o700)?;
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|e| VaultError::io("read", dir, e))?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            set_mode(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

fn new_id() -> Result<String> {
    let mut b = [0u8; 10];
    getrandom::fill(&mut b).map_err(|_| VaultError::Random)?;
    Ok(format!(
        "ds-{}",
        data_encoding::BASE32_NOPAD.encode(&b).to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steward() -> Actor {
        Actor {
            name: "sam".into(),
            role: "steward".into(),
            purpose: "ingest".into(),
        }
    }

    /// A canary file rides with the data: sealed beside the raw table, copied forward to what
    /// is de-identified from it (and stays there when the raw table is shredded), and a row
    /// whose canary column is cleared outside airlock no longer verifies.
    #[test]
    fn canaries_ride_with_the_data_and_their_column_is_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join(".airlock");
        std::fs::create_dir_all(&ws).unwrap();
        let vault = Vault::init(&ws, WorkspaceSecret::from_bytes([9; 32])).unwrap();
        let input = dir.path().join("raw.csv");
        std::fs::write(&input, "a,b\n1,2\n").unwrap();
        let raw = vault.put(&input, Zone::Raw, None, &steward()).unwrap();
        assert_eq!(vault.canaries(&raw.id).unwrap(), None);
        let file = br#"{"format":"airlock-canaries/1","canaries":[]}"#;
        vault.attach_canaries(&raw.id, file, &steward()).unwrap();
        assert_eq!(vault.canaries(&raw.id).unwrap().as_deref(), Some(&file[..]));
        // once only
        assert!(matches!(
            vault.attach_canaries(&raw.id, file, &steward()),
            Err(VaultError::Gate { .. })
        ));
        let derived = vault
            .put_derived(&input, "deid.csv", &steward(), &raw.id, "{}")
            .unwrap();
        vault.shred(&raw.id, &steward()).unwrap();
        assert_eq!(vault.canaries(&raw.id).unwrap(), None);
        assert_eq!(
            vault.canaries(&derived.id).unwrap().as_deref(),
            Some(&file[..])
        );
        // not on de-identified data
        assert!(matches!(
            vault.attach_canaries(&derived.id, file, &steward()),
            Err(VaultError::Gate { .. })
        ));
        // an insider clears the column to dodge the search: the row no longer verifies
        vault
            .catalog
            .execute(
                "UPDATE datasets SET canaries = NULL WHERE id = ?1",
                params![derived.id],
            )
            .unwrap();
        assert!(matches!(
            vault.canaries(&derived.id),
            Err(VaultError::CatalogEdited { .. })
        ));
    }

    /// The data key is bound to the dataset's zone: an insider who holds the secret, relabels
    /// a row and re-seals its MAC still cannot open it under the new zone.
    #[test]
    fn a_data_key_is_bound_to_its_zone() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join(".airlock");
        std::fs::create_dir_all(&ws).unwrap();
        let vault = Vault::init(&ws, WorkspaceSecret::from_bytes([9; 32])).unwrap();
        let input = dir.path().join("raw.csv");
        std::fs::write(&input, "a,b\n1,2\n").unwrap();
        let ds = vault.put(&input, Zone::Raw, None, &steward()).unwrap();
        vault
            .get(&ds.id, &dir.path().join("ok.csv"), false, &steward())
            .unwrap();
        vault
            .catalog
            .execute(
                "UPDATE datasets SET zone = 'prod' WHERE id = ?1",
                params![ds.id],
            )
            .unwrap();
        vault.seal_dataset(&ds.id).unwrap();
        let out = dir.path().join("no.csv");
        assert!(matches!(
            vault.get(&ds.id, &out, false, &steward()),
            Err(VaultError::WrongKey)
        ));
        assert!(!out.exists());
    }
}
