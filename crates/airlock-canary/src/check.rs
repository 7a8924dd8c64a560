//! `airlock canary check`: search files and trees for any trace of the canaries.
//!
//! Every file is read as bytes, in chunks, and searched twice with one Aho-Corasick automaton
//! each: once in its letters and digits only, lower-cased (so case changes, spacing and
//! punctuation do not hide a value), and once in its digit runs with the separators of
//! numbers removed (`(603) 482-1193`, `603.482.1193` and `6034821193` are one run; a value's
//! digits only count when the whole run is theirs, so a phone number is not found inside a
//! longer number). Parquet files are also read cell by cell, since their pages are compressed.
//! The needles of a value are its letters and digits, its digits alone, the parts of a name,
//! its other date layouts, and the hex SHA-256 and MD5 of the value as written, lower-cased
//! and as digits (naive hashing is not de-identification).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, MatchKind};
use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};

use airlock_core::error::{Error, Result};
use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, TableReader};

use airlock_core::phi::Location;
use airlock_text::known::FormKind;

use crate::{CanaryFile, Kind};

/// How a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Byte for byte as planted.
    AsWritten,
    /// With its case, spacing or punctuation changed.
    Reformatted,
    /// Its digits, without the rest.
    DigitsOnly,
    /// One part of a name.
    NamePart,
    /// The same date written another way.
    OtherDateLayout,
    /// The hex SHA-256 of the value (as written, lower-cased, or its digits).
    Sha256,
    /// The hex MD5 of the value.
    Md5,
}

impl Form {
    pub fn describe(self) -> &'static str {
        match self {
            Self::AsWritten => "as written",
            Self::Reformatted => "case, spacing or punctuation changed",
            Self::DigitsOnly => "digits only",
            Self::NamePart => "part of the name",
            Self::OtherDateLayout => "the date in another layout",
            Self::Sha256 => "unkeyed SHA-256",
            Self::Md5 => "unkeyed MD5",
        }
    }
}

/// Shortest needle of letters and digits (with at least one letter) that is searched.
pub const MIN_LETTERS: usize = 6;
/// Fewest digits for a digits-only needle (six for a date in another layout).
pub const MIN_DIGITS: usize = 7;
/// Locations kept per file (counts are complete).
pub const MAX_LOCATIONS: usize = 1000;

/// One searched value.
#[derive(Debug, Clone)]
struct Target {
    canary: String,
    column: Option<String>,
    kind: Kind,
    value: String,
}

#[derive(Debug, Clone, Copy)]
struct Needle {
    target: usize,
    form: Form,
}

/// The compiled search over a canary file's values.
pub struct Searcher {
    targets: Vec<Target>,
    letters: AhoCorasick,
    letter_needles: Vec<Vec<Needle>>,
    digits: AhoCorasick,
    digit_needles: Vec<Vec<Needle>>,
    /// Values with no needle long enough to search.
    pub not_searchable: Vec<(String, Option<String>, Kind)>,
}

fn letters_of(s: &str) -> String {
    s.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Characters that numbers are written with: removed from the digit stream.
fn is_number_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'-' | b'.' | b'(' | b')' | b'/' | b'+')
}

fn hex_sha256(s: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(s.as_bytes()))
}

fn hex_md5(s: &str) -> String {
    data_encoding::HEXLOWER.encode(&Md5::digest(s.as_bytes()))
}

/// The patterns of one automaton; a pattern shared by values of different canaries (two
/// patients with one surname) reports each of them.
#[derive(Default)]
struct Patterns {
    pats: Vec<String>,
    needles: Vec<Vec<Needle>>,
    index: HashMap<String, usize>,
}

impl Patterns {
    fn add(&mut self, p: String, needle: Needle, targets: &[Target], canary: &str) {
        match self.index.get(&p) {
            Some(&i) => {
                let list = &mut self.needles[i];
                if !list.iter().any(|n| targets[n.target].canary == canary) {
                    list.push(needle);
                }
            }
            None => {
                self.index.insert(p.clone(), self.pats.len());
                self.pats.push(p);
                self.needles.push(vec![needle]);
            }
        }
    }

    fn build(&self) -> Result<AhoCorasick> {
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&self.pats)
            .map_err(|e| Error::Write {
                path: PathBuf::from("canary search"),
                reason: e.to_string(),
            })
    }
}

