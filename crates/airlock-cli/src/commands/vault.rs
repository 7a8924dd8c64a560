//! `airlock vault` and `airlock audit`: the workspace's encrypted zones and its audit log.

use std::path::{Path, PathBuf};

use airlock_core::keys::WorkspaceSecret;
use airlock_vault::audit;
use airlock_vault::{Actor, Vault, Zone};

use airlock_server::client::{Claim, Client, Connection};

use crate::ExitStatus;
use crate::cli::{ActorArgs, AuditCommand, LineageCommand, ServerArgs, VaultCommand};
use crate::report::{self, thousands};

/// Where a governance command runs: in this process on a workspace whose secret it holds
/// (single-user local mode), or on the server, whose client this is.
pub(crate) enum Door {
    Local(airlock_run::Workspace),
    Remote(Client),
}

impl Door {
    /// The server when one is set (identity from the certificate or API key, never from
    /// --actor; the key stays there), else the local workspace.
    fn open(server: &ServerArgs, key_file: Option<&Path>) -> anyhow::Result<Self> {
        Ok(match Self::client(server, key_file)? {
            Some(c) => Self::Remote(c),
            None => Self::Local(workspace(key_file)?),
        })
    }

    /// The server's client when one is set.
    fn client(server: &ServerArgs, key_file: Option<&Path>) -> anyhow::Result<Option<Client>> {
        let Some(url) = &server.server else {
            return Ok(None);
        };
        if key_file.is_some() {
            anyhow::bail!(
                "--key-file is for the single-user local mode: with --server, the server holds the workspace's keys"
            );
        }
        let cert = match (&server.cert, &server.cert_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => anyhow::bail!("--cert and --cert-key go together"),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|k| !k.is_empty());
        let (api_key, token) = (env("AIRLOCK_API_KEY"), env("AIRLOCK_TOKEN"));
        let bearers = usize::from(api_key.is_some())
            + usize::from(token.is_some())
            + usize::from(cert.is_some());
        if bearers > 1 {
            anyhow::bail!(
                "present one credential: a client certificate, AIRLOCK_TOKEN or AIRLOCK_API_KEY"
            );
        }
        Ok(Some(Client::new(&Connection {
            url: url.clone(),
            ca: server.ca.clone(),
            cert,
            bearer: api_key.or(token),
        })?))
    }

    /// A command that acts as someone: locally the named actor, remotely the claim of a
    /// role and purpose (who is acting is what the server authenticated).
    pub(crate) fn acting(who: &ActorArgs) -> anyhow::Result<(Self, Actor, Claim)> {
        let door = Self::open(&who.server, who.key_file.as_deref())?;
        if matches!(door, Self::Remote(_)) && who.actor.is_some() {
            anyhow::bail!(
                "--actor is for the single-user local mode: the server knows you by your certificate or API key"
            );
        }
        let claim = Claim {
            role: who.role.clone(),
            purpose: who.purpose.clone(),
        };
        Ok((door, actor(who), claim))
    }

    /// The local vault (errors for a workspace without one).
    fn vault(ws: &airlock_run::Workspace) -> anyhow::Result<&Vault> {
        ws.vault().ok_or_else(|| no_vault(ws.dir()))
    }
}

/// The error for a workspace without a vault.
fn no_vault(dir: Option<&Path>) -> anyhow::Error {
    anyhow::anyhow!(
        "no vault in {} (run `airlock init` in a new workspace, or `airlock vault` from the workspace that has one)",
        airlock_core::shown::path(dir.unwrap_or(Path::new(".")))
    )
}

/// The workspace whose secret `key_file` (or the usual search) finds; it must have a vault.
fn workspace(key_file: Option<&Path>) -> anyhow::Result<airlock_run::Workspace> {
    let ws = airlock_run::Workspace::open(key_file)?;
    if ws.vault().is_none() {
        return Err(no_vault(ws.dir()));
    }
    Ok(ws)
}

/// The vault of the workspace whose secret `key_file` (or the usual search) finds.
fn open(key_file: Option<&Path>) -> anyhow::Result<Vault> {
    let ws = airlock_run::Workspace::open(key_file)?;
    let dir = ws.dir().map(Path::to_path_buf);
    ws.into_vault().ok_or_else(|| no_vault(dir.as_deref()))
}

