//! Column kernels: each action applied to a whole Arrow array at a time.
//!
//! Text kernels write into one `StringBuilder` sized from the input, through one scratch
//! `String`, so a batch costs a handful of allocations whatever its size. Typed dates
//! (Parquet `date32`, `date64`, `timestamp`) are shifted as integers and keep their type.
//! Every kernel fails closed: a value it cannot interpret becomes null and is counted, and is
//! never passed through unchanged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowTimestampType, Date32Type, Date64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, Int32Array, PrimitiveArray, StringArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, Datelike, NaiveDate};

use airlock_core::error::{Error, Result};
use airlock_core::phi::Kind;
use airlock_core::policy::{Action, Rule};
use airlock_core::text::{TextContext, TextMode, TextScrubber};

use crate::dates::{self, DateParser};
use crate::token::Tokenizer;

/// The 3-digit ZIP prefixes whose areas had 20,000 people or fewer in the 2000 census;
/// Safe Harbor requires them to become "000".
pub const RESTRICTED_ZIP3: [&str; 17] = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893",
];

/// Counts for one column, reported in the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnStats {
    /// Non-null input cells.
    pub cells: u64,
    /// Output cells that differ from their input.
    pub changed: u64,
    /// Non-null input cells that became null.
    pub nulled: u64,
    /// Free-text spans replaced.
    pub spans: u64,
}

/// A compiled action, ready to run on arrays.
pub enum Kernel {
    Keep,
    Redact(String),
    Mask {
        keep_last: usize,
        mask_char: char,
    },
    Tokenize(Tokenizer),
    DateShift,
    /// The year alone; years at or before `top` (those of people who may be over 89 at the
    /// reference date) are aggregated into `<=top` (text) or removed (typed columns).
    YearOnly {
        top: i32,
    },
    Zip3,
    Age90Plus,
    SuppressRare {
        k: u32,
        counts: HashMap<String, u64>,
    },
    Text(TextMode),
}

/// Per-batch row context for the kernels that depend on the patient.
pub struct Rows<'a> {
    /// The patient identifier of each row (original values; never written out).
    pub patients: Option<&'a StringArray>,
    /// The patient's date offset per row; `None` where the patient is unknown.
    pub offsets: Option<&'a [Option<i32>]>,
    pub scrubber: &'a dyn TextScrubber,
    pub dates: &'a DateParser,
    /// The row's identifying values (original, never written out), with their kinds: looked
    /// for in the row's free text.
    pub known: &'a [(Kind, &'a StringArray)],
    /// What every row of the run says about each patient (see [`crate::engine::Plan`]).
    pub memory: Option<&'a crate::engine::PatientMemory>,
}

enum Outcome {
    Same,
    Changed,
    Null,
}

impl Kernel {
    /// The kernel for an action (`None` for drop). `tokenizer` is used by `tokenize`;
    /// `age_top_year` by `year_only` ([`age_top_year`]).
    pub fn for_action(
        action: &Action,
        tokenizer: Option<Tokenizer>,
        age_top_year: i32,
    ) -> Option<Self> {
        Some(match action {
            Action::Drop => return None,
            Action::Keep => Self::Keep,
            Action::Redact { replacement } => Self::Redact(replacement.clone()),
            Action::Mask {
                keep_last,
                mask_char,
            } => Self::Mask {
                keep_last: *keep_last,
                mask_char: *mask_char,
            },
            Action::Tokenize(_) => Self::Tokenize(tokenizer.expect("tokenize has a tokenizer")),
            Action::DateShift => Self::DateShift,
            Action::YearOnly => Self::YearOnly { top: age_top_year },
            Action::Generalize(Rule::Zip3) => Self::Zip3,
            Action::Generalize(Rule::Age90Plus) => Self::Age90Plus,
            Action::SuppressRare { k } => Self::SuppressRare {
                k: *k,
                counts: HashMap::new(),
            },
            Action::TextRedact => Self::Text(TextMode::Redact),
            Action::TextSurrogate => Self::Text(TextMode::Surrogate),
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Redact(_) => "redact",
            Self::Mask { .. } => "mask",
            Self::Tokenize(_) => "tokenize",
            Self::DateShift => "date_shift",
            Self::YearOnly { .. } => "year_only",
            Self::Zip3 => "generalize zip3",
            Self::Age90Plus => "generalize age_90_plus",
            Self::SuppressRare { .. } => "suppress_rare",
            Self::Text(_) => "text",
        }
    }

    /// The output type for an input type.
    pub fn output_type(&self, input: &DataType) -> DataType {
        match (self, input) {
            (Self::Keep, t) => t.clone(),
            (
                Self::DateShift,
                t @ (DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)),
            ) => t.clone(),
            (
                Self::YearOnly { .. },
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(..),
            ) => DataType::Int32,
            _ => DataType::Utf8,
        }
    }

