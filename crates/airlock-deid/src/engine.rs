//! The streaming de-identification engine: input batches, a compiled plan of one kernel per
//! column, output batches, a residual scan, and a manifest.
//!
//! The plan is compiled once from the policy and the input's schema; unclassified columns stop
//! the run before any output exists (fail closed). Output goes to a temporary file that is
//! renamed over the target only after the last batch, the footer and the sync succeeded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field as ArrowField, Schema, SchemaRef};

use airlock_core::error::{Error, Result};
use airlock_core::keys::{Purpose, PurposeKey, WorkspaceSecret};
use airlock_core::manifest::{
    ColumnRecord, FileRecord, Findings, Manifest, PolicyRecord, Timing, Tool, now_rfc3339,
};
use airlock_core::output::AtomicOutput;
use airlock_core::phi::Kind;
use airlock_core::policy::{Action, ActionKind, Field, FieldClass, Policy, Unclassified};
use airlock_core::table::{Format, ReadOptions, TableReader, TableWriter};
use airlock_core::text::{PreparedKnown, TextMode, TextScrubber};

use crate::dates::{DateParser, DateShifter, ShiftRange};
use crate::token::Tokenizer;
use crate::transform::{ColumnStats, Kernel, Rows, as_text};

/// One de-identification run: where from, where to, how.
#[derive(Debug, Clone)]
pub struct DeidJob {
    pub input: PathBuf,
    pub input_format: Format,
    pub output: PathBuf,
    pub output_format: Format,
    /// Replace an existing output.
    pub force: bool,
    /// Batch size, header mode and limits of the input reader.
    pub read: ReadOptions,
    /// Scan kept and free-text output columns for residual identifiers.
    pub scan: bool,
    /// Write `OUTPUT.manifest.json` (a caller that post-processes the output writes its own).
    pub write_manifest: bool,
    /// Threads that transform batches (the reader and writer run on the calling thread;
    /// output order is the input order whatever this is).
    pub threads: usize,
}

impl DeidJob {
    /// A job from `input` to `output` with the defaults: no overwrite, the default reader,
    /// residual scan on, manifest written, one transform thread per core.
    pub fn new(
        input: impl Into<PathBuf>,
        input_format: Format,
        output: impl Into<PathBuf>,
        output_format: Format,
    ) -> Self {
        Self {
            input: input.into(),
            input_format,
            output: output.into(),
            output_format,
            force: false,
            read: ReadOptions::default(),
            scan: true,
            write_manifest: true,
            threads: default_threads(),
        }
    }
}

/// What a finished run reports to its caller.
#[derive(Debug, Clone)]
pub struct DeidReport {
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    /// Policy fields that the input does not have (a stale policy, or a typo).
    pub unused_fields: Vec<String>,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub rows: u64,
    pub input_bytes: u64,
}

/// How a column's output is scanned for residual identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The action wrote the values itself (tokens, shifted dates, ZIP3): nothing to scan.
    No,
    /// Values passed through (keep, suppress_rare) or were redacted: every kind counts.
    All,
    /// Surrogate output: skip the kinds whose surrogates look real.
    SkipOpaque,
}

/// Which residual scan an action's output gets.
pub fn scan_scope(action: &Action) -> Scan {
    match action.kind() {
        ActionKind::Keep | ActionKind::SuppressRare | ActionKind::TextRedact => Scan::All,
        ActionKind::TextSurrogate => Scan::SkipOpaque,
        _ => Scan::No,
    }
}

struct ColumnPlan {
    index: usize,
    name: String,
    field: Field,
    kernel: Option<Kernel>,
    scan: Scan,
    stats: ColumnStats,
    /// The policy's vouched values: cells holding exactly one are not scanned.
    safe: rustc_hash::FxHashSet<String>,
}

