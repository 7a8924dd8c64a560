//! De-identification of tables: column transforms over Arrow arrays, the streaming engine that
//! applies a policy to a file, the profiler that drafts a policy from a sample, and the
//! synthetic demo hospital. Free text goes through a `TextScrubber` the caller passes in
//! (`airlock-text`'s `TextEngine` in the product).
//!
//! Depends on `airlock-core` only. Never prints or exits: the CLI (or a server) shows progress
//! and results. No cell value ever enters an error, a report or a manifest.

#![forbid(unsafe_code, unused_must_use)]

/// Date parsing and shifting live in `airlock-core` (text uses them without this crate).
pub use airlock_core::dates;
pub mod demo;
pub mod engine;
pub mod profile;
pub mod token;
pub mod transform;

/// Invented surrogate values live in `airlock-core` (the profiler and the free-text
/// surrogates both use them).
pub use airlock_core::surrogate_lists;

pub use engine::{DeidJob, DeidReport, Plan, Progress, run};
