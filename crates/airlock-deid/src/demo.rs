//! The demo hospital: a deterministic synthetic extract of patients and encounters, with every
//! kind of identifier a real extract has (names, MRN, SSN, birth date, street, ZIP, phone,
//! e-mail) and short notes with identifiers embedded in them. The people are fictional.
//!
//! The same seed always gives the same bytes, so the demo, the tests and the benchmark share
//! one generator. Rows stream out in batches: generating 5 million rows takes little memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use airlock_core::error::Result;
use airlock_core::keys::WorkspaceSecret;
use airlock_core::manifest::Findings;
use airlock_core::output::AtomicOutput;
use airlock_core::policy::Policy;
use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, TableReader, TableWriter, WriteSummary};
use airlock_core::text::TextScrubber;

use crate::engine::{Scan, scan_column, scan_scope};

/// The columns of the demo encounters table, in order (15 columns).
pub const ENCOUNTER_COLUMNS: [&str; 15] = [
    "mrn",
    "patient_name",
    "ssn",
    "birth_date",
    "street",
    "zip",
    "phone",
    "email",
    "sex",
    "age",
    "admit_date",
    "discharge_time",
    "icd10",
    "hba1c",
    "note",
];

/// The policy that goes with the demo table.
pub const DEMO_POLICY: &str = include_str!("../data/demo-policy.toml");

/// The seed `airlock demo` uses.
pub const DEMO_SEED: u64 = 20_261_123;

const ICD10: [&str; 12] = [
    "E11.9", "I10", "J45.909", "N18.3", "I50.9", "E78.5", "F32.9", "K21.9", "M54.5", "J44.1",
    "I25.10", "E66.9",
];

const DIAGNOSES: [&str; 6] = [
    "CHF exacerbation",
    "poorly controlled diabetes",
    "COPD flare",
    "chest pain",
    "pneumonia",
    "fall at home",
];