/// The compiled plan for one input schema.
pub struct Plan {
    columns: Vec<ColumnPlan>,
    output_schema: SchemaRef,
    patient_index: Option<usize>,
    needs_offsets: bool,
    shifter: DateShifter,
    dates: DateParser,
    unused_fields: Vec<String>,
    /// The identifying columns whose values are looked for in the same row's free text, with
    /// the kind of identifier each holds (empty when no column is free text).
    known_columns: Vec<(usize, Kind)>,
    /// The `suppress_rare` counts were given whole ([`Plan::seed_counts`]): the first pass
    /// counts nothing more.
    counts_seeded: bool,
    /// Every identifying value of each patient, gathered by a first pass over the input when
    /// free text is scrubbed and the policy names the patient column, so that a note is
    /// scrubbed of what any row of its patient says. Held in memory for the run only: never
    /// written, logged or counted by value.
    memory: Option<PatientMemory>,
}

/// The identifying values of each patient of one run (see [`Plan::observe`]).
#[derive(Default)]
pub struct PatientMemory {
    /// Each value with a hash of it (kind and text), so that a repeated value is told from
    /// the patient's others without reading them.
    by_patient: HashMap<String, Vec<Remembered>>,
    /// The values of each patient compiled once by the scrubber ([`Plan::prepare`]): every
    /// row of a patient searches the same ones.
    prepared: HashMap<String, PreparedKnown>,
}

/// One value of a patient: (hash of the kind and the value, kind, value).
type Remembered = (u64, Kind, String);

/// Most distinct values remembered for one patient: a patient column that is not one (every
/// row "unknown") must not make every note search thousands of values.
const MEMORY_PER_PATIENT: usize = 64;

impl PatientMemory {
    /// Remembers one row's values of `patient` (its entry looked up once for all of them).
    /// Blank values are no values: a patient whose rows say nothing has no entry.
    fn remember_row(&mut self, patient: &str, row: &[(Kind, &str)]) {
        if row.iter().all(|(_, v)| v.trim().is_empty()) {
            return;
        }
        let values = match self.by_patient.get_mut(patient) {
            Some(v) => v,
            None => self.by_patient.entry(patient.to_owned()).or_default(),
        };
        for &(kind, value) in row {
            if value.trim().is_empty() {
                continue;
            }
            let hash = {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                kind.hash(&mut h);
                value.hash(&mut h);
                h.finish()
            };
            if values.len() < MEMORY_PER_PATIENT
                && !values
                    .iter()
                    .any(|(h, k, v)| *h == hash && *k == kind && v == value)
            {
                values.push((hash, kind, value.to_owned()));
            }
        }
    }

    /// What the run's rows say about `patient`.
    pub fn of(&self, patient: &str) -> impl Iterator<Item = (Kind, &str)> {
        self.by_patient
            .get(patient)
            .into_iter()
            .flatten()
            .map(|(_, k, v)| (*k, v.as_str()))
    }

    /// The patient's values compiled by the scrubber: all of its rows' values, so a row of it
    /// needs nothing else. `None` for a patient with more values than are remembered.
    pub fn prepared(&self, patient: &str) -> Option<&PreparedKnown> {
        self.prepared.get(patient)
    }
}

/// The kind of identifier an identifying column holds, from its name; `None` for columns
/// whose values are no use to look for in text (ages, dates, demographics, short codes).
fn known_kind(name: &str, field: &Field, is_patient_id: bool) -> Option<Kind> {
    match crate::profile::identifier_kind(name, is_patient_id) {
        Some(Kind::Age) => None,
        Some(kind) => Some(kind),
        None => {
            let h = crate::profile::hints(name);
            if h.birth {
                // looked for in the note's other date layouts ("DOB 3/4/1950")
                return Some(Kind::Date);
            }
            let direct = field.class == FieldClass::DirectIdentifier;
            (direct && !(h.birth || h.date || h.demographic)).then_some(Kind::Id)
        }
    }
}

/// The workspace's purpose keys that a run uses.
pub struct RunKeys {
    pub tokenize: PurposeKey,
    pub date_shift: PurposeKey,
}

impl RunKeys {
    pub fn derive(secret: &WorkspaceSecret) -> Self {
        Self {
            tokenize: secret.derive(Purpose::Tokenize),
            date_shift: secret.derive(Purpose::DateShift),
        }
    }
}

