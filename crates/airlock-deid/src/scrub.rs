//! The interim free-text detector: compiled patterns for the identifiers that have a shape
//! (SSN, phone, e-mail, URL, IP, dates, labelled record numbers, titled names, ages over 89,
//! ZIP after a state, street addresses), with redaction tags and keyed surrogates.
//!
//! It stands in until `airlock-text` brings dictionaries and context rules; it finds no
//! untitled names, towns or facilities. All patterns run in one pass of one multi-pattern
//! regex, built once and shared.

use std::fmt::Write as _;
use std::ops::Range;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use airlock_core::keys::PurposeKey;
use airlock_core::text::{Finding, TextContext, TextMode, TextScrubber};

use crate::dates::{self, DateParser};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ssn,
    Email,
    Url,
    Ip,
    Date,
    Phone,
    Id,
    Name,
    Age,
    Zip,
    Address,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Self::Ssn => "SSN",
            Self::Email => "EMAIL",
            Self::Url => "URL",
            Self::Ip => "IP",
            Self::Date => "DATE",
            Self::Phone => "PHONE",
            Self::Id => "ID",
            Self::Name => "NAME",
            Self::Age => "AGE",
            Self::Zip => "ZIP",
            Self::Address => "ADDRESS",
        }
    }
}

/// Which part of a match is the identifier (labels and titles stay in the text).
#[derive(Debug, Clone, Copy)]
enum Trim {
    Whole,
    AfterLastSeparator,
    AfterFirstSpace,
    LeadingDigits,
    TrailingPunctuation,
}

const MONTHS: &str = "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

fn patterns() -> Vec<(Kind, Trim, String)> {
    vec![
        (Kind::Ssn, Trim::Whole, r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b".into()),
        (
            Kind::Email,
            Trim::Whole,
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b".into(),
        ),
        (
            Kind::Url,
            Trim::TrailingPunctuation,
            r"(?i:\b(?:https?://|www\.))[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+".into(),
        ),
        (
            Kind::Ip,
            Trim::Whole,
            r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b".into(),
        ),
        (
            Kind::Date,
            Trim::Whole,
            r"\b(?:1[89]|20)[0-9]{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12][0-9]|3[01])\b".into(),
        ),
        (
            Kind::Date,
            Trim::Whole,
            r"\b(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])/(?:(?:19|20)[0-9]{2}|[0-9]{2})\b"
                .into(),
        ),
        (
            Kind::Date,
            Trim::Whole,
            format!(
                r"(?i:\b{MONTHS}\.? [0-3]?[0-9](?:st|nd|rd|th)?(?:,? (?:19|20)[0-9]{{2}})?\b)"
            ),
        ),
        (
            Kind::Phone,
            Trim::Whole,
            r"(?:\+?1[-. ]?)?(?:\([2-9][0-9]{2}\)[-. ]?|\b[2-9][0-9]{2}[-. ])[0-9]{3}[-. ][0-9]{4}\b"
                .into(),
        ),
        (
            Kind::Id,
            Trim::AfterLastSeparator,
            r"(?i:\b(?:mrn|mr|medical record|acct|account|member id|member|policy|chart|health plan|license|lic)(?: ?(?:#|no\.?|number|num))?[:#]? ?)[A-Za-z]{0,3}-?[0-9][A-Za-z0-9-]{3,}\b".into(),
        ),
        (
            Kind::Name,
            Trim::AfterFirstSpace,
            r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|MR|MRS|MS|DR)\.? [A-Z][A-Za-z'-]+(?: [A-Z][A-Za-z'-]+)?\b"
                .into(),
        ),
        (
            Kind::Age,
            Trim::LeadingDigits,
            r"(?i:\b(?:9[0-9]|1[01][0-9]) ?(?:y/o|yo\b|y\.o\.|-?years?[- ]old|-?year-old))".into(),
        ),
        (
            Kind::Zip,
            Trim::AfterLastSeparator,
            r"\b[A-Z]{2},? [0-9]{5}(?:-[0-9]{4})?\b".into(),
        ),
        (
            Kind::Address,
            Trim::Whole,
            r"\b[0-9]{1,5} (?:[A-Z][a-z]+ ){1,3}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Ln|Lane|Dr|Drive|Way|Ct|Court|Pl|Place|Ter|Terrace)\b\.?".into(),
        ),
    ]
}

