//! The guardrails: what a request may carry to an upstream, and what an answer may carry back.
//!
//! Input: every string of the request body (message contents, names, tool arguments, stop
//! sequences, anything but the few structural fields) goes through the free-text detector and
//! is blocked, redacted to typed tags, or pseudonymized with surrogates keyed for this request
//! only (the mapping lives in this request's memory). Parts that cannot be scanned (images,
//! audio, files, token arrays) are refused, never passed.
//!
//! Output: identifiers found in the answer that did not come from the caller (their own, or
//! the surrogates made for them) are redacted or end the answer. A stream is held back by a
//! small window so that an identifier split across chunks is seen whole before any of it is
//! released.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;

use airlock_core::keys::PurposeKey;
use airlock_core::text::TextContext;
use airlock_text::known::{Known, normalize};
use airlock_text::{Kind, TextEngine};

use crate::config::{InputAction, OutputAction};

/// Identifiers found, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub BTreeMap<Kind, u64>);

impl Counts {
    fn add(&mut self, kind: Kind) {
        *self.0.entry(kind).or_default() += 1;
    }

    /// The total.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `{"NAME": 2, ...}`.
    pub fn json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, n)| (k.tag().to_owned(), Value::from(*n)))
                .collect(),
        )
    }

    /// `NAME, DATE` (the kinds, never the text).
    pub fn kinds(&self) -> String {
        self.0
            .keys()
            .map(|k| k.tag())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why a request is refused before anything is sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The route blocks identifiers and these were found.
    Identifiers(Counts),
    /// A part the detector cannot read (an image, audio, a file, token ids).
    Unscannable(String),
    /// An object key, the model's name or another structural field that holds an identifier
    /// (they are not rewritten: a model name must stay the name).
    KeyIdentifier,
}

/// Whether a string is shaped like a model's id: 1 to 100 ASCII letters, digits and
/// `. _ - / : @`.
pub fn model_shaped(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b))
}

/// The roles a message may have.
const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Fields whose strings are structure, not content: never rewritten.
pub const STRUCTURAL: &[&str] = &[
    "model",
    "role",
    "type",
    "encoding_format",
    "service_tier",
    "reasoning_effort",
    "tool_choice",
    "tool_call_id",
    "id",
    "object",
    "finish_reason",
    "system_fingerprint",
    "created",
    "detail",
];

/// The content part types that are text.
const TEXT_PARTS: &[&str] = &["text", "input_text", "refusal", "output_text"];

/// One request's input pass: what was found, the surrogates made, what counts as the caller's
/// own in the answer.
pub struct InputPass {
    engine: Arc<TextEngine>,
    action: InputAction,
    key: PurposeKey,
    shift_days: i32,
    /// (kind, normalized original) → surrogate.
    forward: HashMap<(Kind, String), String>,
    /// surrogate → original, for rehydration.
    back: Vec<(String, String)>,
    surrogates: HashSet<String>,
    /// Normalized words of every identifier the caller sent and every surrogate made.
    own_words: HashSet<String>,
    /// Identifiers found, by kind.
    pub found: Counts,
    /// Every identifier the first reading found, looked for again in every string of the
    /// request (a name found after a cue in one message is found bare in another).
    known: Option<Known>,
    collected: Vec<(Kind, String)>,
    collecting: bool,
}

impl InputPass {
    /// A pass under `key` (this request's own) moving dates by `shift_days`.
    pub fn new(
        engine: Arc<TextEngine>,
        action: InputAction,
        key: PurposeKey,
        shift_days: i32,
    ) -> Self {
        Self {
            engine,
            action,
            key,
            shift_days,
            forward: HashMap::new(),
            back: Vec::new(),
            surrogates: HashSet::new(),
            own_words: HashSet::new(),
            found: Counts::default(),
            known: None,
            collected: Vec::new(),
            collecting: false,
        }
    }

    /// Rewrites every content string of a request body in place: a first reading finds the
    /// identifiers, the second finds them again wherever they recur and rewrites.
    pub fn body(&mut self, body: &mut Value) -> Result<(), Refused> {
        self.collecting = true;
        self.walk(body, None)?;
        self.collecting = false;
        if self.collected.is_empty() {
            // the first reading found nothing (and refused what it must): a second one would
            // run the same detector over the same strings and find nothing again
            return Ok(());
        }
        let values = std::mem::take(&mut self.collected);
        self.known = Some(Known::new(values.iter().map(|(k, v)| (*k, v.as_str()))));
        self.walk(body, None)?;
        if self.action == InputAction::Block && self.found.total() > 0 {
            return Err(Refused::Identifiers(self.found.clone()));
        }
        Ok(())
    }