const OFFSET_CACHE_LIMIT: usize = 200_000;

impl Plan {
    /// Compiles `policy` against an input schema. Fails on unclassified columns (unless the
    /// policy drops them), a missing patient column, or a type an action cannot handle.
    pub fn compile(
        policy: &Policy,
        schema: &Schema,
        input: &Path,
        keys: &RunKeys,
        scan: bool,
    ) -> Result<Self> {
        let mut unclassified = Vec::new();
        let mut columns = Vec::new();
        let age_top = crate::transform::age_top_year(
            policy
                .reference_year
                .unwrap_or_else(|| chrono::Datelike::year(&chrono::Utc::now())),
        );
        for (index, f) in schema.fields().iter().enumerate() {
            let name = f.name().clone();
            let field = match policy.fields.get(&name) {
                Some(field) => field.clone(),
                None if policy.unclassified == Unclassified::Drop => Field {
                    class: FieldClass::DirectIdentifier,
                    action: Action::Drop,
                    hierarchy: None,
                    safe_values: Vec::new(),
                },
                None => {
                    unclassified.push((index + 1, name));
                    continue;
                }
            };
            let tokenizer = match &field.action {
                // the dataset's patient column shares the patient namespace with FHIR and
                // DICOM; every other column is its own namespace unless the policy names one
                Action::Tokenize(t) => Some(Tokenizer::new(
                    &keys.tokenize,
                    t.namespace.as_deref().unwrap_or(
                        if policy.patient_id.as_deref() == Some(name.as_str()) {
                            crate::token::PATIENT_NAMESPACE
                        } else {
                            &name
                        },
                    ),
                    t,
                )),
                _ => None,
            };
            let kernel = Kernel::for_action(&field.action, tokenizer, age_top);
            if let Some(k) = &kernel {
                k.check_type(&name, f.data_type())?;
            }
            let is_text = matches!(
                f.data_type(),
                arrow_schema::DataType::Utf8
                    | arrow_schema::DataType::LargeUtf8
                    | arrow_schema::DataType::Utf8View
            );
            let scan = match scan_scope(&field.action) {
                Scan::All if !is_text && field.action.kind() != ActionKind::TextRedact => Scan::No,
                _ if !scan => Scan::No,
                scope => scope,
            };
            columns.push(ColumnPlan {
                index,
                name,
                safe: field.safe_values.iter().cloned().collect(),
                field,
                kernel,
                scan,
                stats: ColumnStats::default(),
            });
        }
        if !unclassified.is_empty() {
            return Err(Error::Unclassified {
                file: input.to_path_buf(),
                policy: policy.path.clone(),
                columns: unclassified,
            });
        }
        let needs_offsets = columns.iter().any(|c| {
            matches!(
                c.kernel,
                Some(Kernel::DateShift) | Some(Kernel::Text(TextMode::Surrogate))
            )
        });
        let patient_index = match &policy.patient_id {
            Some(pid) => match schema.index_of(pid) {
                Ok(i) => Some(i),
                Err(_) if needs_offsets => {
                    return Err(Error::MissingColumn {
                        file: input.to_path_buf(),
                        policy: policy.path.clone(),
                        column: pid.clone(),
                        why: "dataset.patient_id, needed by date_shift and text_surrogate",
                    });
                }
                Err(_) => None,
            },
            None => None,
        };
        if needs_offsets && patient_index.is_none() {
            return Err(Error::PolicyInvalid {
                path: policy.path.clone(),
                line: None,
                message: format!(
                    "fields.{} needs a patient column for a consistent per-patient shift; set dataset.patient_id",
                    policy.needs_patient_id().unwrap_or("?")
                ),
            });
        }
        let output_fields: Vec<ArrowField> = columns
            .iter()
            .filter_map(|c| {
                let kernel = c.kernel.as_ref()?;
                let input = schema.field(c.index);
                Some(ArrowField::new(
                    &c.name,
                    kernel.output_type(input.data_type()),
                    true,
                ))
            })
            .collect();
        let unused_fields = policy
            .fields
            .keys()
            .filter(|k| schema.index_of(k).is_err())
            .cloned()
            .collect();
        // record-aware text: the row's identifiers, looked for in its own notes
        let has_text = columns.iter().any(|c| {
            matches!(
                c.field.action.kind(),
                ActionKind::TextRedact | ActionKind::TextSurrogate
            )
        });
        let known_columns = if has_text {
            columns
                .iter()
                .filter(|c| {
                    matches!(
                        c.field.class,
                        FieldClass::DirectIdentifier | FieldClass::QuasiIdentifier
                    )
                })
                .filter_map(|c| {
                    let pid = policy.patient_id.as_deref() == Some(c.name.as_str());
                    known_kind(&c.name, &c.field, pid).map(|k| (c.index, k))
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            columns,
            output_schema: Arc::new(Schema::new(output_fields)),
            patient_index,
            needs_offsets,
            shifter: DateShifter::new(
                keys.date_shift.clone(),
                ShiftRange::new(policy.date_shift_days, "defaults.date_shift_days")?,
            ),
            dates: DateParser::new(),
            unused_fields,
            counts_seeded: false,
            memory: (patient_index.is_some() && !known_columns.is_empty())
                .then(PatientMemory::default),
            known_columns,
        })
    }

    fn input_column_name<'b>(&self, batch: &'b RecordBatch, index: usize) -> &'b str {
        batch.schema_ref().field(index).name()
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// True if the plan needs a first pass over the whole input: counts for `suppress_rare`,
    /// or the patients' identifying values for record-aware free text.
    pub fn needs_first_pass(&self) -> bool {
        self.memory.is_some() || (!self.counts_seeded && !self.rare_columns().is_empty())
    }

