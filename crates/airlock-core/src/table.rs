//! Tables in and out as Arrow record batches: CSV, JSONL and Parquet, streamed.
//!
//! CSV and JSONL are read with an all-text schema: type inference would turn ZIP `02139` into
//! 2139 and MRN `0012` into 12, which is data loss. An empty CSV field and a JSON `null` both
//! become null. Parquet keeps its own types. Reader errors from the underlying crates can echo
//! cell values, so they are mapped to [`InputProblem`]s that name the row and column only.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, InputProblem, Result};
use crate::output::{Digesting, digest_file};

/// Rows per record batch unless a caller says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// Rows a JSONL reader looks at to learn the column names.
pub const JSONL_SCHEMA_ROWS: usize = 1000;

/// A table file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl Format {
    /// The format named by a file's extension (`.csv`, `.jsonl`/`.ndjson`, `.parquet`/`.pq`).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Self::from_name(&ext)
    }

    /// The format with this name or extension.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            "parquet" | "pq" => Some(Self::Parquet),
            _ => None,
        }
    }

    /// The explicit format, or the one the path's extension names.
    pub fn resolve(explicit: Option<Self>, path: &Path) -> Result<Self> {
        explicit
            .or_else(|| Self::from_path(path))
            .ok_or_else(|| Error::UnknownFormat {
                path: path.to_path_buf(),
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Parquet => "parquet",
        }
    }
}

/// A streaming reader of record batches.
pub struct TableReader {
    path: PathBuf,
    format: Format,
    schema: SchemaRef,
    batch_size: usize,
    rows: u64,
    source: Source,
}

enum Source {
    Csv(CsvSource),
    Jsonl(JsonlSource),
    Parquet {
        reader: ParquetRecordBatchReader,
        sha256: String,
        bytes: u64,
    },
}

impl TableReader {
    /// Opens `path` and reads its header (CSV), first rows (JSONL) or footer (Parquet).
    pub fn open(path: &Path, format: Format, batch_size: usize) -> Result<Self> {
        let batch_size = batch_size.max(1);
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let (schema, source) = match format {
            Format::Csv => CsvSource::open(path, file)?,
            Format::Jsonl => JsonlSource::open(path, file)?,
            Format::Parquet => {
                let (sha256, bytes) = digest_file(path)?;
                let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|_| input_error(path, None, None, InputProblem::NotParquet))?;
                let schema = builder.schema().clone();
                for field in schema.fields() {
                    if field.data_type().is_nested() {
                        return Err(input_error(
                            path,
                            None,
                            Some(field.name()),
                            InputProblem::UnsupportedType {
                                data_type: field.data_type().to_string(),
                            },
                        ));
                    }
                }
                let reader = builder
                    .with_batch_size(batch_size)
                    .build()
                    .map_err(|_| input_error(path, None, None, InputProblem::NotParquet))?;
                // Drop the input's metadata (pandas metadata lists every column, dropped ones too).
                let schema = Arc::new(Schema::new(schema.fields().clone()));
                (
                    schema,
                    Source::Parquet {
                        reader,
                        sha256,
                        bytes,
                    },
                )
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            format,
            schema,
            batch_size,
            rows: 0,
            source,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Data rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Input bytes consumed so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Source::Csv(s) => s.reader.get_ref().byte_count(),
            Source::Jsonl(s) => s.lines.get_ref().byte_count(),
            Source::Parquet { bytes, .. } => {
                // The Parquet reader does not say; estimate from rows is not worth it.
                if self.rows == 0 { 0 } else { *bytes }
            }
        }
    }

    /// The input's SHA-256 and size. Complete once the reader has returned `None`.
    pub fn digest(&self) -> (String, u64) {
        match &self.source {
            Source::Csv(s) => (s.reader.get_ref().sha256(), s.reader.get_ref().byte_count()),
            Source::Jsonl(s) => (s.lines.get_ref().sha256(), s.lines.get_ref().byte_count()),
            Source::Parquet { sha256, bytes, .. } => (sha256.clone(), *bytes),
        }
    }

    /// The next batch, or `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let first_row = self.rows + 1;
        let batch = match &mut self.source {
            Source::Csv(s) => s.next_batch(&self.path, &self.schema, self.batch_size)?,
            Source::Jsonl(s) => s.next_batch(&self.path, &self.schema, self.batch_size)?,
            Source::Parquet { reader, .. } => match reader.next() {
                None => None,
                Some(Ok(b)) => Some(b.with_schema(self.schema.clone()).map_err(|_| {
                    input_error(
                        &self.path,
                        Some(first_row),
                        None,
                        InputProblem::ParquetDecode,
                    )
                })?),
                Some(Err(_)) => {
                    return Err(input_error(
                        &self.path,
                        Some(first_row),
                        None,
                        InputProblem::ParquetDecode,
                    ));
                }
            },
        };
        if let Some(b) = &batch {
            self.rows += b.num_rows() as u64;
        }
        Ok(batch)
    }
}

