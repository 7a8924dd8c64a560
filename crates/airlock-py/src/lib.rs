//! The Python package `airlock` (PyO3, abi3 for CPython 3.9 and later): a front door onto the
//! same library calls as the command line. Arrow data crosses through the C data interface
//! (arrow-pyarrow: no copy), the work runs with the GIL released, and errors become Python
//! exceptions with the library's own messages (files, columns and settings, never a value).

#![forbid(unused_must_use)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, PyArrowType};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use airlock_core::keys::WorkspaceSecret;
use airlock_core::risk::RiskRecord;
use airlock_core::text::{DetectionMode, TextContext, TextMode, TextScrubber};
use airlock_risk::anonymize::{Recoding, Solution};
use airlock_risk::policy::RiskStep;
use airlock_run::BatchDeid;
use airlock_run::batch::Generalization;
use airlock_text::TextEngine;

pyo3::create_exception!(
    _native,
    AirlockError,
    pyo3::exceptions::PyException,
    "An airlock error: its message names files, columns and settings, never a value."
);
pyo3::create_exception!(
    _native,
    FindingsError,
    AirlockError,
    "Identifiers remained after de-identification (more than max_findings): nothing is returned."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    AirlockError::new_err(airlock_core::shown::escape_message(&e.to_string(), 4000))
}

/// A de-identification policy (the TOML of `airlock profile` and `docs/POLICY.md`).
#[pyclass(frozen, module = "airlock")]
struct Policy {
    inner: airlock_core::policy::Policy,
    text: String,
}

#[pymethods]
impl Policy {
    /// A policy from a TOML file's path, or from the TOML text itself.
    #[staticmethod]
    fn from_toml(path_or_text: &str) -> PyResult<Self> {
        let path = Path::new(path_or_text);
        let (text, at) = if !path_or_text.contains('\n') && path.is_file() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(airlock_core::Error::io("read", path, e)))?;
            (text, path.to_path_buf())
        } else {
            (path_or_text.to_owned(), PathBuf::from("<policy text>"))
        };
        let inner = airlock_core::policy::Policy::parse(&text, &at).map_err(err)?;
        Ok(Self { inner, text })
    }

    /// The TOML it was read from (what `airlock.spark` ships to the executors).
    #[getter]
    fn toml(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the policy file, as the manifest records it.
    #[getter]
    fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The dataset name the policy is for.
    #[getter]
    fn dataset(&self) -> &str {
        &self.inner.dataset_name
    }

    fn __repr__(&self) -> String {
        format!(
            "airlock.Policy(dataset={:?}, sha256={:?})",
            airlock_core::shown::escape(&self.inner.dataset_name, 60),
            &self.inner.sha256[..12.min(self.inner.sha256.len())]
        )
    }
}

/// A workspace's secret: what keys tokens, date shifts and surrogates.
#[pyclass(frozen, module = "airlock")]
struct Keys {
    secret: WorkspaceSecret,
}

#[pymethods]
impl Keys {
    /// The secret in `path` (`.airlock/secret`, made by `airlock init`).
    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<Self> {
        Ok(Self {
            secret: WorkspaceSecret::load(&path).map_err(err)?,
        })
    }

    /// The secret's 32 bytes, for shipping to Spark executors. Whoever holds them can link
    /// tokens back to values they guess: keep them as private as the file.
    fn to_bytes(&self) -> Vec<u8> {
        self.secret.expose_bytes().to_vec()
    }

    /// A secret from its 32 bytes.
    #[staticmethod]
    fn from_bytes(bytes: Vec<u8>) -> PyResult<Self> {
        let b: [u8; 32] = bytes
            .try_into()
            .map_err(|_| PyValueError::new_err("a workspace secret is 32 bytes"))?;
        Ok(Self {
            secret: WorkspaceSecret::from_bytes(b),
        })
    }

    /// The key id the manifests record (not the key).
    #[getter]
    fn key_id(&self) -> String {
        self.secret.key_id()
    }

    fn __repr__(&self) -> String {
        format!("airlock.Keys(key_id={:?})", self.secret.key_id())
    }
}

