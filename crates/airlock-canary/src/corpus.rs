//! A gold corpus the detector was not fitted to: clinical notes and prompt-like sentences whose
//! identifiers come from sources the detector does not use. Names, towns and streets are
//! invented words (checked against every dictionary airlock has), some of them in Nordic,
//! Icelandic, Iberian, Central European, Greek or Cyrillic spelling; addresses follow US, UK and
//! continental layouts; dates, phones and numbers come in many layouts (weekdays, ordinals,
//! day-first, timestamps, international phones, IBANs and card numbers with valid checksums,
//! VINs with a valid check digit, IPv4 and IPv6). Values are placed at the start of sentences,
//! mid-sentence and in lists, and one note in five is written all lower or all upper case.
//!
//! The output is the common gold JSONL (`id`, `text`, `spans` with code-point offsets, `type`
//! and `label`), read by `airlock eval text --gold`. A seed gives the same corpus every time;
//! another seed gives text no one has looked at.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde::Serialize;

use crate::identity::invented_word;

/// One gold span, in code points.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedSpan {
    pub start: usize,
    pub end: usize,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub label: &'static str,
}

/// One generated note with its gold spans.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedNote {
    pub id: String,
    pub text: String,
    pub spans: Vec<GeneratedSpan>,
}

/// How a note's letters are cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    AsWritten,
    Lower,
    Upper,
}

/// A note being written: text, its length in code points, and its gold spans.
struct Doc {
    text: String,
    chars: usize,
    spans: Vec<GeneratedSpan>,
    case: Case,
}

impl Doc {
    fn new(case: Case) -> Self {
        Doc {
            text: String::new(),
            chars: 0,
            spans: Vec::new(),
            case,
        }
    }

    fn push(&mut self, s: &str) -> (usize, usize) {
        let s = match self.case {
            Case::AsWritten => s.to_owned(),
            Case::Lower => s.to_lowercase(),
            Case::Upper => s.to_uppercase(),
        };
        let start = self.chars;
        self.chars += s.chars().count();
        self.text.push_str(&s);
        (start, self.chars)
    }

    /// Plain text.
    fn t(&mut self, s: &str) -> &mut Self {
        self.push(s);
        self
    }

    /// An identifier of gold type `kind`.
    fn phi(&mut self, v: &Value) -> &mut Self {
        for part in &v.parts {
            match part {
                Part::Plain(s) => {
                    self.push(s);
                }
                Part::Phi(s) => {
                    let (start, end) = self.push(s);
                    self.spans.push(GeneratedSpan {
                        start,
                        end,
                        kind: v.kind,
                        label: v.label,
                    });
                }
            }
        }
        self
    }
}

/// A value made of identifying parts and the words between them ("14 Kjærvegen, 5003
/// Bøvik": the street, the postal code and the town are each a gold span).
struct Value {
    kind: &'static str,
    label: &'static str,
    parts: Vec<Part>,
}

enum Part {
    Plain(String),
    Phi(String),
}

fn one(kind: &'static str, label: &'static str, s: impl Into<String>) -> Value {
    Value {
        kind,
        label,
        parts: vec![Part::Phi(s.into())],
    }
}

/// Spelling systems for invented names.
struct Script {
    onsets: &'static [&'static str],
    vowels: &'static [&'static str],
    codas: &'static [&'static str],
}

