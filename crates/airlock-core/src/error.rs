//! The one error type of the library crates' shared layer.
//!
//! Every message names a file, a row, a column or a key, and never a cell value: a reader's own
//! error text (arrow, csv, serde) can echo the data, so it is mapped to [`InputProblem`] here and
//! the original is dropped. Hints (what to do next) come from [`Error::hint`], printed by the CLI.

use std::fmt;
use std::path::PathBuf;

use crate::shown::{Shown, path as shown_path};

/// Result with airlock's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with enough location to act on and no data values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read, written or renamed.
    #[error("cannot {action} {}", shown_path(path))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The policy file is not valid TOML, or has an unknown key or value.
    /// The source names the line, column and key (policy files hold no PHI).
    #[error("policy {} is not valid", shown_path(path))]
    PolicySyntax {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },

    /// The policy parsed but says something airlock cannot do.
    #[error("policy {}{}: {message}", shown_path(path), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    PolicyInvalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    /// Input columns that the policy does not classify: the run stops (fail closed).
    #[error(
        "{}: {} not classified in policy {}: {}",
        shown_path(file),
        if columns.len() == 1 { "column is" } else { "columns are" },
        shown_path(policy),
        ColumnList(columns)
    )]
    Unclassified {
        file: PathBuf,
        policy: PathBuf,
        /// 1-based position and name of each column.
        columns: Vec<(usize, String)>,
    },

    /// The policy needs a column the input does not have.
    #[error("{}: policy {} needs column \"{column}\" ({why}) but the input has no such column", shown_path(file), shown_path(policy), column = Shown(column))]
    MissingColumn {
        file: PathBuf,
        policy: PathBuf,
        column: String,
        why: &'static str,
    },

    /// The input is malformed at a known place.
    #[error("{}{}: {problem}", shown_path(file), Location { row: *row, column: column.as_deref() })]
    Input {
        file: PathBuf,
        /// 1-based data row (the CSV header is row 0; a JSONL row is its line number).
        row: Option<u64>,
        column: Option<String>,
        problem: InputProblem,
    },

    /// A column holds a type that an action cannot work on.
    #[error(
        "column \"{}\": action {action} cannot apply to values of type {data_type}",
        Shown(column)
    )]
    TypeMismatch {
        column: String,
        action: &'static str,
        data_type: String,
    },

    /// The workspace secret is missing, unreadable, malformed or exposed.
    #[error("{0}")]
    Key(KeyError),

    /// The output path exists and `--force` was not given.
    #[error("output {} already exists", shown_path(path))]
    OutputExists { path: PathBuf },

    /// The file type cannot be told from its name.
    #[error("cannot tell the format of {} from its extension", shown_path(path))]
    UnknownFormat { path: PathBuf },

    /// A bug: code panicked where it should not (its message, which may hold data, is not kept).
    #[error(
        "internal error in {place} (a bug; its message is withheld because it may hold data); nothing was written"
    )]
    Internal { place: &'static str },

    /// A run would write over (or into) its own input.
    #[error(
        "the output {} is or lies inside the input {}; airlock never writes over its input",
        shown_path(output),
        shown_path(input)
    )]
    OutputIsInput { output: PathBuf, input: PathBuf },

    /// An option or setting outside what airlock accepts (`what` names it).
    #[error("{}: {why}", Shown(what))]
    Invalid { what: String, why: String },

    /// A writer failed for a reason that is not I/O (the message never holds data).
    #[error("cannot write {}: {reason}", shown_path(path))]
    Write { path: PathBuf, reason: String },
}

/// Unclassified columns: position and escaped name, the first [`COLUMNS_SHOWN`] of them.
struct ColumnList<'a>(&'a [(usize, String)]);

/// Columns an error lists by name before it counts the rest.
pub const COLUMNS_SHOWN: usize = 20;

impl fmt::Display for ColumnList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (position, name)) in self.0.iter().take(COLUMNS_SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "\"{}\" (column {position})", Shown(name))?;
        }
        if self.0.len() > COLUMNS_SHOWN {
            write!(f, " and {} more", self.0.len() - COLUMNS_SHOWN)?;
        }
        Ok(())
    }
}

struct Location<'a> {
    row: Option<u64>,
    column: Option<&'a str>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(row) = self.row {
            write!(f, " row {row}")?;
        }
        if let Some(column) = self.column {
            write!(f, " column \"{}\"", Shown(column))?;
        }
        Ok(())
    }
}