/// The batches a stream de-identification hands back, one input batch at a time.
struct DeidStream {
    input: Box<dyn RecordBatchReader + Send>,
    run: BatchDeid,
    schema: SchemaRef,
    max_findings: Option<u64>,
    done: bool,
}

impl Iterator for DeidStream {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.input.next() {
            Some(Ok(batch)) => Some(
                self.run
                    .apply(&batch)
                    .map_err(|e| ArrowError::ExternalError(Box::new(e))),
            ),
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            None => {
                self.done = true;
                let total = self.run.findings().total;
                match self.max_findings {
                    Some(max) if total > max => Some(Err(ArrowError::ExternalError(
                        format!("{total} identifiers remained after de-identification (max_findings {max})").into(),
                    ))),
                    _ => None,
                }
            }
        }
    }
}

impl RecordBatchReader for DeidStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

fn check_findings(run: &BatchDeid, max: Option<u64>) -> PyResult<()> {
    let f = run.findings();
    match max {
        Some(max) if f.total > max => Err(FindingsError::new_err(format!(
            "{} identifiers remained after de-identification in {} column(s) (max_findings {max}): nothing is returned",
            f.total,
            f.by_column.len()
        ))),
        _ => Ok(()),
    }
}

/// De-identifies `data` under `policy` with `keys`: a `pyarrow.Table` (returned as a
/// Table, its batches spread over `threads` threads: one per core by default), or a `pyarrow.RecordBatchReader` or anything with `__arrow_c_stream__` (returned
/// as a RecordBatchReader that de-identifies each batch as it is read). `scan` runs the
/// residual-PHI scan on the output's kept columns, as `airlock deid` does; more than
/// `max_findings` identifiers (None: no limit) raise `FindingsError`. A policy's `[risk]` block
/// runs on a Table (every row is searched before the first is written; a stream is refused):
/// its record (criteria, levels, suppressed records, figures: no value) is in the returned
/// schema's metadata under `airlock.risk`, and a block no generalization meets raises
/// `AirlockError` with nothing returned.
#[pyfunction]
// Python keyword arguments, one per option
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (data, policy, keys, *, scan = true, max_findings = Some(0), threads = None, _counts = None, _generalize = true))]
fn deid(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    policy: &Policy,
    keys: &Keys,
    scan: bool,
    max_findings: Option<u64>,
    threads: Option<usize>,
    _counts: Option<Counts>,
    _generalize: bool,
) -> PyResult<Py<PyAny>> {
    let is_table = py
        .import("pyarrow")?
        .getattr("Table")
        .and_then(|t| data.is_instance(&t))
        .unwrap_or(false);
    if is_table {
        let table = arrow_pyarrow::Table::from_pyarrow_bound(data)?;
        let (batches, schema) = table.into_inner();
        let out = py
            .detach(|| -> Result<_, String> {
                let mut run = BatchDeid::new(&policy.inner, &keys.secret, &schema, scan)
                    .map_err(|e| e.to_string())?;
                if let Some(counts) = &_counts {
                    run.seed_counts(counts);
                }
                if run.needs_first_pass() {
                    for b in &batches {
                        run.observe(b).map_err(|e| e.to_string())?;
                    }
                    run.prepare();
                }
                let threads = threads.unwrap_or_else(airlock_deid::engine::default_threads);
                let out = run
                    .apply_all(&batches, threads)
                    .map_err(|e| e.to_string())?;
                if !_generalize || run.risk().is_none() {
                    let schema = run.output_schema();
                    return Ok((out, schema, run));
                }
                match run.generalize(out).map_err(|e| e.to_string())? {
                    Generalization::Done { batches, record } => {
                        let schema = run.final_schema().map_err(|e| e.to_string())?;
                        let schema = with_risk_record(&schema, record.as_deref());
                        Ok((batches, schema, run))
                    }
                    Generalization::NoSolution {
                        lattice_size,
                        suppression_limit,
                    } => Err(no_solution(lattice_size, suppression_limit)),
                }
            })
            .map_err(err)?;
        let (batches, out_schema, run) = out;
        check_findings(&run, max_findings)?;
        let batches = batches
            .into_iter()
            .map(|b| b.with_schema(out_schema.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let table = arrow_pyarrow::Table::try_new(batches, out_schema).map_err(err)?;
        return Ok(table.into_pyarrow(py)?.unbind());
    }
    let reader = match arrow_array::ffi_stream::RecordBatchStreamReader::from_pyarrow_bound(data) {
        Ok(r) => r,
        Err(_) => {
            return Err(PyTypeError::new_err(
                "airlock.deid takes a pyarrow.Table or RecordBatchReader (or an object with __arrow_c_stream__, such as a Polars DataFrame)",
            ));
        }
    };
    let schema = reader.schema();
    let mut run = BatchDeid::new(&policy.inner, &keys.secret, &schema, scan).map_err(err)?;
    if let Some(counts) = &_counts {
        run.seed_counts(counts);
    }
    if run.risk().is_some() {
        return Err(AirlockError::new_err(
            "this policy's [risk] block generalizes over every row before the first is written: pass a pyarrow.Table rather than a stream",
        ));
    }
    if run.needs_first_pass() {
        return Err(AirlockError::new_err(
            "this policy counts values or gathers each patient's identifiers across rows (suppress_rare, or free text with a patient column): it needs two passes, so pass a pyarrow.Table rather than a stream",
        ));
    }
    let stream = DeidStream {
        schema: run.output_schema(),
        input: Box::new(reader),
        run,
        max_findings,
        done: false,
    };
    let boxed: Box<dyn RecordBatchReader + Send> = Box::new(stream);
    Ok(boxed.into_pyarrow(py)?.unbind())
}

/// The message of a `[risk]` block that no generalization meets.
fn no_solution(lattice_size: usize, suppression_limit: u64) -> String {
    format!(
        "the policy's [risk] block cannot be met: none of the {lattice_size} generalizations meets its criteria with at most {suppression_limit} records suppressed; nothing is returned"
    )
}

/// `schema` with the `[risk]` step's record (counts, levels and ratios: no value) in its
/// metadata under `airlock.risk`.
fn with_risk_record(schema: &SchemaRef, record: Option<&RiskRecord>) -> SchemaRef {
    let Some(record) = record.and_then(|r| serde_json::to_string(r).ok()) else {
        return schema.clone();
    };
    let mut metadata = schema.metadata().clone();
    metadata.insert("airlock.risk".to_owned(), record);
    std::sync::Arc::new(schema.as_ref().clone().with_metadata(metadata))
}

/// `suppress_rare` counts from elsewhere: column, value, count.
type Counts = std::collections::HashMap<String, std::collections::HashMap<String, u64>>;

fn plan_for(policy: &Policy, schema: &arrow_schema::Schema) -> PyResult<BatchDeid> {
    // a plan's shape does not depend on the key
    let secret = WorkspaceSecret::from_bytes([0; 32]);
    BatchDeid::new(&policy.inner, &secret, schema, false).map_err(err)
}

/// What `airlock.spark` needs to know of a policy's plan for a schema.
#[pyfunction]
fn _plan_info(
    py: Python<'_>,
    policy: &Policy,
    schema: PyArrowType<arrow_schema::Schema>,
) -> PyResult<Py<PyAny>> {
    let run = plan_for(policy, &schema.0)?;
    let rare = run.rare_columns();
    let patient = run.patient_memory_column();
    let info = serde_json::json!({
        "risk": run.risk().is_some(),
        "risk_qis": run.risk().map(|r| r.qis().to_vec()).unwrap_or_default(),
        "risk_sensitive": run.risk().and_then(|r| r.sensitive()),
        "rare_columns": rare.iter().map(|(c, _)| c).collect::<Vec<_>>(),
        "min_k": rare.iter().map(|(_, k)| *k).min().unwrap_or(0),
        "patient_memory": patient.is_some(),
        "patient_column": patient,
    });
    to_python(py, &info)
}

/// A table's `suppress_rare` counts under `policy`: a table of (column, value, count).
#[pyfunction]
fn _value_counts(py: Python<'_>, table: &Bound<'_, PyAny>, policy: &Policy) -> PyResult<Py<PyAny>> {
    let (batches, schema) = arrow_pyarrow::Table::from_pyarrow_bound(table)?.into_inner();
    let mut run = plan_for(policy, &schema)?;
    let counts = py
        .detach(|| -> Result<_, String> {
            for b in &batches {
                run.observe(b).map_err(|e| e.to_string())?;
            }
            Ok(run.value_counts())
        })
        .map_err(err)?;
    counts_table(py, "value", counts)
}

/// Rows of (column, `what`, count) as a pyarrow RecordBatch.
fn counts_table(
    py: Python<'_>,
    what: &str,
    rows: Vec<(String, String, u64)>,
) -> PyResult<Py<PyAny>> {
    let columns: Vec<&str> = rows.iter().map(|(c, _, _)| c.as_str()).collect();
    let second: Vec<&str> = rows.iter().map(|(_, v, _)| v.as_str()).collect();
    let n: Vec<i64> = rows.iter().map(|(_, _, n)| *n as i64).collect();
    let batch = RecordBatch::try_from_iter([
        (
            "column",
            std::sync::Arc::new(arrow_array::StringArray::from(columns)) as _,
        ),
        (
            what,
            std::sync::Arc::new(arrow_array::StringArray::from(second)) as _,
        ),
        (
            "count",
            std::sync::Arc::new(arrow_array::Int64Array::from(n)) as _,
        ),
    ])
    .map_err(err)?;
    Ok(batch.into_pyarrow(py)?.unbind())
}

fn risk_step(policy: &Policy) -> PyResult<RiskStep> {
    RiskStep::of_policy(&policy.inner)
        .ok_or_else(|| AirlockError::new_err("the policy has no [risk] block"))
}

/// The `[risk]` block's counts of a de-identified table: columns `q0`.. (each QI's value),
/// `sensitive` (when the block names one) and `count`, a row per distinct combination.
#[pyfunction]
fn _risk_counts(py: Python<'_>, table: &Bound<'_, PyAny>, policy: &Policy) -> PyResult<Py<PyAny>> {
    let (batches, schema) = arrow_pyarrow::Table::from_pyarrow_bound(table)?.into_inner();
    let step = risk_step(policy)?;
    let batch = py
        .detach(|| -> Result<RecordBatch, String> {
            let mut h = step.histogram(Path::new("<spark partition>"));
            for b in &batches {
                h.add_batch(&schema, b).map_err(|e| e.to_string())?;
            }
            let q = h.qis().len();
            let mut values: Vec<Vec<&str>> = vec![Vec::new(); q];
            let mut sensitive = Vec::new();
            let mut counts = Vec::new();
            for (v, s, n) in h.entries() {
                for (column, value) in values.iter_mut().zip(v) {
                    column.push(value);
                }
                sensitive.extend(s);
                counts.push(n as i64);
            }
            let mut columns: Vec<(String, arrow_array::ArrayRef)> = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("q{i}"), string_array(v)))
                .collect();
            if h.sensitive().is_some() {
                columns.push(("sensitive".into(), string_array(sensitive)));
            }
            columns.push((
                "count".into(),
                std::sync::Arc::new(arrow_array::Int64Array::from(counts)),
            ));
            RecordBatch::try_from_iter(columns).map_err(|e| e.to_string())
        })
        .map_err(err)?;
    Ok(batch.into_pyarrow(py)?.unbind())
}

