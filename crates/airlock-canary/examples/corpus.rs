//! Writes a generated gold corpus (see `airlock_canary::corpus`) as JSONL on stdout:
//! `cargo run --release -p airlock-canary --example corpus -- SEED NOTES PROMPTS > gold.jsonl`,
//! then `airlock eval text --gold gold.jsonl`. A new seed gives text no one has looked at.
#![allow(clippy::print_stdout)]

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(0))
        .collect();
    let seed = args.first().copied().unwrap_or(1);
    let notes = args.get(1).copied().unwrap_or(300) as usize;
    let prompts = args.get(2).copied().unwrap_or(300) as usize;
    let corpus = airlock_canary::corpus::generate(seed, notes, prompts);
    print!("{}", airlock_canary::corpus::to_jsonl(&corpus));
}
