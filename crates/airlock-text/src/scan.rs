//! `airlock scan`: the residual-PHI scanner for files and trees. Tables (CSV, JSONL, Parquet)
//! cell by cell, JSON documents and Jupyter notebooks string by string (cell sources and
//! outputs; numbers are not scanned), and any other text file (logs, notes, HTML, Markdown) line by line. Findings are
//! counted per kind and located by file and row and column, JSON path, notebook cell, or line;
//! the text found is never kept.
//!
//! A table written by `airlock deid` carries a manifest beside it; when that manifest's hash
//! matches the file, the scan reads each column's action from it, as the run's own residual
//! scan does: transformed columns (tokens, shifted dates) are not scanned, and surrogate text
//! columns skip the kinds whose surrogates look real.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use serde::Serialize;

use airlock_core::error::{Error, InputProblem, Result};
use airlock_core::manifest::Manifest;
use airlock_core::phi::{Kind, Location};
use airlock_core::table::{
    Format, Header, ReadOptions, TableReader, name_looks_like_data, positional_name,
};
use airlock_core::text::TextScrubber;
use rustc_hash::FxHashSet;

/// One finding: its kind and where it is, never what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// What was found.
    pub kind: Kind,
    /// Where.
    #[serde(flatten)]
    pub at: Location,
}

/// What one file held.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileScan {
    /// The file.
    pub path: PathBuf,
    /// How it was read: `csv`, `jsonl`, `parquet`, `json`, `notebook`, `text`.
    pub read_as: &'static str,
    /// All findings in the file.
    pub findings: u64,
    /// Findings per kind.
    pub by_kind: BTreeMap<Kind, u64>,
    /// The first [`MAX_LOCATIONS`] locations.
    pub locations: Vec<Found>,
    /// Columns not scanned because `airlock deid` transformed them (from the manifest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_columns: Vec<String>,
    /// The table's column names looked like data: the CSV header was scanned as data row 1,
    /// Parquet names as row 0, and columns are reported by position (`column_3`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub header_as_data: bool,
}

/// Locations kept per file (counts are always complete).
pub const MAX_LOCATIONS: usize = 1000;

/// The whole scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    /// Which detector scanned.
    pub scanner: &'static str,
    /// Files scanned, in path order.
    pub files: Vec<FileScan>,
    /// Files left out, with why (binary content, hidden workspace folders).
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// All findings.
    pub total: u64,
    /// Findings per kind over all files.
    pub by_kind: BTreeMap<Kind, u64>,
    /// Bytes read.
    pub bytes: u64,
}

/// Scans every path (files, and directories recursively; `.git` and `.airlock` folders and
/// symbolic links are not followed).
pub fn scan_paths(paths: &[PathBuf], scrubber: &dyn TextScrubber) -> Result<ScanReport> {
    let mut report = ScanReport {
        scanner: scrubber.name(),
        ..ScanReport::default()
    };
    let files =
        airlock_core::walk::collect_files(paths, &[".git", ".airlock"], &mut report.skipped)?;
    for path in files {
        match scan_file(&path, scrubber)? {
            Some(f) => {
                report.total += f.findings;
                for (k, n) in &f.by_kind {
                    *report.by_kind.entry(*k).or_default() += n;
                }
                report.bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
                report.files.push(f);
            }
            None => report.skipped.push((path, "binary content")),
        }
    }
    Ok(report)
}

struct Counter<'a> {
    file: &'a mut FileScan,
    skip: &'a [Kind],
}

impl Counter<'_> {
    fn scan(&mut self, scrubber: &dyn TextScrubber, text: &str, place: impl Fn() -> Location) {
        scrubber.scan(text, &mut |f| {
            if self.skip.contains(&f.kind) {
                return;
            }
            self.file.findings += 1;
            *self.file.by_kind.entry(f.kind).or_default() += 1;
            if self.file.locations.len() < MAX_LOCATIONS {
                self.file.locations.push(Found {
                    kind: f.kind,
                    at: place().at(f.span.start, f.span.len()),
                });
            }
        });
    }
}

