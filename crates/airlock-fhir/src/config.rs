//! Anonymization configurations in the format of Microsoft's Tools for Health Data
//! Anonymization (FHIR): `fhirPathRules` tried in order (the first rule that reaches a node
//! wins) and `parameters`. airlock's own Safe Harbor configuration uses the same format.

use std::path::Path;

use crate::strict::UnknownResources;
use serde::Deserialize;
use serde_json::Value;

use airlock_core::error::{Error, InputProblem, Result};

use crate::expr::Expr;
use crate::path::Path as FhirPath;

/// What a rule does to the nodes it selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Keep,
    Redact,
    DateShift,
    CryptoHash,
    Encrypt,
    Substitute(Value),
    Perturb {
        span: f64,
        proportional: bool,
        round_to: Option<u32>,
    },
    /// The first case whose condition holds gives the new value; others are kept or redacted.
    Generalize {
        cases: Vec<(Expr, Expr)>,
        keep_others: bool,
    },
    /// airlock: free text (and narrative XHTML) through the text detector, identifiers tagged.
    RedactText,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Redact => "redact",
            Self::DateShift => "dateShift",
            Self::CryptoHash => "cryptoHash",
            Self::Encrypt => "encrypt",
            Self::Substitute(_) => "substitute",
            Self::Perturb { .. } => "perturb",
            Self::Generalize { .. } => "generalize",
            Self::RedactText => "redactText",
        }
    }
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub path: FhirPath,
    pub method: Method,
}

/// `parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Parameters {
    pub date_shift_key: String,
    pub date_shift_scope: Option<String>,
    pub date_shift_fixed_offset_in_days: Option<i64>,
    pub crypto_hash_key: String,
    pub encrypt_key: String,
    pub enable_partial_ages_for_redact: bool,
    pub enable_partial_dates_for_redact: bool,
    pub enable_partial_zip_codes_for_redact: bool,
    pub restricted_zip_code_tabulation_areas: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    fhir_version: Option<String>,
    #[serde(default, alias = "processingError")]
    processing_errors: Option<String>,
    /// airlock's own: `keep` (Microsoft's behaviour, the default for their configurations),
    /// `error` or `remove`; `error` and `remove` also remove unknown elements and values of
    /// the wrong type.
    #[serde(default)]
    unknown_resources: Option<String>,
    fhir_path_rules: Vec<serde_json::Map<String, Value>>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub rules: Vec<Rule>,
    pub parameters: Parameters,
    /// `processingErrors: skip`: a resource that fails becomes empty with a REDACTED label.
    pub skip_errors: bool,
    /// `unknownResources`: what happens to what the R4 model does not know (see [`crate::strict`]).
    pub unknown_resources: UnknownResources,
    /// Where it came from (for messages).
    pub source: String,
}

fn invalid(source: &str, rule: Option<usize>, message: String) -> Error {
    Error::PolicyInvalid {
        path: source.into(),
        line: None,
        message: match rule {
            Some(i) => format!("fhirPathRules[{i}]: {message}"),
            None => message,
        },
    }
}

