//! Developer tool: prints the spans the detector finds in each argument.
#![allow(clippy::print_stdout)]

fn main() {
    let det = airlock_text::Detector::new();
    for text in std::env::args().skip(1) {
        let spans = det.detect(&text);
        println!("{text}");
        for s in spans {
            println!("  {:<9} {:.2} {:?}", s.kind.tag(), s.confidence, &text[s.range()]);
        }
    }
}