const SCRIPTS: &[Script] = &[
    // Nordic
    Script {
        onsets: &[
            "Kj", "Bj", "Sv", "Gr", "H", "S", "T", "R", "L", "Fr", "Sk", "Å", "Ø",
        ],
        vowels: &["ø", "å", "æ", "e", "i", "o", "a", "y"],
        codas: &["rn", "ld", "nd", "r", "s", "k", "n", "ng", "ll"],
    },
    // Icelandic
    Script {
        onsets: &["Þ", "Sig", "Gu", "Hj", "Ey", "Ð", "Ste", "Ag", "Hr"],
        vowels: &["ó", "á", "í", "ú", "é", "a", "i", "ö"],
        codas: &["ð", "r", "rn", "ll", "nn", "ur", "ir"],
    },
    // Iberian
    Script {
        onsets: &[
            "G", "M", "R", "C", "P", "J", "L", "S", "B", "F", "V", "Ñ", "Ch", "Qu",
        ],
        vowels: &["a", "e", "i", "o", "á", "é", "í", "ó", "ú", "ue"],
        codas: &["n", "s", "z", "l", "r", "", "ñ", "ç"],
    },
    // Central European
    Script {
        onsets: &[
            "Sz", "Wł", "Kr", "Ż", "Ch", "Br", "St", "Dv", "Př", "Ľ", "Zb",
        ],
        vowels: &["ą", "ę", "ó", "a", "e", "o", "u", "ö", "ü", "ě", "y"],
        codas: &["ski", "ck", "cz", "rz", "ł", "n", "šek", "ová", "k"],
    },
    // Greek script
    Script {
        onsets: &["Κ", "Π", "Δ", "Μ", "Σ", "Θ", "Λ", "Ν", "Χ", "Γ"],
        vowels: &["α", "ε", "ο", "ι", "ου", "η", "ά", "ί"],
        codas: &["ς", "ν", "", "ρ"],
    },
    // Cyrillic
    Script {
        onsets: &["Б", "В", "Д", "К", "Л", "М", "Н", "П", "Р", "С", "Т", "Ж"],
        vowels: &["а", "е", "и", "о", "у", "я"],
        codas: &["в", "н", "ко", "ова", "", "ин"],
    },
];

/// A name word: an invented word, or one spelled in another script.
fn name_word(rng: &mut impl Rng) -> String {
    if rng.random_bool(0.5) {
        return invented_word(rng);
    }
    let s = SCRIPTS.choose(rng).expect("scripts");
    let mut w = String::new();
    for i in 0..rng.random_range(2..=3) {
        let onset = s.onsets.choose(rng).expect("onsets");
        if i == 0 {
            w.push_str(onset);
        } else {
            w.extend(onset.chars().flat_map(char::to_lowercase));
        }
        w.push_str(s.vowels.choose(rng).expect("vowels"));
    }
    w.push_str(s.codas.choose(rng).expect("codas"));
    w
}

/// Surnames that are also English or clinical words: found only by their context.
const WORD_SURNAMES: &[&str] = &[
    "Bell", "Jackson", "Golden", "Stone", "Frost", "Fox", "Hale", "Banks", "Wood", "Baker",
    "Young", "Long", "Park", "King", "Price", "Rice", "Moody", "Swift", "Hardy", "Sharp",
];

const TITLES: &[&str] = &["Dr.", "Mr.", "Mrs.", "Ms.", "Dr", "Prof."];

struct Person {
    first: String,
    last: String,
}

impl Person {
    fn new(rng: &mut impl Rng) -> Self {
        Person {
            first: name_word(rng),
            last: name_word(rng),
        }
    }

    /// The person's name in one of the ways notes write it.
    fn written(&self, rng: &mut impl Rng) -> Value {
        let (f, l) = (&self.first, &self.last);
        let initial: String = f.chars().take(1).collect();
        let title = *TITLES.choose(rng).expect("titles");
        let name = |s: String| one("NAME", "PATIENT", s);
        match rng.random_range(0..9) {
            0 => name(format!("{f} {l}")),
            1 => name(format!("{l}, {f}")),
            2 => name(format!("{initial}. {l}")),
            3 => Value {
                kind: "NAME",
                label: "DOCTOR",
                parts: vec![Part::Plain(format!("{title} ")), Part::Phi(l.clone())],
            },
            4 => name(format!("{} {}", f.to_lowercase(), l.to_lowercase())),
            5 => name(format!("{}, {}", l.to_uppercase(), f.to_uppercase())),
            6 => name(format!("{l}, {initial}.")),
            7 => Value {
                kind: "NAME",
                label: "DOCTOR",
                parts: vec![
                    Part::Plain(format!("{title} ")),
                    Part::Phi(WORD_SURNAMES.choose(rng).expect("surnames").to_string()),
                ],
            },
            _ => Value {
                kind: "NAME",
                label: "DOCTOR",
                parts: vec![
                    Part::Plain(format!("{title} ")),
                    Part::Phi(format!("{f} {l}")),
                ],
            },
        }
    }
}

