//! `airlock fl`: federated learning (the library `airlock-fl` runs it; this parses arguments
//! and prints).

use airlock_fl::FlError;
use airlock_train::model::ModelKind;

use crate::ExitStatus;
use crate::cli::{FlCaCommand, FlCommand, FlTaskArgs, ModelArg};
use crate::commands::gateway::{announce, signalled};
use crate::commands::serve::{operator_vault, workspace_dir};
use crate::report;

pub fn run(cmd: FlCommand, json: bool) -> anyhow::Result<ExitStatus> {
    let result = match cmd {
        FlCommand::Ca(c) => ca(c, json),
        FlCommand::Spec(a) => spec(a, json),
        FlCommand::Coordinator(a) => coordinator(a, json),
        FlCommand::Site(a) => site(a, json),
        FlCommand::Simulate(a) => simulate(a, json),
    };
    match result {
        Ok(s) => Ok(s),
        // a refusal (a spec that differs, a site the coordinator does not admit, a round
        // that could not complete) is a finding, not a usage error
        Err(e @ (FlError::Refused(_) | FlError::Connect(_) | FlError::Round(_))) => {
            report::error(&anyhow::Error::new(e), json);
            Ok(ExitStatus::Findings)
        }
        Err(e) => Err(e.into()),
    }
}

fn model_kind(task: &FlTaskArgs) -> ModelKind {
    match task.model {
        ModelArg::Logreg => ModelKind::Logreg,
        ModelArg::Mlp => ModelKind::Mlp {
            hidden: task.hidden.max(1),
        },
    }
}

fn clip(task: &FlTaskArgs) -> f64 {
    task.clip
        .unwrap_or(if task.epsilon.is_some() { 1.0 } else { 10.0 })
}

