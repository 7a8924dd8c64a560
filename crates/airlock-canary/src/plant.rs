//! `airlock canary plant`: add canary patients to a raw table.
//!
//! Two passes over the input: the first learns each column's shape (a few values to imitate)
//! and the years its date columns span; the second copies the table with the canary rows
//! inserted at random places. Each canary gets new values in every column the policy marks
//! identifying (direct and quasi-identifiers, dates), written in the shape the column uses
//! (`(603) 482-1193` or `603-482-1193`, `1956-02-17` or `2/17/1956`, "Last, First"), a note
//! with every kind of identifier in every free-text column, and values copied from real rows
//! elsewhere. Canary dates fall outside the years the data spans (by more than the policy's
//! date shift), so that no real date, shifted or not, can be mistaken for one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_cast::CastOptions;
use arrow_schema::{DataType, SchemaRef};
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use airlock_core::error::{Error, Result};
use airlock_core::output::AtomicOutput;
use airlock_core::policy::{Action, FieldClass, Policy, Unclassified};
use airlock_core::table::{DEFAULT_BATCH_SIZE, Format, ReadOptions, TableReader, TableWriter};
use airlock_deid::dates::{DateParser, DateStyle, push_date, year_of_text};
use airlock_deid::profile::{hints, identifier_kind};

use crate::identity::{Identity, digits};
use crate::{Canary, CanaryFile, FileRef, Kind, Planted};

/// How many canaries, and the seed (random when none).
#[derive(Debug, Clone)]
pub struct PlantOptions {
    pub count: usize,
    pub seed: Option<u64>,
    pub force: bool,
}

impl Default for PlantOptions {
    fn default() -> Self {
        Self {
            count: 10,
            seed: None,
            force: false,
        }
    }
}

/// What a canary row holds in one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnPlan {
    /// A value copied from a real row (not identifying).
    Copy,
    /// A canary note with every kind of identifier.
    FreeText,
    /// A canary date, in the column's layout.
    Date,
    /// A new identifier of this kind, in the column's shape.
    Value(Kind),
}

/// What `plant_table` did.
#[derive(Debug, Clone, Serialize)]
pub struct PlantReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub canary_file: PathBuf,
    pub input_rows: u64,
    pub output_rows: u64,
    pub canaries: usize,
    /// Values recorded, and how many of them will be searched.
    pub values: usize,
    pub searched: usize,
    /// Per column: what the canary rows hold there.
    pub columns: Vec<(String, ColumnPlan)>,
    /// The years canary dates were drawn from.
    pub date_years: (i32, i32),
}

/// What the first pass learned.
struct Survey {
    rows: u64,
    /// Up to [`DONORS`] non-empty values per column, as text.
    donors: Vec<Vec<String>>,
    /// The smallest and largest year in any date column.
    years: Option<(i32, i32)>,
}

const DONORS: usize = 64;

fn as_text(column: &ArrayRef) -> Option<ArrayRef> {
    arrow_cast::cast(column, &DataType::Utf8).ok()
}

fn survey(
    reader: &mut TableReader,
    policy: &Policy,
    schema: &SchemaRef,
    parser: &DateParser,
) -> Result<Survey> {
    let mut s = Survey {
        rows: 0,
        donors: vec![Vec::new(); schema.fields().len()],
        years: None,
    };
    let is_date: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| {
            policy
                .fields
                .get(f.name())
                .is_some_and(|fl| fl.class == FieldClass::Date)
        })
        .collect();
    while let Some(batch) = reader.next_batch()? {
        s.rows += batch.num_rows() as u64;
        for (i, column) in batch.columns().iter().enumerate() {
            if s.donors[i].len() >= DONORS && !is_date[i] {
                continue;
            }
            let Some(text) = as_text(column) else {
                continue;
            };
            for v in text.as_string::<i32>().iter().flatten() {
                if s.donors[i].len() < DONORS && !v.trim().is_empty() {
                    s.donors[i].push(v.to_owned());
                }
                if is_date[i]
                    && let Some(y) = year_of_text(parser, v)
                {
                    s.years = Some(s.years.map_or((y, y), |(lo, hi)| (lo.min(y), hi.max(y))));
                }
            }
        }
    }
    Ok(s)
}

