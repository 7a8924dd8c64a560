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

use crate::anonymize::{Generalized, Target, generalize};
use crate::data::Dataset;
use crate::error::RiskError;
use crate::hierarchy::HierarchySpec;
use crate::search::Criteria;

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
    let Some(spec) = &policy.risk else {
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

    let base = policy.path.parent().unwrap_or(Path::new("."));
    let mut hierarchies = std::collections::HashMap::new();
    for q in &spec.quasi_identifiers {
        if let Some(h) = policy.fields.get(q).and_then(|f| f.hierarchy.as_deref()) {
            let resolved = if matches!(h, "dates" | "zip") || h.starts_with("intervals:") {
                h.to_owned()
            } else {
                base.join(h).display().to_string()
            };
            hierarchies.insert(q.clone(), HierarchySpec::parse(&resolved)?);
        }
    }
    let ds = Dataset::load(
        &stage.path,
        job.output_format,
        &spec.quasi_identifiers,
        &hierarchies,
        spec.sensitive.as_deref(),
    )?;
    let criteria = Criteria::from_spec(spec);
    let target = Target {
        input: &stage.path,
        input_format: job.output_format,
        output: &job.output,
        output_format: job.output_format,
        force: job.force,
    };
    let (record, written) = match generalize(&ds, &criteria, spec.risk_threshold, &target)? {
        Generalized::Written {
            record, written, ..
        } => (record, written),
        Generalized::NoSolution {
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