impl Searcher {
    /// Compiles the needles of every searched value of `file`.
    pub fn new(file: &CanaryFile) -> Result<Self> {
        let mut targets: Vec<Target> = Vec::new();
        let mut letters = Patterns::default();
        let mut digits = Patterns::default();
        let mut not_searchable = Vec::new();
        for (canary, planted, kind) in file.searched() {
            let t = targets.len();
            targets.push(Target {
                canary: canary.id.clone(),
                column: planted.column.clone(),
                kind,
                value: planted.value.clone(),
            });
            let value = planted.value.as_str();
            // the forms of a value are the record-aware scrubber's (one implementation): the
            // whole value, each part of a name or place, the digits of a number
            let mut letter_forms = Vec::new();
            let mut digit_forms = Vec::new();
            for f in airlock_text::known::forms(kind, value) {
                match f.kind {
                    FormKind::Whole => letter_forms.push((letters_of(&f.text), Form::Reformatted)),
                    FormKind::NamePart => letter_forms.push((letters_of(&f.text), Form::NamePart)),
                    FormKind::Digits => digit_forms.push((f.text, Form::DigitsOnly)),
                    FormKind::DateDigits => digit_forms.push((f.text, Form::OtherDateLayout)),
                    FormKind::DateWords => {
                        letter_forms.push((letters_of(&f.text), Form::OtherDateLayout));
                    }
                }
            }
            let d = digits_of(value);
            if matches!(kind, Kind::Phone | Kind::Fax) && d.len() == 10 {
                digit_forms.push((format!("1{d}"), Form::DigitsOnly)); // +1 (603) ...
            }
            letter_forms.retain(|(p, _)| {
                p.len() >= MIN_LETTERS && p.bytes().any(|b| b.is_ascii_alphabetic())
            });
            // a date's digits are a whole run of their own ("2/9/2023" is |292023|): six do
            digit_forms.retain(|(p, form)| {
                p.len() >= MIN_DIGITS || *form == Form::OtherDateLayout && p.len() >= 6
            });
            if letter_forms.is_empty() && digit_forms.is_empty() {
                // too short to tell from real data; a hash of it would find only itself
                not_searchable.push((canary.id.clone(), planted.column.clone(), kind));
                continue;
            }
            let mut hashed = vec![value.to_owned(), value.trim().to_lowercase()];
            if d.len() >= MIN_DIGITS {
                hashed.push(d);
            }
            for h in hashed {
                letter_forms.push((hex_sha256(&h), Form::Sha256));
                letter_forms.push((hex_md5(&h), Form::Md5));
            }
            for (p, form) in letter_forms {
                letters.add(p, Needle { target: t, form }, &targets, &canary.id);
            }
            for (p, form) in digit_forms {
                digits.add(
                    format!("|{p}|"),
                    Needle { target: t, form },
                    &targets,
                    &canary.id,
                );
            }
        }
        Ok(Self {
            letters: letters.build()?,
            digits: digits.build()?,
            letter_needles: letters.needles,
            digit_needles: digits.needles,
            targets,
            not_searchable,
        })
    }

    /// Values searched.
    pub fn targets(&self) -> usize {
        self.targets.len()
    }

    /// Needles searched (all forms of all values).
    pub fn needles(&self) -> usize {
        self.letter_needles.iter().map(Vec::len).sum::<usize>()
            + self.digit_needles.iter().map(Vec::len).sum::<usize>()
    }

    /// Searches `data`; `starts_clean` says whether a digit run may start at its first byte
    /// (true at the start of a file or value), `ends_clean` the same at its end.
    fn search(
        &self,
        data: &[u8],
        starts_clean: bool,
        ends_clean: bool,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        scratch.fill(data, starts_clean, ends_clean);
        let mut found = Vec::new();
        for m in self.letters.find_overlapping_iter(&scratch.letters[..]) {
            let start = scratch.letter_pos[m.start()] as usize;
            let end = scratch.letter_pos[m.end() - 1] as usize + 1;
            for needle in &self.letter_needles[m.pattern().as_usize()] {
                found.push((*needle, start, end));
            }
        }
        for m in self.digits.find_overlapping_iter(&scratch.digits[..]) {
            // the pattern is |digits|: the hit is the digits between the bounds
            let start = scratch.digit_pos[m.start() + 1] as usize;
            let end = scratch.digit_pos[m.end() - 2] as usize + 1;
            for needle in &self.digit_needles[m.pattern().as_usize()] {
                found.push((*needle, start, end));
            }
        }
        // one hit per value and place: the longest form found there
        found.sort_by_key(|(n, s, e)| (n.target, *s, std::cmp::Reverse(*e)));
        let mut last: Option<(usize, usize)> = None;
        for (needle, start, end) in found {
            if let Some((t, e)) = last
                && t == needle.target
                && start < e
            {
                continue;
            }
            last = Some((needle.target, end));
            let target = &self.targets[needle.target];
            let form = if &data[start..end] == target.value.as_bytes() {
                Form::AsWritten
            } else {
                needle.form
            };
            out.push(RawHit {
                target: needle.target,
                form,
                start,
                end,
            });
        }
    }