    /// The columns the first pass reads ([`Plan::observe`]): the patient's, the identifying
    /// ones remembered for the patient's notes, and those whose values `suppress_rare` counts.
    pub fn first_pass_columns(&self) -> Vec<usize> {
        let mut columns: Vec<usize> = self.patient_index.into_iter().collect();
        if self.memory.is_some() {
            columns.extend(self.known_columns.iter().map(|&(i, _)| i));
        }
        if !self.counts_seeded {
            columns.extend(
                self.columns
                    .iter()
                    .filter(|c| matches!(c.kernel, Some(Kernel::SuppressRare { .. })))
                    .map(|c| c.index),
            );
        }
        columns
    }

    /// The `suppress_rare` columns and their `k`.
    pub fn rare_columns(&self) -> Vec<(String, u32)> {
        self.columns
            .iter()
            .filter_map(|c| match &c.kernel {
                Some(Kernel::SuppressRare { k, .. }) => Some((c.name.clone(), *k)),
                _ => None,
            })
            .collect()
    }

    /// The patient column, when free text is searched for what each patient's other rows say
    /// (every row of a patient must then be seen by the same plan).
    pub fn patient_memory_column(&self) -> Option<String> {
        let p = self.patient_index?;
        self.memory.as_ref()?;
        self.output_schema_input_name(p)
    }

    fn output_schema_input_name(&self, index: usize) -> Option<String> {
        self.columns
            .iter()
            .find(|c| c.index == index)
            .map(|c| c.name.clone())
    }

