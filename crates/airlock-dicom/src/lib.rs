//! DICOM de-identification: the PS3.15 Annex E Basic Application Level Confidentiality
//! Profile, every action code of Table E.1-1 and its options, over files and trees, read and
//! written with dicom-rs.
//!
//! A file input gives a file output; a directory gives a directory with the same layout,
//! written in a hidden temporary directory beside the target and renamed into place only when
//! every file succeeded (one malformed file: exit 2 and no output at all). Files that are not
//! DICOM Part 10 (no `DICM` after the preamble), and `DICOMDIR` indexes (they repeat names and
//! IDs), are not copied; they are listed in the report.

#![forbid(unsafe_code, unused_must_use)]

pub mod deid;
pub mod table;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use airlock_core::error::{Error, InputProblem, Result};
use airlock_core::keys::WorkspaceSecret;
use airlock_core::output::{AtomicDir, AtomicOutput};

pub use deid::{BurnedIn, Deidentifier, DicomOptions, FileReport, Region, SafePrivate};
pub use table::{Action, AnnexE, DeidOption};

/// A run over a file or a tree.
#[derive(Debug, Clone)]
pub struct DicomJob {
    pub input: PathBuf,
    pub output: PathBuf,
    pub force: bool,
    pub options: DicomOptions,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub table_version: String,
    pub options: Vec<&'static str>,
    pub files: Vec<FileReport>,
    /// Files not copied, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// Files whose pixels may show identifying text and were not blanked.
    pub burned_in_flagged: usize,
    pub burned_in_blanked: usize,
    pub bytes_in: u64,
    pub seconds: f64,
}

/// Whether `path` is a DICOM Part 10 file (`DICM` after a 128-byte preamble).
pub fn is_dicom(path: &Path) -> Result<bool> {
    let mut head = [0u8; 132];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    Ok(n == 132 && &head[128..] == b"DICM")
}

fn malformed(path: &Path) -> Error {
    Error::Input {
        file: path.to_path_buf(),
        row: None,
        column: None,
        problem: InputProblem::MalformedDicom,
    }
}

/// De-identifies one file into `out` (a writer that owns the temporary file).
fn one(d: &Deidentifier, input: &Path, output: &Path, file: std::fs::File) -> Result<FileReport> {
    let mut obj = dicom_object::open_file(input).map_err(|_| malformed(input))?;
    let mut report = FileReport::new(input, output);
    d.deidentify(&mut obj, &mut report);
    obj.write_all(std::io::BufWriter::new(file))
        .map_err(|e| Error::Write {
            path: output.to_path_buf(),
            reason: format!("the DICOM writer failed ({})", kind_of(&e)),
        })?;
    Ok(report)
}

/// The writer error's kind without its message (which may quote a value).
fn kind_of(e: &dicom_object::WriteError) -> &'static str {
    match e {
        dicom_object::WriteError::WriteFile { .. } => "file",
        dicom_object::WriteError::WritePreamble { .. }
        | dicom_object::WriteError::WriteMagicCode { .. } => "preamble",
        dicom_object::WriteError::PrintMetaDataSet { .. } => "file meta group",
        _ => "data set",
    }
}

/// Runs `job`: every DICOM file under the input de-identified into the output.
pub fn deid_paths(
    job: &DicomJob,
    secret: &WorkspaceSecret,
    progress: &mut dyn FnMut(usize),
) -> Result<RunReport> {
    airlock_core::output::refuse_overwrite(&job.input, &job.output)?;
    let start = Instant::now();
    let d = Deidentifier::new(secret, job.options.clone());
    let mut report = RunReport {
        input: job.input.clone(),
        output: job.output.clone(),
        table_version: AnnexE::get().version.clone(),
        options: job.options.options.iter().map(|o| o.name()).collect(),
        files: Vec::new(),
        skipped: Vec::new(),
        burned_in_flagged: 0,
        burned_in_blanked: 0,
        bytes_in: 0,
        seconds: 0.0,
    };
    let meta = std::fs::metadata(&job.input).map_err(|e| Error::io("read", &job.input, e))?;
    if meta.is_file() {
        if !is_dicom(&job.input)? {
            return Err(malformed(&job.input));
        }
        let out = AtomicOutput::create(&job.output, job.force)?;
        let r = one(&d, &job.input, &job.output, out.file()?)?;
        out.commit()?;
        report.bytes_in = meta.len();
        report.files.push(r);
    } else {
        let staged = AtomicDir::create(&job.output, job.force)?;
        let files = airlock_core::walk::collect_files(
            std::slice::from_ref(&job.input),
            &[".git", ".airlock"],
            &mut report.skipped,
        )?;
        for path in files {
            let rel = path.strip_prefix(&job.input).unwrap_or(&path).to_path_buf();
            let base = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if base.eq_ignore_ascii_case("DICOMDIR") {
                report
                    .skipped
                    .push((path, "DICOMDIR index (names and IDs): not copied"));
                continue;
            }
            if !is_dicom(&path)? {
                report
                    .skipped
                    .push((path, "not a DICOM Part 10 file: not copied"));
                continue;
            }
            let target = staged.path().join(&rel);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
            }
            let file =
                std::fs::File::create(&target).map_err(|e| Error::io("create", &target, e))?;
            let mut r = one(&d, &path, &job.output.join(&rel), file)?;
            r.output = job.output.join(&rel);
            report.bytes_in += std::fs::metadata(&path).map_or(0, |m| m.len());
            report.files.push(r);
            progress(report.files.len());
        }
        // every file is written: sync them, then move the whole tree into place
        let written: Vec<PathBuf> = report
            .files
            .iter()
            .map(|r| {
                r.output
                    .strip_prefix(&job.output)
                    .unwrap_or(&r.output)
                    .to_path_buf()
            })
            .collect();
        staged.commit(&written)?;
    }
    for f in &report.files {
        match f.burned_in {
            BurnedIn::Flagged(_) => report.burned_in_flagged += 1,
            BurnedIn::Blanked => report.burned_in_blanked += 1,
            BurnedIn::No => {}
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}
