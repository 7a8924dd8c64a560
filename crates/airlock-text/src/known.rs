//! Record-aware scrubbing: what a record already says about its patient (the row's name,
//! phone, address and numbers; a Bundle's Patient resource; a `--known` file) is looked for in
//! that record's free text, in the easy forms a person writes it, and removed with its kind.
//!
//! The forms of a value ([`forms`]) are one implementation, shared with `airlock canary
//! check`: the value as written (any case, any spacing), each part of a name, a name's parts in
//! other orders, and the digits of a number whatever separates them. Values never leave the
//! matcher: spans carry a kind and byte offsets only.

use crate::kind::{Kind, Span};
use crate::lexicon::Lexicon;

/// How a form of a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FormKind {
    /// The value with its case, spacing and punctuation as the text has them.
    Whole,
    /// One part of a name ("Quillfeather" of "Ada Quillfeather").
    NamePart,
    /// The digits of a number, whatever separates them.
    Digits,
    /// A date's digits in another layout ("03/04/1950" of 1950-03-04).
    DateDigits,
    /// A date with its month by name ("March 4th, 1950", "4 Mar 1950").
    DateWords,
}

/// One searchable form of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Lower-case letters, digits and single blanks (for [`FormKind::Digits`], digits only).
    pub text: String,
    pub kind: FormKind,
}

/// Shortest name part looked for on its own (shorter parts are initials).
pub const MIN_NAME_PART: usize = 3;
/// Fewest digits for a digits-only form.
pub const MIN_DIGITS: usize = 5;

