//! Scoring the detector against a gold corpus in the common JSONL format
//! (`{"id", "text", "spans": [{"start", "end", "type", "optional"?}]}`, offsets in code points).
//!
//! Binary recall: a required gold span is caught when every letter and digit in it is covered by
//! some predicted span, of any kind. Precision: a predicted span is right when it overlaps a gold
//! span; a prediction that touches only optional gold spans (years alone) counts neither way.
//! Token figures do the same per word. No text from the corpus enters the result.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::detect::Detector;
use crate::kind::{Kind, Span};

/// One note of a gold corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldNote {
    /// The note's identifier.
    pub id: String,
    /// The note's text.
    pub text: String,
    /// The gold spans.
    #[serde(default)]
    pub spans: Vec<GoldSpan>,
}

/// One gold span; `start`/`end` are code-point offsets.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldSpan {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// Coarse type: `NAME DATE AGE LOCATION ID CONTACT PROFESSION OTHER`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Not required by Safe Harbor (a year alone).
    #[serde(default)]
    pub optional: bool,
}

/// Why a corpus could not be read: the line, never its content.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// The file could not be read.
    #[error("cannot read the gold file: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a gold note.
    #[error("line {line}: not a gold note in the common JSONL format ({reason})")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong, without the line's content.
        reason: String,
    },
}

/// Reads a gold corpus.
pub fn read_gold(reader: impl BufRead) -> Result<Vec<GoldNote>, GoldError> {
    let mut notes = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let note: GoldNote = serde_json::from_str(&line).map_err(|e| GoldError::Line {
            line: i + 1,
            reason: format!("{} at column {}", category(&e), e.column()),
        })?;
        let chars = note.text.chars().count();
        if let Some(bad) = note
            .spans
            .iter()
            .find(|s| s.start >= s.end || s.end > chars)
        {
            return Err(GoldError::Line {
                line: i + 1,
                reason: format!("span {}..{} outside the text", bad.start, bad.end),
            });
        }
        notes.push(note);
    }
    Ok(notes)
}

fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "missing or wrong field",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// Counts for one type or for all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Required gold spans.
    pub gold: usize,
    /// Required gold spans fully covered.
    pub caught: usize,
    /// Predicted spans that count (not only on optional gold).
    pub predicted: usize,
    /// Predicted spans overlapping gold.
    pub correct: usize,
}

impl Counts {
    /// Caught / gold.
    pub fn recall(&self) -> f64 {
        ratio(self.caught, self.gold)
    }
    /// Correct / predicted.
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }
    /// F2: recall weighted four times precision.
    pub fn f2(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            5.0 * p * r / (4.0 * p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The result of an evaluation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    /// Notes scored.
    pub notes: usize,
    /// Bytes of text scored.
    pub bytes: usize,
    /// Span figures over all types.
    pub all: Counts,
    /// Recall per gold type; precision per predicted type (mapped to gold types).
    pub by_type: BTreeMap<String, Counts>,
    /// Word-level: required gold words, those covered, predicted words, those in gold.
    pub tokens: Counts,
}

/// Byte offset of every code point index, plus the end.
fn byte_offsets(text: &str) -> Vec<usize> {
    let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    v.push(text.len());
    v
}

fn word_ranges(text: &str, r: Range<usize>) -> impl Iterator<Item = Range<usize>> + '_ {
    let b = text.as_bytes();
    let mut i = r.start;
    std::iter::from_fn(move || {
        while i < r.end && !b[i].is_ascii_alphanumeric() && b[i] < 0x80 {
            i += 1;
        }
        if i >= r.end {
            return None;
        }
        let s = i;
        while i < r.end && (b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
            i += 1;
        }
        Some(s..i)
    })
}

/// Scores `predict` (any detector) on `notes`.
pub fn evaluate(notes: &[GoldNote], mut predict: impl FnMut(&str) -> Vec<Span>) -> Evaluation {
    let mut ev = Evaluation::default();
    for note in notes {
        ev.notes += 1;
        ev.bytes += note.text.len();
        let text = note.text.as_str();
        let offs = byte_offsets(text);
        let gold: Vec<(Range<usize>, &str, bool)> = note
            .spans
            .iter()
            .map(|s| (offs[s.start]..offs[s.end], s.kind.as_str(), s.optional))
            .collect();
        let predicted = predict(text);
        let mut covered = vec![false; text.len()];
        for p in &predicted {
            for c in &mut covered[p.start..p.end.min(text.len())] {
                *c = true;
            }
        }
        let mut in_gold = vec![0u8; text.len()]; // 1 required, 2 optional only
        for (r, _, optional) in &gold {
            for c in &mut in_gold[r.clone()] {
                *c = if *optional && *c != 1 { 2 } else { 1 };
            }
        }
        for (r, kind, optional) in &gold {
            if *optional {
                continue;
            }
            let caught = word_ranges(text, r.clone()).all(|w| covered[w].iter().all(|&c| c));
            for counts in [
                &mut ev.all,
                ev.by_type.entry((*kind).to_owned()).or_default(),
            ] {
                counts.gold += 1;
                counts.caught += usize::from(caught);
            }
            for w in word_ranges(text, r.clone()) {
                ev.tokens.gold += 1;
                ev.tokens.caught += usize::from(covered[w].iter().all(|&c| c));
            }
        }
        for p in &predicted {
            let r = p.start..p.end.min(text.len());
            let words: Vec<Range<usize>> = word_ranges(text, r.clone()).collect();
            let touches_required = words.iter().any(|w| in_gold[w.clone()].contains(&1));
            let touches_optional = words.iter().any(|w| in_gold[w.clone()].contains(&2));
            if touches_optional && !touches_required {
                continue;
            }
            for counts in [
                &mut ev.all,
                ev.by_type.entry(gold_type(p.kind).to_owned()).or_default(),
            ] {
                counts.predicted += 1;
                counts.correct += usize::from(touches_required);
            }
            for w in words {
                if in_gold[w.clone()].iter().all(|&g| g == 2) {
                    continue;
                }
                ev.tokens.predicted += 1;
                ev.tokens.correct += usize::from(in_gold[w].iter().any(|&g| g != 0));
            }
        }
    }
    ev
}

