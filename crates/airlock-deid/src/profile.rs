//! The profiler: reads a sample of a table and drafts a policy, column by column, from what the
//! values look like (evidence counts) and what the column is called (name hints).
//!
//! A draft is a suggestion for a person to review, never a decision: every field carries its
//! confidence and evidence as comments, and a column the profiler cannot place is drafted as
//! `drop`, so an unreviewed draft errs on the side of losing data, not leaking it. The profile
//! holds counts only; no value leaves this module.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use arrow_array::Array;
use regex::RegexSet;
use serde::Serialize;

use airlock_core::error::Result;
use airlock_core::policy::{FieldClass, Rule};
use airlock_core::table::{Format, ReadOptions, TableReader};
use airlock_core::text::TextScrubber;

use crate::dates::DateParser;
use crate::transform::as_text;

/// Rows sampled unless the caller says otherwise.
pub const DEFAULT_SAMPLE_ROWS: u64 = 10_000;

/// How many sampled cells looked like each kind of value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub ssn: u64,
    pub phone: u64,
    pub email: u64,
    pub url: u64,
    pub ip: u64,
    pub date: u64,
    pub datetime: u64,
    pub zip: u64,
    pub person_name: u64,
    pub free_text: u64,
    pub id_like: u64,
    pub integer: u64,
    pub decimal: u64,
}

impl Evidence {
    /// The non-zero counts, largest first, as (kind, count).
    pub fn nonzero(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = [
            ("ssn", self.ssn),
            ("phone", self.phone),
            ("email", self.email),
            ("url", self.url),
            ("ip", self.ip),
            ("date", self.date),
            ("datetime", self.datetime),
            ("zip", self.zip),
            ("person_name", self.person_name),
            ("free_text", self.free_text),
            ("id_like", self.id_like),
            ("integer", self.integer),
            ("decimal", self.decimal),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v
    }
}

/// The drafted classification of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub class: FieldClass,
    /// The action's policy name (`drop`, `tokenize`, ...).
    pub action: &'static str,
    pub rule: Option<&'static str>,
    /// 0 to 1: the share of the sample that supports the suggestion, lowered where only the
    /// name or nothing supports it.
    pub confidence: f64,
    pub reason: String,
}

/// What the sample showed about one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    pub name: String,
    pub data_type: String,
    pub sampled: u64,
    pub nulls: u64,
    /// Distinct non-null values in the sample.
    pub distinct: u64,
    pub evidence: Evidence,
    pub suggestion: Suggestion,
}

/// The profile of a table sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub input: PathBuf,
    pub format: &'static str,
    pub rows_sampled: u64,
    /// The column drafted as `dataset.patient_id`.
    pub patient_id: Option<String>,
    pub columns: Vec<ColumnProfile>,
}

struct Classifier {
    set: RegexSet,
    dates: DateParser,
    names: HashSet<String>,
}

const SSN: usize = 0;
const PHONE: usize = 1;
const EMAIL: usize = 2;
const URL: usize = 3;
const IP: usize = 4;
const ZIP: usize = 5;
const INTEGER: usize = 6;
const DECIMAL: usize = 7;
const ID_LIKE: usize = 8;
const NAME_SHAPE: usize = 9;

