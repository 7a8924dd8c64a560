//! `airlock enclave run` and its helper.

use std::time::Duration;

use crate::ExitStatus;
use crate::cli::{Command, EnclaveCommand};
use crate::report::{self, thousands};

pub fn run(cmd: EnclaveCommand, json: bool) -> anyhow::Result<ExitStatus> {
    let EnclaveCommand::Run {
        data,
        out,
        read,
        allow_net,
        memory,
        cpu_seconds,
        timeout,
        who,
        command,
    } = cmd
    else {
        anyhow::bail!("enclave exec-confined is internal");
    };
    // the datasets come from the local workspace, or from the server (which authorizes and
    // audits every fetch and scans every output again before it registers it)
    let (door, mut actor, claim) = super::vault::Door::acting(&who)?;
    if let super::vault::Door::Remote(client) = &door {
        // the record names who the server says is acting
        actor.name = client.whoami()?.0;
    }
    let req = airlock_enclave::RunRequest {
        datasets: data,
        out: out.clone(),
        command,
        read,
        memory,
        cpu_seconds,
        timeout: timeout.map(Duration::from_secs),
        helper: std::env::current_exe()?,
        loopback: allow_net == "loopback",
    };
    let record = match door {
        super::vault::Door::Local(ws) => airlock_enclave::run(&ws, &req, &actor)?,
        super::vault::Door::Remote(client) => airlock_enclave::run_with(
            &airlock_enclave::store::Remote { client, claim },
            &req,
            &actor,
        )?,
    };
    let status = if record.outcome == "released" {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    };
    if json {
        report::json(&serde_json::json!({ "status": status.label(), "run": record, "out": out }));
    } else {
        let mut s = format!(
            "enclave run: {} dataset(s), exit {:?}, {} output file(s), {:.1} s\n",
            record.datasets.len(),
            record.exit,
            record.outputs.len(),
            record.seconds
        );
        for o in &record.outputs {
            s.push_str(&format!(
                "  {} ({} bytes){}\n",
                airlock_core::shown::escape(&o.path, 120),
                thousands(o.bytes),
                if o.findings > 0 {
                    format!(": {} identifiers found", o.findings)
                } else {
                    String::new()
                }
            ));
        }
        s.push_str(&match record.outcome {
            "released" => format!(
                "released into {} with airlock-run.json{}; registered in the vault as {}\n",
                airlock_core::shown::path(&out),
                if out.join("airlock-run.json.intoto.json").exists() {
                    " and its signed statement"
                } else {
                    ""
                },
                record.registered.join(", ")
            ),
            "held" => "held: identifiers, links, pipes, devices or names airlock reserves in the outputs; nothing was released\n".into(),
            _ => "the command failed; nothing was released\n".into(),
        });
        report::out(&s);
    }
    Ok(status)
}

/// The helper. First stage: confine this process (namespaces, Landlock, limits), then run the
/// second stage (this binary again) as the first process of the new process namespace and
/// exit with its status. Second stage: die with the first, then become the command. Returns
/// only on failure.
pub fn exec_confined(cmd: Command) -> anyhow::Result<std::convert::Infallible> {
    let Command::Enclave(EnclaveCommand::ExecConfined {
        data,
        out,
        read,
        memory,
        cpu_seconds,
        parent,
        loopback,
        init,
        command,
    }) = cmd
    else {
        anyhow::bail!("not the enclave helper");
    };
    if let Some(stage1) = init {
        airlock_enclave::sandbox::enter_init(stage1)?;
        let (program, args) = command
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("no command"))?;
        let err = std::os::unix::process::CommandExt::exec(
            std::process::Command::new(program).args(args),
        );
        anyhow::bail!(
            "cannot run {}: {err}",
            airlock_core::shown::escape(program, 120)
        );
    }
    let helper = std::env::current_exe()?;
    airlock_enclave::sandbox::Confinement {
        data: data.clone(),
        out: out.clone(),
        read,
        memory,
        cpu_seconds,
        parent,
        helper: helper.clone(),
        loopback,
    }
    .enter()?;
    let status = std::process::Command::new(&helper)
        .args(["enclave", "exec-confined", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--parent")
        .arg(parent.to_string())
        .arg("--init")
        .arg(std::process::id().to_string())
        .arg("--")
        .args(&command)
        .status()?;
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    #[allow(clippy::exit)]
    std::process::exit(code)
}
