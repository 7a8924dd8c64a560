//! A table's quasi-identifiers and sensitive attribute, dictionary-encoded once, so that every
//! node of the generalization lattice is evaluated on integers.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};

use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, TableReader};

use crate::error::RiskError;
use crate::hierarchy::{Hierarchy, HierarchySpec};

/// One quasi-identifier: its hierarchy and every record's leaf in it.
#[derive(Debug, Clone)]
pub struct Qi {
    pub name: String,
    pub hierarchy: Hierarchy,
    /// Leaf (row of the hierarchy) of each record.
    pub(crate) leaf: Vec<u32>,
    /// `group[level][leaf]`: the group number of a leaf at a level.
    pub(crate) group: Vec<Vec<u32>>,
    /// `share[level][group]`: fraction of the domain under a group.
    pub(crate) share: Vec<Vec<f64>>,
}

impl Qi {
    /// Groups at a level.
    pub(crate) fn groups_at(&self, level: usize) -> usize {
        self.share[level].len()
    }

    /// Highest level (the number of levels minus one).
    pub fn max_level(&self) -> usize {
        self.hierarchy.levels() - 1
    }
}

/// The sensitive attribute, dictionary-encoded.
#[derive(Debug, Clone)]
pub struct Sensitive {
    pub name: String,
    pub(crate) code: Vec<u32>,
    pub(crate) values: usize,
    /// Each code's rank in the values' order (numeric when every value is a number, else
    /// lexicographic), for t-closeness with ordered distance.
    pub(crate) rank: Vec<u32>,
    /// `tree[level][code]`: each code's group at each level of the sensitive hierarchy, for
    /// t-closeness with hierarchical distance.
    pub(crate) tree: Option<Vec<Vec<u32>>>,
    labels: Vec<String>,
}

impl Sensitive {
    fn new(name: &str, dict: Dictionary) -> Self {
        let numbers: Option<Vec<f64>> = dict.values.iter().map(|v| v.trim().parse().ok()).collect();
        let mut order: Vec<usize> = (0..dict.values.len()).collect();
        match &numbers {
            Some(n) => order.sort_by(|&a, &b| n[a].total_cmp(&n[b])),
            None => order.sort_by(|&a, &b| dict.values[a].cmp(&dict.values[b])),
        }
        let mut rank = vec![0u32; order.len()];
        for (r, &code) in order.iter().enumerate() {
            rank[code] = r as u32;
        }
        Self {
            name: name.to_owned(),
            values: dict.values.len(),
            code: dict.codes,
            rank,
            tree: None,
            labels: dict.values,
        }
    }

