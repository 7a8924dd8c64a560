//! Tables to feature vectors: a column whose values (nearly all) parse as numbers is
//! standardized; any other is one-hot over its most frequent categories plus "other"; empty
//! cells are the mean (numbers) or "other" (categories). Fitted on the training split only.

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::Array;
use serde::{Deserialize, Serialize};

use crate::{Result, TrainError};

/// A table's columns as text (what CSV holds; other types are cast).
#[derive(Debug, Clone)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Vec<Option<String>>>,
    pub rows: usize,
}

impl Table {
    /// Reads a CSV, JSONL or Parquet file (format from its extension).
    pub fn read(path: &Path) -> Result<Self> {
        use airlock_core::table::{Format, TableReader};
        let format = Format::from_path(path).ok_or_else(|| {
            TrainError::Invalid(format!(
                "{}: the format is not known from the extension (csv, jsonl, parquet)",
                airlock_core::shown::path(path)
            ))
        })?;
        let mut reader = TableReader::open(path, format, 8192)?;
        let names: Vec<String> = reader
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut columns = vec![Vec::new(); names.len()];
        while let Some(batch) = reader.next_batch()? {
            for (c, col) in batch.columns().iter().enumerate() {
                let text = arrow_cast::cast(col, &arrow_schema::DataType::Utf8).map_err(|_| {
                    TrainError::Invalid(format!("column {} cannot be read as text", c + 1))
                })?;
                let text = text
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .ok_or_else(|| TrainError::Invalid("text cast".into()))?;
                for i in 0..text.len() {
                    columns[c].push(
                        (!text.is_null(i) && !text.value(i).trim().is_empty())
                            .then(|| text.value(i).trim().to_owned()),
                    );
                }
            }
        }
        let rows = columns.first().map_or(0, Vec::len);
        Ok(Self {
            names,
            columns,
            rows,
        })
    }

    /// Appends `other`'s rows (the same columns in the same order); returns the index of its
    /// first row.
    pub fn append(&mut self, other: Table) -> Result<usize> {
        if other.names != self.names {
            return Err(TrainError::Invalid(
                "the test data does not have the training data's columns in the same order".into(),
            ));
        }
        let first = self.rows;
        for (c, col) in other.columns.into_iter().enumerate() {
            self.columns[c].extend(col);
        }
        self.rows += other.rows;
        Ok(first)
    }

    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            TrainError::Invalid(format!(
                "no column {} in the table",
                airlock_core::shown::escape(name, 80)
            ))
        })
    }
}

/// A number inside an internally tagged enum: serde buffers it, and under serde_json's
/// `arbitrary_precision` (on in this workspace) only a `Value` reads the buffered number back
/// (a model file written by `airlock train` did not read back as one before).
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    v.as_f64()
        .ok_or_else(|| serde::de::Error::custom("expected a number"))
}

/// How one column becomes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Feature {
    Numeric {
        name: String,
        #[serde(deserialize_with = "number")]
        mean: f64,
        #[serde(deserialize_with = "number")]
        std: f64,
    },
    /// One-hot over `categories`, then one slot for anything else.
    Categorical {
        name: String,
        categories: Vec<String>,
    },
}

/// The encoding of a table for a model: its features and its target's classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    pub target: String,
    /// Binary with a named positive value: `["not <V>", "<V>"]`.
    pub classes: Vec<String>,
    pub positive: Option<String>,
    pub features: Vec<Feature>,
}

const MAX_CATEGORIES: usize = 64;
const MAX_CLASSES: usize = 100;