impl Iterator for TableReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

fn input_error(
    path: &Path,
    row: Option<u64>,
    column: Option<&str>,
    problem: InputProblem,
) -> Error {
    Error::Input {
        file: path.to_path_buf(),
        row,
        column: column.map(str::to_owned),
        problem,
    }
}

fn text_schema(names: &[String]) -> SchemaRef {
    Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

fn check_names(path: &Path, names: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if name.trim().is_empty() {
            return Err(input_error(
                path,
                Some(0),
                None,
                InputProblem::EmptyColumnName,
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(input_error(
                path,
                Some(0),
                Some(name),
                InputProblem::DuplicateColumn,
            ));
        }
    }
    Ok(())
}

/// Builders for one batch of text columns, sized from the previous batch.
struct TextBuilders {
    builders: Vec<StringBuilder>,
}

impl TextBuilders {
    fn new(columns: usize, rows: usize, bytes_hint: usize) -> Self {
        Self {
            builders: (0..columns)
                .map(|_| StringBuilder::with_capacity(rows, bytes_hint))
                .collect(),
        }
    }

    fn finish(mut self, schema: &SchemaRef, rows: usize) -> Result<(RecordBatch, usize)> {
        let mut bytes = 0;
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| {
                let a = b.finish();
                bytes = bytes.max(a.value_data().len());
                Arc::new(a) as ArrayRef
            })
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
            .expect("text builders match the text schema");
        Ok((batch, bytes))
    }
}

struct CsvSource {
    reader: csv::Reader<Digesting<File>>,
    record: csv::ByteRecord,
    names: Vec<String>,
    bytes_hint: usize,
}

/// The field separator of a CSV file, told from its header line: the most frequent of `,`, `;`
/// and tab outside quotes (`,` when there is none). ARX and European exports use `;`.
fn sniff_delimiter(path: &Path) -> Result<u8> {
    use std::io::Read;
    let mut head = Vec::with_capacity(8192);
    File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| Error::io("read", path, e))?;
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in &head[..line_end] {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
        .expect("three candidates");
    Ok(if *n == 0 {
        b','
    } else {
        [b',', b';', b'\t'][best]
    })
}

impl CsvSource {
    fn open(path: &Path, file: File) -> Result<(SchemaRef, Source)> {
        let delimiter = sniff_delimiter(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(false)
            .buffer_capacity(1 << 16)
            .from_reader(Digesting::new(file));
        let header = reader.byte_headers().map_err(|e| csv_error(path, e, &[]))?;
        if header.is_empty() {
            return Err(input_error(path, None, None, InputProblem::NoHeader));
        }
        let mut names = Vec::with_capacity(header.len());
        for field in header.iter() {
            let name = std::str::from_utf8(field)
                .map_err(|_| input_error(path, Some(0), None, InputProblem::InvalidUtf8))?;
            names.push(name.to_owned());
        }
        check_names(path, &names)?;
        let schema = text_schema(&names);
        Ok((
            schema,
            Source::Csv(Self {
                reader,
                record: csv::ByteRecord::new(),
                names,
                bytes_hint: 1024,
            }),
        ))
    }

    fn next_batch(
        &mut self,
        path: &Path,
        schema: &SchemaRef,
        batch_size: usize,
    ) -> Result<Option<RecordBatch>> {
        let mut builders = TextBuilders::new(self.names.len(), batch_size, self.bytes_hint);
        let mut rows = 0;
        while rows < batch_size {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_error(path, e, &self.names)),
            }
            let row = self.record.position().map_or(0, |p| p.record());
            for (i, (field, builder)) in self.record.iter().zip(&mut builders.builders).enumerate()
            {
                if field.is_empty() {
                    builder.append_null();
                    continue;
                }
                let value = std::str::from_utf8(field).map_err(|_| {
                    input_error(
                        path,
                        Some(row),
                        Some(&self.names[i]),
                        InputProblem::InvalidUtf8,
                    )
                })?;
                builder.append_value(value);
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let (batch, bytes) = builders.finish(schema, rows)?;
        self.bytes_hint = bytes + bytes / 8;
        Ok(Some(batch))
    }
}

fn csv_error(path: &Path, e: csv::Error, names: &[String]) -> Error {
    let row = e.position().map(|p| p.record());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io("read", path, io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => input_error(
            path,
            row,
            None,
            InputProblem::WrongFieldCount {
                expected: expected_len,
                found: len,
            },
        ),
        csv::ErrorKind::Utf8 { err, .. } => input_error(
            path,
            row,
            names.get(err.field()).map(String::as_str),
            InputProblem::InvalidUtf8,
        ),
        _ => input_error(path, row, None, InputProblem::MalformedCsv),
    }
}

struct JsonlSource {
    lines: BufReader<Digesting<File>>,
    line_no: u64,
    pending: VecDeque<(u64, String)>,
    names: Vec<String>,
    index: HashMap<String, usize>,
    buf: String,
    row: Vec<Option<String>>,
}

impl JsonlSource {
    fn open(path: &Path, file: File) -> Result<(SchemaRef, Source)> {
        let mut source = Self {
            lines: BufReader::with_capacity(1 << 16, Digesting::new(file)),
            line_no: 0,
            pending: VecDeque::new(),
            names: Vec::new(),
            index: HashMap::new(),
            buf: String::new(),
            row: Vec::new(),
        };
        while source.pending.len() < JSONL_SCHEMA_ROWS {
            let Some((line_no, line)) = source.read_line(path)? else {
                break;
            };
            let object = parse_object(path, line_no, &line)?;
            for key in object.keys() {
                if !source.index.contains_key(key) {
                    source.index.insert(key.clone(), source.names.len());
                    source.names.push(key.clone());
                }
            }
            source.pending.push_back((line_no, line));
        }
        if source.names.is_empty() {
            return Err(input_error(path, None, None, InputProblem::NoHeader));
        }
        check_names(path, &source.names)?;
        source.row = vec![None; source.names.len()];
        Ok((text_schema(&source.names), Source::Jsonl(source)))
    }

    /// The next non-blank line and its 1-based number.
    fn read_line(&mut self, path: &Path) -> Result<Option<(u64, String)>> {
        loop {
            self.buf.clear();
            let n = self.lines.read_line(&mut self.buf).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    input_error(
                        path,
                        Some(self.line_no + 1),
                        None,
                        InputProblem::InvalidUtf8,
                    )
                } else {
                    Error::io("read", path, e)
                }
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if !self.buf.trim().is_empty() {
                return Ok(Some((self.line_no, std::mem::take(&mut self.buf))));
            }
        }
    }

    fn next_batch(
        &mut self,
        path: &Path,
        schema: &SchemaRef,
        batch_size: usize,
    ) -> Result<Option<RecordBatch>> {
        let mut builders = TextBuilders::new(self.names.len(), batch_size, 1024);
        let mut rows = 0;
        while rows < batch_size {
            let next = match self.pending.pop_front() {
                Some(p) => Some(p),
                None => self.read_line(path)?,
            };
            let Some((line_no, line)) = next else { break };
            let object = parse_object(path, line_no, &line)?;
            self.row.iter_mut().for_each(|v| *v = None);
            for (key, value) in object {
                let Some(&i) = self.index.get(&key) else {
                    return Err(input_error(
                        path,
                        Some(line_no),
                        Some(&key),
                        InputProblem::UnknownKey,
                    ));
                };
                self.row[i] = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                        return Err(input_error(
                            path,
                            Some(line_no),
                            Some(&key),
                            InputProblem::NestedValue,
                        ));
                    }
                };
            }
            for (value, builder) in self.row.iter_mut().zip(&mut builders.builders) {
                match value.take() {
                    Some(v) if !v.is_empty() => builder.append_value(v),
                    _ => builder.append_null(),
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(builders.finish(schema, rows)?.0))
    }
}

fn parse_object(
    path: &Path,
    line_no: u64,
    line: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    // serde_json's message can quote the input: keep only the fact that it failed.
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(input_error(
            path,
            Some(line_no),
            None,
            InputProblem::NotAnObject,
        )),
        Err(_) => Err(input_error(
            path,
            Some(line_no),
            None,
            InputProblem::InvalidJson,
        )),
    }
}

