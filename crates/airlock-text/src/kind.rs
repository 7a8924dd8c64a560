//! The Safe Harbor identifier kinds that the detector reports, and a found span.

use std::ops::Range;

use serde::Serialize;

/// One kind of identifier in free text (HIPAA Safe Harbor §164.514(b)(2)(i)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    /// (A) names of the patient, relatives, employers or household members, and clinicians.
    Name,
    /// (B) a street address.
    Address,
    /// (B) a city, town, county or facility.
    Location,
    /// (B) a ZIP code.
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
    /// (J) an account number.
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
    /// (R) any other unique identifying number or code.
    Id,
    /// An occupation ("retired iron worker"): not a Safe Harbor identifier, but a rare one
    /// narrows a patient down, and i2b2-style gold standards mark it.
    Profession,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 20] = [
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
        Kind::Id,
        Kind::Profession,
    ];

    /// The tag written by `text_redact` and used in reports: `NAME`, `DATE`, ...
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
            Kind::Id => "ID",
            Kind::Profession => "PROFESSION",
        }
    }

    /// The coarse type of the common gold format (`NAME DATE AGE LOCATION ID CONTACT`).
    pub fn gold_type(self) -> &'static str {
        match self {
            Kind::Name => "NAME",
            Kind::Address | Kind::Location | Kind::Zip => "LOCATION",
            Kind::Date => "DATE",
            Kind::Age => "AGE",
            Kind::Phone | Kind::Fax | Kind::Email | Kind::Url | Kind::Ip => "CONTACT",
            Kind::Ssn
            | Kind::Mrn
            | Kind::HealthPlan
            | Kind::Account
            | Kind::License
            | Kind::Vehicle
            | Kind::Device
            | Kind::Id => "ID",
            Kind::Profession => "PROFESSION",
        }
    }
}

/// One identifier found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// What it is.
    pub kind: Kind,
    /// How sure the rule that found it is, in (0, 1].
    pub confidence: f32,
}

impl Span {
    /// The byte range.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}