    /// Whether a typed (non-text) input can be handled.
    pub fn check_type(&self, column: &str, input: &DataType) -> Result<()> {
        let temporal = matches!(
            input,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
        );
        let ok = match self {
            Self::Keep => true,
            Self::DateShift | Self::YearOnly { .. } => temporal || is_text(input),
            _ => is_text(input) || castable_to_text(input),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::TypeMismatch {
                column: column.to_owned(),
                action: self.name(),
                data_type: input.to_string(),
            })
        }
    }

    /// Counts values for `suppress_rare` (the first pass over the input).
    pub fn observe(&mut self, column: &str, array: &ArrayRef) -> Result<()> {
        if let Self::SuppressRare { counts, .. } = self {
            let text = as_text(column, "suppress_rare", array)?;
            for v in text.iter().flatten() {
                match counts.get_mut(v) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(v.to_owned(), 1);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies the kernel to one column of a batch.
    pub fn apply(
        &self,
        column: &str,
        array: &ArrayRef,
        rows: &Rows<'_>,
        stats: &mut ColumnStats,
    ) -> Result<ArrayRef> {
        stats.cells += (array.len() - array.null_count()) as u64;
        if let Self::Keep = self {
            return Ok(array.clone());
        }
        if let Self::DateShift | Self::YearOnly { .. } = self
            && let Some(out) = self.apply_temporal(array, rows, stats)?
        {
            return Ok(out);
        }
        let text = as_text(column, self.name(), array)?;
        let out =
            match self {
                Self::Keep => return Ok(array.clone()),
                Self::Redact(replacement) => map_text(&text, stats, |_, _, out| {
                    out.push_str(replacement);
                    Outcome::Changed
                }),
                Self::Mask {
                    keep_last,
                    mask_char,
                } => map_text(&text, stats, |_, v, out| {
                    mask(v, *keep_last, *mask_char, out);
                    Outcome::Changed
                }),
                Self::Tokenize(t) => map_text(&text, stats, |_, v, out| {
                    t.push_token(v, out);
                    Outcome::Changed
                }),
                Self::DateShift => {
                    // No patient column means no consistent shift: every date fails closed.
                    let offsets = rows.offsets.unwrap_or(&[]);
                    map_text(&text, stats, |i, v, out| {
                        match offsets.get(i).copied().flatten() {
                            Some(days) if dates::shift_text(rows.dates, v, days, out) => {
                                Outcome::Changed
                            }
                            _ => Outcome::Null,
                        }
                    })
                }
                Self::YearOnly { top } => map_text(&text, stats, |_, v, out| {
                    match dates::year_of_text(rows.dates, v) {
                        Some(y) if y <= *top => {
                            out.push_str(&format!("<={top}"));
                            Outcome::Changed
                        }
                        Some(y) => {
                            out.push_str(&y.to_string());
                            Outcome::Changed
                        }
                        None => Outcome::Null,
                    }
                }),
                Self::Zip3 => map_text(&text, stats, |_, v, out| match zip3(v) {
                    Some(z) => {
                        out.push_str(z.as_str());
                        Outcome::Changed
                    }
                    None => Outcome::Null,
                }),
                Self::Age90Plus => map_text(&text, stats, |_, v, out| match age_90_plus(v) {
                    Some(AgeOutcome::Kept) => Outcome::Same,
                    Some(AgeOutcome::Top) => {
                        out.push_str("90+");
                        Outcome::Changed
                    }
                    None => Outcome::Null,
                }),
                Self::SuppressRare { k, counts } => map_text(&text, stats, |_, v, _| {
                    if counts.get(v).copied().unwrap_or(0) < u64::from(*k) {
                        Outcome::Null
                    } else {
                        Outcome::Same
                    }
                }),
                Self::Text(mode) => {
                    let mut spans = 0u64;
                    let mut values: Vec<(Kind, &str)> = Vec::with_capacity(rows.known.len());
                    let out = map_text(&text, stats, |i, v, out| {
                        let patient = rows
                            .patients
                            .and_then(|p| p.is_valid(i).then(|| p.value(i)));
                        // a patient's values compiled once for all of its rows; else the row's
                        // own values (and its patient's, if that patient has too many)
                        let prepared = rows.memory.zip(patient).and_then(|(m, p)| m.prepared(p));
                        values.clear();
                        if prepared.is_none() {
                            values.extend(
                                rows.known
                                    .iter()
                                    .filter(|(_, a)| a.is_valid(i))
                                    .map(|(k, a)| (*k, a.value(i))),
                            );
                            if let Some((memory, p)) = rows.memory.zip(patient) {
                                values.extend(memory.of(p));
                            }
                        }
                        let ctx = TextContext {
                            known: &values,
                            prepared,
                            patient,
                            date_shift_days: rows.offsets.and_then(|o| o[i]),
                        };
                        let n = rows.scrubber.scrub(v, *mode, &ctx, out);
                        spans += n as u64;
                        if n == 0 {
                            Outcome::Same
                        } else {
                            Outcome::Changed
                        }
                    });
                    stats.spans += spans;
                    out
                }
            };
        Ok(Arc::new(out))
    }

    fn apply_temporal(
        &self,
        array: &ArrayRef,
        rows: &Rows<'_>,
        stats: &mut ColumnStats,
    ) -> Result<Option<ArrayRef>> {
        const DAY_MS: i64 = 86_400_000;
        let shift = matches!(self, Self::DateShift);
        let top = match self {
            Self::YearOnly { top } => *top,
            _ => i32::MIN,
        };
        let offsets = rows.offsets;
        let out: ArrayRef = match array.data_type() {
            DataType::Date32 => {
                let a = array.as_primitive::<Date32Type>();
                if shift {
                    let offsets = offsets.expect("date_shift has offsets");
                    Arc::new(shift_primitive(a, offsets, 1, stats, |v, d| {
                        v.checked_add(d as i32)
                    }))
                } else {
                    Arc::new(years(a.iter().map(|v| v.and_then(date32_year)), top))
                }
            }
            DataType::Date64 => {
                let a = array.as_primitive::<Date64Type>();
                if shift {
                    let offsets = offsets.expect("date_shift has offsets");
                    Arc::new(shift_primitive(a, offsets, DAY_MS, stats, i64::checked_add))
                } else {
                    Arc::new(years(a.iter().map(|v| v.and_then(millis_year)), top))
                }
            }
            DataType::Timestamp(unit, _) => {
                let per_day = match unit {
                    TimeUnit::Second => 86_400,
                    TimeUnit::Millisecond => DAY_MS,
                    TimeUnit::Microsecond => DAY_MS * 1_000,
                    TimeUnit::Nanosecond => DAY_MS * 1_000_000,
                };
                match unit {
                    TimeUnit::Second => {
                        timestamp::<TimestampSecondType>(array, shift, top, per_day, offsets, stats)
                    }
                    TimeUnit::Millisecond => timestamp::<TimestampMillisecondType>(
                        array, shift, top, per_day, offsets, stats,
                    ),
                    TimeUnit::Microsecond => timestamp::<TimestampMicrosecondType>(
                        array, shift, top, per_day, offsets, stats,
                    ),
                    TimeUnit::Nanosecond => timestamp::<TimestampNanosecondType>(
                        array, shift, top, per_day, offsets, stats,
                    ),
                }
            }
            _ => return Ok(None),
        };
        if !shift {
            stats.changed += (out.len() - out.null_count()) as u64;
            stats.nulled += (out.null_count() - array.null_count()) as u64;
        }
        Ok(Some(out))
    }
}

fn timestamp<T: ArrowTimestampType>(
    array: &ArrayRef,
    shift: bool,
    top: i32,
    per_day: i64,
    offsets: Option<&[Option<i32>]>,
    stats: &mut ColumnStats,
) -> ArrayRef {
    let a = array.as_primitive::<T>();
    let tz = match a.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    if shift {
        let offsets = offsets.expect("date_shift has offsets");
        let shifted = shift_primitive(a, offsets, per_day, stats, i64::checked_add);
        Arc::new(shifted.with_timezone_opt(tz))
    } else {
        let per_ms = per_day / 86_400_000;
        Arc::new(years(
            a.iter().map(|v| {
                v.and_then(|t| {
                    if per_day == 86_400 {
                        DateTime::from_timestamp(t, 0).map(|d| d.year())
                    } else {
                        millis_year(t / per_ms.max(1))
                    }
                })
            }),
            top,
        ))
    }
}

fn shift_primitive<T>(
    a: &PrimitiveArray<T>,
    offsets: &[Option<i32>],
    per_day: i64,
    stats: &mut ColumnStats,
    add: impl Fn(T::Native, i64) -> Option<T::Native>,
) -> PrimitiveArray<T>
where
    T: arrow_array::ArrowPrimitiveType,
{
    let out: PrimitiveArray<T> = a
        .iter()
        .zip(offsets)
        .map(|(v, off)| {
            let v = v?;
            let shifted = off.and_then(|d| add(v, i64::from(d) * per_day));
            match shifted {
                Some(s) => {
                    stats.changed += 1;
                    Some(s)
                }
                None => {
                    stats.nulled += 1;
                    None
                }
            }
        })
        .collect();
    out
}

/// Years, with those at or before `top` removed (a typed column cannot hold `<=top`).
fn years(values: impl Iterator<Item = Option<i32>>, top: i32) -> Int32Array {
    values.map(|y| y.filter(|y| *y > top)).collect()
}

pub use airlock_core::clock::age_top_year;

fn date32_year(days: i32) -> Option<i32> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?).map(|d| d.year())
}