    /// The hit of `raw` in `place` (a line or cell), `offset` bytes into it.
    fn hit(&self, raw: &RawHit, place: Location, offset: u64) -> Hit {
        let t = &self.targets[raw.target];
        Hit {
            canary: t.canary.clone(),
            field: t.column.clone(),
            kind: t.kind,
            form: raw.form,
            at: Location {
                offset,
                length: (raw.end - raw.start) as u64,
                ..place
            },
        }
    }
}

struct RawHit {
    target: usize,
    form: Form,
    start: usize,
    end: usize,
}

/// The two normalized streams of a buffer, with each byte's offset in the buffer.
#[derive(Default)]
struct Scratch {
    letters: Vec<u8>,
    letter_pos: Vec<u32>,
    digits: Vec<u8>,
    digit_pos: Vec<u32>,
}

impl Scratch {
    fn fill(&mut self, data: &[u8], starts_clean: bool, ends_clean: bool) {
        self.letters.clear();
        self.letter_pos.clear();
        self.digits.clear();
        self.digit_pos.clear();
        if starts_clean {
            self.digits.push(b'|');
            self.digit_pos.push(0);
        }
        for (i, &b) in data.iter().enumerate() {
            if b.is_ascii_alphanumeric() {
                self.letters.push(b.to_ascii_lowercase());
                self.letter_pos.push(i as u32);
            }
            if b.is_ascii_digit() {
                self.digits.push(b);
                self.digit_pos.push(i as u32);
            } else if !is_number_separator(b) && self.digits.last() != Some(&b'|') {
                self.digits.push(b'|');
                self.digit_pos.push(i as u32);
            }
        }
        if ends_clean && self.digits.last() != Some(&b'|') {
            self.digits.push(b'|');
            self.digit_pos.push(data.len() as u32);
        }
    }
}

/// Where a canary value was found, and how; never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The canary's id.
    pub canary: String,
    /// The column it was planted in (none for an identifier planted only inside a note).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub kind: Kind,
    pub form: Form,
    /// The line of a file read as bytes (offset in the file), or the row and column of a
    /// table read cell by cell (offset in the cell).
    #[serde(flatten)]
    pub at: Location,
}

/// What one file held.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileHits {
    pub path: PathBuf,
    /// `bytes`, or `parquet cells and bytes`.
    pub read_as: &'static str,
    pub hits: u64,
    /// The first [`MAX_LOCATIONS`] hits.
    pub locations: Vec<Hit>,
}

/// The whole check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub canaries: usize,
    /// Values searched, and the needles (forms) searched for them.
    pub values_searched: usize,
    pub needles: usize,
    /// Values recorded but not searched (too short to tell apart, or marked so at planting).
    pub values_not_searched: usize,
    pub files_searched: u64,
    pub bytes: u64,
    /// Files with hits, in path order.
    pub files: Vec<FileHits>,
    /// What was left out, and why.
    pub skipped: Vec<(PathBuf, &'static str)>,
    pub hits: u64,
    pub hits_by_canary: BTreeMap<String, u64>,
    pub hits_by_kind: BTreeMap<Kind, u64>,
}

const CHUNK: usize = 4 << 20;
const OVERLAP: usize = 16 << 10;

/// Searches every path (files, and directories recursively; `.git` folders and symbolic links
/// are not followed; `exclude` files, such as the canary file itself, are left out).
pub fn check_paths(
    canaries: &CanaryFile,
    paths: &[PathBuf],
    exclude: &[PathBuf],
    progress: &mut dyn FnMut(u64),
) -> Result<CheckReport> {
    let searcher = Searcher::new(canaries)?;
    let mut report = CheckReport {
        canaries: canaries.canaries.len(),
        values_searched: searcher.targets() - searcher.not_searchable.len(),
        needles: searcher.needles(),
        values_not_searched: canaries
            .canaries
            .iter()
            .flat_map(|c| &c.values)
            .filter(|v| !v.search && v.kind.is_some())
            .count()
            + searcher.not_searchable.len(),
        ..CheckReport::default()
    };
    let files = airlock_core::walk::collect_files(paths, &[".git"], &mut report.skipped)?;
    let mut scratch = Scratch::default();
    for path in files {
        if exclude
            .iter()
            .any(|e| airlock_core::output::same_file(e, &path))
        {
            report.skipped.push((path, "the canary file itself"));
            continue;
        }
        let f = check_file(&searcher, &path, &mut scratch)?;
        report.files_searched += 1;
        report.bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        progress(report.bytes);
        if f.hits > 0 {
            report.hits += f.hits;
            for h in &f.locations {
                *report.hits_by_canary.entry(h.canary.clone()).or_default() += 1;
                *report.hits_by_kind.entry(h.kind).or_default() += 1;
            }
            report.files.push(f);
        }
    }
    Ok(report)
}