fn string_array(values: Vec<&str>) -> arrow_array::ArrayRef {
    std::sync::Arc::new(arrow_array::StringArray::from(values))
}

/// Text column `name` of a counts or recoding table.
fn text_column<'a>(batch: &'a RecordBatch, name: &str) -> PyResult<&'a arrow_array::StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
        .ok_or_else(|| AirlockError::new_err(format!("the table has no text column \"{name}\"")))
}

/// The `[risk]` block's search on counts summed over every partition (`_risk_counts`'
/// columns): the step's record, and the recoding (`v0`.., the values; `g0`.., what they
/// become) every partition applies with `_risk_apply`.
#[pyfunction]
fn _risk_solve(
    py: Python<'_>,
    policy: &Policy,
    counts: &Bound<'_, PyAny>,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let step = risk_step(policy)?;
    let (batches, _) = arrow_pyarrow::Table::from_pyarrow_bound(counts)?.into_inner();
    let q = step.qis().len();
    let mut h = step.histogram(Path::new("<spark counts>"));
    for b in &batches {
        let values: Vec<&arrow_array::StringArray> = (0..q)
            .map(|i| text_column(b, &format!("q{i}")))
            .collect::<PyResult<_>>()?;
        let sensitive = match step.sensitive() {
            Some(_) => Some(text_column(b, "sensitive")?),
            None => None,
        };
        let count = b
            .column_by_name("count")
            .and_then(|c| c.as_any().downcast_ref::<arrow_array::Int64Array>())
            .ok_or_else(|| AirlockError::new_err("the counts have no integer column \"count\""))?;
        let mut row = Vec::with_capacity(q);
        for r in 0..b.num_rows() {
            row.clear();
            for v in &values {
                if arrow_array::Array::is_null(*v, r) {
                    return Err(AirlockError::new_err(
                        "a quasi-identifier of the [risk] block is empty in some row; quasi-identifiers need a value in every row",
                    ));
                }
                row.push(v.value(r));
            }
            let n = u64::try_from(count.value(r))
                .map_err(|_| AirlockError::new_err("a count is negative"))?;
            h.add(&row, sensitive.map(|s| s.value(r)), n).map_err(err)?;
        }
    }
    let solution = py.detach(|| step.solve(h)).map_err(err)?;
    let (record, recoding) = match solution {
        Solution::Found {
            record,
            result: recoding,
            ..
        } => (record, recoding),
        Solution::NoSolution {
            lattice_size,
            suppression_limit,
            ..
        } => return Err(err(no_solution(lattice_size, suppression_limit))),
    };
    let mut originals: Vec<Vec<&str>> = vec![Vec::new(); q];
    let mut labels: Vec<Vec<&str>> = vec![Vec::new(); q];
    for (v, g) in recoding.entries() {
        for (i, (v, g)) in v.into_iter().zip(g).enumerate() {
            originals[i].push(v);
            labels[i].push(g);
        }
    }
    let columns: Vec<(String, arrow_array::ArrayRef)> = originals
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("v{i}"), string_array(v)))
        .chain(
            labels
                .into_iter()
                .enumerate()
                .map(|(i, g)| (format!("g{i}"), string_array(g))),
        )
        .collect();
    let batch = RecordBatch::try_from_iter(columns).map_err(err)?;
    Ok((to_python(py, &record)?, batch.into_pyarrow(py)?.unbind()))
}

