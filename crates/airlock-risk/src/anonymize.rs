//! The optimal generalization, found ([`solve`]) and written: each quasi-identifier replaced by
//! its generalization at the node's level, every QI of a suppressed record replaced by `*`,
//! every other column unchanged ([`Recoding`]). Rows keep their order. Output is atomic, like
//! every airlock output.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rustc_hash::FxHashMap;

use airlock_core::output::AtomicOutput;
use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, TableReader, TableWriter, WriteSummary};

use airlock_core::risk::{Criteria, LevelRecord, RiskRecord};

use crate::classes::{self, Classes, entry_classes};
use crate::data::{Dataset, to_text};
use crate::error::RiskError;
use crate::metrics::{distribution, non_uniform_entropy, summarize_dataset};
use crate::search::{Evaluation, search_from};

/// The value written for every QI of a suppressed record.
pub const SUPPRESSED: &str = "*";

/// Where the transformed table goes.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub input: &'a Path,
    pub input_format: Format,
    pub output: &'a Path,
    pub output_format: Format,
    pub force: bool,
}

/// The optimal generalization of a dataset: found ([`solve`]: its `result` is the
/// [`Recoding`]) or written ([`generalize`]: the written table's summary).
#[derive(Debug)]
pub enum Solution<T = Recoding> {
    Found {
        record: Box<RiskRecord>,
        result: T,
        /// Search statistics: nodes evaluated, pruned, and anonymous.
        nodes: usize,
        pruned: usize,
        anonymous_nodes: usize,
    },
    /// No node meets the criteria within the suppression limit; nothing was written.
    NoSolution {
        lattice_size: usize,
        suppression_limit: u64,
        before: Box<airlock_core::risk::RiskSummary>,
    },
}

/// What [`generalize`] did.
pub type Generalized = Solution<WriteSummary>;

/// The one generalization step, for `airlock anonymize`, a policy's `[risk]` block and the
/// front doors that hold their data elsewhere (Python, Spark): the figures before, the exact
/// search, and the typed record of it all with the recoding that writes the result.
/// `threshold` is the prosecutor-risk threshold of the figures.
pub fn solve(ds: &Dataset, criteria: &Criteria, threshold: f64) -> Result<Solution, RiskError> {
    let bottom = classes::bottom(ds)?;
    let table = distribution(&bottom);
    let before = summarize_dataset(ds, &bottom, &[], &table, threshold);
    let outcome = search_from(ds, &bottom, criteria)?;
    let lattice_size = outcome.lattice_size();
    let suppression_limit = criteria.suppression_limit(ds.rows);
    let Some((best, best_classes)) = outcome.best else {
        return Ok(Solution::NoSolution {
            lattice_size,
            suppression_limit,
            before: Box::new(before),
        });
    };
    let after = summarize_dataset(ds, &best_classes, &best.suppressed, &table, threshold);
    let recoding = Recoding::of_node(ds, &best_classes, &best)?;
    let record = RiskRecord {
        criteria: criteria.clone(),
        quasi_identifiers: ds.qis.iter().map(|q| q.name.clone()).collect(),
        sensitive: ds.sensitive.as_ref().map(|s| s.name.clone()),
        levels: ds
            .qis
            .iter()
            .zip(&best.levels)
            .map(|(q, &level)| LevelRecord {
                column: q.name.clone(),
                level,
                max_level: q.max_level(),
            })
            .collect(),
        lattice_size: lattice_size as u64,
        suppressed_records: best.suppressed_records,
        suppression_limit,
        classes: best.classes,
        loss: best.loss,
        discernibility: best.discernibility,
        non_uniform_entropy: non_uniform_entropy(ds, &best_classes, &best.suppressed)?,
        before,
        after,
    };
    Ok(Solution::Found {
        record: Box::new(record),
        result: recoding,
        nodes: outcome.nodes,
        pruned: outcome.pruned,
        anonymous_nodes: outcome.anonymous_nodes,
    })
}

/// [`solve`], then the table of `target` written at the optimal node.
pub fn generalize(
    ds: &Dataset,
    criteria: &Criteria,
    threshold: f64,
    target: &Target<'_>,
) -> Result<Generalized, RiskError> {
    Ok(match solve(ds, criteria, threshold)? {
        Solution::NoSolution {
            lattice_size,
            suppression_limit,
            before,
        } => Solution::NoSolution {
            lattice_size,
            suppression_limit,
            before,
        },
        Solution::Found {
            record,
            result,
            nodes,
            pruned,
            anonymous_nodes,
        } => Solution::Found {
            record,
            result: write_transformed(&result, target)?,
            nodes,
            pruned,
            anonymous_nodes,
        },
    })
}

