//! Canary patients: proof, not assumption, that nothing identifying escaped.
//!
//! [`plant`] adds synthetic patients to a raw table, each with new identifiers in every column
//! the policy marks identifying and a note in every free-text column that carries every kind
//! of Safe Harbor identifier, and records them in a canary file kept with the raw data.
//! [`check`] then searches any files and trees (tables cell by cell, everything else as bytes)
//! for each canary value and its easy transforms: case changes, spacing and punctuation
//! removed, digits only, other date layouts, and the unkeyed SHA-256 and MD5 of the value. A
//! hit is reported by file, line or row and column, canary and field, never by value.

#![forbid(unsafe_code, unused_must_use)]

pub mod check;
pub mod identity;
pub mod plant;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use airlock_core::error::{Error, InputProblem, Result};

pub use check::{CheckReport, check_paths};
pub use plant::{PlantOptions, PlantReport, plant_table};

/// The `format` of a canary file.
pub const FORMAT: &str = "airlock-canaries/1";

/// What a canary value is (the Safe Harbor kinds, and the rest of a canary row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Name,
    Address,
    Zip,
    Date,
    Age,
    Phone,
    Fax,
    Email,
    Ssn,
    Mrn,
    HealthPlan,
    Account,
    License,
    Vehicle,
    Device,
    Url,
    Ip,
    Biometric,
    Photo,
    Id,
    /// A canary note in a free-text column (its identifiers are listed on their own).
    FreeText,
    /// A value copied from another row for a column that is not identifying.
    Other,
}

impl ValueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Address => "address",
            Self::Zip => "zip",
            Self::Date => "date",
            Self::Age => "age",
            Self::Phone => "phone",
            Self::Fax => "fax",
            Self::Email => "email",
            Self::Ssn => "ssn",
            Self::Mrn => "mrn",
            Self::HealthPlan => "health_plan",
            Self::Account => "account",
            Self::License => "license",
            Self::Vehicle => "vehicle",
            Self::Device => "device",
            Self::Url => "url",
            Self::Ip => "ip",
            Self::Biometric => "biometric",
            Self::Photo => "photo",
            Self::Id => "id",
            Self::FreeText => "free_text",
            Self::Other => "other",
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One planted value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    /// The table column it was written to; none for an identifier that is only inside a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub kind: ValueKind,
    pub value: String,
    /// False when the value cannot be told apart from real data (a 5-digit ZIP, a sex code, a
    /// date inside the data's own range); it is recorded but not searched.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub search: bool,
}

/// One canary patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    pub id: String,
    /// 1-based data row of the planted table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    pub values: Vec<Planted>,
}

/// A file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub path: PathBuf,
    pub sha256: String,
}

/// The canary file: what was planted where. Keep it with the raw data; it is the key to the
/// search, and a copy of it next to an output would be found by the search itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryFile {
    pub format: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<FileRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<FileRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
    pub canaries: Vec<Canary>,
}

impl CanaryFile {
    /// An empty file of the current format.
    pub fn new(canaries: Vec<Canary>) -> Self {
        Self {
            format: FORMAT.into(),
            created: String::new(),
            tool: String::new(),
            input: None,
            output: None,
            policy_sha256: None,
            canaries,
        }
    }

    /// Reads a canary file; a malformed one is an input error naming the line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let file: Self = serde_json::from_str(&text).map_err(|e| Error::Input {
            file: path.to_path_buf(),
            row: Some(e.line() as u64),
            column: None,
            problem: InputProblem::InvalidJson,
        })?;
        if file.format != FORMAT {
            return Err(Error::Input {
                file: path.to_path_buf(),
                row: None,
                column: Some("format".into()),
                problem: InputProblem::UnknownKey,
            });
        }
        Ok(file)
    }

    /// Writes the file atomically, readable by its owner only (the temporary file airlock
    /// writes through is created with mode 0600 and renamed as it is).
    pub fn save(&self, path: &Path, force: bool) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        airlock_core::output::write_atomic(path, &bytes, force)
    }

    /// The values that are searched, with their canary.
    pub fn searched(&self) -> impl Iterator<Item = (&Canary, &Planted)> {
        self.canaries
            .iter()
            .flat_map(|c| c.values.iter().map(move |v| (c, v)))
            .filter(|(_, v)| v.search && !matches!(v.kind, ValueKind::FreeText | ValueKind::Other))
    }
}
