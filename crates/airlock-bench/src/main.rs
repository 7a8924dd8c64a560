//! `airlock-bench`: the benchmarks, out of the shipped binary. Each suite times airlock
//! against a baseline measured in the same run (a plain copy, a plain parse) and reports the
//! medians and the ratio. The `deid`, `dicom` and `fhir` suites run the `airlock` binary
//! built beside this one (`cargo build --release --workspace`), so each timed run is a process
//! of its own with its own peak memory.
//!
//! ```sh
//! cargo build --release --workspace
//! target/release/airlock-bench --suite deid --rows 1000000
//! ```

#![forbid(unsafe_code, unused_must_use)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, ValueEnum};

mod bench;
mod bench_dicom;
mod bench_fhir;
mod bench_gateway;
mod bench_risk;
mod bench_serve;
mod bench_text;
mod bench_vault;
mod report;

/// How a suite ended (benchmarks always end `Success` or with an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
}

/// airlock's benchmarks: de-identification, risk, free text, vault, DICOM, FHIR.
#[derive(Debug, Parser)]
#[command(name = "airlock-bench", version)]
struct Cli {
    /// Print one JSON object on stdout instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    args: BenchArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure: `deid` (de-identification against a plain copy), `risk` (metrics and
    /// the optimal generalization search on the ARX adult table, and on a 1M-row resample of
    /// it), `text` (free-text detection, redaction and surrogates on one core), `vault`
    /// (encrypted put and get against a plain file copy, on one core), `dicom` (`dicom deid`
    /// of a tree of small images against a plain copy, on one core; --rows is the file count)
    /// `fhir` (`fhir deid` of an NDJSON export against a plain parse; --rows is MB) or `serve`
    /// (32 clients of `airlock serve` against 32 local vault users; --rows is seconds, 60) or
    /// `gateway` (`airlock gateway` overhead against a direct call, then 64 clients for --rows
    /// seconds, 60, on loopback)
    #[arg(long, value_enum, default_value = "deid")]
    pub suite: BenchSuite,
    /// Rows of generated data (deid: encounters of 15 columns; risk: the adult resample)
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Timed runs of each of the two commands (the median is reported)
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Work directory (default: a temporary directory, removed afterwards)
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The ARX adult table and hierarchies (risk suite; default: the copy vendored in
    /// crates/airlock-risk/tests/data/adult, else ../shared/data/adult)
    #[arg(long)]
    pub adult: Option<PathBuf>,
    /// Notes to run the text suite on: a gold corpus in the common JSONL format, or any text
    /// file (default: ../shared/data/notes-dev/physionet-deid-gold.jsonl)
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Gateway suite: an OpenAI-compatible proxy in front of the same upstream (its base URL,
    /// e.g. LiteLLM's, started by gateway/compare.sh), measured the same way (key from
    /// PEER_API_KEY)
    #[arg(long, value_name = "URL")]
    pub peer: Option<String>,
    /// Gateway suite: the port the local upstream listens on (default: any free one)
    #[arg(long)]
    pub upstream_port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchSuite {
    Deid,
    Risk,
    Text,
    Vault,
    Dicom,
    Fhir,
    Serve,
    Gateway,
}

/// The `airlock` binary the process-based suites run: beside this one.
pub fn airlock_exe() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let exe = me.with_file_name(format!("airlock{}", std::env::consts::EXE_SUFFIX));
    if !exe.exists() {
        anyhow::bail!(
            "{} is not built; run `cargo build --release --workspace` first",
            exe.display()
        );
    }
    Ok(exe)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match bench::run(cli.args, cli.json) {
        Ok(ExitStatus::Success) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