fn word_list(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The interim pattern detector and replacer.
pub struct PatternScrubber {
    regex: Regex,
    rules: Vec<(Kind, Trim)>,
    key: PurposeKey,
    dates: DateParser,
    names: Vec<&'static str>,
    streets: Vec<&'static str>,
}

impl std::fmt::Debug for PatternScrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatternScrubber")
            .field("patterns", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl PatternScrubber {
    /// Builds the detector; `surrogate_key` is the workspace's `surrogate` purpose key.
    pub fn new(surrogate_key: PurposeKey) -> Self {
        let specs = patterns();
        let regex = Regex::builder()
            .syntax(syntax::Config::new().unicode(false))
            .build_many(&specs.iter().map(|(_, _, p)| p.as_str()).collect::<Vec<_>>())
            .expect("built-in patterns compile");
        Self {
            regex,
            rules: specs.into_iter().map(|(k, t, _)| (k, t)).collect(),
            key: surrogate_key,
            dates: DateParser::new(),
            names: word_list(include_str!("../data/surrogate-names.txt")),
            streets: word_list(include_str!("../data/surrogate-streets.txt")),
        }
    }

    /// Every identifier in `text`, in order, as (kind, byte span of the value).
    fn spans<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (Kind, Range<usize>)> + 'a {
        self.regex.find_iter(text).filter_map(move |m| {
            let (kind, trim) = self.rules[m.pattern().as_usize()];
            let span = trim_span(text, m.range(), trim);
            (!span.is_empty()).then_some((kind, span))
        })
    }

    /// The keyed bytes behind one surrogate: the patient, the kind and the original
    /// (case-folded, so SMITH and Smith get the same surrogate).
    fn keyed(&self, ctx: &TextContext<'_>, kind: Kind, original: &str) -> [u8; 32] {
        let mut small = [0u8; 128];
        let folded: std::borrow::Cow<'_, [u8]> = if original.len() <= small.len() {
            let buf = &mut small[..original.len()];
            buf.copy_from_slice(original.as_bytes());
            buf.make_ascii_lowercase();
            std::borrow::Cow::Borrowed(&small[..original.len()])
        } else {
            std::borrow::Cow::Owned(original.to_ascii_lowercase().into_bytes())
        };
        self.key.mac_parts(&[
            ctx.patient.unwrap_or("").as_bytes(),
            &[0],
            kind.tag().as_bytes(),
            &[0],
            &folded,
        ])
    }

    fn surrogate(&self, kind: Kind, original: &str, ctx: &TextContext<'_>, out: &mut String) {
        let h = self.keyed(ctx, kind, original);
        let mut digits = h.iter().map(|b| char::from(b'0' + b % 10));
        let mut next_digit = move || digits.next().unwrap_or('0');
        match kind {
            Kind::Ssn => {
                // Area 9xx was never issued: a surrogate cannot be someone's SSN.
                let _ = write!(
                    out,
                    "9{}{}-{}{}-{}{}{}{}",
                    next_digit(),
                    next_digit(),
                    next_digit(),
                    next_digit(),
                    next_digit(),
                    next_digit(),
                    next_digit(),
                    next_digit()
                );
            }
            Kind::Phone => {
                // Keep the layout; fill in a fictional 555-01xx number.
                let count = original.bytes().filter(u8::is_ascii_digit).count();
                let area = [char::from(b'2' + h[20] % 8), next_digit(), next_digit()];
                let local = ['5', '5', '5', '0', '1', next_digit(), next_digit()];
                let fill: Vec<char> = match count {
                    11 => std::iter::once('1').chain(area).chain(local).collect(),
                    10 => area.into_iter().chain(local).collect(),
                    7 => local.to_vec(),
                    _ => {
                        out.push_str("[PHONE]");
                        return;
                    }
                };
                let mut fill = fill.into_iter();
                for c in original.chars() {
                    out.push(if c.is_ascii_digit() {
                        fill.next().unwrap_or('0')
                    } else {
                        c
                    });
                }
            }
            Kind::Email => {
                let name = self.names[usize::from(h[0]) % self.names.len()].to_ascii_lowercase();
                let _ = write!(out, "{name}.{}{}@example.org", next_digit(), next_digit());
            }
            Kind::Url => {
                let _ = write!(
                    out,
                    "https://example.org/{}",
                    data_encoding::BASE32_NOPAD
                        .encode(&h[..5])
                        .to_ascii_lowercase()
                );
            }
            Kind::Ip => {
                let _ = write!(out, "192.0.2.{}", 1 + h[0] % 254);
            }
            Kind::Date => {
                let shifted = ctx
                    .date_shift_days
                    .is_some_and(|days| dates::shift_text(&self.dates, original, days, out));
                if !shifted {
                    out.push_str("[DATE]");
                }
            }
            Kind::Id => {
                // Same length and character classes.
                let mut bytes = h.iter().cycle();
                for c in original.chars() {
                    let b = *bytes.next().expect("cycle never ends");
                    out.push(match c {
                        '0'..='9' => char::from(b'0' + b % 10),
                        'A'..='Z' => char::from(b'A' + b % 26),
                        'a'..='z' => char::from(b'a' + b % 26),
                        other => other,
                    });
                }
            }
            Kind::Name => {
                for (i, word) in original.split(' ').enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let pick = self.names[usize::from(h[i % 32]) % self.names.len()];
                    push_in_case_of(word, pick, out);
                }
            }
            Kind::Age => out.push_str("90+"),
            Kind::Zip => {
                // The Safe Harbor generalization of the same ZIP: its first three digits.
                out.push_str(&original[..3]);
                out.push_str("00");
            }
            Kind::Address => {
                let street = self.streets[usize::from(h[0]) % self.streets.len()];
                let _ = write!(out, "{} {street}", 10 + u32::from(h[1]) * 7 % 990);
            }
        }
    }

    /// True for values that airlock itself would have produced as surrogates or that are
    /// reserved for examples: they are not residual PHI.
    fn is_fictional(&self, kind: Kind, value: &str) -> bool {
        match kind {
            Kind::Ssn => {
                let area = &value[..3];
                area.starts_with('9') || area == "000" || area == "666" || &value[4..6] == "00"
            }
            Kind::Phone => {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                let local = &digits[digits.len().saturating_sub(7)..];
                local.starts_with("55501")
            }
            Kind::Email => {
                let domain = value.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
                is_example_host(&domain)
            }
            Kind::Url => {
                let lower = value.to_ascii_lowercase();
                let host = lower
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .split(['/', ':', '?', '#'])
                    .next()
                    .unwrap_or("")
                    .to_owned();
                is_example_host(&host)
            }
            Kind::Ip => ["192.0.2.", "198.51.100.", "203.0.113."]
                .iter()
                .any(|p| value.starts_with(p)),
            Kind::Name => value
                .split(' ')
                .all(|w| self.names.iter().any(|n| n.eq_ignore_ascii_case(w))),
            Kind::Zip => value.len() >= 5 && &value[3..5] == "00",
            Kind::Address => self.streets.iter().any(|s| value.ends_with(s)),
            Kind::Age | Kind::Date | Kind::Id => false,
        }
    }
}

