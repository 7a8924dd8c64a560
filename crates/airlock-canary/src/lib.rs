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
pub mod corpus;
pub mod identity;
pub mod plant;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use airlock_core::error::{Error, InputProblem, Result};
pub use airlock_core::phi::Kind;

pub use check::{CheckReport, check_paths};
pub use plant::{PlantOptions, PlantReport, plant_table};

/// The `format` of a canary file.
pub const FORMAT: &str = "airlock-canaries/1";

/// The `kind` of a planted value: the identifier's [`Kind`] tag (`NAME`, `SSN`, ...; files
/// written before the kinds were shared say `name`, `ssn`, which still read), or `free_text`
/// for a canary note (whose identifiers are listed on their own).
mod planted_kind {
    use airlock_core::phi::Kind;
    use serde::{Deserialize, Deserializer, Serializer};

    const NOTE: &str = "free_text";

    pub fn serialize<S: Serializer>(kind: &Option<Kind>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.map_or(NOTE, Kind::tag))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Kind>, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        if s.eq_ignore_ascii_case(NOTE) {
            return Ok(None);
        }
        Kind::from_tag(&s).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown kind of planted value ({} characters)",
                s.chars().count()
            ))
        })
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
    /// What identifier it is; none for a canary note.
    #[serde(with = "planted_kind")]
    pub kind: Option<Kind>,
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
        let text = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        Self::from_slice(&text, path)
    }

    /// Parses a canary file's bytes (`path` names it in errors).
    pub fn from_slice(text: &[u8], path: &Path) -> Result<Self> {
        let file: Self = serde_json::from_slice(text).map_err(|e| Error::Input {
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

    /// Whether this file records the planting of the table whose SHA-256 is `sha256` (its
    /// output's hash), so it can be kept with that table.
    pub fn is_for(&self, sha256: &str) -> bool {
        self.output.as_ref().is_some_and(|o| o.sha256 == sha256)
    }

    /// One file searching for the canaries of all of `files`.
    pub fn merged(files: Vec<CanaryFile>) -> Self {
        Self::new(files.into_iter().flat_map(|f| f.canaries).collect())
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

    /// The identifiers that are searched, with their canary and kind (a canary note is not
    /// searched as a whole: its identifiers are listed on their own).
    pub fn searched(&self) -> impl Iterator<Item = (&Canary, &Planted, Kind)> {
        self.canaries
            .iter()
            .flat_map(|c| c.values.iter().map(move |v| (c, v)))
            .filter(|(_, v)| v.search)
            .filter_map(|(c, v)| Some((c, v, v.kind?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_kinds_are_the_shared_tags_and_old_files_still_read() {
        let old = r#"[{"kind":"health_plan","value":"x"},{"column":"note","kind":"free_text","value":"y","search":false}]"#;
        let values: Vec<Planted> = serde_json::from_str(old).unwrap();
        assert_eq!(values[0].kind, Some(Kind::HealthPlan));
        assert_eq!(values[1].kind, None);
        let new = serde_json::to_string(&values).unwrap();
        assert!(new.contains(r#""kind":"HEALTH_PLAN""#), "{new}");
        assert!(new.contains(r#""kind":"free_text""#), "{new}");
        assert_eq!(serde_json::from_str::<Vec<Planted>>(&new).unwrap(), values);
        let forged = r#"{"kind":"Jane Doe","value":"x"}"#;
        let e = serde_json::from_str::<Planted>(forged).unwrap_err();
        assert!(!e.to_string().contains("Jane"), "{e}");
    }

    #[test]
    fn only_identifiers_are_searched() {
        let planted = |kind, search| Planted {
            column: None,
            kind,
            value: "v".into(),
            search,
        };
        let file = CanaryFile::new(vec![Canary {
            id: "canary-01".into(),
            row: None,
            values: vec![
                planted(Some(Kind::Name), true),
                planted(None, false),
                planted(Some(Kind::Zip), false),
            ],
        }]);
        let kinds: Vec<Kind> = file.searched().map(|(_, _, k)| k).collect();
        assert_eq!(kinds, [Kind::Name]);
    }
}