/// A de-identified table (a Spark partition) recoded by `_risk_solve`'s recoding.
#[pyfunction]
fn _risk_apply(
    py: Python<'_>,
    table: &Bound<'_, PyAny>,
    policy: &Policy,
    recoding: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let step = risk_step(policy)?;
    let (batches, schema) = arrow_pyarrow::Table::from_pyarrow_bound(table)?.into_inner();
    let (parts, _) = arrow_pyarrow::Table::from_pyarrow_bound(recoding)?.into_inner();
    let q = step.qis().len();
    let mut rec = Recoding::new(step.qis());
    for b in &parts {
        let v: Vec<&arrow_array::StringArray> = (0..q)
            .map(|i| text_column(b, &format!("v{i}")))
            .collect::<PyResult<_>>()?;
        let g: Vec<&arrow_array::StringArray> = (0..q)
            .map(|i| text_column(b, &format!("g{i}")))
            .collect::<PyResult<_>>()?;
        for r in 0..b.num_rows() {
            let values: Vec<&str> = v.iter().map(|a| a.value(r)).collect();
            let labels: Vec<&str> = g.iter().map(|a| a.value(r)).collect();
            rec.insert(&values, &labels).map_err(err)?;
        }
    }
    let out_schema = rec.output_schema(&schema).map_err(err)?;
    let out = py
        .detach(|| rec.apply_all(&batches, &out_schema, Path::new("<spark partition>")))
        .map_err(err)?;
    let table = arrow_pyarrow::Table::try_new(out, out_schema).map_err(err)?;
    Ok(table.into_pyarrow(py)?.unbind())
}