/// Letters and digits lower-cased, every other run of characters one blank.
pub fn normalize(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut gap = false;
    for c in value.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The forms in which `value`, an identifier of `kind`, is looked for.
pub fn forms(kind: Kind, value: &str) -> Vec<Form> {
    let mut out = Vec::new();
    let whole = normalize(value);
    let letters = whole.chars().filter(|c| c.is_alphabetic()).count();
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if letters >= MIN_NAME_PART || letters > 0 && digits.len() >= 3 {
        out.push(Form {
            text: whole.clone(),
            kind: FormKind::Whole,
        });
    }
    if matches!(kind, Kind::Name | Kind::Location | Kind::Address) {
        for part in whole.split(' ') {
            if part.chars().count() >= MIN_NAME_PART
                && part.chars().all(char::is_alphabetic)
                && !(kind == Kind::Address && Lexicon::get().lookup_lower(part).street_suffix)
                && part != whole
            {
                out.push(Form {
                    text: part.to_owned(),
                    kind: FormKind::NamePart,
                });
            }
        }
    }
    if digits.len() >= MIN_DIGITS && letters <= 3 {
        out.push(Form {
            text: digits,
            kind: FormKind::Digits,
        });
    }
    if kind == Kind::Date
        && let Some(date) = parse_date(value)
    {
        date_forms(date, &mut out);
    }
    out.sort_by(|a, b| a.text.cmp(&b.text).then(a.kind.cmp(&b.kind)));
    out.dedup_by(|a, b| a.text == b.text);
    out
}

/// Runs of this many digits or more that airlock makes up to stand for an identifier
/// (surrogates) begin with a 9, and the identifiers it plants as canaries never do, so that a
/// surrogate can never equal a canary's number by chance (as an SSN surrogate's area 9xx was
/// never issued).
pub const RESERVED_RUN: usize = 6;

/// Whether `chars[i]` is the first digit of a run of at least [`RESERVED_RUN`] digits: the
/// place where a surrogate writes its 9 and a canary never does.
pub fn starts_reserved_run(chars: &[char], i: usize) -> bool {
    chars[i].is_ascii_digit()
        && (i == 0 || !chars[i - 1].is_ascii_digit())
        && chars[i..].iter().take_while(|c| c.is_ascii_digit()).count() >= RESERVED_RUN
}

/// Whether a run of digits this long, beginning so, is reserved for surrogates.
pub fn reserved_for_surrogates(run: &str) -> bool {
    run.len() >= RESERVED_RUN && run.starts_with('9')
}

/// Whether a run of 7 to 9 digits in `text` reads as a calendar date in a compact layout
/// (YYYYMMDD, MMDDYYYY, MDDYYYY, years 1800 to 2199; also after a leading 1, as a phone
/// number's country code). A number made up to stand for something else (a surrogate, a
/// canary's identifier) must not: its digits-only form would be found in any text that
/// writes that date.
pub fn reads_as_date(text: &str) -> bool {
    use chrono::NaiveDate;
    text.split(|c: char| !c.is_ascii_digit()).any(|run| {
        let candidates = [Some(run), run.strip_prefix('1')];
        let plausible = |d: Result<NaiveDate, _>| {
            d.is_ok_and(|d: NaiveDate| (1800..=2199).contains(&chrono::Datelike::year(&d)))
        };
        candidates.into_iter().flatten().any(|r| match r.len() {
            8 => ["%Y%m%d", "%m%d%Y"]
                .iter()
                .any(|f| plausible(NaiveDate::parse_from_str(r, f))),
            7 => plausible(NaiveDate::parse_from_str(&format!("0{r}"), "%m%d%Y")),
            _ => false,
        })
    })
}

/// A date value as a record holds it: ISO, US or compact digits, or the month by name.
fn parse_date(value: &str) -> Option<chrono::NaiveDate> {
    let v = value.trim();
    static PARSER: std::sync::OnceLock<airlock_core::dates::DateParser> =
        std::sync::OnceLock::new();
    if let Some(d) = PARSER
        .get_or_init(airlock_core::dates::DateParser::new)
        .parse(v)
    {
        return Some(d.date);
    }
    ["%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%B %d %Y"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(v, f).ok())
}

/// The layouts people and programs write a known date in. Day-first digit layouts are left
/// out (3/4 and 4/3 would be one form: another date of the note, or a canary's false alarm),
/// and so is the unpadded one where it reads two ways (1/11 and 11/1 are both 1111956); a
/// date's digits are a whole run of their own, so six of them are enough.
fn date_forms(d: chrono::NaiveDate, out: &mut Vec<Form>) {
    use chrono::Datelike;
    let md = format!("{}{}", d.month(), d.day());
    let reads = |m: &str, day: &str| {
        !m.starts_with('0')
            && !day.starts_with('0')
            && m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
            && day.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
    };
    let ambiguous = md.len() == 3 && reads(&md[..1], &md[1..]) && reads(&md[..2], &md[2..]);
    let mut digit_layouts = vec!["%Y%m%d", "%m%d%Y"];
    if !ambiguous {
        digit_layouts.push("%-m%-d%Y");
    }
    let th = match (d.day() % 10, d.day()) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    let word_layouts = [
        "%B %-d %Y".to_owned(),
        "%b %-d %Y".to_owned(),
        "%-d %B %Y".to_owned(),
        "%-d %b %Y".to_owned(),
        format!("%B %-d{th} %Y"),
        format!("%b %-d{th} %Y"),
        format!("%-d{th} %B %Y"),
        format!("%-d{th} of %B %Y"),
    ];
    for f in digit_layouts {
        out.push(Form {
            text: d.format(f).to_string(),
            kind: FormKind::DateDigits,
        });
    }
    for f in word_layouts {
        out.push(Form {
            text: normalize(&d.format(&f).to_string()),
            kind: FormKind::DateWords,
        });
    }
}

/// The known identifiers of one record, ready to be found in its text. Compact: a handful of
/// allocations however many forms, since a run holds one for each of its patients.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// Every form's text, one after another.
    arena: String,
    /// The forms made of words, longest first: (its bytes in `arena`, kind of the value,
    /// needs a capital where the text has them).
    words: Vec<(Range32, Kind, bool)>,
    /// (hash of a form's first word, the form's index in `words`), sorted: the text's words
    /// are looked up one by one instead of every form being searched for in the whole text.
    by_first: Vec<(u64, u32)>,
    /// A one-bit-per-shape sketch of the ASCII first words ([`first_sketch`]): most words of a
    /// text cannot open a form, and are passed over without being lower-cased and hashed.
    first_sketch: u128,
    /// The digits-only forms: (the hash of their digits, their bytes in `arena`, kind of the
    /// value). A note has a dozen runs of digits and a patient a dozen numbers: hashes are
    /// compared, and the digits only where the hashes agree.
    digits: Vec<(u64, Range32, Kind)>,
}

/// Bytes `.0...1` of [`Known::arena`].
type Range32 = (u32, u32);

