//! The canary notes are what a leak check stands on: every identifier in them must be one the
//! text detector removes, in every layout, under redaction and surrogates alike, or the demo
//! would report leaks that are the note's fault. Checked over many random canaries.

use airlock_canary::check::{Searcher, check_text};
use airlock_canary::identity::Identity;
use airlock_canary::{Canary, CanaryFile, Kind, Planted};
use airlock_core::keys::{Purpose, WorkspaceSecret};
use airlock_core::text::{TextContext, TextMode, TextScrubber};
use airlock_text::TextEngine;
use rand::SeedableRng;

fn canary_of(who: &Identity) -> CanaryFile {
    CanaryFile::new(vec![Canary {
        id: "canary-01".into(),
        row: None,
        values: who
            .identifiers()
            .into_iter()
            .map(|(kind, value)| Planted {
                column: None,
                kind: Some(kind),
                value,
                search: true,
            })
            .collect(),
    }])
}

#[test]
fn every_identifier_in_a_canary_note_is_removed_and_found_before() {
    let keyed = TextEngine::new(
        WorkspaceSecret::generate()
            .unwrap()
            .derive(Purpose::Surrogate),
    );
    let redact = TextEngine::without_key();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_123);
    for n in 0..150 {
        let who = Identity::generate(&mut rng, 1900..=1905, 1915..=1919);
        let file = canary_of(&who);
        let searcher = Searcher::new(&file).unwrap();
        // a five-digit ZIP is the one identifier too short to tell from other numbers
        assert!(searcher.not_searchable.iter().all(|v| v.2 == Kind::Zip));
        let note = who.note(n);
        let before = check_text(&searcher, &note);
        assert!(
            before.len() >= 20,
            "variant {}: {} hits before",
            n % 3,
            before.len()
        );
        let ctx = TextContext {
            patient: Some(&who.mrn),
            date_shift_days: Some(-40),
            known: &[],
            prepared: None,
        };
        for (engine, mode) in [(&redact, TextMode::Redact), (&keyed, TextMode::Surrogate)] {
            let mut out = String::new();
            engine.scrub(&note, mode, &ctx, &mut out);
            let left: Vec<_> = check_text(&searcher, &out)
                .into_iter()
                .map(|h| (h.kind, h.form))
                .collect();
            assert!(
                left.is_empty(),
                "variant {} {mode:?}: {left:?}\n{note}\n{out}",
                n % 3
            );
        }
    }
}
