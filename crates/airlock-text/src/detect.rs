//! The detector: one pass of a compiled multi-pattern regex for identifiers with a shape
//! (dates, phones, labelled numbers, e-mail, ...), then context rules over the words of the
//! text, looked up in the census, place, English and clinical dictionaries, for names and
//! places. Spans that touch are merged; a name found once in a text is found everywhere in it.

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use crate::kind::{Kind, Span};
use crate::lexicon::{Entry, Lexicon};

const MONTHS: &str = "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// Which part of a regex match is the identifier (labels stay in the text).
#[derive(Debug, Clone, Copy)]
enum Trim {
    Whole,
    /// After the last space, colon or `#`.
    AfterLabel,
    /// The leading digits.
    LeadingDigits,
    /// Without trailing sentence punctuation.
    TrailingPunctuation,
}

/// A check on the context of a match that a regex alone cannot express.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
    None,
    /// `m/d` without a year: not a ratio, a fraction, a score or a blood pressure.
    MonthDay,
    /// A month name alone: `may` and `march` need a date word around them.
    MonthAlone,
    /// A labelled number: at least four characters.
    MinLen4,
    /// A long bare number: not part of a decimal or a larger number.
    BareNumber,
}

struct Rule {
    kind: Kind,
    trim: Trim,
    check: Check,
    confidence: f32,
    pattern: String,
}

fn rule(kind: Kind, trim: Trim, check: Check, confidence: f32, pattern: impl Into<String>) -> Rule {
    Rule {
        kind,
        trim,
        check,
        confidence,
        pattern: pattern.into(),
    }
}

fn label_rule(kind: Kind, labels: &str) -> Rule {
    rule(
        kind,
        Trim::AfterLabel,
        Check::MinLen4,
        0.9,
        format!(
            r"(?i:\b(?:{labels})\.?\s*(?:#|no\.?|num(?:ber)?|id)?\s*[:#]?\s*)[A-Za-z]{{0,4}}-?[0-9][A-Za-z0-9-]*[A-Za-z0-9]|(?i:\b(?:{labels})\.?\s*(?:#|no\.?|num(?:ber)?|id)?\s*[:#]?\s*)[0-9]"
        ),
    )
}

