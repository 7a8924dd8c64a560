//! `airlock demo`'s run: the synthetic hospital of `airlock_deid::demo` prepared, handed to the
//! caller (which plants canary patients in it), de-identified through [`crate::deid_table`]
//! like any table, and both the raw and the de-identified table scanned.

use std::path::{Path, PathBuf};
use std::time::Instant;

use airlock_core::keys::WorkspaceSecret;
use airlock_core::manifest::Findings;
use airlock_core::policy::Policy;
use airlock_core::table::Format;
use airlock_deid::DeidJob;
use airlock_deid::demo::{prepare, scan_table};
use airlock_deid::{DeidReport, Progress};

use crate::{Result, RunError, TableOutcome, TableRun, Workspace, deid_table_with, text_engine};

/// What `airlock demo` did and where it put things.
#[derive(Debug)]
pub struct DemoReport {
    pub dir: PathBuf,
    pub raw: PathBuf,
    pub policy: PathBuf,
    pub key: PathBuf,
    pub output: PathBuf,
    pub deid: DeidReport,
    /// Residual scan of the raw input (how much PHI there was to remove).
    pub raw_findings: Findings,
    /// Residual scan of the whole de-identified output.
    pub output_findings: Findings,
    pub generate_seconds: f64,
    pub total_seconds: f64,
}

/// What the caller does to the generated extract before it is de-identified (such as planting
/// canary patients): given the extract and the policy, it returns the table to de-identify.
pub type Prepare<'a> = dyn FnMut(&Path, &Policy) -> Result<PathBuf> + 'a;

/// Runs the whole path on `rows` synthetic encounters in `dir`.
pub fn run_demo(
    dir: &Path,
    rows: u64,
    before_deid: &mut Prepare<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<DemoReport> {
    let start = Instant::now();
    let prepared = prepare(dir, rows)?;
    let policy = Policy::load(&prepared.policy)?;
    // the demo's own workspace: its outputs are not signed or audited anywhere else
    let workspace = Workspace::from_secret(WorkspaceSecret::load(&prepared.key)?, None);
    let raw = before_deid(&prepared.extract, &policy)?;
    let output = dir.join("deid").join("encounters.csv");
    let run = TableRun {
        job: DeidJob {
            force: true,
            ..DeidJob::new(&raw, Format::Csv, &output, Format::Csv)
        },
        max_findings: u64::MAX,
        record: false,
    };
    // one text engine for the run and both scans
    let engine = text_engine(&policy, &workspace)?;
    let deid = match deid_table_with(&run, &policy, &workspace, &engine, progress)? {
        TableOutcome::Done { report, .. } => *report,
        TableOutcome::NoSolution { .. } => {
            return Err(RunError::Core(airlock_core::Error::Invalid {
                what: "the demo policy".into(),
                why: "its [risk] block cannot be met".into(),
            }));
        }
    };
    let raw_findings = scan_table(&raw, Format::Csv, &engine, None)?;
    let output_findings = scan_table(&output, Format::Csv, &engine, Some(&policy))?;
    Ok(DemoReport {
        dir: dir.to_path_buf(),
        raw,
        policy: prepared.policy,
        key: prepared.key,
        output,
        deid,
        raw_findings,
        output_findings,
        generate_seconds: prepared.generate_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
    })
}
