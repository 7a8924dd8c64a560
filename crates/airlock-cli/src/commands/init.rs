//! `airlock init`: create the workspace secret.

use airlock_core::keys::{SECRET_FILE, WORKSPACE_DIR, WorkspaceSecret};

use crate::ExitStatus;
use crate::cli::InitArgs;
use crate::report;

pub fn run(args: InitArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let path = args.dir.join(WORKSPACE_DIR).join(SECRET_FILE);
    if path.exists() {
        anyhow::bail!(
            "a workspace secret already exists at {} (airlock never replaces one: tokens made with it would become unlinkable)",
            airlock_core::shown::path(&path)
        );
    }
    let secret = WorkspaceSecret::create(&path)?;
    let dir = args.dir.join(WORKSPACE_DIR);
    airlock_vault::Vault::init(&dir, secret)?;
    if json {
        report::json(&serde_json::json!({ "status": "ok", "secret": path, "workspace": dir }));
    } else {
        report::out(&format!(
            "created workspace secret {} (mode 0600)\n\
             keep it private and backed up: tokens and date shifts are keyed by it, and losing it\n\
             makes them unlinkable for good (which is also how you crypto-shred a release).\n\
             vault: {}/catalog.db, objects/, audit.log (hash-chained, signed checkpoints) and\n\
             access.toml (which role may read or write which zone; edit it)\n\
             this is the single-user local mode: it enforces nothing against whoever holds the\n\
             secret. For people who must not hold it, run `airlock ca init` and `airlock serve`\n\
             here, and give them `airlock ca issue` certificates instead.\n",
            airlock_core::shown::path(&path),
            airlock_core::shown::path(&dir)
        ));
    }
    Ok(ExitStatus::Success)
}
