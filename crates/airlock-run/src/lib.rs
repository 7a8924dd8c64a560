//! The library owns the run. One de-identification of a table, end to end, for every front
//! door (the CLI's `deid` and `vault deid`, and the server, gateway and bindings to come):
//! the never-over-the-input guard, the workspace secret loaded once, the text engine on the
//! workspace's patient clock, field actions, free text, the policy's `[risk]` block, the
//! residual scan and the manifest (in `airlock-deid` / `airlock-risk`), then the signed lineage
//! statement beside the output and the audit event in the workspace's log. A front door parses
//! its arguments, calls [`deid_table`] and prints what comes back.

#![forbid(unsafe_code, unused_must_use)]

pub mod batch;
pub mod demo;
pub mod vault;

pub use batch::BatchDeid;

use std::path::{Path, PathBuf};

use airlock_core::clock::ShiftRange;
use airlock_core::keys::{Purpose, WorkspaceSecret};
use airlock_core::manifest::Manifest;
use airlock_core::policy::Policy;
pub use airlock_deid::{DeidJob, DeidReport, Progress};
use airlock_risk::RiskError;
use airlock_text::TextEngine;
use airlock_vault::{Vault, VaultError};

/// Why a run failed. Like every airlock error, it names files and settings, never data.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
    #[error(transparent)]
    Risk(#[from] RiskError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl RunError {
    /// What the user can do about it, where airlock knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Core(e) => e.hint(),
            Self::Risk(e) => e.hint(),
            Self::Vault(e) => e.hint(),
        }
    }
}

/// Result with [`RunError`].
pub type Result<T, E = RunError> = std::result::Result<T, E>;

/// A workspace: its secret, loaded once per run, and the directory that holds it (where the
/// vault's catalog and audit log live, if it has them).
pub struct Workspace {
    holder: Holder,
    dir: Option<PathBuf>,
}

/// The secret alone, or the vault that holds it (a workspace made by `airlock init`).
enum Holder {
    Secret(WorkspaceSecret),
    Vault(Box<Vault>),
}

impl Workspace {
    /// The workspace whose secret `--key-file`, `AIRLOCK_KEY_FILE` or `.airlock/secret` (here or
    /// above) names.
    pub fn open(key_file: Option<&Path>) -> Result<Self> {
        Self::load(&WorkspaceSecret::locate(key_file)?)
    }

    /// The workspace whose secret is the file at `path`.
    fn load(path: &Path) -> Result<Self> {
        let secret = WorkspaceSecret::load(path)?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let holder = if dir.join(airlock_vault::CATALOG_FILE).exists() {
            Holder::Vault(Box::new(Vault::open(&dir, secret)?))
        } else {
            Holder::Secret(secret)
        };
        Ok(Self {
            holder,
            dir: Some(dir),
        })
    }

    /// The workspace if one is found, else `None` (for runs that only record when they can).
    pub fn find(key_file: Option<&Path>) -> Result<Option<Self>> {
        match WorkspaceSecret::locate(key_file) {
            Ok(path) => Self::load(&path).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// A throwaway secret and no directory: for a policy that keys nothing (nothing keyed is
    /// written, and nothing is signed or audited).
    pub fn ephemeral() -> Result<Self> {
        Ok(Self {
            holder: Holder::Secret(WorkspaceSecret::generate()?),
            dir: None,
        })
    }

    /// A workspace from a secret already loaded (tests, servers that hold the key).
    pub fn from_secret(secret: WorkspaceSecret, dir: Option<PathBuf>) -> Self {
        Self {
            holder: Holder::Secret(secret),
            dir,
        }
    }

    /// The workspace secret.
    pub fn secret(&self) -> &WorkspaceSecret {
        match &self.holder {
            Holder::Secret(s) => s,
            Holder::Vault(v) => v.secret(),
        }
    }

    /// The folder that holds the secret (`.airlock/`), when the workspace has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The workspace's vault, taken out of it, when it has one.
    pub fn into_vault(self) -> Option<Vault> {
        match self.holder {
            Holder::Secret(_) => None,
            Holder::Vault(v) => Some(*v),
        }
    }

    /// The workspace's vault, when it has one.
    pub fn vault(&self) -> Option<&Vault> {
        match &self.holder {
            Holder::Secret(_) => None,
            Holder::Vault(v) => Some(v),
        }
    }

    /// The workspace's vault, to change how it decides (a server's bound roles, its access
    /// rules refreshed), when it has one.
    pub fn vault_mut(&mut self) -> Option<&mut Vault> {
        match &mut self.holder {
            Holder::Secret(_) => None,
            Holder::Vault(v) => Some(v),
        }
    }

    /// Signs a lineage statement for `output` (when a manifest describes it) and appends an
    /// audit event to the workspace's log (when the workspace has a vault). Returns the
    /// statement's path.
    pub fn record(
        &self,
        action: &str,
        manifest: Option<&Manifest>,
        output: &Path,
        outcome: &str,
    ) -> Result<Option<PathBuf>> {
        if self.dir.is_none() {
            return Ok(None);
        }
        let mut statement = None;
        if let Some(m) = manifest {
            let key = airlock_vault::lineage::signing_key(
                &self.secret().derive(Purpose::ManifestSigning),
            );
            let st = airlock_vault::lineage::statement(m);
            // the statement describes this output: a stale one from an earlier run is replaced
            statement = Some(airlock_vault::lineage::sign(output, &st, &key, true)?);
        }
        if let Some(vault) = self.vault() {
            vault.record(&[airlock_vault::Event {
                actor: airlock_vault::access::current_user(),
                role: std::env::var("AIRLOCK_ROLE").unwrap_or_default(),
                purpose: std::env::var("AIRLOCK_PURPOSE").unwrap_or_default(),
                action: action.into(),
                dataset: None,
                object_sha256: manifest.map(|m| m.output.sha256.clone()),
                outcome: outcome.into(),
                detail: None,
            }])?;
        }
        Ok(statement)
    }
}

/// One table run: the engine's job (where from, where to, how; the run always writes the
/// manifest), what it tolerates, and whether it is recorded.
#[derive(Debug, Clone)]
pub struct TableRun {
    pub job: DeidJob,
    /// Residual findings tolerated before the run's status is [`Status::Findings`].
    pub max_findings: u64,
    /// Sign lineage and append the audit event (`vault deid` records its own events).
    pub record: bool,
}

/// How a finished run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// More residual findings than tolerated (the output is written).
    Findings,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Findings => "findings",
        }
    }
}