/// Scans one file; `None` when it is binary.
pub fn scan_file(path: &Path, scrubber: &dyn TextScrubber) -> Result<Option<FileScan>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mut file = FileScan {
        path: path.to_path_buf(),
        ..FileScan::default()
    };
    let shown = |k: &str| key_is_shown(k, scrubber);
    match ext.as_str() {
        "csv" | "tsv" => scan_table(path, Format::Csv, scrubber, &mut file)?,
        "parquet" | "pq" => scan_table(path, Format::Parquet, scrubber, &mut file)?,
        "json" | "ipynb" => {
            let Some(text) = read_text(path)? else {
                return Ok(None);
            };
            let mut value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::Input {
                    file: path.to_path_buf(),
                    row: Some(e.line() as u64),
                    column: None,
                    problem: InputProblem::InvalidJson,
                })?;
            // an `airlock deid` manifest's run time is no patient's date; the rest of it (paths,
            // column names, counts) is scanned like any JSON
            let is_manifest = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".manifest.json"))
                && serde_json::from_value::<Manifest>(value.clone()).is_ok();
            if is_manifest && let Some(m) = value.as_object_mut() {
                m.remove("started_at");
            }
            let cells = (ext == "ipynb")
                .then(|| value.get("cells").and_then(|c| c.as_array()))
                .flatten();
            let mut c = Counter {
                file: &mut file,
                skip: &[],
            };
            if let Some(cells) = cells {
                c.file.read_as = "notebook";
                for (n, cell) in cells.iter().enumerate() {
                    walk_json(cell, &mut String::new(), &shown, &mut |ptr, s| {
                        c.scan(scrubber, s, || Location {
                            column: Some(ptr.to_owned()),
                            cell: Some(n as u64),
                            ..Location::default()
                        });
                    });
                }
            } else {
                c.file.read_as = "json";
                walk_json(&value, &mut String::new(), &shown, &mut |ptr, s| {
                    c.scan(scrubber, s, || Location {
                        column: Some(ptr.to_owned()),
                        ..Location::default()
                    });
                });
            }
        }
        _ => {
            // JSONL line by line as JSON (a line that is not JSON is read as text); any other
            // file line by line as text
            let jsonl = matches!(ext.as_str(), "jsonl" | "ndjson");
            file.read_as = if jsonl { "jsonl" } else { "text" };
            let Some(text) = read_text(path)? else {
                return Ok(None);
            };
            let mut c = Counter {
                file: &mut file,
                skip: &[],
            };
            for (i, line) in text.lines().enumerate() {
                let line_no = i as u64 + 1;
                let parsed = if jsonl {
                    serde_json::from_str::<serde_json::Value>(line).ok()
                } else {
                    None
                };
                match parsed {
                    Some(v) => walk_json(&v, &mut String::new(), &shown, &mut |ptr, s| {
                        c.scan(scrubber, s, || Location {
                            line: Some(line_no),
                            column: Some(ptr.to_owned()),
                            ..Location::default()
                        });
                    }),
                    None => c.scan(scrubber, line, || Location::line(line_no)),
                }
            }
        }
    }
    Ok(Some(file))
}

/// The file as text, or `None` when it looks binary (a NUL byte, or not UTF-8).
fn read_text(path: &Path) -> Result<Option<String>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| BufReader::new(f).read_to_end(&mut bytes))
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Ok(None);
    }
    Ok(String::from_utf8(bytes).ok())
}

/// Calls `f` with the JSON pointer and text of every string in `v`, object keys included (a
/// key is data too: `{"patients": {"ZQXWV-4417": ...}}`). A key appears in a reported pointer
/// only when [`key_is_shown`]; otherwise it is written `[key N]` (its 1-based place in its
/// object). Numbers are counts and measurements far more often than identifiers, and are not
/// scanned.
fn walk_json(
    v: &serde_json::Value,
    ptr: &mut String,
    shown: &dyn Fn(&str) -> bool,
    f: &mut dyn FnMut(&str, &str),
) {
    match v {
        serde_json::Value::String(s) => f(ptr, s),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = ptr.len();
                ptr.push('/');
                ptr.push_str(&i.to_string());
                walk_json(item, ptr, shown, f);
                ptr.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (i, (k, item)) in map.iter().enumerate() {
                let len = ptr.len();
                ptr.push('/');
                if shown(k) {
                    ptr.push_str(&k.replace('~', "~0").replace('/', "~1"));
                } else {
                    ptr.push_str(&format!("[key {}]", i + 1));
                    f(ptr, k);
                }
                walk_json(item, ptr, shown, f);
                ptr.truncate(len);
            }
        }
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
}