fn millis_year(ms: i64) -> Option<i32> {
    DateTime::from_timestamp_millis(ms).map(|d| d.year())
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn castable_to_text(t: &DataType) -> bool {
    t.is_numeric()
        || t.is_temporal()
        || matches!(
            t,
            DataType::Boolean | DataType::Null | DataType::Dictionary(..)
        )
}

/// A `StringArray` view of any array that has a text form (numbers, dates, dictionaries).
pub fn as_text<'a>(
    column: &str,
    action: &'static str,
    array: &'a ArrayRef,
) -> Result<Cow<'a, StringArray>> {
    if let Some(s) = array.as_string_opt::<i32>() {
        return Ok(Cow::Borrowed(s));
    }
    let mismatch = || Error::TypeMismatch {
        column: column.to_owned(),
        action,
        data_type: array.data_type().to_string(),
    };
    if !(is_text(array.data_type()) || castable_to_text(array.data_type())) {
        return Err(mismatch());
    }
    let cast = arrow_cast::cast(array, &DataType::Utf8).map_err(|_| mismatch())?;
    Ok(Cow::Owned(cast.as_string::<i32>().clone()))
}

fn map_text(
    input: &StringArray,
    stats: &mut ColumnStats,
    mut f: impl FnMut(usize, &str, &mut String) -> Outcome,
) -> StringArray {
    let mut builder = StringBuilder::with_capacity(input.len(), input.value_data().len() + 16);
    let mut scratch = String::with_capacity(64);
    for i in 0..input.len() {
        if input.is_null(i) {
            builder.append_null();
            continue;
        }
        let v = input.value(i);
        scratch.clear();
        match f(i, v, &mut scratch) {
            Outcome::Same => builder.append_value(v),
            Outcome::Changed => {
                if scratch != v {
                    stats.changed += 1;
                }
                builder.append_value(&scratch);
            }
            Outcome::Null => {
                stats.nulled += 1;
                builder.append_null();
            }
        }
    }
    builder.finish()
}

