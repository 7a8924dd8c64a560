//! The shared vocabulary of what an identifier is and where it was found: one [`Kind`] for the
//! free-text detector, the residual scan, the table engine's findings and the canaries, and one
//! [`Location`] ("where, never what") for every report that points into a file.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::shown;

/// One kind of identifier (HIPAA Safe Harbor §164.514(b)(2)(i), letters in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// (A) names of the patient, relatives, employers or household members, and clinicians.
    Name,
    /// (B) a street address.
    Address,
    /// (B) a city, town, county or facility.
    Location,
    /// (B) a ZIP or other postal code.
    Zip,
    /// (C) any date element other than the year.
    Date,
    /// (C) an age over 89.
    Age,
    /// (D) a telephone or pager number.
    Phone,
    /// (E) a fax number.
    Fax,
    /// (F) an e-mail address.
    Email,
    /// (G) a social security number.
    Ssn,
    /// (H) a medical record number.
    Mrn,
    /// (I) a health plan beneficiary number.
    HealthPlan,
    /// (J) an account number (bank, card, billing).
    Account,
    /// (K) a certificate or license number.
    License,
    /// (L) a vehicle identifier or serial number, including a license plate.
    Vehicle,
    /// (M) a device identifier or serial number.
    Device,
    /// (N) a web URL.
    Url,
    /// (O) an IP address.
    Ip,
    /// (P) a biometric identifier (finger or voice print).
    Biometric,
    /// (Q) a full-face photograph or comparable image (a file name or reference to one).
    Photo,
    /// (R) any other unique identifying number or code.
    Id,
    /// An occupation ("retired iron worker"): not a Safe Harbor identifier, but a rare one
    /// narrows a patient down, and i2b2-style gold standards mark it.
    Profession,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 22] = [
        Kind::Name,
        Kind::Address,
        Kind::Location,
        Kind::Zip,
        Kind::Date,
        Kind::Age,
        Kind::Phone,
        Kind::Fax,
        Kind::Email,
        Kind::Ssn,
        Kind::Mrn,
        Kind::HealthPlan,
        Kind::Account,
        Kind::License,
        Kind::Vehicle,
        Kind::Device,
        Kind::Url,
        Kind::Ip,
        Kind::Biometric,
        Kind::Photo,
        Kind::Id,
        Kind::Profession,
    ];

    /// The tag written by `text_redact` and used in every report: `NAME`, `HEALTH_PLAN`, ...
    pub fn tag(self) -> &'static str {
        match self {
            Kind::Name => "NAME",
            Kind::Address => "ADDRESS",
            Kind::Location => "LOCATION",
            Kind::Zip => "ZIP",
            Kind::Date => "DATE",
            Kind::Age => "AGE",
            Kind::Phone => "PHONE",
            Kind::Fax => "FAX",
            Kind::Email => "EMAIL",
            Kind::Ssn => "SSN",
            Kind::Mrn => "MRN",
            Kind::HealthPlan => "HEALTH_PLAN",
            Kind::Account => "ACCOUNT",
            Kind::License => "LICENSE",
            Kind::Vehicle => "VEHICLE",
            Kind::Device => "DEVICE",
            Kind::Url => "URL",
            Kind::Ip => "IP",
            Kind::Biometric => "BIOMETRIC",
            Kind::Photo => "PHOTO",
            Kind::Id => "ID",
            Kind::Profession => "PROFESSION",
        }
    }

    /// The kind of a tag, in either case (`NAME`, `name`, `health_plan`).
    pub fn from_tag(tag: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.tag().eq_ignore_ascii_case(tag))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.tag())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Kind::from_tag(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown identifier kind ({} characters); expected one of {}",
                s.chars().count(),
                Kind::ALL.map(Kind::tag).join(", ")
            ))
        })
    }
}

/// Where something was found in a file, never what: the coordinates that apply, then the byte
/// offset and length within the line, cell, value or file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// 1-based line of a text or JSONL file, or of a file read as bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based data row of a table (0: the names of a table whose header was read as data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Column of a table, or the JSON path (`/entry/0/note`) of a JSON value, as shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// 0-based notebook cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<u64>,
    /// Byte offset within the line, cell or value (or the file, for a file read as bytes).
    pub offset: u64,
    /// Byte length.
    pub length: u64,
}

impl Location {
    /// A line of a file.
    pub fn line(line: u64) -> Location {
        Location {
            line: Some(line),
            ..Location::default()
        }
    }

    /// A table cell.
    pub fn cell(row: u64, column: impl Into<String>) -> Location {
        Location {
            row: Some(row),
            column: Some(column.into()),
            ..Location::default()
        }
    }

    /// The same place with a byte range set.
    pub fn at(mut self, offset: usize, length: usize) -> Location {
        self.offset = offset as u64;
        self.length = length as u64;
        self
    }
}

/// In words, names escaped and capped: `line 3 at 12+9`, `row 2 column "note" at 0+11`,
/// `cell 1 /cells/1/source/0 at 4+5`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(cell) = self.cell {
            write!(f, "cell {cell} ")?;
        }
        if let Some(line) = self.line {
            write!(f, "line {line} ")?;
        }
        if let Some(row) = self.row {
            write!(f, "row {row} ")?;
        }
        if let Some(column) = &self.column {
            if column.starts_with('/') {
                // a JSON path: its parts are already shown (keys that look like data are
                // written by position)
                write!(f, "{} ", shown::escape(column, 4 * shown::NAME_CAP))?;
            } else {
                write!(f, "column \"{}\" ", shown::Shown(column))?;
            }
        }
        write!(f, "at {}+{}", self.offset, self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_in_either_case() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_tag(k.tag()), Some(k));
            assert_eq!(Kind::from_tag(&k.tag().to_ascii_lowercase()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.tag()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), k);
        }
        assert_eq!(Kind::from_tag("PATIENT"), None);
    }

    #[test]
    fn an_unknown_kind_is_refused_without_echoing_it() {
        let e = serde_json::from_str::<Kind>("\"John Smith\"").unwrap_err();
        assert!(!e.to_string().contains("John"), "{e}");
    }

    #[test]
    fn a_location_shows_only_its_coordinates() {
        let l = Location::cell(3, "note").at(7, 4);
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"row":3,"column":"note","offset":7,"length":4}"#
        );
        assert_eq!(l.to_string(), r#"row 3 column "note" at 7+4"#);
        assert_eq!(Location::line(2).at(0, 5).to_string(), "line 2 at 0+5");
        let hostile = Location::cell(1, "id\u{1b}[2J\u{202e}").at(0, 1);
        assert!(
            !hostile.to_string().chars().any(char::is_control),
            "{hostile}"
        );
    }
}