/// Patterns in priority order: at one start position the first listed wins.
fn rules() -> Vec<Rule> {
    use Check as C;
    use Kind as K;
    use Trim as T;
    vec![
        rule(K::Url, T::TrailingPunctuation, C::None, 0.95,
            r"(?i:\b(?:https?://|www\.))[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+"),
        rule(K::Email, T::Whole, C::None, 0.95,
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        rule(K::Ip, T::Whole, C::None, 0.9,
            r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b"),
        rule(K::Ssn, T::AfterLabel, C::None, 0.95,
            r"(?i:\b(?:ssn|ss#|social security(?: number| no\.?| #)?)\s*[:#]?\s*)[0-9]{3}-?[0-9]{2}-?[0-9]{4}\b"),
        rule(K::Ssn, T::Whole, C::None, 0.9, r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"),
        // dates with a year
        rule(K::Date, T::Whole, C::None, 0.95,
            r"\b(?:1[89]|20)[0-9]{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])\b"),
        rule(K::Date, T::Whole, C::None, 0.95,
            r"\b(?:0?[1-9]|1[0-2])[/-](?:0?[1-9]|[12][0-9]|3[01])[/-](?:(?:19|20)[0-9]{2}|[0-9]{2})\b"),
        rule(K::Date, T::Whole, C::None, 0.9,
            r"\b(?:0?[1-9]|1[0-2])\.(?:0?[1-9]|[12][0-9]|3[01])\.(?:19|20)[0-9]{2}\b"),
        rule(K::Date, T::Whole, C::None, 0.95, format!(
            r"(?i:\b[0-3]?[0-9]-{MONTHS}-(?:[0-9]{{4}}|[0-9]{{2}})\b)")),
        rule(K::Date, T::Whole, C::None, 0.9, format!(
            r"(?i:\b{MONTHS}\.?\s+[0-3]?[0-9](?:st|nd|rd|th)?\b(?:,?\s+(?:19|20)[0-9]{{2}}\b)?)")),
        rule(K::Date, T::Whole, C::None, 0.9, format!(
            r"(?i:\b[0-3]?[0-9](?:st|nd|rd|th)?\s*(?:of\s+)?{MONTHS}\b\.?(?:,?\s*(?:(?:19|20)[0-9]{{2}}|'?[0-9]{{2}})\b)?)")),
        rule(K::Date, T::Whole, C::None, 0.85, format!(
            r"(?i:\b{MONTHS}\.?,?\s+(?:of\s+)?(?:19|20)[0-9]{{2}}\b)")),
        // phones before bare dates: 301-555-1234 must not become a date
        rule(K::Fax, T::AfterLabel, C::None, 0.95,
            r"(?i:\bfax\s*(?:#|no\.?|number)?\s*[:#]?\s*)(?:\+?1[-. ]?)?\(?[2-9][0-9]{2}\)?[-. /]{0,2}[0-9]{3}[-. ]{0,2}[0-9]{4}\b"),
        rule(K::Phone, T::Whole, C::None, 0.9,
            r"(?:\+?1[-. ]?)?(?:\([2-9][0-9]{2}\)|\b[2-9][0-9]{2})(?:[-. /]|- | -|\) ?)?[0-9]{3}(?:[-. /]|- )?[0-9]{4}\b"),
        rule(K::Phone, T::Whole, C::None, 0.8, r"\b[2-9][0-9]{5}-[0-9]{4}\b"),
        rule(K::Phone, T::AfterLabel, C::None, 0.85,
            r"(?i:\b(?:phone|tel|telephone|cell|home|work|office|ph|mobile|contact|call|number)\s*(?:#|no\.?)?\s*[:#]?\s*)[0-9]{3}[- .][0-9]{4}\b"),
        rule(K::Phone, T::AfterLabel, C::None, 0.85,
            r"(?i:\b(?:pager|page|pg|pgr|beeper|bpr|beep)\s*(?:#|no\.?|number)?\s*[:#]?\s*)[0-9]{4,6}\b"),
        // labelled numbers
        label_rule(K::Mrn, r"mrn|mr|medical record|med rec|unit no|unit number|hospital number|hosp no|chart"),
        label_rule(K::Account, r"account|acct|acc|billing|invoice"),
        label_rule(K::HealthPlan, r"member|member id|policy|plan|health plan|insurance|ins|medicaid|medicare|subscriber|beneficiary|group|hic|hicn|mbi"),
        label_rule(K::License, r"license|licence|lic|dea|npi|certificate|cert|registration|upin"),
        label_rule(K::Vehicle, r"vin|plate|license plate|vehicle|tag"),
        label_rule(K::Device, r"serial|serial no|sn|s/n|device|device id|model|lot|udi|implant|pacemaker|icd serial"),
        label_rule(K::Id, r"id|ident|identifier|ref|reference|case|accession|specimen|claim|confirmation|ticket|record|file"),
        rule(K::Id, T::AfterLabel, C::MinLen4, 0.8, r"#\s*[A-Za-z]{0,3}[0-9][A-Za-z0-9-]{3,}\b"),
        rule(K::Vehicle, T::Whole, C::None, 0.8, r"\b[A-HJ-NPR-Z0-9]{3}[A-HJ-NPR-Z][A-HJ-NPR-Z0-9]{5}[0-9X][A-HJ-NPR-Z0-9]{7}\b"),
        // ages over 89
        rule(K::Age, T::LeadingDigits, C::None, 0.95,
            r"(?i:\b(?:9[0-9]|1[01][0-9])\s*-?\s*(?:yo\b|y/o|y\.o\.?|yrs?\.?\s*old|years?[- ]old|-?year-old|yo[mf]\b|y\b|yr\b|years? of age))"),
        rule(K::Age, T::AfterLabel, C::None, 0.9,
            r"(?i:\b(?:age|aged)\s*:?\s*)(?:9[0-9]|1[01][0-9])\b"),
        // the rest of the dates
        rule(K::Date, T::Whole, C::MonthDay, 0.8,
            r"\b(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])\b"),
        rule(K::Date, T::Whole, C::MonthDay, 0.75,
            r"\b(?:0?[1-9]|1[0-2])/(?:19|20)?[0-9]{2}\b"),
        rule(K::Date, T::Whole, C::MonthAlone, 0.7, format!(
            r"(?i:\b(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b)")),
        // places
        rule(K::Zip, T::AfterLabel, C::None, 0.9, r"\b[A-Z]{2},?\s+[0-9]{5}(?:-[0-9]{4})?\b"),
        rule(K::Zip, T::AfterLabel, C::None, 0.9, r"(?i:\bzip(?:\s*code)?\s*[:#]?\s*)[0-9]{5}(?:-[0-9]{4})?\b"),
        rule(K::Address, T::Whole, C::None, 0.9,
            r"\b[0-9]{1,5}\s+(?:[A-Z][A-Za-z'-]+\.?\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq|STREET|ST|AVENUE|AVE|ROAD|RD|BOULEVARD|BLVD|LANE|LN|DRIVE|DR|WAY|COURT|CT|PLACE|PL|CIRCLE|HIGHWAY|HWY)\b\.?"),
        rule(K::Address, T::Whole, C::None, 0.85,
            r"\b[0-9]{1,5}\s+(?:[a-z][a-z'-]+\s+){1,3}(?:street|avenue|road|boulevard|lane|drive|terrace|circle|highway|parkway)\b"),
        rule(K::Address, T::Whole, C::None, 0.9, r"(?i:\bp\.?\s?o\.?\s+box\s+[0-9]+\b)"),
        rule(K::Id, T::Whole, C::BareNumber, 0.5, r"\b[0-9]{7,}\b"),
    ]
}

/// The words before a surname that make it a name ("Dr.", "Mrs").
const TITLES: &[&str] = &[
    "dr", "doctor", "mr", "mrs", "ms", "miss", "mister", "prof", "professor", "sr", "sister",
    "rev", "reverend", "fr", "father",
];
/// Relations and roles after which a first name is a person's name.
const RELATIONS: &[&str] = &[
    "wife", "husband", "son", "sons", "daughter", "daughters", "dtr", "dtrs", "dau", "sister",
    "sisters", "brother", "brothers", "bro", "sis", "mother", "mom", "father", "dad", "niece",
    "nephew", "grandson", "granddaughter", "grandaughter", "grandchild", "grandmother",
    "grandfather", "friend", "cousin", "aunt", "uncle", "spouse", "partner", "fiance", "fiancee",
    "boyfriend", "girlfriend", "proxy", "neighbor", "stepdaughter", "stepson", "other", "sibling",
    "siblings", "children", "child", "parents", "guardian", "named", "nurse", "np", "rn",
    "resident", "attending", "fellow", "intern", "pa", "pcp", "md", "surgeon", "cardiologist",
    "physician", "coordinator", "worker", "sw", "chaplain", "case", "manager", "with", "to",
    "per", "from", "by", "called", "visited", "paged", "contacted", "notified", "informed",
    "spoke", "and",
];
/// Relations strong enough that an unknown word after them is a name ("son Smokey").
const STRONG_RELATIONS: &[&str] = &[
    "wife", "husband", "son", "sons", "daughter", "daughters", "dtr", "dau", "sister", "brother",
    "mother", "father", "niece", "nephew", "grandson", "granddaughter", "grandaughter", "friend",
    "cousin", "aunt", "uncle", "spouse", "partner", "fiance", "fiancee", "boyfriend",
    "girlfriend", "stepdaughter", "stepson", "named", "nurse", "np", "dr", "mr", "mrs", "ms",
];
/// Credentials written after a clinician's name ("Jean Hudson, RN").
const CREDENTIALS: &[&str] = &[
    "rn", "np", "md", "rrt", "crt", "lpn", "cna", "msw", "lcsw", "licsw", "pac", "pharmd",
    "rph", "slp", "otr", "dpt", "bsn", "msn", "aprn", "cnp", "fnp", "do", "phd", "rd", "sn",
    "resident",
];
/// Words after a facility's name ("Calvert Hospital").
const FACILITY_WORDS: &[&str] = &[
    "hospital", "hosp", "hospitals", "medical", "memorial", "clinic", "rehab", "rehabilitation",
    "nursing", "health", "healthcare", "infirmary", "campus", "institute", "center", "centre",
    "hospice", "manor", "village", "university", "college", "church", "school", "county",
];
/// Words before a place ("lives in", "transferred to").
const PLACE_CUES: &[&str] = &[
    "in", "from", "to", "at", "near", "into", "@", "outside", "toward", "towards",
];
/// Words that end a run of name words: a word like these after a title is not a surname.
const NOT_SURNAMES: &[&str] = &[
    "aware", "notified", "informed", "called", "paged", "here", "in", "at", "to", "and", "or",
    "the", "of", "on", "for", "with", "by", "was", "is", "will", "note", "notes", "order",
    "orders", "ordered", "team", "service", "office", "said", "re", "regarding", "consult",
    "came", "saw", "seen", "requested", "wants", "would", "should", "did", "does", "has", "had",
    "a", "an", "as", "this", "that", "today", "tonight", "now", "also", "made", "up", "out",
    "pt", "patient", "who", "md", "rn", "np", "s", "x", "following", "following", "following",
];

fn in_list(list: &[&str], word: &str) -> bool {
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Lower,
    Upper,
    Title,
    Mixed,
    Number,
    Alnum,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    shape: Shape,
    entry: Entry,
}

impl Token {
    fn alpha(&self) -> bool {
        matches!(
            self.shape,
            Shape::Lower | Shape::Upper | Shape::Title | Shape::Mixed
        )
    }
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Whether capital letters in a text tell names apart (they do not in ALL CAPS or all
/// lower-case notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseStyle {
    Upper,
    Lower,
    Mixed,
}

fn shape_of(word: &str) -> Shape {
    let b = word.as_bytes();
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if letters == 0 {
        return Shape::Number;
    }
    if b.iter().any(u8::is_ascii_digit) {
        return Shape::Alnum;
    }
    let upper = b.iter().filter(|c| c.is_ascii_uppercase()).count();
    if upper == 0 {
        Shape::Lower
    } else if upper == letters {
        if letters == 1 { Shape::Title } else { Shape::Upper }
    } else if b[0].is_ascii_uppercase() && upper == 1 {
        Shape::Title
    } else if b[0].is_ascii_uppercase() {
        Shape::Mixed
    } else {
        Shape::Lower
    }
}

fn tokenize(text: &str, lexicon: &Lexicon, out: &mut Vec<Token>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len()
            && (b[i].is_ascii_alphanumeric()
                || (b[i] == b'\''
                    && i + 1 < b.len()
                    && b[i + 1].is_ascii_alphabetic()
                    && i > start
                    && b[i - 1].is_ascii_alphabetic()
                    && !(i + 2 <= b.len()
                        && (b[i + 1] == b's' || b[i + 1] == b'S')
                        && (i + 2 == b.len() || !b[i + 2].is_ascii_alphanumeric()))))
        {
            i += 1;
        }
        let word = &text[start..i];
        let shape = shape_of(word);
        let entry = if matches!(shape, Shape::Number | Shape::Alnum) {
            Entry::default()
        } else {
            lexicon.lookup(word)
        };
        out.push(Token {
            start,
            end: i,
            shape,
            entry,
        });
    }
}

fn case_style(text: &str) -> CaseStyle {
    let (mut upper, mut lower) = (0usize, 0usize);
    for c in text.bytes() {
        if c.is_ascii_uppercase() {
            upper += 1;
        } else if c.is_ascii_lowercase() {
            lower += 1;
        }
    }
    let letters = upper + lower;
    if letters == 0 || upper * 10 >= letters * 7 {
        CaseStyle::Upper
    } else if upper * 100 <= letters * 2 {
        CaseStyle::Lower
    } else {
        CaseStyle::Mixed
    }
}

/// The free-text PHI detector. Build once ([`Detector::new`]) and share.
pub struct Detector {
    regex: Regex,
    rules: Vec<(Kind, Trim, Check, f32)>,
    lexicon: &'static Lexicon,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("patterns", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

struct Ctx<'a> {
    text: &'a str,
    toks: &'a [Token],
    style: CaseStyle,
}

impl Ctx<'_> {
    fn word(&self, i: usize) -> &str {
        &self.text[self.toks[i].start..self.toks[i].end]
    }

    /// The characters between token `i - 1` and token `i`.
    fn gap_before(&self, i: usize) -> &str {
        let from = if i == 0 { 0 } else { self.toks[i - 1].end };
        &self.text[from..self.toks[i].start]
    }

    /// Tokens `i` and `i + 1` are on one line, separated by blanks (and at most a period
    /// after an initial or a title).
    fn joined(&self, i: usize) -> bool {
        if i + 1 >= self.toks.len() {
            return false;
        }
        let gap = self.gap_before(i + 1);
        !gap.is_empty()
            && gap.len() <= 3
            && gap.bytes().all(|c| c == b' ' || c == b'.' || c == b'\t')
            && gap.bytes().filter(|&c| c == b'.').count() <= 1
    }

    /// Capitals carry information in this text and token `i` starts with one.
    fn capitalized(&self, i: usize) -> bool {
        matches!(self.toks[i].shape, Shape::Title | Shape::Upper)
    }

    fn case_allows(&self, i: usize) -> bool {
        self.style != CaseStyle::Mixed || self.capitalized(i) || self.after_title(i)
    }

    fn after_title(&self, i: usize) -> bool {
        i > 0 && in_list(TITLES, self.word(i - 1)) && self.joined(i - 1)
    }

    fn is_initial(&self, i: usize) -> bool {
        let t = &self.toks[i];
        t.len() == 1
            && t.alpha()
            && self.text[t.end..].starts_with('.')
            && (self.style != CaseStyle::Mixed || t.shape == Shape::Title)
    }

    /// A word that can be part of a name once the context says a name is here.
    fn namey(&self, i: usize) -> bool {
        let t = &self.toks[i];
        let w = self.word(i);
        t.alpha()
            && t.len() >= 2
            && !t.entry.clinical
            && !in_list(NOT_SURNAMES, w)
            && !in_list(CREDENTIALS, w)
            && !in_list(FACILITY_WORDS, w)
            && (t.entry.is_name() || !t.entry.word)
    }

    /// A census name that is not an English or clinical word: a name even without context.
    fn strong_name(&self, i: usize) -> bool {
        let t = &self.toks[i];
        t.alpha()
            && t.len() >= 3
            && t.entry.is_name()
            && !t.entry.word
            && !t.entry.clinical
            && !in_list(NOT_SURNAMES, self.word(i))
            && self.case_allows(i)
    }

    /// A word that no dictionary knows, capitalized where capitals tell.
    fn unknown(&self, i: usize) -> bool {
        let t = &self.toks[i];
        t.alpha()
            && t.len() >= 3
            && t.entry == Entry::default()
            && self.case_allows(i)
            && !(self.style == CaseStyle::Mixed && t.shape == Shape::Upper && t.len() <= 4)
    }
}

impl Detector {
    /// Compiles the patterns and loads the dictionaries.
    pub fn new() -> Self {
        let specs = rules();
        let regex = Regex::builder()
            .syntax(syntax::Config::new().unicode(false))
            .build_many(&specs.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>())
            .expect("built-in patterns compile");
        Self {
            regex,
            rules: specs
                .into_iter()
                .map(|r| (r.kind, r.trim, r.check, r.confidence))
                .collect(),
            lexicon: Lexicon::get(),
        }
    }

    /// The dictionaries this detector uses.
    pub fn lexicon(&self) -> &'static Lexicon {
        self.lexicon
    }

    /// Every identifier in `text`, sorted by start, not overlapping.
    pub fn detect(&self, text: &str) -> Vec<Span> {
        let mut toks = Vec::with_capacity(text.len() / 5);
        tokenize(text, self.lexicon, &mut toks);
        let ctx = Ctx {
            text,
            toks: &toks,
            style: case_style(text),
        };
        let mut spans = Vec::new();
        self.patterns(&ctx, &mut spans);
        names(&ctx, &mut spans);
        places(&ctx, self.lexicon, &mut spans);
        merge(text, spans)
    }

    fn patterns(&self, ctx: &Ctx<'_>, spans: &mut Vec<Span>) {
        let text = ctx.text;
        for m in self.regex.find_iter(text) {
            let (kind, trim, check, confidence) = self.rules[m.pattern().as_usize()];
            let r = trim_span(text, m.range(), trim);
            if r.is_empty() || !passes(check, text, r.clone()) {
                continue;
            }
            spans.push(Span {
                start: r.start,
                end: r.end,
                kind,
                confidence,
            });
        }
    }
}

fn trim_span(text: &str, r: std::ops::Range<usize>, trim: Trim) -> std::ops::Range<usize> {
    let s = &text[r.clone()];
    match trim {
        Trim::Whole => r,
        Trim::AfterLabel => {
            let cut = s.rfind([' ', ':', '#', '\t', '\n']).map_or(0, |i| i + 1);
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

/// The lower-cased word just before byte `at` (skipping blanks and light punctuation).
fn word_before(text: &str, at: usize) -> String {
    let head = text[..at].trim_end_matches([' ', '\t', ':', '(', ',', '-', '=']);
    let start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '/' || c == '.'))
        .map_or(0, |i| i + 1);
    head[start..].trim_end_matches('.').to_ascii_lowercase()
}

fn word_after(text: &str, at: usize) -> String {
    let tail = text[at..].trim_start_matches([' ', '\t']);
    let end = tail
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '%'))
        .unwrap_or(tail.len());
    tail[..end].to_ascii_lowercase()
}

