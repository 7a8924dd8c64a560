//! Any bytes as a CSV, JSONL or Parquet table: batches or an input error, never a panic.
#![no_main]

use airlock_core::table::{Format, ReadOptions, TableReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, format) in [
        ("t.csv", Format::Csv),
        ("t.jsonl", Format::Jsonl),
        ("t.parquet", Format::Parquet),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, data).expect("a temporary file");
        if let Ok(reader) = TableReader::open_with(&path, format, &ReadOptions::new(64), None) {
            for batch in reader {
                if batch.is_err() {
                    break;
                }
            }
        }
    }
});
