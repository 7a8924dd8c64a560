//! Per-patient date shifting and year extraction, keeping each value's own format.
//!
//! A patient's offset comes from the one patient clock ([`DateShifter`], in `airlock-core`):
//! every date of one patient moves by the same amount, so intervals (length of stay, age at
//! admission in days) survive, and no table of offsets is stored. Text dates are recognized in three shapes, each written back in the same shape:
//! ISO `2024-03-07` (optionally followed by a time), US `3/7/2024` or `03/07/2024`, and compact
//! `20240307`. Anything else is not a date to this module, and the caller fails closed.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{Datelike, Days, NaiveDate};

/// The one patient clock (every modality draws from it).
pub use crate::clock::{DateShifter, ShiftRange};

/// How a text date was written, so that the shifted one can be written the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    Iso,
    Compact,
    /// `pad`: month and day written with two digits (`03/07/2024`), else as few as needed.
    Us {
        pad: bool,
    },
}

/// A date found at the start of a text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextDate {
    pub date: NaiveDate,
    pub style: DateStyle,
    /// Byte length of the date part; what follows (a time) is kept as is.
    pub len: usize,
}

/// Pre-parsed format items (chrono re-parses a format string on every call otherwise).
pub struct DateParser {
    iso: Vec<Item<'static>>,
    us: Vec<Item<'static>>,
    compact: Vec<Item<'static>>,
}

impl Default for DateParser {
    fn default() -> Self {
        Self::new()
    }
}

impl DateParser {
    pub fn new() -> Self {
        let items = |f: &'static str| StrftimeItems::new(f).collect::<Vec<_>>();
        Self {
            iso: items("%Y-%m-%d"),
            us: items("%m/%d/%Y"),
            compact: items("%Y%m%d"),
        }
    }

    /// Recognizes a date at the start of `s` (after leading spaces are trimmed by the caller).
    pub fn parse(&self, s: &str) -> Option<TextDate> {
        let bytes = s.as_bytes();
        let date_end = bytes
            .iter()
            .position(|&b| b == b'T' || b == b' ')
            .unwrap_or(bytes.len());
        let head = &s[..date_end];
        let b = head.as_bytes();
        let (items, style) = if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
            (&self.iso, DateStyle::Iso)
        } else if b.len() == 8 && b.iter().all(u8::is_ascii_digit) && date_end == bytes.len() {
            (&self.compact, DateStyle::Compact)
        } else if (8..=10).contains(&b.len()) && b.iter().filter(|&&c| c == b'/').count() == 2 {
            let first = head.find('/')?;
            let second = head[first + 1..].find('/')? + first + 1;
            if head.len() - second - 1 != 4 {
                return None; // two-digit years are ambiguous: not a date here
            }
            // A leading zero means padded; a one-digit part means unpadded; two parts of two
            // digits each (12/15/2023) say nothing, and the export form MM/DD/YYYY is assumed.
            let (month, day) = (&head[..first], &head[first + 1..second]);
            let unpadded = month.len() == 1 || day.len() == 1;
            (&self.us, DateStyle::Us { pad: !unpadded })
        } else {
            return None;
        };
        if !b
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b'-' || *c == b'/')
        {
            return None;
        }
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, head, items.iter()).ok()?;
        let date = parsed.to_naive_date().ok()?;
        Some(TextDate {
            date,
            style,
            len: date_end,
        })
    }
}

/// Writes `date` in `style` to `out`.
pub fn push_date(date: NaiveDate, style: DateStyle, out: &mut String) {
    use std::fmt::Write;
    let (y, m, d) = (date.year(), date.month(), date.day());
    let r = match style {
        DateStyle::Iso => write!(out, "{y:04}-{m:02}-{d:02}"),
        DateStyle::Compact => write!(out, "{y:04}{m:02}{d:02}"),
        DateStyle::Us { pad: true } => write!(out, "{m:02}/{d:02}/{y:04}"),
        DateStyle::Us { pad: false } => write!(out, "{m}/{d}/{y:04}"),
    };
    r.expect("writing to a String cannot fail");
}

/// Shifts a date by whole days; `None` if it leaves chrono's range.
pub fn shift(date: NaiveDate, days: i32) -> Option<NaiveDate> {
    if days >= 0 {
        date.checked_add_days(Days::new(u64::from(days.unsigned_abs())))
    } else {
        date.checked_sub_days(Days::new(u64::from(days.unsigned_abs())))
    }
}

/// Shifts the date at the start of `value` by `days`, keeps its format and whatever follows
/// it, and appends the result to `out`. Returns false (and appends nothing) if `value` is not
/// a recognized date.
pub fn shift_text(parser: &DateParser, value: &str, days: i32, out: &mut String) -> bool {
    let trimmed = value.trim();
    let Some(found) = parser.parse(trimmed) else {
        return false;
    };
    let Some(shifted) = shift(found.date, days) else {
        return false;
    };
    push_date(shifted, found.style, out);
    out.push_str(&trimmed[found.len..]);
    true
}