fn ca(cmd: FlCaCommand, json: bool) -> Result<ExitStatus, FlError> {
    match cmd {
        FlCaCommand::Init { dir, hosts } => {
            let files = airlock_fl::ca::init(&dir, &hosts)?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok", "ca": files.ca_cert(), "server_cert": files.server_cert(),
                    "crl": files.crl(),
                }));
            } else {
                report::out(&format!(
                    "created the federation CA in {} (its key stays there, 0600)\n\
                     the coordinator's certificate: {}; sites trust {}\n\
                     next: `airlock fl ca issue SITE --dir {}` for each site\n",
                    airlock_core::shown::path(&dir),
                    airlock_core::shown::path(&files.server_cert()),
                    airlock_core::shown::path(&files.ca_cert()),
                    airlock_core::shown::path(&dir),
                ));
            }
        }
        FlCaCommand::Issue {
            site,
            dir,
            out,
            days,
        } => {
            let issued = airlock_fl::ca::issue(&dir, &site, days, &out)?;
            if json {
                report::json(&serde_json::json!({ "status": "ok", "issued": issued }));
            } else {
                report::out(&format!(
                    "issued site {} (id {}): {} and {} (0600), fingerprint {}\n\
                     give the site these two files and {}\n",
                    issued.site.name,
                    issued.site.id,
                    airlock_core::shown::path(&issued.cert),
                    airlock_core::shown::path(&issued.key),
                    issued.site.sha256,
                    airlock_core::shown::path(&issued.ca),
                ));
            }
        }
        FlCaCommand::Revoke { site, dir } => {
            let n = airlock_fl::ca::revoke(&dir, &site)?;
            if json {
                report::json(&serde_json::json!({ "status": "ok", "revoked": n }));
            } else {
                report::out(&format!(
                    "revoked {n} certificate(s) of site {}: refused in the handshake from the \
                     coordinator's next start, and by the registry from its next round\n",
                    airlock_core::shown::escape(&site, 64)
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn spec(a: crate::cli::FlSpecArgs, json: bool) -> Result<ExitStatus, FlError> {
    let table = airlock_train::Table::read(&a.data)?;
    let mut spec = airlock_fl::spec::Spec::fit(&airlock_fl::spec::SpecInput {
        table: &table,
        target: &a.task.target,
        positive: a.task.positive.as_deref(),
        features: &a.task.features,
        model: model_kind(&a.task),
    })?;
    spec.rounds = a.task.rounds;
    spec.local_epochs = a.task.local_epochs;
    spec.learning_rate = a.task.learning_rate;
    spec.min_sites = a.min_sites;
    spec.clip = clip(&a.task);
    spec.secure_aggregation = !a.no_secure_agg;
    spec.dp = a.task.epsilon.map(|epsilon| airlock_fl::spec::DpSpec {
        epsilon,
        delta: a.task.delta,
    });
    spec.check()?;
    let text = serde_json::to_string_pretty(&spec).unwrap_or_default() + "\n";
    airlock_core::output::write_atomic(&a.output, text.as_bytes(), a.force)?;
    let sha = spec.sha256();
    if json {
        report::json(&serde_json::json!({ "status": "ok", "spec": a.output, "spec_sha256": sha }));
    } else {
        report::out(&format!(
            "{sha}\nthe federation spec is in {}; each site pins the hash above (site.toml \
             spec_sha256) and refuses any round under another spec\n",
            airlock_core::shown::path(&a.output)
        ));
    }
    Ok(ExitStatus::Success)
}

fn coordinator(a: crate::cli::FlCoordinatorArgs, json: bool) -> Result<ExitStatus, FlError> {
    let dir = workspace_dir(&a.workspace).map_err(|e| FlError::Usage(e.to_string()))?;
    let vault = operator_vault(&dir).map_err(|e| FlError::Usage(e.to_string()))?;
    let config = airlock_fl::coordinator::CoordinatorConfig::load(&a.config)?;
    let who = airlock_vault::Actor {
        name: airlock_vault::access::current_user(),
        role: "engineer".into(),
        purpose: "model-training".into(),
    };
    let prepared = airlock_fl::coordinator::open(airlock_fl::coordinator::Options {
        workspace: dir,
        vault,
        config,
        who,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| FlError::Usage(format!("cannot start the runtime: {e}")))?;
    let ready_file = a.ready_file.clone();
    let ready = move |addr: std::net::SocketAddr| {
        let url = format!("https://{addr}");
        announce(json, ready_file.as_deref(), &url, " (mutual TLS)");
    };
    let progress = move |r: &airlock_fl::wire::RoundRecord| {
        if json {
            report::json_line(&serde_json::json!({ "event": "round", "round": r }));
        } else {
            report::note(&format!(
                "round {} ({:?}): {}{}, {} site(s){}{}",
                r.round,
                r.kind,
                r.outcome,
                r.reason
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default(),
                r.sites.len(),
                if r.dropped.is_empty() {
                    String::new()
                } else {
                    format!(", dropped {}", r.dropped.join(", "))
                },
                r.epsilon
                    .map(|e| format!(", epsilon {e:.3}"))
                    .unwrap_or_default()
            ));
        }
    };
    let stop = signalled();
    let outcome = runtime.block_on(airlock_fl::coordinator::run(
        prepared, ready, &progress, stop,
    ))?;
    let trained = outcome.model.is_some();
    if json {
        report::json(&serde_json::json!({
            "status": if trained { "ok" } else { "findings" },
            "outcome": outcome,
        }));
    } else if let (Some(model), Some(id)) = (&outcome.model, &outcome.registered) {
        report::out(&format!(
            "the federated model is in {} and in the registry as {id} (dev zone){}{}\n",
            airlock_core::shown::path(model),
            outcome
                .epsilon
                .map(|e| format!("; client-level epsilon {e:.3}"))
                .unwrap_or_default(),
            if outcome.flagged.is_empty() {
                String::new()
            } else {
                format!(
                    "; sites unlike the federation: {}",
                    outcome.flagged.join(", ")
                )
            }
        ));
    } else {
        report::out("no training round completed: no model\n");
    }
    Ok(if trained {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}

fn site(a: crate::cli::FlSiteArgs, json: bool) -> Result<ExitStatus, FlError> {
    let dir = workspace_dir(&a.workspace).map_err(|e| FlError::Usage(e.to_string()))?;
    let vault = operator_vault(&dir).map_err(|e| FlError::Usage(e.to_string()))?;
    let config = airlock_fl::site::SiteConfig::load(&a.config)?;
    let progress = move |v: &serde_json::Value| {
        if json {
            report::json_line(v);
        }
    };
    let outcome = airlock_fl::site::run(
        airlock_fl::site::Options {
            vault,
            config,
            hold_in_round: a.hold_in_round,
        },
        &progress,
    )?;
    if json {
        report::json(&serde_json::json!({ "status": "ok", "outcome": outcome }));
    } else {
        report::out(&format!(
            "site {} took part in {} round(s); its rows never left this machine\n",
            outcome.site,
            outcome.rounds.iter().filter(|r| r.sent).count()
        ));
    }
    Ok(ExitStatus::Success)
}

fn simulate(a: crate::cli::FlSimulateArgs, json: bool) -> Result<ExitStatus, FlError> {
    let exe = std::env::current_exe()
        .map_err(|e| FlError::Usage(format!("cannot find the airlock binary: {e}")))?;
    let options = airlock_fl::simulate::SimulateOptions {
        exe,
        data: a.data.clone(),
        target: a.task.target.clone(),
        positive: a.task.positive.clone(),
        features: a.task.features.clone(),
        model: model_kind(&a.task),
        split_by: a.split_by.clone(),
        sites: a.sites,
        rounds: a.task.rounds,
        secure_agg: a.secure_agg,
        epsilon: a.task.epsilon,
        delta: a.task.delta,
        kill_site: a.kill_site,
        dir: a.dir.clone(),
        local_epochs: a.task.local_epochs,
        learning_rate: a.task.learning_rate,
        clip: clip(&a.task),
    };
    let progress = move |v: &serde_json::Value| {
        if !json && v.get("event").and_then(serde_json::Value::as_str) == Some("killed") {
            report::note(&format!(
                "killed {} (SIGKILL) in round {}",
                v.get("site")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
                v.get("round")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            ));
        }
    };
    let out = airlock_fl::simulate::run(&options, &progress)?;
    if json {
        report::json(&serde_json::to_value(&out).unwrap_or_default());
    } else {
        let mut text = format!(
            "{} sites split by {} ({} rows held out to score the model){}\n",
            out.sites.len(),
            airlock_core::shown::escape(&a.split_by, 60),
            out.held_out_rows,
            if options.secure_agg || options.epsilon.is_some() {
                ", secure aggregation"
            } else {
                ""
            }
        );
        for r in &out.rounds {
            text.push_str(&format!(
                "round {:>3}  {:<8} {} site(s){}  accuracy {}{}  {:.2} s\n",
                r.round,
                r.outcome,
                r.sites.len(),
                if r.dropped.is_empty() {
                    String::new()
                } else {
                    format!(" (dropped {})", r.dropped.join(", "))
                },
                r.accuracy
                    .map(|a| format!("{a:.4}"))
                    .unwrap_or_else(|| "-".into()),
                r.epsilon
                    .map(|e| format!("  epsilon {e:.3}"))
                    .unwrap_or_default(),
                r.seconds
            ));
        }
        text.push_str(&format!(
            "final model: accuracy {}, AUC {}{}\n",
            out.accuracy
                .map(|a| format!("{a:.4}"))
                .unwrap_or_else(|| "-".into()),
            out.auc
                .map(|a| format!("{a:.4}"))
                .unwrap_or_else(|| "-".into()),
            if out.flagged.is_empty() {
                String::new()
            } else {
                format!("; sites unlike the federation: {}", out.flagged.join(", "))
            }
        ));
        report::out(&text);
    }
    // a site that failed is no site the operator chose to lose: said, and the run is not ok
    for f in &out.failed {
        report::note(&format!("{} ended with an error: {}", f.site, f.error));
    }
    Ok(if out.accuracy.is_some() && out.failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
