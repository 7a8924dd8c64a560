//! Moving a date written in free text by a number of days, in the shape it was written:
//! `3/7` stays month/day, `March 7th, 2021` stays a month name with an ordinal and a year,
//! `'92` (a year alone, which Safe Harbor keeps) stays as it is.
//!
//! The detector has already said where the date is and that it is one; this only reads its
//! numbers and month names back and writes them shifted (chrono does the calendar).

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use airlock_core::dates::{self, DateParser};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month (1-12) named by `word` (full or abbreviated, any case).
fn month_of(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    if w == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| *m == w || w.len() == 3 && m.starts_with(&w))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// The month's name written like `model` (full or three letters; UPPER, lower or Title).
fn push_month(month: u32, model: &str, out: &mut String) {
    let full = MONTHS[(month as usize).saturating_sub(1) % 12];
    let word = model.trim_end_matches('.');
    let name = if word.len() <= 4 && word.len() < full.len() {
        &full[..3]
    } else {
        full
    };
    if word.bytes().all(|b| !b.is_ascii_lowercase()) {
        out.push_str(&name.to_ascii_uppercase());
    } else if word.starts_with(|c: char| c.is_ascii_uppercase()) {
        out.push_str(&name[..1].to_ascii_uppercase());
        out.push_str(&name[1..]);
    } else {
        out.push_str(name);
    }
    if model.ends_with('.') {
        out.push('.');
    }
}

fn ordinal(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// A year as written: four digits, or two (with a century guessed from the pivot 30).
fn full_year(text: &str) -> Option<i32> {
    let y: i32 = text.parse().ok()?;
    match text.len() {
        4 => Some(y),
        2 => Some(if y <= 30 { 2000 + y } else { 1900 + y }),
        _ => None,
    }
}

fn push_year(year: i32, digits: usize, out: &mut String) {
    if digits == 2 {
        let _ = write!(out, "{:02}", year.rem_euclid(100));
    } else {
        let _ = write!(out, "{year:04}");
    }
}

fn push_number(n: u32, model: &str, out: &mut String) {
    if model.len() == 2 && model.starts_with('0') {
        let _ = write!(out, "{n:02}");
    } else {
        let _ = write!(out, "{n}");
    }
}

/// A date in a year that is not leap, for month/day dates written without a year.
const REFERENCE_YEAR: i32 = 2001;

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
        .or_else(|| NaiveDate::from_ymd_opt(year, month, day.min(28)))
}

/// Appends `original` moved by `days` to `out`; false (nothing appended) when it cannot be
/// read back as a date.
pub fn shift(parser: &DateParser, original: &str, days: i32, out: &mut String) -> bool {
    let mark = out.len();
    let ok = shift_inner(parser, original, days, out);
    if !ok {
        out.truncate(mark);
    }
    ok
}

/// The weekdays, Monday first, and the shortest prefix each is written with.
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// "Wednesday, November 16": the weekday moves with the date, by the same days (a shift of N
/// days moves any date's weekday by N mod 7), written as long and in the case it was.
fn shift_weekday(s: &str, days: i32) -> Option<(String, usize)> {
    let word_len = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let word = &s[..word_len];
    let lower = word.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    let i = WEEKDAYS.iter().position(|d| {
        d.starts_with(&lower)
            || lower == "tues" && *d == "tuesday"
            || lower == "thur" && *d == "thursday"
            || lower == "thurs" && *d == "thursday"
    })?;
    let j = (i as i64 + i64::from(days)).rem_euclid(7) as usize;
    let full = WEEKDAYS[j];
    let mut new: String = if word_len >= 6 || lower == WEEKDAYS[i] {
        full.to_owned()
    } else {
        full[..3].to_owned()
    };
    if word.bytes().all(|b| b.is_ascii_uppercase()) {
        new.make_ascii_uppercase();
    } else if word.as_bytes()[0].is_ascii_uppercase() {
        new[..1].make_ascii_uppercase();
    }
    Some((new, word_len))
}