/// The bit of [`Known::first_sketch`] for an ASCII word: its length and its first letter in
/// lower case. `None` for a word outside ASCII (always looked up).
fn first_sketch(word: &str) -> Option<u128> {
    let first = word.as_bytes().first()?.to_ascii_lowercase();
    word.is_ascii()
        .then(|| 1u128 << ((word.len() * 31 + usize::from(first)) % 128))
}

fn word_hash(word: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(word.as_bytes());
    h.finish()
}

impl Known {
    /// The matcher for `values` (kind, value as the record holds it).
    pub fn new<'a>(values: impl IntoIterator<Item = (Kind, &'a str)>) -> Self {
        let lexicon = Lexicon::get();
        let mut words: Vec<(String, Kind, bool)> = Vec::new();
        let mut digits: Vec<(String, Kind)> = Vec::new();
        for (kind, value) in values {
            for f in forms(kind, value) {
                match f.kind {
                    FormKind::Digits | FormKind::DateDigits => digits.push((f.text, kind)),
                    FormKind::DateWords => words.push((f.text, kind, false)),
                    FormKind::Whole | FormKind::NamePart => {
                        // "May", "Rose", "Bell": a part of a name that is an English word is
                        // the name only where it is capitalized; such a part of an address
                        // ("Old", "Mill") is not looked for alone
                        let e = lexicon.lookup_lower(&f.text);
                        let word = !f.text.contains(' ') && (e.word || e.clinical);
                        if word && f.kind == FormKind::NamePart && kind != Kind::Name {
                            continue;
                        }
                        words.push((f.text, kind, word));
                    }
                }
            }
        }
        words.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        words.dedup_by(|a, b| a.0 == b.0);
        let mut known = Known::default();
        let bytes = words.iter().map(|w| w.0.len()).sum::<usize>()
            + digits.iter().map(|d| d.0.len()).sum::<usize>();
        if u32::try_from(bytes).is_err() {
            return known; // (four gigabytes of one record's values: nothing sensible to find)
        }
        known.arena.reserve_exact(bytes);
        let put = |arena: &mut String, text: &str| {
            let start = arena.len() as u32;
            arena.push_str(text);
            (start, arena.len() as u32)
        };
        known.words.reserve_exact(words.len());
        known.by_first.reserve_exact(words.len());
        for (i, (form, kind, capital)) in words.iter().enumerate() {
            let first = form.split(' ').next().unwrap_or(form);
            known.first_sketch |= first_sketch(first).unwrap_or(0);
            known.by_first.push((word_hash(first), i as u32));
            let range = put(&mut known.arena, form);
            known.words.push((range, *kind, *capital));
        }
        known.by_first.sort_unstable();
        known.digits.reserve_exact(digits.len());
        for (text, kind) in &digits {
            let range = put(&mut known.arena, text);
            known.digits.push((word_hash(text), range, *kind));
        }
        known
    }

    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.digits.is_empty()
    }

    fn text(&self, (start, end): Range32) -> &str {
        &self.arena[start as usize..end as usize]
    }

    /// Every place in `text` where a known value stands, in one of its forms.
    pub fn find(&self, text: &str) -> Vec<Span> {
        let mut spans = Vec::new();
        if self.is_empty() {
            return spans;
        }
        let mixed_case = text.bytes().any(|b| b.is_ascii_lowercase())
            && text.bytes().any(|b| b.is_ascii_uppercase());
        // each word of the text, lower-cased, and the forms that start with it; the rest of
        // a form is compared word by word only there
        let words = word_ranges(text);
        let (mut first, mut next) = (String::new(), String::new());
        for (k, &(s, e)) in words.iter().enumerate() {
            if first_sketch(&text[s..e]).is_some_and(|bit| self.first_sketch & bit == 0) {
                continue;
            }
            lower_into(&text[s..e], &mut first);
            let hash = word_hash(&first);
            let from = self.by_first.partition_point(|&(h, _)| h < hash);
            'form: for &(_, f) in self.by_first[from..].iter().take_while(|(h, _)| *h == hash) {
                let (range, kind, capital) = self.words[f as usize];
                let mut parts = self.text(range).split(' ');
                if parts.next() != Some(first.as_str()) {
                    continue; // (another word with the same hash)
                }
                let mut end = e;
                for (n, part) in parts.enumerate() {
                    let Some(&(a, b)) = words.get(k + 1 + n) else {
                        continue 'form;
                    };
                    lower_into(&text[a..b], &mut next);
                    if next != part {
                        continue 'form;
                    }
                    end = b;
                }
                if capital && mixed_case && !text[s..].starts_with(|c: char| c.is_uppercase()) {
                    continue;
                }
                spans.push(Span {
                    start: s,
                    end,
                    kind,
                    confidence: 0.9,
                });
            }
        }
        for (start, end, run) in digit_runs(text) {
            // the run, or the run after a leading 1 (a country code)
            let whole = word_hash(&run);
            let after_one = run.strip_prefix('1').map(word_hash);
            for &(hash, range, kind) in &self.digits {
                let digits = self.text(range);
                let found = hash == whole && run == digits
                    || Some(hash) == after_one && run[1..] == *digits;
                if found {
                    spans.push(Span {
                        start,
                        end,
                        kind,
                        confidence: 0.9,
                    });
                }
            }
        }
        spans
    }
}

