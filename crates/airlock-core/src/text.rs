//! The seam between the de-identification engine and a free-text PHI detector.
//!
//! The engine calls a [`TextScrubber`] for `text_redact` and `text_surrogate` columns and for the
//! residual scan of its output. The detector behind it lives in another crate (`airlock-text`'s
//! `TextEngine` in the product, simple pattern scrubbers in tests), so the engine, the CLI and a
//! server can swap it without changing each other.

use std::ops::Range;

use crate::phi::Kind;

/// How far the free-text detector goes beyond what its rules can explain.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DetectionMode {
    /// The rules, and a safety net: a word no dictionary explains (not English, clinical, a
    /// drug, a unit, an abbreviation) that is shaped like a proper noun (capitalized
    /// mid-sentence, letters outside ASCII, next to a name or place cue, next to a found name)
    /// is removed as a name or place. The default everywhere.
    #[default]
    Strict,
    /// The rules only: fewer false alarms on terse clinical text, more unknown names kept.
    Balanced,
}

impl DetectionMode {
    /// `strict` or `balanced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Balanced => "balanced",
        }
    }
}

/// Replace each identifier with a typed tag, or with a realistic surrogate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMode {
    /// `[NAME]`, `[DATE]`, `[SSN]`, ...
    Redact,
    /// A value of the same kind and shape, consistent within a patient and key.
    Surrogate,
}

/// What a scrubber knows about the row a text belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextContext<'a> {
    /// The patient's identifier from the policy's `patient_id` column, if any. Surrogates are
    /// keyed by it so that the same name in two notes of one patient gets the same surrogate.
    pub patient: Option<&'a str>,
    /// The patient's date shift in days: dates in text move with the structured dates.
    pub date_shift_days: Option<i32>,
    /// What the record already says about its patient (the row's names, numbers, address):
    /// looked for in the text in their easy forms and removed with their kind.
    pub known: &'a [(Kind, &'a str)],
    /// The same values compiled once by [`TextScrubber::prepare_known`] (for a record or
    /// patient with many texts); when set, the scrubber uses it instead of `known`.
    pub prepared: Option<&'a PreparedKnown>,
}

/// A record's known values, compiled by a scrubber for the many texts of one record or patient.
pub type PreparedKnown = Box<dyn std::any::Any + Send + Sync>;

/// One identifier found in a text: where and what kind, never the text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Byte range in the scanned text.
    pub span: Range<usize>,
    /// What it is.
    pub kind: Kind,
}

/// A free-text PHI detector and replacer, shared by reference across threads.
pub trait TextScrubber: Send + Sync {
    /// Appends `text` with every identifier replaced to `out`; returns how many were replaced.
    fn scrub(&self, text: &str, mode: TextMode, ctx: &TextContext<'_>, out: &mut String) -> usize;

    /// Reports each likely real identifier in `text` to `found`. Known-fictional values (SSNs
    /// in the never-issued 9xx area, 555-01xx phones, example.org addresses) are not reported,
    /// so a surrogate output scans clean.
    fn scan(&self, text: &str, found: &mut dyn FnMut(Finding));

    /// Reports what in a column name or key looks like an identifier. Names are vetted less
    /// eagerly than text (by default as text).
    fn scan_name(&self, name: &str, found: &mut dyn FnMut(Finding)) {
        self.scan(name, found);
    }

    /// Compiles a record's known values once, for [`TextContext::prepared`]; `None` where the
    /// scrubber has nothing to gain from it.
    fn prepare_known(&self, _known: &[(Kind, &str)]) -> Option<PreparedKnown> {
        None
    }

    /// A short name for manifests and reports (e.g. `airlock-text`).
    fn name(&self) -> &'static str;

    /// Kinds whose surrogates cannot be told from real values (shifted dates, same-shape IDs).
    /// A residual scan of surrogate output skips these kinds; the same detector produced them.
    fn opaque_surrogate_kinds(&self) -> &'static [Kind] {
        &[]
    }
}
