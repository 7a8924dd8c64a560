//! Printing for the benchmarks: results on stdout, JSON when asked.

use std::io::Write;

/// Writes to stdout; a closed pipe is not an error.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Prints a JSON value on stdout.
pub fn json(value: &serde_json::Value) {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    out(&s);
}

pub use airlock_core::shown::thousands;