/// What a table run produced.
#[derive(Debug)]
pub enum TableOutcome {
    Done {
        report: Box<DeidReport>,
        status: Status,
        /// The signed lineage statement beside the output, inside a workspace.
        lineage: Option<PathBuf>,
    },
    /// The policy's `[risk]` block cannot be met; nothing was written.
    NoSolution {
        lattice_size: usize,
        suppression_limit: u64,
    },
}

/// De-identifies a table under `policy` in `workspace`, end to end.
pub fn deid_table(
    run: &TableRun,
    policy: &Policy,
    workspace: &Workspace,
    progress: &mut dyn FnMut(Progress),
) -> Result<TableOutcome> {
    let engine = text_engine(policy, workspace)?;
    deid_table_with(run, policy, workspace, &engine, progress)
}

/// The text engine of a run: keyed by the workspace, on its patient clock with the policy's
/// range, reckoning ages at the policy's reference year.
pub fn text_engine(policy: &Policy, workspace: &Workspace) -> Result<TextEngine> {
    text_engine_for(policy, workspace.secret())
}

/// [`text_engine`] keyed by a secret alone.
pub fn text_engine_for(policy: &Policy, secret: &WorkspaceSecret) -> Result<TextEngine> {
    let range = ShiftRange::new(policy.date_shift_days, "defaults.date_shift_days")?;
    let engine = TextEngine::for_workspace(secret, range).with_mode(policy.text_mode);
    Ok(match policy.reference_year {
        Some(year) => engine.with_reference_year(year),
        None => engine,
    })
}

/// [`deid_table`] with a text engine the caller built (with [`text_engine`]) and uses again.
pub fn deid_table_with(
    run: &TableRun,
    policy: &Policy,
    workspace: &Workspace,
    engine: &TextEngine,
    progress: &mut dyn FnMut(Progress),
) -> Result<TableOutcome> {
    airlock_core::output::refuse_overwrite(&run.job.input, &run.job.output)?;
    let job = DeidJob {
        write_manifest: true,
        threads: run.job.threads.max(1),
        ..run.job.clone()
    };
    let report =
        match airlock_risk::policy::run(&job, policy, workspace.secret(), engine, progress)? {
            airlock_risk::policy::Outcome::Done(report) => report,
            airlock_risk::policy::Outcome::NoSolution {
                lattice_size,
                suppression_limit,
            } => {
                return Ok(TableOutcome::NoSolution {
                    lattice_size,
                    suppression_limit,
                });
            }
        };
    let status = if report.manifest.findings.total > run.max_findings {
        Status::Findings
    } else {
        Status::Ok
    };
    let lineage = if run.record {
        workspace.record("deid", Some(&report.manifest), &job.output, status.label())?
    } else {
        None
    };
    Ok(TableOutcome::Done {
        report,
        status,
        lineage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::table::Format;

    #[test]
    fn the_output_is_never_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.csv");
        std::fs::write(&input, "x\n1\n").unwrap();
        let policy = Policy::parse(
            "[dataset]\nname = \"x\"\n[fields.x]\nclass = \"clinical\"\naction = \"keep\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let output = dir.path().join(".").join("a.csv");
        let run = TableRun {
            job: DeidJob {
                force: true,
                threads: 1,
                ..DeidJob::new(&input, Format::Csv, output, Format::Csv)
            },
            max_findings: 0,
            record: false,
        };
        let ws = Workspace::ephemeral().unwrap();
        let e = deid_table(&run, &policy, &ws, &mut |_| {}).unwrap_err();
        assert!(
            matches!(e, RunError::Core(airlock_core::Error::OutputIsInput { .. })),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "x\n1\n");
    }
}
