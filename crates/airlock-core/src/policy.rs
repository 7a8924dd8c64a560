//! The policy file: what each field is (its class) and what happens to it (its action).
//!
//! Parsing is strict: an unknown key, class, action or rule is an error that names the line and
//! the key. Checks that TOML cannot express (an action's parameters, a rule that only fits some
//! actions) are done once here, so the engine only ever sees a valid [`Policy`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What kind of information a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    /// Names, SSNs, MRNs, phones, e-mails, street addresses: identify a person alone.
    DirectIdentifier,
    /// ZIP, age, sex, race: identify a person in combination.
    QuasiIdentifier,
    /// Dates tied to the person (birth, admission, discharge, death).
    Date,
    /// Notes and other prose that may mention any identifier.
    FreeText,
    /// Clinical measurements and codes.
    Clinical,
    /// Operational fields (facility codes, flags, timestamps of the pipeline).
    Operational,
    /// Sensitive attributes (diagnosis, HIV status): not identifying, but protected in risk work.
    Sensitive,
}

impl FieldClass {
    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DirectIdentifier => "direct_identifier",
            Self::QuasiIdentifier => "quasi_identifier",
            Self::Date => "date",
            Self::FreeText => "free_text",
            Self::Clinical => "clinical",
            Self::Operational => "operational",
            Self::Sensitive => "sensitive",
        }
    }
}

impl fmt::Display for FieldClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of an action, as written in a policy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Keep,
    Drop,
    Redact,
    Mask,
    Tokenize,
    DateShift,
    YearOnly,
    Generalize,
    SuppressRare,
    TextRedact,
    TextSurrogate,
}

impl ActionKind {
    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Drop => "drop",
            Self::Redact => "redact",
            Self::Mask => "mask",
            Self::Tokenize => "tokenize",
            Self::DateShift => "date_shift",
            Self::YearOnly => "year_only",
            Self::Generalize => "generalize",
            Self::SuppressRare => "suppress_rare",
            Self::TextRedact => "text_redact",
            Self::TextSurrogate => "text_surrogate",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A built-in generalization rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    /// Safe Harbor ZIP: the first three digits, or "000" for the sparsely populated prefixes.
    #[serde(rename = "zip3")]
    Zip3,
    /// Safe Harbor age: ages over 89 become "90+".
    #[serde(rename = "age_90_plus")]
    Age90Plus,
}

impl Rule {
    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip3 => "zip3",
            Self::Age90Plus => "age_90_plus",
        }
    }
}

/// A preset maps each class to an action, so that fields need only a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// HIPAA Safe Harbor (45 CFR 164.514(b)(2)).
    #[serde(rename = "safe-harbor")]
    SafeHarbor,
}

impl Preset {
    /// The action this preset gives a field of `class`. `is_patient_id` marks the dataset's
    /// patient column, which is tokenized rather than dropped so that rows stay linkable.
    pub fn action_for(self, class: FieldClass, rule: Option<Rule>, is_patient_id: bool) -> Action {
        match self {
            Self::SafeHarbor => match class {
                FieldClass::DirectIdentifier if is_patient_id => {
                    Action::Tokenize(Tokenize::default())
                }
                FieldClass::DirectIdentifier => Action::Drop,
                FieldClass::QuasiIdentifier => match rule {
                    Some(rule) => Action::Generalize(rule),
                    None => Action::Keep,
                },
                FieldClass::Date => Action::YearOnly,
                FieldClass::FreeText => Action::TextRedact,
                FieldClass::Clinical | FieldClass::Operational | FieldClass::Sensitive => {
                    Action::Keep
                }
            },
        }
    }
}

/// Parameters of `tokenize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenize {
    /// Keys are separate per namespace: the same value in two namespaces gives unrelated
    /// tokens. `None` means the field's own name.
    pub namespace: Option<String>,
    /// Written before the token, e.g. `"P-"`.
    pub prefix: String,
    /// Number of base32 characters (5 bits each).
    pub length: usize,
}

impl Default for Tokenize {
    fn default() -> Self {
        Self {
            namespace: None,
            prefix: String::new(),
            length: Tokenize::DEFAULT_LENGTH,
        }
    }
}