/// How every combination of quasi-identifier values that the search saw is written at the
/// node it chose: each QI's label at the node's level, or `*` in every QI of a suppressed
/// class. It is all a machine needs to write its share of the rows (it holds values of the
/// data: keep it as private as the data). A combination it does not hold is an error: the rows
/// written must be the rows searched.
#[derive(Debug, Clone, Default)]
pub struct Recoding {
    qis: Vec<String>,
    /// Per QI: each original value's number (looked up for every row written).
    ids: Vec<FxHashMap<String, u32>>,
    /// Per QI: the value of each number.
    names: Vec<Vec<String>>,
    /// A combination of value numbers, to its row of `labels`.
    rows: FxHashMap<Box<[u32]>, u32>,
    /// The values written, a row per distinct combination, a label per QI.
    labels: Vec<Box<[String]>>,
}

impl Recoding {
    /// An empty recoding of `qis`.
    pub fn new(qis: &[String]) -> Self {
        Self {
            qis: qis.to_vec(),
            ids: qis.iter().map(|_| FxHashMap::default()).collect(),
            names: qis.iter().map(|_| Vec::new()).collect(),
            ..Self::default()
        }
    }

    /// The recoding of every entry of `ds` at `node` (whose classes are `classes`).
    pub fn of_node(ds: &Dataset, classes: &Classes, node: &Evaluation) -> Result<Self, RiskError> {
        let class_of = entry_classes(ds, classes)?;
        let qis: Vec<String> = ds.qis.iter().map(|q| q.name.clone()).collect();
        let mut out = Self::new(&qis);
        let mut values = Vec::with_capacity(qis.len());
        let mut labels = Vec::with_capacity(qis.len());
        for (e, &class) in class_of.iter().enumerate() {
            values.clear();
            labels.clear();
            for (q, qi) in ds.qis.iter().enumerate() {
                let leaf = qi.leaf[e] as usize;
                values.push(qi.hierarchy.label(leaf, 0));
                labels.push(if node.suppressed[class as usize] {
                    SUPPRESSED
                } else {
                    qi.hierarchy.label(leaf, usize::from(node.levels[q]))
                });
            }
            out.insert(&values, &labels)?;
        }
        Ok(out)
    }

    /// The quasi-identifiers it rewrites.
    pub fn qis(&self) -> &[String] {
        &self.qis
    }