impl Classifier {
    fn new() -> Self {
        let set = RegexSet::new([
            r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$",
            r"^(?:\+?1[-. ]?)?(?:\([2-9][0-9]{2}\)[-. ]?|[2-9][0-9]{2}[-. ])[0-9]{3}[-. ][0-9]{4}$",
            r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$",
            r"^(?i:https?://|www\.)\S+$",
            r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$",
            r"^[0-9]{5}(?:-[0-9]{4})?$",
            r"^-?[0-9]+$",
            r"^-?[0-9]*\.[0-9]+$",
            r"^[A-Za-z]{0,4}-?[0-9]{5,}$",
            r"^(?:[A-Z][A-Za-z'-]+,? ){1,2}[A-Z][A-Za-z'-]+$",
        ])
        .expect("built-in patterns compile");
        let names = include_str!("../data/demo-names.txt")
            .lines()
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(_, n)| n.trim().to_ascii_lowercase())
            })
            .chain(
                airlock_core::surrogate_lists::NAMES
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| l.trim().to_ascii_lowercase()),
            )
            .filter(|n| !n.is_empty())
            .collect();
        Self {
            set,
            dates: DateParser::new(),
            names,
        }
    }

    fn observe(&self, v: &str, e: &mut Evidence) {
        let v = v.trim();
        let m = self.set.matches(v);
        e.ssn += u64::from(m.matched(SSN));
        e.phone += u64::from(m.matched(PHONE));
        e.email += u64::from(m.matched(EMAIL));
        e.url += u64::from(m.matched(URL));
        e.ip += u64::from(m.matched(IP));
        e.zip += u64::from(m.matched(ZIP));
        e.integer += u64::from(m.matched(INTEGER));
        e.decimal += u64::from(m.matched(DECIMAL));
        e.id_like += u64::from(m.matched(ID_LIKE));
        if m.matched(NAME_SHAPE)
            && v.split([' ', ','])
                .any(|w| self.names.contains(&w.to_ascii_lowercase()))
        {
            e.person_name += 1;
        }
        if let Some(d) = self.dates.parse(v) {
            if d.len == v.len() {
                e.date += 1;
            } else {
                e.datetime += 1;
            }
        }
        if v.len() >= 60 || v.split_whitespace().count() >= 6 {
            e.free_text += 1;
        }
    }
}

/// Reads up to `sample_rows` rows of `path` and drafts a classification for every column.
/// Column names go through `detector` (and the shape checks) before they can reach the draft.
pub fn profile(
    path: &Path,
    format: Format,
    sample_rows: u64,
    read: &ReadOptions,
    detector: Option<&dyn TextScrubber>,
) -> Result<Profile> {
    let options = ReadOptions {
        batch_size: read.batch_size.min(sample_rows.max(1) as usize),
        ..read.clone()
    };
    let mut reader = TableReader::open_with(path, format, &options, detector)?;
    let schema = reader.schema();
    let classifier = Classifier::new();
    let n = schema.fields().len();
    let mut evidence = vec![Evidence::default(); n];
    let mut nulls = vec![0u64; n];
    let mut distinct: Vec<HashSet<u64>> = vec![HashSet::new(); n];
    let mut sampled = 0u64;
    while sampled < sample_rows {
        let Some(batch) = reader.next_batch()? else {
            break;
        };
        let take = (sample_rows - sampled).min(batch.num_rows() as u64) as usize;
        let batch = batch.slice(0, take);
        for (i, field) in schema.fields().iter().enumerate() {
            let column = batch.column(i);
            nulls[i] += column.null_count() as u64;
            let Ok(text) = as_text(field.name(), "profile", column) else {
                continue;
            };
            for v in text.iter().flatten() {
                classifier.observe(v, &mut evidence[i]);
                let mut h = DefaultHasher::new();
                v.hash(&mut h);
                distinct[i].insert(h.finish());
            }
        }
        sampled += take as u64;
    }
    let mut patient_id = None;
    let mut columns = Vec::with_capacity(n);
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name().clone();
        let non_null = sampled - nulls[i];
        let distinct = distinct[i].len() as u64;
        let suggestion = suggest(
            &name,
            &evidence[i],
            non_null,
            distinct,
            patient_id.is_none(),
        );
        if suggestion.action == "tokenize" && patient_id.is_none() && hints(&name).record_number {
            patient_id = Some(name.clone());
        }
        columns.push(ColumnProfile {
            name,
            data_type: field.data_type().to_string(),
            sampled,
            nulls: nulls[i],
            distinct,
            evidence: evidence[i].clone(),
            suggestion,
        });
    }
    // Date shifts need a patient column; without one, dates fall back to year_only.
    if patient_id.is_none() {
        for c in &mut columns {
            if c.suggestion.action == "date_shift" {
                c.suggestion.action = "year_only";
                c.suggestion
                    .reason
                    .push_str("; year_only because no patient column was found");
            }
        }
    }
    Ok(Profile {
        input: path.to_path_buf(),
        format: format.as_str(),
        rows_sampled: sampled,
        patient_id,
        columns,
    })
}