    /// Attaches the sensitive attribute's hierarchy (for hierarchical t-closeness). Every
    /// value must be in it.
    pub fn set_hierarchy(&mut self, h: &Hierarchy) -> Result<(), RiskError> {
        let (groups, _) = h.groups();
        let leaves: Vec<usize> = self
            .labels
            .iter()
            .map(|v| {
                h.leaf_index(v).ok_or_else(|| {
                    RiskError::Invalid(format!(
                        "a value of the sensitive column \"{}\" is not in the hierarchy {}",
                        self.name,
                        h.source.display()
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        self.tree = Some(
            groups
                .iter()
                .map(|level| leaves.iter().map(|&l| level[l]).collect())
                .collect(),
        );
        Ok(())
    }
}

/// The quasi-identifiers and the sensitive attribute of a table.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub rows: usize,
    pub qis: Vec<Qi>,
    pub sensitive: Option<Sensitive>,
}

struct Dictionary {
    ids: HashMap<String, u32>,
    values: Vec<String>,
    first_row: Vec<u64>,
    codes: Vec<u32>,
}

impl Dictionary {
    fn new() -> Self {
        Self {
            ids: HashMap::new(),
            values: Vec::new(),
            first_row: Vec::new(),
            codes: Vec::new(),
        }
    }

    fn push(&mut self, value: &str, row: u64) {
        let id = match self.ids.get(value) {
            Some(&id) => id,
            None => {
                let id = self.values.len() as u32;
                self.ids.insert(value.to_owned(), id);
                self.values.push(value.to_owned());
                self.first_row.push(row);
                id
            }
        };
        self.codes.push(id);
    }
}

impl Dataset {
    /// Reads `qis` (and `sensitive`) from a table. A QI's hierarchy comes from a file or is built
    /// from the values (intervals, dates, ZIP prefixes); a QI without one gets a flat one
    /// (value, then `*`). Every QI value must be in its hierarchy and no QI cell may be empty.
    pub fn load(
        path: &Path,
        format: Format,
        qis: &[String],
        hierarchies: &HashMap<String, HierarchySpec>,
        sensitive: Option<&str>,
    ) -> Result<Self, RiskError> {
        let mut reader = TableReader::open(path, format, DEFAULT_BATCH_SIZE)?;
        let schema = reader.schema();
        let batches = std::iter::from_fn(|| reader.next_batch().transpose());
        Self::from_batches(&schema, batches, qis, hierarchies, sensitive, path)
    }

    /// [`Dataset::load`] from Arrow batches held in memory (`file` names them in messages).
    pub fn from_batches<B: std::borrow::Borrow<RecordBatch>>(
        schema: &Schema,
        batches: impl Iterator<Item = Result<B, airlock_core::Error>>,
        qis: &[String],
        hierarchies: &HashMap<String, HierarchySpec>,
        sensitive: Option<&str>,
        file: &Path,
    ) -> Result<Self, RiskError> {
        let path = file;
        let index = |c: &str| {
            schema.index_of(c).map_err(|_| RiskError::NoSuchColumn {
                file: path.to_path_buf(),
                column: c.to_owned(),
            })
        };
        let qi_index: Vec<usize> = qis.iter().map(|q| index(q)).collect::<Result<_, _>>()?;
        let sensitive_index = sensitive.map(index).transpose()?;
        let mut dicts: Vec<Dictionary> = qis.iter().map(|_| Dictionary::new()).collect();
        let mut sens = Dictionary::new();
        let mut row = 0u64;
        for batch in batches {
            let batch = batch?;
            let batch = batch.borrow();
            let texts: Vec<ArrayRef> = qi_index
                .iter()
                .chain(sensitive_index.iter())
                .map(|&i| to_text(batch.column(i)))
                .collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                row += 1;
                for (q, dict) in dicts.iter_mut().enumerate() {
                    let a = texts[q].as_string::<i32>();
                    if a.is_null(r) {
                        return Err(RiskError::Missing {
                            file: path.to_path_buf(),
                            row,
                            column: qis[q].clone(),
                        });
                    }
                    dict.push(a.value(r), row);
                }
                if sensitive_index.is_some() {
                    let a = texts[qis.len()].as_string::<i32>();
                    sens.push(if a.is_null(r) { "" } else { a.value(r) }, row);
                }
            }
        }
        let mut out = Vec::with_capacity(qis.len());
        for (q, dict) in dicts.into_iter().enumerate() {
            let name = &qis[q];
            let values = dict.values.iter().map(String::as_str);
            let hierarchy = match hierarchies.get(name) {
                Some(HierarchySpec::File(h)) => h.clone(),
                Some(HierarchySpec::Intervals(widths)) => {
                    Hierarchy::intervals(name, values, widths)?
                }
                Some(HierarchySpec::Dates) => Hierarchy::dates(name, values)?,
                Some(HierarchySpec::ZipPrefix) => Hierarchy::zip_prefix(name, values)?,
                None => Hierarchy::flat(name, values),
            };
            let mut to_leaf = Vec::with_capacity(dict.values.len());
            for (id, v) in dict.values.iter().enumerate() {
                let leaf = hierarchy
                    .leaf_index(v)
                    .ok_or_else(|| RiskError::NotInHierarchy {
                        file: path.to_path_buf(),
                        row: dict.first_row[id],
                        column: name.clone(),
                        hierarchy: hierarchy.source.clone(),
                    })?;
                to_leaf.push(leaf as u32);
            }
            let (group, share) = hierarchy.groups();
            out.push(Qi {
                name: name.clone(),
                leaf: dict.codes.iter().map(|&c| to_leaf[c as usize]).collect(),
                hierarchy,
                group,
                share,
            });
        }
        Ok(Self {
            rows: row as usize,
            qis: out,
            sensitive: sensitive.map(|name| Sensitive::new(name, sens)),
        })
    }

    /// The lattice's top node: every QI at its highest level.
    pub fn top(&self) -> Vec<u8> {
        self.qis.iter().map(|q| q.max_level() as u8).collect()
    }
}

fn to_text(a: &ArrayRef) -> Result<ArrayRef, RiskError> {
    if a.data_type() == &DataType::Utf8 {
        return Ok(a.clone());
    }
    arrow_cast::cast(a, &DataType::Utf8).map_err(|_| {
        RiskError::Invalid(format!(
            "a column of type {} cannot be read as text",
            a.data_type()
        ))
    })
}
