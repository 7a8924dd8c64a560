//! FHIR R4 de-identification over resources, Bundles and bulk NDJSON.
//!
//! A configuration in Microsoft's anonymizer format (or airlock's Safe Harbor default) is
//! applied to every resource: see [`engine`]. Files: a `.ndjson` file is streamed a line at a
//! time (one resource per line, memory bounded by the longest line); a `.json` file holds one
//! resource or Bundle. Output is written to a temporary file and renamed on success; a
//! malformed line stops the run naming the file and line, never the content.

#![forbid(unsafe_code, unused_must_use)]

pub mod config;
pub mod crypto;
pub mod engine;
pub mod expr;
pub mod index;
pub mod path;
pub mod strict;
pub mod types;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use airlock_core::error::{Error, InputProblem, Result};
use airlock_core::output::{AtomicDir, AtomicOutput};

pub use config::{Config, SAFE_HARBOR};
pub use engine::{Counts, Engine};

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct FhirReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub config: String,
    pub rules: usize,
    /// Files written (one for a file input).
    pub files: u64,
    pub lines: u64,
    pub bytes_in: u64,
    /// Files of a directory input not copied, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    pub counts: Counts,
    pub seconds: f64,
}

fn bad_json(file: &Path, line: u64) -> Error {
    Error::Input {
        file: file.to_path_buf(),
        row: Some(line),
        column: None,
        problem: InputProblem::InvalidJson,
    }
}

fn check_resource(v: &Value, file: &Path, line: u64) -> Result<()> {
    if v.get("resourceType").and_then(Value::as_str).is_some() {
        return Ok(());
    }
    Err(Error::Input {
        file: file.to_path_buf(),
        row: Some(line),
        column: None,
        problem: InputProblem::NotFhirResource,
    })
}

/// An engine's input error, placed at the file and line it came from.
fn locate(e: Error, file: &Path, line: u64) -> Error {
    match e {
        Error::Input {
            row: None,
            column,
            problem,
            ..
        } => Error::Input {
            file: file.to_path_buf(),
            row: Some(line),
            column,
            problem,
        },
        other => other,
    }
}

/// Whether a path is bulk NDJSON (by its extension).
pub fn is_ndjson(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("ndjson" | "jsonl")
    )
}

/// De-identifies one file into `file` (opened for writing at `output`); returns the lines
/// read and the bytes of the input.
fn deid_one(
    engine: &mut Engine,
    input: &Path,
    output: &Path,
    file: std::fs::File,
) -> Result<(u64, u64)> {
    let src = std::fs::File::open(input).map_err(|e| Error::io("read", input, e))?;
    let bytes_in = src.metadata().map_or(0, |m| m.len());
    let mut w = BufWriter::new(file);
    let werr = |e| Error::io("write", output, e);
    let mut lines = 0u64;
    if is_ndjson(input) {
        let mut reader = BufReader::new(src);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|_| Error::Input {
                file: input.to_path_buf(),
                row: Some(lines + 1),
                column: None,
                problem: InputProblem::InvalidUtf8,
            })?;
            if n == 0 {
                break;
            }
            lines += 1;
            let text = line.trim_start_matches('\u{feff}').trim();
            if text.is_empty() {
                continue;
            }
            let mut v: Value = serde_json::from_str(text).map_err(|_| bad_json(input, lines))?;
            check_resource(&v, input, lines)?;
            engine
                .anonymize(&mut v)
                .map_err(|e| locate(e, input, lines))?;
            if v.is_null() {
                continue; // removed: of a type R4 does not define
            }
            serde_json::to_writer(&mut w, &v).map_err(|e| werr(e.into()))?;
            w.write_all(b"\n").map_err(werr)?;
        }
    } else {
        let text = std::io::read_to_string(src).map_err(|e| Error::io("read", input, e))?;
        let mut v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| bad_json(input, e.line() as u64))?;
        check_resource(&v, input, 1)?;
        engine.anonymize(&mut v).map_err(|e| locate(e, input, 1))?;
        if v.is_null() {
            return Err(locate(
                Error::Input {
                    file: input.to_path_buf(),
                    row: None,
                    column: None,
                    problem: InputProblem::UnknownFhirResource,
                },
                input,
                1,
            ));
        }
        lines = 1;
        serde_json::to_writer_pretty(&mut w, &v).map_err(|e| werr(e.into()))?;
        w.write_all(b"\n").map_err(werr)?;
    }
    w.flush().map_err(werr)?;
    Ok((lines, bytes_in))
}

/// First pass over the NDJSON files of a bulk export: the Patient, RelatedPerson and
/// Practitioner resources are remembered ([`Engine::remember_people`]) so that every resource
/// that references one is scrubbed of what it says. Lines that cannot name such a resource are
/// not parsed; a malformed line is left for the second pass to report.
fn remember_people(engine: &mut Engine, files: &[PathBuf]) -> Result<()> {
    for path in files.iter().filter(|p| is_ndjson(p)) {
        let src = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
        let mut reader = BufReader::new(src);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let person = ["\"Patient\"", "\"RelatedPerson\"", "\"Practitioner\""]
                .iter()
                .any(|t| line.contains(t));
            if person
                && let Ok(v) = serde_json::from_str::<Value>(line.trim_start_matches('\u{feff}'))
            {
                engine.remember_people(&v);
            }
        }
    }
    Ok(())
}

fn is_fhir_file(path: &Path) -> bool {
    is_ndjson(path)
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// De-identifies `input` into `output` with `engine`: a file into a file, or a directory (a
/// bulk export: every `.ndjson`, `.jsonl` and `.json` file, same layout; other files are not
/// copied and are listed) into a directory written in full or not at all. The people of the
/// NDJSON files are gathered first, so that each resource's free text is searched for what
/// its patient's, related persons' and practitioners' resources say about them.
pub fn deid_file(
    engine: &mut Engine,
    input: &Path,
    output: &Path,
    force: bool,
) -> Result<FhirReport> {
    airlock_core::output::refuse_overwrite(input, output)?;
    let start = Instant::now();
    let mut report = FhirReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        config: String::new(),
        rules: 0,
        files: 0,
        lines: 0,
        bytes_in: 0,
        skipped: Vec::new(),
        counts: Counts::default(),
        seconds: 0.0,
    };
    let meta = std::fs::metadata(input).map_err(|e| Error::io("read", input, e))?;
    if meta.is_dir() {
        let staged = AtomicDir::create(output, force)?;
        let files = airlock_core::walk::collect_files(
            &[input.to_path_buf()],
            &[".git", ".airlock"],
            &mut report.skipped,
        )?;
        remember_people(engine, &files)?;
        let mut written = Vec::new();
        for path in files {
            if !is_fhir_file(&path) {
                report
                    .skipped
                    .push((path, "not .ndjson or .json: not copied"));
                continue;
            }
            let rel = path.strip_prefix(input).unwrap_or(&path).to_path_buf();
            let target = staged.path().join(&rel);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
            }
            let file =
                std::fs::File::create(&target).map_err(|e| Error::io("create", &target, e))?;
            let (lines, bytes) = deid_one(engine, &path, &output.join(&rel), file)?;
            report.lines += lines;
            report.bytes_in += bytes;
            report.files += 1;
            written.push(rel);
        }
        staged.commit(&written)?;
    } else {
        let out = AtomicOutput::create(output, force)?;
        remember_people(engine, &[input.to_path_buf()])?;
        let (lines, bytes) = deid_one(engine, input, output, out.file()?)?;
        out.commit()?;
        report.lines = lines;
        report.bytes_in = bytes;
        report.files = 1;
    }
    report.counts = engine.counts.clone();
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}