fn is_example_host(host: &str) -> bool {
    let host = host.trim_start_matches("www.");
    ["example.org", "example.com", "example.net"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        || [".example", ".test", ".invalid"]
            .iter()
            .any(|t| host.ends_with(t))
}

fn push_in_case_of(model: &str, word: &str, out: &mut String) {
    let letters = model.chars().filter(char::is_ascii_alphabetic);
    if model.len() > 1 && letters.clone().all(|c| c.is_ascii_uppercase()) {
        out.push_str(&word.to_ascii_uppercase());
    } else if letters.clone().all(|c| c.is_ascii_lowercase()) {
        out.push_str(&word.to_ascii_lowercase());
    } else {
        out.push_str(word);
    }
}

fn trim_span(text: &str, r: Range<usize>, trim: Trim) -> Range<usize> {
    let s = &text[r.clone()];
    match trim {
        Trim::Whole => r,
        Trim::AfterLastSeparator => {
            let cut = s.rfind([' ', ':', '#']).map_or(0, |i| i + 1);
            r.start + cut..r.end
        }
        Trim::AfterFirstSpace => {
            let cut = s.find(' ').map_or(s.len(), |i| i + 1);
            r.start + cut..r.end
        }
        Trim::LeadingDigits => {
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            r.start..r.start + n
        }
        Trim::TrailingPunctuation => {
            let kept = s
                .trim_end_matches(['.', ',', ';', ':', ')', '!', '?'])
                .len();
            r.start..r.start + kept
        }
    }
}

impl TextScrubber for PatternScrubber {
    fn scrub(&self, text: &str, mode: TextMode, ctx: &TextContext<'_>, out: &mut String) -> usize {
        let mut last = 0;
        let mut replaced = 0;
        for (kind, span) in self.spans(text) {
            if span.start < last {
                continue;
            }
            out.push_str(&text[last..span.start]);
            match mode {
                TextMode::Redact => {
                    out.push('[');
                    out.push_str(kind.tag());
                    out.push(']');
                }
                TextMode::Surrogate => self.surrogate(kind, &text[span.clone()], ctx, out),
            }
            last = span.end;
            replaced += 1;
        }
        out.push_str(&text[last..]);
        replaced
    }

    fn scan(&self, text: &str, found: &mut dyn FnMut(Finding)) {
        for (kind, span) in self.spans(text) {
            if !self.is_fictional(kind, &text[span.clone()]) {
                found(Finding {
                    span,
                    kind: kind.tag(),
                });
            }
        }
    }

    fn name(&self) -> &'static str {
        "interim-patterns"
    }

    fn opaque_surrogate_kinds(&self) -> &'static [&'static str] {
        &["DATE", "ID"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::{Purpose, WorkspaceSecret};
    use proptest::prelude::*;

    fn scrubber() -> PatternScrubber {
        PatternScrubber::new(WorkspaceSecret::from_bytes([5; 32]).derive(Purpose::Surrogate))
    }

    fn redact(text: &str) -> String {
        let mut out = String::new();
        scrubber().scrub(text, TextMode::Redact, &TextContext::default(), &mut out);
        out
    }

    fn surrogate(text: &str, patient: &str, days: i32) -> String {
        let mut out = String::new();
        let ctx = TextContext {
            patient: Some(patient),
            date_shift_days: Some(days),
        };
        scrubber().scrub(text, TextMode::Surrogate, &ctx, &mut out);
        out
    }

    #[test]
    fn each_kind_is_redacted_with_its_tag() {
        let cases = [
            ("SSN 123-45-6789 on file", "SSN [SSN] on file"),
            ("call (617) 555-1234 today", "call [PHONE] today"),
            ("call 617-555-1234.", "call [PHONE]."),
            ("mail j.smith@mail.com now", "mail [EMAIL] now"),
            ("see https://portal.hosp.org/x?id=4.", "see [URL]."),
            ("from 10.1.2.3 login", "from [IP] login"),
            ("seen 2021-03-04 and 3/7/2021", "seen [DATE] and [DATE]"),
            ("on March 7, 2021 at noon", "on [DATE] at noon"),
            ("MRN: 00123456 admitted", "MRN: [ID] admitted"),
            ("Dr. Jones saw Mr. John Smith", "Dr. [NAME] saw Mr. [NAME]"),
            ("a 92 y/o woman", "a [AGE] y/o woman"),
            ("Boston, MA 02139", "Boston, MA [ZIP]"),
            ("lives at 12 Oak Street.", "lives at [ADDRESS]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn hard_negatives_are_left_alone() {
        for text in [
            "BP 120/80, HR 72, RR 16, SpO2 98%",
            "metoprolol 25 mg po bid, 1/2 tab",
            "GCS 15, Apgar 8/9, pain 3/10",
            "HbA1c 7.2%, K 4.1, Cr 1.0",
            "an 89 y/o man",
            "Parkinson disease, Foley in place",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn surrogates_keep_shape_and_consistency() {
        let s = surrogate("SSN 123-45-6789, call 617-555-1234", "P1", 10);
        assert!(s.starts_with("SSN 9"), "{s}");
        assert!(s.contains("-555-01"), "{s}");
        assert_eq!(s, surrogate("SSN 123-45-6789, call 617-555-1234", "P1", 10));
        assert_ne!(s, surrogate("SSN 123-45-6789, call 617-555-1234", "P2", 10));
        assert_eq!(surrogate("seen 2021-03-04", "P1", 10), "seen 2021-03-14");
        assert_eq!(surrogate("seen 3/4/2021", "P1", -4), "seen 2/28/2021");
        let name = surrogate("Dr. SMITH", "P1", 1);
        assert!(name.starts_with("Dr. ") && name[4..].chars().all(|c| c.is_ascii_uppercase()));
        let id = surrogate("MRN: AB123456", "P1", 1);
        assert_eq!(id.len(), "MRN: AB123456".len());
        assert!(id[5..7].chars().all(|c| c.is_ascii_uppercase()));
        assert!(id[7..].chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn scan_skips_fictional_values_but_reports_real_ones() {
        let sc = scrubber();
        let mut kinds = Vec::new();
        let text = "SSN 923-45-6789, 617-555-0123, a@example.org, SSN 123-45-6789";
        sc.scan(text, &mut |f| kinds.push((f.kind, f.span)));
        assert_eq!(kinds.len(), 1, "{kinds:?}");
        assert_eq!(kinds[0].0, "SSN");
        assert_eq!(&text[kinds[0].1.clone()], "123-45-6789");
    }

    proptest! {
        #[test]
        fn surrogate_never_contains_the_original(
            ssn in "[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}",
            phone in "[2-9][0-9]{2}-[0-9]{3}-[0-9]{4}",
            mrn in "[0-9]{8}",
        ) {
            let text = format!("SSN {ssn} phone {phone} MRN {mrn}");
            let out = surrogate(&text, "P9", 3);
            prop_assert!(!out.contains(&ssn));
            prop_assert!(!out.contains(&phone));
            prop_assert!(!out.contains(&mrn));
        }

        #[test]
        fn scrubbing_any_text_never_panics(text in "\\PC{0,200}") {
            let mut out = String::new();
            scrubber().scrub(&text, TextMode::Surrogate, &TextContext::default(), &mut out);
            scrubber().scan(&text, &mut |_| {});
        }
    }
}
