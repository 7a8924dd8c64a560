//! One detector, one verdict: `text redact`, `text surrogate`, the table engine's text
//! actions (which call the same `TextScrubber::scrub`) and `scan` find the same spans in the
//! same text, over a generated corpus of unseen notes and prompts, in both modes.

#![allow(clippy::unwrap_used)]

use airlock_core::keys::{Purpose, WorkspaceSecret};
use airlock_core::text::{DetectionMode, TextContext, TextMode, TextScrubber};
use airlock_text::TextEngine;

#[test]
fn redact_surrogate_and_scan_find_the_same_spans() {
    let corpus = airlock_canary::corpus::generate(77, 60, 60);
    for mode in [DetectionMode::Strict, DetectionMode::Balanced] {
        let keyed =
            TextEngine::new(WorkspaceSecret::from_bytes([9; 32]).derive(Purpose::Surrogate))
                .with_mode(mode);
        let plain = TextEngine::without_key().with_mode(mode);
        let ctx = TextContext {
            patient: Some("P1"),
            date_shift_days: Some(11),
            known: &[],
            prepared: None,
        };
        for note in &corpus {
            let spans: Vec<_> = plain.detect(&note.text).iter().map(|s| s.range()).collect();
            let mut out = String::new();
            let redacted = plain.scrub(&note.text, TextMode::Redact, &ctx, &mut out);
            out.clear();
            let surrogates = keyed.scrub(&note.text, TextMode::Surrogate, &ctx, &mut out);
            let mut scanned = Vec::new();
            plain.scan(&note.text, &mut |f| scanned.push(f.span));
            assert_eq!(redacted, spans.len(), "{}", note.id);
            assert_eq!(surrogates, spans.len(), "{}", note.id);
            // the scan leaves out only values reserved for fiction (none in this corpus)
            assert_eq!(scanned, spans, "{} ({mode:?})", note.id);
        }
    }
}