/// Reads a `--known` file: a JSON object from kind tags to lists of values,
/// `{"NAME": ["Ada Quillfeather"], "PHONE": ["603-482-1193"]}`. The error names what is wrong
/// and where, never a value (an unknown key is counted, not shown).
pub fn parse_known(json: &str) -> Result<Vec<(Kind, String)>, String> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| format!("not JSON (line {}, column {})", e.line(), e.column()))?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object of kind -> list of values".into());
    };
    let mut out = Vec::new();
    for (i, (key, values)) in map.iter().enumerate() {
        let kind = Kind::from_tag(key).ok_or_else(|| {
            format!(
                "key {} is no identifier kind (expected one of {})",
                i + 1,
                Kind::ALL.map(Kind::tag).join(", ")
            )
        })?;
        let serde_json::Value::Array(values) = values else {
            return Err(format!("{}: not a list of strings", kind.tag()));
        };
        for (j, v) in values.iter().enumerate() {
            let serde_json::Value::String(v) = v else {
                return Err(format!("{} value {}: not a string", kind.tag(), j + 1));
            };
            out.push((kind, v.clone()));
        }
    }
    Ok(out)
}

/// The words of `text` (runs of letters and digits), as byte ranges.
fn word_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// `word` lower-cased into `out`.
fn lower_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// Runs of digits joined by the characters numbers are written with (blank, `-`, `.`, `(`,
/// `)`, `/`, `+`), as (start, end, digits); a run stands alone (no letter or digit touches it).
fn digit_runs(text: &str) -> Vec<(usize, usize, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || i > 0 && b[i - 1].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut digits = String::new();
        while i < b.len() {
            if b[i].is_ascii_digit() {
                digits.push(char::from(b[i]));
                i += 1;
                end = i;
            } else if matches!(b[i], b' ' | b'-' | b'.' | b'(' | b')' | b'/' | b'+')
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'(' || *c == b' ')
            {
                i += 1;
            } else {
                break;
            }
        }
        if b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric()) && digits.len() >= MIN_DIGITS {
            // a leading "(" of "(603) 482-1193"
            let start = if start > 0 && b[start - 1] == b'(' {
                start - 1
            } else {
                start
            };
            out.push((start, end, digits));
        }
        i = end.max(start + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(known: &[(Kind, &str)], text: &str) -> Vec<String> {
        Known::new(known.iter().copied())
            .find(text)
            .into_iter()
            .map(|s| text[s.range()].to_owned())
            .collect()
    }

    #[test]
    fn a_records_values_are_found_in_their_easy_forms() {
        let k = [
            (Kind::Name, "Ada Quillfeather"),
            (Kind::Phone, "(603) 482-1193"),
            (Kind::Address, "888 Old Mill Pike"),
            (Kind::Mrn, "MRN-4821397"),
        ];
        assert_eq!(found(&k, "QUILLFEATHER, ADA seen"), ["QUILLFEATHER", "ADA"]);
        assert_eq!(found(&k, "Ms. quillfeather called"), ["quillfeather"]);
        assert_eq!(
            found(&k, "call 603.482.1193 or 1-603-482-1193"),
            ["603.482.1193", "1-603-482-1193"]
        );
        assert_eq!(
            found(&k, "Lives at 888 old mill pike."),
            ["888 old mill pike"]
        );
        assert_eq!(found(&k, "chart 4821397."), ["4821397"]);
        // parts inside other words, and other numbers, are not the values
        assert!(found(&k, "adamant; 6034821193999; Pikeville").is_empty());
    }

    #[test]
    fn forms_that_share_a_first_word_or_letters_outside_ascii_are_each_found() {
        // two forms open with "spring" (a name part and a street); one value is in letters
        // outside ASCII, whose first word the sketch of first words does not hold
        let k = [
            (Kind::Name, "Spring Kjær"),
            (Kind::Address, "12 Spring Street"),
            (Kind::Name, "Søren Ångström"),
        ];
        assert_eq!(
            found(
                &k,
                "Spring Kjær lives at 12 SPRING STREET; Søren ÅNGSTRÖM visits."
            ),
            [
                "Spring Kjær",
                "Spring",
                "Kjær",
                "12 SPRING STREET",
                "SPRING",
                "Søren ÅNGSTRÖM",
                "Søren",
                "ÅNGSTRÖM"
            ]
        );
        // words of the same length and first letter, or the letters folded, are no form
        assert!(found(&k, "Sprint kjaer Soren Sorenson Angstrom").is_empty());
    }

    #[test]
    fn a_known_date_is_found_in_other_layouts() {
        let k = [(Kind::Date, "1950-03-04")];
        for text in [
            "born 03/04/1950.",
            "dob 3/4/1950",
            "DOB: March 4th, 1950",
            "born 4 Mar 1950",
            "19500304",
        ] {
            assert_eq!(found(&k, text).len(), 1, "{text}");
        }
        // other dates, and the year alone, are not the value
        assert!(found(&k, "seen 03/05/1950 and in 1950; 04/03/1950").is_empty());
    }

    #[test]
    fn a_name_part_that_is_a_word_counts_only_capitalized() {
        let k = [(Kind::Name, "May Bell")];
        assert_eq!(found(&k, "Spoke with May today; she may call."), ["May"]);
        assert!(found(&k, "MAY BELL CALLED").contains(&"MAY BELL".to_owned()));
    }

    #[test]
    fn a_known_file_is_read_and_refused_without_its_values() {
        let k =
            parse_known(r#"{"NAME": ["Ada Quillfeather"], "phone": ["603-482-1193"]}"#).unwrap();
        assert_eq!(
            k,
            [
                (Kind::Name, "Ada Quillfeather".into()),
                (Kind::Phone, "603-482-1193".into())
            ]
        );
        for bad in [
            r#"{"Ada Quillfeather": ["x"]}"#,
            r#"{"NAME": "Ada Quillfeather"}"#,
            r#"{"NAME": [7]}"#,
            "Ada",
        ] {
            let e = parse_known(bad).unwrap_err();
            assert!(!e.contains("Ada") && !e.contains("Quillfeather"), "{e}");
        }
    }

    #[test]
    fn values_in_any_script_are_found_and_never_split_a_character() {
        // regression: the search went on one byte after a match, inside a letter of two bytes
        let k = [(Kind::Name, "Øyvind Kjær"), (Kind::Name, "Жопеин")];
        let mut f = found(&k, "øyvind øyvind ØYVIND KJÆR; жопеин");
        f.sort();
        assert_eq!(
            f,
            [
                "KJÆR",
                "ØYVIND",
                "ØYVIND KJÆR",
                "øyvind",
                "øyvind",
                "жопеин"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn finding_never_panics_and_spans_slice_the_text(
            value in "\\PC{0,24}",
            text in "\\PC{0,80}",
        ) {
            for kind in [Kind::Name, Kind::Address, Kind::Phone, Kind::Id] {
                let k = Known::new([(kind, value.as_str()), (kind, text.as_str())]);
                for s in k.find(&text) {
                    proptest::prop_assert!(text.get(s.range()).is_some());
                }
            }
        }
    }

    #[test]
    fn forms_are_those_of_the_kind() {
        let f = forms(Kind::Name, "O'Brien-Smith, Ada");
        let texts: Vec<&str> = f.iter().map(|f| f.text.as_str()).collect();
        assert!(texts.contains(&"o brien smith ada"), "{texts:?}");
        assert!(texts.contains(&"brien") && texts.contains(&"smith") && texts.contains(&"ada"));
        assert_eq!(
            forms(Kind::Phone, "603-482-1193")
                .iter()
                .filter(|f| f.kind == FormKind::Digits)
                .count(),
            1
        );
        assert!(forms(Kind::Zip, "035").is_empty());
    }
}