    fn walk(&mut self, v: &mut Value, key: Option<&str>) -> Result<(), Refused> {
        match v {
            Value::String(s) => {
                if key.is_some_and(|k| STRUCTURAL.contains(&k)) {
                    // structure passes as it is, so it must be shaped like structure: a role
                    // is one of the known few, a model's name an id (no blanks, no free
                    // text; the detector reads "claude-3" as a name and a dated id as a date)
                    if key == Some("role") && !ROLES.contains(&s.as_str()) {
                        return Err(Refused::Unscannable(
                            "a message role it does not know".into(),
                        ));
                    }
                    if key == Some("model") && !model_shaped(s) {
                        return Err(Refused::KeyIdentifier);
                    }
                } else if self.collecting {
                    for span in self.engine.detect(s) {
                        self.collected.push((span.kind, s[span.range()].to_owned()));
                    }
                } else {
                    let new = self.text(s);
                    *s = new;
                }
            }
            Value::Array(items) => {
                // token ids cannot be read: an embeddings or completions input of numbers
                if matches!(key, Some("input" | "prompt"))
                    && items.iter().any(|i| i.is_number() || i.is_array())
                {
                    return Err(Refused::Unscannable("token ids".into()));
                }
                for item in items {
                    self.walk(item, key)?;
                }
            }
            Value::Object(map) => {
                if let Some(Value::String(t)) = map.get("type")
                    && key == Some("content")
                    && !TEXT_PARTS.contains(&t.as_str())
                {
                    return Err(Refused::Unscannable(format!(
                        "a content part of type {}",
                        airlock_core::shown::escape(t, 40)
                    )));
                }
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    if self.collecting
                        && !self
                            .engine
                            .detector()
                            .detect_in(&k, airlock_core::text::DetectionMode::Balanced, None)
                            .is_empty()
                    {
                        return Err(Refused::KeyIdentifier);
                    }
                    if let Some(child) = map.get_mut(&k) {
                        self.walk(child, Some(&k))?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// One string, rewritten by the route's action.
    pub fn text(&mut self, text: &str) -> String {
        let spans = self
            .engine
            .detector()
            .detect_with(text, self.known.as_ref());
        if spans.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 16);
        let mut last = 0;
        for s in &spans {
            let original = &text[s.range()];
            self.found.add(s.kind);
            let norm = normalize(original);
            self.own_words
                .extend(norm.split(' ').filter(|w| !w.is_empty()).map(str::to_owned));
            out.push_str(&text[last..s.start]);
            match self.action {
                InputAction::Allow | InputAction::Block => out.push_str(original),
                InputAction::Redact => {
                    out.push('[');
                    out.push_str(s.kind.tag());
                    out.push(']');
                }
                InputAction::Pseudonymize => {
                    let surrogate = self.surrogate(s.kind, original, &norm);
                    out.push_str(&surrogate);
                }
            }
            last = s.end;
        }
        out.push_str(&text[last..]);
        out
    }

    /// The request's surrogate for `original`: the same for the same identifier throughout
    /// the request, different for different ones (a collision is salted away, or falls back
    /// to a numbered tag).
    fn surrogate(&mut self, kind: Kind, original: &str, norm: &str) -> String {
        if let Some(s) = self.forward.get(&(kind, norm.to_owned())) {
            return s.clone();
        }
        let mut made = String::new();
        for salt in 0..8u8 {
            made.clear();
            let salted = format!("{salt}\u{0}");
            let ctx = TextContext {
                patient: Some(&salted),
                date_shift_days: Some(self.shift_days),
                known: &[],
                prepared: None,
            };
            self.engine
                .surrogate_under(&self.key, kind, original, &ctx, &mut made);
            // a surrogate must be new, not a tag, and not the original itself
            if !made.starts_with('[')
                && normalize(&made) != norm
                && !self.surrogates.contains(&made)
            {
                break;
            }
            made.clear();
        }
        if made.is_empty() {
            made = format!("[{}-{}]", kind.tag(), self.back.len() + 1);
        }
        self.own_words.extend(
            normalize(&made)
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
        );
        self.surrogates.insert(made.clone());
        self.back.push((made.clone(), original.to_owned()));
        self.forward.insert((kind, norm.to_owned()), made.clone());
        made
    }

    /// The answer's filter: identifiers the caller sent (or their surrogates) pass, others
    /// do not; with `rehydrate`, surrogates become the caller's identifiers again.
    pub fn output(&self, action: OutputAction, rehydrate: bool) -> OutputFilter {
        let back = if rehydrate && !self.back.is_empty() {
            let patterns: Vec<&str> = self.back.iter().map(|(s, _)| s.as_str()).collect();
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns)
                .ok()
                .map(|ac| (ac, self.back.iter().map(|(_, o)| o.clone()).collect()))
        } else {
            None
        };
        OutputFilter {
            engine: self.engine.clone(),
            action,
            own_words: self.own_words.clone(),
            back,
            found: Counts::default(),
        }
    }
}

/// What an answer may say. One per request; streams keep a [`Held`] per text field.
pub struct OutputFilter {
    engine: Arc<TextEngine>,
    action: OutputAction,
    own_words: HashSet<String>,
    back: Option<(AhoCorasick, Vec<String>)>,
    /// Identifiers found that were not the caller's, by kind.
    pub found: Counts,
}

/// An identifier that is not the caller's, in a route that blocks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut(pub Counts);

/// Bytes of a stream held back before release: longer than any identifier the detector
/// finds whole, so that one split across chunks is seen in one piece.
pub const HOLD: usize = 96;

/// Bytes of released text kept as context for the detector's cues ("Dr.", "lives at").
const CONTEXT: usize = 160;

/// One streamed text field's state.
#[derive(Debug, Default)]
pub struct Held {
    held: String,
    /// The last released raw text (context only).
    tail: String,
}

impl OutputFilter {
    /// A whole answer's text.
    pub fn text(&mut self, text: &str) -> Result<String, Cut> {
        let (_, out) = self.release("", text, text.len())?;
        Ok(out)
    }

    /// A stream's next chunk of one field: what may be released now (maybe nothing).
    pub fn push(&mut self, h: &mut Held, chunk: &str) -> Result<String, Cut> {
        h.held.push_str(chunk);
        if h.held.len() <= HOLD {
            return Ok(String::new());
        }
        let mut cut = floor_boundary(&h.held, h.held.len() - HOLD);
        match h.held[..cut].rfind(char::is_whitespace) {
            Some(ws) => cut = ws + h.held[ws..].chars().next().map_or(1, char::len_utf8),
            // one very long word: released in pieces all the same
            None if h.held.len() > 4 * HOLD => {}
            None => return Ok(String::new()),
        }
        self.advance(h, cut)
    }

    /// The rest of a stream's field, at its end.
    pub fn finish(&mut self, h: &mut Held) -> Result<String, Cut> {
        let end = h.held.len();
        self.advance(h, end)
    }

    fn advance(&mut self, h: &mut Held, cut: usize) -> Result<String, Cut> {
        let held = std::mem::take(&mut h.held);
        let (cut, out) = self.release(&h.tail, &held, cut)?;
        h.tail.push_str(&held[..cut]);
        if h.tail.len() > CONTEXT {
            let from = floor_boundary(&h.tail, h.tail.len() - CONTEXT);
            h.tail.drain(..from);
        }
        h.held = held[cut..].to_owned();
        Ok(out)
    }

    /// Releases `held[..cut]` (after `tail`, already released), moving `cut` back so that no
    /// identifier or surrogate straddles it; returns the cut used and the text to send.
    fn release(&mut self, tail: &str, held: &str, mut cut: usize) -> Result<(usize, String), Cut> {
        let joined = format!("{tail}{held}");
        let offset = tail.len();
        // identifiers in held coordinates (one begun in the released tail: its held part)
        let mut spans: Vec<(usize, usize, Kind)> = self
            .engine
            .detect(&joined)
            .into_iter()
            .filter(|s| s.end > offset)
            .filter(|s| !self.is_own(&joined[s.range()]))
            .map(|s| (s.start.saturating_sub(offset), s.end - offset, s.kind))
            .collect();
        let rehydrations: Vec<(usize, usize, usize)> = self
            .back
            .as_ref()
            .map(|(ac, _)| {
                ac.find_iter(held)
                    .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                    .collect()
            })
            .unwrap_or_default();
        if cut < held.len() {
            // no identifier or surrogate may straddle the cut; a surrogate's prefix at the
            // end stays held too
            loop {
                let before = cut;
                for &(s, e, _) in &spans {
                    if s < cut && cut < e {
                        cut = s;
                    }
                }
                for &(s, e, _) in &rehydrations {
                    if s < cut && cut < e {
                        cut = s;
                    }
                }
                if cut == before {
                    break;
                }
            }
        }
        spans.retain(|&(_, e, _)| e <= cut);
        if spans.is_empty() && rehydrations.is_empty() {
            return Ok((cut, held[..cut].to_owned()));
        }
        let mut found = Counts::default();
        for &(_, _, kind) in &spans {
            found.add(kind);
        }
        if self.action == OutputAction::Block && found.total() > 0 {
            return Err(Cut(found));
        }
        for (k, n) in found.0 {
            *self.found.0.entry(k).or_default() += n;
        }
        let mut out = String::with_capacity(cut + 16);
        let mut last = 0;
        let mut spans = spans.into_iter().peekable();
        let mut rehydrations = rehydrations.into_iter().filter(|r| r.1 <= cut).peekable();
        loop {
            let next_span = spans.peek().map(|s| s.0);
            let next_back = rehydrations.peek().map(|r| r.0);
            match (next_span, next_back) {
                (Some(s), b) if b.is_none_or(|b| s <= b) => {
                    let Some((s, e, kind)) = spans.next() else {
                        break;
                    };
                    if s >= last {
                        out.push_str(&held[last..s]);
                        out.push('[');
                        out.push_str(kind.tag());
                        out.push(']');
                        last = e;
                    }
                }
                (_, Some(_)) => {
                    let Some((s, e, i)) = rehydrations.next() else {
                        break;
                    };
                    if s >= last
                        && let Some((_, originals)) = &self.back
                    {
                        out.push_str(&held[last..s]);
                        out.push_str(&originals[i]);
                        last = e;
                    }
                }
                _ => break,
            }
        }
        out.push_str(&held[last..cut]);
        Ok((cut, out))
    }

    /// Whether every word of a found identifier is a word of one the caller sent (or of a
    /// surrogate made for them).
    fn is_own(&self, text: &str) -> bool {
        let norm = normalize(text);
        let mut words = norm.split(' ').filter(|w| !w.is_empty()).peekable();
        words.peek().is_some() && words.all(|w| self.own_words.contains(w))
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::{Purpose, WorkspaceSecret};

    fn engine() -> Arc<TextEngine> {
        Arc::new(TextEngine::without_key())
    }

    fn key() -> PurposeKey {
        WorkspaceSecret::from_bytes([9; 32]).derive(Purpose::Surrogate)
    }

    const NOTE: &str =
        "Patient John Smith (MRN 4455667) was seen on 03/14/2024. Call 617-555-0199.";

    #[test]
    fn redact_replaces_identifiers_with_tags_and_counts_them() {
        let e = engine();
        let mut pass = InputPass::new(e.clone(), InputAction::Redact, key(), 30);
        let out = pass.text(NOTE);
        assert!(!out.contains("Smith") && !out.contains("4455667") && !out.contains("0199"));
        assert!(out.contains("[NAME]"), "{out}");
        assert!(pass.found.0[&Kind::Name] >= 1);
        assert!(pass.found.total() >= 4, "{:?}", pass.found);
    }

    #[test]
    fn block_refuses_with_kinds_only() {
        let e = engine();
        let mut pass = InputPass::new(e.clone(), InputAction::Block, key(), 30);
        let mut body =
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": NOTE}]});
        let Err(Refused::Identifiers(c)) = pass.body(&mut body) else {
            panic!("not blocked");
        };
        assert!(c.kinds().contains("NAME"));
        assert!(!c.kinds().contains("Smith"));
        // nothing found, nothing blocked
        let mut pass = InputPass::new(e.clone(), InputAction::Block, key(), 30);
        let mut body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "What is the dose of metformin for type 2 diabetes?"}]});
        pass.body(&mut body).unwrap();
    }

    #[test]
    fn pseudonyms_are_consistent_and_rehydrate_back() {
        let e = engine();
        let mut pass = InputPass::new(e.clone(), InputAction::Pseudonymize, key(), 30);
        let mut body = serde_json::json!({"messages": [
            {"role": "system", "content": "Patient John Smith was seen."},
            {"role": "user", "content": "John Smith is stable. Is Smith fit for discharge?"}]});
        pass.body(&mut body).unwrap();
        let a = body.to_string();
        assert!(!a.contains("John") && !a.contains("Smith"), "{a}");
        let (s, _) = pass.back[0].clone();
        assert_eq!(a.matches(&s).count(), 2, "{a}");
        assert_eq!(pass.found.0[&Kind::Name], 3, "{:?}", pass.found);
        let mut filter = pass.output(OutputAction::Redact, true);
        let answer = format!("Summary: {s} is stable; follow up with {s}.");
        let back = filter.text(&answer).unwrap();
        assert_eq!(
            back,
            "Summary: John Smith is stable; follow up with John Smith."
        );
        assert_eq!(filter.found.total(), 0);
    }

    #[test]
    fn foreign_identifiers_are_redacted_or_cut_and_own_ones_pass() {
        let e = engine();
        let mut pass = InputPass::new(e.clone(), InputAction::Allow, key(), 30);
        pass.text(NOTE);
        let mut filter = pass.output(OutputAction::Redact, false);
        let out = filter
            .text("John Smith should call Dr. Margaret Oyelaran-Whitby at 212-555-0147.")
            .unwrap();
        assert!(out.starts_with("John Smith"), "{out}");
        assert!(!out.contains("Oyelaran") && !out.contains("0147"), "{out}");
        assert!(filter.found.total() >= 2);
        let mut filter = pass.output(OutputAction::Block, false);
        assert!(filter.text("Call Dr. Margaret Oyelaran-Whitby.").is_err());
        assert!(filter.text("John Smith is well.").is_ok());
    }

    #[test]
    fn an_identifier_split_across_stream_chunks_is_caught() {
        let e = engine();
        let pass = InputPass::new(e.clone(), InputAction::Redact, key(), 30);
        let answer = "The results are normal and nothing more is needed today. Please contact Dr. Margaret Oyelaran-Whitby at 212-555-0147 with any questions about the plan we discussed.";
        for size in [1, 2, 3, 5, 8, 13, 40] {
            let mut filter = pass.output(OutputAction::Redact, false);
            let mut held = Held::default();
            let mut out = String::new();
            let bytes: Vec<char> = answer.chars().collect();
            for chunk in bytes.chunks(size) {
                let chunk: String = chunk.iter().collect();
                out.push_str(&filter.push(&mut held, &chunk).unwrap());
            }
            out.push_str(&filter.finish(&mut held).unwrap());
            assert!(
                !out.contains("Oyelaran") && !out.contains("Whitby") && !out.contains("0147"),
                "{size}: {out}"
            );
            assert!(out.starts_with("The results are normal"), "{size}: {out}");
            assert!(out.ends_with("the plan we discussed."), "{size}: {out}");
        }
    }

    #[test]
    fn a_surrogate_split_across_chunks_is_rehydrated() {
        let e = engine();
        let mut pass = InputPass::new(e.clone(), InputAction::Pseudonymize, key(), 30);
        pass.text("Patient John Smith was seen.");
        let (s, _) = pass.back[0].clone();
        let answer = format!(
            "Thank you for the note about {s}, whom I saw in clinic; {s} should return in two weeks for review of the results."
        );
        for size in [1, 3, 7] {
            let mut filter = pass.output(OutputAction::Block, true);
            let mut held = Held::default();
            let mut out = String::new();
            let chars: Vec<char> = answer.chars().collect();
            for chunk in chars.chunks(size) {
                out.push_str(
                    &filter
                        .push(&mut held, &chunk.iter().collect::<String>())
                        .unwrap(),
                );
            }
            out.push_str(&filter.finish(&mut held).unwrap());
            assert_eq!(out.matches("John Smith").count(), 2, "{size}: {out}");
            assert!(!out.contains(&s));
        }
    }

    proptest::proptest! {
        /// However an answer is cut into chunks, the stream releases what the whole answer
        /// filtered at once gives, and no identifier the caller did not send survives.
        #[test]
        fn chunking_never_changes_what_is_released(
            which in 0usize..4,
            cuts in proptest::collection::vec(1usize..12, 1..80),
        ) {
            let answers = [
                "Please contact Dr. Margaret Oyelaran-Whitby at 212-555-0147 about the results.",
                "John Smith is stable. Call 617-555-0199 or email j.smith@example.com to book.",
                "Seen on 03/14/2024 at 12 Quarry Lane, Bangor by Dr. Ngozi Abernathy-Quist today.",
                "No identifiers here: blood pressure 128/82, metformin 500 mg twice daily.",
            ];
            let e = engine();
            let mut pass = InputPass::new(e.clone(), InputAction::Redact, key(), 30);
            pass.text("Patient John Smith (MRN 4455667) was seen.");
            let answer = answers[which];
            let whole = pass.output(OutputAction::Redact, false).text(answer).unwrap();
            let mut filter = pass.output(OutputAction::Redact, false);
            let mut held = Held::default();
            let (mut out, mut at) = (String::new(), 0);
            let chars: Vec<char> = answer.chars().collect();
            for c in cuts.iter().cycle() {
                if at >= chars.len() {
                    break;
                }
                let end = (at + c).min(chars.len());
                let chunk: String = chars[at..end].iter().collect();
                out.push_str(&filter.push(&mut held, &chunk).unwrap());
                at = end;
            }
            out.push_str(&filter.finish(&mut held).unwrap());
            proptest::prop_assert_eq!(&out, &whole);
            for secret in ["Oyelaran", "0147", "Abernathy", "Quarry", "j.smith@"] {
                proptest::prop_assert!(!out.contains(secret), "{}", out);
            }
        }
    }

    /// Any JSON value built of objects, arrays, numbers and strings, some of which carry a
    /// patient's identifiers; keys from a fixed set of request fields.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-1000i64..1000).prop_map(Value::from),
            prop_oneof![
                Just("Patient John Smith (MRN 4455667) was seen."),
                Just("call 617-555-0199 or write to j.smith@example.com"),
                Just("blood pressure 128/82, metformin 500 mg"),
                Just("gpt-4o"),
                Just("user"),
            ]
            .prop_map(|s| Value::String(s.to_owned())),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("messages"),
                            Just("content"),
                            Just("text"),
                            Just("model"),
                            Just("role"),
                            Just("metadata"),
                            Just("stop"),
                        ],
                        inner
                    ),
                    0..5
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    /// Every string of `v` under a structural key, in order.
    fn structural(v: &Value, key: Option<&str>, out: &mut Vec<String>) {
        match v {
            Value::String(s) if key.is_some_and(|k| STRUCTURAL.contains(&k)) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| structural(i, key, out)),
            Value::Object(m) => m.iter().for_each(|(k, v)| structural(v, Some(k), out)),
            _ => {}
        }
    }

    proptest::proptest! {
        /// Whatever the shape of a request, no identifier survives in a string it sends,
        /// and the structural fields are sent as they came; a request is refused only for a
        /// content part it cannot read.
        #[test]
        fn no_identifier_survives_any_request_shape(body in json_value()) {
            let e = engine();
            for action in [InputAction::Redact, InputAction::Pseudonymize] {
                let mut sent = body.clone();
                let mut pass = InputPass::new(e.clone(), action, key(), 30);
                match pass.body(&mut sent) {
                    Ok(()) => {
                        let (mut before, mut after) = (Vec::new(), Vec::new());
                        structural(&body, None, &mut before);
                        structural(&sent, None, &mut after);
                        proptest::prop_assert_eq!(&before, &after);
                        let mut strings = after;
                        collect_strings(&sent, None, &mut strings);
                        for s in strings {
                            for needle in ["Smith", "4455667", "555-0199", "j.smith@"] {
                                proptest::prop_assert!(!s.contains(needle), "{} in {}", needle, s);
                            }
                        }
                    }
                    // what cannot be rewritten is refused, never sent
                    Err(Refused::Unscannable(_) | Refused::KeyIdentifier) => {}
                    Err(other) => proptest::prop_assert!(false, "refused: {:?}", other),
                }
            }
        }
    }

    /// Every non-structural string of `v`.
    fn collect_strings(v: &Value, key: Option<&str>, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !key.is_some_and(|k| STRUCTURAL.contains(&k)) => {
                out.push(s.clone())
            }
            Value::Array(items) => items.iter().for_each(|i| collect_strings(i, key, out)),
            Value::Object(m) => m.iter().for_each(|(k, v)| collect_strings(v, Some(k), out)),
            _ => {}
        }
    }

    #[test]
    fn unscannable_parts_and_token_ids_are_refused() {
        let e = engine();
        let mut pass = InputPass::new(e.clone(), InputAction::Redact, key(), 30);
        let mut body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]});
        assert!(matches!(pass.body(&mut body), Err(Refused::Unscannable(_))));
        let mut body = serde_json::json!({"model": "m", "input": [[1, 2, 3]]});
        assert!(matches!(pass.body(&mut body), Err(Refused::Unscannable(_))));
        let mut body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Patient John Smith was seen."}]}], "user": "john.smith@example.com"});
        pass.body(&mut body).unwrap();
        let text = body.to_string();
        assert!(
            !text.contains("Smith") && !text.contains("john.smith"),
            "{text}"
        );
        assert!(text.contains("\"model\":\"m\"") && text.contains("\"type\":\"text\""));
    }
}