impl Tokenize {
    /// 24 base32 characters: 120 bits, so a billion distinct values collide with a
    /// probability below 1e-18.
    pub const DEFAULT_LENGTH: usize = 24;
    /// The shortest token allowed (80 bits).
    pub const MIN_LENGTH: usize = 16;
    /// The longest token: all 256 bits of HMAC-SHA-256.
    pub const MAX_LENGTH: usize = 51;
}

/// What happens to a field, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Keep,
    Drop,
    Redact { replacement: String },
    Mask { keep_last: usize, mask_char: char },
    Tokenize(Tokenize),
    DateShift,
    YearOnly,
    Generalize(Rule),
    SuppressRare { k: u32 },
    TextRedact,
    TextSurrogate,
}

impl Action {
    /// The action's name, as in policy files.
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Keep => ActionKind::Keep,
            Self::Drop => ActionKind::Drop,
            Self::Redact { .. } => ActionKind::Redact,
            Self::Mask { .. } => ActionKind::Mask,
            Self::Tokenize(_) => ActionKind::Tokenize,
            Self::DateShift => ActionKind::DateShift,
            Self::YearOnly => ActionKind::YearOnly,
            Self::Generalize(_) => ActionKind::Generalize,
            Self::SuppressRare { .. } => ActionKind::SuppressRare,
            Self::TextRedact => ActionKind::TextRedact,
            Self::TextSurrogate => ActionKind::TextSurrogate,
        }
    }

    /// The rule of a `generalize` action.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            Self::Generalize(rule) => Some(*rule),
            _ => None,
        }
    }
}

/// A classified field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub class: FieldClass,
    pub action: Action,
    /// For a quasi-identifier under a `[risk]` block: its generalization hierarchy (an ARX
    /// hierarchy file, relative to the policy, or `intervals:5,10,20`, `dates`, `zip`).
    pub hierarchy: Option<String>,
    /// Values the policy's author vouches are no identifiers (a categorical column's labels:
    /// "England", "Some-college"): the residual scan skips exactly these, sorted; every
    /// other value of the column is scanned as before. Kept and `suppress_rare` columns only.
    pub safe_values: Vec<String>,
}

/// At most this many vouched values a field, each at most [`SAFE_VALUE_MAX`] characters.
pub const SAFE_VALUES_MAX: usize = 10_000;
/// The longest vouched value.
pub const SAFE_VALUE_MAX: usize = 200;

/// The SHA-256 (hex) a manifest records of a vouched value, so that `airlock scan` and the
/// vault's gates skip the same cells without the manifest spelling them out.
pub fn safe_value_digest(value: &str) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(value.as_bytes()))
}

/// The `[risk]` block: after the field actions, generalize the quasi-identifiers to the least
/// lossy level that meets these criteria, suppressing at most `max_suppression` of the records.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskSpec {
    /// The quasi-identifier columns (by default every kept `quasi_identifier` field).
    pub quasi_identifiers: Vec<String>,
    pub sensitive: Option<String>,
    pub k: Option<u32>,
    pub l: Option<u32>,
    pub t: Option<f64>,
    pub max_average_risk: Option<f64>,
    pub max_suppression: f64,
    /// The prosecutor-risk threshold of the figures ("records above threshold"), 0.2 unless
    /// the block says `risk_threshold`.
    pub risk_threshold: f64,
}

/// What happens to input columns the policy does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unclassified {
    /// Stop the run (fail closed). The default.
    #[default]
    Fail,
    /// Leave the column out of the output.
    Drop,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, recorded in every manifest.
    pub sha256: String,
    pub dataset_name: String,
    /// The column that identifies the patient (date shift, per-patient surrogates).
    pub patient_id: Option<String>,
    pub unclassified: Unclassified,
    /// Per-patient shifts are drawn from ±this many days, never 0.
    pub date_shift_days: u32,
    pub preset: Option<Preset>,
    /// The year ages are reckoned at (`defaults.reference_year`; default: the year of the
    /// run). Years of birth that may belong to someone over 89 then are aggregated.
    pub reference_year: Option<i32>,
    pub fields: BTreeMap<String, Field>,
    /// The `[risk]` block, if any.
    pub risk: Option<RiskSpec>,
    /// `[text] mode`: how far the free-text detector goes (strict by default).
    pub text_mode: crate::text::DetectionMode,
    /// `[synthetic]`: the release gate of synthetic tables made from this data.
    pub synthetic: Option<SyntheticGate>,
}