fn shift_inner(parser: &DateParser, original: &str, days: i32, out: &mut String) -> bool {
    let s = original;
    if let Some((weekday, len)) = shift_weekday(s, days) {
        let rest = &s[len..];
        let sep = rest.len() - rest.trim_start_matches(['.', ',', ' ']).len();
        if sep > 0 && rest.len() > sep {
            out.push_str(&weekday);
            out.push_str(&rest[..sep]);
            return shift_inner(parser, &rest[sep..], days, out);
        }
    }
    // a year alone ('92): Safe Harbor keeps years
    if s.starts_with('\'') && s[1..].bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(s);
        return true;
    }
    if parser.parse(s).is_some_and(|d| d.len == s.len()) {
        return dates::shift_text(parser, s, days, out);
    }
    let numeric = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'/' | b'-' | b'.'));
    if numeric {
        return shift_numeric(s, days, out);
    }
    shift_words(s, days, out)
}

/// `3/7`, `03/07/21`, `7-8`, `4/97`, `2021-03-07`, `3.7.2021`.
fn shift_numeric(s: &str, days: i32, out: &mut String) -> bool {
    let sep = match s.bytes().find(|b| !b.is_ascii_digit()) {
        Some(b) => char::from(b),
        None => return false,
    };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let num = |p: &str| p.parse::<u32>().ok();
    let (y, m, d, y_digits, order_ymd) = match parts.as_slice() {
        [a, b, c] if a.len() == 4 => (full_year(a), num(b), num(c), 4, true),
        [a, b, c] => (full_year(c), num(a), num(b), c.len(), false),
        [a, b] if b.len() == 4 || num(b).is_some_and(|v| v > 31) => {
            // month and year: move the middle of the month
            let (Some(year), Some(month)) = (full_year(b), num(a)) else {
                return false;
            };
            let Some(moved) = date(year, month, 15).and_then(|d| dates::shift(d, days)) else {
                return false;
            };
            push_number(moved.month(), a, out);
            out.push(sep);
            push_year(moved.year(), b.len(), out);
            return true;
        }
        [a, b] => (Some(REFERENCE_YEAR), num(a), num(b), 0, false),
        _ => return false,
    };
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return false;
    };
    let Some(moved) = date(y, m, d).and_then(|x| dates::shift(x, days)) else {
        return false;
    };
    let (mp, dp) = if order_ymd {
        (parts[1], parts[2])
    } else {
        (parts[0], parts[1])
    };
    if order_ymd {
        push_year(moved.year(), 4, out);
        out.push(sep);
    }
    push_number(moved.month(), mp, out);
    out.push(sep);
    push_number(moved.day(), dp, out);
    if !order_ymd && y_digits > 0 {
        out.push(sep);
        push_year(moved.year(), y_digits, out);
    }
    true
}

