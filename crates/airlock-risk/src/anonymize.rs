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

use crate::classes::{Classes, record_classes};
use crate::data::Dataset;
use crate::error::RiskError;
use crate::search::Evaluation;

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
