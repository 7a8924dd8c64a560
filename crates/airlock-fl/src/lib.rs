//! Federated learning: sites keep their rows and send model updates; the coordinator learns
//! only their sum ([`secagg`]). The library owns the run: [`coordinator`] and [`site`] are
//! the two processes (mutual TLS with certificates from the federation's CA, [`ca`]),
//! [`simulate`] a whole federation on one machine; the CLI only parses arguments.
//!
//! Never prints.

#![forbid(unsafe_code, unused_must_use)]

use std::path::{Path, PathBuf};

pub mod ca;
pub mod card;
pub mod coordinator;
pub mod fedavg;
pub mod local;
pub mod round;
pub mod secagg;
pub mod simulate;
pub mod site;
pub mod sitedrift;
pub mod spec;
pub mod task;
pub mod wire;

/// Why a federation command failed. Messages never hold a value of the data; paths are
/// escaped and capped.
#[derive(Debug, thiserror::Error)]
pub enum FlError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot {action} {}: {source}", airlock_core::shown::path(.path))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
    #[error("cannot reach the coordinator: {0}")]
    Connect(String),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    Round(#[from] round::RoundError),
    #[error(transparent)]
    SecAgg(#[from] secagg::SecAggError),
    #[error(transparent)]
    Train(#[from] airlock_train::TrainError),
    #[error(transparent)]
    Dp(#[from] airlock_dp::DpError),
    #[error(transparent)]
    Vault(#[from] airlock_vault::VaultError),
    #[error(transparent)]
    Server(#[from] airlock_server::Error),
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
}

impl FlError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether this is the user's mistake (exit 2) rather than a refusal or failure (1).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_) | Self::Spec(_) | Self::Io { .. })
    }
}

/// Results of this crate.
pub type Result<T, E = FlError> = std::result::Result<T, E>;

/// Reads a TOML configuration file into `T`, refusing unknown keys; relative paths in it are
/// then read from the file's folder (see [`rebase`]).
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| FlError::io("read", path, e))?;
    toml::from_str(&text).map_err(|e| {
        FlError::Usage(format!(
            "{} is not a valid configuration: {}",
            airlock_core::shown::path(path),
            airlock_core::shown::escape(e.message(), 300)
        ))
    })
}

/// `p` relative to the folder of the configuration file `config`.
pub(crate) fn rebase(config: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config.parent().unwrap_or(Path::new(".")).join(p)
    }
}
