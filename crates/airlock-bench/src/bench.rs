//! `airlock bench`: de-identification time against a plain read+write of the same generated
//! table (a keep-all policy, no scan), each run as its own `airlock deid` process so that its
//! peak memory is its own. Medians of `--runs` alternating runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use airlock_core::keys::{SECRET_FILE, WORKSPACE_DIR, WorkspaceSecret};
use airlock_core::table::Format;
use airlock_deid::demo::{DEMO_POLICY, DEMO_SEED, ENCOUNTER_COLUMNS, write_encounters};

use crate::ExitStatus;
use crate::report::{self, thousands};
use crate::{BenchArgs, BenchSuite};

struct Sample {
    seconds: f64,
    peak_rss: u64,
}

pub fn run(args: BenchArgs, json: bool) -> anyhow::Result<ExitStatus> {
    match args.suite {
        BenchSuite::Risk => return crate::bench_risk::run(&args, json),
        BenchSuite::Text => return crate::bench_text::run(&args, json),
        BenchSuite::Vault => return crate::bench_vault::run(&args, json),
        BenchSuite::Dicom => return crate::bench_dicom::run(&args, json),
        BenchSuite::Fhir => return crate::bench_fhir::run(&args, json),
        BenchSuite::Serve => return crate::bench_serve::run(&args, json),
        BenchSuite::Gateway => return crate::bench_gateway::run(&args, json),
        BenchSuite::Deid => {}
    }
    let tmp;
    let dir: PathBuf = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let input = dir.join("encounters.csv");
    let start = Instant::now();
    let written = write_encounters(&input, Format::Csv, args.rows, DEMO_SEED)?;
    let generate_seconds = start.elapsed().as_secs_f64();
    let keep_all = dir.join("keep-all.toml");
    let mut policy = String::from("[dataset]\nname = \"bench-copy\"\n\n");
    for c in ENCOUNTER_COLUMNS {
        policy.push_str(&format!(
            "[fields.{c}]\nclass = \"operational\"\naction = \"keep\"\n\n"
        ));
    }
    std::fs::write(&keep_all, policy)?;
    let deid_policy = dir.join("policy.toml");
    std::fs::write(&deid_policy, DEMO_POLICY)?;
    let key = dir.join(WORKSPACE_DIR).join(SECRET_FILE);
    if !key.exists() {
        WorkspaceSecret::create(&key)?;
    }
    if !json {
        report::out(&format!(
            "bench: {} rows x {} columns, {:.1} MB of CSV (generated in {:.1} s); {} runs each\n",
            thousands(args.rows),
            ENCOUNTER_COLUMNS.len(),
            written.bytes as f64 / 1e6,
            generate_seconds,
            args.runs
        ));
    }
    let exe = crate::airlock_exe()?;
    let mb = written.bytes as f64 / 1e6;
    let mut results = Vec::new();
    let mut thread_counts = vec![1, airlock_deid::engine::default_threads()];
    thread_counts.dedup();
    for threads in thread_counts {
        let mut copy = Vec::new();
        let mut deid = Vec::new();
        for _ in 0..args.runs.max(1) {
            let run = |policy: &Path, out: &str, no_scan| {
                time_run(&exe, policy, &input, &dir.join(out), &key, no_scan, threads)
            };
            copy.push(run(&keep_all, "copy.csv", true)?);
            deid.push(run(&deid_policy, "deid.csv", false)?);
        }
        let (c, d) = (median(&copy), median(&deid));
        let ratio = d.seconds / c.seconds;
        if !json {
            let line = |label: &str, s: &Sample| {
                format!(
                    "  {label:32} {:>7.2} s  {:>7.1} MB/s  {:>9} rows/s  peak RSS {:>5.0} MB\n",
                    s.seconds,
                    mb / s.seconds,
                    thousands((args.rows as f64 / s.seconds) as u64),
                    s.peak_rss as f64 / 1e6
                )
            };
            report::out(&format!(
                "\n  {threads} transform thread(s):\n{}{}  ratio de-id / copy: {ratio:.2}x\n",
                line("plain copy (keep all, no scan)", &c),
                line("de-identification (demo policy)", &d),
            ));
        }
        results.push(serde_json::json!({
            "threads": threads,
            "copy": { "seconds": c.seconds, "peak_rss_bytes": c.peak_rss, "mb_per_second": mb / c.seconds },
            "deid": { "seconds": d.seconds, "peak_rss_bytes": d.peak_rss, "mb_per_second": mb / d.seconds },
            "ratio": ratio,
        }));
    }
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "rows": args.rows,
            "columns": ENCOUNTER_COLUMNS.len(),
            "input_bytes": written.bytes,
            "runs": args.runs,
            "results": results,
        }));
    } else {
        report::out(
            "\n(medians of the runs; each run is a separate `airlock deid` process, so its peak RSS is its own)\n",
        );
    }
    Ok(ExitStatus::Success)
}

fn time_run(
    exe: &Path,
    policy: &Path,
    input: &Path,
    output: &Path,
    key: &Path,
    no_scan: bool,
    threads: usize,
) -> anyhow::Result<Sample> {
    let mut cmd = Command::new(exe);
    cmd.args(["deid", "--json", "--force", "--policy"])
        .arg(policy)
        .arg(input)
        .arg("-o")
        .arg(output)
        .arg("--key-file")
        .arg(key)
        .arg("--threads")
        .arg(threads.to_string());
    if no_scan {
        cmd.arg("--no-scan");
    }
    let start = Instant::now();
    let out = cmd.output().context("cannot run airlock deid")?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        anyhow::bail!(
            "airlock deid exited with {} during the benchmark",
            out.status.code().unwrap_or(-1)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("airlock deid printed no JSON")?;
    Ok(Sample {
        seconds,
        peak_rss: v["peak_rss_bytes"].as_u64().unwrap_or(0),
    })
}

fn median(samples: &[Sample]) -> Sample {
    let mut s: Vec<&Sample> = samples.iter().collect();
    s.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let m = s[s.len() / 2];
    Sample {
        seconds: m.seconds,
        peak_rss: samples.iter().map(|x| x.peak_rss).max().unwrap_or(0),
    }
}