/// Whether an object key may appear in a reported JSON pointer: short, at most three digits
/// (so no record number, date or phone), nothing [`name_looks_like_data`] refuses, and nothing
/// the detector finds in it. Anything else is data.
pub fn key_is_shown(key: &str, scrubber: &dyn TextScrubber) -> bool {
    key.chars().count() <= 64
        && key.bytes().filter(u8::is_ascii_digit).count() <= 3
        && !key.chars().any(char::is_control)
        && !name_looks_like_data(key, Some(scrubber))
}

/// What the residual scan does with a column, from the action `airlock deid` recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    SkipOpaque,
    No,
}

fn scope_of(action: &str) -> Scope {
    match action.split_whitespace().next().unwrap_or("") {
        "keep" | "suppress_rare" | "text_redact" => Scope::All,
        "text_surrogate" => Scope::SkipOpaque,
        _ => Scope::No,
    }
}

/// Column scopes from a manifest beside the table, when it describes this very file, with
/// the SHA-256 of each column's vouched values.
fn manifest_scopes(path: &Path) -> Option<BTreeMap<String, (Scope, FxHashSet<String>)>> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".manifest.json");
    let manifest = Manifest::read(&path.with_file_name(name)).ok()?;
    let (sha, _) = airlock_core::output::digest_file(path).ok()?;
    (manifest.output.sha256 == sha).then(|| {
        manifest
            .columns
            .iter()
            .filter(|c| c.in_output)
            .map(|c| {
                let safe = c.safe_values_sha256.iter().cloned().collect();
                (c.name.clone(), (scope_of(&c.action), safe))
            })
            .collect()
    })
}

fn scan_table(
    path: &Path,
    format: Format,
    scrubber: &dyn TextScrubber,
    file: &mut FileScan,
) -> Result<()> {
    file.read_as = format.as_str();
    let scopes = manifest_scopes(path);
    // Column names are vetted by the detector. A CSV header that looks like data is read as
    // the first data row (and scanned); Parquet names that look like data are scanned as such
    // and the columns reported by position.
    let with = |header| ReadOptions {
        header,
        ..ReadOptions::default()
    };
    let mut reader = match TableReader::open_with(
        path,
        format,
        &with(Header::FirstRow),
        Some(scrubber),
    ) {
        Err(Error::Input {
            problem:
                InputProblem::HeaderLooksLikeData { .. } | InputProblem::NameLooksLikeData { .. },
            ..
        }) => {
            if format == Format::Parquet {
                // the names as written (unvetted: they are scanned, never shown)
                if let Ok(r) = TableReader::open_with(path, format, &with(Header::Trusted), None) {
                    let schema = r.schema();
                    let mut c = Counter {
                        file: &mut *file,
                        skip: &[],
                    };
                    for (i, f) in schema.fields().iter().enumerate() {
                        c.scan(scrubber, f.name(), || Location::cell(0, positional_name(i)));
                    }
                }
            }
            file.header_as_data = true;
            TableReader::open_with(path, format, &with(Header::Absent { names: None }), None)?
        }
        other => other?,
    };
    let schema = reader.schema();
    let none = FxHashSet::default();
    let column_safe: Vec<&FxHashSet<String>> = schema
        .fields()
        .iter()
        .map(|f| {
            scopes
                .as_ref()
                .and_then(|s| s.get(f.name()))
                .map_or(&none, |(_, safe)| safe)
        })
        .collect();
    let column_scope: Vec<Scope> = schema
        .fields()
        .iter()
        .map(|f| {
            scopes.as_ref().map_or(Scope::All, |s| {
                s.get(f.name()).map_or(Scope::All, |(scope, _)| *scope)
            })
        })
        .collect();
    file.skipped_columns = schema
        .fields()
        .iter()
        .zip(&column_scope)
        .filter(|(_, s)| **s == Scope::No)
        .map(|(f, _)| f.name().clone())
        .collect();
    let opaque = scrubber.opaque_surrogate_kinds();
    let mut row0 = 0u64;
    while let Some(batch) = reader.next_batch()? {
        for (((field, column), scope), safe) in schema
            .fields()
            .iter()
            .zip(batch.columns())
            .zip(&column_scope)
            .zip(&column_safe)
        {
            if *scope == Scope::No
                || matches!(
                    field.data_type(),
                    DataType::Binary | DataType::LargeBinary | DataType::Boolean
                )
            {
                continue;
            }
            let text = if let Some(s) = column.as_string_opt::<i32>() {
                s.clone()
            } else {
                match arrow_cast::cast(column, &DataType::Utf8) {
                    Ok(c) => c.as_string::<i32>().clone(),
                    Err(_) => continue,
                }
            };
            let skip: &[Kind] = if *scope == Scope::SkipOpaque {
                opaque
            } else {
                &[]
            };
            let mut c = Counter {
                file: &mut *file,
                skip,
            };
            for (i, v) in text.iter().enumerate() {
                let Some(v) = v else { continue };
                if text.is_null(i)
                    || !safe.is_empty()
                        && safe.contains(&airlock_core::policy::safe_value_digest(v))
                {
                    continue;
                }
                let row = row0 + i as u64 + 1;
                c.scan(scrubber, v, || Location::cell(row, field.name().as_str()));
            }
        }
        row0 += batch.num_rows() as u64;
    }
    Ok(())
}

