//! `airlock serve`, `airlock ca`, `airlock apikey`, `airlock credentials`: the governance server
//! and what its operator runs on the server's machine (with the workspace secret).

use std::path::{Path, PathBuf};

use airlock_server::ca::{self, CaFiles};
use airlock_vault::{Actor, Vault};

use crate::ExitStatus;
use crate::cli::{ApikeyCommand, CaCommand, CredentialsCommand, ServeArgs, WorkspaceArg};
use crate::report;

/// The `.airlock/` folder of `--workspace`: the folder itself when it holds the secret, else
/// its `.airlock/`.
pub(crate) fn workspace_dir(arg: &WorkspaceArg) -> anyhow::Result<PathBuf> {
    use airlock_core::keys::{SECRET_FILE, WORKSPACE_DIR};
    for dir in [arg.workspace.join(WORKSPACE_DIR), arg.workspace.clone()] {
        if dir.join(SECRET_FILE).exists() && dir.join(airlock_vault::CATALOG_FILE).exists() {
            return Ok(dir);
        }
    }
    anyhow::bail!(
        "no workspace with a vault at {} (make one with `airlock init --dir DIR`)",
        airlock_core::shown::path(&arg.workspace)
    )
}

/// The operator's vault, opened with the workspace secret.
pub(crate) fn operator_vault(dir: &Path) -> anyhow::Result<Vault> {
    let secret =
        airlock_core::keys::WorkspaceSecret::load(&dir.join(airlock_core::keys::SECRET_FILE))?;
    Ok(Vault::open(dir, secret)?)
}

/// Who the operator's commands are recorded as.
pub(crate) fn operator() -> Actor {
    Actor {
        name: airlock_vault::access::current_user(),
        role: "operator".into(),
        purpose: "credentials".into(),
    }
}

pub fn serve(args: ServeArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let dir = workspace_dir(&args.workspace)?;
    let config = airlock_server::server::ServeConfig {
        workspace: dir.clone(),
        listen: args.listen,
        oidc: args
            .oidc_issuer
            .clone()
            .map(|issuer| airlock_server::oidc::OidcConfig {
                issuer,
                audience: args.oidc_audience.clone(),
                ca: args.oidc_ca.clone(),
            }),
    };
    let prepared = airlock_server::server::open(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let ca_pem = CaFiles::of(&dir).ca_cert();
    let ready_file = args.ready_file.clone();
    let ready = move |addr: std::net::SocketAddr| {
        let url = format!("https://{addr}");
        if json {
            report::json(&serde_json::json!({
                "status": "listening", "url": url, "ca": ca_pem,
            }));
        } else {
            report::out(&format!(
                "airlock server listening on {url}\n\
                 it holds this workspace's keys; clients run airlock with --server {url} --ca {}\n\
                 and a client certificate (`airlock ca issue NAME`) or an API key (`airlock apikey create NAME`)\n",
                airlock_core::shown::path(&ca_pem)
            ));
        }
        if let Some(f) = &ready_file
            && let Err(e) = airlock_core::output::write_atomic(f, url.as_bytes(), true)
        {
            report::warn(&format!("cannot write the ready file: {e}"));
        }
    };
    // SIGINT and SIGTERM end the process (the CLI's signal thread): every committed change is
    // already synced (catalog, audit log), and a put in flight leaves only a private temporary
    // that the next start sweeps.
    runtime.block_on(airlock_server::server::serve(
        prepared,
        config.listen,
        ready,
        std::future::pending(),
    ))?;
    Ok(ExitStatus::Success)
}

pub fn ca(cmd: CaCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        CaCommand::Init { workspace, hosts } => {
            let dir = workspace_dir(&workspace)?;
            let files = ca::init(&dir, &hosts)?;
            // the CA's creation is part of the record
            operator_vault(&dir)?.record(&[airlock_vault::Event {
                action: "ca:init".into(),
                outcome: "ok".into(),
                actor: operator().name,
                role: operator().role,
                purpose: operator().purpose,
                ..Default::default()
            }])?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok", "ca": files.ca_cert(), "server_cert": files.server_cert(), "hosts": hosts,
                }));
            } else {
                report::out(&format!(
                    "created the workspace CA and the server's certificate (for {}) in {}\n\
                     give clients {} (public); the CA key stays here (0600)\n",
                    hosts.join(", "),
                    airlock_core::shown::path(&files.dir),
                    airlock_core::shown::path(&files.ca_cert()),
                ));
            }
        }
        CaCommand::Issue {
            name,
            out,
            days,
            workspace,
        } => {
            let dir = workspace_dir(&workspace)?;
            let vault = operator_vault(&dir)?;
            let issued = ca::issue(&vault, &CaFiles::of(&dir), &name, days, &out, &operator())?;
            if json {
                report::json(&serde_json::json!({ "status": "ok", "issued": issued }));
            } else {
                report::out(&format!(
                    "issued {} ({}) to {}: {} and {} (0600), valid {days} days\n\
                     bind it to roles in access.toml:  [actors] \"{}\" = [\"ROLE\"]\n",
                    issued.credential.subject,
                    issued.credential.id,
                    name,
                    airlock_core::shown::path(&issued.cert),
                    airlock_core::shown::path(&issued.key),
                    issued.credential.subject,
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub fn apikey(cmd: ApikeyCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        ApikeyCommand::Create { name, workspace } => {
            let dir = workspace_dir(&workspace)?;
            let vault = operator_vault(&dir)?;
            let (cred, key) = airlock_server::apikey::create(&vault, &name, &operator())?;
            if json {
                report::json(
                    &serde_json::json!({ "status": "ok", "credential": cred, "api_key": key }),
                );
            } else {
                report::out(&format!(
                    "{key}\n\
                     the API key of {} ({}); it is shown this once (the catalog keeps an argon2id hash).\n\
                     the service sets AIRLOCK_API_KEY to it; bind {} to roles in access.toml's [actors]\n",
                    cred.subject, cred.id, cred.subject
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub fn credentials(cmd: CredentialsCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        CredentialsCommand::Ls { workspace } => {
            let vault = operator_vault(&workspace_dir(&workspace)?)?;
            let all = vault.credentials()?;
            if json {
                report::json(&serde_json::json!({ "status": "ok", "credentials": all }));
            } else {
                let mut s = format!(
                    "{:<20} {:<28} {:<20} {}\n",
                    "id", "identity", "created", "roles / state"
                );
                for c in &all {
                    let state = match &c.revoked_at {
                        Some(t) => format!("revoked {}", &t[..t.len().min(19)]),
                        None => format!("{:?}", vault.roles_of(&c.subject)),
                    };
                    s.push_str(&format!(
                        "{:<20} {:<28} {:<20} {state}\n",
                        c.id,
                        c.subject,
                        &c.created_at[..c.created_at.len().min(19)]
                    ));
                }
                s.push_str(&format!("{} credentials\n", all.len()));
                report::out(&s);
            }
        }
        CredentialsCommand::Revoke { id, workspace } => {
            let vault = operator_vault(&workspace_dir(&workspace)?)?;
            let c = vault.revoke_credential(&id, &operator())?;
            if json {
                report::json(&serde_json::json!({ "status": "ok", "credential": c }));
            } else {
                report::out(&format!(
                    "revoked {} ({}): the server refuses it from the next request on\n",
                    c.id, c.subject
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}