/// Decides what canary rows hold in a column, from the policy, the column's name and a value
/// from it.
pub fn plan_column(
    name: &str,
    policy: &Policy,
    donor: Option<&str>,
    parser: &DateParser,
) -> ColumnPlan {
    let Some(field) = policy.fields.get(name) else {
        return ColumnPlan::Copy;
    };
    match field.class {
        FieldClass::FreeText => return ColumnPlan::FreeText,
        FieldClass::Date => return ColumnPlan::Date,
        FieldClass::Clinical | FieldClass::Operational | FieldClass::Sensitive => {
            return ColumnPlan::Copy;
        }
        FieldClass::DirectIdentifier | FieldClass::QuasiIdentifier => {}
    }
    let h = hints(name);
    let named = identifier_kind(name, policy.patient_id.as_deref() == Some(name));
    let kind = if let Some(kind) = named {
        // a canary's town is written where its street is: one kind, ADDRESS
        if kind == Kind::Location {
            Kind::Address
        } else {
            kind
        }
    } else if h.birth || h.date || donor.is_some_and(|d| parser.parse(d.trim()).is_some()) {
        return ColumnPlan::Date;
    } else if h.demographic {
        return ColumnPlan::Copy;
    } else if donor.is_some_and(|d| d.contains('@')) {
        Kind::Email
    } else if donor.is_some_and(|d| d.starts_with("http") || d.starts_with("www.")) {
        Kind::Url
    } else if donor
        .is_some_and(|d| d.split('.').count() == 4 && d.split('.').all(|p| p.parse::<u8>().is_ok()))
    {
        Kind::Ip
    } else if field.class == FieldClass::QuasiIdentifier
        && field.action == Action::Keep
        && donor.is_none_or(|d| d.chars().count() <= 3)
    {
        // a small coded domain (sex, state): a new value would stand out, not blend in
        return ColumnPlan::Copy;
    } else {
        Kind::Id
    };
    ColumnPlan::Value(kind)
}

/// Replaces the digits of `shape` in order with `digits` when their counts match (an
/// eleven-digit `1-603-...` shape keeps its leading 1); otherwise `None`.
fn render_digits(shape: &str, digits: &str) -> Option<String> {
    let n = shape.chars().filter(char::is_ascii_digit).count();
    let skip = match n.checked_sub(digits.len())? {
        0 => 0,
        1 if shape.trim_start_matches(['+', ' ']).starts_with('1') => 1,
        _ => return None,
    };
    let mut ds = digits.chars();
    let mut seen = 0;
    Some(
        shape
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    seen += 1;
                    if seen > skip {
                        return ds.next().unwrap_or(c);
                    }
                }
                c
            })
            .collect(),
    )
}

/// A new value in the shape of `shape`: each digit and letter replaced by a random one of the
/// same class and case, everything else kept.
fn imitate(shape: &str, rng: &mut impl Rng) -> String {
    let chars: Vec<char> = shape.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if airlock_text::known::starts_reserved_run(&chars, i) {
                // never the 9 that begins a surrogate's long run
                char::from(b'0' + rng.random_range(0..9u8))
            } else if c.is_ascii_digit() {
                char::from(b'0' + rng.random_range(0..10u8))
            } else if c.is_ascii_uppercase() {
                char::from(b'A' + rng.random_range(0..26u8))
            } else if c.is_ascii_lowercase() {
                char::from(b'a' + rng.random_range(0..26u8))
            } else {
                c
            }
        })
        .collect()
}