/// What a column's name suggests it holds (by whole words of the name, any case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    pub ssn: bool,
    pub record_number: bool,
    pub name: bool,
    pub birth: bool,
    pub date: bool,
    pub zip: bool,
    pub age: bool,
    pub phone: bool,
    pub email: bool,
    pub street: bool,
    pub place: bool,
    pub text: bool,
    pub demographic: bool,
}

/// The kind of identifier a column's name says it holds, from [`hints`]: a record number (or
/// the dataset's patient column), SSN, fax or phone, e-mail, ZIP, age, street, place or name;
/// `None` when the name says none of these (dates and demographics included). Shared by the
/// record-aware text of `airlock deid` and the canaries' plan.
pub fn identifier_kind(column: &str, is_patient_id: bool) -> Option<airlock_core::phi::Kind> {
    use airlock_core::phi::Kind;
    let h = hints(column);
    Some(if is_patient_id || h.record_number {
        Kind::Mrn
    } else if h.ssn {
        Kind::Ssn
    } else if h.phone {
        if column.to_ascii_lowercase().contains("fax") {
            Kind::Fax
        } else {
            Kind::Phone
        }
    } else if h.email {
        Kind::Email
    } else if h.zip {
        Kind::Zip
    } else if h.age {
        Kind::Age
    } else if h.street {
        Kind::Address
    } else if h.place {
        Kind::Location
    } else if h.name {
        Kind::Name
    } else {
        return None;
    })
}

/// What the column name `column` suggests it holds.
pub fn hints(column: &str) -> Hints {
    let lower = column.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    Hints {
        ssn: any(&["ssn", "social", "sin"]),
        record_number: any(&["mrn", "mr", "patientid", "patient_id", "record", "chart"])
            || lower.contains("patient_id")
            || lower.contains("patientid")
            || lower == "pid",
        name: any(&[
            "name",
            "firstname",
            "lastname",
            "surname",
            "fullname",
            "given",
            "family",
        ]) && !any(&["file", "user", "drug", "facility", "test", "hospital"]),
        birth: any(&["dob", "birth", "birthdate", "born"]),
        date: any(&[
            "date",
            "dt",
            "time",
            "timestamp",
            "datetime",
            "admitted",
            "discharged",
        ]) || lower.ends_with("_at"),
        zip: any(&["zip", "zipcode", "postal", "postcode"]),
        age: any(&["age", "age_years"]),
        phone: any(&["phone", "tel", "telephone", "fax", "mobile", "cell"]),
        email: any(&["email", "mail", "e"]) && lower.contains("mail"),
        street: any(&["street", "address", "addr", "address1", "address2", "line1"]),
        place: any(&["city", "town", "county", "municipality"]),
        text: any(&[
            "note",
            "notes",
            "comment",
            "comments",
            "text",
            "narrative",
            "summary",
            "report",
        ]),
        demographic: any(&["sex", "gender", "race", "ethnicity", "language", "marital"]),
    }
}