    /// Writes the combination `values` as `labels` (a combination given twice must be given
    /// the same labels).
    pub fn insert(&mut self, values: &[&str], labels: &[&str]) -> Result<(), RiskError> {
        let q = self.qis.len();
        if values.len() != q || labels.len() != q {
            return Err(RiskError::Invalid(format!(
                "a recoding of {q} quasi-identifier(s) was given a combination of {} value(s) and {} label(s)",
                values.len(),
                labels.len()
            )));
        }
        let key: Box<[u32]> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let next = self.ids[i].len() as u32;
                let id = *self.ids[i].entry((*v).to_owned()).or_insert(next);
                if id == next {
                    self.names[i].push((*v).to_owned());
                }
                id
            })
            .collect();
        match self.rows.get(&key) {
            Some(&row) => {
                if self.labels[row as usize]
                    .iter()
                    .zip(labels)
                    .any(|(a, b)| a != b)
                {
                    return Err(RiskError::Invalid(
                        "a recoding was given two different results for one combination of values"
                            .into(),
                    ));
                }
            }
            None => {
                let row = self.labels.len() as u32;
                self.labels
                    .push(labels.iter().map(|l| (*l).to_owned()).collect());
                self.rows.insert(key, row);
            }
        }
        Ok(())
    }

    /// Each combination and how it is written, in no particular order (for sending the
    /// recoding to other machines).
    pub fn entries(&self) -> impl Iterator<Item = (Vec<&str>, Vec<&str>)> + '_ {
        self.rows.iter().map(|(key, &row)| {
            (
                key.iter()
                    .zip(&self.names)
                    .map(|(&id, names)| names[id as usize].as_str())
                    .collect(),
                self.labels[row as usize]
                    .iter()
                    .map(String::as_str)
                    .collect(),
            )
        })
    }

    /// The schema of a table of `schema` once recoded: the QIs become text.
    pub fn output_schema(&self, schema: &Schema) -> Result<SchemaRef, RiskError> {
        recoded_schema(schema, &self.qis)
    }

    /// Rewrites the QIs of one batch into `out_schema` ([`Self::output_schema`]). `file` names
    /// the data in messages; `first_row` is the number of rows before this batch.
    pub fn apply(
        &self,
        batch: &RecordBatch,
        out_schema: &SchemaRef,
        file: &Path,
        first_row: u64,
    ) -> Result<RecordBatch, RiskError> {
        let columns = qi_columns(&batch.schema(), &self.qis, file)?;
        let texts: Vec<ArrayRef> = columns
            .iter()
            .map(|&i| to_text(batch.column(i)))
            .collect::<Result<_, _>>()?;
        let n = batch.num_rows();
        let mut rows = Vec::with_capacity(n);
        let mut key = vec![0u32; columns.len()];
        for r in 0..n {
            let row = first_row + r as u64 + 1;
            for (q, text) in texts.iter().enumerate() {
                let a = text.as_string::<i32>();
                if a.is_null(r) {
                    return Err(RiskError::Missing {
                        file: file.to_path_buf(),
                        row,
                        column: self.qis[q].clone(),
                    });
                }
                key[q] = *self.ids[q]
                    .get(a.value(r))
                    .ok_or_else(|| unseen(file, row))?;
            }
            rows.push(
                *self
                    .rows
                    .get(key.as_slice())
                    .ok_or_else(|| unseen(file, row))?,
            );
        }
        let mut out: Vec<ArrayRef> = batch.columns().to_vec();
        for (q, &col) in columns.iter().enumerate() {
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for &row in &rows {
                b.append_value(&self.labels[row as usize][q]);
            }
            out[col] = Arc::new(b.finish());
        }
        RecordBatch::try_new(out_schema.clone(), out).map_err(|_| {
            RiskError::Invalid("the transformed batch does not match its schema".into())
        })
    }

    /// [`Self::apply`] on batches held in memory, rows numbered across them.
    pub fn apply_all(
        &self,
        batches: &[RecordBatch],
        out_schema: &SchemaRef,
        file: &Path,
    ) -> Result<Vec<RecordBatch>, RiskError> {
        let mut row = 0u64;
        batches
            .iter()
            .map(|b| {
                let out = self.apply(b, out_schema, file, row);
                row += b.num_rows() as u64;
                out
            })
            .collect()
    }
}

/// The schema of a table of `schema` once its quasi-identifiers `qis` are recoded: they
/// become text, never empty.
pub fn recoded_schema(schema: &Schema, qis: &[String]) -> Result<SchemaRef, RiskError> {
    let columns = qi_columns(schema, qis, Path::new("<table>"))?;
    Ok(Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if columns.contains(&i) {
                    Field::new(f.name(), DataType::Utf8, false)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<Field>>(),
    )))
}

fn qi_columns(schema: &Schema, qis: &[String], file: &Path) -> Result<Vec<usize>, RiskError> {
    qis.iter()
        .map(|q| {
            schema.index_of(q).map_err(|_| RiskError::NoSuchColumn {
                file: file.to_path_buf(),
                column: q.clone(),
            })
        })
        .collect()
}

fn unseen(file: &Path, row: u64) -> RiskError {
    RiskError::Invalid(format!(
        "{} row {row}: its combination of quasi-identifier values was not among the records the generalization was searched on",
        file.display()
    ))
}

/// Writes `target.input` recoded to `target.output`.
pub fn write_transformed(
    recoding: &Recoding,
    target: &Target<'_>,
) -> Result<WriteSummary, RiskError> {
    let mut reader = TableReader::open(target.input, target.input_format, DEFAULT_BATCH_SIZE)?;
    let schema = reader.schema();
    let out_schema = recoding.output_schema(&schema)?;
    let out = AtomicOutput::create(target.output, target.force)?;
    let mut writer = TableWriter::new(
        out.file()?,
        target.output,
        target.output_format,
        out_schema.clone(),
    )?;
    let mut row = 0u64;
    while let Some(batch) = reader.next_batch()? {
        writer.write(&recoding.apply(&batch, &out_schema, target.input, row)?)?;
        row += batch.num_rows() as u64;
    }
    let summary = writer.finish()?;
    out.commit()?;
    Ok(summary)
}
