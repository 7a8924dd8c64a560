//! `airlock gateway`: an OpenAI-compatible HTTP proxy in the path of prompts, completions and
//! embeddings. Callers authenticate (API keys hashed with argon2id, or client certificates
//! from the workspace CA) and their roles come from access.toml's `[actors]`; routes say which
//! roles may send which models to which upstream, with which guardrail on the way out
//! ([`guard`]: block, redact, pseudonymize, or allow under a BAA) and on the way back (block or
//! redact what did not come from the caller). Every call is an entry of the workspace's audit
//! log with counts and hashes, never text.
//!
//! Never prints: the CLI reports, and the operator's access log is a callback.

#![forbid(unsafe_code, unused_must_use)]

pub mod auth;
pub mod config;
pub mod drift;
pub mod guard;
pub mod keys;
pub mod server;
pub mod serving;
pub mod writer;

use std::path::PathBuf;

/// Why the gateway could not start or an operator command failed. Messages name files and
/// settings, never prompts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Vault(#[from] airlock_vault::VaultError),
    #[error(transparent)]
    Run(#[from] airlock_run::RunError),
    #[error(transparent)]
    Server(#[from] airlock_server::Error),
    #[error("cannot {action} {}", airlock_core::shown::path(path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