/// Scores airlock's own detector.
pub fn evaluate_detector(notes: &[GoldNote], detector: &Detector) -> Evaluation {
    evaluate(notes, |t| detector.detect(t))
}

/// The coarse type of the common gold format (`NAME DATE AGE LOCATION ID CONTACT`).
pub fn gold_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Name => "NAME",
        Kind::Address | Kind::Location | Kind::Zip => "LOCATION",
        Kind::Date => "DATE",
        Kind::Age => "AGE",
        Kind::Phone | Kind::Fax | Kind::Email | Kind::Url | Kind::Ip => "CONTACT",
        Kind::Ssn
        | Kind::Mrn
        | Kind::HealthPlan
        | Kind::Account
        | Kind::License
        | Kind::Vehicle
        | Kind::Device
        | Kind::Biometric
        | Kind::Photo
        | Kind::Id => "ID",
        Kind::Profession => "PROFESSION",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str, spans: &[(usize, usize, &str, bool)]) -> GoldNote {
        GoldNote {
            id: "1-1".into(),
            text: text.into(),
            spans: spans
                .iter()
                .map(|&(start, end, kind, optional)| GoldSpan {
                    start,
                    end,
                    kind: kind.into(),
                    optional,
                })
                .collect(),
        }
    }

    fn span(start: usize, end: usize) -> Span {
        Span {
            start,
            end,
            kind: Kind::Name,
            confidence: 1.0,
        }
    }

    #[test]
    fn recall_needs_every_word_character_covered() {
        let notes = [note("Dr. Ann Lee saw pt", &[(4, 11, "NAME", false)])];
        let full = evaluate(&notes, |_| vec![span(4, 11)]);
        assert_eq!((full.all.caught, full.all.gold), (1, 1));
        let partial = evaluate(&notes, |_| vec![span(4, 7)]);
        assert_eq!(partial.all.caught, 0);
        let in_pieces = evaluate(&notes, |_| vec![span(4, 7), span(8, 11)]);
        assert_eq!(in_pieces.all.caught, 1);
        assert_eq!(in_pieces.all.correct, 2);
        assert_eq!(in_pieces.tokens.caught, 2);
    }

    #[test]
    fn optional_spans_are_neither_required_nor_false_positives() {
        let notes = [note(
            "MI in 1992, seen 3/4",
            &[(6, 10, "DATE", true), (17, 20, "DATE", false)],
        )];
        let ev = evaluate(&notes, |_| vec![span(6, 10), span(17, 20), span(0, 2)]);
        assert_eq!(ev.all.gold, 1);
        assert_eq!(ev.all.caught, 1);
        assert_eq!(ev.all.predicted, 2, "the year counts neither way");
        assert_eq!(ev.all.correct, 1);
        assert!((ev.all.precision() - 0.5).abs() < 1e-12);
        assert!((ev.all.f2() - 5.0 * 0.5 / (4.0 * 0.5 + 1.0)).abs() < 1e-12);
    }

    #[test]
    fn code_point_offsets_are_converted() {
        let text = "café Zoë Smith";
        let notes = [note(text, &[(5, 8, "NAME", false)])];
        let start = text.find("Zoë").expect("present");
        let ev = evaluate(&notes, |_| vec![span(start, start + "Zoë".len())]);
        assert_eq!(ev.all.caught, 1);
    }

    #[test]
    fn malformed_lines_name_the_line_not_the_content() {
        let bad = "{\"id\":\"1\",\"text\":\"Ann\",\"spans\":[]}\n{\"id\": \"SECRET-VALUE\"\n";
        let err = read_gold(bad.as_bytes()).expect_err("truncated");
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(!msg.contains("SECRET"), "{msg}");
        let out_of_range =
            "{\"id\":\"1\",\"text\":\"Ann\",\"spans\":[{\"start\":1,\"end\":9,\"type\":\"NAME\"}]}";
        assert!(read_gold(out_of_range.as_bytes()).is_err());
    }
}
