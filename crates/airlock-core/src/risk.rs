//! The shared vocabulary of re-identification risk: the criteria a generalization must meet,
//! the figures of a table, and what a policy's `[risk]` block records in the run's manifest.
//! The computations live in `airlock-risk`; these types are shared with the manifest, the
//! lineage statement and every front door that prints them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an anonymous node must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criteria {
    pub k: Option<u32>,
    /// Distinct l-diversity of the sensitive attribute.
    pub l_distinct: Option<u32>,
    /// t-closeness of the sensitive attribute, measured with `t_distance`.
    pub t: Option<f64>,
    pub t_distance: TDistance,
    /// Recursive (c, l)-diversity of the sensitive attribute.
    pub recursive_cl: Option<(f64, u32)>,
    /// Largest average prosecutor risk; the smallest classes are suppressed first to reach it.
    pub max_average_risk: Option<f64>,
    /// Largest fraction of records that may be suppressed.
    pub max_suppression: f64,
    /// What the search minimizes.
    pub metric: Metric,
}

/// The information-loss metric a search minimizes. Both are bounded from below, for a node and
/// everything above it, by their value at the node with nothing suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// ARX's Loss (generalization intensity, geometric mean over QIs).
    #[default]
    Loss,
    /// Discernibility: Σ class size², a suppressed record costing the number of records.
    Discernibility,
}

impl Default for Criteria {
    fn default() -> Self {
        Self {
            k: None,
            l_distinct: None,
            t: None,
            t_distance: TDistance::Equal,
            recursive_cl: None,
            max_average_risk: None,
            max_suppression: 0.0,
            metric: Metric::Loss,
        }
    }
}

impl Criteria {
    /// The criteria of a policy's `[risk]` block.
    pub fn from_spec(r: &crate::policy::RiskSpec) -> Self {
        Self {
            k: r.k,
            l_distinct: r.l,
            t: r.t,
            max_average_risk: r.max_average_risk,
            max_suppression: r.max_suppression,
            ..Self::default()
        }
    }

    /// Most records that may be suppressed out of `rows`.
    pub fn suppression_limit(&self, rows: usize) -> u64 {
        (self.max_suppression.clamp(0.0, 1.0) * rows as f64 + 1e-9).floor() as u64
    }
}

/// How t-closeness measures the distance between two distributions of the sensitive attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TDistance {
    /// Every two values are at distance 1 (half the L1 distance).
    #[default]
    Equal,
    /// Values in order (numbers, else text): EMD with distance |rank i − rank j| / (m − 1).
    Ordered,
    /// Values in a hierarchy: EMD with the height of the lowest common ancestor / the height.
    Hierarchical,
}

/// Risk figures of a (transformed) table. Counts and ratios only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSummary {
    pub records: u64,
    pub suppressed_records: u64,
    /// Classes of the records that are not suppressed.
    pub classes: u64,
    /// Smallest class.
    pub k: u64,
    /// Classes of size 1.
    pub sample_uniques: u64,
    pub sample_uniques_fraction: f64,
    /// Mean over records of 1 / class size (= classes / records).
    pub average_prosecutor_risk: f64,
    pub maximum_prosecutor_risk: f64,
    pub risk_threshold: f64,
    /// Records whose prosecutor risk exceeds the threshold.
    pub records_above_threshold: u64,
    pub fraction_above_threshold: f64,
    /// Expected share of records re-identified by an attacker who links every record.
    pub marketer_risk: f64,
    /// Fewest distinct sensitive values in a class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_distinct: Option<u64>,
    /// exp(lowest entropy of sensitive values in a class): entropy l-diversity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_entropy: Option<f64>,
    /// Largest distance between a class's sensitive distribution and the table's (equal
    /// ground distance: half the L1 distance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_equal: Option<f64>,
    /// The same with ordered distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_ordered: Option<f64>,
    /// The same with hierarchical distance (when the sensitive attribute has a hierarchy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_hierarchical: Option<f64>,
    /// Discernibility: Σ class size², a suppressed record counting the number of records.
    pub discernibility: f64,
    /// Class size -> number of classes of that size.
    pub class_sizes: BTreeMap<u32, u64>,
}

/// One quasi-identifier's chosen generalization level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelRecord {
    pub column: String,
    pub level: u8,
    pub max_level: usize,
}

/// What a policy's `[risk]` block did, in the run's manifest (counts and ratios only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskRecord {
    pub criteria: Criteria,
    pub quasi_identifiers: Vec<String>,
    pub sensitive: Option<String>,
    pub levels: Vec<LevelRecord>,
    /// Generalizations in the lattice.
    pub lattice_size: u64,
    pub suppressed_records: u64,
    pub suppression_limit: u64,
    pub classes: u64,
    pub loss: f64,
    pub discernibility: f64,
    pub non_uniform_entropy: f64,
    pub before: RiskSummary,
    pub after: RiskSummary,
}