/// The date in the layout of `shape` (and whatever follows it there, such as a time).
fn render_date(date: NaiveDate, shape: Option<&str>, parser: &DateParser) -> String {
    let mut out = String::new();
    match shape
        .map(str::trim)
        .and_then(|s| parser.parse(s).map(|d| (s, d)))
    {
        Some((s, found)) => {
            push_date(date, found.style, &mut out);
            out.push_str(&s[found.len..]);
        }
        None if shape.is_some_and(|s| s.trim().len() == 4) => {
            out = date.year().to_string();
        }
        None => push_date(date, DateStyle::Iso, &mut out),
    }
    out
}

struct Row {
    values: Vec<Option<String>>,
    canary: Canary,
}

fn build_row(
    number: usize,
    schema: &SchemaRef,
    plans: &[ColumnPlan],
    survey: &Survey,
    identity: &Identity,
    parser: &DateParser,
    rng: &mut impl Rng,
) -> Row {
    let mut values = Vec::with_capacity(plans.len());
    let mut planted: Vec<Planted> = Vec::new();
    let mut mrn = identity.mrn.clone();
    let mut notes = Vec::new();
    for (i, (field, plan)) in schema.fields().iter().zip(plans).enumerate() {
        let donors = &survey.donors[i];
        let donor =
            (!donors.is_empty()).then(|| donors[rng.random_range(0..donors.len())].as_str());
        let column = Some(field.name().clone());
        let mut record = |kind: Kind, value: &str, search| {
            planted.push(Planted {
                column: column.clone(),
                kind: Some(kind),
                value: value.to_owned(),
                search,
            });
        };
        let value = match plan {
            ColumnPlan::Copy => donor.map(str::to_owned),
            ColumnPlan::FreeText => {
                notes.push(i);
                None // written once every column's identifiers are known
            }
            ColumnPlan::Date => {
                let h = hints(field.name());
                let date = if h.birth {
                    identity.birth
                } else {
                    identity.admit
                };
                let v = render_date(date, donor, parser);
                record(Kind::Date, &v, identity.dates_searched && v.len() > 4);
                Some(v)
            }
            ColumnPlan::Value(kind) => {
                let v = match kind {
                    Kind::Mrn | Kind::Id => {
                        let v = donor.map_or_else(|| identity.mrn.clone(), |d| imitate(d, rng));
                        if *kind == Kind::Mrn {
                            mrn = v.clone();
                        }
                        v
                    }
                    Kind::Ssn => donor
                        .and_then(|d| render_digits(d, &digits_only(&identity.ssn)))
                        .unwrap_or_else(|| identity.ssn.clone()),
                    Kind::Phone => donor
                        .and_then(|d| render_digits(d, &digits_only(&identity.phone)))
                        .unwrap_or_else(|| identity.phone.clone()),
                    Kind::Fax => donor
                        .and_then(|d| render_digits(d, &digits_only(&identity.fax)))
                        .unwrap_or_else(|| identity.fax.clone()),
                    Kind::Zip => match donor {
                        Some(d) if d.len() == 10 && d.as_bytes()[5] == b'-' => {
                            format!("{}-{}", identity.zip, digits(rng, 4))
                        }
                        _ => identity.zip.clone(),
                    },
                    Kind::Age => identity.age.to_string(),
                    Kind::Email => identity.email.clone(),
                    Kind::Url => identity.url.clone(),
                    Kind::Ip => identity.ip.clone(),
                    Kind::Address => {
                        let h = hints(field.name());
                        if h.place && !h.street {
                            identity.city.clone()
                        } else {
                            identity.street.clone()
                        }
                    }
                    Kind::Name => {
                        let lower = field.name().to_ascii_lowercase();
                        if lower.contains("first") || lower.contains("given") {
                            identity.first.clone()
                        } else if ["last", "family", "surname"]
                            .iter()
                            .any(|w| lower.contains(w))
                        {
                            identity.last.clone()
                        } else if donor.is_some_and(|d| d.contains(',')) {
                            format!("{}, {}", identity.last, identity.first)
                        } else {
                            identity.name()
                        }
                    }
                    _ => identity.mrn.clone(),
                };
                record(*kind, &v, true);
                Some(v)
            }
        };
        values.push(value);
    }
    if !notes.is_empty() {
        let mut who = identity.clone();
        who.mrn = mrn;
        let note = who.note(number);
        for &i in &notes {
            planted.push(Planted {
                column: Some(schema.field(i).name().clone()),
                kind: None,
                value: note.clone(),
                search: false,
            });
            values[i] = Some(note.clone());
        }
        let in_note = who.identifiers();
        for (kind, value) in in_note {
            if planted.iter().any(|p| p.value == value) {
                continue;
            }
            planted.push(Planted {
                column: None,
                kind: Some(kind),
                value,
                search: kind != Kind::Date || who.dates_searched,
            });
        }
    }
    Row {
        values,
        canary: Canary {
            id: format!("canary-{:02}", number + 1),
            row: None,
            values: planted,
        },
    }
}

fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// A one-row batch of `values`, each cast to its column's type.
fn row_batch(schema: &SchemaRef, values: &[Option<String>]) -> Result<RecordBatch> {
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let columns = schema
        .fields()
        .iter()
        .zip(values)
        .map(|(f, v)| {
            let text: ArrayRef = Arc::new(StringArray::from(vec![v.as_deref()]));
            arrow_cast::cast_with_options(&text, f.data_type(), &options).map_err(|_| {
                Error::TypeMismatch {
                    column: f.name().clone(),
                    action: "canary plant",
                    data_type: f.data_type().to_string(),
                }
            })
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Write {
        path: PathBuf::from("canary row"),
        reason: e.to_string(),
    })
}

/// Years for canary dates: below every year the data spans (and this year), by more than the
/// policy's largest date shift, back to 1800; after them when that leaves too few years.
fn canary_years(years: Option<(i32, i32)>, shift_days: u32) -> (i32, i32) {
    let now = chrono::Utc::now().year();
    let (lo, hi) = years.map_or((now, now), |(lo, hi)| (lo.min(now), hi.max(now)));
    let margin = (shift_days as i32 + 364) / 365 + 1;
    let top = lo - margin - 1;
    if top >= 1860 {
        (1800, top)
    } else {
        (hi + margin + 1, hi + margin + 120)
    }
}

/// Canary dates more than the date shift apart from each other, so that no canary's shifted
/// date can be another canary's date.
struct DateAllocator {
    gap: i64,
    taken: Vec<NaiveDate>,
}

impl DateAllocator {
    fn take(&mut self, rng: &mut impl Rng, from: NaiveDate, to: NaiveDate) -> Option<NaiveDate> {
        let span = (to - from).num_days();
        if span < 0 {
            return None;
        }
        for _ in 0..1000 {
            let d = from + chrono::Days::new(rng.random_range(0..=span) as u64);
            if self
                .taken
                .iter()
                .all(|t| (d - *t).num_days().abs() > self.gap)
            {
                self.taken.push(d);
                return Some(d);
            }
        }
        None
    }

    /// Gives `who` a birth date and an admission 10 to 90 years later in `y0..=y1`; false
    /// when no date far enough from the others was left (its dates are then not searched).
    fn date(&mut self, rng: &mut impl Rng, who: &mut Identity, y0: i32, y1: i32) -> bool {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
        let Some(birth) = self.take(rng, ymd(y0, 1, 1), ymd(y1 - 12, 12, 31)) else {
            return false;
        };
        let from = ymd(birth.year() + 10, birth.month(), 1);
        let to = ymd((birth.year() + 90).min(y1), 12, 31);
        let Some(admit) = self.take(rng, from, to) else {
            return false;
        };
        who.birth = birth;
        who.admit = admit;
        who.age = admit.years_since(birth).unwrap_or(0);
        true
    }
}

/// Plants `opts.count` canaries in `input` and writes the result to `output` and the canary
/// record to `canary_path`. The input is read twice and never written; both outputs are
/// written atomically.
#[allow(clippy::too_many_arguments)]
pub fn plant_table(
    input: &Path,
    input_format: Format,
    output: &Path,
    output_format: Format,
    policy: &Policy,
    canary_path: &Path,
    opts: &PlantOptions,
) -> Result<PlantReport> {
    for (from, to) in [(input, output), (input, canary_path), (output, canary_path)] {
        airlock_core::output::refuse_overwrite(from, to)?;
    }
    let parser = DateParser::new();
    // column names are vetted by the detector before they reach the canary file or an error
    let detector = airlock_text::TextEngine::without_key();
    let mut reader = TableReader::open_with(
        input,
        input_format,
        &ReadOptions::default(),
        Some(&detector),
    )?;
    let schema = reader.schema();
    if policy.unclassified == Unclassified::Fail {
        let missing: Vec<(usize, String)> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (i + 1, f.name().clone()))
            .filter(|(_, n)| !policy.fields.contains_key(n))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Unclassified {
                file: input.to_path_buf(),
                policy: policy.path.clone(),
                columns: missing,
            });
        }
    }
    let survey = survey(&mut reader, policy, &schema, &parser)?;
    let (input_sha, _) = reader.digest();
    let plans: Vec<ColumnPlan> = schema
        .fields()
        .iter()
        .zip(&survey.donors)
        .map(|(f, d)| plan_column(f.name(), policy, d.first().map(String::as_str), &parser))
        .collect();
    let seed = match opts.seed {
        Some(s) => s,
        None => getrandom::u64().map_err(|e| Error::Write {
            path: canary_path.to_path_buf(),
            reason: format!("no randomness from the operating system: {e}"),
        })?,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (y0, y1) = canary_years(survey.years, policy.date_shift_days);
    let mut dates = DateAllocator {
        gap: i64::from(policy.date_shift_days) + 1,
        taken: Vec::new(),
    };
    // insert before these input rows (the row count itself appends)
    let mut at: Vec<u64> = (0..opts.count)
        .map(|_| rng.random_range(0..=survey.rows))
        .collect();
    at.sort_unstable();
    let mut rows: Vec<Row> = (0..opts.count)
        .map(|n| {
            let mut identity = Identity::generate(&mut rng, y0..=y0 + 5, y1 - 3..=y1);
            identity.dates_searched = dates.date(&mut rng, &mut identity, y0, y1);
            build_row(n, &schema, &plans, &survey, &identity, &parser, &mut rng)
        })
        .collect();
    for (k, (row, &pos)) in rows.iter_mut().zip(&at).enumerate() {
        row.canary.row = Some(pos + k as u64 + 1);
    }

    let out = AtomicOutput::create(output, opts.force)?;
    let mut writer = TableWriter::new(out.file()?, output, output_format, schema.clone())?;
    let mut reader = TableReader::open(input, input_format, DEFAULT_BATCH_SIZE)?;
    let mut offset = 0u64;
    let mut next = 0usize;
    let write_until = |batch: &RecordBatch, offset: u64, limit: u64, next: &mut usize| {
        let mut pieces = Vec::new();
        let mut from = 0u64;
        while *next < rows.len() && at[*next] < limit {
            let cut = at[*next] - offset;
            pieces.push(batch.slice(from as usize, (cut - from) as usize));
            pieces.push(row_batch(&schema, &rows[*next].values)?);
            from = cut;
            *next += 1;
        }
        pieces.push(batch.slice(from as usize, batch.num_rows() - from as usize));
        arrow_select::concat::concat_batches(&schema, &pieces).map_err(|e| Error::Write {
            path: output.to_path_buf(),
            reason: e.to_string(),
        })
    };
    while let Some(batch) = reader.next_batch()? {
        let n = batch.num_rows() as u64;
        let merged = write_until(&batch, offset, offset + n, &mut next)?;
        writer.write(&merged)?;
        offset += n;
    }
    let empty = RecordBatch::new_empty(schema.clone());
    let tail = write_until(&empty, offset, u64::MAX, &mut next)?;
    if tail.num_rows() > 0 {
        writer.write(&tail)?;
    }
    let (again, _) = reader.digest();
    if again != input_sha {
        return Err(Error::Write {
            path: input.to_path_buf(),
            reason: "the input changed while canaries were planted; nothing was written".into(),
        });
    }
    let summary = writer.finish()?;
    let mut file = CanaryFile::new(rows.into_iter().map(|r| r.canary).collect());
    file.created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    file.tool = format!("airlock {}", env!("CARGO_PKG_VERSION"));
    file.input = Some(FileRef {
        path: input.to_path_buf(),
        sha256: input_sha,
    });
    file.output = Some(FileRef {
        path: output.to_path_buf(),
        sha256: summary.sha256.clone(),
    });
    file.policy_sha256 = Some(policy.sha256.clone());
    file.save(canary_path, opts.force)?;
    out.commit()?;
    let values = file.canaries.iter().map(|c| c.values.len()).sum();
    let searched = crate::check::Searcher::new(&file)?;
    Ok(PlantReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        canary_file: canary_path.to_path_buf(),
        input_rows: survey.rows,
        output_rows: summary.rows,
        canaries: file.canaries.len(),
        values,
        searched: searched.targets() - searched.not_searchable.len(),
        columns: schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(plans)
            .collect(),
        date_years: (y0, y1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_render_into_the_columns_shape() {
        assert_eq!(
            render_digits("(617) 555-0100", "6034821193").as_deref(),
            Some("(603) 482-1193")
        );
        assert_eq!(
            render_digits("1-617-555-0100", "6034821193").as_deref(),
            Some("1-603-482-1193")
        );
        assert_eq!(render_digits("617-5550", "6034821193"), None);
        assert_eq!(
            render_digits("123-45-6789", "528419930").as_deref(),
            Some("528-41-9930")
        );
    }

    #[test]
    fn dates_take_the_columns_layout_and_leave_the_datas_years() {
        let p = DateParser::new();
        let d = NaiveDate::from_ymd_opt(1915, 2, 7).unwrap();
        assert_eq!(render_date(d, Some("2021-03-04"), &p), "1915-02-07");
        assert_eq!(render_date(d, Some("3/4/2021"), &p), "2/7/1915");
        assert_eq!(
            render_date(d, Some("2021-03-04T10:22:00"), &p),
            "1915-02-07T10:22:00"
        );
        assert_eq!(render_date(d, None, &p), "1915-02-07");
        let (lo, hi) = canary_years(Some((1922, 2025)), 365);
        assert!(hi < 1922 - 2 && lo >= 1800, "{lo}..{hi}");
        let (lo, _) = canary_years(Some((1851, 2025)), 365);
        assert!(lo > 2026, "{lo}");
        // ten canaries' dates stay further apart than the shift
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let mut dates = DateAllocator {
            gap: 366,
            taken: Vec::new(),
        };
        for _ in 0..10 {
            let mut who = Identity::generate(&mut rng, 1800..=1805, 1900..=1910);
            assert!(dates.date(&mut rng, &mut who, 1800, 1919));
            assert!(who.admit.years_since(who.birth).unwrap() >= 9);
        }
        for (i, a) in dates.taken.iter().enumerate() {
            for b in &dates.taken[i + 1..] {
                assert!((*a - *b).num_days().abs() > 366);
            }
        }
    }

    #[test]
    fn imitation_keeps_shape_and_changes_content() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let v = imitate("MR-0012345a", &mut rng);
        assert_eq!(v.len(), 11);
        assert_eq!(&v[2..3], "-");
        assert!(v[..2].bytes().all(|b| b.is_ascii_uppercase()));
        assert!(v[3..10].bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(v, "MR-0012345a");
    }
}