/// The residual scan of every text column of a table: (column, kind, count), no value.
#[pyfunction]
#[pyo3(signature = (table, mode = "strict"))]
fn _scan_table(py: Python<'_>, table: &Bound<'_, PyAny>, mode: &str) -> PyResult<Py<PyAny>> {
    let (batches, schema) = arrow_pyarrow::Table::from_pyarrow_bound(table)?.into_inner();
    let engine = TextEngine::without_key().with_mode(mode_of(mode)?);
    let findings = py.detach(|| {
        let mut findings = airlock_core::manifest::Findings::default();
        for b in &batches {
            for (i, f) in schema.fields().iter().enumerate() {
                if let Some(text) = b
                    .column(i)
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                {
                    airlock_deid::engine::scan_column(
                        &engine,
                        text,
                        f.name(),
                        airlock_deid::engine::Scan::All,
                        &[],
                        &Default::default(),
                        &mut findings,
                    );
                }
            }
        }
        findings
    });
    let rows = findings
        .by_column
        .iter()
        .flat_map(|(c, by_kind)| {
            by_kind
                .iter()
                .map(move |(k, n)| (c.clone(), k.tag().to_owned(), *n))
        })
        .collect();
    counts_table(py, "kind", rows)
}

/// The schema `deid` returns for input of `schema` under `policy` (dropped columns gone,
/// transformed ones as text, the `[risk]` block's quasi-identifiers as text).
#[pyfunction]
fn output_schema(
    py: Python<'_>,
    schema: PyArrowType<arrow_schema::Schema>,
    policy: &Policy,
) -> PyResult<Py<PyAny>> {
    let schema = std::sync::Arc::new(schema.0);
    let run = plan_for(policy, &schema)?;
    Ok(
        PyArrowType(run.final_schema().map_err(err)?.as_ref().clone())
            .into_pyobject(py)?
            .unbind(),
    )
}

