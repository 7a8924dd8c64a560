//! Shared types for airlock: the policy file, the workspace secret and its purpose keys,
//! table I/O over Arrow (CSV, JSONL, Parquet), atomic output, run manifests, the free-text
//! seam and the one error type.
//!
//! This crate holds only what two or more airlock crates use. It depends on no other airlock
//! crate, never prints and never exits; it returns typed errors that carry no data values.

#![forbid(unsafe_code, unused_must_use)]

pub mod clock;
pub mod dates;
pub mod error;
pub mod keys;
pub mod manifest;
pub mod output;
pub mod phi;
pub mod policy;
pub mod risk;
pub mod shown;
pub mod table;
pub mod text;
pub mod walk;

/// Invented surrogate values, shared by the profiler (which must not mistake them for real
/// names) and the free-text surrogates in `airlock-text`. One value a line; `#` starts a comment.
pub mod surrogate_lists {
    /// Person names.
    pub const NAMES: &str = include_str!("../data/surrogate-names.txt");
    /// Street names.
    pub const STREETS: &str = include_str!("../data/surrogate-streets.txt");
    /// Town and facility names.
    pub const PLACES: &str = include_str!("../data/surrogate-places.txt");
}

pub use error::{Error, InputProblem, KeyError, Result};
