//! Re-identification risk: equivalence classes over quasi-identifiers, k-anonymity, distinct
//! and entropy l-diversity, t-closeness, prosecutor and marketer risk, ARX hierarchies, and a
//! globally optimal full-domain generalization search under those criteria with a suppression
//! limit and ARX's Loss metric.
//!
//! Depends on `airlock-core`, and on `airlock-deid` for running a policy's `[risk]` block after
//! its field actions. Works on dictionary-encoded integers; no value from the data
//! enters an error or a summary (summaries hold counts and ratios).

#![forbid(unsafe_code, unused_must_use)]

pub mod anonymize;
pub mod classes;
pub mod data;
pub mod error;
pub mod hierarchy;
pub mod metrics;
pub mod policy;
pub mod population;
pub mod report;
pub mod search;

pub use data::{Dataset, Histogram};
pub use error::RiskError;
pub use hierarchy::{Hierarchy, HierarchySpec};
pub use metrics::RiskSummary;
pub use metrics::TDistance;
pub use search::{Criteria, Evaluation, Metric, Outcome, search};
