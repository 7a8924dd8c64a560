//! `airlock serve`: the one process that holds a workspace's key material. People and services
//! authenticate (client certificates from the workspace's CA, API keys hashed with argon2id);
//! the identity comes from that, never from what a client says; access.toml's `[actors]`
//! binds identities to roles. Every vault, approval, retention, audit and lineage operation
//! runs here through the same library calls as the CLI's single-user local mode
//! (`airlock_vault`, `airlock_run::vault`), and the CLI is a client of it when
//! `AIRLOCK_SERVER` is set ([`client`]).
//!
//! Never prints: the CLI reports what [`server::serve`] returns.

#![forbid(unsafe_code, unused_must_use)]

pub mod apikey;
pub mod ca;
pub mod client;
pub mod oidc;
pub mod server;

use std::path::{Path, PathBuf};

/// Header naming the role a request acts as.
pub const ROLE_HEADER: &str = "x-airlock-role";
/// Header naming the purpose a request declares.
pub const PURPOSE_HEADER: &str = "x-airlock-purpose";
/// Header carrying a fetched dataset's catalog record (base64url of its JSON).
pub const DATASET_HEADER: &str = "x-airlock-dataset";
/// Header carrying the SHA-256 of the bytes a fetch releases (the dataset itself, or its
/// projection where the role is denied columns; the server checked the dataset's own hash).
pub const RELEASED_HEADER: &str = "x-airlock-released-sha256";

/// Why a server or client operation failed. Messages name files, identities and datasets,
/// never data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Vault(#[from] airlock_vault::VaultError),
    #[error(transparent)]
    Run(#[from] airlock_run::RunError),
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot {action} {}", airlock_core::shown::path(path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    /// The client could not reach the server.
    #[error("cannot reach the airlock server at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server refused or failed; its message and hint.
    #[error("the server refused: {message}")]
    Server {
        status: u16,
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// What the user can do about it, where airlock knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Vault(e) => e.hint(),
            Self::Run(e) => e.hint(),
            Self::Core(e) => e.hint(),
            Self::Server { hint, .. } => hint.clone(),
            Self::Connect { .. } => Some(
                "check --server / AIRLOCK_SERVER, and that --ca names the workspace CA's certificate (ca.pem)".into(),
            ),
            _ => None,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