/// What a finished writer wrote.
#[derive(Debug, Clone)]
pub struct WriteSummary {
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

/// A streaming writer of record batches.
pub struct TableWriter {
    path: PathBuf,
    schema: SchemaRef,
    rows: u64,
    batches: u64,
    sink: Sink,
}

type Out = Digesting<BufWriter<File>>;

// One writer per output file: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Csv(arrow_csv::Writer<Out>),
    Jsonl(arrow_json::LineDelimitedWriter<Out>),
    Parquet(ArrowWriter<Out>),
}

impl TableWriter {
    /// Writes `format` to `file`; `path` names the final target in messages.
    pub fn new(file: File, path: &Path, format: Format, schema: SchemaRef) -> Result<Self> {
        let out = Digesting::new(BufWriter::with_capacity(1 << 16, file));
        let sink = match format {
            Format::Csv => Sink::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(out)),
            Format::Jsonl => Sink::Jsonl(arrow_json::LineDelimitedWriter::new(out)),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_created_by(format!("airlock {}", env!("CARGO_PKG_VERSION")))
                    .build();
                let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))
                    .map_err(|e| write_error(path, ArrowError::ExternalError(Box::new(e))))?;
                Sink::Parquet(writer)
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            schema,
            rows: 0,
            batches: 0,
            sink,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let path = &self.path;
        match &mut self.sink {
            Sink::Csv(w) => w.write(batch).map_err(|e| write_error(path, e))?,
            Sink::Jsonl(w) => w.write(batch).map_err(|e| write_error(path, e))?,
            Sink::Parquet(w) => w
                .write(batch)
                .map_err(|e| write_error(path, ArrowError::ExternalError(Box::new(e))))?,
        }
        self.rows += batch.num_rows() as u64;
        self.batches += 1;
        Ok(())
    }

    /// Ends the file (a Parquet footer, a CSV header for an empty table) and flushes it.
    pub fn finish(mut self) -> Result<WriteSummary> {
        if self.batches == 0 {
            // An empty table still gets its header (CSV) or schema (Parquet).
            let empty = RecordBatch::new_empty(self.schema.clone());
            self.write(&empty)?;
        }
        let path = self.path;
        let out = match self.sink {
            Sink::Csv(w) => w.into_inner(),
            Sink::Jsonl(mut w) => {
                w.finish().map_err(|e| write_error(&path, e))?;
                w.into_inner()
            }
            Sink::Parquet(w) => w
                .into_inner()
                .map_err(|e| write_error(&path, ArrowError::ExternalError(Box::new(e))))?,
        };
        let sha256 = out.sha256();
        let bytes = out.byte_count();
        let mut inner = out.into_inner();
        inner.flush().map_err(|e| Error::io("write", &path, e))?;
        Ok(WriteSummary {
            sha256,
            bytes,
            rows: self.rows,
        })
    }
}