impl Encoding {
    /// Fits the encoding on `rows` of `table`: `features` (all columns but the target when
    /// empty) and the target's classes.
    pub fn fit(
        table: &Table,
        target: &str,
        positive: Option<&str>,
        features: &[String],
        rows: &[usize],
    ) -> Result<Self> {
        let t = table.column(target)?;
        let classes = match positive {
            Some(v) => vec![format!("not {v}"), v.to_owned()],
            None => {
                let mut seen: Vec<String> = rows
                    .iter()
                    .filter_map(|&r| table.columns[t][r].clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                seen.truncate(MAX_CLASSES + 1);
                if seen.len() < 2 || seen.len() > MAX_CLASSES {
                    return Err(TrainError::Invalid(format!(
                        "the target needs 2 to {MAX_CLASSES} classes in the training rows (it has {}{})",
                        seen.len().min(MAX_CLASSES),
                        if seen.len() > MAX_CLASSES { "+" } else { "" }
                    )));
                }
                seen
            }
        };
        let names: Vec<String> = if features.is_empty() {
            table
                .names
                .iter()
                .filter(|n| n.as_str() != target)
                .cloned()
                .collect()
        } else {
            features.to_vec()
        };
        let mut out = Vec::new();
        for name in names {
            if name == target {
                return Err(TrainError::Invalid("the target cannot be a feature".into()));
            }
            let c = table.column(&name)?;
            let values: Vec<&str> = rows
                .iter()
                .filter_map(|&r| table.columns[c][r].as_deref())
                .collect();
            let numbers: Vec<f64> = values.iter().filter_map(|v| v.parse().ok()).collect();
            if !values.is_empty() && numbers.len() as f64 >= 0.98 * values.len() as f64 {
                let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
                let var =
                    numbers.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / numbers.len() as f64;
                out.push(Feature::Numeric {
                    name,
                    mean,
                    std: if var > 0.0 { var.sqrt() } else { 1.0 },
                });
            } else {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for v in &values {
                    *counts.entry(v).or_default() += 1;
                }
                let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
                by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                out.push(Feature::Categorical {
                    name,
                    categories: by_count
                        .into_iter()
                        .take(MAX_CATEGORIES)
                        .map(|(v, _)| v.to_owned())
                        .collect(),
                });
            }
        }
        Ok(Self {
            target: target.to_owned(),
            classes,
            positive: positive.map(str::to_owned),
            features: out,
        })
    }

    /// Features per row.
    pub fn width(&self) -> usize {
        self.features
            .iter()
            .map(|f| match f {
                Feature::Numeric { .. } => 1,
                Feature::Categorical { categories, .. } => categories.len() + 1,
            })
            .sum()
    }

    /// An encoder of `table`'s rows: column positions found and category lists indexed once.
    pub fn encoder<'a>(&'a self, table: &'a Table) -> Result<Encoder<'a>> {
        let mut columns = Vec::with_capacity(self.features.len());
        for f in &self.features {
            let (name, index) = match f {
                Feature::Numeric { name, .. } => (name, None),
                Feature::Categorical { name, categories } => (
                    name,
                    Some(
                        categories
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (c.as_str(), i))
                            .collect::<rustc_hash::FxHashMap<_, _>>(),
                    ),
                ),
            };
            columns.push((table.column(name)?, index));
        }
        Ok(Encoder {
            encoding: self,
            table,
            columns,
            target: table.column(&self.target)?,
        })
    }
}

/// A table's rows as features and classes under an [`Encoding`], its column positions and
/// category indexes looked up once.
pub struct Encoder<'a> {
    encoding: &'a Encoding,
    table: &'a Table,
    columns: Vec<(usize, Option<rustc_hash::FxHashMap<&'a str, usize>>)>,
    target: usize,
}

impl Encoder<'_> {
    /// Row `r`'s features.
    pub fn row(&self, r: usize) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.encoding.width());
        for (f, (c, index)) in self.encoding.features.iter().zip(&self.columns) {
            let cell = self.table.columns[*c][r].as_deref();
            match (f, index) {
                (Feature::Numeric { mean, std, .. }, _) => {
                    let v = cell.and_then(|v| v.parse::<f64>().ok()).unwrap_or(*mean);
                    x.push((v - mean) / std);
                }
                (Feature::Categorical { categories, .. }, Some(index)) => {
                    let at = cell
                        .and_then(|v| index.get(v).copied())
                        .unwrap_or(categories.len());
                    x.extend((0..=categories.len()).map(|i| f64::from(u8::from(i == at))));
                }
                (Feature::Categorical { .. }, None) => {}
            }
        }
        x
    }

    /// Row `r`'s class, if it has one the encoding knows.
    pub fn label(&self, r: usize) -> Option<usize> {
        let v = self.table.columns[self.target][r].as_deref()?;
        match &self.encoding.positive {
            Some(p) => Some(usize::from(v == p)),
            None => self.encoding.classes.iter().position(|c| c == v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An encoding (numbers inside the tagged feature enum) reads back as written.
    #[test]
    fn an_encoding_reads_back_as_written() {
        let e = Encoding {
            target: "y".into(),
            classes: vec!["not a".into(), "a".into()],
            positive: Some("a".into()),
            features: vec![
                Feature::Numeric {
                    name: "age".into(),
                    mean: 38.386_282_635_723_17,
                    std: 13.093_157_340_705_33,
                },
                Feature::Categorical {
                    name: "sex".into(),
                    categories: vec!["F".into(), "M".into()],
                },
            ],
        };
        let text = serde_json::to_string_pretty(&e).unwrap_or_default();
        let back: Encoding = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, e);
        assert!(serde_json::from_str::<Encoding>(&text.replace("38.38", "\"x\"")).is_err());
    }
}
