//! Developer tool: prints the spans the detector finds in each argument, and which of them the
//! residual scan would report (surrogate values are not reported).
#![allow(clippy::print_stdout)]

use airlock_core::text::TextScrubber;

fn main() {
    let engine = airlock_text::TextEngine::without_key();
    for text in std::env::args().skip(1) {
        println!("{text}");
        for s in engine.detect(&text) {
            println!(
                "  {:<9} {:.2} {:?}",
                s.kind.tag(),
                s.confidence,
                &text[s.range()]
            );
        }
        engine.scan(&text, &mut |f| {
            println!("  scan: {} {:?}", f.kind, &text[f.span])
        });
    }
}
