//! Errors of the risk crate. Like every airlock error, they name files, lines, rows and
//! columns, never a value from the data.

use std::path::PathBuf;

/// What went wrong in a risk computation or search.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(transparent)]
    Core(#[from] airlock_core::Error),

    #[error("hierarchy {} line {line} {problem}", path.display())]
    Hierarchy {
        path: PathBuf,
        line: usize,
        problem: &'static str,
    },

    #[error("{}{} column \"{column}\": the value is not in the hierarchy {}", file.display(), row.map(|r| format!(" row {r}")).unwrap_or_default(), hierarchy.display())]
    NotInHierarchy {
        file: PathBuf,
        /// Where the records were read one by one (not where counts were summed).
        row: Option<u64>,
        column: String,
        hierarchy: PathBuf,
    },

    #[error("{} has no column \"{column}\"", file.display())]
    NoSuchColumn { file: PathBuf, column: String },

    #[error("{}: column \"{column}\" has an empty value in row {row}; quasi-identifiers need a value in every row", file.display())]
    Missing {
        file: PathBuf,
        row: u64,
        column: String,
    },

    #[error("too many distinct combinations of quasi-identifier values to encode ({qis} columns)")]
    TooWide { qis: usize },

    #[error("{0}")]
    Invalid(String),
}

impl RiskError {
    /// What the user can do about it, where airlock knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Core(e) => e.hint(),
            Self::NotInHierarchy { .. } => Some(
                "every value of a quasi-identifier must be a row of its hierarchy (column 0)"
                    .into(),
            ),
            _ => None,
        }
    }
}
