//! One module per command.

use crate::ExitStatus;
use crate::cli::{Cli, Command};

mod canary;
mod deid;
mod demo;
mod dicom;
mod dp;
pub mod enclave;
mod fhir;
mod fl;
mod gateway;
mod init;
mod profile;
mod risk;
mod serve;
mod synth;
mod text;
mod train;
mod vault;

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Demo(args) => demo::run(args, cli.json),
        Command::Init(args) => init::run(args, cli.json),
        Command::Profile(args) => profile::run(args, cli.json),
        Command::Deid(args) => deid::run(args, cli.json),
        Command::Risk(args) => audited("risk", risk::run_risk(args, cli.json)),
        Command::Anonymize(args) => audited("anonymize", risk::run_anonymize(args, cli.json)),
        Command::Text(cmd) => text::run_text(cmd, cli.json),
        Command::Scan(args) => text::run_scan(args, cli.json),
        Command::Eval(crate::cli::EvalCommand::Text(args)) => text::run_eval(args, cli.json),
        Command::Canary(cmd) => canary::run(cmd, cli.json),
        Command::Dicom(crate::cli::DicomCommand::Deid(args)) => dicom::run(args, cli.json),
        Command::Fhir(crate::cli::FhirCommand::Deid(args)) => fhir::run(args, cli.json),
        Command::Fl(cmd) => fl::run(cmd, cli.json),
        Command::Vault(cmd) => vault::run_vault(cmd, cli.json),
        Command::Audit(cmd) => vault::run_audit(cmd, cli.json),
        Command::Lineage(cmd) => vault::run_lineage(cmd, cli.json),
        Command::Approve { dataset, to, who } => vault::approve(&dataset, &to, &who, cli.json),
        Command::Retention(crate::cli::RetentionCommand::Apply { dry_run, who }) => {
            vault::retention(dry_run, &who, cli.json)
        }
        Command::Keys(crate::cli::KeysCommand::Rotate { who }) => {
            vault::rotate_keys(&who, cli.json)
        }
        Command::Serve(args) => serve::serve(args, cli.json),
        Command::Gateway(args) => gateway::run(args, cli.json),
        Command::ServeModel(args) => gateway::serve_model(args, cli.json),
        Command::Ca(cmd) => serve::ca(cmd, cli.json),
        Command::Apikey(cmd) => serve::apikey(cmd, cli.json),
        Command::Credentials(cmd) => serve::credentials(cmd, cli.json),
        Command::Dp(cmd) => dp::run(cmd, cli.json),
        Command::Train(args) => train::run(args, cli.json),
        Command::Synth(cmd) => synth::run(cmd, cli.json),
        Command::Enclave(cmd) => enclave::run(cmd, cli.json),
    }
}

/// The library's read options from the command line's.
fn read_options(
    args: &crate::cli::ReadArgs,
    batch_size: usize,
) -> airlock_core::table::ReadOptions {
    use airlock_core::table::{Header, Limits, ReadOptions};
    ReadOptions {
        batch_size: batch_size.max(1),
        header: if args.no_header {
            Header::Absent {
                names: args.columns.clone(),
            }
        } else if args.trust_header {
            Header::Trusted
        } else {
            Header::FirstRow
        },
        limits: Limits {
            max_columns: usize::try_from(args.max_columns).unwrap_or(usize::MAX),
            max_cell_bytes: usize::try_from(args.max_cell_bytes).unwrap_or(usize::MAX),
            max_row_bytes: usize::try_from(args.max_row_bytes).unwrap_or(usize::MAX),
        },
    }
}

/// Appends an audit event for a finished run when it ran inside a workspace with a vault.
fn audited(action: &str, result: anyhow::Result<ExitStatus>) -> anyhow::Result<ExitStatus> {
    let status = result?;
    vault::after_run(
        None,
        action,
        None,
        std::path::Path::new("."),
        status.label(),
    )?;
    Ok(status)
}
