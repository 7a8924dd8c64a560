//! A policy's `[risk]` block applied after its field actions: `airlock deid` writes the
//! de-identified table to a hidden stage file beside the output, the optimal generalization of
//! the block's quasi-identifiers is found on it, and the generalized table is written to the
//! output (atomically); the manifest records both steps. Without a `[risk]` block this is the
//! plain de-identification run.

use std::path::{Path, PathBuf};

use airlock_core::keys::WorkspaceSecret;
use airlock_core::manifest::{FileRecord, Manifest};
use airlock_core::policy::Policy;
use airlock_core::text::TextScrubber;
use airlock_deid::{DeidJob, DeidReport, Progress};

use std::collections::HashMap;

use airlock_core::table::{DEFAULT_BATCH_SIZE, TableReader};

use crate::anonymize::{Solution, Target, solve, write_transformed};
use crate::data::{Dataset, Histogram};
use crate::error::RiskError;
use crate::hierarchy::HierarchySpec;
use crate::search::Criteria;

/// A policy's `[risk]` block, ready to run on the records its field actions wrote: count them
/// ([`RiskStep::histogram`], on one machine or summed over many), search
/// ([`RiskStep::solve`]), and rewrite every record with the solution's recoding. The one
/// implementation behind `airlock deid`, `airlock.deid` and `airlock.spark.deid`.
#[derive(Debug, Clone)]
pub struct RiskStep {
    qis: Vec<String>,
    sensitive: Option<String>,
    /// Each QI's hierarchy as the policy names it (a file's path resolved beside the policy),
    /// read when the search runs: the machines that only count or recode never open a file.
    hierarchies: Vec<(String, String)>,
    criteria: Criteria,
    threshold: f64,
}

impl RiskStep {
    /// The policy's `[risk]` block (a hierarchy file is found beside the policy, and read by
    /// [`Self::solve`]); `None` without one.
    pub fn of_policy(policy: &Policy) -> Option<Self> {
        let spec = policy.risk.as_ref()?;
        let base = policy.path.parent().unwrap_or(Path::new("."));
        let mut hierarchies = Vec::new();
        for q in &spec.quasi_identifiers {
            if let Some(h) = policy.fields.get(q).and_then(|f| f.hierarchy.as_deref()) {
                let resolved = if matches!(h, "dates" | "zip") || h.starts_with("intervals:") {
                    h.to_owned()
                } else {
                    base.join(h).display().to_string()
                };
                hierarchies.push((q.clone(), resolved));
            }
        }
        Some(Self {
            qis: spec.quasi_identifiers.clone(),
            sensitive: spec.sensitive.clone(),
            hierarchies,
            criteria: Criteria::from_spec(spec),
            threshold: spec.risk_threshold,
        })
    }

    /// The quasi-identifiers it generalizes.
    pub fn qis(&self) -> &[String] {
        &self.qis
    }

    /// The sensitive attribute the block names, if any.
    pub fn sensitive(&self) -> Option<&str> {
        self.sensitive.as_deref()
    }

    /// An empty count of the records' QI (and sensitive) values; `file` names them in messages.
    pub fn histogram(&self, file: &Path) -> Histogram {
        Histogram::new(&self.qis, self.sensitive.as_deref(), file)
    }

    /// The optimal generalization of the records counted (none is an error: there is
    /// nothing to search, and hierarchies built from the values would be empty).
    pub fn solve(&self, histogram: Histogram) -> Result<Solution, RiskError> {
        if histogram.rows() == 0 {
            return Err(RiskError::Invalid(
                "the [risk] block has no records to generalize: the table is empty".into(),
            ));
        }
        let mut hierarchies = HashMap::new();
        for (q, spec) in &self.hierarchies {
            hierarchies.insert(q.clone(), HierarchySpec::parse(spec)?);
        }
        let ds = Dataset::from_histogram(histogram, &hierarchies)?;
        solve(&ds, &self.criteria, self.threshold)
    }
}

/// How a run with a `[risk]` block ended.
#[derive(Debug)]
pub enum Outcome {
    /// Written: the report's manifest includes the risk step.
    Done(Box<DeidReport>),
    /// No generalization meets the block's criteria within its suppression limit; nothing was
    /// written.
    NoSolution {
        lattice_size: usize,
        suppression_limit: u64,
    },
}

/// Deletes the stage file however the run ends; while it lives, it is on the list of
/// temporaries an interrupt removes.
struct Stage {
    path: PathBuf,
    _live: airlock_core::output::Registered,
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs `airlock deid` and, when the policy has a `[risk]` block, the generalization step.
pub fn run(
    job: &DeidJob,
    policy: &Policy,
    secret: &WorkspaceSecret,
    scrubber: &dyn TextScrubber,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, RiskError> {
    let Some(step) = RiskStep::of_policy(policy) else {
        let report = airlock_deid::run(job, policy, secret, scrubber, progress)?;
        return Ok(Outcome::Done(Box::new(report)));
    };
    Manifest::check_targets(&job.output, job.force)?;
    let manifest_path = Manifest::path_for(&job.output);
    let name = job
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let stage_path = job
        .output
        .with_file_name(format!(".{name}.deid-stage.airlock-tmp"));
    let stage = Stage {
        _live: airlock_core::output::Registered::new(&stage_path),
        path: stage_path,
    };
    let staged = DeidJob {
        output: stage.path.clone(),
        force: true,
        write_manifest: false,
        ..job.clone()
    };
    let mut report = airlock_deid::run(&staged, policy, secret, scrubber, progress)?;

    let mut histogram = step.histogram(&stage.path);
    let mut reader = TableReader::open(&stage.path, job.output_format, DEFAULT_BATCH_SIZE)?;
    let schema = reader.schema();
    while let Some(batch) = reader.next_batch()? {
        histogram.add_batch(&schema, &batch)?;
    }
    drop(reader);
    let target = Target {
        input: &stage.path,
        input_format: job.output_format,
        output: &job.output,
        output_format: job.output_format,
        force: job.force,
    };
    let (record, written) = match step.solve(histogram)? {
        Solution::Found {
            record,
            result: recoding,
            ..
        } => (record, write_transformed(&recoding, &target)?),
        Solution::NoSolution {
            lattice_size,
            suppression_limit,
            ..
        } => {
            return Ok(Outcome::NoSolution {
                lattice_size,
                suppression_limit,
            });
        }
    };
    let m = &mut report.manifest;
    m.output = FileRecord {
        path: job.output.clone(),
        format: job.output_format.as_str().into(),
        sha256: written.sha256,
        bytes: written.bytes,
        rows: written.rows,
    };
    m.risk = Some(*record);
    m.write(&manifest_path, job.force)?;
    report.manifest_path = manifest_path;
    Ok(Outcome::Done(Box::new(report)))
}
