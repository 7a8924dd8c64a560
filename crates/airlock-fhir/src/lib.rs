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
pub mod types;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use airlock_core::error::{Error, InputProblem, Result};
use airlock_core::output::AtomicOutput;

pub use config::{Config, SAFE_HARBOR};
pub use engine::{Counts, Engine};

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct FhirReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub config: String,
    pub rules: usize,
    pub lines: u64,
    pub bytes_in: u64,
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

/// De-identifies `input` into `output` with `engine`.
pub fn deid_file(
    engine: &mut Engine,
    input: &Path,
    output: &Path,
    force: bool,
) -> Result<FhirReport> {
    let start = Instant::now();
    let file = std::fs::File::open(input).map_err(|e| Error::io("read", input, e))?;
    let bytes_in = file.metadata().map_or(0, |m| m.len());
    let out = AtomicOutput::create(output, force)?;
    let mut w = BufWriter::new(out.file()?);
    let werr = |e| Error::io("write", output, e);
    let mut lines = 0u64;
    if is_ndjson(input) {
        let mut reader = BufReader::new(file);
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
            engine.anonymize(&mut v)?;
            serde_json::to_writer(&mut w, &v).map_err(|e| werr(e.into()))?;
            w.write_all(b"\n").map_err(werr)?;
        }
    } else {
        let text = std::io::read_to_string(file).map_err(|e| Error::io("read", input, e))?;
        let mut v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| bad_json(input, e.line() as u64))?;
        check_resource(&v, input, 1)?;
        engine.anonymize(&mut v)?;
        lines = 1;
        serde_json::to_writer_pretty(&mut w, &v).map_err(|e| werr(e.into()))?;
        w.write_all(b"\n").map_err(werr)?;
    }
    w.flush().map_err(werr)?;
    drop(w);
    out.commit()?;
    Ok(FhirReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        config: String::new(),
        rules: 0,
        lines,
        bytes_in,
        counts: engine.counts.clone(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
