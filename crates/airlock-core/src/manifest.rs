//! The run manifest written beside every output: what went in, what came out, under which
//! policy and tool version, what each column's action did (counts), what the residual scan
//! found (counts) and how long it took. It never holds a value from the data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::output::write_atomic;
use crate::phi::Kind;

/// The manifest format's version.
pub const MANIFEST_VERSION: u32 = 1;

/// A record of one de-identification run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub tool: Tool,
    pub command: String,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub input: FileRecord,
    pub output: FileRecord,
    pub policy: PolicyRecord,
    /// Fingerprint of the workspace secret that keyed tokens, shifts and surrogates; absent
    /// when the policy used no key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_id: Option<String>,
    pub columns: Vec<ColumnRecord>,
    pub findings: Findings,
    /// The `[risk]` step, when the policy has one: criteria, chosen levels, suppression, Loss,
    /// and risk figures before and after (counts and ratios only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub risk: Option<crate::risk::RiskRecord>,
    pub timing: Timing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    /// This build of airlock.
    pub fn current() -> Self {
        Self {
            name: "airlock".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: PathBuf,
    pub format: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub path: PathBuf,
    pub sha256: String,
    pub dataset: String,
}

/// What happened to one input column. Counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRecord {
    pub name: String,
    pub class: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rule: Option<String>,
    /// False for dropped columns.
    pub in_output: bool,
    /// Non-null input cells.
    pub cells: u64,
    /// Cells whose output differs from the input.
    pub changed: u64,
    /// Cells set to null by the action (suppression, unparseable dates).
    pub nulled: u64,
    /// Free-text identifiers replaced.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub spans_replaced: u64,
    /// SHA-256 of each value the policy vouches for (`safe_values`): the residual scan skips
    /// cells holding exactly one of them, here and in `airlock scan`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub safe_values_sha256: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Residual-PHI scan of the output: counts per kind and per column, never the text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    /// Which detector scanned (e.g. `airlock-text`).
    pub scanner: String,
    pub scanned_columns: Vec<String>,
    pub total: u64,
    pub by_kind: BTreeMap<Kind, u64>,
    pub by_column: BTreeMap<String, BTreeMap<Kind, u64>>,
}

impl Findings {
    /// Adds another set of counts (from another batch) to these.
    pub fn merge(&mut self, other: &Findings) {
        self.total += other.total;
        for (k, n) in &other.by_kind {
            *self.by_kind.entry(*k).or_default() += n;
        }
        for (c, kinds) in &other.by_column {
            let col = self.by_column.entry(c.clone()).or_default();
            for (k, n) in kinds {
                *col.entry(*k).or_default() += n;
            }
        }
    }

    /// Counts one finding.
    pub fn add(&mut self, column: &str, kind: Kind) {
        self.total += 1;
        *self.by_kind.entry(kind).or_default() += 1;
        *self
            .by_column
            .entry(column.to_owned())
            .or_default()
            .entry(kind)
            .or_default() += 1;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub total_ms: u64,
    pub rows_per_second: f64,
    pub input_mb_per_second: f64,
}

impl Manifest {
    /// `OUTPUT.manifest.json` beside an output.
    pub fn path_for(output: &Path) -> PathBuf {
        let mut name = output.file_name().unwrap_or_default().to_os_string();
        name.push(".manifest.json");
        output.with_file_name(name)
    }

    /// Refuses, unless `force`, an `output` or its manifest that already exists: a run checks
    /// this before any work, so it never fails after writing one and not the other.
    pub fn check_targets(output: &Path, force: bool) -> Result<()> {
        if force {
            return Ok(());
        }
        for target in [output.to_path_buf(), Self::path_for(output)] {
            if target.exists() {
                return Err(Error::OutputExists { path: target });
            }
        }
        Ok(())
    }

    /// Writes the manifest atomically.
    pub fn write(&self, path: &Path, force: bool) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            reason: format!("manifest serialization failed: {}", e.classify() as u8),
        })?;
        json.push(b'\n');
        write_atomic(path, &json, force)
    }

    /// Reads a manifest.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|_| Error::Input {
            file: path.to_path_buf(),
            row: None,
            column: None,
            problem: crate::error::InputProblem::InvalidJson,
        })
    }
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_path_sits_beside_the_output() {
        assert_eq!(
            Manifest::path_for(Path::new("out/x.parquet")),
            PathBuf::from("out/x.parquet.manifest.json")
        );
    }

    #[test]
    fn findings_count_per_kind_and_column() {
        let mut f = Findings::default();
        f.add("note", Kind::Ssn);
        f.add("note", Kind::Ssn);
        f.add("comment", Kind::Phone);
        assert_eq!(f.total, 3);
        assert_eq!(f.by_kind[&Kind::Ssn], 2);
        assert_eq!(f.by_column["comment"][&Kind::Phone], 1);
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(r#""by_kind":{"PHONE":1,"SSN":2}"#), "{json}");
        assert_eq!(serde_json::from_str::<Findings>(&json).unwrap(), f);
    }
}
