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
use crate::text::TextScrubber;

/// Rows per record batch unless a caller says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// Rows a JSONL reader looks at to learn the column names.
pub const JSONL_SCHEMA_ROWS: usize = 1000;

/// Bounds on what one table may hold, so a hostile shape (millions of columns on one line, one
/// cell of gigabytes, a quote that never closes) ends in a clear error instead of all of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Columns in the header (CSV), keys (JSONL) or fields (Parquet).
    pub max_columns: usize,
    /// Bytes of one cell (CSV, JSONL).
    pub max_cell_bytes: usize,
    /// Bytes of one row: a CSV record (which may run over lines), a JSONL line.
    pub max_row_bytes: usize,
}

impl Limits {
    pub const DEFAULT_MAX_COLUMNS: usize = 4096;
    pub const DEFAULT_MAX_CELL_BYTES: usize = 8 << 20;
    pub const DEFAULT_MAX_ROW_BYTES: usize = 32 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_columns: Self::DEFAULT_MAX_COLUMNS,
            max_cell_bytes: Self::DEFAULT_MAX_CELL_BYTES,
            max_row_bytes: Self::DEFAULT_MAX_ROW_BYTES,
        }
    }
}

/// Whether a CSV file's first row names its columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Header {
    /// The first row is the header, and is refused when it looks like data.
    #[default]
    FirstRow,
    /// The first row is the header and the caller vouches for it (`--trust-header`): its names
    /// are used unvetted (still escaped and capped wherever they are shown).
    Trusted,
    /// Every row is data; the columns are named by the caller, or `column_1`, `column_2`, ...
    Absent { names: Option<Vec<String>> },
}

/// How a table is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Rows per record batch.
    pub batch_size: usize,
    pub header: Header,
    pub limits: Limits,
}

impl ReadOptions {
    /// The defaults with this batch size.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            header: Header::FirstRow,
            limits: Limits::default(),
        }
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self::new(DEFAULT_BATCH_SIZE)
    }
}

/// The name a headerless table gives its column at 0-based `index`.
pub fn positional_name(index: usize) -> String {
    format!("column_{}", index + 1)
}

/// Whether a column name looks like a value rather than a name: a number, a date or time, an
/// e-mail address or URL, five digits in a row or seven in all, more than 100 characters, or (with a detector)
/// any identifier the detector finds in it. Real headers (`patient_id`, `Patient Name`,
/// `date_of_birth`, `zip5`, `icd10_code`) pass; `Ada Quillfeather`, `1956-02-17`,
/// `603-482-1193` do not.
pub fn name_looks_like_data(name: &str, detector: Option<&dyn TextScrubber>) -> bool {
    let name = name.trim();
    if name.chars().count() > 100 {
        return true;
    }
    // control characters and bidirectional overrides: no header needs them, an attack does
    if name
        .chars()
        .any(|c| c.is_control() || crate::shown::is_format_override(c))
    {
        return true;
    }
    let digits = name.bytes().filter(u8::is_ascii_digit).count();
    let longest_run = name
        .as_bytes()
        .split(|b| !b.is_ascii_digit())
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    if longest_run >= 5 || digits >= 7 {
        return true;
    }
    if digits > 0
        && name
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace())
    {
        return true; // 42, 3.5, -1, 12/03, 10:45
    }
    // digits, a date or time separator, digits: 3/12, 10:45, 2021-03
    let b = name.as_bytes();
    if b.windows(3).any(|w| {
        w[0].is_ascii_digit() && matches!(w[1], b'/' | b'-' | b'.' | b':') && w[2].is_ascii_digit()
    }) {
        return true;
    }
    if let Some(at) = name.find('@')
        && name[at..].contains('.')
    {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains("://") || lower.starts_with("www.") {
        return true;
    }
    let Some(d) = detector else {
        return false;
    };
    let mut found = false;
    d.scan_name(name, &mut |_| found = true);
    // "LAST, FIRST" alone gives the detector little to go on: ask about "First Last" too.
    if !found && let Some((last, first)) = name.split_once(", ") {
        let word = |w: &str| w.len() > 1 && w.chars().all(char::is_alphabetic);
        if word(last) && word(first.trim()) {
            let title = |w: &str| {
                let lower = w.to_lowercase();
                let mut c = lower.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            };
            d.scan_name(
                &format!("{} {}", title(first.trim()), title(last)),
                &mut |_| found = true,
            );
        }
    }
    found
}