    /// The `suppress_rare` counts observed so far: (column, value, count), in no order.
    pub fn value_counts(&self) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        for c in &self.columns {
            if let Some(Kernel::SuppressRare { counts, .. }) = &c.kernel {
                out.extend(counts.iter().map(|(v, n)| (c.name.clone(), v.clone(), *n)));
            }
        }
        out
    }

    /// Sets each `suppress_rare` column's counts from elsewhere (the whole table's, counted
    /// where its rows are); the first pass then counts nothing more. A value not given counts
    /// 0, and is suppressed.
    pub fn seed_counts(&mut self, counts: &HashMap<String, HashMap<String, u64>>) {
        for c in &mut self.columns {
            if let Some(Kernel::SuppressRare { counts: mine, .. }) = &mut c.kernel {
                *mine = counts.get(&c.name).cloned().unwrap_or_default();
            }
        }
        self.counts_seeded = true;
    }

    /// The names of the output's scanned columns.
    pub fn scanned_column_names(&self) -> Vec<String> {
        self.scanned_columns()
    }

    /// First pass: feeds a batch to the counting kernels and to the patients' memory.
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        if !self.counts_seeded {
            for c in &mut self.columns {
                if let Some(k) = &mut c.kernel {
                    k.observe(&c.name, batch.column(c.index))?;
                }
            }
        }
        if let (Some(memory), Some(p)) = (&mut self.memory, self.patient_index) {
            let patients = as_text(
                batch.schema_ref().field(p).name(),
                "date_shift",
                batch.column(p),
            )?;
            let columns = self
                .known_columns
                .iter()
                .map(|&(i, kind)| {
                    let name = batch.schema_ref().field(i).name();
                    Ok((kind, as_text(name, "text_redact", batch.column(i))?))
                })
                .collect::<Result<Vec<_>>>()?;
            // row by row, so that a patient is looked up once a row
            let mut row: Vec<(Kind, &str)> = Vec::with_capacity(columns.len());
            for (r, patient) in patients.iter().enumerate() {
                let Some(patient) = patient else {
                    continue;
                };
                row.clear();
                row.extend(
                    columns
                        .iter()
                        .filter(|(_, a)| a.is_valid(r))
                        .map(|(kind, a)| (*kind, a.value(r))),
                );
                memory.remember_row(patient, &row);
            }
        }
        Ok(())
    }

    /// After the first pass: compiles each patient's remembered values with `scrubber`, once,
    /// on `threads` threads.
    pub fn prepare(&mut self, scrubber: &dyn TextScrubber, threads: usize) {
        let Some(memory) = &mut self.memory else {
            return;
        };
        // (some value of a patient with too many may be missing: its rows add their own)
        let patients: Vec<(&String, &Vec<Remembered>)> = memory
            .by_patient
            .iter()
            .filter(|(_, known)| known.len() < MEMORY_PER_PATIENT)
            .collect();
        let compile = |chunk: &[(&String, &Vec<Remembered>)]| {
            let mut values: Vec<(Kind, &str)> = Vec::new();
            let mut out = Vec::with_capacity(chunk.len());
            for (patient, known) in chunk {
                values.clear();
                values.extend(known.iter().map(|(_, k, v)| (*k, v.as_str())));
                if let Some(p) = scrubber.prepare_known(&values) {
                    out.push(((*patient).clone(), p));
                }
            }
            out
        };
        let chunk = patients.len().div_ceil(threads.max(1)).max(1);
        let compiled: Vec<Vec<(String, PreparedKnown)>> = std::thread::scope(|s| {
            let workers: Vec<_> = patients
                .chunks(chunk)
                .map(|part| s.spawn(move || compile(part)))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        memory.prepared.reserve(compiled.iter().map(Vec::len).sum());
        memory.prepared.extend(compiled.into_iter().flatten());
        // a prepared patient's values are not needed in the clear any more
        let prepared = &memory.prepared;
        memory.by_patient.retain(|p, _| !prepared.contains_key(p));
    }

    /// De-identifies one batch. Takes `&self`, so batches can run on several threads; the
    /// per-batch counts come back in the [`BatchOutput`] and are added by [`Plan::absorb`].
    pub fn apply(
        &self,
        batch: &RecordBatch,
        scrubber: &dyn TextScrubber,
        cache: &mut OffsetCache,
    ) -> Result<BatchOutput> {
        let patients = match self.patient_index {
            Some(i) => Some(as_text(
                self.input_column_name(batch, i),
                "date_shift",
                batch.column(i),
            )?),
            None => None,
        };
        let offsets: Option<Vec<Option<i32>>> = match (&patients, self.needs_offsets) {
            (Some(p), true) => Some(
                p.iter()
                    .map(|v| v.map(|v| cache.offset(&self.shifter, v)))
                    .collect(),
            ),
            _ => None,
        };
        let known: Vec<(Kind, std::borrow::Cow<'_, StringArray>)> = self
            .known_columns
            .iter()
            .map(|&(i, kind)| {
                as_text(
                    self.input_column_name(batch, i),
                    "text_redact",
                    batch.column(i),
                )
                .map(|a| (kind, a))
            })
            .collect::<Result<_>>()?;
        let known: Vec<(Kind, &StringArray)> = known.iter().map(|(k, a)| (*k, &**a)).collect();
        let rows = Rows {
            patients: patients.as_deref(),
            offsets: offsets.as_deref(),
            scrubber,
            dates: &self.dates,
            known: &known,
            memory: self.memory.as_ref(),
        };
        let mut out: Vec<ArrayRef> = Vec::with_capacity(self.output_schema.fields().len());
        let mut stats = vec![ColumnStats::default(); self.columns.len()];
        let mut findings = Findings::default();
        let skip = scrubber.opaque_surrogate_kinds();
        for (c, stats) in self.columns.iter().zip(&mut stats) {
            let Some(kernel) = &c.kernel else {
                let dropped = batch.column(c.index);
                stats.cells += (dropped.len() - dropped.null_count()) as u64;
                continue;
            };
            let array = kernel.apply(&c.name, batch.column(c.index), &rows, stats)?;
            if c.scan != Scan::No
                && let Some(text) = arrow_array::cast::AsArray::as_string_opt::<i32>(&*array)
            {
                scan_column(
                    scrubber,
                    text,
                    &c.name,
                    c.scan,
                    skip,
                    &c.safe,
                    &mut findings,
                );
            }
            out.push(array);
        }
        let batch = RecordBatch::try_new_with_options(
            self.output_schema.clone(),
            out,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )
        .map_err(|_| Error::Write {
            path: PathBuf::from("<batch>"),
            reason: "output batch does not match the output schema".into(),
        })?;
        Ok(BatchOutput {
            batch,
            counts: BatchCounts { stats, findings },
        })
    }

    /// Adds one batch's counts to the run's.
    pub fn absorb(&mut self, out: &BatchCounts, findings: &mut Findings) {
        for (c, s) in self.columns.iter_mut().zip(&out.stats) {
            c.stats.cells += s.cells;
            c.stats.changed += s.changed;
            c.stats.nulled += s.nulled;
            c.stats.spans += s.spans;
        }
        findings.merge(&out.findings);
    }

    fn records(&self) -> Vec<ColumnRecord> {
        self.columns
            .iter()
            .map(|c| ColumnRecord {
                name: c.name.clone(),
                class: c.field.class.as_str().into(),
                action: c.field.action.kind().as_str().into(),
                rule: c.field.action.rule().map(|r| r.as_str().into()),
                in_output: c.kernel.is_some(),
                cells: c.stats.cells,
                changed: c.stats.changed,
                nulled: c.stats.nulled,
                spans_replaced: c.stats.spans,
                safe_values_sha256: c
                    .field
                    .safe_values
                    .iter()
                    .map(|v| airlock_core::policy::safe_value_digest(v))
                    .collect(),
            })
            .collect()
    }

    fn scanned_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| c.scan != Scan::No)
            .map(|c| c.name.clone())
            .collect()
    }
}