/// Masks every letter and digit except the last `keep_last`, keeping punctuation and spaces.
/// At least half of a value's letters and digits are always masked, so a short value is never
/// shown whole.
pub fn mask(value: &str, keep_last: usize, mask_char: char, out: &mut String) {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = keep_last.min(alnum / 2);
    let mut seen = 0;
    for c in value.chars() {
        if c.is_alphanumeric() {
            seen += 1;
            out.push(if seen > alnum - keep { c } else { mask_char });
        } else {
            out.push(c);
        }
    }
}

/// A Safe Harbor 3-digit ZIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zip3([u8; 3]);

impl Zip3 {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("three ASCII digits")
    }
}

/// The Safe Harbor 3-digit ZIP of a 5-digit ZIP or ZIP+4 ("000" for the restricted areas).
/// A 4-digit number is taken as a ZIP that lost its leading zero to a numeric column.
pub fn zip3(value: &str) -> Option<Zip3> {
    let v = value.trim().as_bytes();
    let all_digits = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
    let prefix = match v.len() {
        5 if all_digits(v) => [v[0], v[1], v[2]],
        10 if v[5] == b'-' && all_digits(&v[..5]) && all_digits(&v[6..]) => [v[0], v[1], v[2]],
        4 if all_digits(v) => [b'0', v[0], v[1]],
        _ => return None,
    };
    let restricted = RESTRICTED_ZIP3.iter().any(|r| r.as_bytes() == prefix);
    Some(Zip3(if restricted { *b"000" } else { prefix }))
}

