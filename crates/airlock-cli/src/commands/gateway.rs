//! `airlock gateway`: the OpenAI-compatible PHI guardrail, and its callers' API keys.

use airlock_gateway::config::GatewayConfig;
use airlock_gateway::server::{self, Options};

use crate::ExitStatus;
use crate::cli::{GatewayArgs, GatewayCommand, GatewayKeyCommand, ServeModelArgs};
use crate::commands::serve::{operator, operator_vault, workspace_dir};
use crate::report;

pub fn run(args: GatewayArgs, json: bool) -> anyhow::Result<ExitStatus> {
    if let Some(GatewayCommand::Key(GatewayKeyCommand::Create {
        name,
        role,
        workspace,
    })) = args.command
    {
        let dir = workspace_dir(&workspace)?;
        let mut vault = operator_vault(&dir)?;
        let created = airlock_gateway::keys::create(&mut vault, &dir, &name, &role, &operator())?;
        let (cred, key) = (&created.credential, &created.key);
        if created.actors_table_created {
            report::warn(
                "access.toml now has an [actors] table: from now on, in the local mode too, only \
                 the names it lists may claim a role (bind your stewards there)",
            );
        }
        if json {
            report::json(&serde_json::json!({
                "status": "ok", "credential": cred, "api_key": key, "role": role,
                "actors_table_created": created.actors_table_created,
            }));
        } else {
            report::out(&format!(
                "{key}\n\
                 the gateway API key of {} ({}), bound to role {} in access.toml's [actors];\n\
                 it is shown this once (the catalog keeps an argon2id hash). Callers send it as\n\
                 their OpenAI API key (Authorization: Bearer).\n",
                cred.subject,
                cred.id,
                airlock_core::shown::escape(&role, 60)
            ));
        }
        return Ok(ExitStatus::Success);
    }
    let Some(config) = args.config else {
        anyhow::bail!("airlock gateway needs --config FILE (or a subcommand: key create)");
    };
    let dir = workspace_dir(&args.service.workspace)?;
    let config = GatewayConfig::load(&config)?;
    let tls = config.server.tls;
    let prepared = server::open(Options {
        workspace: dir,
        config,
        access_log: access_log(args.service.access_log),
    })?;
    let summary = listen(json, args.service.ready_file, tls, |ready, stop| {
        server::serve(prepared, ready, stop)
    })?;
    stopped(json, "airlock gateway", summary.audited);
    Ok(ExitStatus::Success)
}

pub fn serve_model(args: ServeModelArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let dir = workspace_dir(&args.service.workspace)?;
    let config = airlock_gateway::serving::ServeModelConfig::load(&args.config)?;
    let tls = config.server.tls;
    let prepared = airlock_gateway::serving::open(airlock_gateway::serving::Options {
        workspace: dir,
        config,
        access_log: access_log(args.service.access_log),
    })?;
    let audited = listen(json, args.service.ready_file, tls, |ready, stop| {
        airlock_gateway::serving::serve(prepared, ready, stop)
    })?;
    stopped(json, "airlock serve-model", audited);
    Ok(ExitStatus::Success)
}

/// The operator's access log on stdout, when asked for.
fn access_log(on: bool) -> Option<server::AccessLog> {
    on.then(|| std::sync::Arc::new(|line: &serde_json::Value| report::json_line(line)) as _)
}

/// Runs a server until SIGINT or SIGTERM; says where it listens (and writes it to the ready
/// file).
fn listen<T, F>(
    json: bool,
    ready_file: Option<std::path::PathBuf>,
    tls: bool,
    serve: impl FnOnce(
        Box<dyn FnOnce(std::net::SocketAddr) + Send>,
        std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = airlock_gateway::Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ready = move |addr: std::net::SocketAddr| {
        let url = format!("{}://{addr}/v1", if tls { "https" } else { "http" });
        announce(json, ready_file.as_deref(), &url, "");
    };
    let stop = signalled();
    Ok(runtime.block_on(serve(Box::new(ready), Box::pin(stop)))?)
}

/// Says where a server listens (`note` after the URL in text), and writes the URL to the ready
/// file.
pub(crate) fn announce(json: bool, ready_file: Option<&std::path::Path>, url: &str, note: &str) {
    if json {
        report::json_line(&serde_json::json!({ "status": "listening", "url": url }));
    } else {
        report::note(&format!("listening on {url}{note}"));
    }
    if let Some(f) = ready_file
        && let Err(e) = airlock_core::output::write_atomic(f, url.as_bytes(), true)
    {
        report::warn(&format!("cannot write the ready file: {e}"));
    }
}

/// Resolves at SIGINT or SIGTERM.
pub(crate) async fn signalled() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {},
    }
}

fn stopped(json: bool, what: &str, audited: u64) {
    if json {
        report::json_line(&serde_json::json!({ "status": "stopped", "audited": audited }));
    } else {
        report::note(&format!("{what} stopped: {audited} audit entries written"));
    }
}