/// One batch's de-identified rows and counts.
pub struct BatchOutput {
    pub batch: RecordBatch,
    pub counts: BatchCounts,
}

/// What one batch did, per column, and what its residual scan found.
pub struct BatchCounts {
    stats: Vec<ColumnStats>,
    findings: Findings,
}

/// Per-thread cache of patient offsets (patients repeat across rows; an HMAC per row is not).
#[derive(Default)]
pub struct OffsetCache {
    map: HashMap<String, i32>,
}

impl OffsetCache {
    fn offset(&mut self, shifter: &DateShifter, patient: &str) -> i32 {
        if let Some(&d) = self.map.get(patient) {
            return d;
        }
        if self.map.len() >= OFFSET_CACHE_LIMIT {
            self.map.clear();
        }
        let d = shifter.offset(patient);
        self.map.insert(patient.to_owned(), d);
        d
    }
}

/// Counts the findings of one text column into `findings` (cells holding a vouched value
/// skipped).
pub fn scan_column(
    scrubber: &dyn TextScrubber,
    text: &StringArray,
    column: &str,
    mode: Scan,
    skip: &[Kind],
    safe: &rustc_hash::FxHashSet<String>,
    findings: &mut Findings,
) {
    for v in text.iter().flatten() {
        if safe.contains(v) {
            continue;
        }
        scrubber.scan(v, &mut |f| {
            if mode == Scan::SkipOpaque && skip.contains(&f.kind) {
                return;
            }
            findings.add(column, f.kind);
        });
    }
}