fn texts(text: &Bound<'_, PyAny>) -> PyResult<(Vec<String>, bool)> {
    if let Ok(s) = text.cast::<PyString>() {
        return Ok((vec![s.extract::<String>()?], true));
    }
    if let Ok(list) = text.cast::<PyList>() {
        let v: Vec<String> = list
            .iter()
            .map(|i| i.extract::<String>())
            .collect::<PyResult<_>>()
            .map_err(|_| PyTypeError::new_err("a list of texts holds strings only"))?;
        return Ok((v, false));
    }
    Err(PyTypeError::new_err("text is a str or a list of str"))
}

fn known_values(
    known: Option<BTreeMap<String, Vec<String>>>,
) -> PyResult<Vec<(airlock_core::phi::Kind, String)>> {
    match known {
        None => Ok(Vec::new()),
        Some(map) => {
            let json = serde_json::to_string(&map).unwrap_or_default();
            airlock_text::known::parse_known(&json)
                .map_err(|why| AirlockError::new_err(format!("known: {why}")))
        }
    }
}

fn scrub_all(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    engine: &TextEngine,
    mode: TextMode,
    known: Option<BTreeMap<String, Vec<String>>>,
    patient: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let (items, single) = texts(text)?;
    let known = known_values(known)?;
    let known: Vec<(airlock_core::phi::Kind, &str)> =
        known.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out: Vec<String> = py.detach(|| {
        let ctx = TextContext {
            patient,
            date_shift_days: None,
            known: &known,
            prepared: None,
        };
        items
            .iter()
            .map(|t| {
                let mut out = String::with_capacity(t.len() + t.len() / 8);
                engine.scrub(t, mode, &ctx, &mut out);
                out
            })
            .collect()
    });
    if single {
        Ok(out
            .into_iter()
            .next()
            .unwrap_or_default()
            .into_pyobject(py)?
            .into_any()
            .unbind())
    } else {
        Ok(out.into_pyobject(py)?.into_any().unbind())
    }
}

fn mode_of(mode: &str) -> PyResult<DetectionMode> {
    match mode {
        "strict" => Ok(DetectionMode::Strict),
        "balanced" => Ok(DetectionMode::Balanced),
        _ => Err(PyValueError::new_err("mode is \"strict\" or \"balanced\"")),
    }
}

/// Replaces the identifiers in `text` (a str or a list of str) by their kind (`[NAME]`,
/// `[DATE]`...). `known`: values this record is known to hold, by kind (`{"name": [...],
/// "mrn": [...]}`), found in their easy forms too.
#[pyfunction]
#[pyo3(signature = (text, *, known = None, mode = "strict"))]
fn text_redact(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    known: Option<BTreeMap<String, Vec<String>>>,
    mode: &str,
) -> PyResult<Py<PyAny>> {
    let engine = TextEngine::without_key().with_mode(mode_of(mode)?);
    scrub_all(py, text, &engine, TextMode::Redact, known, None)
}

