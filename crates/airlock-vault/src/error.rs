//! Vault errors: they name datasets, zones, files and log lines, never data or key material.

use std::path::PathBuf;

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The operating system's random source failed.
    #[error("the system random number generator failed")]
    Random,
    /// An encryption primitive failed (should not happen with valid keys).
    #[error("encryption failed")]
    Crypto,
    /// The data key does not open: another workspace secret, or another dataset's key.
    #[error(
        "the key does not open this dataset (a different workspace secret, or the wrong dataset)"
    )]
    WrongKey,
    /// An object failed authentication: truncated, reordered, spliced or edited.
    #[error(
        "the encrypted object failed authentication: it was truncated, reordered, spliced or edited"
    )]
    Tampered,
    /// A file is not a vault object.
    #[error("not an airlock vault object")]
    NotAnObject,
    /// Reading the input failed.
    #[error("cannot read the input")]
    Read(#[source] std::io::Error),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
    /// A file or folder of the workspace could not be used.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The catalog database failed.
    #[error("the vault catalog {} cannot be used", path.display())]
    Catalog {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// No such dataset.
    #[error("no dataset {0} in the vault catalog")]
    UnknownDataset(String),
    /// The dataset's key was destroyed.
    #[error("dataset {0} was shredded: its key is destroyed and its contents are gone for good")]
    Shredded(String),
    /// The actor's role may not do this.
    #[error("{actor} (role {role}) may not {action} zone {zone} for purpose {purpose}")]
    Denied {
        actor: String,
        role: String,
        action: &'static str,
        zone: String,
        purpose: String,
    },
    /// `access.toml` is not valid.
    #[error("access rules {} are not valid: {reason}", path.display())]
    Access { path: PathBuf, reason: String },
    /// An unknown zone name.
    #[error("unknown zone {0} (zones: raw, deid, dev, staging, prod)")]
    UnknownZone(String),
    /// A promotion gate refused.
    #[error("dataset {dataset} {why}")]
    Gate { dataset: String, why: String },
    /// A workspace file failed (atomic output, keys).
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
    /// The key-encryption key a data key was wrapped under was destroyed (by a rotation).
    #[error(
        "the key-encryption key (version {0}) this dataset's key was wrapped under was destroyed by a key rotation: a catalog restored from before a shred or a rotation cannot open it"
    )]
    KekDestroyed(u32),
    /// The keyring file is not usable.
    #[error("the vault keyring .airlock/keyring: {0}")]
    Keyring(String),
    /// A catalog row changed outside airlock: its MAC does not verify.
    #[error(
        "dataset {dataset}: {what} was changed outside airlock (its MAC does not verify); restore .airlock/catalog.db from a backup and keep this copy as evidence"
    )]
    CatalogEdited { dataset: String, what: &'static str },
    /// An actor, role, purpose or dataset name with control characters, or too long.
    #[error(
        "the {what} is too long or has control characters (it would rewrite what a terminal or a log shows); it is not repeated here"
    )]
    BadLabel { what: &'static str },
    /// No such credential.
    #[error("no credential {0} in the catalog")]
    UnknownCredential(String),
    /// An identity name outside what airlock accepts.
    #[error(
        "an identity name is 1 to 64 letters, digits and . _ - @; this one is not (it is not repeated here)"
    )]
    BadIdentity,
    /// The workspace has a secret but no vault.
    #[error("this workspace has no vault (run `airlock init` in a new workspace)")]
    NoVault,
    /// The audit log does not verify.
    #[error("audit log {}: {}", .path.display(), at_entry(*.line, .problem))]
    AuditBroken {
        path: PathBuf,
        line: u64,
        problem: String,
    },
}

/// "entry 4 was edited", or the problem alone where it is no entry's (line 0).
fn at_entry(line: u64, problem: &str) -> String {
    if line == 0 {
        problem.to_owned()
    } else {
        format!("entry {line} {problem}")
    }
}

/// Results of the vault.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

impl VaultError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// What the user can do about it, where the vault knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::WrongKey => Some("use the workspace secret the dataset was stored with (--key-file)".into()),
            Self::Denied { .. } => Some("ask an administrator to grant the role this zone and purpose in .airlock/access.toml".into()),
            Self::UnknownDataset(_) => Some("`airlock vault ls` lists the datasets".into()),
            Self::UnknownCredential(_) => Some("`airlock credentials ls` lists them".into()),
            Self::AuditBroken { .. } => Some("the log was edited, truncated or reordered after it was written; keep this copy as evidence and restore the log from a backup".into()),
            _ => None,
        }
    }
}