/// The actor a local-mode command acts as (the server ignores the name: it authenticates).
pub(crate) fn actor(who: &ActorArgs) -> Actor {
    Actor {
        name: who
            .actor
            .clone()
            .unwrap_or_else(airlock_vault::access::current_user),
        role: who.role.clone(),
        purpose: who.purpose.clone(),
    }
}

pub fn run_vault(cmd: VaultCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        VaultCommand::Put {
            zone,
            file,
            name,
            canaries,
            who,
        } => {
            // a canary file is checked before anything is stored: it must record the planting
            // of this very table
            let canaries = match &canaries {
                Some(path) => {
                    let bytes = std::fs::read(path)
                        .map_err(|e| airlock_core::Error::io("read", path, e))?;
                    let parsed = airlock_canary::CanaryFile::from_slice(&bytes, path)?;
                    let (sha, _) = airlock_core::output::digest_file(&file)?;
                    if !parsed.is_for(&sha) {
                        return Err(airlock_core::Error::Invalid {
                            what: format!("canary file {}", airlock_core::shown::path(path)),
                            why: format!(
                                "it records the planting of another table: its output's SHA-256 is not that of {}",
                                airlock_core::shown::path(&file)
                            ),
                        }
                        .into());
                    }
                    Some(bytes)
                }
                None => None,
            };
            let (door, actor, claim) = Door::acting(&who)?;
            let ds = match &door {
                Door::Local(ws) => {
                    let vault = Door::vault(ws)?;
                    let ds = vault.put(&file, Zone::parse(&zone)?, name.as_deref(), &actor)?;
                    if let Some(bytes) = &canaries {
                        airlock_run::vault::attach_canaries(vault, &ds.id, bytes, &actor)?;
                    }
                    ds
                }
                Door::Remote(c) => {
                    let name = name.unwrap_or_else(|| {
                        file.file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or("dataset")
                            .to_owned()
                    });
                    let ds = c.put(&file, &zone, &name, &claim)?;
                    if let Some(bytes) = &canaries {
                        c.attach_canaries(&ds.id, bytes, &claim)?;
                    }
                    ds
                }
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "dataset": ds }));
            } else {
                report::out(&format!(
                    "stored {} as {} in zone {} ({} bytes, sha256 {}), encrypted under its own key\n",
                    airlock_core::shown::path(&file),
                    ds.id,
                    ds.zone,
                    thousands(ds.bytes),
                    ds.sha256.get(..12).unwrap_or("?")
                ));
            }
        }
        VaultCommand::Get {
            dataset,
            output,
            force,
            who,
        } => {
            let (door, actor, claim) = Door::acting(&who)?;
            let ds = match &door {
                Door::Local(ws) => Door::vault(ws)?.get(&dataset, &output, force, &actor)?,
                Door::Remote(c) => c.get(&dataset, &output, force, &claim)?,
            };
            if json {
                report::json(
                    &serde_json::json!({ "status": "ok", "dataset": ds, "output": output }),
                );
            } else {
                report::out(&format!(
                    "decrypted {} ({}, zone {}, {} bytes) to {}; the SHA-256 matches the catalog\n",
                    ds.id,
                    ds.name,
                    ds.zone,
                    thousands(ds.bytes),
                    airlock_core::shown::path(&output)
                ));
            }
        }
        VaultCommand::Ls { key_file, server } => {
            let all = match Door::open(&server, key_file.as_deref())? {
                Door::Local(ws) => {
                    let who = Actor {
                        name: airlock_vault::access::current_user(),
                        role: std::env::var("AIRLOCK_ROLE").unwrap_or_default(),
                        purpose: std::env::var("AIRLOCK_PURPOSE").unwrap_or_default(),
                    };
                    Door::vault(&ws)?.list(&who)?
                }
                Door::Remote(c) => c.list()?,
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "datasets": all }));
            } else {
                let mut s = format!(
                    "{:<20} {:<8} {:>14}  {:<20}  {}\n",
                    "dataset", "zone", "bytes", "created", "name"
                );
                for d in &all {
                    s.push_str(&format!(
                        "{:<20} {:<8} {:>14}  {:<20}  {}{}\n",
                        d.id,
                        d.zone,
                        thousands(d.bytes),
                        &d.created_at[..d.created_at.len().min(19)],
                        airlock_core::shown::escape(&d.name, 80),
                        if d.shredded_at.is_some() {
                            "  (shredded)"
                        } else {
                            ""
                        }
                    ));
                }
                s.push_str(&format!("{} datasets\n", all.len()));
                report::out(&s);
            }
        }
        VaultCommand::Deid {
            dataset,
            policy,
            who,
        } => return deid(&dataset, &policy, &who, json),
        VaultCommand::Promote { dataset, to, who } => {
            let (door, actor, claim) = Door::acting(&who)?;
            let p = match &door {
                Door::Local(ws) => {
                    airlock_run::vault::promote(ws, &dataset, Zone::parse(&to)?, &actor)?
                }
                Door::Remote(c) => c.promote(&dataset, &to, &claim)?,
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "promotion": p }));
            } else {
                report::out(&format!(
                    "promoted {} from {} to {}\n",
                    p.dataset, p.from, p.to
                ));
            }
        }
        VaultCommand::Shred { dataset, who } => {
            let (door, actor, claim) = Door::acting(&who)?;
            let ds = match &door {
                Door::Local(ws) => Door::vault(ws)?.shred(&dataset, &actor)?,
                Door::Remote(c) => c.shred(&dataset, &claim)?,
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "dataset": ds }));
            } else {
                report::out(&format!(
                    "shredded {} ({}): its data key is destroyed and its object deleted; the catalog and the audit log keep the record\n",
                    ds.id,
                    airlock_core::shown::escape(&ds.name, 80)
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub fn run_audit(cmd: AuditCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        AuditCommand::Verify {
            public_key,
            head,
            log,
            key_file,
            server,
        } => {
            let earlier = head.as_deref().map(read_tree_head).transpose()?;
            let key = public_key
                .as_deref()
                .map(|hex| {
                    airlock_vault::audit::public_key(hex).ok_or_else(|| {
                        anyhow::anyhow!("--public-key is not an ed25519 public key (64 hex digits)")
                    })
                })
                .transpose()?;
            let (path, result) = match log {
                // outside any workspace: the log, the key the verifier trusts, maybe a head
                Some(log) => {
                    let Some(pk) = key else {
                        anyhow::bail!(
                            "--log needs --public-key: the key you trust (from `airlock audit pubkey`), never one read from the log"
                        );
                    };
                    let r = match &earlier {
                        Some(h) => audit::verify_from(&log, &pk, h),
                        None => audit::verify_log(&log, &pk, None),
                    };
                    (log, r.map(|v| v.entries))
                }
                None if let Some(c) = Door::client(&server, key_file.as_deref())? => {
                    match key {
                        // the log as the server has it, verified here with the key you trust
                        Some(pk) => {
                            let tmp = tempfile::tempdir()?;
                            let log = tmp.path().join("audit.log");
                            c.audit_log(&log)?;
                            let r = match &earlier {
                                Some(h) => audit::verify_from(&log, &pk, h),
                                None => audit::verify_log(&log, &pk, None),
                            };
                            (
                                PathBuf::from("(the server's audit log)"),
                                r.map(|v| v.entries),
                            )
                        }
                        None if earlier.is_some() => anyhow::bail!(
                            "with --server, --head needs --public-key: the key you trust, never one the server sends with the log"
                        ),
                        None => {
                            let (n, _) = c.audit_verify()?;
                            (PathBuf::from("(verified by the server)"), Ok(n))
                        }
                    }
                }
                None => {
                    let vault = open(key_file.as_deref())?;
                    let path = vault.audit().path().to_path_buf();
                    let r = match (key, &earlier) {
                        (Some(pk), Some(h)) => audit::verify_from(&path, &pk, h).map(|v| v.entries),
                        (Some(pk), None) => vault.audit().verify(&pk, None).map(|v| v.entries),
                        (None, Some(h)) => vault.verify_audit().and_then(|v| {
                            audit::check_extends(&path, &vault.audit().public_key(), h, &v)?;
                            Ok(v.entries)
                        }),
                        (None, None) => vault.verify_audit().map(|v| v.entries),
                    };
                    (path, r)
                }
            };
            match result {
                Ok(n) => {
                    if json {
                        report::json(&serde_json::json!({
                            "status": "ok",
                            "entries": n,
                            "extends_head_of": earlier.as_ref().map(|h| h.tree_size),
                        }));
                    } else {
                        let extends = earlier.as_ref().map_or(String::new(), |h| {
                            format!(
                                "; it extends the tree head of {} entries given",
                                thousands(h.tree_size)
                            )
                        });
                        report::out(&format!(
                            "audit log {} verifies: {} entries, every entry intact and under a signed tree head{extends}\n",
                            airlock_core::shown::path(&path),
                            thousands(n)
                        ));
                    }
                    Ok(ExitStatus::Success)
                }
                Err(e @ airlock_vault::VaultError::AuditBroken { .. }) => {
                    if json {
                        report::json(
                            &serde_json::json!({ "status": "tampered", "message": e.to_string() }),
                        );
                    } else {
                        report::out(&format!("{e}\n"));
                    }
                    Ok(ExitStatus::Findings)
                }
                Err(e) => Err(e.into()),
            }
        }
        AuditCommand::Head {
            export,
            force,
            key_file,
            server,
        } => {
            let head = match Door::open(&server, key_file.as_deref())? {
                Door::Local(ws) => Door::vault(&ws)?.verify_audit()?.head,
                Door::Remote(c) => c.audit_head()?,
            };
            let Some(head) = head else {
                anyhow::bail!("the audit log is empty: there is no tree head yet");
            };
            let text = serde_json::to_string_pretty(&head)? + "\n";
            match export {
                Some(path) => {
                    let out = airlock_core::output::AtomicOutput::create(&path, force)?;
                    std::io::Write::write_all(&mut out.file()?, text.as_bytes())
                        .map_err(|e| airlock_core::Error::io("write", &path, e))?;
                    out.commit()?;
                    if json {
                        report::json(
                            &serde_json::json!({ "status": "ok", "head": head, "file": path }),
                        );
                    } else {
                        report::out(&format!(
                            "wrote the tree head of {} entries to {}; keep it where no one who can write this workspace can change it, and check the log against it with `airlock audit verify --head`\n",
                            thousands(head.tree_size),
                            airlock_core::shown::path(&path)
                        ));
                    }
                }
                None if json => report::json(&serde_json::json!({ "status": "ok", "head": head })),
                None => report::out(&text),
            }
            Ok(ExitStatus::Success)
        }
        AuditCommand::Show {
            actor,
            dataset,
            since,
            key_file,
            server,
        } => {
            let entries: Vec<_> = match Door::open(&server, key_file.as_deref())? {
                Door::Remote(c) => {
                    c.audit_entries(actor.as_deref(), dataset.as_deref(), since.as_deref())?
                }
                Door::Local(ws) => Door::vault(&ws)?
                    .audit()
                    .entries()?
                    .into_iter()
                    .filter(|e| actor.as_ref().is_none_or(|a| &e.event.actor == a))
                    .filter(|e| {
                        dataset
                            .as_ref()
                            .is_none_or(|d| e.event.dataset.as_ref() == Some(d))
                    })
                    .filter(|e| since.as_ref().is_none_or(|s| e.time.as_str() >= s.as_str()))
                    .collect(),
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "entries": entries }));
            } else {
                let mut s = String::new();
                for e in &entries {
                    s.push_str(&format!(
                        "{:>6} {} {:<10} {:<10} {:<12} {:<10} {:<22} {}\n",
                        e.seq,
                        &e.time[..e.time.len().min(19)],
                        airlock_core::shown::escape(&e.event.actor, 40),
                        airlock_core::shown::escape(&e.event.role, 40),
                        airlock_core::shown::escape(&e.event.purpose, 40),
                        airlock_core::shown::escape(&e.event.action, 60),
                        e.event.dataset.as_deref().unwrap_or("-"),
                        e.event.outcome
                    ));
                }
                s.push_str(&format!("{} entries\n", entries.len()));
                report::out(&s);
            }
            Ok(ExitStatus::Success)
        }
        AuditCommand::Pubkey { key_file, server } => {
            let pk = match Door::open(&server, key_file.as_deref())? {
                Door::Local(ws) => Door::vault(&ws)?.audit().public_key_hex(),
                Door::Remote(c) => c.audit_pubkey()?,
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "public_key": pk }));
            } else {
                report::out(&format!("{pk}\n"));
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// `airlock vault deid`: decrypt a raw dataset to a private temporary folder, de-identify it
/// under the policy with the workspace's own key, and store the result and its manifest in
/// the deid zone (`airlock_run::vault::deid_dataset`, here or on the server). Nothing is
/// stored when residual identifiers remain.
fn deid(
    dataset: &str,
    policy_path: &Path,
    args: &ActorArgs,
    json: bool,
) -> anyhow::Result<ExitStatus> {
    use airlock_run::vault::VaultDeid;
    let policy = airlock_core::policy::Policy::load(policy_path)?;
    let (door, who, claim) = Door::acting(args)?;
    let outcome = match &door {
        Door::Local(ws) => airlock_run::vault::deid_dataset(ws, dataset, &policy, &who)?,
        Door::Remote(c) => {
            let text = std::fs::read_to_string(policy_path)
                .map_err(|e| airlock_core::Error::io("read", policy_path, e))?;
            let body = c.deid(dataset, &text, &claim)?;
            let field = |name: &str| body.get(name).cloned().unwrap_or_default();
            match body.get("outcome").and_then(|o| o.as_str()) {
                Some("stored") => VaultDeid::Stored {
                    dataset: serde_json::from_value(field("dataset"))?,
                    manifest: field("manifest").to_string(),
                    rows: field("rows").as_u64().unwrap_or(0),
                },
                Some("findings") => VaultDeid::Findings {
                    findings: serde_json::from_value(field("findings"))?,
                },
                Some("no-solution") => VaultDeid::NoSolution,
                Some("canaries") => VaultDeid::Canaries {
                    hits: field("hits").as_u64().unwrap_or(0),
                },
                _ => anyhow::bail!("the server's answer to vault deid has no outcome"),
            }
        }
    };
    match outcome {
        VaultDeid::NoSolution => anyhow::bail!(
            "the policy's [risk] block cannot be met on dataset {dataset}; nothing was stored"
        ),
        VaultDeid::Canaries { hits } => {
            if json {
                report::json(&serde_json::json!({ "status": "canaries", "canary_hits": hits }));
            } else {
                report::out(&format!(
                    "{} values of the workspace's canary patients survived de-identification; nothing was stored in the deid zone\n",
                    thousands(hits)
                ));
            }
            Ok(ExitStatus::Findings)
        }
        VaultDeid::Findings { findings } => {
            if json {
                report::json(&serde_json::json!({ "status": "findings", "findings": findings }));
            } else {
                report::out(&format!(
                    "{} residual identifiers remain after de-identification; nothing was stored in the deid zone\n",
                    thousands(findings.total)
                ));
            }
            Ok(ExitStatus::Findings)
        }
        VaultDeid::Stored {
            dataset: ds,
            manifest,
            rows,
        } => {
            if json {
                report::json(
                    &serde_json::json!({ "status": "ok", "source": dataset, "dataset": ds, "manifest": serde_json::from_str::<serde_json::Value>(&manifest)? }),
                );
            } else {
                report::out(&format!(
                    "de-identified {dataset} into {} (zone deid, {} rows, 0 residual findings); its manifest is kept with it\n",
                    ds.id,
                    thousands(rows)
                ));
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// The workspace's public key: given as hex, or derived from the workspace secret.
fn public_key(
    hex: Option<&str>,
    key_file: Option<&Path>,
) -> anyhow::Result<airlock_vault::audit::VerifyingKey> {
    if let Some(hex) = hex {
        return airlock_vault::audit::public_key(hex).ok_or_else(|| {
            anyhow::anyhow!("--public-key is not an ed25519 public key (64 hex digits)")
        });
    }
    let secret = WorkspaceSecret::load(&WorkspaceSecret::locate(key_file)?)?;
    Ok(airlock_vault::lineage::signing_key(
        &secret.derive(airlock_core::keys::Purpose::ManifestSigning),
    )
    .verifying_key())
}

/// Reads a tree head file; the error names the file, never its content.
fn read_tree_head(path: &Path) -> anyhow::Result<audit::TreeHead> {
    let shown = airlock_core::shown::path(path);
    let file = std::fs::File::open(path).map_err(|e| airlock_core::Error::io("read", path, e))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, 64 * 1024), &mut text)
        .map_err(|_| anyhow::anyhow!("{shown} is not an airlock tree head (not UTF-8 text)"))?;
    serde_json::from_str(&text).map_err(|_| {
        anyhow::anyhow!(
            "{shown} is not an airlock tree head (write one with `airlock audit head --export`)"
        )
    })
}

pub fn run_lineage(cmd: LineageCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        LineageCommand::Pubkey { key_file, server } => {
            let pk = match Door::client(&server, key_file.as_deref())? {
                Some(c) => c.lineage_pubkey()?,
                None => audit::public_key_hex(&public_key(None, key_file.as_deref())?),
            };
            if json {
                report::json(&serde_json::json!({ "status": "ok", "public_key": pk }));
            } else {
                report::out(&format!("{pk}\n"));
            }
            Ok(ExitStatus::Success)
        }
        LineageCommand::Verify {
            output,
            public_key: hex,
            key_file,
            server,
        } => {
            let from_server = match &hex {
                None => Door::client(&server, key_file.as_deref())?
                    .map(|c| c.lineage_pubkey())
                    .transpose()?,
                Some(_) => None,
            };
            let pk = public_key(from_server.or(hex).as_deref(), key_file.as_deref())?;
            match airlock_vault::lineage::verify(&output, &pk)? {
                Ok(statement) => {
                    if json {
                        report::json(
                            &serde_json::json!({ "status": "ok", "statement": statement }),
                        );
                    } else {
                        let sha = statement["subject"][0]["digest"]["sha256"]
                            .as_str()
                            .unwrap_or("")
                            .get(..12)
                            .unwrap_or("?")
                            .to_owned();
                        let p = &statement["predicate"];
                        let made = if statement["predicateType"]
                            == airlock_fl::coordinator::FL_PREDICATE
                        {
                            format!(
                                "trained by a federation of {} site(s) over {} round(s), spec {}",
                                p["sites"].as_array().map_or(0, Vec::len),
                                p["rounds"].as_array().map_or(0, Vec::len),
                                p["spec_sha256"]
                                    .as_str()
                                    .unwrap_or("?")
                                    .get(..12)
                                    .unwrap_or("?"),
                            )
                        } else {
                            format!(
                                "made from {} under policy {}",
                                p["materials"][0]["name"].as_str().unwrap_or("?"),
                                p["policy"]["name"].as_str().unwrap_or("?"),
                            )
                        };
                        report::out(&format!(
                            "{}: signed statement verifies; SHA-256 {sha} matches; {made}\n",
                            airlock_core::shown::path(&output),
                        ));
                    }
                    Ok(ExitStatus::Success)
                }
                Err(problem) => {
                    if json {
                        report::json(
                            &serde_json::json!({ "status": "failed", "problem": problem.to_string() }),
                        );
                    } else {
                        report::out(&format!(
                            "{} {problem}\n",
                            airlock_core::shown::path(&output)
                        ));
                    }
                    Ok(ExitStatus::Findings)
                }
            }
        }
        LineageCommand::Show { output, key_file } => {
            let pk = public_key(None, key_file.as_deref())?;
            let vault = open(key_file.as_deref()).ok();
            let mut steps = Vec::new();
            let mut current = output.clone();
            for _ in 0..32 {
                let Ok(statement) = airlock_vault::lineage::verify(&current, &pk)? else {
                    let (sha, _) = airlock_core::output::digest_file(&current)?;
                    let in_vault = vault
                        .as_ref()
                        .and_then(|v| v.find_by_sha256(&sha).ok())
                        .unwrap_or_default();
                    steps.push(serde_json::json!({
                        "file": current,
                        "sha256": sha,
                        "signed": false,
                        "vault": in_vault,
                    }));
                    break;
                };
                let material = statement["predicate"]["materials"][0]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                steps.push(serde_json::json!({
                    "file": current,
                    "sha256": statement["subject"][0]["digest"]["sha256"],
                    "signed": true,
                    "policy": statement["predicate"]["policy"],
                    "findings": statement["predicate"]["findings"]["total"],
                    "made_from": material,
                }));
                let next = current.with_file_name(&material);
                if material.is_empty() || !next.exists() {
                    break;
                }
                current = next;
            }
            if json {
                report::json(&serde_json::json!({ "status": "ok", "lineage": steps }));
            } else {
                let mut s = String::new();
                for (i, step) in steps.iter().enumerate() {
                    let file = step["file"].as_str().unwrap_or("?");
                    let sha = &step["sha256"].as_str().unwrap_or("")
                        [..12.min(step["sha256"].as_str().unwrap_or("").len())];
                    if step["signed"] == true {
                        s.push_str(&format!(
                            "{}{} (sha256 {sha}) <- deid under {} ({} residual findings) <- {}\n",
                            "  ".repeat(i),
                            file,
                            step["policy"]["name"].as_str().unwrap_or("?"),
                            step["findings"],
                            step["made_from"].as_str().unwrap_or("?")
                        ));
                    } else {
                        let vault_note = step["vault"]
                            .as_array()
                            .and_then(|v| v.first())
                            .map(|d| {
                                format!(
                                    "vault dataset {} in zone {}",
                                    d["id"].as_str().unwrap_or("?"),
                                    d["zone"].as_str().unwrap_or("?")
                                )
                            })
                            .unwrap_or_else(|| {
                                "no signed statement: the start of the chain".into()
                            });
                        s.push_str(&format!(
                            "{}{} (sha256 {sha}): {vault_note}\n",
                            "  ".repeat(i),
                            file
                        ));
                    }
                }
                report::out(&s);
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// After a `deid`, `scan` or `risk` run: when a workspace secret is found, sign a lineage
/// statement for the output (deid) and, when the workspace has a vault, append an audit event.
/// Returns the statement's path. Outside a workspace it does nothing.
pub fn after_run(
    key_file: Option<&Path>,
    action: &str,
    manifest: Option<&airlock_core::manifest::Manifest>,
    output: &Path,
    outcome: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let Some(workspace) = airlock_run::Workspace::find(key_file)? else {
        return Ok(None);
    };
    Ok(workspace.record(action, manifest, output, outcome)?)
}

/// `airlock approve`: one actor's approval of a dataset for staging or prod.
pub fn approve(dataset: &str, to: &str, who: &ActorArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let (door, actor, claim) = Door::acting(who)?;
    let n = match &door {
        Door::Local(ws) => Door::vault(ws)?.approve(dataset, Zone::parse(to)?, &actor)?,
        Door::Remote(c) => c.approve(dataset, to, &claim)?,
    };
    if json {
        report::json(&serde_json::json!({ "status": "ok", "approvals": n }));
    } else {
        report::out(&format!(
            "approved {dataset} for {to}: {n} approvals from distinct actors so far\n"
        ));
    }
    Ok(ExitStatus::Success)
}

/// `airlock retention apply`: shred what has outlived its zone's retention.
pub fn retention(dry_run: bool, who: &ActorArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let (door, actor, claim) = Door::acting(who)?;
    let expired = match &door {
        Door::Local(ws) => Door::vault(ws)?.apply_retention(chrono::Utc::now(), dry_run, &actor)?,
        Door::Remote(c) => c.retention(dry_run, &claim)?,
    };
    if json {
        report::json(
            &serde_json::json!({ "status": "ok", "dry_run": dry_run, "expired": expired }),
        );
    } else {
        let mut s = String::new();
        for e in &expired {
            s.push_str(&format!(
                "{} {} (zone {}, stored {}, kept {} days)\n",
                if dry_run { "would shred" } else { "shredded" },
                e.dataset,
                e.zone,
                &e.created_at[..e.created_at.len().min(19)],
                e.retention_days
            ));
        }
        s.push_str(&format!(
            "{} datasets past their retention\n",
            expired.len()
        ));
        report::out(&s);
    }
    Ok(ExitStatus::Success)
}

/// `airlock keys rotate`.
pub fn rotate_keys(who: &ActorArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let (door, actor, claim) = Door::acting(who)?;
    let r = match &door {
        Door::Local(ws) => Door::vault(ws)?.rotate_keys(&actor)?,
        Door::Remote(c) => c.rotate_keys(&claim)?,
    };
    if json {
        report::json(&serde_json::json!({ "status": "ok", "rotation": r }));
    } else {
        report::out(&format!(
            "rotated: {} data keys rewrapped under key-encryption key version {} (no data re-encrypted); destroyed versions: {:?}\n",
            thousands(r.rewrapped as u64),
            r.version,
            r.destroyed
        ));
    }
    Ok(ExitStatus::Success)
}