/// The year of a text date, or of a bare four-digit year.
pub fn year_of_text(parser: &DateParser, value: &str) -> Option<i32> {
    let trimmed = value.trim();
    if trimmed.len() == 4 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed.parse().ok();
    }
    parser.parse(trimmed).map(|d| d.date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Purpose, WorkspaceSecret};
    use proptest::prelude::*;

    fn shifter(max: u32) -> DateShifter {
        DateShifter::new(
            WorkspaceSecret::from_bytes([9; 32]).derive(Purpose::DateShift),
            ShiftRange::new(max, "test").unwrap(),
        )
    }

    fn shifted(value: &str, days: i32) -> Option<String> {
        let mut out = String::new();
        shift_text(&DateParser::new(), value, days, &mut out).then_some(out)
    }

    #[test]
    fn formats_are_kept() {
        assert_eq!(shifted("2024-03-07", 30).as_deref(), Some("2024-04-06"));
        assert_eq!(
            shifted("2024-03-07T10:22:00Z", -7).as_deref(),
            Some("2024-02-29T10:22:00Z")
        );
        assert_eq!(
            shifted("2024-03-07 08:00", 1).as_deref(),
            Some("2024-03-08 08:00")
        );
        assert_eq!(shifted("3/7/2024", 1).as_deref(), Some("3/8/2024"));
        assert_eq!(shifted("1/15/2023", 21).as_deref(), Some("2/5/2023"));
        assert_eq!(shifted("12/15/2023", 21).as_deref(), Some("01/05/2024"));
        assert_eq!(shifted("03/07/2024", 30).as_deref(), Some("04/06/2024"));
        assert_eq!(shifted("12/31/1999", 1).as_deref(), Some("01/01/2000"));
        assert_eq!(shifted("20240307", 1).as_deref(), Some("20240308"));
    }

    #[test]
    fn non_dates_are_refused() {
        for v in [
            "",
            "hello",
            "2024-13-01",
            "02/30/2024",
            "3/7/24",
            "12345",
            "2024/03/07",
            "120/80",
        ] {
            assert_eq!(shifted(v, 1), None, "{v}");
        }
    }

    #[test]
    fn years_are_extracted() {
        let p = DateParser::new();
        assert_eq!(year_of_text(&p, "1987-05-01"), Some(1987));
        assert_eq!(year_of_text(&p, "5/1/1987"), Some(1987));
        assert_eq!(year_of_text(&p, "1987"), Some(1987));
        assert_eq!(year_of_text(&p, "May 1987"), None);
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_any_text(v in "\\PC{0,40}") {
            let p = DateParser::new();
            let _ = p.parse(&v);
            let mut out = String::new();
            let _ = shift_text(&p, &v, 400, &mut out);
            let _ = year_of_text(&p, &v);
        }

        #[test]
        fn every_style_round_trips(days in -30000i64..30000, style in 0usize..4) {
            let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
            let style = [DateStyle::Iso, DateStyle::Compact, DateStyle::Us { pad: true }, DateStyle::Us { pad: false }][style];
            let mut text = String::new();
            push_date(date, style, &mut text);
            let parsed = DateParser::new().parse(&text).unwrap();
            prop_assert_eq!(parsed.date, date);
            prop_assert_eq!(parsed.len, text.len());
        }

        #[test]
        fn offset_is_never_zero_and_within_range(patient in "[A-Z0-9]{1,12}", max in 1u32..=3650) {
            let s = shifter(max);
            let d = s.offset(&patient);
            prop_assert!(d != 0);
            prop_assert!(d.unsigned_abs() <= max);
            prop_assert_eq!(d, s.offset(&patient));
        }

        #[test]
        fn intervals_within_a_patient_are_kept(
            patient in "[A-Z0-9]{4,10}",
            a in 0i64..40000, b in 0i64..40000,
        ) {
            let s = shifter(365);
            let base = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap();
            let da = base + chrono::Duration::days(a);
            let db = base + chrono::Duration::days(b);
            let off = s.offset(&patient);
            let sa = shifted(&da.format("%Y-%m-%d").to_string(), off).unwrap();
            let sb = shifted(&db.format("%m/%d/%Y").to_string(), off).unwrap();
            let p = DateParser::new();
            let na = p.parse(&sa).unwrap().date;
            let nb = p.parse(&sb).unwrap().date;
            prop_assert_eq!((nb - na).num_days(), b - a);
            prop_assert_eq!((na - da).num_days(), i64::from(off));
        }
    }
}