/// A scrubber that finds nothing in a text equal to a value a policy vouched for
/// (`safe_values`, known here by the SHA-256 its manifests record): a category label ("England")
/// that a model lists among its inputs' categories, as a whole JSON string or table cell. Any
/// other text is the inner scrubber's to judge.
pub struct Vouched<'a> {
    pub inner: &'a dyn TextScrubber,
    pub digests: FxHashSet<String>,
}

impl Vouched<'_> {
    /// The digests every manifest in `manifests` (JSON texts) records.
    pub fn digests_of<'m>(manifests: impl IntoIterator<Item = &'m str>) -> FxHashSet<String> {
        manifests
            .into_iter()
            .filter_map(|m| serde_json::from_str::<Manifest>(m).ok())
            .flat_map(|m| m.columns.into_iter().flat_map(|c| c.safe_values_sha256))
            .collect()
    }
}

impl TextScrubber for Vouched<'_> {
    fn scrub(
        &self,
        text: &str,
        mode: airlock_core::text::TextMode,
        ctx: &airlock_core::text::TextContext<'_>,
        out: &mut String,
    ) -> usize {
        self.inner.scrub(text, mode, ctx, out)
    }

    fn scan(&self, text: &str, found: &mut dyn FnMut(airlock_core::text::Finding)) {
        if !self.digests.is_empty()
            && self
                .digests
                .contains(&airlock_core::policy::safe_value_digest(text))
        {
            return;
        }
        self.inner.scan(text, found);
    }

    fn scan_name(&self, name: &str, found: &mut dyn FnMut(airlock_core::text::Finding)) {
        self.inner.scan_name(name, found);
    }

    fn prepare_known(&self, known: &[(Kind, &str)]) -> Option<airlock_core::text::PreparedKnown> {
        self.inner.prepare_known(known)
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn opaque_surrogate_kinds(&self) -> &'static [Kind] {
        self.inner.opaque_surrogate_kinds()
    }
}

/// What the gate of a command's output found in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputScan {
    Findings(u64),
    /// Compressed, or an archive: what it holds cannot be scanned.
    Unscannable,
}

/// Scans a file a command wrote, whatever its name says: a Parquet file (told by its magic) as
/// a table, text and tables by their extension, any other binary file by its printable runs; a
/// compressed file or an archive cannot be scanned. One verdict for the enclave and the server.
pub fn scan_output(path: &Path, scrubber: &dyn TextScrubber) -> Result<OutputScan> {
    if head(path, 4)? == b"PAR1" {
        let mut file = FileScan {
            path: path.to_path_buf(),
            ..FileScan::default()
        };
        scan_table(path, Format::Parquet, scrubber, &mut file)?;
        return Ok(OutputScan::Findings(file.findings));
    }
    Ok(match scan_file(path, scrubber)? {
        Some(s) => OutputScan::Findings(s.findings),
        None if is_compressed(path)? => OutputScan::Unscannable,
        None => OutputScan::Findings(scan_strings(path, scrubber)?),
    })
}

/// A file's first `n` bytes (fewer when it is shorter).
fn head(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut got = 0;
    while got < n {
        let k = f
            .read(&mut buf[got..])
            .map_err(|e| Error::io("read", path, e))?;
        if k == 0 {
            break;
        }
        got += k;
    }
    buf.truncate(got);
    Ok(buf)
}