fn suggest(column: &str, e: &Evidence, non_null: u64, distinct: u64, first_id: bool) -> Suggestion {
    let h = hints(column);
    let share = |n: u64| {
        if non_null == 0 {
            0.0
        } else {
            n as f64 / non_null as f64
        }
    };
    let s = |class, action, rule: Option<Rule>, confidence: f64, reason: &str| Suggestion {
        class,
        action,
        rule: rule.map(Rule::as_str),
        confidence: (confidence * 100.0).round() / 100.0,
        reason: reason.to_owned(),
    };
    use FieldClass::*;
    if non_null == 0 {
        return s(
            DirectIdentifier,
            "drop",
            None,
            0.3,
            "no values in the sample; dropped to be safe",
        );
    }
    if share(e.ssn) >= 0.5 || h.ssn {
        return s(
            DirectIdentifier,
            "drop",
            None,
            share(e.ssn).max(0.7),
            "values look like SSNs",
        );
    }
    if share(e.email) >= 0.5 || h.email {
        return s(
            DirectIdentifier,
            "drop",
            None,
            share(e.email).max(0.7),
            "values look like e-mail addresses",
        );
    }
    if share(e.phone) >= 0.5 || h.phone {
        return s(
            DirectIdentifier,
            "drop",
            None,
            share(e.phone).max(0.7),
            "values look like phone numbers",
        );
    }
    if share(e.url) >= 0.5 || share(e.ip) >= 0.5 {
        return s(
            DirectIdentifier,
            "drop",
            None,
            share(e.url + e.ip),
            "values look like URLs or IP addresses",
        );
    }
    if share(e.free_text) >= 0.3 || (h.text && share(e.free_text) > 0.0) {
        return s(
            FreeText,
            "text_redact",
            None,
            share(e.free_text).max(0.6),
            "long free text may mention any identifier",
        );
    }
    if h.record_number && (share(e.id_like) >= 0.5 || share(e.integer) >= 0.5 || distinct > 1) {
        let reason = if first_id {
            "name and values suggest a record number; drafted as the patient column"
        } else {
            "name and values suggest a record number"
        };
        return s(
            DirectIdentifier,
            "tokenize",
            None,
            share(e.id_like.max(e.integer)).max(0.8),
            reason,
        );
    }
    let dates = share(e.date + e.datetime);
    if h.birth && dates >= 0.5 {
        return s(
            Date,
            "year_only",
            None,
            dates,
            "birth dates: Safe Harbor keeps the year only",
        );
    }
    if dates >= 0.8 || (h.date && dates >= 0.5) {
        return s(Date, "date_shift", None, dates, "values are dates");
    }
    if share(e.zip) >= 0.8 || (h.zip && share(e.zip) >= 0.5) {
        return s(
            QuasiIdentifier,
            "generalize",
            Some(Rule::Zip3),
            share(e.zip),
            "values look like ZIP codes",
        );
    }
    if h.age && share(e.integer + e.decimal) >= 0.8 {
        return s(
            QuasiIdentifier,
            "generalize",
            Some(Rule::Age90Plus),
            share(e.integer + e.decimal),
            "ages: Safe Harbor top-codes ages over 89",
        );
    }
    if share(e.person_name) >= 0.3 || h.name {
        return s(
            DirectIdentifier,
            "drop",
            None,
            share(e.person_name).max(0.6),
            "values look like person names",
        );
    }
    if h.street || h.place {
        return s(
            DirectIdentifier,
            "drop",
            None,
            0.7,
            "addresses and places smaller than a state identify people",
        );
    }
    if h.demographic && distinct <= 50 {
        return s(
            QuasiIdentifier,
            "keep",
            None,
            0.7,
            "a demographic attribute: keep, and measure its risk",
        );
    }
    let numeric = share(e.integer + e.decimal);
    if numeric >= 0.9 {
        if e.decimal == 0 && non_null >= 100 && distinct as f64 >= 0.9 * non_null as f64 {
            return s(
                DirectIdentifier,
                "tokenize",
                None,
                0.5,
                "unique integers may be identifiers; REVIEW",
            );
        }
        return s(Clinical, "keep", None, 0.6, "numeric measurements; REVIEW");
    }
    if distinct <= 50 && non_null >= 20 {
        return s(Clinical, "keep", None, 0.5, "few distinct codes; REVIEW");
    }
    s(
        DirectIdentifier,
        "drop",
        None,
        0.3,
        "could not tell what this is; dropped to be safe; REVIEW",
    )
}