/// What is wrong with an input at a location. Carries no value from the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputProblem {
    WrongFieldCount {
        expected: u64,
        found: u64,
    },
    InvalidUtf8,
    MalformedCsv,
    InvalidJson,
    NotAnObject,
    NestedValue,
    UnknownKey,
    DuplicateColumn,
    EmptyColumnName,
    NoHeader,
    NotParquet,
    ParquetDecode,
    UnsupportedType {
        data_type: String,
    },
    /// A DICOM file dicom-rs cannot read (the reader's own message may quote data: not kept).
    MalformedDicom,
    /// JSON that is not a FHIR resource (no `resourceType`).
    NotFhirResource,
    /// A FHIR resource whose `resourceType` R4 does not define.
    UnknownFhirResource,
    /// A CSV header row whose cell (1-based column) has the shape of a value, or in which the
    /// text detector finds an identifier: the file likely has no header row.
    HeaderLooksLikeData {
        column: usize,
    },
    /// A column name (JSONL key, Parquet field; 1-based position) that looks like data.
    NameLooksLikeData {
        column: usize,
    },
    /// More columns than the reader's limit.
    TooManyColumns {
        found: u64,
        limit: u64,
    },
    /// One cell longer than the reader's limit (bytes).
    CellTooLarge {
        limit: u64,
    },
    /// One row (a CSV record, a JSONL line) longer than the reader's limit (bytes).
    RowTooLarge {
        limit: u64,
    },
    /// The file ends inside a quoted field opened on this line.
    UnclosedQuote {
        line: u64,
    },
    /// A row with the wrong field count that runs over several lines: a quote was likely
    /// opened and never closed on its first line.
    UnbalancedQuote {
        line: u64,
        lines: u64,
        expected: u64,
        found: u64,
    },
    /// A `--no-header` table whose `--columns` list does not match its width.
    ColumnNamesMismatch {
        given: u64,
        found: u64,
    },
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongFieldCount { expected, found } => {
                write!(f, "has {found} fields where the header has {expected}")
            }
            Self::InvalidUtf8 => f.write_str("is not valid UTF-8"),
            Self::MalformedCsv => f.write_str("is not well-formed CSV"),
            Self::InvalidJson => f.write_str("is not valid JSON"),
            Self::NotAnObject => {
                f.write_str("is not a JSON object (JSONL tables need one object per line)")
            }
            Self::NestedValue => f.write_str(
                "holds a nested object or array (tables must be flat; use `airlock fhir` for FHIR)",
            ),
            Self::UnknownKey => f.write_str("has a key that the first rows did not have"),
            Self::DuplicateColumn => f.write_str("appears twice in the header"),
            Self::EmptyColumnName => f.write_str("has an empty column name in the header"),
            Self::NoHeader => f.write_str("has no header row"),
            Self::NotParquet => f.write_str("is not a readable Parquet file"),
            Self::ParquetDecode => {
                f.write_str("could not be decoded (corrupt or unsupported Parquet data)")
            }
            Self::NotFhirResource => f.write_str("is not a FHIR resource (it has no resourceType)"),
            Self::UnknownFhirResource => f.write_str(
                "is a resource of a type FHIR R4 does not define (a typo?); set \"unknownResources\": \"remove\" in the configuration to drop such resources instead",
            ),
            Self::MalformedDicom => {
                f.write_str("is not a readable DICOM file (truncated, or not DICOM Part 10)")
            }
            Self::HeaderLooksLikeData { column } => write!(
                f,
                "the first row looks like data (column {column}), not a header"
            ),
            Self::NameLooksLikeData { column } => write!(
                f,
                "column name {column} looks like data (a value or an identifier), so airlock will not use or show it"
            ),
            Self::TooManyColumns { found, limit } => {
                write!(f, "has {found} columns, more than the limit of {limit}")
            }
            Self::CellTooLarge { limit } => {
                write!(f, "holds a cell larger than the limit of {limit} bytes")
            }
            Self::RowTooLarge { limit } => {
                write!(f, "holds a row larger than the limit of {limit} bytes")
            }
            Self::UnclosedQuote { line } => write!(
                f,
                "ends inside a quoted field opened on line {line} (the file is truncated, or a quote is not closed)"
            ),
            Self::UnbalancedQuote {
                line,
                lines,
                expected,
                found,
            } => write!(
                f,
                "has {found} fields where the header has {expected}, in a row that starts on line {line} and runs over {lines} lines: a quote on line {line} is likely not closed"
            ),
            Self::ColumnNamesMismatch { given, found } => {
                write!(f, "has {found} columns but --columns names {given}")
            }
            Self::UnsupportedType { data_type } => write!(
                f,
                "has type {data_type}, which airlock does not support yet"
            ),
        }
    }
}

