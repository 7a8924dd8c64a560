//! `airlock bench --suite text`: free-text throughput on one core over a corpus of notes:
//! detection alone, redaction, and detection with surrogates. Medians of `--runs`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use airlock_core::keys::{Purpose, WorkspaceSecret};
use airlock_core::text::{TextContext, TextMode, TextScrubber};
use airlock_text::TextEngine;
use airlock_text::eval::read_gold;

use crate::BenchArgs;
use crate::ExitStatus;
use crate::bench_risk::median;
use crate::report::{self, thousands};

const DEFAULT_CORPUS: &str = "../shared/data/notes-dev/physionet-deid-gold.jsonl";

/// The notes of a gold corpus (JSONL), or the paragraphs of any other text file.
fn load(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).map_err(|e| airlock_core::Error::io("read", path, e))?;
    if path.extension().is_some_and(|e| e == "jsonl") {
        let notes = read_gold(std::io::BufReader::new(file))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(notes.into_iter().map(|n| (n.id, n.text)).collect());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    Ok(text
        .split("\n\n")
        .enumerate()
        .map(|(i, p)| (i.to_string(), p.to_owned()))
        .collect())
}

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let path: PathBuf = args
        .corpus
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CORPUS));
    if !path.exists() {
        anyhow::bail!(
            "the text corpus {} is missing: the text benchmark needs notes to run on (pass --corpus FILE, a gold JSONL or any text file)",
            path.display()
        );
    }
    let notes = load(&path)?;
    let bytes: usize = notes.iter().map(|(_, t)| t.len()).sum();
    let engine = TextEngine::new(WorkspaceSecret::generate()?.derive(Purpose::Surrogate));
    let _ = engine.detect("warm up the dictionaries");
    let runs = args.runs.max(1);
    let mut out = String::with_capacity(64 * 1024);
    let mut time = |f: &mut dyn FnMut(&str, &str, &mut String)| {
        let mut secs = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            for (id, text) in &notes {
                out.clear();
                f(id, text, &mut out);
            }
            secs.push(t.elapsed().as_secs_f64());
        }
        median(secs)
    };
    let mut spans = 0usize;
    let detect = time(&mut |_, t, _| spans += engine.detect(t).len());
    fn ctx(id: &str) -> TextContext<'_> {
        TextContext {
            patient: Some(id),
            date_shift_days: None,
            known: &[],
            prepared: None,
        }
    }
    let redact = time(&mut |id, t, o| {
        let _ = engine.scrub(t, TextMode::Redact, &ctx(id), o);
    });
    let surrogate = time(&mut |id, t, o| {
        let _ = engine.scrub(t, TextMode::Surrogate, &ctx(id), o);
    });
    let mbps = |s: f64| bytes as f64 / 1e6 / s.max(1e-9);
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "corpus": path,
            "notes": notes.len(),
            "bytes": bytes,
            "runs": runs,
            "threads": 1,
            "spans_per_run": spans / runs as usize,
            "detect_seconds": detect,
            "redact_seconds": redact,
            "surrogate_seconds": surrogate,
            "detect_mb_per_s": mbps(detect),
            "redact_mb_per_s": mbps(redact),
            "surrogate_mb_per_s": mbps(surrogate),
        }));
        return Ok(ExitStatus::Success);
    }
    report::out(&format!(
        "bench text: {} notes, {:.2} MB from {}; one core, median of {} runs\n\n  \
         detection               {:>8.3} s  {:>8.1} MB/s   ({} spans)\n  \
         detection + redaction   {:>8.3} s  {:>8.1} MB/s\n  \
         detection + surrogates  {:>8.3} s  {:>8.1} MB/s\n",
        thousands(notes.len() as u64),
        bytes as f64 / 1e6,
        path.display(),
        runs,
        detect,
        mbps(detect),
        thousands((spans / runs as usize) as u64),
        redact,
        mbps(redact),
        surrogate,
        mbps(surrogate),
    ));
    Ok(ExitStatus::Success)
}