/// Words before `m/d` that make it a measurement, a score or a ratio.
const NOT_DATE_BEFORE: &[&str] = &[
    "bp", "b/p", "abp", "nbp", "nibp", "sbp", "art", "cuff", "pap", "pas", "pa", "map", "ratio",
    "i:e", "ie", "pain", "apgar", "apgars", "gcs", "score", "strength", "str", "motor", "grade",
    "murmur", "sounds", "rate", "x", "dose", "doses", "tab", "tabs", "give", "gave", "given",
    "take", "took", "of", "peep", "ps", "cpap", "bipap", "vent", "settings", "ac", "simv",
    "psv", "trach", "plt", "ratio", "scale", "level", "at", "q", "than", "about", "approx",
];
/// Words after `m/d` that make it a measurement or a fraction.
const NOT_DATE_AFTER: &[&str] = &[
    "mg", "mcg", "ml", "cc", "l", "lpm", "units", "u", "tab", "tabs", "tablet", "ns", "nss",
    "strength", "mmhg", "pain", "scale", "of", "dose", "doses", "%", "hr", "hrs", "min",
    "times", "x", "peep", "ps", "cm", "kg", "strength", "in", "ratio", "grade",
];

fn passes(check: Check, text: &str, r: std::ops::Range<usize>) -> bool {
    let value = &text[r.clone()];
    match check {
        Check::None => true,
        Check::MinLen4 => value.len() >= 4 && value.bytes().any(|b| b.is_ascii_digit()),
        Check::BareNumber => {
            let before = text[..r.start].bytes().next_back();
            let after = text[r.end..].bytes().next();
            !matches!(before, Some(b'.' | b',' | b'$' | b'-' | b'+'))
                && !matches!(after, Some(b'.' | b',' | b'%'))
                || matches!(after, Some(b'.')) && !text[r.end + 1..].starts_with(|c: char| c.is_ascii_digit())
        }
        Check::MonthDay => {
            let before = text[..r.start].bytes().next_back();
            let after = text[r.end..].bytes().next();
            if matches!(before, Some(b'/' | b'.' | b'+' | b'-' | b':' | b'x' | b'X'))
                || matches!(after, Some(b'/' | b'%' | b'.'))
                    && text[r.end + 1..].starts_with(|c: char| c.is_ascii_digit())
                || matches!(after, Some(b'/' | b'%'))
            {
                return false;
            }
            // A number just before ("5 1/2", "2 2/3") makes it a fraction.
            let head = text[..r.start].trim_end_matches(' ');
            if head.len() < r.start && head.ends_with(|c: char| c.is_ascii_digit()) {
                return false;
            }
            !in_list(NOT_DATE_BEFORE, &word_before(text, r.start))
                && !in_list(NOT_DATE_AFTER, &word_after(text, r.end))
        }
        Check::MonthAlone => {
            let lower = value.to_ascii_lowercase();
            let before = word_before(text, r.start);
            let dated = in_list(
                &["in", "on", "since", "until", "till", "by", "from", "of", "early", "late",
                  "mid", "end", "beginning", "last", "next", "this", "during", "before",
                  "after", "through", "thru"],
                &before,
            );
            let year_after = word_after(text, r.end)
                .bytes()
                .all(|b| b.is_ascii_digit())
                && !word_after(text, r.end).is_empty();
            match lower.as_str() {
                "may" | "march" | "mar" | "dec" | "jan" | "sept" | "sep" | "jun" | "aug" => {
                    (dated && !matches!(lower.as_str(), "may")) || year_after
                }
                _ => dated || value.len() > 3 || year_after,
            }
        }
    }
}

