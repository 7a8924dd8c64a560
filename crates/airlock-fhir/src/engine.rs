//! Applies a configuration to resources: rules in order, the first rule that reaches a node
//! wins (a processed node and its subtree are done), every resource on its own (each Bundle
//! entry and each contained resource too), then empty elements are pruned and
//! `meta.security` gets one label per kind of operation (top-level and Bundle entry
//! resources; not contained ones), as Microsoft's anonymizer does.
//!
//! Two ways to key: with the keys a configuration gives (`cryptoHashKey`, `dateShiftKey`), the
//! results match Microsoft's tool (HMAC-SHA256 hex; the date offset folded from the resource
//! id and the key). With empty keys and a workspace secret (airlock's Safe Harbor default),
//! ids and references are keyed by the workspace, `urn:uuid` references stay UUIDs, and every
//! date moves by its patient's keyed offset (the same offset as the patient's rows in tables,
//! notes and images), found from the resource's subject or patient reference.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;

use airlock_core::error::{Error, InputProblem, Result};
use airlock_core::keys::{Purpose, PurposeKey, WorkspaceSecret};
use airlock_core::phi::Kind;
use airlock_core::text::{TextContext, TextMode};
use airlock_deid::dates::{DateShifter, ShiftRange};
use airlock_deid::token::Tokenizer;
use airlock_text::TextEngine;
use airlock_text::known::Known;

use crate::config::{Config, Method};
use crate::expr::Val;
use crate::index::{Index, Seg, at, at_mut};
use crate::strict::{self, UnknownResources, Verdict};

/// The labels, in the order they are written.
const LABELS: [(&str, &str, bool); 7] = [
    ("REDACTED", "redacted", true),
    ("ABSTRED", "abstracted", true),
    ("CRYTOHASH", "cryptographic hash function", true),
    ("MASKED", "masked", true),
    (
        "PERTURBED",
        "exact value is replaced with another exact value",
        false,
    ),
    (
        "SUBSTITUTED",
        "exact value is replaced with a predefined value",
        false,
    ),
    (
        "GENERALIZED",
        "exact value is replaced with a general value",
        false,
    ),
];
const LABEL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

enum Hashing {
    /// HMAC-SHA256 hex under the configuration's key (Microsoft-compatible).
    Shared(Vec<u8>),
    /// Keyed by the workspace secret; `urn:uuid` ids stay UUIDs.
    Workspace(PurposeKey),
}

enum Shifting {
    /// Microsoft's fold of the resource id and the key, [-50, 50] days (or a fixed offset).
    Shared { key: String, fixed: Option<i64> },
    /// The patient's keyed offset, as for tables and notes.
    Workspace(DateShifter),
}

/// What a run did, counted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub resources: u64,
    pub nodes_processed: u64,
    pub by_method: std::collections::BTreeMap<&'static str, u64>,
    /// What the fail-closed sweep removed before the rules ran.
    pub removed: crate::strict::Removed,
}

/// What the rules need to know about the resource they run on.
struct Here {
    /// The resource's date shift in days.
    offset: i64,
    /// It is a contained resource (its id is referenced as `#id`).
    contained: bool,
}

/// The anonymizer for one configuration.
pub struct Engine {
    config: Config,
    hashing: Hashing,
    shifting: Shifting,
    encrypt_key: Option<Vec<u8>>,
    text: TextEngine,
    /// The workspace's patient token (when ids are keyed by the workspace): Patient ids and
    /// references to them get the token the patient has in tables and DICOM.
    patient_tokens: Option<Tokenizer>,
    today: NaiveDate,
    /// Patient of each `urn:uuid` full URL of the Bundle being processed.
    patients_by_url: HashMap<String, String>,
    /// What the people of the Bundle (or resource) being processed are called, reached at
    /// and numbered by: looked for in every narrative and free-text string of it.
    known: Option<Known>,
    /// The people of a bulk export, gathered by a first pass ([`Engine::remember_people`]).
    people: People,
    pub counts: Counts,
}

/// What the Patient, RelatedPerson and Practitioner resources of a bulk export say about each
/// person, by reference (`Patient/123`): a resource's free text is searched for the values of
/// every person it references (and a patient's related persons). Held in memory for the run
/// only: never written or logged.
#[derive(Debug, Default)]
pub struct People {
    by_ref: HashMap<String, Vec<(Kind, String)>>,
}

/// Most values remembered for one person (a forged export must not make every string search
/// thousands of values).
const PERSON_VALUES: usize = 64;

impl People {
    fn remember(&mut self, key: String, values: &[(Kind, String)]) {
        let known = self.by_ref.entry(key).or_default();
        for v in values {
            if known.len() < PERSON_VALUES && !known.contains(v) {
                known.push(v.clone());
            }
        }
    }

    fn of(&self, reference: &str) -> &[(Kind, String)] {
        self.by_ref.get(reference).map_or(&[], Vec::as_slice)
    }

    /// People remembered.
    pub fn len(&self) -> usize {
        self.by_ref.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ref.is_empty()
    }
}

/// `Type/id` of a reference, relative or absolute (`https://h/fhir/Patient/1/_history/2`).
fn reference_key(reference: &str) -> Option<String> {
    let r = reference.split("/_history/").next().unwrap_or(reference);
    let mut parts = r.rsplit('/');
    let id = parts.next().filter(|s| !s.is_empty())?;
    let ty = parts
        .next()
        .filter(|t| t.starts_with(|c: char| c.is_ascii_uppercase()))?;
    Some(format!("{ty}/{id}"))
}