fn is_parquet(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("parquet" | "pq")
    )
}

/// Searches one file as bytes (and a Parquet file cell by cell as well).
fn check_file(searcher: &Searcher, path: &Path, scratch: &mut Scratch) -> Result<FileHits> {
    let mut file = FileHits {
        path: path.to_path_buf(),
        read_as: "bytes",
        ..FileHits::default()
    };
    let push = |file: &mut FileHits, hit: Hit| {
        file.hits += 1;
        if file.locations.len() < MAX_LOCATIONS {
            file.locations.push(hit);
        }
    };
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + OVERLAP);
    let mut base = 0u64; // file offset of buf[0]
    let mut lines_before = 0u64; // newlines in the file before buf[0]
    let mut line_start = 0u64; // file offset of the line that buf[0] is in
    let mut raw = Vec::new();
    loop {
        let old = buf.len();
        buf.resize(old + CHUNK, 0);
        let mut filled = old;
        while filled < buf.len() {
            let n = f
                .read(&mut buf[filled..])
                .map_err(|e| Error::io("read", path, e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let eof = filled < buf.len();
        buf.truncate(filled);
        raw.clear();
        searcher.search(&buf, base == 0, eof, scratch, &mut raw);
        // the last OVERLAP bytes are searched again with the next chunk: hits starting there
        // are reported then, whole
        let keep_from = if eof {
            buf.len()
        } else {
            buf.len().saturating_sub(OVERLAP)
        };
        for r in raw.iter().filter(|r| eof || r.start < keep_from) {
            let before = &buf[..r.start];
            let line = lines_before + count_newlines(before) + 1;
            // offsets are within the line, as in every other report of a line
            let start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(line_start, |nl| base + nl as u64 + 1);
            let offset = base + r.start as u64 - start;
            push(&mut file, searcher.hit(r, Location::line(line), offset));
        }
        if eof {
            break;
        }
        lines_before += count_newlines(&buf[..keep_from]);
        if let Some(nl) = buf[..keep_from].iter().rposition(|&b| b == b'\n') {
            line_start = base + nl as u64 + 1;
        }
        base += keep_from as u64;
        buf.drain(..keep_from);
    }
    if is_parquet(path) {
        file.read_as = "parquet cells and bytes";
        let mut reader = TableReader::open(path, Format::Parquet, DEFAULT_BATCH_SIZE)?;
        let schema = reader.schema();
        let mut row0 = 0u64;
        while let Some(batch) = reader.next_batch()? {
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                let Ok(text) = arrow_cast::cast(column, &DataType::Utf8) else {
                    continue;
                };
                let text = text.as_string::<i32>();
                for (i, v) in text.iter().enumerate() {
                    let Some(v) = v else { continue };
                    raw.clear();
                    searcher.search(v.as_bytes(), true, true, scratch, &mut raw);
                    for r in &raw {
                        let at = Location::cell(row0 + i as u64 + 1, field.name().as_str());
                        push(&mut file, searcher.hit(r, at, r.start as u64));
                    }
                }
            }
            row0 += batch.num_rows() as u64;
        }
    }
    Ok(file)
}

fn count_newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// Searches one string (a note, a log line) and returns its hits, for callers that hold text.
pub fn check_text(searcher: &Searcher, text: &str) -> Vec<Hit> {
    let mut scratch = Scratch::default();
    let mut raw = Vec::new();
    searcher.search(text.as_bytes(), true, true, &mut scratch, &mut raw);
    raw.iter()
        .map(|r| searcher.hit(r, Location::default(), r.start as u64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Canary, Planted};

    fn file(values: &[(Kind, &str)]) -> CanaryFile {
        CanaryFile::new(vec![Canary {
            id: "canary-01".into(),
            row: None,
            values: values
                .iter()
                .map(|(k, v)| Planted {
                    column: Some(k.tag().into()),
                    kind: Some(*k),
                    value: (*v).into(),
                    search: true,
                })
                .collect(),
        }])
    }

    fn forms(values: &[(Kind, &str)], text: &str) -> Vec<(Kind, Form)> {
        let s = Searcher::new(&file(values)).unwrap();
        check_text(&s, text)
            .into_iter()
            .map(|h| (h.kind, h.form))
            .collect()
    }

    #[test]
    fn finds_values_and_their_easy_transforms() {
        let v = [
            (Kind::Name, "Vorandel Quisthorpe"),
            (Kind::Phone, "(603) 482-1193"),
            (Kind::Ssn, "528-41-9930"),
            (Kind::Date, "1956-02-17"),
            (Kind::Email, "vorandel.q48@brenmail.net"),
        ];
        use Form::*;
        use Kind as K;
        assert_eq!(forms(&v, "x Vorandel Quisthorpe y"), [(K::Name, AsWritten)]);
        assert_eq!(forms(&v, "VORANDEL_QUISTHORPE"), [(K::Name, Reformatted)]);
        assert_eq!(forms(&v, "dear quisthorpe,"), [(K::Name, NamePart)]);
        assert_eq!(forms(&v, "tel 603.482.1193"), [(K::Phone, DigitsOnly)]);
        assert_eq!(forms(&v, "+1 6034821193"), [(K::Phone, DigitsOnly)]);
        assert_eq!(forms(&v, "ssn=528419930;"), [(K::Ssn, DigitsOnly)]);
        assert_eq!(forms(&v, "born 02/17/1956"), [(K::Date, OtherDateLayout)]);
        assert_eq!(
            forms(&v, "born February 17, 1956"),
            [(K::Date, OtherDateLayout)]
        );
        assert_eq!(forms(&v, "19560217"), [(K::Date, DigitsOnly)]);
        assert_eq!(forms(&v, "on 2/17/56"), []);
        let jan11 = [(Kind::Date, "1956-01-11")];
        assert_eq!(forms(&jan11, "01/11/1956"), [(K::Date, OtherDateLayout)]);
        // 1/11/1956 and 11/1/1956 are both 1111956: that layout is not searched
        assert_eq!(forms(&jan11, "11/1/1956"), []);
        // the first name inside the address is a leak of its own
        assert_eq!(
            forms(&v, "Vorandel.Q48@BrenMail.net"),
            [(K::Name, NamePart), (K::Email, Reformatted)]
        );
        let sha = hex_sha256("528-41-9930").to_uppercase();
        assert_eq!(forms(&v, &format!("h={sha}")), [(K::Ssn, Sha256)]);
        let md5 = hex_md5("vorandel quisthorpe");
        assert_eq!(forms(&v, &md5), [(K::Name, Md5)]);
        let digits_sha = hex_sha256("6034821193");
        assert_eq!(forms(&v, &digits_sha), [(K::Phone, Sha256)]);
    }

    #[test]
    fn digit_runs_must_be_whole_and_short_values_are_not_searched() {
        let v = [(Kind::Phone, "603-482-1193"), (Kind::Zip, "03812")];
        assert!(forms(&v, "id 96034821193").is_empty());
        assert!(forms(&v, "60348211934").is_empty());
        assert!(forms(&v, "zip 03812").is_empty());
        let s = Searcher::new(&file(&v)).unwrap();
        assert_eq!(s.not_searchable.len(), 1);
        assert_eq!(s.not_searchable[0].2, Kind::Zip);
    }

    #[test]
    fn chunk_edges_neither_lose_nor_repeat_hits() {
        let dir = tempfile::tempdir().unwrap();
        let canaries = file(&[(Kind::Name, "Vorandel Quisthorpe")]);
        for at in [0, CHUNK - 10, CHUNK - 3, CHUNK, CHUNK + 5, 2 * CHUNK - 9] {
            let mut bytes = vec![b'.'; 2 * CHUNK + 100];
            bytes[at..at + 19].copy_from_slice(b"Vorandel Quisthorpe");
            // newlines in the first chunk only: a hit in a later chunk counts its offset from
            // a line start that chunk does not hold
            let newlines = [100, CHUNK - 50];
            for nl in newlines {
                if !(at..at + 19).contains(&nl) {
                    bytes[nl] = b'\n';
                }
            }
            let p = dir.path().join("big.log");
            std::fs::write(&p, &bytes).unwrap();
            let r = check_paths(&canaries, std::slice::from_ref(&p), &[], &mut |_| {}).unwrap();
            assert_eq!(r.hits, 1, "at {at}");
            let h = &r.files[0].locations[0];
            let before: Vec<usize> = newlines.into_iter().filter(|&nl| nl < at).collect();
            let line_start = before.last().map_or(0, |nl| nl + 1);
            assert_eq!(h.at.offset, (at - line_start) as u64, "at {at}");
            assert_eq!(h.at.line, Some(before.len() as u64 + 1), "at {at}");
            assert_eq!(h.form, Form::AsWritten);
        }
    }
}