fn push(spans: &mut Vec<Span>, ctx: &Ctx<'_>, from: usize, to: usize, kind: Kind, conf: f32) {
    spans.push(Span {
        start: ctx.toks[from].start,
        end: ctx.toks[to].end,
        kind,
        confidence: conf,
    });
}

/// Name rules: titles, relations, credentials, first + last, initials, and census names
/// that are no English word; then every other occurrence of a found name.
fn names(ctx: &Ctx<'_>, spans: &mut Vec<Span>) {
    let toks = ctx.toks;
    let n = toks.len();
    let mut is_name = vec![false; n];
    let mut i = 0;
    while i < n {
        let w = ctx.word(i);
        // "Dr. Smith", "MRS. JONES", "dr healey", "Dr. John A. Smith"
        if in_list(TITLES, w) && ctx.joined(i) {
            let j = i + 1;
            let mut end = None;
            if ctx.namey(j) || ctx.is_initial(j) {
                end = Some(j);
                let mut k = j;
                while k + 1 < n && k < j + 3 && ctx.joined(k) {
                    let next = k + 1;
                    let good = ctx.is_initial(k)
                        || (ctx.namey(next)
                            && (toks[next].entry.last > 0
                                || !toks[next].entry.word
                                || ctx.style == CaseStyle::Mixed && ctx.capitalized(next)));
                    if good && (ctx.namey(next) || ctx.is_initial(next)) {
                        k = next;
                        end = Some(k);
                    } else {
                        break;
                    }
                }
            }
            if let Some(end) = end {
                if !(in_list(&["sister", "father", "sr", "fr"], w) && !strong_or_caps(ctx, j)) {
                    mark(&mut is_name, j, end);
                    push(spans, ctx, j, end, Kind::Name, 0.95);
                    i = end + 1;
                    continue;
                }
            }
        }
        // "daughter Veronica", "wife, Carol Buckley", "sons Smokey, Morris and Roger"
        if in_list(RELATIONS, w) && i + 1 < n {
            let strong = in_list(STRONG_RELATIONS, w);
            let mut j = i + 1;
            let gap = ctx.gap_before(j);
            if gap.len() <= 3 && !gap.contains('\n') {
                let mut found = false;
                loop {
                    let first_name = toks[j].alpha()
                        && toks[j].entry.first > 0
                        && !toks[j].entry.clinical
                        && !in_list(NOT_SURNAMES, ctx.word(j))
                        && (!toks[j].entry.word
                            || ctx.style == CaseStyle::Mixed && ctx.capitalized(j));
                    let ok = first_name
                        || strong && (ctx.unknown(j) || ctx.strong_name(j))
                        || ctx.strong_name(j) && toks[j].entry.first > 0;
                    if !ok {
                        break;
                    }
                    let mut end = j;
                    // a surname after it
                    if ctx.joined(end) && end + 1 < n {
                        if ctx.is_initial(end + 1) && end + 2 < n && ctx.joined(end + 1) {
                            end += 1;
                        }
                        let s = end + 1;
                        if s < n
                            && ctx.namey(s)
                            && (toks[s].entry.last > 0 || ctx.unknown(s))
                            && (!toks[s].entry.word || ctx.style == CaseStyle::Mixed && ctx.capitalized(s))
                        {
                            end = s;
                        }
                    }
                    mark(&mut is_name, j, end);
                    push(spans, ctx, j, end, Kind::Name, 0.85);
                    found = true;
                    // a list: ", Morris and Roger"
                    let next = end + 1;
                    if next + 1 < n {
                        let g = ctx.gap_before(next);
                        let connector = ctx.word(next).eq_ignore_ascii_case("and")
                            && g.trim().is_empty()
                            && next + 1 < n;
                        if connector {
                            j = next + 1;
                            continue;
                        }
                        if g.trim() == "," || g.trim() == "&" {
                            j = next;
                            continue;
                        }
                    }
                    break;
                }
                if found {
                    i = j + 1;
                    continue;
                }
            }
        }
        i += 1;
    }

    for i in 0..n {
        if is_name[i] {
            continue;
        }
        let w = ctx.word(i);
        // "Jean Hudson, RN", "lander rrt", "Bernard Foley CRT"
        if in_list(CREDENTIALS, w) && i > 0 {
            let gap = ctx.gap_before(i);
            let g = gap.trim_matches([' ', '\t']);
            if (g.is_empty() || g == "," || g == "-") && !gap.contains('\n') {
                let mut start = None;
                let mut k = i - 1;
                while (ctx.namey(k) || ctx.is_initial(k))
                    && !ctx.word(k).eq_ignore_ascii_case("pt")
                    && (ctx.strong_name(k)
                        || ctx.unknown(k)
                        || toks[k].entry.is_name()
                        || ctx.is_initial(k))
                {
                    start = Some(k);
                    if k == 0 || i - k >= 3 {
                        break;
                    }
                    let g = ctx.gap_before(k);
                    if !(g == " " || g == ". " || g == "-" || g == "  ") {
                        break;
                    }
                    k -= 1;
                }
                if let Some(s) = start {
                    mark(&mut is_name, s, i - 1);
                    push(spans, ctx, s, i - 1, Kind::Name, 0.85);
                }
            }
        }
        // "B. KARGAS", "q. lander"
        if ctx.is_initial(i) && i + 1 < n && ctx.joined(i) {
            let s = i + 1;
            if ctx.namey(s) && (ctx.strong_name(s) || toks[s].entry.last > 0 && !toks[s].entry.word)
            {
                mark(&mut is_name, i, s);
                push(spans, ctx, i, s, Kind::Name, 0.8);
            }
        }
        // first + last: "Carol Buckley", "ROBERT V. DEGIORGIO"
        if toks[i].alpha() && toks[i].entry.first > 0 && !toks[i].entry.clinical && ctx.joined(i) {
            let mut s = i + 1;
            if ctx.is_initial(s) && s + 1 < n && ctx.joined(s) {
                s += 1;
            }
            if s < n && ctx.namey(s) {
                let first_ok = !toks[i].entry.word || ctx.capitalized(i) && ctx.style == CaseStyle::Mixed;
                let last_known = toks[s].entry.last > 0;
                let last_ok = (last_known || ctx.unknown(s))
                    && (!toks[s].entry.word || ctx.capitalized(s) && ctx.style == CaseStyle::Mixed);
                let one_strong = !toks[i].entry.word || !toks[s].entry.word;
                if first_ok && last_ok && one_strong && ctx.case_allows(i) && ctx.case_allows(s) {
                    mark(&mut is_name, i, s);
                    push(spans, ctx, i, s, Kind::Name, 0.8);
                }
            }
        }
        // a census name that is no English word, capitalized where that tells
        if !is_name[i] && ctx.strong_name(i) && !toks[i].entry.place {
            is_name[i] = true;
            push(spans, ctx, i, i, Kind::Name, 0.6);
        }
    }

    // a name found once is a name everywhere in the text
    let mut known: Vec<String> = Vec::new();
    for i in 0..n {
        if is_name[i] && toks[i].len() >= 3 && !toks[i].entry.word {
            let w = ctx.word(i).to_ascii_lowercase();
            if !known.contains(&w) {
                known.push(w);
            }
        }
    }
    if !known.is_empty() {
        for i in 0..n {
            if !is_name[i] && toks[i].alpha() && known.iter().any(|k| k.eq_ignore_ascii_case(ctx.word(i))) {
                push(spans, ctx, i, i, Kind::Name, 0.7);
            }
        }
    }
}