/// Replaces the identifiers in `text` by realistic surrogates keyed by `keys` (the same value
/// always gets the same surrogate; dates move by the patient's shift when `patient` is given).
#[pyfunction]
#[pyo3(signature = (text, keys, *, known = None, patient = None, mode = "strict", date_shift_days = 365))]
fn text_surrogate(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    keys: &Keys,
    known: Option<BTreeMap<String, Vec<String>>>,
    patient: Option<&str>,
    mode: &str,
    date_shift_days: u32,
) -> PyResult<Py<PyAny>> {
    let range =
        airlock_core::clock::ShiftRange::new(date_shift_days, "date_shift_days").map_err(err)?;
    let engine = TextEngine::for_workspace(&keys.secret, range).with_mode(mode_of(mode)?);
    scrub_all(py, text, &engine, TextMode::Surrogate, known, patient)
}

fn to_python(py: Python<'_>, value: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value).map_err(err)?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// The residual-PHI scan of `airlock scan` over files (tables, text, FHIR, DICOM): findings
/// by file and kind, with locations (row and column, never the value).
#[pyfunction]
#[pyo3(signature = (paths, *, mode = "strict"))]
fn scan(py: Python<'_>, paths: Vec<PathBuf>, mode: &str) -> PyResult<Py<PyAny>> {
    let engine = TextEngine::without_key().with_mode(mode_of(mode)?);
    let report = py
        .detach(|| airlock_text::scan::scan_paths(&paths, &engine))
        .map_err(err)?;
    to_python(py, &report)
}

/// Re-identification risk of `table` (a pyarrow.Table) over its quasi-identifiers `qi`, as
/// `airlock risk` reports it: k, uniques, prosecutor risk, and l and t of `sensitive`.
#[pyfunction]
#[pyo3(signature = (table, *, qi, sensitive = None, threshold = 0.2))]
fn risk(
    py: Python<'_>,
    table: &Bound<'_, PyAny>,
    qi: Vec<String>,
    sensitive: Option<String>,
    threshold: f64,
) -> PyResult<Py<PyAny>> {
    let (batches, schema) = arrow_pyarrow::Table::from_pyarrow_bound(table)?.into_inner();
    let summary = py
        .detach(|| -> Result<_, String> {
            let ds = airlock_risk::Dataset::from_batches(
                &schema,
                batches.iter().map(Ok::<_, airlock_core::Error>),
                &qi,
                &Default::default(),
                sensitive.as_deref(),
                Path::new("<table>"),
            )
            .map_err(|e| e.to_string())?;
            let bottom = airlock_risk::classes::bottom(&ds).map_err(|e| e.to_string())?;
            let dist = airlock_risk::metrics::distribution(&bottom);
            Ok(airlock_risk::metrics::summarize_dataset(
                &ds,
                &bottom,
                &[],
                &dist,
                threshold,
            ))
        })
        .map_err(err)?;
    to_python(py, &summary)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AirlockError", m.py().get_type::<AirlockError>())?;
    m.add("FindingsError", m.py().get_type::<FindingsError>())?;
    m.add_class::<Policy>()?;
    m.add_class::<Keys>()?;
    m.add_function(wrap_pyfunction!(deid, m)?)?;
    m.add_function(wrap_pyfunction!(output_schema, m)?)?;
    m.add_function(wrap_pyfunction!(text_redact, m)?)?;
    m.add_function(wrap_pyfunction!(text_surrogate, m)?)?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(risk, m)?)?;
    m.add_function(wrap_pyfunction!(_plan_info, m)?)?;
    m.add_function(wrap_pyfunction!(_value_counts, m)?)?;
    m.add_function(wrap_pyfunction!(_scan_table, m)?)?;
    m.add_function(wrap_pyfunction!(_risk_counts, m)?)?;
    m.add_function(wrap_pyfunction!(_risk_solve, m)?)?;
    m.add_function(wrap_pyfunction!(_risk_apply, m)?)?;
    Ok(())
}
