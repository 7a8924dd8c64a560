//! A panic inside one transform worker ends the run with an error (exit 2 in the CLI) and no
//! output, instead of leaving the reader waiting for an answer that never comes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use airlock_core::keys::WorkspaceSecret;
use airlock_core::policy::Policy;
use airlock_core::table::{Format, ReadOptions};
use airlock_core::text::{Finding, TextContext, TextMode, TextScrubber};
use airlock_deid::DeidJob;

/// A scrubber that panics on one note.
struct Faulty;

impl TextScrubber for Faulty {
    fn scrub(&self, text: &str, _: TextMode, _: &TextContext<'_>, out: &mut String) -> usize {
        assert!(!text.contains("boom"), "a bug in a detector");
        out.push_str(text);
        0
    }
    fn scan(&self, _: &str, _: &mut dyn FnMut(Finding)) {}
    fn name(&self) -> &'static str {
        "faulty"
    }
}

#[test]
fn a_worker_panic_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let mut body = String::from("id,note\n");
    for i in 0..2_000 {
        body.push_str(&format!(
            "{i},{}\n",
            if i == 1_500 { "boom" } else { "fine" }
        ));
    }
    std::fs::write(&input, body).unwrap();
    let policy = Policy::parse(
        "[dataset]\nname = \"x\"\n[fields.id]\nclass = \"clinical\"\naction = \"keep\"\n\
         [fields.note]\nclass = \"free_text\"\naction = \"text_redact\"\n",
        Path::new("p.toml"),
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let job = DeidJob {
        input,
        input_format: Format::Csv,
        output: output.clone(),
        output_format: Format::Csv,
        force: false,
        read: ReadOptions::new(16),
        scan: false,
        write_manifest: true,
        threads: 3,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let secret = WorkspaceSecret::from_bytes([1; 32]);
        let r = airlock_deid::run(&job, &policy, &secret, &Faulty, &mut |_| {});
        let _ = tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the run hung after a worker panicked");
    let err = result.unwrap_err();
    assert!(
        err.contains("internal error in a transform worker"),
        "{err}"
    );
    assert!(!output.exists());
}
