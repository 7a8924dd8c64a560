//! Generalization hierarchies in ARX's CSV format: one row per original value, column *i* its
//! generalization at level *i*, the last column usually `*`. No header; `;` (or `,`) separated.
//!
//! The file is used as it is (ARX's age bands are not rebuilt from arithmetic), and the number
//! of rows is the attribute's domain size for the Loss metric, as in ARX.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::RiskError;

/// A value hierarchy for one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it came from (for messages).
    pub source: PathBuf,
    /// `rows[i][level]`: original value `i` generalized to `level`.
    rows: Vec<Vec<String>>,
    leaf: HashMap<String, usize>,
}

impl Hierarchy {
    /// Reads an ARX hierarchy file.
    pub fn load(path: &Path) -> Result<Self, RiskError> {
        let bytes = std::fs::read(path).map_err(|e| airlock_core::Error::io("read", path, e))?;
        let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let delimiter = if first_line.contains(&b';') {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(bytes.as_slice());
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|_| RiskError::Hierarchy {
                path: path.to_path_buf(),
                line: i + 1,
                problem: "is not valid CSV text",
            })?;
            rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
        }
        Self::from_rows(path, rows)
    }

    /// Builds a hierarchy from rows (original value first).
    pub fn from_rows(source: &Path, rows: Vec<Vec<String>>) -> Result<Self, RiskError> {
        let bad = |line: usize, problem| RiskError::Hierarchy {
            path: source.to_path_buf(),
            line,
            problem,
        };
        let width = rows.first().map_or(0, Vec::len);
        if width == 0 {
            return Err(bad(1, "is empty"));
        }
        let mut leaf = HashMap::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if row.len() != width {
                return Err(bad(
                    i + 1,
                    "has a different number of levels than the first row",
                ));
            }
            if leaf.insert(row[0].clone(), i).is_some() {
                return Err(bad(i + 1, "repeats an original value"));
            }
        }
        // A hierarchy must be a tree: a group at one level lies in one group at the next.
        for level in 1..width.saturating_sub(1) {
            let mut parent: HashMap<&str, &str> = HashMap::new();
            for (i, row) in rows.iter().enumerate() {
                if let Some(p) = parent.insert(&row[level], &row[level + 1])
                    && p != row[level + 1]
                {
                    return Err(bad(i + 1, "puts one group under two parents (not a tree)"));
                }
            }
        }
        Ok(Self {
            source: source.to_path_buf(),
            rows,
            leaf,
        })
    }

    /// A two-level hierarchy (the value, then `*`) over the given values: suppression only.
    pub fn flat<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Self {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut leaf = HashMap::new();
        for v in values {
            if !leaf.contains_key(v) {
                leaf.insert(v.to_owned(), rows.len());
                rows.push(vec![v.to_owned(), "*".to_owned()]);
            }
        }
        Self {
            source: PathBuf::from(format!("<{name}: value or *>")),
            rows,
            leaf,
        }
    }

    /// Number of levels, level 0 (the original value) included.
    pub fn levels(&self) -> usize {
        self.rows.first().map_or(1, Vec::len)
    }

    /// Number of original values: the domain size.
    pub fn domain_size(&self) -> usize {
        self.rows.len()
    }

    /// The row of an original value.
    pub fn leaf_index(&self, value: &str) -> Option<usize> {
        self.leaf.get(value).copied()
    }

    /// The generalization of leaf `i` at `level`.
    pub fn label(&self, leaf: usize, level: usize) -> &str {
        &self.rows[leaf][level]
    }

    /// Leaf index -> group number at each level, and each group's share of the domain
    /// (the fraction of original values under it).
    pub(crate) fn groups(&self) -> (Vec<Vec<u32>>, Vec<Vec<f64>>) {
        let n = self.rows.len() as f64;
        let mut maps = Vec::with_capacity(self.levels());
        let mut shares = Vec::with_capacity(self.levels());
        for level in 0..self.levels() {
            let mut ids: HashMap<&str, u32> = HashMap::new();
            let mut counts: Vec<u32> = Vec::new();
            let map: Vec<u32> = self
                .rows
                .iter()
                .map(|row| {
                    let next = ids.len() as u32;
                    let id = *ids.entry(row[level].as_str()).or_insert(next);
                    if id as usize == counts.len() {
                        counts.push(0);
                    }
                    counts[id as usize] += 1;
                    id
                })
                .collect();
            shares.push(counts.iter().map(|&c| f64::from(c) / n).collect());
            maps.push(map);
        }
        (maps, shares)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(rows: &[&[&str]]) -> Result<Hierarchy, RiskError> {
        Hierarchy::from_rows(
            Path::new("h.csv"),
            rows.iter()
                .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
                .collect(),
        )
    }

    #[test]
    fn groups_and_shares_follow_the_rows() {
        let x = h(&[&["a", "ab", "*"], &["b", "ab", "*"], &["c", "c", "*"]]).unwrap();
        assert_eq!(x.levels(), 3);
        assert_eq!(x.domain_size(), 3);
        let (maps, shares) = x.groups();
        assert_eq!(maps[1], vec![0, 0, 1]);
        assert!((shares[1][0] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(maps[2], vec![0, 0, 0]);
        assert_eq!(x.label(2, 1), "c");
    }

    #[test]
    fn malformed_hierarchies_are_refused_with_the_line() {
        let e = h(&[&["a", "*"], &["b", "x", "*"]]).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(
            h(&[&["a", "*"], &["a", "*"]])
                .unwrap_err()
                .to_string()
                .contains("repeats")
        );
        let e = h(&[&["a", "g", "x"], &["b", "g", "y"]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a tree"), "{e}");
    }

    #[test]
    fn adult_age_hierarchy_loads_as_is() {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/adult/adult_hierarchy_age.csv");
        let age = Hierarchy::load(&p).unwrap();
        assert_eq!(age.domain_size(), 100);
        assert_eq!(age.levels(), 5);
        let i20 = age.leaf_index("20").unwrap();
        assert_eq!(age.label(i20, 1), "15-19");
        assert_eq!(age.label(age.leaf_index("21").unwrap(), 2), "20-29");
    }
}
