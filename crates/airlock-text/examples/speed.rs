//! Developer tool: detection and surrogate speed over a gold corpus, repeated.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use airlock_core::keys::{Purpose, WorkspaceSecret};
use airlock_core::text::{TextContext, TextMode, TextScrubber};
use airlock_text::eval::read_gold;

fn main() {
    let path = std::env::args().nth(1).expect("gold file");
    let reps: usize = std::env::args().nth(2).map_or(5, |r| r.parse().unwrap());
    let notes = read_gold(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
    let engine = airlock_text::TextEngine::new(
        WorkspaceSecret::from_bytes([1; 32]).derive(Purpose::Surrogate),
    );
    let bytes: usize = notes.iter().map(|n| n.text.len()).sum();
    engine.detect("warm");
    let t = std::time::Instant::now();
    let mut spans = 0;
    for _ in 0..reps {
        for n in &notes {
            spans += engine.detect(&n.text).len();
        }
    }
    let d = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let mut out = String::new();
    for _ in 0..reps {
        for n in &notes {
            out.clear();
            engine.scrub(
                &n.text,
                TextMode::Surrogate,
                &TextContext {
                    patient: Some(&n.id),
                    date_shift_days: None,
                    known: &[],
                    prepared: None,
                },
                &mut out,
            );
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "detect {:.1} MB/s, detect+surrogate {:.1} MB/s ({spans} spans)",
        (bytes * reps) as f64 / d / 1e6,
        (bytes * reps) as f64 / s / 1e6
    );
}