/// `March 7`, `7 Mar 2021`, `march of 1993`, `Sept.`, `the 11th`, `20th Oct, 1989`.
fn shift_words(s: &str, days: i32, out: &mut String) -> bool {
    // pieces: runs of letters, runs of digits (with an ordinal suffix), and the rest
    let mut month: Option<(u32, &str)> = None;
    let mut day: Option<(u32, &str)> = None;
    let mut year: Option<(i32, &str)> = None;
    let mut pieces: Vec<(usize, usize, u8)> = Vec::new(); // (start, end, 0 other / 1 month / 2 day / 3 year)
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i].is_ascii_alphabetic() {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' {
                i += 1;
            }
            let word = &s[start..i];
            if month.is_none()
                && let Some(m) = month_of(word)
            {
                month = Some((m, word));
                pieces.push((start, i, 1));
                continue;
            }
            pieces.push((start, i, 0));
        } else if b[i].is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[start..i];
            let mut end = i;
            if s[i..].len() >= 2
                && ["st", "nd", "rd", "th"]
                    .iter()
                    .any(|o| s[i..].to_ascii_lowercase().starts_with(o))
            {
                end = i + 2;
            }
            let value: u32 = digits.parse().unwrap_or(0);
            if digits.len() <= 2
                && day.is_none()
                && (1..=31).contains(&value)
                && (end > i || year.is_none() && month.is_some() || month.is_none())
            {
                day = Some((value, digits));
                pieces.push((start, end, 2));
            } else if let Some(y) = full_year(digits) {
                year = Some((y, digits));
                pieces.push((start, end, 3));
            } else {
                pieces.push((start, end, 0));
            }
            i = end;
        } else {
            // whole characters: a slice must never cut one
            i += s[i..].chars().next().map_or(1, char::len_utf8);
            pieces.push((start, i, 0));
        }
    }
    let (m, d, y) = (month.map(|m| m.0), day.map(|d| d.0), year.map(|y| y.0));
    let base = match (m, d) {
        (Some(m), Some(d)) => date(y.unwrap_or(REFERENCE_YEAR), m, d),
        (Some(m), None) => date(y.unwrap_or(REFERENCE_YEAR), m, 15),
        (None, Some(d)) => date(REFERENCE_YEAR, 1, d),
        (None, None) => None,
    };
    let Some(moved) = base.and_then(|x| dates::shift(x, days)) else {
        return false;
    };
    for (start, end, what) in pieces {
        let piece = &s[start..end];
        match what {
            1 => push_month(moved.month(), piece, out),
            2 => {
                let digits = day.map_or("", |d| d.1);
                push_number(moved.day(), digits, out);
                if piece.len() > digits.len() {
                    let suffix = ordinal(moved.day());
                    if piece[digits.len()..]
                        .bytes()
                        .all(|c| c.is_ascii_uppercase())
                    {
                        out.push_str(&suffix.to_ascii_uppercase());
                    } else {
                        out.push_str(suffix);
                    }
                }
            }
            3 => push_year(moved.year(), year.map_or(4, |y| y.1.len()), out),
            _ => out.push_str(piece),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(s: &str, days: i32) -> Option<String> {
        let mut out = String::new();
        shift(&DateParser::new(), s, days, &mut out).then_some(out)
    }

    #[test]
    fn each_written_shape_moves_and_keeps_its_shape() {
        let cases = [
            ("3/7", 10, "3/17"),
            ("03/07", -7, "02/28"),
            ("12/30", 5, "1/4"),
            ("3/7/2021", 1, "3/8/2021"),
            ("03/07/21", 30, "04/06/21"),
            ("2021-03-07", -7, "2021-02-28"),
            ("4/97", 30, "5/97"),
            ("March 7", 1, "March 8"),
            ("MAR 7, 2021", 31, "APR 7, 2021"),
            ("7 mar 2021", -7, "28 feb 2021"),
            ("20th Oct, 1989", 2, "22nd Oct, 1989"),
            ("the 11th", 1, "the 12th"),
            ("march of 1993", 31, "april of 1993"),
            ("Sept.", 30, "Oct."),
            ("'92", 100, "'92"),
            // the weekday moves with its date
            (
                "Wednesday, November 16, 2022",
                3,
                "Saturday, November 19, 2022",
            ),
            ("Sunday 13 June", -8, "Saturday 5 June"),
            ("TUE 3/4", 7, "TUE 3/11"),
            ("thurs. March 2", 1, "fri. March 3"),
        ];
        for (input, days, want) in cases {
            assert_eq!(moved(input, days).as_deref(), Some(want), "{input} {days}");
        }
    }

    #[test]
    fn unreadable_dates_append_nothing() {
        assert_eq!(moved("13/45/2021", 1), None);
        assert_eq!(moved("soon", 1), None);
        assert_eq!(moved("March\u{a0}7", 1).as_deref(), Some("March\u{a0}8"));
        let mut out = String::from("kept");
        assert!(!shift(&DateParser::new(), "99/99", 3, &mut out));
        assert_eq!(out, "kept");
    }
}