/// Street suffixes of USPS Publication 28, beyond the common few.
const STREET_SUFFIXES: &[&str] = &[
    "Pike",
    "Crescent",
    "Points",
    "Station",
    "Island",
    "Trail",
    "Bypass",
    "Causeway",
    "Gardens",
    "Ridge",
    "Hollow",
    "Terrace",
    "Way",
    "Loop",
    "Run",
    "Spur",
    "Crossing",
    "Commons",
    "Landing",
    "Bluff",
    "Glen",
    "Heights",
    "Meadows",
    "Parkway",
    "Plaza",
    "Row",
    "Square",
    "Turnpike",
    "Walk",
    "Alley",
    "Bend",
    "Cove",
    "Creek",
    "Estates",
    "Harbor",
    "Junction",
    "Knoll",
    "Manor",
    "Mill",
    "Orchard",
    "Pass",
    "Path",
    "Pines",
    "Point",
    "Shoal",
    "Summit",
    "Valley",
    "View",
    "Vista",
    "Road",
    "Street",
    "Avenue",
    "Lane",
    "Drive",
    "Court",
    "Boulevard",
    "Place",
    "Circle",
    "Hwy",
    "Rd",
    "St",
    "Ave",
    "Ln",
    "Dr",
    "Ct",
    "Blvd",
    "Pl",
];

const TOWN_FORMS: &[&str] = &[
    "{}",
    "{}",
    "{}ville",
    "{}ton",
    "{}by",
    "{}dal",
    "{}field",
    "{}burg",
    "Port {}",
    "{} Falls",
    "{} Springs",
    "North {}",
    "East {}",
    "{} Harbor",
    "Lake {}",
    "{}stad",
];

fn town(rng: &mut impl Rng) -> String {
    let w = if rng.random_bool(0.7) {
        invented_word(rng)
    } else {
        name_word(rng)
    };
    TOWN_FORMS.choose(rng).expect("forms").replace("{}", &w)
}

fn digits(rng: &mut impl Rng, n: usize) -> String {
    crate::identity::digits(rng, n)
}

fn upper_letters(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
        .collect()
}

/// An address, each identifying part a gold span.
fn address(rng: &mut impl Rng) -> Value {
    let street_word = invented_word(rng);
    let number = rng.random_range(1..9999).to_string();
    let t = town(rng);
    let loc = |s: String| Part::Phi(s);
    let plain = |s: &str| Part::Plain(s.to_owned());
    let parts = match rng.random_range(0..7) {
        // US
        0..=2 => {
            let suffix = STREET_SUFFIXES.choose(rng).expect("suffixes");
            let mut p = vec![loc(format!("{number} {street_word} {suffix}"))];
            if rng.random_bool(0.7) {
                p.push(plain(", "));
                p.push(loc(t));
                p.push(plain(", "));
                p.push(plain(
                    ["NH", "VT", "ME", "OR", "MT", "KS"].choose(rng).expect("s"),
                ));
                p.push(plain(" "));
                p.push(loc(format!("{:05}", rng.random_range(1_000..99_999))));
            }
            p
        }
        // UK: street, town, postcode
        3 => {
            let suffix = ["Road", "Close", "Mews", "Gardens", "Crescent", "Lane"]
                .choose(rng)
                .expect("uk");
            // the inward code's letters are never C, I, K, M, O or V
            const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
            let inward: String = (0..2)
                .map(|_| char::from(*INWARD.choose(rng).expect("letters")))
                .collect();
            let pc = format!(
                "{}{} {}{inward}",
                upper_letters(rng, 2),
                rng.random_range(1..20),
                rng.random_range(1..10),
            );
            vec![
                loc(format!("{number} {street_word} {suffix}")),
                plain(", "),
                loc(t),
                plain(" "),
                loc(pc),
            ]
        }
        // Scandinavian / German: street then number, postal code then town
        4 => {
            let street = ["vegen", "gatan", "straße", "weg", "gade"]
                .choose(rng)
                .expect("eu");
            vec![
                loc(format!("{street_word}{street} {number}")),
                plain(", "),
                loc({
                    let n = 4 + usize::from(rng.random_bool(0.5));
                    digits(rng, n)
                }),
                plain(" "),
                loc(t),
            ]
        }
        // French / Spanish / Italian
        5 => {
            let street = ["rue des", "avenue de", "Calle", "Via", "Rua"]
                .choose(rng)
                .expect("eu");
            vec![
                loc(format!("{number} {street} {street_word}")),
                plain(", "),
                loc(digits(rng, 5)),
                plain(" "),
                loc(t),
            ]
        }
        // a town alone
        _ => vec![loc(t)],
    };
    Value {
        kind: "LOCATION",
        label: "ADDRESS",
        parts,
    }
}