/// Problems with the workspace secret. None of them ever prints key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    NotFound,
    Unreadable { path: PathBuf, reason: String },
    Malformed { path: PathBuf },
    Exposed { path: PathBuf, mode: u32 },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str(
                "no workspace secret found (looked for --key-file, AIRLOCK_KEY_FILE and .airlock/secret in this directory and its parents)",
            ),
            Self::Unreadable { path, reason } => {
                write!(f, "cannot read the key file {}: {reason}", shown_path(path))
            }
            Self::Malformed { path } => write!(
                f,
                "key file {} is not a key (expected 32 bytes, or 64 hex digits)",
                shown_path(path)
            ),
            Self::Exposed { path, mode } => write!(
                f,
                "key file {} can be read by other users (mode {mode:o})",
                shown_path(path)
            ),
        }
    }
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// What the user can do about it, where airlock knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Unclassified { policy, .. } => Some(format!(
                "add each column under [fields] in {} (or set defaults.unclassified = \"drop\"); `airlock profile INPUT` drafts them",
                shown_path(policy)
            )),
            Self::MissingColumn { .. } => Some(
                "check dataset.patient_id and the [fields] names against the input's header".into(),
            ),
            Self::Key(KeyError::NotFound) => Some(
                "run `airlock init` to create a workspace secret, or point --key-file / AIRLOCK_KEY_FILE at one".into(),
            ),
            Self::Key(KeyError::Exposed { path, .. }) => {
                Some(format!("run `chmod 600 {}`", shown_path(path)))
            }
            Self::OutputExists { .. } => Some("pass --force to replace it".into()),
            Self::UnknownFormat { .. } => Some(
                "use a .csv, .jsonl or .parquet extension, or name the format with --format (input) or --output-format".into(),
            ),
            Self::Input { problem: InputProblem::HeaderLooksLikeData { .. }, .. } => Some(
                "pass --no-header and name the columns with --columns NAME,NAME,... (without --columns they are column_1, column_2, ...); if the first row is a header whose names only look like data, pass --trust-header".into(),
            ),
            Self::Input { problem: InputProblem::NameLooksLikeData { .. }, .. } => Some(
                "rename the column in the source; airlock does not write identifiers into policies, reports or errors".into(),
            ),
            Self::Input {
                problem:
                    InputProblem::TooManyColumns { .. }
                    | InputProblem::CellTooLarge { .. }
                    | InputProblem::RowTooLarge { .. },
                ..
            } => Some(
                "if the file is what you meant, raise the limit with --max-columns, --max-cell-bytes or --max-row-bytes".into(),
            ),
            Self::Input { problem: InputProblem::UnknownKey, .. } => Some(
                "airlock reads the column names from the first 1,000 lines of a JSONL file; make sure every key appears there".into(),
            ),
            _ => None,
        }
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_names_file_row_and_column() {
        let e = Error::Input {
            file: "in.csv".into(),
            row: Some(7),
            column: Some("ssn".into()),
            problem: InputProblem::InvalidUtf8,
        };
        assert_eq!(
            e.to_string(),
            "in.csv row 7 column \"ssn\": is not valid UTF-8"
        );
    }

    #[test]
    fn unclassified_lists_every_column() {
        let e = Error::Unclassified {
            file: "in.csv".into(),
            policy: "p.toml".into(),
            columns: vec![(1, "ssn".into()), (4, "zip\x1b[2J".into())],
        };
        assert_eq!(
            e.to_string(),
            "in.csv: columns are not classified in policy p.toml: \"ssn\" (column 1), \"zip\\x1b[2J\" (column 4)"
        );
        let many = Error::Unclassified {
            file: "in.csv".into(),
            policy: "p.toml".into(),
            columns: (1..=6_000).map(|i| (i, format!("c{i}"))).collect(),
        };
        let text = many.to_string();
        assert!(
            text.ends_with("and 5980 more") && text.len() < 600,
            "{text}"
        );
        assert!(e.hint().unwrap().contains("airlock profile"));
    }
}