impl Config {
    /// Reads a configuration file (a UTF-8 byte-order mark is accepted, as the Microsoft
    /// tool accepts it).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let text = text.trim_start_matches('\u{feff}');
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| Error::Input {
            file: source.into(),
            row: Some(e.line() as u64),
            column: None,
            problem: InputProblem::InvalidJson,
        })?;
        match raw
            .fhir_version
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("r4") => {}
            Some(v) => {
                return Err(invalid(
                    source,
                    None,
                    format!("fhirVersion {v} is not supported (R4 only)"),
                ));
            }
        }
        let skip_errors = match raw
            .processing_errors
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("raise") => false,
            Some("skip") => true,
            Some(other) => {
                return Err(invalid(
                    source,
                    None,
                    format!("processingErrors {other} is not raise or skip"),
                ));
            }
        };
        let unknown_resources = match raw
            .unknown_resources
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("keep") => UnknownResources::Keep,
            Some("error") => UnknownResources::Error,
            Some("remove") => UnknownResources::Remove,
            Some(other) => {
                return Err(invalid(
                    source,
                    None,
                    format!(
                        "unknownResources {} is not keep, error or remove",
                        airlock_core::shown::Shown(other)
                    ),
                ));
            }
        };
        let mut rules = Vec::new();
        for (i, r) in raw.fhir_path_rules.iter().enumerate() {
            let text = r.get("path").and_then(Value::as_str).unwrap_or("");
            let path = FhirPath::parse(text).ok_or_else(|| {
                invalid(
                    source,
                    Some(i),
                    format!("path \"{text}\" is outside the FHIRPath subset airlock evaluates"),
                )
            })?;
            let method_name = r.get("method").and_then(Value::as_str).unwrap_or("");
            let method = match method_name.to_ascii_lowercase().as_str() {
                "keep" => Method::Keep,
                "redact" => Method::Redact,
                "dateshift" => Method::DateShift,
                "cryptohash" => Method::CryptoHash,
                "encrypt" => Method::Encrypt,
                "redacttext" => Method::RedactText,
                "substitute" => {
                    Method::Substitute(r.get("replaceWith").cloned().ok_or_else(|| {
                        invalid(source, Some(i), "substitute needs replaceWith".into())
                    })?)
                }
                "perturb" => {
                    let span = r.get("span").and_then(Value::as_f64).unwrap_or(-1.0);
                    if span < 0.0 {
                        return Err(invalid(source, Some(i), "perturb needs a span >= 0".into()));
                    }
                    let proportional = match r
                        .get("rangeType")
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .as_deref()
                    {
                        None | Some("fixed") => false,
                        Some("proportional") => true,
                        Some(o) => {
                            return Err(invalid(
                                source,
                                Some(i),
                                format!("rangeType {o} is not fixed or proportional"),
                            ));
                        }
                    };
                    let round_to = r
                        .get("roundTo")
                        .and_then(Value::as_u64)
                        .map(|n| n.min(28) as u32);
                    Method::Perturb {
                        span,
                        proportional,
                        round_to,
                    }
                }
                "generalize" => {
                    let Some(cases) = r.get("cases").and_then(Value::as_object) else {
                        return Err(invalid(source, Some(i), "generalize needs cases".into()));
                    };
                    let mut parsed = Vec::new();
                    for (cond, out) in cases {
                        let out_text = out
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| out.to_string());
                        let (Some(c), Some(o)) = (Expr::parse(cond), Expr::parse(&out_text)) else {
                            return Err(invalid(
                                source,
                                Some(i),
                                format!(
                                    "the case \"{cond}\" is outside the FHIRPath subset airlock evaluates"
                                ),
                            ));
                        };
                        parsed.push((c, o));
                    }
                    let keep_others = match r
                        .get("otherValues")
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .as_deref()
                    {
                        None | Some("redact") => false,
                        Some("keep") => true,
                        Some(o) => {
                            return Err(invalid(
                                source,
                                Some(i),
                                format!("otherValues {o} is not redact or keep"),
                            ));
                        }
                    };
                    Method::Generalize {
                        cases: parsed,
                        keep_others,
                    }
                }
                other => {
                    return Err(invalid(
                        source,
                        Some(i),
                        format!("unknown method \"{other}\""),
                    ));
                }
            };
            rules.push(Rule { path, method });
        }
        Ok(Self {
            rules,
            parameters: raw.parameters.unwrap_or_default(),
            skip_errors,
            unknown_resources,
            source: source.to_owned(),
        })
    }
}

/// airlock's Safe Harbor configuration: the Microsoft R4 Safe Harbor sample's rules, with ids
/// and references keyed instead of hashed with a shared key, dates shifted per patient with
/// the workspace key, and narrative and free text through the text detector.
pub const SAFE_HARBOR: &str = include_str!("../data/safe-harbor.json");
