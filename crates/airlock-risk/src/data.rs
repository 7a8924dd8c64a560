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
    /// Leaf (row of the hierarchy) of each entry.
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
    /// Value of each entry.
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
    fn new(name: &str, dict: Dictionary, code: Vec<u32>) -> Self {
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
            code,
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

/// The quasi-identifiers and the sensitive attribute of a table, as its distinct combinations
/// of values (entries) and how many records hold each. The entries are in the order of their
/// values, never in the order of the rows: the same records in any order, or summed over many
/// machines, make the same dataset, and so the same search result.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Records (the sum of the entries' weights).
    pub rows: usize,
    pub qis: Vec<Qi>,
    pub sensitive: Option<Sensitive>,
    /// Records of each entry.
    pub(crate) weight: Vec<u32>,
}

/// Interned values of one column, with the row each was first seen in (for messages).
#[derive(Debug, Clone, Default)]
struct Dictionary {
    ids: HashMap<String, u32>,
    values: Vec<String>,
    first_row: Vec<Option<u64>>,
}

impl Dictionary {
    fn intern(&mut self, value: &str, row: Option<u64>) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(value.to_owned(), id);
        self.values.push(value.to_owned());
        self.first_row.push(row);
        id
    }

    /// The values sorted, and each old id's new one.
    fn sorted(mut self) -> (Dictionary, Vec<u32>) {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by(|&a, &b| self.values[a].cmp(&self.values[b]));
        let mut remap = vec![0u32; order.len()];
        let mut out = Dictionary::default();
        for (new, &old) in order.iter().enumerate() {
            remap[old] = new as u32;
            let value = std::mem::take(&mut self.values[old]);
            out.ids.insert(value.clone(), new as u32);
            out.values.push(value);
            out.first_row.push(self.first_row[old]);
        }
        (out, remap)
    }
}

/// How many records hold each combination of quasi-identifier values (and sensitive value):
/// all that the risk figures and the generalization search need of a table. Built from
/// batches, or from counts made elsewhere (each machine of a cluster counts its rows, the
/// counts are summed, and [`Histogram::add`] takes the sums).
#[derive(Debug, Clone)]
pub struct Histogram {
    qis: Vec<String>,
    sensitive: Option<String>,
    dicts: Vec<Dictionary>,
    sens: Dictionary,
    counts: rustc_hash::FxHashMap<Box<[u32]>, u64>,
    rows: u64,
    file: std::path::PathBuf,
}

impl Histogram {
    /// An empty histogram of `qis` (and `sensitive`); `file` names the data in messages.
    pub fn new(qis: &[String], sensitive: Option<&str>, file: &Path) -> Self {
        Self {
            qis: qis.to_vec(),
            sensitive: sensitive.map(str::to_owned),
            dicts: qis.iter().map(|_| Dictionary::default()).collect(),
            sens: Dictionary::default(),
            counts: Default::default(),
            rows: 0,
            file: file.to_path_buf(),
        }
    }

    /// The quasi-identifiers, in order.
    pub fn qis(&self) -> &[String] {
        &self.qis
    }

    /// The sensitive attribute, if any.
    pub fn sensitive(&self) -> Option<&str> {
        self.sensitive.as_deref()
    }

    /// Records counted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Counts every row of `batch` (of `schema`). No QI cell may be empty; an empty sensitive
    /// cell counts as the empty value.
    pub fn add_batch(&mut self, schema: &Schema, batch: &RecordBatch) -> Result<(), RiskError> {
        let index = |c: &str| {
            schema.index_of(c).map_err(|_| RiskError::NoSuchColumn {
                file: self.file.clone(),
                column: c.to_owned(),
            })
        };
        let columns: Vec<usize> = self
            .qis
            .iter()
            .map(|q| index(q))
            .chain(self.sensitive.as_deref().map(index))
            .collect::<Result<_, _>>()?;
        let texts: Vec<ArrayRef> = columns
            .iter()
            .map(|&i| to_text(batch.column(i)))
            .collect::<Result<_, _>>()?;
        let q = self.qis.len();
        let mut key = vec![0u32; texts.len()];
        for r in 0..batch.num_rows() {
            self.rows += 1;
            let row = Some(self.rows);
            for (i, text) in texts.iter().enumerate() {
                let a = text.as_string::<i32>();
                key[i] = if i < q {
                    if a.is_null(r) {
                        return Err(RiskError::Missing {
                            file: self.file.clone(),
                            row: self.rows,
                            column: self.qis[i].clone(),
                        });
                    }
                    self.dicts[i].intern(a.value(r), row)
                } else {
                    self.sens
                        .intern(if a.is_null(r) { "" } else { a.value(r) }, row)
                };
            }
            match self.counts.get_mut(key.as_slice()) {
                Some(n) => *n += 1,
                None => {
                    self.counts.insert(key.as_slice().into(), 1);
                }
            }
        }
        Ok(())
    }