fn write_error(path: &Path, e: ArrowError) -> Error {
    // Encoder messages can quote values; keep the I/O cause only.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Error::io(
                "write",
                path,
                std::io::Error::new(io.kind(), io.kind().to_string()),
            );
        }
        source = err.source();
    }
    if let ArrowError::IoError(_, io) = &e {
        return Error::io(
            "write",
            path,
            std::io::Error::new(io.kind(), io.kind().to_string()),
        );
    }
    Error::Write {
        path: path.to_path_buf(),
        reason: "the encoder failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    fn read_all(path: &Path, format: Format) -> Result<Vec<RecordBatch>> {
        TableReader::open(path, format, 2)?.collect()
    }

    #[test]
    fn csv_keeps_leading_zeros_and_maps_empty_to_null() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "zip,mrn\n02139,0012\n,7\n10001,\"\"\n").unwrap();
        let batches = read_all(&p, Format::Csv).unwrap();
        assert_eq!(batches.len(), 2);
        let zip = batches[0].column(0).as_string::<i32>();
        assert_eq!(zip.value(0), "02139");
        assert!(zip.is_null(1));
        assert_eq!(batches[0].column(1).as_string::<i32>().value(0), "0012");
        assert!(batches[1].column(1).is_null(0));
    }

    #[test]
    fn semicolon_and_tab_separated_files_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "sex;age;note\r\nMale;39;\"a, b\"\r\n").unwrap();
        let b = &read_all(&p, Format::Csv).unwrap()[0];
        assert_eq!(b.num_columns(), 3);
        assert_eq!(b.column(2).as_string::<i32>().value(0), "a, b");
        std::fs::write(&p, "a\tb\n1\t2\n").unwrap();
        assert_eq!(read_all(&p, Format::Csv).unwrap()[0].num_columns(), 2);
        std::fs::write(&p, "\"x;y\",z\n1,2\n").unwrap();
        assert_eq!(read_all(&p, Format::Csv).unwrap()[0].num_columns(), 2);
    }

    #[test]
    fn csv_errors_name_row_and_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a,b\n1,2\n123-45-6789\n").unwrap();
        let e = read_all(&p, Format::Csv).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("1 fields"), "{e}");
        assert!(!e.contains("123-45-6789"));

        std::fs::write(&p, b"a,b\n1,\xff\xfe-secret\n").unwrap();
        let e = read_all(&p, Format::Csv).unwrap_err().to_string();
        assert!(
            e.contains("row 1") && e.contains("column \"b\"") && e.contains("UTF-8"),
            "{e}"
        );
        assert!(!e.contains("secret"));

        std::fs::write(&p, "a,a\n1,2\n").unwrap();
        assert!(
            read_all(&p, Format::Csv)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn jsonl_reads_scalars_as_text_and_rejects_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, "{\"a\":\"x\",\"n\":12.50}\n\n{\"a\":null,\"b\":true}\n").unwrap();
        let batches = read_all(&p, Format::Jsonl).unwrap();
        let b = &batches[0];
        assert_eq!(b.schema().fields().len(), 3);
        assert_eq!(b.column(1).as_string::<i32>().value(0), "12.50");
        assert!(b.column(0).is_null(1));
        assert_eq!(b.column(2).as_string::<i32>().value(1), "true");

        std::fs::write(&p, "{\"a\":1}\n{\"a\": \"John Smith\"\n").unwrap();
        let e = read_all(&p, Format::Jsonl).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("not valid JSON"), "{e}");
        assert!(!e.contains("John"));

        std::fs::write(&p, "{\"a\":{\"b\":1}}\n").unwrap();
        assert!(
            read_all(&p, Format::Jsonl)
                .unwrap_err()
                .to_string()
                .contains("nested")
        );
    }

    #[test]
    fn every_format_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("t.csv");
        std::fs::write(&src, "id,name\n1,Ann\n2,\n3,Bo\n").unwrap();
        for format in [Format::Csv, Format::Jsonl, Format::Parquet] {
            let mut r = TableReader::open(&src, Format::Csv, 8192).unwrap();
            let out = dir.path().join(format!("o.{}", format.as_str()));
            let mut w =
                TableWriter::new(File::create(&out).unwrap(), &out, format, r.schema()).unwrap();
            while let Some(b) = r.next_batch().unwrap() {
                w.write(&b).unwrap();
            }
            let summary = w.finish().unwrap();
            assert_eq!(summary.rows, 3);
            assert_eq!(summary.sha256, digest_file(&out).unwrap().0);
            let back = read_all(&out, format).unwrap();
            let rows: usize = back.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows, 3, "{format:?}");
            let names = back[0].column_by_name("name").unwrap().as_string::<i32>();
            assert_eq!(names.value(0), "Ann");
        }
        assert_eq!(
            TableReader::open(&src, Format::Csv, 10)
                .map(|r| r.format())
                .unwrap(),
            Format::Csv
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Hostile bytes never panic a reader, and its errors never echo the data.
        #[test]
        fn readers_survive_arbitrary_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let dir = tempfile::tempdir().unwrap();
            let mut data = b"a,b\nSECRETCANARY,".to_vec();
            data.extend_from_slice(&body);
            for (name, format) in [("t.csv", Format::Csv), ("t.jsonl", Format::Jsonl), ("t.parquet", Format::Parquet)] {
                let p = dir.path().join(name);
                std::fs::write(&p, &data).unwrap();
                let result = TableReader::open(&p, format, 7).and_then(|r| r.collect::<Result<Vec<_>>>());
                if let Err(e) = result {
                    let msg = format!("{e} {:?}", std::error::Error::source(&e).map(|s| s.to_string()));
                    proptest::prop_assert!(!msg.contains("SECRETCANARY"), "{msg}");
                }
            }
        }

        /// Whatever a CSV holds, reading it back after writing gives the same cells.
        #[test]
        fn csv_round_trips_any_text(cells in proptest::collection::vec("[^\\x00]{1,12}", 1..30)) {
            let dir = tempfile::tempdir().unwrap();
            let src = dir.path().join("in.csv");
            let mut w = csv::Writer::from_path(&src).unwrap();
            w.write_record(["v"]).unwrap();
            for c in &cells {
                w.write_record([c]).unwrap();
            }
            w.flush().unwrap();
            drop(w);
            let batches = TableReader::open(&src, Format::Csv, 8).unwrap().collect::<Result<Vec<_>>>().unwrap();
            let got: Vec<String> = batches
                .iter()
                .flat_map(|b| b.column(0).as_string::<i32>().iter().map(|v| v.unwrap_or("").to_owned()).collect::<Vec<_>>())
                .collect();
            proptest::prop_assert_eq!(got, cells);
        }
    }

    #[test]
    fn not_parquet_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        let e = TableReader::open(&p, Format::Parquet, 10)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a readable Parquet file"), "{e}");
    }
}