fn strong_or_caps(ctx: &Ctx<'_>, i: usize) -> bool {
    ctx.strong_name(i) || ctx.style == CaseStyle::Mixed && ctx.capitalized(i)
}

fn mark(flags: &mut [bool], from: usize, to: usize) {
    for f in &mut flags[from..=to] {
        *f = true;
    }
}

/// Place rules: facility names before "Hospital" etc., "St. Agnes", hospital abbreviations
/// after a transfer, and dictionary places (with a cue where the place is also a word).
fn places(ctx: &Ctx<'_>, lexicon: &Lexicon, spans: &mut Vec<Span>) {
    let toks = ctx.toks;
    let n = toks.len();
    for i in 0..n {
        let w = ctx.word(i);
        // "CALVERT HOSPITAL", "Sacred Heart Memorial", "holy cross hospital"
        if in_list(FACILITY_WORDS, w) && i > 0 && !ctx.gap_before(i).contains('\n') {
            let mut start = None;
            let mut k = i - 1;
            loop {
                let t = &toks[k];
                let wk = ctx.word(k);
                let ok = t.alpha()
                    && !in_list(PLACE_CUES, wk)
                    && !in_list(NOT_SURNAMES, wk)
                    && !in_list(NOT_PLACE_WORDS, wk)
                    && !t.entry.clinical
                    && (ctx.style != CaseStyle::Mixed || ctx.capitalized(k) || !t.entry.word);
                if !ok {
                    break;
                }
                start = Some(k);
                let g = ctx.gap_before(k);
                if k == 0 || i - k >= 3 || !(g == " " || g == "-" || g == ". ") {
                    break;
                }
                k -= 1;
            }
            if let Some(s) = start {
                let all_common = (s..i).all(|k| toks[k].entry.word && !toks[k].entry.is_name() && !toks[k].entry.place);
                let cue = s > 0 && in_list(PLACE_CUES, ctx.word(s - 1));
                if !all_common || cue && (ctx.style != CaseStyle::Mixed || ctx.capitalized(s)) {
                    push(spans, ctx, s, i - 1, Kind::Location, 0.85);
                }
            }
        }
        // "St. Agnes", "Saint Joseph's"
        if (w.eq_ignore_ascii_case("st") || w.eq_ignore_ascii_case("saint"))
            && i + 1 < n
            && ctx.joined(i)
            && toks[i + 1].alpha()
            && (ctx.style != CaseStyle::Mixed || ctx.capitalized(i + 1))
            && !toks[i + 1].entry.clinical
            && (i == 0 || !toks[i - 1].shape.eq(&Shape::Number))
        {
            push(spans, ctx, i, i + 1, Kind::Location, 0.8);
        }
        // "transferred to GH", "from VAMC": a hospital's initials after a place cue
        if i > 0
            && in_list(&["to", "from", "at", "@"], ctx.word(i - 1))
            && is_hospital_initials(ctx, i)
        {
            push(spans, ctx, i, i, Kind::Location, 0.75);
        }
        // a single-word place that is no English word, or one after a cue
        if toks[i].entry.place && toks[i].alpha() && toks[i].len() >= 4 && !toks[i].entry.clinical {
            let cue = i > 0 && in_list(PLACE_CUES, ctx.word(i - 1)) && !ctx.gap_before(i).contains('\n');
            let plain = !toks[i].entry.word && !toks[i].entry.is_name();
            let capital_ok = ctx.style != CaseStyle::Mixed || ctx.capitalized(i);
            if capital_ok && (plain || cue && !toks[i].entry.word) {
                push(spans, ctx, i, i, Kind::Location, if plain { 0.7 } else { 0.6 });
            }
        }
    }
    // multi-word places: "San Diego", "Ellicott City"
    for r in lexicon.multi_word_places(ctx.text) {
        let b = ctx.text.as_bytes();
        let bounded = (r.start == 0 || !b[r.start - 1].is_ascii_alphanumeric())
            && (r.end == b.len() || !b[r.end].is_ascii_alphanumeric());
        if !bounded {
            continue;
        }
        let phrase = &ctx.text[r.clone()];
        let capital_ok = ctx.style != CaseStyle::Mixed
            || phrase.split(' ').all(|w| w.starts_with(|c: char| c.is_ascii_uppercase()));
        if capital_ok {
            spans.push(Span {
                start: r.start,
                end: r.end,
                kind: Kind::Location,
                confidence: 0.7,
            });
        }
    }
}