    /// Adds `count` records holding `values` (one per QI, in order) and `sensitive`.
    pub fn add(
        &mut self,
        values: &[&str],
        sensitive: Option<&str>,
        count: u64,
    ) -> Result<(), RiskError> {
        if values.len() != self.qis.len() || sensitive.is_some() != self.sensitive.is_some() {
            return Err(RiskError::Invalid(format!(
                "a count of {} has {} quasi-identifier value(s){}; {} and {} were asked for",
                self.file.display(),
                values.len(),
                if sensitive.is_some() {
                    " and a sensitive value"
                } else {
                    ""
                },
                self.qis.len(),
                if self.sensitive.is_some() {
                    "a sensitive value"
                } else {
                    "no sensitive value"
                },
            )));
        }
        let mut key: Vec<u32> = values
            .iter()
            .zip(&mut self.dicts)
            .map(|(v, d)| d.intern(v, None))
            .collect();
        if let Some(s) = sensitive {
            key.push(self.sens.intern(s, None));
        }
        *self.counts.entry(key.into()).or_insert(0) += count;
        self.rows += count;
        Ok(())
    }

    /// Each distinct combination: its QI values, its sensitive value and its count (for
    /// sending a machine's counts to the one that sums them).
    pub fn entries(&self) -> impl Iterator<Item = (Vec<&str>, Option<&str>, u64)> + '_ {
        let q = self.qis.len();
        self.counts.iter().map(move |(key, &n)| {
            let values = key[..q]
                .iter()
                .zip(&self.dicts)
                .map(|(&c, d)| d.values[c as usize].as_str())
                .collect();
            let sensitive = key.get(q).map(|&c| self.sens.values[c as usize].as_str());
            (values, sensitive, n)
        })
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
        let mut h = Histogram::new(qis, sensitive, file);
        for batch in batches {
            h.add_batch(schema, batch?.borrow())?;
        }
        Self::from_histogram(h, hierarchies)
    }

    /// The dataset of a histogram's counts.
    pub fn from_histogram(
        h: Histogram,
        hierarchies: &HashMap<String, HierarchySpec>,
    ) -> Result<Self, RiskError> {
        let Histogram {
            qis,
            sensitive,
            dicts,
            sens,
            counts,
            rows,
            file,
        } = h;
        let q = qis.len();
        let mut remaps = Vec::with_capacity(q + 1);
        let mut out = Vec::with_capacity(q);
        for (name, dict) in qis.iter().zip(dicts) {
            let (dict, remap) = dict.sorted();
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
                        file: file.clone(),
                        row: dict.first_row[id],
                        column: name.clone(),
                        hierarchy: hierarchy.source.clone(),
                    })?;
                to_leaf.push(leaf as u32);
            }
            remaps.push(
                remap
                    .iter()
                    .map(|&c| to_leaf[c as usize])
                    .collect::<Vec<u32>>(),
            );
            let (group, share) = hierarchy.groups();
            out.push(Qi {
                name: name.clone(),
                leaf: Vec::with_capacity(counts.len()),
                hierarchy,
                group,
                share,
            });
        }
        let (sens, sens_remap) = sens.sorted();
        remaps.push(sens_remap);
        // The entries in the order of their leaves (and sensitive value), whatever order the
        // records came in.
        let mut entries: Vec<(Vec<u32>, u64)> = counts
            .into_iter()
            .map(|(key, n)| {
                let key = key
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| remaps[i.min(q)][c as usize])
                    .collect();
                (key, n)
            })
            .collect();
        entries.sort_unstable();
        let mut weight = Vec::with_capacity(entries.len());
        let mut codes = Vec::new();
        for (key, n) in entries {
            for (qi, &leaf) in out.iter_mut().zip(&key) {
                qi.leaf.push(leaf);
            }
            if let Some(&s) = key.get(q) {
                codes.push(s);
            }
            weight.push(u32::try_from(n).map_err(|_| {
                RiskError::Invalid(
                    "more than 4,294,967,295 records share one combination of values".into(),
                )
            })?);
        }
        let rows = usize::try_from(rows)
            .map_err(|_| RiskError::Invalid("too many records to count".into()))?;
        Ok(Self {
            rows,
            qis: out,
            sensitive: sensitive.map(|name| Sensitive::new(&name, sens, codes)),
            weight,
        })
    }

    /// Distinct combinations of values (each of [`Self::weight`] records).
    pub fn entries(&self) -> usize {
        self.weight.len()
    }

    /// The lattice's top node: every QI at its highest level.
    pub fn top(&self) -> Vec<u8> {
        self.qis.iter().map(|q| q.max_level() as u8).collect()
    }
}

pub(crate) fn to_text(a: &ArrayRef) -> Result<ArrayRef, RiskError> {
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