/// Refuses `names` when the header is vetted ([`Header::FirstRow`]) and one of them looks like
/// data: the error names its 1-based position only.
fn vet_names(
    path: &Path,
    names: &[String],
    header: &Header,
    detector: Option<&dyn TextScrubber>,
    problem: fn(usize) -> InputProblem,
) -> Result<()> {
    if *header != Header::FirstRow {
        return Ok(());
    }
    match names.iter().position(|n| name_looks_like_data(n, detector)) {
        Some(i) => Err(input_error(path, None, None, problem(i + 1))),
        None => Ok(()),
    }
}

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
    /// Opens `path` with the default [`ReadOptions`] and no detector for its column names
    /// (their shape is still checked).
    pub fn open(path: &Path, format: Format, batch_size: usize) -> Result<Self> {
        Self::open_with(path, format, &ReadOptions::new(batch_size), None)
    }

    /// Opens `path` and reads its header (CSV), first rows (JSONL) or footer (Parquet). Column
    /// names that look like data ([`name_looks_like_data`], with `detector` when given) are
    /// refused before anything can show or use them.
    pub fn open_with(
        path: &Path,
        format: Format,
        options: &ReadOptions,
        detector: Option<&dyn TextScrubber>,
    ) -> Result<Self> {
        let batch_size = options.batch_size.max(1);
        let limits = options.limits;
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let (schema, source) = match format {
            Format::Csv => CsvSource::open(path, file, options, detector)?,
            Format::Jsonl => JsonlSource::open(path, file, limits, &options.header, detector)?,
            Format::Parquet => {
                let (sha256, bytes) = digest_file(path)?;
                let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|_| input_error(path, None, None, InputProblem::NotParquet))?;
                let mut schema = builder.schema().clone();
                check_width(path, schema.fields().len(), limits)?;
                if matches!(options.header, Header::Absent { .. }) {
                    // The caller does not trust the file's names: they become positions.
                    let fields: Vec<Field> = schema
                        .fields()
                        .iter()
                        .enumerate()
                        .map(|(i, f)| f.as_ref().clone().with_name(positional_name(i)))
                        .collect();
                    schema = Arc::new(Schema::new(fields));
                } else {
                    let names: Vec<String> =
                        schema.fields().iter().map(|f| f.name().clone()).collect();
                    vet_names(path, &names, &options.header, detector, |column| {
                        InputProblem::NameLooksLikeData { column }
                    })?;
                }
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
            Source::Csv(s) => s.reader.get_ref().inner.byte_count(),
            Source::Jsonl(s) => s.lines.get_ref().byte_count(),
            Source::Parquet { bytes, .. } => {
                // The Parquet reader does not say; estimate from rows is not worth it.
                if self.rows == 0 { 0 } else { *bytes }
            }
        }
    }

    /// From now on, reads only `columns` (0-based) of a CSV input: the others come back as
    /// nulls, neither copied nor checked (a pass that needs a few columns of a wide table; a
    /// pass that reads them all still checks every cell). JSONL and Parquet read every column.
    pub fn read_only(&mut self, columns: &[usize]) {
        if let Source::Csv(s) = &mut self.source {
            s.skip = (0..s.names.len()).map(|i| !columns.contains(&i)).collect();
        }
    }

    /// The input's SHA-256 and size. Complete once the reader has returned `None`.
    pub fn digest(&self) -> (String, u64) {
        match &self.source {
            Source::Csv(s) => {
                let d = &s.reader.get_ref().inner;
                (d.sha256(), d.byte_count())
            }
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
                Some(Ok(b)) => Some(
                    RecordBatch::try_new_with_options(
                        self.schema.clone(),
                        b.columns().to_vec(),
                        &RecordBatchOptions::new().with_row_count(Some(b.num_rows())),
                    )
                    .map_err(|_| {
                        input_error(
                            &self.path,
                            Some(first_row),
                            None,
                            InputProblem::ParquetDecode,
                        )
                    })?,
                ),
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

fn check_width(path: &Path, found: usize, limits: Limits) -> Result<()> {
    if found > limits.max_columns {
        return Err(input_error(
            path,
            None,
            None,
            InputProblem::TooManyColumns {
                found: found as u64,
                limit: limits.max_columns as u64,
            },
        ));
    }
    Ok(())
}

/// Empty and duplicated names are refused; a duplicate is named by position, since a name that
/// appears twice is often a value (two patients with one surname in a headerless file).
fn check_names(path: &Path, names: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.iter().enumerate() {
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
                Some(&positional_name(i)),
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
    reader: csv::Reader<RowBound>,
    record: csv::ByteRecord,
    names: Vec<String>,
    bytes_hint: usize,
    delimiter: u8,
    limits: Limits,
    /// Byte offset and line where the last record read (or the header) starts.
    last_start: (u64, u64),
    /// Columns read as nulls, unchecked ([`TableReader::read_only`]); empty: none.
    skip: Vec<bool>,
}

/// The CSV input with a bound on how far the csv reader may read past the end of the last
/// complete record: one record larger than the limit (a quote that never closes, a line of
/// millions of fields) stops with [`RowTooLarge`] instead of filling memory.
struct RowBound {
    inner: Digesting<File>,
    /// Where the last complete record ended.
    mark: u64,
    limit: u64,
}

/// The I/O error [`RowBound`] raises, recognised when the csv reader hands it back.
#[derive(Debug)]
struct RowTooLarge;

impl std::fmt::Display for RowTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("row too large")
    }
}

impl std::error::Error for RowTooLarge {}

/// The csv reader's buffer: it reads this far ahead of the record it is parsing.
const CSV_BUFFER: usize = 1 << 16;

impl std::io::Read for RowBound {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.inner.byte_count() > self.mark + self.limit + CSV_BUFFER as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RowTooLarge,
            ));
        }
        self.inner.read(buf)
    }
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
    fn open(
        path: &Path,
        file: File,
        options: &ReadOptions,
        detector: Option<&dyn TextScrubber>,
    ) -> Result<(SchemaRef, Source)> {
        let delimiter = sniff_delimiter(path)?;
        let limits = options.limits;
        let has_header = !matches!(options.header, Header::Absent { .. });
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(has_header)
            .flexible(false)
            .buffer_capacity(CSV_BUFFER)
            .from_reader(RowBound {
                inner: Digesting::new(file),
                mark: 0,
                limit: limits.max_row_bytes as u64,
            });
        // Without a header this is the first record, peeked and not consumed.
        let header = reader
            .byte_headers()
            .map_err(|e| csv_error(path, e, &[], limits))?;
        if header.is_empty() {
            return Err(input_error(path, None, None, InputProblem::NoHeader));
        }
        check_width(path, header.len(), limits)?;
        let width = header.len();
        let names = match &options.header {
            Header::FirstRow | Header::Trusted => {
                let mut names = Vec::with_capacity(width);
                for field in header.iter() {
                    let name = std::str::from_utf8(field)
                        .map_err(|_| input_error(path, Some(0), None, InputProblem::InvalidUtf8))?;
                    names.push(name.to_owned());
                }
                vet_names(path, &names, &options.header, detector, |column| {
                    InputProblem::HeaderLooksLikeData { column }
                })?;
                names
            }
            Header::Absent { names: Some(names) } => {
                if names.len() != width {
                    return Err(input_error(
                        path,
                        None,
                        None,
                        InputProblem::ColumnNamesMismatch {
                            given: names.len() as u64,
                            found: width as u64,
                        },
                    ));
                }
                names.clone()
            }
            Header::Absent { names: None } => (0..width).map(positional_name).collect(),
        };
        check_names(path, &names)?;
        let schema = text_schema(&names);
        let mut source = Self {
            reader,
            record: csv::ByteRecord::new(),
            names,
            bytes_hint: 1024,
            delimiter,
            limits,
            last_start: (0, 1),
            skip: Vec::new(),
        };
        if has_header {
            source.mark_record_end();
        }
        Ok((schema, Source::Csv(source)))
    }

    /// Moves the row bound's mark to where the reader stands (the end of the last record).
    fn mark_record_end(&mut self) {
        let at = self.reader.position().byte();
        self.reader.get_mut().mark = at;
    }

    /// At the end of the file: an error when the last record (or the header) ends inside a
    /// quoted field. The csv reader takes the rest of the file into that field without a word,
    /// so the tail is parsed again with a line added after it: a closed record leaves that
    /// line a record of its own, an open quote swallows it.
    fn check_closed(&self, path: &Path) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let (start, line) = self.last_start;
        let mut tail = Vec::new();
        let mut file = File::open(path).map_err(|e| Error::io("read", path, e))?;
        file.seek(SeekFrom::Start(start))
            .and_then(|_| {
                file.take(self.limits.max_row_bytes as u64 + 1)
                    .read_to_end(&mut tail)
            })
            .map_err(|e| Error::io("read", path, e))?;
        if !tail.contains(&b'"') {
            return Ok(());
        }
        tail.extend_from_slice(b"\nx\n");
        let mut check = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(tail.as_slice());
        let mut record = csv::ByteRecord::new();
        let mut records = 0;
        while let Ok(true) = check.read_byte_record(&mut record) {
            records += 1;
        }
        if records < 2 {
            return Err(input_error(
                path,
                None,
                None,
                InputProblem::UnclosedQuote { line },
            ));
        }
        Ok(())
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
                Ok(false) => {
                    self.check_closed(path)?;
                    break;
                }
                Ok(true) => {}
                Err(e) => {
                    return Err(self.quote_or(csv_error(path, e, &self.names, self.limits)));
                }
            }
            if let Some(p) = self.record.position() {
                self.last_start = (p.byte(), p.line());
            }
            self.mark_record_end();
            let row = self.record.position().map_or(0, |p| p.record());
            for (i, (field, builder)) in self.record.iter().zip(&mut builders.builders).enumerate()
            {
                if field.is_empty() || self.skip.get(i) == Some(&true) {
                    builder.append_null();
                    continue;
                }
                if field.len() > self.limits.max_cell_bytes {
                    return Err(input_error(
                        path,
                        Some(row),
                        Some(&self.names[i]),
                        InputProblem::CellTooLarge {
                            limit: self.limits.max_cell_bytes as u64,
                        },
                    ));
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

    /// A wrong field count in a record that runs over several lines is most likely a quote
    /// opened and not closed on its first line: say so, naming the line.
    fn quote_or(&self, e: Error) -> Error {
        let Error::Input {
            file,
            row,
            problem: InputProblem::WrongFieldCount { expected, found },
            ..
        } = &e
        else {
            return e;
        };
        let breaks = self
            .record
            .iter()
            .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
            .sum::<u64>();
        let Some(line) = self.record.position().map(|p| p.line()) else {
            return e;
        };
        if breaks == 0 {
            return e;
        }
        Error::Input {
            file: file.clone(),
            row: *row,
            column: None,
            problem: InputProblem::UnbalancedQuote {
                line,
                lines: breaks + 1,
                expected: *expected,
                found: *found,
            },
        }
    }
}

fn csv_error(path: &Path, e: csv::Error, names: &[String], limits: Limits) -> Error {
    let row = e.position().map(|p| p.record());
    match e.into_kind() {
        csv::ErrorKind::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<RowTooLarge>().is_some()) =>
        {
            input_error(
                path,
                row,
                None,
                InputProblem::RowTooLarge {
                    limit: limits.max_row_bytes as u64,
                },
            )
        }
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
    limits: Limits,
}

impl JsonlSource {
    fn open(
        path: &Path,
        file: File,
        limits: Limits,
        header: &Header,
        detector: Option<&dyn TextScrubber>,
    ) -> Result<(SchemaRef, Source)> {
        let mut source = Self {
            lines: BufReader::with_capacity(1 << 16, Digesting::new(file)),
            line_no: 0,
            pending: VecDeque::new(),
            names: Vec::new(),
            index: HashMap::new(),
            buf: String::new(),
            row: Vec::new(),
            limits,
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
            check_width(path, source.names.len(), limits)?;
            source.pending.push_back((line_no, line));
        }
        if source.names.is_empty() {
            return Err(input_error(path, None, None, InputProblem::NoHeader));
        }
        vet_names(path, &source.names, header, detector, |column| {
            InputProblem::NameLooksLikeData { column }
        })?;
        check_names(path, &source.names)?;
        source.row = vec![None; source.names.len()];
        Ok((text_schema(&source.names), Source::Jsonl(source)))
    }

    /// The next non-blank line and its 1-based number.
    fn read_line(&mut self, path: &Path) -> Result<Option<(u64, String)>> {
        loop {
            self.buf.clear();
            let limit = self.limits.max_row_bytes as u64;
            let n = std::io::Read::take(&mut self.lines, limit + 1)
                .read_line(&mut self.buf)
                .map_err(|e| {
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
            if n as u64 > limit {
                return Err(input_error(
                    path,
                    Some(self.line_no),
                    None,
                    InputProblem::RowTooLarge { limit },
                ));
            }
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
                    // The key is data until shown otherwise: not named.
                    return Err(input_error(
                        path,
                        Some(line_no),
                        None,
                        InputProblem::UnknownKey,
                    ));
                };
                self.row[i] = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) if s.len() > self.limits.max_cell_bytes => {
                        return Err(input_error(
                            path,
                            Some(line_no),
                            Some(&self.names[i]),
                            InputProblem::CellTooLarge {
                                limit: self.limits.max_cell_bytes as u64,
                            },
                        ));
                    }
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
    fn a_csv_read_for_some_columns_returns_the_others_as_nulls_unchecked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, b"mrn,note,zip\n0012,\xff\xfe bad,02139\n").unwrap();
        let mut r = TableReader::open(&p, Format::Csv, 10).unwrap();
        r.read_only(&[0, 2]);
        let b = r.next_batch().unwrap().unwrap();
        assert_eq!(b.num_columns(), 3);
        assert_eq!(b.column(0).as_string::<i32>().value(0), "0012");
        assert!(b.column(1).is_null(0));
        assert_eq!(b.column(2).as_string::<i32>().value(0), "02139");
        // read whole, the same file is refused for its bad cell
        assert!(read_all(&p, Format::Csv).is_err());
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

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn problem(r: Result<Vec<RecordBatch>>) -> InputProblem {
        match r {
            Err(Error::Input { problem, .. }) => problem,
            other => panic!("expected an input error, got {:?}", other.map(|b| b.len())),
        }
    }

    fn read_with(path: &Path, format: Format, options: &ReadOptions) -> Result<Vec<RecordBatch>> {
        TableReader::open_with(path, format, options, None)?.collect()
    }

    /// Header names of real schemas (OMOP CDM, MIMIC-IV, Synthea CSV, common exports): none
    /// may be taken for data by the shape rules.
    #[test]
    fn real_headers_are_not_data() {
        for name in [
            "person_id",
            "year_of_birth",
            "month_of_birth",
            "visit_start_date",
            "care_site_name",
            "subject_id",
            "hadm_id",
            "admittime",
            "dischtime",
            "icd9_code",
            "icd10_code",
            "Id",
            "BIRTHDATE",
            "DEATHDATE",
            "SSN",
            "DRIVERS",
            "PASSPORT",
            "PREFIX",
            "FIRST",
            "LAST",
            "MAIDEN",
            "MARITAL",
            "RACE",
            "ZIP",
            "LAT",
            "LON",
            "HEALTHCARE_EXPENSES",
            "Patient Name",
            "date_of_birth",
            "zip5",
            "address_line_1",
            "phone #",
            "e-mail",
            "Q1 2020",
            "hba1c_pct",
            "bp_sys",
            "O2 sat (%)",
            "weight (kg)",
        ] {
            assert!(!name_looks_like_data(name, None), "{name}");
        }
        for value in [
            "1956-02-17",
            "2/17/1956",
            "603-482-1193",
            "123-45-6789",
            "42",
            "3.5",
            "-1",
            "10:45",
            "ada@example.org",
            "https://x.org/a",
            "id\u{202e}gpj.exe",
            "id\x1b[2J",
            "MRN 0012345",
            &"note ".repeat(30),
        ] {
            assert!(name_looks_like_data(value, None), "{value}");
        }
    }

    #[test]
    fn a_header_that_looks_like_data_is_refused_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.csv",
            "Quillfeather,1956-02-17,603-482-1193\nStone,1960-01-01,603-111-2222\n",
        );
        let e = read_all(&p, Format::Csv).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("looks like data (column 2)"), "{text}");
        assert!(
            !text.contains("Quillfeather") && !text.contains("1956"),
            "{text}"
        );
        // read as data, with names given or by position
        let named = ReadOptions {
            header: Header::Absent {
                names: Some(vec!["name".into(), "dob".into(), "phone".into()]),
            },
            ..ReadOptions::new(10)
        };
        let b = read_with(&p, Format::Csv, &named).unwrap();
        assert_eq!(b[0].num_rows(), 2);
        assert_eq!(b[0].schema().field(1).name(), "dob");
        assert_eq!(b[0].column(0).as_string::<i32>().value(0), "Quillfeather");
        let positional = ReadOptions {
            header: Header::Absent { names: None },
            ..ReadOptions::new(10)
        };
        let b = read_with(&p, Format::Csv, &positional).unwrap();
        assert_eq!(b[0].schema().field(2).name(), "column_3");
        let wrong = ReadOptions {
            header: Header::Absent {
                names: Some(vec!["a".into()]),
            },
            ..ReadOptions::new(10)
        };
        assert_eq!(
            problem(read_with(&p, Format::Csv, &wrong)),
            InputProblem::ColumnNamesMismatch { given: 1, found: 3 }
        );
        // a duplicated header cell is named by position, not by its text
        let d = write(dir.path(), "d.csv", "Okafor,Okafor\n1,2\n");
        let text = read_all(&d, Format::Csv).unwrap_err().to_string();
        assert!(
            text.contains("column_2") && !text.contains("Okafor"),
            "{text}"
        );
        // JSONL keys and Parquet names are vetted too
        let j = write(
            dir.path(),
            "k.jsonl",
            "{\"id\":\"1\",\"603-482-1193\":\"x\"}\n",
        );
        assert_eq!(
            problem(read_all(&j, Format::Jsonl)),
            InputProblem::NameLooksLikeData { column: 2 }
        );
    }

    #[test]
    fn hostile_shapes_end_in_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let small = ReadOptions {
            limits: Limits {
                max_columns: 10,
                max_cell_bytes: 100,
                max_row_bytes: 1000,
            },
            ..ReadOptions::new(4)
        };
        let wide = write(
            dir.path(),
            "w.csv",
            &format!(
                "{}\n",
                (0..50)
                    .map(|i| format!("c{i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        );
        assert_eq!(
            problem(read_with(&wide, Format::Csv, &small)),
            InputProblem::TooManyColumns {
                found: 50,
                limit: 10
            }
        );
        let cell = write(
            dir.path(),
            "c.csv",
            &format!("id,note\n1,{}\n", "a".repeat(101)),
        );
        assert_eq!(
            problem(read_with(&cell, Format::Csv, &small)),
            InputProblem::CellTooLarge { limit: 100 }
        );
        // one record far over the row limit (a quote that never closes): refused while
        // reading, before it is all in memory
        let row = write(
            dir.path(),
            "r.csv",
            &format!("id,note\n1,\"{}\n", "b\n".repeat(200_000)),
        );
        assert_eq!(
            problem(read_with(&row, Format::Csv, &small)),
            InputProblem::RowTooLarge { limit: 1000 }
        );
        let line = write(
            dir.path(),
            "l.jsonl",
            &format!("{{\"a\":\"{}\"}}\n", "x".repeat(5000)),
        );
        assert_eq!(
            problem(read_with(&line, Format::Jsonl, &small)),
            InputProblem::RowTooLarge { limit: 1000 }
        );
        let jcell = write(
            dir.path(),
            "j.jsonl",
            &format!("{{\"a\":\"{}\"}}\n", "x".repeat(500)),
        );
        assert_eq!(
            problem(read_with(&jcell, Format::Jsonl, &small)),
            InputProblem::CellTooLarge { limit: 100 }
        );
    }

    #[test]
    fn a_quote_that_never_closes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // truncated inside a quoted field: the last field would swallow the rest
        let t = write(dir.path(), "t.csv", "id,note\n1,ok\n2,\"hello, trunc");
        assert_eq!(
            problem(read_all(&t, Format::Csv)),
            InputProblem::UnclosedQuote { line: 3 }
        );
        let t = write(dir.path(), "t2.csv", "id,note\n1,\"a\n2,b\n3,c\n");
        assert_eq!(
            problem(read_all(&t, Format::Csv)),
            InputProblem::UnclosedQuote { line: 2 }
        );
        // mid-file: named as a quote, with the line it opens on
        let m = write(
            dir.path(),
            "m.csv",
            "id,note,z\n1,\"hello,2\n2,ok,3\n3,x,4\n",
        );
        let p = problem(read_all(&m, Format::Csv));
        assert!(
            matches!(
                p,
                InputProblem::UnbalancedQuote {
                    line: 2,
                    expected: 3,
                    ..
                }
            ),
            "{p:?}"
        );
        // closed quotes, inch marks in unquoted fields and multi-line notes are fine
        let ok = write(
            dir.path(),
            "ok.csv",
            "id,note,h\n1,\"two\nlines, \"\"quoted\"\"\",5'10\"\n2,plain,6'\n",
        );
        assert_eq!(read_all(&ok, Format::Csv).unwrap()[0].num_rows(), 2);
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
