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

/// SIGINT and SIGTERM: remove the temporaries of unfinished outputs, then exit. (SIGHUP is
/// left alone, so that a run under `nohup` keeps running.)
mod interrupts {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    /// Starts a thread that waits for a signal. Without one (the handler cannot be set), an
    /// interrupted run may leave a temporary, which the next run of the same target removes.
    pub fn watch() {
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let removed = airlock_core::output::remove_live_temporaries();
                    eprintln!(
                        "\ninterrupted: {removed} unfinished output{} removed",
                        if removed == 1 { "" } else { "s" }
                    );
                    #[allow(clippy::exit)]
                    std::process::exit(128 + signal);
                }
            });
    }
}

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
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return report::usage_error(&e),
    };
    let json = cli.json;
    // the enclave's helper confines itself while it is still single-threaded (a new user
    // namespace needs that), then becomes the command: no signal thread, no unwinding
    if let cli::Command::Enclave(cli::EnclaveCommand::ExecConfined { .. }) = &cli.command {
        return match commands::enclave::exec_confined(cli.command) {
            Ok(never) => match never {},
            Err(err) => {
                report::error(&err, false);
                ExitCode::from(126)
            }
        };
    }
    // the gateway and serve-model end on SIGINT and SIGTERM by themselves, after their last
    // audit entries
    if !matches!(
        cli.command,
        cli::Command::Gateway(_)
            | cli::Command::ServeModel(_)
            | cli::Command::Fl(cli::FlCommand::Coordinator(_))
    ) {
        interrupts::watch();
    }
    let result = std::panic::catch_unwind(move || commands::run(cli));
    for stale in airlock_core::output::take_stale_removed() {
        eprintln!(
            "note: removed {}, a temporary left by an earlier run that was killed",
            airlock_core::shown::path(&stale)
        );
    }
    match result {
        Ok(Ok(status)) => status.into(),
        Ok(Err(err)) => {
            report::error(&err, json);
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}