/// Words that never start a facility's name ("the hospital", "outside hospital").
const NOT_PLACE_WORDS: &[&str] = &[
    "the", "a", "an", "outside", "other", "another", "this", "that", "same", "local", "home",
    "osh", "prior", "previous", "referring", "rehab", "new", "old", "his", "her", "their", "our",
    "your", "my", "community", "state", "mental", "behavioral", "primary", "urgent", "medical",
    "health", "nursing", "cardiac", "pulmonary", "dialysis", "hd", "day", "care", "skilled",
    "acute", "chronic", "long", "term", "general", "ny", "us",
];

fn is_hospital_initials(ctx: &Ctx<'_>, i: usize) -> bool {
    let t = &ctx.toks[i];
    let w = ctx.word(i).to_ascii_uppercase();
    let caps_ok = t.shape == Shape::Upper || ctx.style != CaseStyle::Mixed;
    caps_ok
        && (2..=5).contains(&w.len())
        && w.bytes().all(|b| b.is_ascii_uppercase())
        && (w.ends_with('H') || w.ends_with("MC") || w.ends_with("HC"))
        && !t.entry.clinical
        && !t.entry.word
}

/// Sorts, drops spans inside others, and joins spans that overlap or touch across a hyphen
/// or a single blank of the same kind.
fn merge(text: &str, mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        if let Some(last) = out.last_mut() {
            let gap = text.get(last.end..s.start).unwrap_or("");
            let touching = s.start <= last.end
                || s.kind == last.kind
                    && (gap == "-" || gap == " " && s.kind == Kind::Location);
            if touching {
                if s.end > last.end {
                    // the more specific kind wins: patterns before dictionary guesses
                    if s.confidence > last.confidence && s.start <= last.start {
                        last.kind = s.kind;
                    }
                    last.end = s.end;
                }
                last.confidence = last.confidence.max(s.confidence);
                continue;
            }
        }
        out.push(s);
    }
    out
}
