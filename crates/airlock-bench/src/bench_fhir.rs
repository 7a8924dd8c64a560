//! `airlock bench --suite fhir`: `airlock fhir deid` (the Safe Harbor default, keyed by a
//! throwaway workspace secret) of a bulk NDJSON export against a plain line-by-line JSON parse
//! and re-serialization of the same file, on one core. The export is the Synthea bundles in
//! `../shared/data/fhir/synthea` (or `--corpus DIR`) flattened to one resource a line, repeated
//! to `--rows` MB (default 64); the suite says so when the corpus is missing. Medians of `--runs`.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use airlock_core::keys::WorkspaceSecret;
use airlock_fhir::{Config, Engine, SAFE_HARBOR, deid_file};

use crate::BenchArgs;
use crate::ExitStatus;
use crate::bench_risk::median;
use crate::report::{self, thousands};

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let corpus = args
        .corpus
        .clone()
        .unwrap_or_else(|| PathBuf::from("../shared/data/fhir/synthea"));
    let mut resources = Vec::new();
    let entries = std::fs::read_dir(&corpus).with_context(|| {
        format!(
            "the FHIR corpus {} is missing (the Synthea bundles of shared/data/fhir); pass --corpus DIR",
            corpus.display()
        )
    })?;
    for e in entries {
        let path = e?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        for entry in v["entry"].as_array().into_iter().flatten() {
            resources.push(entry["resource"].to_string());
        }
    }
    anyhow::ensure!(!resources.is_empty(), "no Bundle in {}", corpus.display());
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let mb = if args.rows == 1_000_000 {
        64
    } else {
        args.rows.max(1)
    };
    let input = dir.join("export.ndjson");
    let mut bytes = 0u64;
    let mut lines = 0u64;
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
        'fill: loop {
            for r in &resources {
                w.write_all(r.as_bytes())?;
                w.write_all(b"\n")?;
                bytes += r.len() as u64 + 1;
                lines += 1;
                if bytes >= mb << 20 {
                    break 'fill;
                }
            }
        }
        w.flush()?;
    }
    let secret = WorkspaceSecret::generate()?;
    let runs = args.runs.max(1);
    let (mut parse, mut deid) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("copy.ndjson"))?);
        for line in std::io::BufReader::new(std::fs::File::open(&input)?).lines() {
            let v: Value = serde_json::from_str(&line?)?;
            serde_json::to_writer(&mut w, &v)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        parse.push(t.elapsed().as_secs_f64());
        let mut engine = Engine::new(Config::parse(SAFE_HARBOR, "safe-harbor")?, Some(&secret))?;
        let t = Instant::now();
        deid_file(&mut engine, &input, &dir.join("deid.ndjson"), true)?;
        deid.push(t.elapsed().as_secs_f64());
    }
    let (p, d) = (median(parse), median(deid));
    let mbs = bytes as f64 / 1e6;
    if json {
        report::json(&serde_json::json!({
            "suite": "fhir",
            "corpus": corpus,
            "resources": lines,
            "bytes": bytes,
            "runs": runs,
            "parse_seconds": p,
            "deid_seconds": d,
            "mb_per_second": mbs / d,
            "parse_mb_per_second": mbs / p,
        }));
        return Ok(ExitStatus::Success);
    }
    report::out(&format!(
        "airlock bench --suite fhir: {} resources ({mbs:.1} MB NDJSON from {}), one core, median of {runs}\n  \
         parse + write JSON           {p:.3} s  ({:.1} MB/s)\n  \
         airlock fhir deid (default)  {d:.3} s  ({:.1} MB/s; {:.1}x the parse)\n",
        thousands(lines),
        corpus.display(),
        mbs / p,
        mbs / d,
        d / p,
    ));
    Ok(ExitStatus::Success)
}
