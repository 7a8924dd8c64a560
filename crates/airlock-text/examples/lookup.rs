//! Developer tool: what the dictionaries say of each argument.
#![allow(clippy::print_stdout)]

fn main() {
    let lx = airlock_text::lexicon::Lexicon::get();
    for w in std::env::args().skip(1) {
        println!("{w}: {:?}", lx.lookup(&w));
    }
}
