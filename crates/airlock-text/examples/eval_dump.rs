//! Developer tool: scores the detector on a gold corpus and writes every miss and false
//! positive with its context to stdout (or, with `spans`, every detected span). For the developer's eyes on the dev corpus only; the
//! shipped `airlock eval text` prints figures, never text.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use airlock_text::Detector;
use airlock_text::eval::{evaluate_detector, read_gold};

fn main() {
    let path = std::env::args().nth(1).expect("gold file");
    let what = std::env::args().nth(2).unwrap_or_default();
    let notes = read_gold(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
    let det = Detector::new();
    let t = std::time::Instant::now();
    let ev = evaluate_detector(&notes, &det);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "recall {:.4} precision {:.4} f2 {:.4} | tokens r {:.4} p {:.4} | {} gold {} predicted | {:.1} MB/s",
        ev.all.recall(),
        ev.all.precision(),
        ev.all.f2(),
        ev.tokens.recall(),
        ev.tokens.precision(),
        ev.all.gold,
        ev.all.predicted,
        ev.bytes as f64 / secs / 1e6
    );
    for (k, c) in &ev.by_type {
        println!(
            "  {k:<9} gold {:>5} caught {:>5} r {:.3} | pred {:>5} ok {:>5} p {:.3}",
            c.gold,
            c.caught,
            c.recall(),
            c.predicted,
            c.correct,
            c.precision()
        );
    }
    if what.is_empty() {
        return;
    }
    for note in &notes {
        let text = &note.text;
        let offs: Vec<usize> = text
            .char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect();
        let pred = det.detect(text);
        let gold: Vec<_> = note
            .spans
            .iter()
            .map(|s| (offs[s.start], offs[s.end], s))
            .collect();
        let ctx = |a: usize, b: usize| {
            let mut s = a.saturating_sub(35);
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            let mut e = (b + 25).min(text.len());
            while !text.is_char_boundary(e) {
                e += 1;
            }
            format!("{}[[{}]]{}", &text[s..a], &text[a..b], &text[b..e]).replace('\n', " ")
        };
        if what.contains("fn") {
            for (a, b, s) in &gold {
                if s.optional {
                    continue;
                }
                let ok = (*a..*b)
                    .filter(|&i| text.as_bytes()[i].is_ascii_alphanumeric())
                    .all(|i| pred.iter().any(|p| p.start <= i && i < p.end));
                if !ok {
                    println!("FN {:<9} {}", s.kind, ctx(*a, *b));
                }
            }
        }
        if what.contains("over") {
            // predicted spans that overlap gold but also cover words outside it
            for p in &pred {
                let inside = |i: usize| gold.iter().any(|(a, b, _)| *a <= i && i < *b);
                let overlaps = gold.iter().any(|(a, b, _)| *a < p.end && p.start < *b);
                let outside = (p.start..p.end)
                    .any(|i| text.as_bytes()[i].is_ascii_alphanumeric() && !inside(i));
                if overlaps && outside {
                    println!("OVER {:<9} {}", p.kind.tag(), ctx(p.start, p.end));
                }
            }
        }
        if what == "spans" {
            // every detected span, to compare two builds of the detector
            for p in &pred {
                println!("{} {} {} {}", note.id, p.start, p.end, p.kind.tag());
            }
        }
        if what.contains("fp") {
            for p in &pred {
                if !gold.iter().any(|(a, b, _)| *a < p.end && p.start < *b) {
                    println!("FP {:<9} {}", p.kind.tag(), ctx(p.start, p.end));
                }
            }
        }
    }
}