/// Whether a file is compressed, or an archive whose members may be (gzip, zstd, bzip2, xz,
/// zip, 7z), by its first bytes: what it holds cannot be scanned as it is.
pub fn is_compressed(path: &Path) -> Result<bool> {
    let head = head(path, 6)?;
    Ok([
        &b"\x1f\x8b"[..],
        b"\x28\xb5\x2f\xfd",
        b"BZh",
        b"\xfd7zXZ",
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"7z\xbc\xaf\x27\x1c",
    ]
    .iter()
    .any(|m| head.starts_with(m)))
}

/// Scans the printable runs (four characters or more) of a file that is not text, as the
/// `strings` tool would list them: what a binary file (weights, an index, a pickle) says in
/// letters. Returns the findings.
pub fn scan_strings(path: &Path, scrubber: &dyn TextScrubber) -> Result<u64> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| BufReader::new(f).read_to_end(&mut bytes))
        .map_err(|e| Error::io("read", path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut findings = 0u64;
    for run in text
        .split(|c: char| (c.is_control() && c != '\t') || c == char::REPLACEMENT_CHARACTER)
        .filter(|r| r.chars().count() >= 4)
    {
        scrubber.scan(run, &mut |_| findings += 1);
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TextEngine;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn vouched_labels_are_no_findings_in_an_output_and_names_still_are() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let model = write(
            d,
            "model.json",
            r#"{"features": [{"name": "native-country", "categories": ["England", "Puerto-Rico", "Hong"]}],
                "note": "reviewed by Dr. Margaret Oyelaran-Whitby"}"#,
        );
        let engine = TextEngine::without_key();
        let count = |s: &dyn TextScrubber| match scan_output(&model, s).unwrap() {
            OutputScan::Findings(n) => n,
            OutputScan::Unscannable => u64::MAX,
        };
        let plain = count(&engine);
        let manifest = serde_json::json!({"columns": [{"safe_values_sha256": [
            airlock_core::policy::safe_value_digest("England"),
            airlock_core::policy::safe_value_digest("Puerto-Rico"),
            airlock_core::policy::safe_value_digest("Hong"),
        ]}]});
        // a manifest that does not parse vouches for nothing; the digests come from real ones
        assert!(Vouched::digests_of([manifest.to_string().as_str()]).is_empty());
        let vouched = Vouched {
            inner: &engine,
            digests: [
                airlock_core::policy::safe_value_digest("England"),
                airlock_core::policy::safe_value_digest("Puerto-Rico"),
                airlock_core::policy::safe_value_digest("Hong"),
            ]
            .into_iter()
            .collect(),
        };
        let left = count(&vouched);
        assert!(plain >= left + 3, "{plain} {left}");
        assert!(left >= 1, "the reviewer's name is still a finding");
    }

    #[test]
    fn every_format_is_scanned_and_located_without_values() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "a.csv",
            "id,note\n1,Call 617-555-1234 now\n2,nothing here\n3,SSN 123-45-6789\n",
        );
        write(
            d,
            "b.jsonl",
            "{\"note\":\"seen 3/4/2021\"}\nnot json but Dr. Halvorsen\n",
        );
        write(
            d,
            "c.json",
            "{\"patients\":[{\"contact\":\"jo@mail.com\"}]}",
        );
        write(
            d,
            "d.ipynb",
            r#"{"cells":[{"cell_type":"code","source":["x = 1\n"],"outputs":[]},{"cell_type":"code","source":["df.head()"],"outputs":[{"output_type":"stream","text":["MRN: 12345678\n"]}]}]}"#,
        );
        write(d, "e.log", "ok\nuser from 10.1.2.3 logged in\n");
        std::fs::write(d.join("f.bin"), [0u8, 1, 2, 3, 0, 9]).unwrap();
        std::fs::create_dir(d.join(".airlock")).unwrap();
        write(&d.join(".airlock"), "secret", "SSN 123-45-6789");
        let engine = TextEngine::without_key();
        let report = scan_paths(&[d.to_path_buf()], &engine).unwrap();
        let by_file: BTreeMap<_, _> = report
            .files
            .iter()
            .map(|f| (f.path.file_name().unwrap().to_str().unwrap().to_owned(), f))
            .collect();
        let a = by_file["a.csv"];
        assert_eq!(a.by_kind.get(&Kind::Phone), Some(&1));
        assert_eq!(a.by_kind.get(&Kind::Ssn), Some(&1));
        assert_eq!(a.locations[0].at.row, Some(1));
        assert_eq!(a.locations[0].at.column.as_deref(), Some("note"));
        assert_eq!(a.locations[1].at.row, Some(3));
        let b = by_file["b.jsonl"];
        assert_eq!(b.by_kind.get(&Kind::Date), Some(&1));
        assert_eq!(b.by_kind.get(&Kind::Name), Some(&1));
        assert_eq!(b.locations[1].at.line, Some(2));
        assert_eq!(
            by_file["c.json"].locations[0].at.column.as_deref(),
            Some("/patients/0/contact")
        );
        let nb = by_file["d.ipynb"];
        assert_eq!(nb.read_as, "notebook");
        assert_eq!(nb.locations[0].at.cell, Some(1));
        assert_eq!(nb.locations[0].kind, Kind::Mrn);
        assert_eq!(by_file["e.log"].locations[0].at.line, Some(2));
        assert!(
            report
                .skipped
                .iter()
                .any(|(p, why)| p.ends_with("f.bin") && *why == "binary content")
        );
        assert!(report.skipped.iter().any(|(p, _)| p.ends_with(".airlock")));
        assert_eq!(report.total, 7, "{:?}", report.by_kind);
        let json = serde_json::to_string(&report).unwrap();
        for value in [
            "617-555-1234",
            "123-45-6789",
            "Halvorsen",
            "jo@mail.com",
            "12345678",
            "10.1.2.3",
        ] {
            assert!(!json.contains(value), "{value} leaked into the report");
        }
    }

    /// Parquet column names that are data: scanned as row 0 (those only the shape rules refuse
    /// included) and the columns reported by position, never by name.
    #[test]
    fn parquet_names_that_are_data_are_scanned_not_shown() {
        use airlock_core::table::TableWriter;
        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("1956-02-17", DataType::Utf8, true),
            arrow_schema::Field::new("note", DataType::Utf8, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(StringArray::from(vec!["b"])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let mut w = TableWriter::new(
            std::fs::File::create(&p).unwrap(),
            &p,
            Format::Parquet,
            schema,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        let f = scan_file(&p, &TextEngine::without_key()).unwrap().unwrap();
        assert!(f.header_as_data);
        assert!(
            f.locations
                .iter()
                .any(|l| l.at.row == Some(0) && l.at.column.as_deref() == Some("column_1")),
            "{:?}",
            f.locations
        );
        let shown = serde_json::to_string(&f).unwrap();
        assert!(!shown.contains("1956"), "{shown}");
    }

    #[test]
    fn broken_json_names_the_file_and_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "x.json", "{\n\"ssn\": \"123-45-6789\",\n");
        let err = scan_paths(&[p], &TextEngine::without_key())
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.json") && err.contains("row 3"), "{err}");
        assert!(!err.contains("123-45"), "{err}");
    }

    #[test]
    fn a_timestamp_is_a_date_except_a_manifests_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let engine = TextEngine::without_key();
        // a FHIR-like dateTime in any JSON, and in a file only named like a manifest
        for name in ["x.json", "fake.manifest.json"] {
            let p = dir.path().join(name);
            std::fs::write(&p, r#"{"started_at": "2023-02-14T10:15:00Z"}"#).unwrap();
            let f = scan_file(&p, &engine).unwrap().unwrap();
            assert_eq!(f.by_kind.get(&Kind::Date), Some(&1), "{name}");
        }
    }

    /// A binary file says what its printable runs say; compressed files are told by their
    /// first bytes.
    #[test]
    fn binaries_are_scanned_by_their_strings_and_compressed_ones_are_told() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::TextEngine::without_key();
        let bin = dir.path().join("model.bin");
        std::fs::write(
            &bin,
            b"\x00\x01w\x00Patient John Smith, SSN 123-45-6789\x00\xff",
        )
        .unwrap();
        assert!(scan_strings(&bin, &engine).unwrap() >= 2);
        assert!(!is_compressed(&bin).unwrap());
        let clean = dir.path().join("weights.bin");
        std::fs::write(&clean, b"\x00\x01\x02weights\x00\xff\xfe").unwrap();
        assert_eq!(scan_strings(&clean, &engine).unwrap(), 0);
        for magic in [
            &b"\x1f\x8b\x08"[..],
            b"PK\x03\x04",
            b"\x28\xb5\x2f\xfd",
            b"BZh9",
        ] {
            let f = dir.path().join("c");
            std::fs::write(&f, magic).unwrap();
            assert!(is_compressed(&f).unwrap());
        }
    }
}