impl Profile {
    /// The draft policy as TOML, with each field's evidence as comments.
    pub fn to_policy_toml(&self, dataset: &str, created: &str) -> String {
        use std::fmt::Write;
        let mut t = String::new();
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let key = |s: &str| {
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                s.to_owned()
            } else {
                quote(s)
            }
        };
        let _ = writeln!(
            t,
            "# Drafted by `airlock profile` on {created} from {} sampled rows.",
            self.rows_sampled
        );
        let _ = writeln!(
            t,
            "# A draft is a suggestion: review every field (look for REVIEW) before use."
        );
        let _ = writeln!(
            t,
            "# Evidence counts how many sampled cells looked like each kind of value.\n"
        );
        let _ = writeln!(t, "[dataset]\nname = {}", quote(dataset));
        match &self.patient_id {
            Some(p) => {
                let _ = writeln!(t, "patient_id = {}", quote(p));
            }
            None => {
                let _ = writeln!(
                    t,
                    "# patient_id = \"...\"   # no patient column found; date_shift needs one"
                );
            }
        }
        let _ = writeln!(
            t,
            "\n[defaults]\nunclassified = \"fail\"\ndate_shift_days = 365"
        );
        for c in &self.columns {
            let ev: Vec<String> = c
                .evidence
                .nonzero()
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(
                t,
                "\n# {} non-null of {} sampled, {} distinct; evidence: {}",
                c.sampled - c.nulls,
                c.sampled,
                c.distinct,
                if ev.is_empty() {
                    "none".into()
                } else {
                    ev.join(", ")
                }
            );
            let _ = writeln!(
                t,
                "# confidence {:.2}: {}",
                c.suggestion.confidence, c.suggestion.reason
            );
            let _ = writeln!(t, "[fields.{}]", key(&c.name));
            let _ = writeln!(t, "class = \"{}\"", c.suggestion.class);
            let _ = writeln!(t, "action = \"{}\"", c.suggestion.action);
            if let Some(rule) = c.suggestion.rule {
                let _ = writeln!(t, "rule = \"{rule}\"");
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::policy::Policy;

    #[test]
    fn demo_table_profiles_to_a_valid_safe_draft() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.csv");
        crate::demo::write_encounters(&path, Format::Csv, 3000, 1).unwrap();
        let p = profile(&path, Format::Csv, 2000, &ReadOptions::default(), None).unwrap();
        assert_eq!(p.rows_sampled, 2000);
        assert_eq!(p.patient_id.as_deref(), Some("mrn"));
        let action = |c: &str| {
            let col = p.columns.iter().find(|x| x.name == c).unwrap();
            (col.suggestion.action, col.suggestion.rule)
        };
        assert_eq!(action("mrn"), ("tokenize", None));
        assert_eq!(action("ssn"), ("drop", None));
        assert_eq!(action("patient_name"), ("drop", None));
        assert_eq!(action("phone"), ("drop", None));
        assert_eq!(action("email"), ("drop", None));
        assert_eq!(action("street"), ("drop", None));
        assert_eq!(action("birth_date"), ("year_only", None));
        assert_eq!(action("admit_date"), ("date_shift", None));
        assert_eq!(action("discharge_time"), ("date_shift", None));
        assert_eq!(action("zip"), ("generalize", Some("zip3")));
        assert_eq!(action("age"), ("generalize", Some("age_90_plus")));
        assert_eq!(action("note"), ("text_redact", None));
        assert_eq!(action("sex"), ("keep", None));
        assert_eq!(action("hba1c"), ("keep", None));
        let ssn = p.columns.iter().find(|x| x.name == "ssn").unwrap();
        assert_eq!(ssn.evidence.ssn, 2000);

        let toml = p.to_policy_toml("encounters", "2026-01-01");
        let policy = Policy::parse(&toml, Path::new("draft.toml")).unwrap();
        assert_eq!(policy.fields.len(), 15);
        assert_eq!(policy.patient_id.as_deref(), Some("mrn"));
        // The draft holds counts, never values.
        let raw = std::fs::read_to_string(&path).unwrap();
        let first_row: Vec<&str> = raw.lines().nth(1).unwrap().split(',').collect();
        for v in &first_row[..8] {
            assert!(!toml.contains(v), "draft leaks a value");
        }
    }

    #[test]
    fn unknown_columns_are_dropped_with_low_confidence() {
        let s = suggest("blob", &Evidence::default(), 10, 10, true);
        assert_eq!(s.action, "drop");
        assert!(s.confidence < 0.5 && s.reason.contains("REVIEW"));
    }

    #[test]
    fn odd_column_names_are_quoted_in_the_draft() {
        let p = Profile {
            input: "x.csv".into(),
            format: "csv",
            rows_sampled: 1,
            patient_id: None,
            columns: vec![ColumnProfile {
                name: "first name".into(),
                data_type: "Utf8".into(),
                sampled: 1,
                nulls: 0,
                distinct: 1,
                evidence: Evidence::default(),
                suggestion: suggest("first name", &Evidence::default(), 1, 1, true),
            }],
        };
        let toml = p.to_policy_toml("x", "today");
        assert!(toml.contains("[fields.\"first name\"]"), "{toml}");
        assert!(Policy::parse(&toml, Path::new("d.toml")).is_ok());
    }
}