/// Transform threads to use by default: one per available core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs a job end to end: plan, (count pass), transform, write, commit, manifest.
pub fn run(
    job: &DeidJob,
    policy: &Policy,
    secret: &WorkspaceSecret,
    scrubber: &dyn TextScrubber,
    progress: &mut dyn FnMut(Progress),
) -> Result<DeidReport> {
    let started_at = now_rfc3339();
    let start = Instant::now();
    let keys = RunKeys::derive(secret);
    // The detector vets the column names before the plan can print or use them.
    let mut reader =
        TableReader::open_with(&job.input, job.input_format, &job.read, Some(scrubber))?;
    let mut plan = Plan::compile(policy, &reader.schema(), &job.input, &keys, job.scan)?;
    let manifest_path = Manifest::path_for(&job.output);
    // Fail before any work if either target exists.
    if job.write_manifest {
        Manifest::check_targets(&job.output, job.force)?;
    }
    let out = AtomicOutput::create(&job.output, job.force)?;
    if plan.needs_first_pass() {
        let mut first =
            TableReader::open_with(&job.input, job.input_format, &job.read, Some(scrubber))?;
        first.read_only(&plan.first_pass_columns());
        if job.threads > 1 {
            // one thread reads while this one remembers
            std::thread::scope(|s| -> Result<()> {
                let (tx, rx) = mpsc::sync_channel::<Result<RecordBatch>>(2);
                s.spawn(move || {
                    loop {
                        let next = first.next_batch().transpose();
                        let last = !matches!(next, Some(Ok(_)));
                        if next.is_none_or(|b| tx.send(b).is_err()) || last {
                            return;
                        }
                    }
                });
                for batch in rx {
                    plan.observe(&batch?)?;
                }
                Ok(())
            })?;
        } else {
            while let Some(batch) = first.next_batch()? {
                plan.observe(&batch)?;
            }
        }
        plan.prepare(scrubber, job.threads);
    }
    let mut writer = TableWriter::new(
        out.file()?,
        &job.output,
        job.output_format,
        plan.output_schema(),
    )?;
    let mut findings = Findings {
        scanner: if job.scan {
            scrubber.name().into()
        } else {
            "none".into()
        },
        scanned_columns: plan.scanned_columns(),
        ..Findings::default()
    };
    transform_all(
        &mut reader,
        &mut plan,
        scrubber,
        job.threads,
        &mut findings,
        &mut |out, reader| {
            writer.write(&out.batch)?;
            progress(Progress {
                rows: reader.rows(),
                input_bytes: reader.bytes_read(),
            });
            Ok(())
        },
    )?;
    let written = writer.finish()?;
    let (in_sha, in_bytes) = reader.digest();
    out.commit()?;
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let manifest = Manifest {
        manifest_version: airlock_core::manifest::MANIFEST_VERSION,
        tool: Tool::current(),
        command: "deid".into(),
        started_at,
        input: FileRecord {
            path: job.input.clone(),
            format: job.input_format.as_str().into(),
            sha256: in_sha,
            bytes: in_bytes,
            rows: reader.rows(),
        },
        output: FileRecord {
            path: job.output.clone(),
            format: job.output_format.as_str().into(),
            sha256: written.sha256,
            bytes: written.bytes,
            rows: written.rows,
        },
        policy: PolicyRecord {
            path: policy.path.clone(),
            sha256: policy.sha256.clone(),
            dataset: policy.dataset_name.clone(),
        },
        key_id: policy.needs_key().then(|| secret.key_id()),
        columns: plan.records(),
        findings,
        risk: None,
        timing: Timing {
            total_ms: elapsed.as_millis() as u64,
            rows_per_second: reader.rows() as f64 / secs,
            input_mb_per_second: in_bytes as f64 / 1e6 / secs,
        },
    };
    if job.write_manifest {
        manifest.write(&manifest_path, job.force)?;
    }
    Ok(DeidReport {
        manifest,
        manifest_path,
        unused_fields: plan.unused_fields,
    })
}

