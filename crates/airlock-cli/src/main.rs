//! The `airlock` binary: parses arguments, runs a command from the libraries, prints the
//! result, and maps it to an exit code (0 ok, 1 findings or a failed gate, 2 usage or input
//! error). It holds no de-identification logic of its own.

#![forbid(unsafe_code, unused_must_use)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod report;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done, nothing to report.
    Success,
    /// Done, but residual findings exceed what is tolerated (or a gate failed).
    Findings,
}

impl ExitStatus {
    /// `Findings` when more residual findings were seen than tolerated.
    pub fn from_findings(found: u64, tolerated: u64) -> Self {
        if found > tolerated {
            Self::Findings
        } else {
            Self::Success
        }
    }

    /// The `status` field of `--json` output.
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "ok",
            Self::Findings => "findings",
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Findings => ExitCode::from(1),
        }
    }
}

fn main() -> ExitCode {
    report::install_panic_hook();
    let cli = cli::Cli::parse();
    let json = cli.json;
    match std::panic::catch_unwind(move || commands::run(cli)) {
        Ok(Ok(status)) => status.into(),
        Ok(Err(err)) => {
            report::error(&err, json);
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}