/// Every reference in a resource, as `Type/id`, and its own `Type/id`.
fn references(resource: &Value) -> BTreeSet<String> {
    fn visit(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                for (k, child) in o {
                    match (k.as_str(), child) {
                        ("reference", Value::String(r)) => out.extend(reference_key(r)),
                        _ => visit(child, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| visit(c, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if let (Some(ty), Some(id)) = (
        resource.get("resourceType").and_then(Value::as_str),
        resource.get("id").and_then(Value::as_str),
    ) {
        out.insert(format!("{ty}/{id}"));
    }
    visit(resource, &mut out);
    out
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], value: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Microsoft's date offset: fold `prefix + key` bytes with `o = (o*131 + b) % 101`, minus 50.
pub fn ms_offset(prefix: &str, key: &str) -> i64 {
    let mut o: i64 = 0;
    for b in prefix.bytes().chain(key.bytes()) {
        o = (o * 131 + i64::from(b)) % 101;
    }
    o - 50
}

fn date_ty(ty: &str) -> bool {
    matches!(ty, "date" | "dateTime" | "instant")
}

/// A date value's calendar date, when it has a day.
fn full_date(v: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v.get(..10)?, "%Y-%m-%d").ok()
}

impl Engine {
    /// An engine for `config`. Empty keys in the configuration are filled from `secret`
    /// (airlock's way); without a secret they must be given.
    pub fn new(config: Config, secret: Option<&WorkspaceSecret>) -> Result<Self> {
        Self::with_range(config, secret, ShiftRange::default())
    }

    /// The same engine with its free-text detector in `mode` (strict by default).
    pub fn with_text_mode(mut self, mode: airlock_core::text::DetectionMode) -> Self {
        self.text = self.text.with_mode(mode);
        self
    }

    /// [`Engine::new`] with the workspace clock's range (used when the configuration leaves
    /// its date-shift key empty): a patient's resources move by the same days as the
    /// patient's tables, notes and DICOM studies under the same range.
    pub fn with_range(
        config: Config,
        secret: Option<&WorkspaceSecret>,
        range: ShiftRange,
    ) -> Result<Self> {
        let p = &config.parameters;
        // an empty key: the workspace's (airlock), or a random one (as Microsoft's tool does)
        let random_key = || {
            let mut k = [0u8; 32];
            getrandom::fill(&mut k)
                .map(|_| data_encoding::HEXLOWER.encode(&k))
                .map_err(|e| Error::Write {
                    path: config.source.clone().into(),
                    reason: format!("no randomness from the operating system: {e}"),
                })
        };
        let hashing = match (p.crypto_hash_key.is_empty(), secret) {
            (true, Some(s)) => Hashing::Workspace(s.derive(Purpose::Tokenize).subkey("fhir-id")),
            (true, None) => Hashing::Shared(random_key()?.into_bytes()),
            (false, _) => Hashing::Shared(p.crypto_hash_key.as_bytes().to_vec()),
        };
        let shifting = match (
            p.date_shift_key.is_empty() && p.date_shift_fixed_offset_in_days.is_none(),
            secret,
        ) {
            (true, Some(s)) => Shifting::Workspace(DateShifter::for_workspace(s, range)),
            (true, None) => Shifting::Shared {
                key: random_key()?,
                fixed: None,
            },
            (false, _) => Shifting::Shared {
                key: p.date_shift_key.clone(),
                fixed: p.date_shift_fixed_offset_in_days,
            },
        };
        let patient_tokens = secret
            .filter(|_| p.crypto_hash_key.is_empty())
            .map(|s| Tokenizer::patient(&s.derive(Purpose::Tokenize)));
        let encrypt_key = (!p.encrypt_key.is_empty()).then(|| p.encrypt_key.as_bytes().to_vec());
        if let Some(k) = &encrypt_key
            && ![16, 24, 32].contains(&k.len())
        {
            return Err(Error::PolicyInvalid {
                path: config.source.clone().into(),
                line: None,
                message: "parameters.encryptKey must be 16, 24 or 32 bytes".into(),
            });
        }
        Ok(Self {
            config,
            hashing,
            shifting,
            encrypt_key,
            text: TextEngine::without_key(),
            patient_tokens,
            today: chrono::Utc::now().date_naive(),
            patients_by_url: HashMap::new(),
            known: None,
            people: People::default(),
            counts: Counts::default(),
        })
    }

    /// Sets "today" (ages over 89 are judged against it; tests pin it).
    pub fn with_today(mut self, today: NaiveDate) -> Self {
        self.today = today;
        self
    }

    /// First pass over a bulk export: remembers what a Patient, RelatedPerson or Practitioner
    /// resource says about its person (a RelatedPerson's values also under its patient), so
    /// that [`Engine::anonymize`] finds them in the free text of every resource that references
    /// the person. Other resources are ignored.
    pub fn remember_people(&mut self, resource: &Value) {
        let ty = resource.get("resourceType").and_then(Value::as_str);
        let id = resource.get("id").and_then(Value::as_str);
        let (Some(ty @ ("Patient" | "RelatedPerson" | "Practitioner")), Some(id)) = (ty, id) else {
            return;
        };
        let values = people_known(resource);
        if values.is_empty() {
            return;
        }
        if ty == "RelatedPerson"
            && let Some(patient) = resource
                .pointer("/patient/reference")
                .and_then(Value::as_str)
                .and_then(reference_key)
        {
            self.people.remember(patient, &values);
        }
        self.people.remember(format!("{ty}/{id}"), &values);
    }

    /// The people remembered by [`Engine::remember_people`].
    pub fn people(&self) -> &People {
        &self.people
    }

    /// Anonymizes one top-level resource (a Bundle's entries and contained resources too).
    /// Under `unknownResources` `error` or `remove`, what the R4 model does not know is swept
    /// first; a removed top-level resource is left as JSON `null` for the caller to drop.
    pub fn anonymize(&mut self, resource: &mut Value) -> Result<()> {
        if resource
            .get("resourceType")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(Error::Write {
                path: "FHIR resource".into(),
                reason: "a resource without resourceType".into(),
            });
        }
        let mode = self.config.unknown_resources;
        if mode != UnknownResources::Keep {
            match strict::sweep(resource, mode, &mut self.counts.removed) {
                Verdict::Keep => {}
                Verdict::Remove => {
                    *resource = Value::Null;
                    return Ok(());
                }
                Verdict::Refuse => {
                    return Err(Error::Input {
                        file: "FHIR resource".into(),
                        row: None,
                        column: None,
                        problem: InputProblem::UnknownFhirResource,
                    });
                }
            }
        }
        if resource["resourceType"] == "Bundle" {
            self.patients_by_url = bundle_patients(resource);
        }
        let mut people = people_known(resource);
        if !self.people.is_empty() {
            for r in references(resource) {
                for v in self.people.of(&r) {
                    if !people.contains(v) {
                        people.push(v.clone());
                    }
                }
            }
        }
        self.known =
            (!people.is_empty()).then(|| Known::new(people.iter().map(|(k, v)| (*k, v.as_str()))));
        let r = self.resource(resource, true, None);
        self.patients_by_url.clear();
        self.known = None;
        match r {
            Ok(_) => Ok(()),
            // processingErrors: skip: the resource is emptied and labelled, as Microsoft's tool does
            Err(_) if self.config.skip_errors => {
                let ty = resource["resourceType"].clone();
                *resource = json!({ "resourceType": ty });
                add_labels(resource, &BTreeSet::from([0]));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Processes one resource and those nested in it; returns the labels of every operation
    /// done in it (a resource's labels include its nested resources').
    fn resource(
        &mut self,
        v: &mut Value,
        labelled: bool,
        inherited_patient: Option<&str>,
    ) -> Result<BTreeSet<usize>> {
        self.counts.resources += 1;
        let index = Index::build(v);
        let id = v.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let patient = if v["resourceType"] == "Patient" {
            Some(id.clone())
        } else {
            self.patient_of(v)
                .or_else(|| inherited_patient.map(str::to_owned))
        };
        // nested resources first, each on its own (entries labelled, contained ones not)
        let mut labels = BTreeSet::new();
        for ptr in &index.nested {
            let contained = matches!(ptr.first(), Some(Seg::Key(k)) if k == "contained");
            if let Some(inner) = at_mut(v, ptr) {
                labels.extend(self.resource(inner, !contained, patient.as_deref())?);
            }
        }
        let offset = match &self.shifting {
            Shifting::Shared { fixed: Some(f), .. } => *f,
            Shifting::Shared { key, .. } => ms_offset(&id, key),
            Shifting::Workspace(s) => i64::from(s.offset(patient.as_deref().unwrap_or(&id))),
        };
        // a contained Patient keeps a keyed id: its local `#id` references cannot say that they
        // point at a Patient, so it cannot take the patient token
        let here = Here {
            offset,
            contained: !labelled,
        };
        let mut visited = vec![false; index.nodes.len()];
        let rules = std::mem::take(&mut self.config.rules);
        for rule in &rules {
            for n in rule.path.select(&index, v) {
                if visited[n] {
                    continue;
                }
                *self.counts.by_method.entry(rule.method.name()).or_default() += 1;
                self.counts.nodes_processed += 1;
                if self
                    .apply(v, &index, n, &rule.method, &visited, &here, &mut labels)
                    .is_err()
                {
                    let message = format!(
                        "rule \"{}\" ({}) cannot process a {} element (a processing error; processingErrors: skip empties such resources instead)",
                        rule.path.text,
                        rule.method.name(),
                        index.nodes[n].ty
                    );
                    self.config.rules = rules;
                    return Err(Error::PolicyInvalid {
                        path: self.config.source.clone().into(),
                        line: None,
                        message,
                    });
                }
                for d in index.subtree(n) {
                    visited[d] = true;
                }
            }
        }
        self.config.rules = rules;
        prune(v);
        if labelled && !labels.is_empty() {
            add_labels(v, &labels);
        }
        Ok(labels)
    }

    /// The patient a resource is about: its subject, patient or beneficiary reference.
    fn patient_of(&self, v: &Value) -> Option<String> {
        let refs = ["subject", "patient", "beneficiary", "individual", "target"]
            .iter()
            .filter_map(|k| v.get(*k))
            .flat_map(|r| match r {
                Value::Array(a) => a.iter().collect::<Vec<_>>(),
                r => vec![r],
            })
            .filter_map(|r| r.get("reference").and_then(Value::as_str));
        for r in refs {
            if let Some(id) = r
                .rsplit_once("Patient/")
                .map(|(_, id)| id.split('/').next().unwrap_or(id))
            {
                return Some(id.to_owned());
            }
            if let Some(p) = self.patients_by_url.get(r) {
                return Some(p.clone());
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        v: &mut Value,
        index: &Index,
        n: usize,
        method: &Method,
        visited: &[bool],
        here: &Here,
        labels: &mut BTreeSet<usize>,
    ) -> std::result::Result<(), ()> {
        let todo: Vec<usize> = index
            .subtree(n)
            .into_iter()
            .filter(|&d| !visited[d] && index.nodes[d].is_primitive())
            .collect();
        match method {
            Method::Keep => {}
            Method::Redact => {
                // partial ages: an Age of 89 or less is kept
                let p = &self.config.parameters;
                for d in todo {
                    if p.enable_partial_ages_for_redact && in_young_age(v, index, d) {
                        continue;
                    }
                    let node = &index.nodes[d];
                    let Some(slot) = at_mut(v, &node.ptr) else {
                        continue;
                    };
                    let s = slot.as_str().map(str::to_owned);
                    if node.name == "postalCode"
                        && p.enable_partial_zip_codes_for_redact
                        && let Some(s) = &s
                    {
                        *slot =
                            Value::String(partial_zip(s, &p.restricted_zip_code_tabulation_areas));
                        labels.insert(1);
                        continue;
                    }
                    if date_ty(&node.ty)
                        && p.enable_partial_dates_for_redact
                        && let Some(year) = s.as_deref().and_then(|s| s.get(..4))
                        && !self.over_89(s.as_deref().unwrap_or(""))
                    {
                        *slot = Value::String(year.to_owned());
                        labels.insert(0);
                        continue;
                    }
                    *slot = Value::Null;
                    labels.insert(0);
                }
            }
            Method::DateShift => {
                for d in todo {
                    let node = &index.nodes[d];
                    if !date_ty(&node.ty) {
                        continue;
                    }
                    let over = at(v, &node.ptr)
                        .and_then(Value::as_str)
                        .is_some_and(|s| self.over_89(s));
                    let partial = self.config.parameters.enable_partial_dates_for_redact;
                    let Some(slot) = at_mut(v, &node.ptr) else {
                        continue;
                    };
                    let Some(s) = slot.as_str().map(str::to_owned) else {
                        continue;
                    };
                    match full_date(&s) {
                        Some(date) if !over => {
                            let moved = date + chrono::Duration::days(here.offset);
                            *slot = Value::String(shifted(&s, moved, &node.ty));
                            labels.insert(4);
                        }
                        _ => {
                            // no day, or an age over 89: redacted (the year kept when allowed)
                            *slot = match s.get(..4) {
                                Some(year) if partial && !over => Value::String(year.to_owned()),
                                _ => Value::Null,
                            };
                            labels.insert(0);
                        }
                    }
                }
            }
            Method::CryptoHash => {
                for d in todo {
                    let node = &index.nodes[d];
                    let reference = node.name == "reference"
                        || node.name == "fullUrl"
                        || matches!(node.name.as_str(), "url" | "location")
                            && node.parent.is_some_and(|p| {
                                matches!(index.nodes[p].name.as_str(), "request" | "response")
                            });
                    let Some(slot) = at_mut(v, &node.ptr) else {
                        continue;
                    };
                    let Some(s) = slot.as_str().map(str::to_owned) else {
                        continue;
                    };
                    if s.is_empty() {
                        continue;
                    }
                    let patient_id = node.name == "id"
                        && node.parent == Some(0)
                        && index.nodes[0].name == "Patient"
                        && !here.contained;
                    let h = match &self.patient_tokens {
                        Some(t) if patient_id => t.token(&s),
                        _ if reference => self.hash_reference(&s),
                        _ => self.hash(&s),
                    };
                    *slot = Value::String(h);
                    labels.insert(2);
                }
            }
            Method::Encrypt => {
                let Some(key) = self.encrypt_key.clone() else {
                    return Ok(());
                };
                for d in todo {
                    let Some(slot) = at_mut(v, &index.nodes[d].ptr) else {
                        continue;
                    };
                    let Some(s) = slot.as_str().map(str::to_owned) else {
                        continue;
                    };
                    *slot = Value::String(crate::crypto::encrypt(&key, &s));
                    labels.insert(3);
                }
            }
            Method::Perturb {
                span,
                proportional,
                round_to,
            } => {
                let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(
                    getrandom::u64().unwrap_or(0x5eed),
                );
                for d in todo {
                    let node = &index.nodes[d];
                    if !matches!(
                        &*node.ty,
                        "decimal" | "integer" | "positiveInt" | "unsignedInt"
                    ) {
                        continue;
                    }
                    let Some(slot) = at_mut(v, &node.ptr) else {
                        continue;
                    };
                    let Some(x) = slot.as_f64() else { continue };
                    let half = if *proportional {
                        span * x.abs() / 2.0
                    } else {
                        span / 2.0
                    };
                    let noisy = x + if half > 0.0 {
                        rng.random_range(-half..=half)
                    } else {
                        0.0
                    };
                    let places = round_to.unwrap_or(if &*node.ty == "decimal" { 2 } else { 0 });
                    let f = 10f64.powi(places as i32);
                    let rounded = (noisy * f).round() / f;
                    *slot = if &*node.ty == "decimal" {
                        serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
                    } else {
                        json!(rounded.max(if &*node.ty == "positiveInt" {
                            1.0
                        } else if &*node.ty == "unsignedInt" {
                            0.0
                        } else {
                            f64::MIN
                        }) as i64)
                    };
                    labels.insert(4);
                }
            }
            Method::Substitute(with) => {
                let node = &index.nodes[n];
                if node.is_primitive() {
                    if let Some(slot) = at_mut(v, &node.ptr) {
                        *slot = with.clone();
                    }
                } else {
                    // the node's content is replaced; what earlier rules processed below it stays
                    for d in todo {
                        if let Some(slot) = at_mut(v, &index.nodes[d].ptr) {
                            *slot = Value::Null;
                        }
                    }
                    prune_at(v, &node.ptr);
                    if let (Some(slot), Some(new)) = (at_mut(v, &node.ptr), with.as_object()) {
                        if !slot.is_object() {
                            *slot = json!({});
                        }
                        if let Some(obj) = slot.as_object_mut() {
                            for (k, val) in new {
                                obj.entry(k.clone()).or_insert_with(|| val.clone());
                            }
                        }
                    }
                }
                labels.insert(5);
            }
            Method::Generalize { cases, keep_others } => {
                for d in todo {
                    let node = &index.nodes[d];
                    let Some(slot) = at_mut(v, &node.ptr) else {
                        continue;
                    };
                    let this = match &*slot {
                        Value::String(s) if date_ty(&node.ty) || &*node.ty == "time" => {
                            Val::Date(s.clone())
                        }
                        Value::String(s) => Val::Str(s.clone()),
                        Value::Number(n) => Val::Num(n.as_f64().unwrap_or(0.0)),
                        Value::Bool(b) => Val::Bool(*b),
                        _ => continue,
                    };
                    let mut hit = None;
                    for (cond, out) in cases {
                        match cond.eval(&this) {
                            Some(Val::Bool(true)) => {
                                hit = Some(out);
                                break;
                            }
                            Some(_) => {}
                            // comparing values that do not compare (a name with a number)
                            None => return Err(()),
                        }
                    }
                    match hit.and_then(|out| out.eval(&this)) {
                        Some(new) => {
                            *slot = match new {
                                Val::Str(s) | Val::Date(s) => Value::String(s),
                                Val::Num(n) if n.fract() == 0.0 && !node.ty.contains("decimal") => {
                                    json!(n as i64)
                                }
                                Val::Num(n) => json!(n),
                                Val::Bool(b) => Value::Bool(b),
                                Val::List(_) => Value::Null,
                            };
                            labels.insert(6);
                        }
                        None if *keep_others => {}
                        None => {
                            *slot = Value::Null;
                            labels.insert(0);
                        }
                    }
                }
            }
            Method::RedactText => {
                for d in todo {
                    let xhtml = &*index.nodes[d].ty == "xhtml" || index.nodes[d].name == "div";
                    let Some(slot) = at_mut(v, &index.nodes[d].ptr) else {
                        continue;
                    };
                    let Some(s) = slot.as_str().map(str::to_owned) else {
                        continue;
                    };
                    let (out, n) = if xhtml {
                        self.scrub_xhtml(&s)
                    } else {
                        self.scrub(&s)
                    };
                    if n > 0 || out != s {
                        *slot = Value::String(out);
                        labels.insert(0);
                    }
                }
            }
        }
        Ok(())
    }

    fn scrub(&self, s: &str) -> (String, usize) {
        let mut out = String::with_capacity(s.len());
        let n = self.text.scrub_known(
            s,
            TextMode::Redact,
            &TextContext::default(),
            self.known.as_ref(),
            &mut out,
        );
        (out, n)
    }

    /// Narrative XHTML through quick-xml: every text node and every attribute value through
    /// the detector, URL-bearing attributes written `#`, scripts, styles, comments, processing
    /// instructions and elements outside FHIR's narrative set dropped (their text kept and
    /// scrubbed unless they are scripts or styles). Narrative that is not well-formed XHTML is
    /// replaced whole: nothing of it passes unread.
    fn scrub_xhtml(&self, s: &str) -> (String, usize) {
        match self.scrub_xhtml_events(s) {
            Some(done) => done,
            None => (
                "<div xmlns=\"http://www.w3.org/1999/xhtml\">[narrative removed: not well-formed XHTML]</div>".into(),
                1,
            ),
        }
    }

    fn scrub_xhtml_events(&self, s: &str) -> Option<(String, usize)> {
        use quick_xml::events::{BytesStart, Event};
        let mut reader = quick_xml::Reader::from_str(s);
        reader.config_mut().check_end_names = true;
        let mut out = String::with_capacity(s.len());
        let mut n = 0;
        let mut text = String::new();
        // depth inside a dropped script or style, and the names of open elements (None: its
        // tag is not written)
        let mut hidden = 0usize;
        let mut open: Vec<Option<String>> = Vec::new();
        let flush = |text: &mut String, out: &mut String, n: &mut usize| {
            if !text.is_empty() {
                let (clean, k) = self.scrub(text);
                out.push_str(&quick_xml::escape::escape(clean.as_str()));
                *n += k;
                text.clear();
            }
        };
        let tag = |e: &BytesStart<'_>, n: &mut usize| -> Option<(String, String)> {
            let name = std::str::from_utf8(e.name().as_ref()).ok()?.to_owned();
            let mut written = format!("<{name}");
            for a in e.attributes() {
                let a = a.ok()?;
                let key = std::str::from_utf8(a.key.as_ref())
                    .ok()?
                    .to_ascii_lowercase();
                let value = a.unescape_value().ok()?;
                if URL_ATTRIBUTES.contains(&key.as_str()) {
                    written.push_str(&format!(" {key}=\"#\""));
                } else if key == "xmlns" || key.starts_with("xmlns:") {
                    written.push_str(&format!(
                        " {key}=\"{}\"",
                        quick_xml::escape::escape(value.as_ref())
                    ));
                } else if SAFE_ATTRIBUTES.contains(&key.as_str()) {
                    let (clean, k) = self.scrub(&value);
                    *n += k;
                    written.push_str(&format!(
                        " {key}=\"{}\"",
                        quick_xml::escape::escape(clean.as_str())
                    ));
                }
                // anything else (event handlers, style, unknown attributes): dropped
            }
            Some((name, written))
        };
        loop {
            let event = reader.read_event().ok()?;
            match event {
                Event::Eof => break,
                Event::Text(t) => {
                    if hidden == 0 {
                        text.push_str(&t.xml10_content().ok()?);
                    }
                }
                Event::CData(t) => {
                    if hidden == 0 {
                        text.push_str(&t.xml10_content().ok()?);
                    }
                }
                Event::GeneralRef(r) => {
                    if hidden == 0 {
                        match r.resolve_char_ref().ok()? {
                            Some(c) => text.push(c),
                            None => {
                                let name = r.decode().ok()?;
                                let entity = format!("&{name};");
                                match quick_xml::escape::unescape(&entity) {
                                    Ok(c) => text.push_str(&c),
                                    Err(_) => text.push(' '),
                                }
                            }
                        }
                    }
                }
                Event::Start(ref e) | Event::Empty(ref e) => {
                    flush(&mut text, &mut out, &mut n);
                    let empty = matches!(event, Event::Empty(_));
                    let (name, written) = tag(e, &mut n)?;
                    let local = name
                        .rsplit(':')
                        .next()
                        .unwrap_or(&name)
                        .to_ascii_lowercase();
                    let dropped = hidden > 0 || DROPPED_ELEMENTS.contains(&local.as_str());
                    let shown = !dropped && NARRATIVE_ELEMENTS.contains(&local.as_str());
                    if shown {
                        out.push_str(&written);
                        out.push_str(if empty { "/>" } else { ">" });
                    }
                    if !empty {
                        hidden += usize::from(dropped);
                        open.push(shown.then_some(name));
                    }
                }
                Event::End(_) => {
                    flush(&mut text, &mut out, &mut n);
                    match open.pop()? {
                        Some(name) => {
                            out.push_str("</");
                            out.push_str(&name);
                            out.push('>');
                        }
                        None if hidden > 0 => hidden -= 1,
                        None => {}
                    }
                }
                // comments, processing instructions, declarations, doctypes: dropped
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            }
        }
        if !open.is_empty() {
            return None;
        }
        flush(&mut text, &mut out, &mut n);
        Some((out, n))
    }

    /// The keyed MAC of a value: HMAC-SHA256 under the configuration's key, or the workspace's.
    fn mac(&self, s: &str) -> [u8; 32] {
        match &self.hashing {
            Hashing::Shared(key) => hmac(key, s),
            Hashing::Workspace(key) => key.mac(s.as_bytes()),
        }
    }

    fn hash(&self, s: &str) -> String {
        data_encoding::HEXLOWER.encode(&self.mac(s))
    }

    /// A UUID-shaped keyed id, so that `urn:uuid:` references stay valid.
    fn uuid(&self, s: &str) -> String {
        let h = self.mac(s);
        let mut b = [0u8; 16];
        b.copy_from_slice(&h[..16]);
        b[6] = (b[6] & 0x0f) | 0x40; // version 4 layout, variant 1
        b[8] = (b[8] & 0x3f) | 0x80;
        let x = data_encoding::HEXLOWER.encode(&b);
        format!(
            "{}-{}-{}-{}-{}",
            &x[..8],
            &x[8..12],
            &x[12..16],
            &x[16..20],
            &x[20..]
        )
    }

    /// Hashes only the id part of a literal reference (`Patient/123`, absolute URLs, `urn:uuid:`,
    /// `urn:oid:`, `#id`, with `/_history/v` kept); anything else whole.
    fn hash_reference(&self, r: &str) -> String {
        let workspace = matches!(self.hashing, Hashing::Workspace(_));
        if let Some(id) = r.strip_prefix('#') {
            return format!("#{}", self.hash(id));
        }
        if let Some(id) = r.strip_prefix("urn:uuid:") {
            return format!(
                "urn:uuid:{}",
                if workspace {
                    self.uuid(id)
                } else {
                    self.hash(id)
                }
            );
        }
        if let Some(id) = r.strip_prefix("urn:oid:") {
            return format!("urn:oid:{}", self.hash(id));
        }
        let (body, history) = match r.find("/_history/") {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        };
        let model = crate::types::TypeModel::get();
        if let Some((head, id)) = body.rsplit_once('/') {
            let ty = head.rsplit('/').next().unwrap_or(head);
            if model.is_resource(ty) && !id.is_empty() {
                let keyed = match &self.patient_tokens {
                    Some(t) if ty == "Patient" => t.token(id),
                    _ => self.hash(id),
                };
                return format!("{head}/{keyed}{history}");
            }
        }
        if workspace && model.is_resource(r) {
            return r.to_owned(); // a bare type (a transaction's request.url) names no one
        }
        self.hash(r)
    }

    /// Whether a date says its patient is over 89 today.
    fn over_89(&self, s: &str) -> bool {
        let Some(year) = s.get(..4).and_then(|y| y.parse::<i32>().ok()) else {
            return false;
        };
        let date = full_date(s)
            .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX));
        self.today.years_since(date).is_some_and(|a| a > 89)
    }
}

/// Attributes whose value is a URL (a link can name a patient's page): written `#`.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "cite",
    "background",
    "poster",
    "longdesc",
    "usemap",
    "data",
    "codebase",
    "srcset",
    "ping",
    "manifest",
    "profile",
    "xlink:href",
    "lowsrc",
    "dynsrc",
];

/// Attributes kept, their values through the detector. Anything else is dropped.
const SAFE_ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "title",
    "alt",
    "lang",
    "xml:lang",
    "dir",
    "name",
    "colspan",
    "rowspan",
    "width",
    "height",
    "border",
    "align",
    "valign",
    "span",
    "scope",
    "headers",
    "abbr",
    "summary",
    "cellpadding",
    "cellspacing",
    "char",
    "charoff",
    "frame",
    "rules",
    "start",
    "type",
    "value",
    "accesskey",
    "tabindex",
];

/// Elements dropped with everything inside them.
const DROPPED_ELEMENTS: &[&str] = &[
    "script", "style", "object", "embed", "iframe", "frame", "frameset", "applet", "form", "input",
    "button", "select", "textarea", "base", "link", "meta", "head", "title", "svg", "math",
];

/// The elements FHIR narrative allows (R4, narrative rules); other elements lose their tags
/// and keep their (scrubbed) text.
const NARRATIVE_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "b",
    "big",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "ul",
    "var",
];

/// Whether node `d` is inside an Age of 89 years or less.
fn in_young_age(v: &Value, index: &Index, d: usize) -> bool {
    let mut cur = Some(d);
    while let Some(c) = cur {
        let node = &index.nodes[c];
        if &*node.ty == "Age" {
            let age = at(v, &node.ptr)
                .and_then(|a| a.get("value"))
                .and_then(Value::as_f64);
            return age.is_some_and(|a| a <= 89.0);
        }
        cur = node.parent;
    }
    false
}

fn partial_zip(zip: &str, restricted: &[String]) -> String {
    if restricted.iter().any(|r| zip.starts_with(r.as_str())) {
        return zip
            .chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect();
    }
    zip.chars()
        .enumerate()
        .map(|(i, c)| if i >= 3 && c.is_ascii_digit() { '0' } else { c })
        .collect()
}

/// The shifted value in the shape of the original: `yyyy-MM-dd`, and a time with every digit
/// zeroed and its zone kept (`Z` becomes `+00:00` for an instant).
fn shifted(original: &str, moved: NaiveDate, ty: &str) -> String {
    let date = format!(
        "{:04}-{:02}-{:02}",
        moved.year(),
        moved.month(),
        moved.day()
    );
    let Some(rest) = original.get(10..).filter(|r| r.starts_with('T')) else {
        return date;
    };
    let zone_at = rest[1..]
        .find(['Z', '+', '-'])
        .map_or(rest.len(), |i| i + 1);
    let time: String = rest[..zone_at]
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect();
    let zone = &rest[zone_at..];
    let zone = if zone == "Z" && ty == "instant" {
        "+00:00"
    } else {
        zone
    };
    format!("{date}{time}{zone}")
}

/// Removes nulls, empty objects and empty arrays, keeping a primitive array aligned with its
/// `_name` extension array.
pub fn prune(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (_, child) in map.iter_mut() {
                prune(child);
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if k.starts_with('_') {
                    continue;
                }
                let ext = format!("_{k}");
                if let (Some(Value::Array(a)), Some(Value::Array(e))) = (map.get(&k), map.get(&ext))
                {
                    // drop an index only where both sides are gone
                    let keep: Vec<bool> = (0..a.len().max(e.len()))
                        .map(|i| {
                            !a.get(i).is_none_or(Value::is_null)
                                || !e.get(i).is_none_or(Value::is_null)
                        })
                        .collect();
                    let (a, e) = (a.clone(), e.clone());
                    let filter = |arr: &Vec<Value>| {
                        arr.iter()
                            .enumerate()
                            .filter(|(i, _)| keep[*i])
                            .map(|(_, x)| x.clone())
                            .collect::<Vec<_>>()
                    };
                    map.insert(k.clone(), Value::Array(filter(&a)));
                    map.insert(ext.clone(), Value::Array(filter(&e)));
                    if map[&ext]
                        .as_array()
                        .is_some_and(|x| x.iter().all(Value::is_null))
                    {
                        map.remove(&ext);
                    }
                    if map[&k]
                        .as_array()
                        .is_some_and(|x| x.iter().all(Value::is_null))
                        && !map.contains_key(&ext)
                    {
                        map.remove(&k);
                    }
                }
            }
            map.retain(|_, c| !is_empty(c));
        }
        Value::Array(items) => {
            for i in items.iter_mut() {
                prune(i);
            }
            items.retain(|c| !is_empty(c));
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn prune_at(v: &mut Value, ptr: &[Seg]) {
    if let Some(slot) = at_mut(v, ptr) {
        prune(slot);
        if slot.is_null() {
            *slot = json!({});
        }
    }
}

fn add_labels(v: &mut Value, labels: &BTreeSet<usize>) {
    let Some(obj) = v.as_object_mut() else { return };
    let mut meta = obj.remove("meta").unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        let security = m.entry("security").or_insert_with(|| json!([]));
        if let Some(list) = security.as_array_mut() {
            for &i in labels {
                let (code, display, system) = LABELS[i];
                if list.iter().any(|c| c["code"] == code) {
                    continue;
                }
                list.push(if system {
                    json!({"system": LABEL_SYSTEM, "code": code, "display": display})
                } else {
                    json!({"code": code, "display": display})
                });
            }
        }
    }
    reorder_meta(obj, meta);
}

/// Puts `meta` after `resourceType` and `id`.
fn reorder_meta(obj: &mut serde_json::Map<String, Value>, meta: Value) {
    let old = std::mem::take(obj);
    let mut placed = false;
    let has_id = old.contains_key("id");
    for (k, val) in old {
        let last_head = if has_id {
            k == "id"
        } else {
            k == "resourceType"
        };
        obj.insert(k, val);
        if last_head && !placed {
            obj.insert("meta".into(), meta.clone());
            placed = true;
        }
    }
    if !placed {
        obj.insert("meta".into(), meta);
    }
}

/// The names, telecoms, addresses, identifiers and birth dates of the Patient, RelatedPerson and
/// Practitioner resources in `resource` (itself, a Bundle's entries, contained resources).
fn people_known(resource: &Value) -> Vec<(Kind, String)> {
    fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
        v.into_iter()
            .flat_map(|v| match v {
                Value::Array(a) => a.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
            .filter_map(Value::as_str)
    }
    fn visit(v: &Value, out: &mut Vec<(Kind, String)>) {
        match v {
            Value::Object(o) => {
                let person = matches!(
                    o.get("resourceType").and_then(Value::as_str),
                    Some("Patient" | "RelatedPerson" | "Practitioner")
                );
                if person {
                    for name in o
                        .get("name")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let parts: Vec<&str> = strings(name.get("given"))
                            .chain(strings(name.get("family")))
                            .collect();
                        if !parts.is_empty() {
                            out.push((Kind::Name, parts.join(" ")));
                        }
                        out.extend(strings(name.get("text")).map(|t| (Kind::Name, t.to_owned())));
                    }
                    for t in o
                        .get("telecom")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let kind = match t.get("system").and_then(Value::as_str) {
                            Some("email") => Kind::Email,
                            Some("fax") => Kind::Fax,
                            Some("url") => Kind::Url,
                            _ => Kind::Phone,
                        };
                        out.extend(strings(t.get("value")).map(|v| (kind, v.to_owned())));
                    }
                    for a in o
                        .get("address")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        out.extend(strings(a.get("line")).map(|l| (Kind::Address, l.to_owned())));
                        out.extend(strings(a.get("city")).map(|c| (Kind::Location, c.to_owned())));
                        out.extend(
                            strings(a.get("district")).map(|c| (Kind::Location, c.to_owned())),
                        );
                        out.extend(strings(a.get("postalCode")).map(|z| (Kind::Zip, z.to_owned())));
                    }
                    out.extend(strings(o.get("birthDate")).map(|d| (Kind::Date, d.to_owned())));
                    for id in o
                        .get("identifier")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        out.extend(strings(id.get("value")).map(|v| (Kind::Id, v.to_owned())));
                    }
                }
                for (k, child) in o {
                    if matches!(k.as_str(), "entry" | "resource" | "contained") {
                        visit(child, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| visit(c, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    visit(resource, &mut out);
    out
}

/// The Patient id behind each `urn:uuid` / absolute full URL of a Bundle's Patient entries.
fn bundle_patients(bundle: &Value) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for e in bundle
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(url), Some(r)) = (e.get("fullUrl").and_then(Value::as_str), e.get("resource"))
        else {
            continue;
        };
        if r["resourceType"] == "Patient" {
            let id = r.get("id").and_then(Value::as_str).unwrap_or(url);
            m.insert(url.to_owned(), id.to_owned());
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsofts_vectors() {
        assert_eq!(ms_offset("example", "123"), 41);
        assert_eq!(ms_offset("", "dummy"), -21);
        assert_eq!(
            data_encoding::HEXLOWER.encode(&hmac(b"123", "abc")),
            "8f16771f9f8851b26f4d460fa17de93e2711c7e51337cb8a608a0f81e1c1b6ae"
        );
        let d = NaiveDate::from_ymd_opt(2015, 1, 17).unwrap();
        assert_eq!(
            shifted("2015-02-07T13:28:17-05:00", d, "dateTime"),
            "2015-01-17T00:00:00-05:00"
        );
        assert_eq!(
            shifted("2015-02-07T13:28:17Z", d, "dateTime"),
            "2015-01-17T00:00:00Z"
        );
        assert_eq!(
            shifted("2015-02-07T13:28:17Z", d, "instant"),
            "2015-01-17T00:00:00+00:00"
        );
        assert_eq!(
            shifted("2015-02-07T13:28:17.12345-05:00", d, "dateTime"),
            "2015-01-17T00:00:00.00000-05:00"
        );
        assert_eq!(partial_zip("12345", &["036".into()]), "12300");
        assert_eq!(partial_zip("03601", &["036".into()]), "00000");
    }
}