/// The release gate of `airlock synth report` (`[synthetic]`): a synthetic table fails it, and
/// the report exits with 1, when more than `max_rare_copies` of its rows repeat the
/// quasi-identifiers of a training record that is unique on them, or when a combination of its
/// quasi-identifiers is shared by fewer than `min_k` of its rows. Absent limits are not checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticGate {
    pub max_rare_copies: Option<f64>,
    pub min_k: Option<u32>,
}

impl Policy {
    /// The largest allowed `date_shift_days` (ten years; the patient clock's bound).
    pub const MAX_DATE_SHIFT_DAYS: u32 = crate::clock::MAX_SHIFT_DAYS;

    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses and validates policy text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawPolicy = toml::from_str(text).map_err(|source| Error::PolicySyntax {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let sha256 = hex(&Sha256::digest(text.as_bytes()));
        let invalid = |line: Option<usize>, message: String| Error::PolicyInvalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let reference_year = raw.defaults.reference_year;
        if let Some(y) = reference_year
            && !(1900..=2200).contains(&y)
        {
            return Err(invalid(
                None,
                format!("defaults.reference_year must be between 1900 and 2200 (got {y})"),
            ));
        }
        let date_shift_days = raw
            .defaults
            .date_shift_days
            .unwrap_or(crate::clock::DEFAULT_SHIFT_DAYS);
        if let Err(e) = crate::clock::ShiftRange::new(date_shift_days, "defaults.date_shift_days") {
            return Err(invalid(None, e.to_string()));
        }
        let patient_id = raw.dataset.patient_id.filter(|p| !p.is_empty());
        let mut fields = BTreeMap::new();
        for (name, spec) in raw.fields {
            let line = Some(line_of(text, spec.span().start));
            let spec = spec.into_inner();
            let is_patient_id = patient_id.as_deref() == Some(name.as_str());
            let field = spec
                .validate(raw.defaults.preset, is_patient_id)
                .map_err(|m| invalid(line, format!("fields.{name}: {m}")))?;
            fields.insert(name, field);
        }
        let policy = Self {
            path: path.to_path_buf(),
            sha256,
            dataset_name: raw.dataset.name,
            patient_id,
            unclassified: raw.defaults.unclassified,
            date_shift_days,
            preset: raw.defaults.preset,
            reference_year,
            fields,
            risk: None,
            text_mode: raw.text.map(|t| t.mode).unwrap_or_default(),
            synthetic: raw.synthetic,
        };
        let risk = match raw.risk {
            Some(r) => Some(
                r.validate(&policy)
                    .map_err(|m| invalid(None, format!("[risk]: {m}")))?,
            ),
            None => None,
        };
        let policy = Policy { risk, ..policy };
        if let Some(pid) = &policy.patient_id
            && policy
                .fields
                .get(pid)
                .is_some_and(|f| f.action.kind() == ActionKind::Keep)
        {
            return Err(invalid(
                None,
                format!("dataset.patient_id \"{pid}\" is kept as is; tokenize or drop it"),
            ));
        }
        Ok(policy)
    }

    /// True when some action is keyed by the workspace secret (tokens, date shifts,
    /// surrogates); other policies run without one.
    pub fn needs_key(&self) -> bool {
        self.fields.values().any(|f| {
            matches!(
                f.action,
                Action::Tokenize(_) | Action::DateShift | Action::TextSurrogate
            )
        })
    }

    /// True when some field needs the patient column (date shift, text surrogates).
    pub fn needs_patient_id(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, f)| matches!(f.action, Action::DateShift | Action::TextSurrogate))
            .map(|(name, _)| name.as_str())
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Lowercase hex of bytes (digests in manifests and policies).
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    dataset: RawDataset,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    fields: BTreeMap<String, toml::Spanned<RawField>>,
    risk: Option<RawRisk>,
    text: Option<RawText>,
    synthetic: Option<SyntheticGate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    #[serde(default)]
    mode: crate::text::DetectionMode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRisk {
    quasi_identifiers: Option<Vec<String>>,
    sensitive: Option<String>,
    k: Option<u32>,
    l: Option<u32>,
    t: Option<f64>,
    max_average_risk: Option<f64>,
    #[serde(default)]
    max_suppression: f64,
    risk_threshold: Option<f64>,
}

impl RawRisk {
    fn validate(self, policy: &Policy) -> std::result::Result<RiskSpec, String> {
        if self.k.is_none()
            && self.l.is_none()
            && self.t.is_none()
            && self.max_average_risk.is_none()
        {
            return Err("name at least one criterion: k, l, t or max_average_risk".into());
        }
        if !(0.0..=1.0).contains(&self.max_suppression) {
            return Err("max_suppression is a fraction between 0 and 1".into());
        }
        if self.k == Some(0) || self.l == Some(0) {
            return Err("k and l must be at least 1".into());
        }
        let risk_threshold = self.risk_threshold.unwrap_or(0.2);
        if !(risk_threshold > 0.0 && risk_threshold <= 1.0) {
            return Err("risk_threshold is a probability in (0, 1]".into());
        }
        if (self.l.is_some() || self.t.is_some()) && self.sensitive.is_none() {
            return Err("l and t need `sensitive` (the sensitive column)".into());
        }
        let kept = |name: &str| {
            policy
                .fields
                .get(name)
                .is_some_and(|f| f.action.kind() != ActionKind::Drop)
        };
        let qis = match self.quasi_identifiers {
            Some(q) => q,
            None => policy
                .fields
                .iter()
                .filter(|(n, f)| f.class == FieldClass::QuasiIdentifier && kept(n))
                .map(|(n, _)| n.clone())
                .collect(),
        };
        if qis.is_empty() {
            return Err("no quasi-identifiers: classify fields as quasi_identifier, or list quasi_identifiers".into());
        }
        for q in &qis {
            if !kept(q) {
                return Err(format!(
                    "quasi-identifier \"{q}\" is not a kept field of this policy"
                ));
            }
        }
        if let Some(s) = &self.sensitive
            && !kept(s)
        {
            return Err(format!(
                "sensitive column \"{s}\" is not a kept field of this policy"
            ));
        }
        Ok(RiskSpec {
            quasi_identifiers: qis,
            sensitive: self.sensitive,
            k: self.k,
            l: self.l,
            t: self.t,
            max_average_risk: self.max_average_risk,
            max_suppression: self.max_suppression,
            risk_threshold,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    name: String,
    patient_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default)]
    unclassified: Unclassified,
    date_shift_days: Option<u32>,
    preset: Option<Preset>,
    reference_year: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    class: FieldClass,
    action: Option<ActionKind>,
    rule: Option<Rule>,
    keep_last: Option<usize>,
    mask_char: Option<char>,
    k: Option<u32>,
    namespace: Option<String>,
    prefix: Option<String>,
    length: Option<usize>,
    replacement: Option<String>,
    hierarchy: Option<String>,
    safe_values: Option<Vec<String>>,
}

impl RawField {
    fn validate(
        self,
        preset: Option<Preset>,
        is_patient_id: bool,
    ) -> std::result::Result<Field, String> {
        let kind = match (self.action, preset) {
            (Some(kind), _) => kind,
            (None, Some(preset)) => preset
                .action_for(self.class, self.rule, is_patient_id)
                .kind(),
            (None, None) => {
                return Err(
                    "no action (set `action`, or defaults.preset = \"safe-harbor\")".into(),
                );
            }
        };
        // Each parameter belongs to one action; a stray one is a typo or a misunderstanding.
        let params: [(&str, bool, &[ActionKind]); 7] = [
            ("rule", self.rule.is_some(), &[ActionKind::Generalize]),
            ("keep_last", self.keep_last.is_some(), &[ActionKind::Mask]),
            ("mask_char", self.mask_char.is_some(), &[ActionKind::Mask]),
            ("k", self.k.is_some(), &[ActionKind::SuppressRare]),
            (
                "namespace",
                self.namespace.is_some(),
                &[ActionKind::Tokenize],
            ),
            ("prefix", self.prefix.is_some(), &[ActionKind::Tokenize]),
            ("length", self.length.is_some(), &[ActionKind::Tokenize]),
        ];
        for (param, given, allowed) in params {
            // A preset may give `generalize` for a QI with a rule, or `keep` without one.
            let rule_for_preset = param == "rule" && self.action.is_none();
            if given && !allowed.contains(&kind) && !rule_for_preset {
                return Err(format!("`{param}` does not apply to action {kind}"));
            }
        }
        if self.replacement.is_some() && kind != ActionKind::Redact {
            return Err(format!("`replacement` does not apply to action {kind}"));
        }
        if self.hierarchy.is_some() && self.class != FieldClass::QuasiIdentifier {
            return Err("`hierarchy` applies to quasi_identifier fields only".into());
        }
        let mut safe_values = self.safe_values.unwrap_or_default();
        if !safe_values.is_empty() {
            if !matches!(kind, ActionKind::Keep | ActionKind::SuppressRare) {
                return Err(format!(
                    "`safe_values` applies to keep and suppress_rare fields only (not {kind})"
                ));
            }
            if safe_values.len() > SAFE_VALUES_MAX
                || safe_values
                    .iter()
                    .any(|v| v.is_empty() || v.chars().count() > SAFE_VALUE_MAX)
            {
                return Err(format!(
                    "`safe_values` holds at most {SAFE_VALUES_MAX} values of 1 to {SAFE_VALUE_MAX} characters"
                ));
            }
            safe_values.sort();
            safe_values.dedup();
        }
        let action = match kind {
            ActionKind::Keep => Action::Keep,
            ActionKind::Drop => Action::Drop,
            ActionKind::Redact => Action::Redact {
                replacement: self.replacement.unwrap_or_else(|| "[REDACTED]".into()),
            },
            ActionKind::Mask => Action::Mask {
                keep_last: self.keep_last.unwrap_or(4),
                mask_char: self.mask_char.unwrap_or('*'),
            },
            ActionKind::Tokenize => {
                let length = self.length.unwrap_or(Tokenize::DEFAULT_LENGTH);
                if !(Tokenize::MIN_LENGTH..=Tokenize::MAX_LENGTH).contains(&length) {
                    return Err(format!(
                        "token length must be between {} and {} (got {length})",
                        Tokenize::MIN_LENGTH,
                        Tokenize::MAX_LENGTH
                    ));
                }
                Action::Tokenize(Tokenize {
                    namespace: self.namespace,
                    prefix: self.prefix.unwrap_or_default(),
                    length,
                })
            }
            ActionKind::DateShift => Action::DateShift,
            ActionKind::YearOnly => Action::YearOnly,
            ActionKind::Generalize => match self.rule {
                Some(rule) => Action::Generalize(rule),
                None => return Err("action generalize needs a rule (zip3 or age_90_plus)".into()),
            },
            ActionKind::SuppressRare => match self.k {
                Some(k) if k >= 2 => Action::SuppressRare { k },
                Some(k) => return Err(format!("suppress_rare needs k >= 2 (got {k})")),
                None => return Err("action suppress_rare needs k (e.g. k = 5)".into()),
            },
            ActionKind::TextRedact => Action::TextRedact,
            ActionKind::TextSurrogate => Action::TextSurrogate,
        };
        if action == Action::Keep
            && matches!(
                self.class,
                FieldClass::DirectIdentifier | FieldClass::FreeText
            )
        {
            return Err(format!(
                "a {} field cannot be kept as is; choose drop, redact, mask, tokenize{}",
                self.class,
                if self.class == FieldClass::FreeText {
                    ", text_redact or text_surrogate"
                } else {
                    ""
                }
            ));
        }
        Ok(Field {
            class: self.class,
            action,
            hierarchy: self.hierarchy,
            safe_values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy> {
        Policy::parse(text, Path::new("p.toml"))
    }

    const DESIGN_EXAMPLE: &str = r#"
[dataset]
name = "encounters"
patient_id = "mrn"

[defaults]
unclassified = "fail"
date_shift_days = 365

[fields.mrn]
class = "direct_identifier"
action = "tokenize"

[fields.name]
class = "direct_identifier"
action = "drop"

[fields.admit_date]
class = "date"
action = "date_shift"

[fields.zip]
class = "quasi_identifier"
action = "generalize"
rule = "zip3"

[fields.age]
class = "quasi_identifier"
action = "generalize"
rule = "age_90_plus"

[fields.note]
class = "free_text"
action = "text_surrogate"

[fields.hba1c]
class = "clinical"
action = "keep"
"#;

    #[test]
    fn safe_values_are_sorted_limited_and_only_for_scanned_kept_columns() {
        let field = |spec: &str| {
            parse(&format!("[dataset]\nname = \"t\"\n[fields.c]\n{spec}\n"))
                .map(|p| p.fields["c"].clone())
        };
        let f = field(
            "class = \"quasi_identifier\"\naction = \"keep\"\nsafe_values = [\"b\", \"a\", \"b\"]",
        )
        .unwrap();
        assert_eq!(f.safe_values, ["a", "b"]);
        assert!(
            field("class = \"clinical\"\naction = \"suppress_rare\"\nk = 5\nsafe_values = [\"a\"]")
                .is_ok()
        );
        for bad in [
            "class = \"quasi_identifier\"\naction = \"drop\"\nsafe_values = [\"a\"]",
            "class = \"quasi_identifier\"\naction = \"keep\"\nsafe_values = [\"\"]",
            &format!(
                "class = \"quasi_identifier\"\naction = \"keep\"\nsafe_values = [\"{}\"]",
                "x".repeat(201)
            ),
        ] {
            let e = field(bad).unwrap_err().to_string();
            assert!(e.contains("safe_values"), "{e}");
        }
        assert_eq!(safe_value_digest("England").len(), 64);
    }

    #[test]
    fn design_example_parses() {
        let p = parse(DESIGN_EXAMPLE).unwrap();
        assert_eq!(p.patient_id.as_deref(), Some("mrn"));
        assert_eq!(p.fields.len(), 7);
        assert_eq!(p.fields["zip"].action, Action::Generalize(Rule::Zip3));
        assert_eq!(
            p.fields["mrn"].action,
            Action::Tokenize(Tokenize::default())
        );
        assert_eq!(p.sha256.len(), 64);
        assert_eq!(p.needs_patient_id(), Some("admit_date"));
        assert!(p.needs_key());
    }

    #[test]
    fn unknown_key_is_rejected_with_line_and_key() {
        let text = "[dataset]\nname = \"x\"\n\n[fields.a]\nclass = \"clinical\"\naction = \"keep\"\nrul = \"zip3\"\n";
        let e = parse(text).unwrap_err();
        let msg = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(msg.contains("line 7"), "{msg}");
        assert!(msg.contains("rul"), "{msg}");
    }

    #[test]
    fn unknown_action_is_rejected_with_line() {
        let text =
            "[dataset]\nname = \"x\"\n[fields.a]\nclass = \"clinical\"\naction = \"shred\"\n";
        let e = parse(text).unwrap_err();
        let msg = std::error::Error::source(&e).unwrap().to_string();
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("shred") && msg.contains("tokenize"), "{msg}");
    }

    #[test]
    fn parameters_must_fit_the_action() {
        let text =
            "[dataset]\nname = \"x\"\n[fields.a]\nclass = \"clinical\"\naction = \"keep\"\nk = 5\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("fields.a") && e.contains("`k`"),
            "{e}"
        );
        let text = "[dataset]\nname = \"x\"\n[fields.zip]\nclass = \"quasi_identifier\"\naction = \"generalize\"\n";
        assert!(
            parse(text)
                .unwrap_err()
                .to_string()
                .contains("needs a rule")
        );
        let text = "[dataset]\nname = \"x\"\n[fields.a]\nclass = \"quasi_identifier\"\naction = \"suppress_rare\"\nk = 1\n";
        assert!(parse(text).unwrap_err().to_string().contains("k >= 2"));
    }

    #[test]
    fn direct_identifiers_and_free_text_cannot_be_kept() {
        for class in ["direct_identifier", "free_text"] {
            let text = format!(
                "[dataset]\nname = \"x\"\n[fields.a]\nclass = \"{class}\"\naction = \"keep\"\n"
            );
            assert!(
                parse(&text)
                    .unwrap_err()
                    .to_string()
                    .contains("cannot be kept")
            );
        }
    }

    #[test]
    fn safe_harbor_preset_fills_actions_from_classes() {
        let text = r#"
[dataset]
name = "x"
patient_id = "mrn"
[defaults]
preset = "safe-harbor"
[fields]
mrn = { class = "direct_identifier" }
ssn = { class = "direct_identifier" }
zip = { class = "quasi_identifier", rule = "zip3" }
sex = { class = "quasi_identifier" }
dob = { class = "date" }
note = { class = "free_text" }
hba1c = { class = "clinical" }
phone = { class = "direct_identifier", action = "mask", keep_last = 2 }
"#;
        let p = parse(text).unwrap();
        assert!(matches!(p.fields["mrn"].action, Action::Tokenize(_)));
        assert_eq!(p.fields["ssn"].action, Action::Drop);
        assert_eq!(p.fields["zip"].action, Action::Generalize(Rule::Zip3));
        assert_eq!(p.fields["sex"].action, Action::Keep);
        assert_eq!(p.fields["dob"].action, Action::YearOnly);
        assert_eq!(p.fields["note"].action, Action::TextRedact);
        assert_eq!(p.fields["hba1c"].action, Action::Keep);
        assert_eq!(
            p.fields["phone"].action,
            Action::Mask {
                keep_last: 2,
                mask_char: '*'
            }
        );
    }

    proptest::proptest! {
        /// Any text is either a policy or an error: never a panic.
        #[test]
        fn parser_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        /// Every class/action/parameter combination either validates or names the field.
        #[test]
        fn every_combination_validates_or_names_the_field(
            class in proptest::sample::select(vec!["direct_identifier", "quasi_identifier", "date", "free_text", "clinical", "operational", "sensitive"]),
            action in proptest::sample::select(vec!["keep", "drop", "redact", "mask", "tokenize", "date_shift", "year_only", "generalize", "suppress_rare", "text_redact", "text_surrogate"]),
            param in proptest::sample::select(vec!["", "rule = \"zip3\"\n", "k = 5\n", "keep_last = 2\n", "prefix = \"T\"\n", "length = 20\n"]),
        ) {
            let text = format!("[dataset]\nname = \"x\"\n[fields.col]\nclass = \"{class}\"\naction = \"{action}\"\n{param}");
            match parse(&text) {
                Ok(p) => proptest::prop_assert_eq!(p.fields["col"].action.kind().as_str(), action),
                Err(e) => proptest::prop_assert!(e.to_string().contains("fields.col"), "{}", e),
            }
        }
    }

    #[test]
    fn risk_block_defaults_to_the_kept_quasi_identifiers() {
        let text = r#"
[dataset]
name = "x"
[fields]
zip = { class = "quasi_identifier", action = "generalize", rule = "zip3", hierarchy = "zip" }
age = { class = "quasi_identifier", action = "keep", hierarchy = "intervals:5,10" }
sex = { class = "quasi_identifier", action = "drop" }
dx = { class = "sensitive", action = "keep" }
[risk]
k = 5
l = 2
sensitive = "dx"
max_suppression = 0.05
"#;
        let p = parse(text).unwrap();
        let r = p.risk.unwrap();
        assert_eq!(
            r.quasi_identifiers,
            vec!["age".to_owned(), "zip".to_owned()]
        );
        assert_eq!((r.k, r.l, r.max_suppression), (Some(5), Some(2), 0.05));
        assert_eq!(p.fields["age"].hierarchy.as_deref(), Some("intervals:5,10"));
        let bad = text.replace("sensitive = \"dx\"\n", "");
        assert!(
            parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("need `sensitive`")
        );
        let bad = text.replace("k = 5\nl = 2\n", "");
        assert!(
            parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("at least one criterion")
        );
        let bad = text.replace("max_suppression = 0.05", "quasi_identifiers = [\"sex\"]");
        assert!(
            parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("\"sex\" is not a kept field")
        );
    }

    #[test]
    fn missing_action_without_preset_is_an_error() {
        let text = "[dataset]\nname = \"x\"\n[fields.a]\nclass = \"clinical\"\n";
        assert!(parse(text).unwrap_err().to_string().contains("no action"));
    }

    #[test]
    fn date_shift_range_is_checked() {
        let text = "[dataset]\nname = \"x\"\n[defaults]\ndate_shift_days = 0\n";
        assert!(
            parse(text)
                .unwrap_err()
                .to_string()
                .contains("date_shift_days")
        );
    }

    #[test]
    fn token_length_is_bounded() {
        let text = "[dataset]\nname = \"x\"\n[fields.a]\nclass = \"direct_identifier\"\naction = \"tokenize\"\nlength = 8\n";
        assert!(
            parse(text)
                .unwrap_err()
                .to_string()
                .contains("token length")
        );
    }
}
