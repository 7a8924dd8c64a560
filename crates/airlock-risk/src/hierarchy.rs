//! Generalization hierarchies in ARX's CSV format: one row per original value, column *i* its
//! generalization at level *i*, the last column usually `*`. No header; `;` (or `,`) separated.
//!
//! The file is used as it is (ARX's age bands are not rebuilt from arithmetic), and the number
//! of rows is the attribute's domain size for the Loss metric, as in ARX.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::RiskError;

/// Where a QI's hierarchy comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum HierarchySpec {
    /// An ARX hierarchy file, already read.
    File(Hierarchy),
    /// Numeric intervals of these widths, each a multiple of the one before (e.g. 5, 10, 20).
    Intervals(Vec<f64>),
    /// Dates: day, month, year, decade.
    Dates,
    /// Digit strings masked from the right, one digit per level (ZIP codes).
    ZipPrefix,
}

impl HierarchySpec {
    /// Parses a command-line spec: `intervals:5,10,20`, `dates`, `zip`, or a file path.
    pub fn parse(spec: &str) -> Result<Self, RiskError> {
        if let Some(widths) = spec.strip_prefix("intervals:") {
            let widths = widths
                .split(',')
                .map(|w| w.trim().parse::<f64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    RiskError::Invalid(format!(
                        "\"{spec}\": interval widths are numbers, e.g. intervals:5,10,20"
                    ))
                })?;
            if widths.is_empty()
                || widths.iter().any(|w| !w.is_finite() || *w <= 0.0)
                || widths.windows(2).any(|p| {
                    let ratio = p[1] / p[0];
                    ratio < 1.0 || (ratio - ratio.round()).abs() > 1e-9
                })
            {
                return Err(RiskError::Invalid(format!(
                    "\"{spec}\": widths must be positive and each a multiple of the one before"
                )));
            }
            return Ok(Self::Intervals(widths));
        }
        match spec {
            "dates" => Ok(Self::Dates),
            "zip" => Ok(Self::ZipPrefix),
            path => Ok(Self::File(Hierarchy::load(Path::new(path))?)),
        }
    }
}

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

    fn built(name: &str, kind: &str, rows: Vec<Vec<String>>) -> Result<Self, RiskError> {
        Self::from_rows(Path::new(&format!("<{name}: {kind}>")), rows)
    }

    /// Numeric intervals: level i puts a value in the interval of width `widths[i - 1]` that
    /// holds it (`20-24` for integers, `[20, 25)` otherwise), then `*`. A value that is not a
    /// number but holds a digit (a top code such as `90+`) stays itself up to `*`.
    pub fn intervals<'a>(
        name: &str,
        values: impl Iterator<Item = &'a str>,
        widths: &[f64],
    ) -> Result<Self, RiskError> {
        let mut rows = Vec::new();
        for v in values {
            let Ok(x) = v.trim().parse::<f64>() else {
                if !v.bytes().any(|b| b.is_ascii_digit()) {
                    return Err(RiskError::Invalid(format!(
                        "column \"{name}\" has a value that is not a number; interval hierarchies need numbers"
                    )));
                }
                let mut row = vec![v.to_owned(); widths.len() + 1];
                row.push("*".into());
                rows.push(row);
                continue;
            };
            let integer = x.fract() == 0.0 && widths.iter().all(|w| w.fract() == 0.0);
            let mut row = vec![v.to_owned()];
            for &w in widths {
                let lo = (x / w).floor() * w;
                row.push(if integer {
                    format!("{}-{}", lo as i64, (lo + w) as i64 - 1)
                } else {
                    format!("[{lo}, {})", lo + w)
                });
            }
            row.push("*".into());
            rows.push(row);
        }
        Self::built(name, "intervals", rows)
    }

    /// Dates (ISO `2024-03-07`, or US `3/7/2024`): the date, its month, its year, its decade,
    /// then `*`.
    pub fn dates<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Result<Self, RiskError> {
        use chrono::{Datelike, NaiveDate};
        let mut rows = Vec::new();
        for v in values {
            let t = v.trim();
            let date = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(t, "%m/%d/%Y"))
                .map_err(|_| {
                    RiskError::Invalid(format!(
                        "column \"{name}\" has a value that is not a date (YYYY-MM-DD or M/D/YYYY)"
                    ))
                })?;
            let decade = date.year() - date.year().rem_euclid(10);
            rows.push(vec![
                v.to_owned(),
                format!("{:04}-{:02}", date.year(), date.month()),
                format!("{:04}", date.year()),
                format!("{decade}-{}", decade + 9),
                "*".into(),
            ]);
        }
        Self::built(name, "dates", rows)
    }

    /// Codes of one length masked from the right, a character per level (`02139`, `0213*`,
    /// `021**`, ... `*****`), then `*`.
    pub fn zip_prefix<'a>(
        name: &str,
        values: impl Iterator<Item = &'a str>,
    ) -> Result<Self, RiskError> {
        let mut rows = Vec::new();
        let mut width = None;
        for v in values {
            let chars: Vec<char> = v.trim().chars().collect();
            if *width.get_or_insert(chars.len()) != chars.len() {
                return Err(RiskError::Invalid(format!(
                    "column \"{name}\" has codes of different lengths; a prefix hierarchy needs one length"
                )));
            }
            let mut row = vec![v.to_owned()];
            for masked in 1..=chars.len() {
                let keep = chars.len() - masked;
                row.push(chars[..keep].iter().collect::<String>() + &"*".repeat(masked));
            }
            row.push("*".into());
            rows.push(row);
        }
        Self::built(name, "zip prefixes", rows)
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
    fn builders_make_trees_of_the_expected_shape() {
        let ages = Hierarchy::intervals("age", ["20", "24", "25", "39"].into_iter(), &[5.0, 10.0])
            .unwrap();
        assert_eq!(ages.levels(), 4);
        assert_eq!(ages.label(0, 1), "20-24");
        assert_eq!(ages.label(2, 1), "25-29");
        assert_eq!(ages.label(2, 2), "20-29");
        assert_eq!(ages.label(3, 2), "30-39");
        assert!(Hierarchy::intervals("age", ["x"].into_iter(), &[5.0]).is_err());
        let top = Hierarchy::intervals("age", ["89", "90+"].into_iter(), &[5.0]).unwrap();
        assert_eq!((top.label(1, 1), top.label(1, 2)), ("90+", "*"));

        let d = Hierarchy::dates("dob", ["1987-05-01", "5/30/1987"].into_iter()).unwrap();
        assert_eq!((d.label(0, 1), d.label(1, 1)), ("1987-05", "1987-05"));
        assert_eq!(d.label(0, 3), "1980-1989");

        let z = Hierarchy::zip_prefix("zip", ["02139", "02115"].into_iter()).unwrap();
        assert_eq!(z.levels(), 7);
        assert_eq!(z.label(0, 2), "021**");
        assert_eq!(z.label(0, 2), z.label(1, 2));
        assert!(Hierarchy::zip_prefix("zip", ["02139", "0213"].into_iter()).is_err());
    }

    #[test]
    fn specs_parse() {
        assert_eq!(
            HierarchySpec::parse("intervals:5,10").unwrap(),
            HierarchySpec::Intervals(vec![5.0, 10.0])
        );
        assert!(HierarchySpec::parse("intervals:5,7").is_err());
        assert_eq!(
            HierarchySpec::parse("zip").unwrap(),
            HierarchySpec::ZipPrefix
        );
        assert!(HierarchySpec::parse("no/such/file.csv").is_err());
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