const FACILITY_FORMS: &[&str] = &[
    "{} Rehabilitation Hospital",
    "{} Family Practice",
    "Sunrise of {} Assisted Living",
    "{} Medical Center",
    "{} Community Clinic",
    "{} Valley Nursing Home",
    "{} Memorial Hospital",
    "{} Urgent Care",
    "{} Pediatrics",
    "{} Hospice",
];

fn facility(rng: &mut impl Rng) -> Value {
    let w = if rng.random_bool(0.5) {
        invented_word(rng)
    } else {
        town(rng)
    };
    one(
        "LOCATION",
        "HOSPITAL",
        FACILITY_FORMS.choose(rng).expect("forms").replace("{}", &w),
    )
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn ordinal(d: u32) -> String {
    let suffix = match (d % 10, d % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{d}{suffix}")
}

fn date(rng: &mut impl Rng) -> Value {
    let y = rng.random_range(1990..2026);
    let m = rng.random_range(1..=12u32);
    let d = rng.random_range(1..=28u32);
    let month = MONTHS[m as usize - 1];
    let wd = WEEKDAYS.choose(rng).expect("weekdays");
    if rng.random_range(0..12) == 1 {
        // "the" is no part of the date
        return Value {
            kind: "DATE",
            label: "DATE",
            parts: vec![
                Part::Plain("the ".into()),
                Part::Phi(format!("{} of {month}", ordinal(d))),
            ],
        };
    }
    let s = match rng.random_range(0..12) {
        0 => format!("{wd}, {month} {d}"),
        1 => format!("{} of {month}", ordinal(d)),
        2 => format!("{d:02}.{m:02}.{y}"),
        3 => format!("{y}-{m:02}-{d:02}"),
        4 => format!("{m}/{d}/{:02}", y % 100),
        5 => format!("{} {d}", &month[..3]),
        6 => format!("{d} {} {y}", &month[..3]),
        7 => format!(
            "{y}-{m:02}-{d:02} {:02}:{:02}",
            rng.random_range(0..24),
            rng.random_range(0..60)
        ),
        8 => format!("{month} {}, {y}", ordinal(d)),
        9 => format!("{wd} {d} {month}"),
        10 => format!("{m:02}/{d:02}/{y}"),
        _ => format!("{d} {month} {y}"),
    };
    one("DATE", "DATE", s)
}

fn age(rng: &mut impl Rng) -> Value {
    one("AGE", "AGE", rng.random_range(90..=104).to_string())
}

fn nanp(rng: &mut impl Rng) -> (u32, u32, String) {
    (
        rng.random_range(201..990),
        rng.random_range(201..990),
        digits(rng, 4),
    )
}

fn phone(rng: &mut impl Rng) -> Value {
    let (a, e, n) = nanp(rng);
    let s = match rng.random_range(0..9) {
        0 => format!("({a}) {e}-{n}"),
        1 => format!("{a}-{e}-{n}"),
        2 => format!("{a}.{e}.{n}"),
        3 => format!("+1 {a} {e} {n}"),
        4 => format!("+44 20 {} {}", digits(rng, 4), digits(rng, 4)),
        5 => format!("+49 30 {}", digits(rng, 8)),
        6 => format!(
            "+33 1 {} {} {} {}",
            digits(rng, 2),
            digits(rng, 2),
            digits(rng, 2),
            digits(rng, 2)
        ),
        7 => format!(
            "+46 8 {} {} {}",
            digits(rng, 3),
            digits(rng, 3),
            digits(rng, 2)
        ),
        _ => format!(
            "0{} {} {}",
            rng.random_range(20..99),
            digits(rng, 4),
            digits(rng, 4)
        ),
    };
    one("CONTACT", "PHONE", s)
}

/// An IBAN with valid ISO 13616 check digits.
pub fn iban(rng: &mut impl Rng) -> String {
    let (country, len) = *[
        ("DE", 18),
        ("GB", 18),
        ("FR", 23),
        ("NL", 14),
        ("ES", 20),
        ("NO", 11),
    ]
    .choose(rng)
    .expect("countries");
    let bban: String = if country == "GB" || country == "NL" {
        format!("{}{}", upper_letters(rng, 4), digits(rng, len - 4))
    } else {
        digits(rng, len)
    };
    let rearranged = format!("{bban}{country}00");
    let mut rem = 0u32;
    for c in rearranged.chars() {
        let v = c.to_digit(36).unwrap_or(0);
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    let check = 98 - rem;
    let raw = format!("{country}{check:02}{bban}");
    if rng.random_bool(0.5) {
        raw.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        raw
    }
}

/// A payment card number with a valid Luhn digit, grouped by four.
pub fn card(rng: &mut impl Rng) -> String {
    let mut d: Vec<u32> = vec![*[4u32, 5, 3, 6].choose(rng).expect("brands")];
    while d.len() < 15 {
        d.push(rng.random_range(0..10));
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    d.push((10 - sum % 10) % 10);
    let s: String = d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
    if rng.random_bool(0.6) {
        format!("{} {} {} {}", &s[..4], &s[4..8], &s[8..12], &s[12..])
    } else {
        s
    }
}

/// A vehicle identification number with a valid check digit (position 9).
pub fn vin(rng: &mut impl Rng) -> String {
    const ALLOWED: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let mut v: Vec<u8> = (0..17)
        .map(|_| *ALLOWED.choose(rng).expect("allowed"))
        .collect();
    let value = |c: u8| -> u32 {
        match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R'..=b'Z' => u32::from(c - b'R') + 9,
            _ => 0,
        }
    };
    let sum: u32 = v.iter().zip(WEIGHTS).map(|(&c, w)| value(c) * w).sum();
    let check = sum % 11;
    v[8] = if check == 10 {
        b'X'
    } else {
        b'0' + check as u8
    };
    String::from_utf8_lossy(&v).into_owned()
}

fn ip(rng: &mut impl Rng) -> Value {
    let s = match rng.random_range(0..4) {
        0 => format!(
            "10.{}.{}.{}",
            rng.random_range(0..256),
            rng.random_range(0..256),
            rng.random_range(1..255)
        ),
        1 => format!(
            "192.168.{}.{}",
            rng.random_range(0..256),
            rng.random_range(1..255)
        ),
        2 => format!(
            "{}.{}.{}.{}",
            rng.random_range(11..224),
            rng.random_range(0..256),
            rng.random_range(0..256),
            rng.random_range(1..255)
        ),
        _ => {
            let groups: Vec<String> = (0..8)
                .map(|_| format!("{:x}", rng.random_range(0..0x10000u32)))
                .collect();
            if rng.random_bool(0.5) {
                format!("fe80::{}:{}:{}", groups[0], groups[1], groups[2])
            } else {
                groups.join(":")
            }
        }
    };
    one("CONTACT", "IPADDR", s)
}

fn email(rng: &mut impl Rng, p: &Person) -> Value {
    let domain = invented_word(rng).to_lowercase();
    let local: String = p
        .last
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_lowercase();
    let local = if local.len() < 3 {
        invented_word(rng).to_lowercase()
    } else {
        local
    };
    one(
        "CONTACT",
        "EMAIL",
        format!(
            "{local}{}@{domain}.{}",
            rng.random_range(1..99),
            ["com", "net", "de", "no", "org"].choose(rng).expect("tld")
        ),
    )
}

/// An identifier number after its cue, the cue plain.
fn cued_id(rng: &mut impl Rng) -> Value {
    let (cue, value, label) = match rng.random_range(0..11) {
        0 => (
            "SSN ",
            format!(
                "{:03}-{}-{}",
                rng.random_range(100..899),
                digits(rng, 2),
                digits(rng, 4)
            ),
            "SSN",
        ),
        1 => (
            "social security number ",
            format!(
                "{:03} {} {}",
                rng.random_range(100..899),
                digits(rng, 2),
                digits(rng, 4)
            ),
            "SSN",
        ),
        2 => (
            "MRN: ",
            format!("{}{}", upper_letters(rng, 1), digits(rng, 7)),
            "MEDICALRECORD",
        ),
        3 => ("medical record number ", digits(rng, 8), "MEDICALRECORD"),
        4 => ("IBAN ", iban(rng), "ACCOUNT"),
        5 => ("card number ", card(rng), "ACCOUNT"),
        6 => (
            "passport number ",
            format!("{}{}", upper_letters(rng, 1), digits(rng, 8)),
            "LICENSE",
        ),
        7 => (
            "driver's license ",
            format!(
                "{}{}-{}",
                upper_letters(rng, 1),
                digits(rng, 3),
                digits(rng, 4)
            ),
            "LICENSE",
        ),
        8 => (
            "license plate ",
            format!(
                "{}{} {}",
                upper_letters(rng, 2),
                digits(rng, 2),
                upper_letters(rng, 3)
            ),
            "VEHICLE",
        ),
        9 => ("VIN ", vin(rng), "VEHICLE"),
        _ => (
            "member ID ",
            format!("{}{}", upper_letters(rng, 3), digits(rng, 9)),
            "HEALTHPLAN",
        ),
    };
    Value {
        kind: "ID",
        label,
        parts: vec![Part::Plain(cue.to_owned()), Part::Phi(value)],
    }
}

/// Clinical sentences that carry no identifier: doses, vitals, scores, eponyms, units.
const CLEAN: &[&str] = &[
    "Metoprolol 25 mg PO BID was continued.",
    "BP 128/76, HR 72, SpO2 97% on 2 L NC.",
    "GCS 15. Foley catheter removed on day 3.",
    "History of Parkinson's disease and Hashimoto thyroiditis.",
    "Patient denies chest pain, fever or chills.",
    "Plan: repeat CBC and BMP in the morning, titrate insulin per sliding scale.",
    "Follow up with cardiology in 2 weeks.",
    "Echo showed EF 55% with mild MR.",
    "Lisinopril 10 mg daily; atorvastatin 40 mg at bedtime.",
    "Apgar scores 8 and 9. Babinski negative.",
    "Tolerating a regular diet. Ambulating with a walker.",
    "Discussed risks and benefits; the patient agrees with the plan.",
];

/// One clinical note.
fn clinical(rng: &mut impl Rng, doc: &mut Doc) {
    let patient = Person::new(rng);
    let doctor = Person::new(rng);
    let relative = Person::new(rng);
    let clean = |rng: &mut dyn rand::RngCore, doc: &mut Doc| {
        doc.t(CLEAN.choose(rng).expect("clean")).t(" ");
    };
    match rng.random_range(0..5) {
        0 => {
            doc.t("DISCHARGE SUMMARY\nPatient: ")
                .phi(&patient.written(rng))
                .t("\nAdmitted: ");
            doc.phi(&date(rng))
                .t("  Discharged: ")
                .phi(&date(rng))
                .t("\n");
            doc.phi(&patient.written(rng))
                .t(" is a ")
                .phi(&age(rng))
                .t("-year-old seen at ");
            doc.phi(&facility(rng)).t(". ");
            clean(rng, doc);
            doc.t("Lives at ")
                .phi(&address(rng))
                .t(" with her daughter ")
                .phi(&relative.written(rng))
                .t(". ");
            clean(rng, doc);
            doc.t("Follow up with ")
                .phi(&doctor.written(rng))
                .t(" on ")
                .phi(&date(rng))
                .t(".\n");
        }
        1 => {
            doc.t("Consult letter\n\nDear ")
                .phi(&doctor.written(rng))
                .t(",\n\nThank you for referring ");
            doc.phi(&patient.written(rng))
                .t(", aged ")
                .phi(&age(rng))
                .t(", ")
                .phi(&cued_id(rng))
                .t(". ");
            clean(rng, doc);
            clean(rng, doc);
            doc.t("Contact: ")
                .phi(&phone(rng))
                .t(" or ")
                .phi(&email(rng, &patient))
                .t(".\nSincerely,\n");
            doc.phi(&Value {
                kind: "NAME",
                label: "DOCTOR",
                parts: vec![Part::Phi(format!(
                    "{}, {}.",
                    doctor.last,
                    doctor.first.chars().next().unwrap_or('A')
                ))],
            });
            doc.t("\n");
        }
        2 => {
            doc.t("RADIOLOGY REPORT  ")
                .phi(&date(rng))
                .t("\nExam: CT chest with contrast. ");
            doc.t("Ordering physician: ")
                .phi(&doctor.written(rng))
                .t(". ");
            clean(rng, doc);
            doc.t("Comparison: outside study from ")
                .phi(&facility(rng))
                .t(", ")
                .phi(&date(rng))
                .t(". ");
            doc.t("Device serial ")
                .phi(&one(
                    "ID",
                    "DEVICE",
                    format!("{}{}", upper_letters(rng, 3), digits(rng, 7)),
                ))
                .t(".\n");
        }
        3 => {
            doc.t("Portal message from ")
                .phi(&patient.written(rng))
                .t(" (")
                .phi(&cued_id(rng))
                .t("): ");
            doc.t("my husband ")
                .phi(&relative.written(rng))
                .t(" can drive me on ")
                .phi(&date(rng));
            doc.t(". We moved to ")
                .phi(&address(rng))
                .t(". Call me at ")
                .phi(&phone(rng))
                .t(". ");
            doc.t("Thanks, ")
                .phi(&one("NAME", "PATIENT", patient.first.clone()))
                .t("\n");
        }
        _ => {
            doc.t("Lab report. Collected ")
                .phi(&date(rng))
                .t(" at ")
                .phi(&facility(rng))
                .t(". ");
            clean(rng, doc);
            doc.t("Results sent to ")
                .phi(&doctor.written(rng))
                .t(", fax ")
                .phi(&phone(rng))
                .t(". ");
            doc.t("Specimen from workstation ").phi(&ip(rng)).t(". ");
            clean(rng, doc);
            doc.t("\n");
        }
    }
}

/// One prompt-like paragraph, as users paste into a chat model.
fn prompt(rng: &mut impl Rng, doc: &mut Doc) {
    let p = Person::new(rng);
    let q = Person::new(rng);
    match rng.random_range(0..6) {
        0 => {
            doc.t("Please draft a letter to ")
                .phi(&p.written(rng))
                .t(" at ")
                .phi(&address(rng));
            doc.t(" explaining the bill from ").phi(&date(rng)).t(".");
        }
        1 => {
            doc.t("My ")
                .phi(&cued_id(rng))
                .t(" and my phone is ")
                .phi(&phone(rng));
            doc.t(", can you check why the payment failed?");
        }
        2 => {
            doc.phi(&p.written(rng))
                .t(" and ")
                .phi(&q.written(rng))
                .t(" met on ")
                .phi(&date(rng));
            doc.t(" in ")
                .phi(&address(rng))
                .t(". Summarize their emails at ")
                .phi(&email(rng, &p))
                .t(".");
        }
        3 => {
            doc.t("Summarize this: ")
                .phi(&one("NAME", "PATIENT", p.first.to_lowercase()));
            doc.t(" called from ")
                .phi(&ip(rng))
                .t(" about ")
                .phi(&cued_id(rng))
                .t(".");
        }
        4 => {
            doc.t("Translate for ")
                .phi(&p.written(rng))
                .t(", born ")
                .phi(&date(rng));
            doc.t(", who lives in ")
                .phi(&address(rng))
                .t(": the appointment is on ")
                .phi(&date(rng))
                .t(".");
        }
        _ => {
            doc.t("Write a reference for ")
                .phi(&p.written(rng))
                .t(" who worked at ")
                .phi(&facility(rng));
            doc.t(" until ")
                .phi(&date(rng))
                .t(". Reach me at ")
                .phi(&phone(rng))
                .t(".");
        }
    }
}

/// `notes` clinical notes and `prompts` prompt-like paragraphs from `seed`.
pub fn generate(seed: u64, notes: usize, prompts: usize) -> Vec<GeneratedNote> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(notes + prompts);
    for i in 0..notes + prompts {
        let case = match rng.random_range(0..10) {
            0 => Case::Lower,
            1 => Case::Upper,
            _ => Case::AsWritten,
        };
        let mut doc = Doc::new(case);
        if i < notes {
            clinical(&mut rng, &mut doc);
        } else {
            prompt(&mut rng, &mut doc);
        }
        out.push(GeneratedNote {
            id: format!("{}-{i}", if i < notes { "note" } else { "prompt" }),
            text: doc.text,
            spans: doc.spans,
        });
    }
    out
}

/// The corpus as gold JSONL.
pub fn to_jsonl(notes: &[GeneratedNote]) -> String {
    let mut s = String::new();
    for n in notes {
        s.push_str(&serde_json::to_string(n).unwrap_or_default());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_slice_the_text_they_name() {
        for n in generate(7, 40, 40) {
            let chars: Vec<char> = n.text.chars().collect();
            assert!(!n.spans.is_empty(), "{}", n.id);
            for s in &n.spans {
                assert!(s.start < s.end && s.end <= chars.len(), "{}", n.id);
                let piece: String = chars[s.start..s.end].iter().collect();
                assert_eq!(piece.trim(), piece, "{}", n.id);
            }
        }
    }

    #[test]
    fn a_seed_is_a_corpus() {
        assert_eq!(to_jsonl(&generate(3, 5, 5)), to_jsonl(&generate(3, 5, 5)));
        assert_ne!(to_jsonl(&generate(3, 5, 5)), to_jsonl(&generate(4, 5, 5)));
    }

    #[test]
    fn checksummed_numbers_check() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let c: Vec<u32> = card(&mut rng)
                .chars()
                .filter_map(|c| c.to_digit(10))
                .collect();
            let sum: u32 = c
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &x)| {
                    if i % 2 == 1 {
                        (x * 2) % 9 + u32::from(x == 9) * 9
                    } else {
                        x
                    }
                })
                .sum();
            assert_eq!(sum % 10, 0);
            let i: String = iban(&mut rng)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let moved = format!("{}{}", &i[4..], &i[..4]);
            let rem = moved.chars().fold(0u32, |r, c| {
                let v = c.to_digit(36).unwrap_or(0);
                if v >= 10 {
                    (r * 100 + v) % 97
                } else {
                    (r * 10 + v) % 97
                }
            });
            assert_eq!(rem, 1, "{i}");
            assert_eq!(vin(&mut rng).len(), 17);
        }
    }
}