struct Lists {
    first: Vec<&'static str>,
    last: Vec<&'static str>,
    places: Vec<(&'static str, &'static str, &'static str)>,
    streets: Vec<&'static str>,
}

fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Lists {
    fn load() -> Self {
        let names = include_str!("../data/demo-names.txt");
        Self {
            first: data_lines(names)
                .filter_map(|l| l.strip_prefix("first:"))
                .collect(),
            last: data_lines(names)
                .filter_map(|l| l.strip_prefix("last:"))
                .collect(),
            places: data_lines(include_str!("../data/demo-places.txt"))
                .filter_map(|l| {
                    let mut it = l.split(',');
                    Some((it.next()?, it.next()?, it.next()?))
                })
                .collect(),
            streets: data_lines(include_str!("../data/demo-streets.txt")).collect(),
        }
    }
}

/// One synthetic patient, derived from the seed and the patient number alone.
struct Patient {
    mrn: String,
    first: &'static str,
    last: &'static str,
    ssn: String,
    birth: NaiveDate,
    street: String,
    state: &'static str,
    zip: &'static str,
    phone: String,
    email: String,
    female: bool,
    doctor: &'static str,
}

impl Patient {
    fn new(lists: &Lists, seed: u64, number: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let first = lists.first[rng.random_range(0..lists.first.len())];
        let last = lists.last[rng.random_range(0..lists.last.len())];
        let (_, state, zip) = lists.places[rng.random_range(0..lists.places.len())];
        let mut area = rng.random_range(1..900);
        if area == 666 {
            area = 667;
        }
        let birth = NaiveDate::from_ymd_opt(1922, 1, 1).expect("valid date")
            + Days::new(rng.random_range(0..32_000));
        Self {
            mrn: format!("{:08}", 1_000_000 + number),
            first,
            last,
            ssn: format!(
                "{area:03}-{:02}-{:04}",
                rng.random_range(1..100),
                rng.random_range(1..10_000)
            ),
            birth,
            street: format!(
                "{} {}",
                rng.random_range(1..2000),
                lists.streets[rng.random_range(0..lists.streets.len())]
            ),
            state,
            zip,
            phone: format!(
                "{}{:02}-{}{:02}-{:04}",
                rng.random_range(2..10),
                rng.random_range(0..100),
                rng.random_range(2..10),
                rng.random_range(0..100),
                rng.random_range(0..10_000)
            ),
            email: format!(
                "{}.{}{}@mail.com",
                first.to_ascii_lowercase(),
                last.to_ascii_lowercase(),
                rng.random_range(1..100)
            ),
            female: rng.random_bool(0.52),
            doctor: lists.last[rng.random_range(0..lists.last.len())],
        }
    }
}

/// The schema of the demo table: all text, like a CSV extract.
pub fn encounter_schema() -> SchemaRef {
    Arc::new(Schema::new(
        ENCOUNTER_COLUMNS
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// Streams `rows` synthetic encounters as record batches.
pub struct EncounterGenerator {
    lists: Lists,
    seed: u64,
    rng: ChaCha8Rng,
    patients: u64,
    remaining: u64,
    schema: SchemaRef,
}

impl EncounterGenerator {
    /// `rows` encounters of about `rows / 4` patients.
    pub fn new(rows: u64, seed: u64) -> Self {
        Self {
            lists: Lists::load(),
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            patients: (rows / 4).max(1),
            remaining: rows,
            schema: encounter_schema(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch of up to `size` rows.
    pub fn next_batch(&mut self, size: usize) -> Option<RecordBatch> {
        if self.remaining == 0 {
            return None;
        }
        let n = self.remaining.min(size as u64) as usize;
        self.remaining -= n as u64;
        let mut cols: Vec<StringBuilder> = ENCOUNTER_COLUMNS
            .iter()
            .map(|c| StringBuilder::with_capacity(n, n * if *c == "note" { 160 } else { 16 }))
            .collect();
        let start = NaiveDate::from_ymd_opt(2019, 1, 1).expect("valid date");
        let mut note = String::with_capacity(256);
        for _ in 0..n {
            let number = self.rng.random_range(0..self.patients);
            let p = Patient::new(&self.lists, self.seed, number);
            let admit = start + Days::new(self.rng.random_range(0..2190));
            let discharge = admit + Days::new(self.rng.random_range(0..12));
            let age = admit.years_since(p.birth).unwrap_or(0);
            let hba1c = f64::from(self.rng.random_range(45u32..120)) / 10.0;
            let nulls = self.rng.random_range(0..50) == 0;
            let values: [Option<String>; 14] = [
                Some(p.mrn.clone()),
                Some(format!("{} {}", p.first, p.last)),
                Some(p.ssn.clone()),
                Some(p.birth.format("%Y-%m-%d").to_string()),
                Some(p.street.clone()),
                Some(p.zip.to_owned()),
                (!nulls).then(|| p.phone.clone()),
                (!nulls).then(|| p.email.clone()),
                Some(if p.female { "F" } else { "M" }.to_owned()),
                Some(age.to_string()),
                Some(admit.format("%Y-%m-%d").to_string()),
                Some(format!(
                    "{}T{:02}:{:02}:00",
                    discharge.format("%Y-%m-%d"),
                    self.rng.random_range(6..22),
                    self.rng.random_range(0..60)
                )),
                Some(ICD10[self.rng.random_range(0..ICD10.len())].to_owned()),
                Some(format!("{hba1c:.1}")),
            ];
            for (b, v) in cols.iter_mut().zip(values) {
                b.append_option(v);
            }
            note.clear();
            self.write_note(&p, admit, age, hba1c, &mut note);
            cols[14].append_value(&note);
        }
        let arrays: Vec<ArrayRef> = cols
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        Some(RecordBatch::try_new(self.schema.clone(), arrays).expect("builders match the schema"))
    }

    fn write_note(
        &mut self,
        p: &Patient,
        admit: NaiveDate,
        age: u32,
        hba1c: f64,
        out: &mut String,
    ) {
        let title = if p.female { "Ms." } else { "Mr." };
        let who = if p.female { "woman" } else { "man" };
        let dx = DIAGNOSES[self.rng.random_range(0..DIAGNOSES.len())];
        let us = format!("{}/{}/{}", admit.month(), admit.day(), admit.year());
        let r = match self.rng.random_range(0..4) {
            0 => write!(
                out,
                "{title} {} is a {age} y/o {who} admitted {us} for {dx}. SSN {} on file. Call {} with results.",
                p.last, p.ssn, p.phone
            ),
            1 => write!(
                out,
                "Seen by Dr. {} on {}. Pt reachable at {}. MRN: {}. Address on file: {}, {} {}.",
                p.doctor,
                admit.format("%Y-%m-%d"),
                p.email,
                p.mrn,
                p.street,
                p.state,
                p.zip
            ),
            2 => write!(
                out,
                "Follow-up {us}: HbA1c {hba1c:.1}%, BP 128/82, HR 74, RR 16. Metformin 500 mg bid. Plan per Dr. {}.",
                p.doctor
            ),
            _ => write!(
                out,
                "Discharge summary for {title} {} {}. Admitted {us}; daughter to call {} about follow-up.",
                p.first, p.last, p.phone
            ),
        };
        r.expect("writing to a String cannot fail");
    }
}

/// Writes `rows` synthetic encounters to `path` (atomically, replacing an older file).
pub fn write_encounters(path: &Path, format: Format, rows: u64, seed: u64) -> Result<WriteSummary> {
    let out = AtomicOutput::create(path, true)?;
    let mut generator = EncounterGenerator::new(rows, seed);
    let mut writer = TableWriter::new(out.file()?, path, format, generator.schema())?;
    while let Some(batch) = generator.next_batch(DEFAULT_BATCH_SIZE) {
        writer.write(&batch)?;
    }
    let summary = writer.finish()?;
    out.commit()?;
    Ok(summary)
}

/// Scans every text column of a table file for residual identifiers. With a policy, each
/// column is scanned as its action calls for ([`scan_scope`]): values the policy itself wrote
/// (tokens, shifted dates) are not findings. Without one, every column and kind counts.
pub fn scan_table(
    path: &Path,
    format: Format,
    scrubber: &dyn TextScrubber,
    policy: Option<&Policy>,
) -> Result<Findings> {
    let mut reader = TableReader::open(path, format, DEFAULT_BATCH_SIZE)?;
    let schema = reader.schema();
    let scopes: Vec<Scan> = schema
        .fields()
        .iter()
        .map(|f| match policy {
            None => Scan::All,
            Some(p) => p
                .fields
                .get(f.name())
                .map_or(Scan::All, |fl| scan_scope(&fl.action)),
        })
        .collect();
    let mut findings = Findings {
        scanner: scrubber.name().into(),
        scanned_columns: schema
            .fields()
            .iter()
            .zip(&scopes)
            .filter(|(_, s)| **s != Scan::No)
            .map(|(f, _)| f.name().clone())
            .collect(),
        ..Findings::default()
    };
    let skip = scrubber.opaque_surrogate_kinds();
    while let Some(batch) = reader.next_batch()? {
        for ((field, column), scope) in schema.fields().iter().zip(batch.columns()).zip(&scopes) {
            if *scope == Scan::No {
                continue;
            }
            if let Some(text) = arrow_array::cast::AsArray::as_string_opt::<i32>(&**column) {
                scan_column(
                    scrubber,
                    text,
                    field.name(),
                    *scope,
                    skip,
                    &rustc_hash::FxHashSet::default(),
                    &mut findings,
                );
            }
        }
    }
    Ok(findings)
}

/// The demo's inputs, written: the synthetic extract, the policy and the workspace key.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub extract: PathBuf,
    pub policy: PathBuf,
    pub key: PathBuf,
    pub generate_seconds: f64,
}

/// Writes `rows` synthetic encounters to `dir/raw/extract.csv`, the demo policy to
/// `dir/policy.toml`, and a workspace key to `dir/.airlock/secret` if there is none. The run
/// itself is `airlock_run::demo`.
pub fn prepare(dir: &Path, rows: u64) -> Result<Prepared> {
    let start = Instant::now();
    let io = |action, p: &Path, e| airlock_core::Error::io(action, p, e);
    for sub in ["raw", "deid"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| io("create", &dir.join(sub), e))?;
    }
    let extract = dir.join("raw").join("extract.csv");
    write_encounters(&extract, Format::Csv, rows, DEMO_SEED)?;
    let generate_seconds = start.elapsed().as_secs_f64();
    let policy = dir.join("policy.toml");
    airlock_core::output::write_atomic(&policy, DEMO_POLICY.as_bytes(), true)?;
    let key = dir
        .join(airlock_core::keys::WORKSPACE_DIR)
        .join(airlock_core::keys::SECRET_FILE);
    if !key.exists() {
        WorkspaceSecret::create(&key)?;
    }
    Ok(Prepared {
        extract,
        policy,
        key,
        generate_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;

    #[test]
    fn generator_is_deterministic_and_complete() {
        let a = EncounterGenerator::new(500, 7).next_batch(500).unwrap();
        let b = EncounterGenerator::new(500, 7).next_batch(500).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.num_columns(), 15);
        assert_eq!(a.num_rows(), 500);
        let c = EncounterGenerator::new(500, 8).next_batch(500).unwrap();
        assert_ne!(a, c);
        let ages = a.column_by_name("age").unwrap().as_string::<i32>();
        assert!(
            ages.iter()
                .flatten()
                .any(|v| v.parse::<u32>().unwrap() >= 90)
        );
        let zips = a.column_by_name("zip").unwrap().as_string::<i32>();
        assert!(zips.iter().flatten().any(|z| z.starts_with("036")));
    }

    #[test]
    fn demo_policy_classifies_every_column() {
        let p = Policy::parse(DEMO_POLICY, Path::new("demo-policy.toml")).unwrap();
        for c in ENCOUNTER_COLUMNS {
            assert!(p.fields.contains_key(c), "{c}");
        }
        assert_eq!(p.fields.len(), ENCOUNTER_COLUMNS.len());
    }
}
