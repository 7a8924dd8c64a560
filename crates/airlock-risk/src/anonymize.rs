//! Writing a table transformed to a lattice node: each quasi-identifier replaced by its
//! generalization at the node's level, every QI of a suppressed record replaced by `*`, every
//! other column unchanged. Rows keep their order. Output is atomic, like every airlock output.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use airlock_core::output::AtomicOutput;
use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, TableReader, TableWriter, WriteSummary};

use airlock_core::risk::{Criteria, LevelRecord, RiskRecord};

use crate::classes::{self, Classes, record_classes};
use crate::data::Dataset;
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

/// The one generalization step, for `airlock anonymize` and a policy's `[risk]` block: the
/// figures before, the exact search, the table written at the optimal node, and the typed
/// record of it all.
#[derive(Debug)]
pub enum Generalized {
    Written {
        record: Box<RiskRecord>,
        written: WriteSummary,
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

/// Searches the optimal generalization of `ds` for `criteria` and writes `target` at it.
/// `threshold` is the prosecutor-risk threshold of the figures.
pub fn generalize(
    ds: &Dataset,
    criteria: &Criteria,
    threshold: f64,
    target: &Target<'_>,
) -> Result<Generalized, RiskError> {
    let bottom = classes::bottom(ds)?;
    let table = distribution(&bottom);
    let before = summarize_dataset(ds, &bottom, &[], &table, threshold);
    let outcome = search_from(ds, &bottom, criteria)?;
    let lattice_size = outcome.lattice_size();
    let suppression_limit = criteria.suppression_limit(ds.rows);
    let Some((best, best_classes)) = outcome.best else {
        return Ok(Generalized::NoSolution {
            lattice_size,
            suppression_limit,
            before: Box::new(before),
        });
    };
    let after = summarize_dataset(ds, &best_classes, &best.suppressed, &table, threshold);
    let written = write_transformed(ds, &best_classes, &best, target)?;
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
    Ok(Generalized::Written {
        record: Box::new(record),
        written,
        nodes: outcome.nodes,
        pruned: outcome.pruned,
        anonymous_nodes: outcome.anonymous_nodes,
    })
}

/// Writes `target.input` transformed to `node` (with `node`'s suppressed classes) to
/// `target.output`.
pub fn write_transformed(
    ds: &Dataset,
    classes: &Classes,
    node: &Evaluation,
    target: &Target<'_>,
) -> Result<WriteSummary, RiskError> {
    let class_of = record_classes(ds, classes)?;
    let mut reader = TableReader::open(target.input, target.input_format, DEFAULT_BATCH_SIZE)?;
    let schema = reader.schema();
    let qi_columns: Vec<usize> = ds
        .qis
        .iter()
        .map(|q| {
            schema
                .index_of(&q.name)
                .map_err(|_| RiskError::NoSuchColumn {
                    file: target.input.to_path_buf(),
                    column: q.name.clone(),
                })
        })
        .collect::<Result<_, _>>()?;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if qi_columns.contains(&i) {
                Field::new(f.name(), DataType::Utf8, false)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let out_schema = Arc::new(Schema::new(fields));
    let out = AtomicOutput::create(target.output, target.force)?;
    let mut writer = TableWriter::new(
        out.file()?,
        target.output,
        target.output_format,
        out_schema.clone(),
    )?;
    let mut row = 0usize;
    while let Some(batch) = reader.next_batch()? {
        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (q, &col) in qi_columns.iter().enumerate() {
            let qi = &ds.qis[q];
            let level = usize::from(node.levels[q]);
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for (&class, &leaf) in class_of[row..row + n].iter().zip(&qi.leaf[row..row + n]) {
                if node.suppressed[class as usize] {
                    b.append_value(SUPPRESSED);
                } else {
                    b.append_value(qi.hierarchy.label(leaf as usize, level));
                }
            }
            columns[col] = Arc::new(b.finish());
        }
        row += n;
        let batch = RecordBatch::try_new(out_schema.clone(), columns).map_err(|_| {
            RiskError::Invalid("the transformed batch does not match its schema".into())
        })?;
        writer.write(&batch)?;
    }
    let summary = writer.finish()?;
    out.commit()?;
    Ok(summary)
}