enum AgeOutcome {
    Kept,
    Top,
}

fn age_90_plus(value: &str) -> Option<AgeOutcome> {
    let v = value.trim();
    if v == "90+" {
        return Some(AgeOutcome::Kept);
    }
    let age: f64 = v.parse().ok()?;
    if !age.is_finite() || age < 0.0 {
        return None;
    }
    Some(if age > 89.0 {
        AgeOutcome::Top
    } else {
        AgeOutcome::Kept
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use airlock_core::keys::{Purpose, WorkspaceSecret};
    use arrow_array::TimestampMillisecondArray;
    use arrow_array::types::Int32Type;

    struct NoText;
    impl TextScrubber for NoText {
        fn scrub(&self, t: &str, _: TextMode, _: &TextContext<'_>, out: &mut String) -> usize {
            out.push_str(t);
            0
        }
        fn scan(&self, _: &str, _: &mut dyn FnMut(airlock_core::text::Finding)) {}
        fn name(&self) -> &'static str {
            "none"
        }
    }

    fn run(
        kernel: &Kernel,
        array: ArrayRef,
        offsets: Option<&[Option<i32>]>,
    ) -> (ArrayRef, ColumnStats) {
        let dates = DateParser::new();
        let rows = Rows {
            patients: None,
            offsets,
            scrubber: &NoText,
            dates: &dates,
            known: &[],
            memory: None,
        };
        let mut stats = ColumnStats::default();
        let out = kernel.apply("c", &array, &rows, &mut stats).unwrap();
        (out, stats)
    }

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }

    #[test]
    fn suppress_rare_nulls_values_seen_fewer_than_k_times() {
        let mut k = Kernel::for_action(&Action::SuppressRare { k: 2 }, None, 1935).unwrap();
        let col = text(&[Some("a"), Some("b"), Some("a"), None, Some("c")]);
        k.observe("c", &col).unwrap();
        let (out, stats) = run(&k, col, None);
        assert_eq!(
            strings(&out),
            vec![Some("a".into()), None, Some("a".into()), None, None]
        );
        assert_eq!((stats.cells, stats.nulled, stats.changed), (4, 2, 0));
    }

    #[test]
    fn redact_replaces_every_value_and_keeps_nulls() {
        let k = Kernel::for_action(
            &Action::Redact {
                replacement: "[X]".into(),
            },
            None,
            1935,
        )
        .unwrap();
        let (out, stats) = run(&k, text(&[Some("Ann"), None]), None);
        assert_eq!(strings(&out), vec![Some("[X]".into()), None]);
        assert_eq!(stats.changed, 1);
    }

    #[test]
    fn typed_dates_shift_as_integers_and_keep_their_type() {
        let k = Kernel::DateShift;
        let days: ArrayRef = Arc::new(arrow_array::Date32Array::from(vec![
            Some(19_000),
            None,
            Some(19_010),
        ]));
        let (out, stats) = run(&k, days, Some(&[Some(5), Some(5), None]));
        let out = out.as_primitive::<Date32Type>();
        assert_eq!(out.value(0), 19_005);
        assert!(out.is_null(1));
        assert!(out.is_null(2), "unknown patient: fail closed");
        assert_eq!((stats.changed, stats.nulled), (1, 1));

        let ts: ArrayRef = Arc::new(
            TimestampMillisecondArray::from(vec![Some(1_700_000_000_000)]).with_timezone("UTC"),
        );
        let (out, _) = run(&k, ts.clone(), Some(&[Some(-2)]));
        assert_eq!(out.data_type(), ts.data_type());
        let shifted = out.as_primitive::<TimestampMillisecondType>().value(0);
        assert_eq!(shifted, 1_700_000_000_000 - 2 * 86_400_000);

        let (years, _) = run(&Kernel::YearOnly { top: 1935 }, ts.clone(), None);
        assert_eq!(years.as_primitive::<Int32Type>().value(0), 2023);
        let (years, _) = run(&Kernel::YearOnly { top: 2023 }, ts, None);
        assert!(
            years.is_null(0),
            "a year that reveals an age over 89 is removed"
        );
    }

    #[test]
    fn numbers_are_generalized_through_their_text_form() {
        let ages: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![
            Some(45),
            Some(97),
            None,
        ]));
        let (out, stats) = run(&Kernel::Age90Plus, ages, None);
        assert_eq!(
            strings(&out),
            vec![Some("45".into()), Some("90+".into()), None]
        );
        assert_eq!(stats.changed, 1);
        let zips: ArrayRef = Arc::new(arrow_array::Int32Array::from(vec![2139, 89301]));
        let (out, _) = run(&Kernel::Zip3, zips, None);
        assert_eq!(strings(&out), vec![Some("021".into()), Some("000".into())]);
    }

    #[test]
    fn binary_columns_are_refused_by_text_actions() {
        let k = Kernel::Zip3;
        let e = k
            .check_type("blob", &DataType::Binary)
            .unwrap_err()
            .to_string();
        assert!(e.contains("blob") && e.contains("Binary"), "{e}");
    }

    proptest! {
        #[test]
        fn tokenize_kernel_output_never_contains_the_input(values in proptest::collection::vec("[0-9A-Za-z]{6,20}", 1..20)) {
            let key = WorkspaceSecret::from_bytes([4; 32]).derive(Purpose::Tokenize);
            let t = Tokenizer::new(&key, "mrn", &airlock_core::policy::Tokenize::default());
            let k = Kernel::Tokenize(t);
            let input = text(&values.iter().map(|v| Some(v.as_str())).collect::<Vec<_>>());
            let (out, _) = run(&k, input.clone(), None);
            let (again, _) = run(&k, input, None);
            prop_assert_eq!(strings(&out), strings(&again));
            for (o, v) in strings(&out).iter().zip(&values) {
                prop_assert!(!o.as_ref().unwrap().contains(v.as_str()));
            }
        }

        #[test]
        fn redact_and_mask_never_pass_a_value_through(v in "[0-9]{6,12}") {
            let (out, _) = run(&Kernel::Redact("[R]".into()), text(&[Some(&v)]), None);
            let got = strings(&out);
            prop_assert_eq!(got[0].as_deref(), Some("[R]"));
            let k = Kernel::Mask { keep_last: 4, mask_char: '#' };
            let (out, _) = run(&k, text(&[Some(&v)]), None);
            let got = strings(&out);
            prop_assert_ne!(got[0].as_deref(), Some(v.as_str()));
        }
    }

    fn masked(v: &str, keep: usize) -> String {
        let mut out = String::new();
        mask(v, keep, '*', &mut out);
        out
    }

    #[test]
    fn mask_keeps_layout_and_last_digits() {
        assert_eq!(masked("123-45-6789", 4), "***-**-6789");
        assert_eq!(masked("1234", 4), "**34");
        assert_eq!(masked("", 4), "");
    }

    #[test]
    fn zip3_follows_safe_harbor() {
        let z = |v: &str| zip3(v).map(|z| z.as_str().to_owned());
        assert_eq!(z("02139").as_deref(), Some("021"));
        assert_eq!(z("02139-4307").as_deref(), Some("021"));
        assert_eq!(z("2139").as_deref(), Some("021"));
        assert_eq!(z("03601").as_deref(), Some("000"));
        assert_eq!(z("89301").as_deref(), Some("000"));
        assert_eq!(z("8930").as_deref(), Some("089"));
        assert_eq!(z("ABCDE").as_deref(), None);
        assert_eq!(z("021").as_deref(), None);
        for p in RESTRICTED_ZIP3 {
            assert_eq!(z(&format!("{p}42")).as_deref(), Some("000"));
        }
    }

    #[test]
    fn ages_over_89_become_90_plus() {
        assert!(matches!(age_90_plus("89"), Some(AgeOutcome::Kept)));
        assert!(matches!(age_90_plus("90"), Some(AgeOutcome::Top)));
        assert!(matches!(age_90_plus("89.5"), Some(AgeOutcome::Top)));
        assert!(matches!(age_90_plus(" 104 "), Some(AgeOutcome::Top)));
        assert!(age_90_plus("old").is_none());
        assert!(age_90_plus("-3").is_none());
    }

    #[test]
    fn date32_years() {
        assert_eq!(date32_year(0), Some(1970));
        assert_eq!(date32_year(-1), Some(1969));
        assert_eq!(date32_year(19_000), Some(2022));
    }

    proptest! {
        #[test]
        fn zip3_output_is_three_digits_and_restricted_areas_vanish(z in "[0-9]{5}") {
            let out = zip3(&z).unwrap();
            let out = out.as_str();
            prop_assert_eq!(out.len(), 3);
            prop_assert!(out.bytes().all(|b| b.is_ascii_digit()));
            if RESTRICTED_ZIP3.contains(&&z[..3]) {
                prop_assert_eq!(out, "000");
            } else {
                prop_assert_eq!(out, &z[..3]);
            }
        }

        #[test]
        fn age_output_never_exceeds_89_unless_top_coded(a in 0u32..130) {
            match age_90_plus(&a.to_string()).unwrap() {
                AgeOutcome::Kept => prop_assert!(a <= 89),
                AgeOutcome::Top => prop_assert!(a >= 90),
            }
        }

        #[test]
        fn mask_never_shows_more_than_half(v in "[0-9A-Za-z]{1,20}", keep in 0usize..10) {
            let out = masked(&v, keep);
            prop_assert_eq!(out.chars().count(), v.chars().count());
            let shown = out.chars().filter(|&c| c != '*').count();
            prop_assert!(shown <= keep.min(v.len() / 2));
            if v.len() >= 2 { prop_assert_ne!(&out, &v); }
        }
    }
}