/// Reads every batch, transforms it on `threads` worker threads (in the calling thread when
/// 1), and hands the results to `sink` in input order. Memory holds at most a few batches per
/// thread. The first error stops the run.
fn transform_all(
    reader: &mut TableReader,
    plan: &mut Plan,
    scrubber: &dyn TextScrubber,
    threads: usize,
    findings: &mut Findings,
    sink: &mut dyn FnMut(&BatchOutput, &TableReader) -> Result<()>,
) -> Result<()> {
    if threads <= 1 {
        let mut cache = OffsetCache::default();
        while let Some(batch) = reader.next_batch()? {
            let out = plan.apply(&batch, scrubber, &mut cache)?;
            plan.absorb(&out.counts, findings);
            sink(&out, reader)?;
        }
        return Ok(());
    }
    let shared: &Plan = plan;
    let results: Vec<BatchCounts> = std::thread::scope(|scope| -> Result<Vec<BatchCounts>> {
        let (work_tx, work_rx) = mpsc::sync_channel::<(u64, RecordBatch)>(threads * 2);
        let (done_tx, done_rx) = mpsc::channel::<(u64, Result<BatchOutput>)>();
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..threads {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut cache = OffsetCache::default();
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, batch))) = next else { break };
                    // A panic answers its batch with an error, so the run stops with exit 2
                    // instead of waiting for an answer that never comes.
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        shared.apply(&batch, scrubber, &mut cache)
                    }));
                    let failed = out.is_err();
                    let out = out.unwrap_or(Err(Error::Internal {
                        place: "a transform worker",
                    }));
                    if done_tx.send((seq, out)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pending: BTreeMap<u64, BatchOutput> = BTreeMap::new();
        let mut outputs = Vec::new();
        let mut next_out = 0u64;
        let mut sent = 0u64;
        let mut deliver = |pending: &mut BTreeMap<u64, BatchOutput>,
                           outputs: &mut Vec<BatchCounts>,
                           next_out: &mut u64,
                           reader: &TableReader|
         -> Result<()> {
            while let Some(out) = pending.remove(next_out) {
                sink(&out, reader)?;
                outputs.push(out.counts);
                *next_out += 1;
            }
            Ok(())
        };
        let result = (|| -> Result<()> {
            while let Some(batch) = reader.next_batch()? {
                // Keep the number of batches in flight bounded.
                while sent - next_out >= (threads * 2) as u64 {
                    let (seq, out) = done_rx.recv().expect("workers outlive the queue");
                    pending.insert(seq, out?);
                    deliver(&mut pending, &mut outputs, &mut next_out, reader)?;
                }
                work_tx
                    .send((sent, batch))
                    .expect("workers outlive the queue");
                sent += 1;
            }
            Ok(())
        })();
        drop(work_tx);
        result?;
        while next_out < sent {
            let (seq, out) = done_rx.recv().expect("workers answer every batch");
            pending.insert(seq, out?);
            deliver(&mut pending, &mut outputs, &mut next_out, reader)?;
        }
        Ok(outputs)
    })?;
    for counts in &results {
        plan.absorb(counts, findings);
    }
    Ok(())
}
