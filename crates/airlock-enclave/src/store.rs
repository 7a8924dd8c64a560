//! Where an enclave run gets its datasets and registers its outputs: the local workspace
//! ([`Local`]: the vault's own calls, audit and signing), or the governance server
//! ([`Remote`]: the server authorizes and audits every fetch, and scans every output again
//! before it registers it; this machine never holds the workspace's keys).

use std::path::{Path, PathBuf};

use airlock_run::Workspace;
use airlock_server::client::{Claim, Client};
use airlock_vault::{Actor, Dataset, Vault, VaultError, Zone};

use crate::{EnclaveError, Result};

/// What a run needs of the place its data lives.
pub trait Store {
    /// A folder the command must never read (the local workspace), if any.
    fn guarded(&self) -> Result<Option<PathBuf>>;
    /// A private folder (0700) for the run's plaintext, swept if the process is killed.
    fn private_dir(&self) -> Result<tempfile::TempDir>;
    /// Fails early when `who` may not register outputs (zone dev).
    fn check_register(&self, who: &Actor) -> Result<()>;
    /// What the catalog knows of a dataset.
    fn dataset(&self, id: &str) -> Result<Dataset>;
    /// An input that is not de-identified data: recorded where that can be.
    fn refuse_input(&self, id: &str, who: &Actor) -> Result<()>;
    /// Every canary patient the workspace holds, to search the outputs for, where this store
    /// searches before registering (the server searches on its side).
    fn canaries(&self) -> Result<Option<airlock_canary::CanaryFile>>;
    /// Decrypts dataset `id` to `to` for `who` (authorized and audited); its manifest, if kept.
    fn fetch(&self, id: &str, to: &Path, who: &Actor) -> Result<Option<String>>;
    /// Registers a released output in zone dev; its dataset id.
    fn register(
        &self,
        file: &Path,
        name: &str,
        source: &str,
        summary: &str,
        who: &Actor,
    ) -> Result<String>;
    /// Records the run in the audit log where this store can.
    fn record_run(
        &self,
        who: &Actor,
        dataset: Option<&str>,
        sha: Option<&str>,
        outcome: &str,
    ) -> Result<()>;
    /// Signs the run record as an in-toto statement beside `run_file`, where this store holds
    /// a key; whether it did.
    fn sign(&self, run_file: &Path, statement: &serde_json::Value) -> Result<bool>;
}

/// The local workspace.
pub struct Local<'a>(pub &'a Workspace);

impl Local<'_> {
    fn vault(&self) -> Result<&Vault> {
        self.0
            .vault()
            .ok_or(EnclaveError::Vault(VaultError::NoVault))
    }
}

impl Store for Local<'_> {
    fn guarded(&self) -> Result<Option<PathBuf>> {
        self.0.dir().map(crate::sandbox::real).transpose()
    }

    fn private_dir(&self) -> Result<tempfile::TempDir> {
        Ok(self.vault()?.private_temp()?)
    }

    fn check_register(&self, who: &Actor) -> Result<()> {
        Ok(self
            .vault()?
            .allow(who, airlock_vault::access::Action::Write, Zone::Dev, None)?)
    }

    fn dataset(&self, id: &str) -> Result<Dataset> {
        Ok(self.vault()?.dataset(id)?)
    }

    fn refuse_input(&self, id: &str, who: &Actor) -> Result<()> {
        let event = Vault::event(who, "enclave:input", Some(id), None, "refused");
        Ok(self.vault()?.record(&[event])?)
    }

    fn canaries(&self) -> Result<Option<airlock_canary::CanaryFile>> {
        Ok(airlock_run::vault::workspace_canaries(self.vault()?)?)
    }

    fn fetch(&self, id: &str, to: &Path, who: &Actor) -> Result<Option<String>> {
        let vault = self.vault()?;
        vault.get(id, to, false, who)?;
        Ok(vault.lineage(id)?.1)
    }

    fn register(
        &self,
        file: &Path,
        name: &str,
        source: &str,
        summary: &str,
        who: &Actor,
    ) -> Result<String> {
        Ok(self
            .vault()?
            .put_artifact(file, name, who, source, summary)?
            .id)
    }

    fn record_run(
        &self,
        who: &Actor,
        dataset: Option<&str>,
        sha: Option<&str>,
        outcome: &str,
    ) -> Result<()> {
        let event = Vault::event(who, "enclave:run", dataset, sha, outcome);
        Ok(self.vault()?.record(&[event])?)
    }

    fn sign(&self, run_file: &Path, statement: &serde_json::Value) -> Result<bool> {
        let key = airlock_vault::lineage::signing_key(
            &self
                .0
                .secret()
                .derive(airlock_core::keys::Purpose::ManifestSigning),
        );
        airlock_vault::lineage::sign(run_file, statement, &key, true)?;
        Ok(true)
    }
}

/// The governance server, as `who`'s authenticated client.
pub struct Remote {
    pub client: Client,
    pub claim: Claim,
}

/// Where remote runs keep their plaintext on this machine.
const REMOTE_PREFIX: &str = "airlock-enclave-p";

fn remote_err(e: airlock_server::Error) -> EnclaveError {
    EnclaveError::Refused(e.to_string())
}

impl Store for Remote {
    fn guarded(&self) -> Result<Option<PathBuf>> {
        Ok(None)
    }

    fn private_dir(&self) -> Result<tempfile::TempDir> {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir();
        // the folders of runs whose process is gone (killed) go first
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let pid = name
                    .strip_prefix(REMOTE_PREFIX)
                    .and_then(|r| r.split('-').next())
                    .and_then(|p| p.parse::<u32>().ok());
                if let Some(pid) = pid
                    && !airlock_core::output::process_may_run(pid)
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{REMOTE_PREFIX}{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(crate::io("create", &base))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(crate::io("protect", dir.path()))?;
        Ok(dir)
    }

    fn check_register(&self, _who: &Actor) -> Result<()> {
        // the server decides when the outputs are registered
        Ok(())
    }

    fn dataset(&self, id: &str) -> Result<Dataset> {
        self.client
            .list()
            .map_err(remote_err)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| EnclaveError::Vault(VaultError::UnknownDataset(id.to_owned())))
    }

    fn refuse_input(&self, _id: &str, _who: &Actor) -> Result<()> {
        Ok(())
    }

    fn canaries(&self) -> Result<Option<airlock_canary::CanaryFile>> {
        // the server holds the canary files and searches every output before it registers it
        Ok(None)
    }

    fn fetch(&self, id: &str, to: &Path, _who: &Actor) -> Result<Option<String>> {
        self.client
            .get(id, to, false, &self.claim)
            .map_err(remote_err)?;
        Ok(None)
    }

    fn register(
        &self,
        file: &Path,
        name: &str,
        source: &str,
        summary: &str,
        _who: &Actor,
    ) -> Result<String> {
        Ok(self
            .client
            .register_artifact(file, name, source, summary, &self.claim)
            .map_err(remote_err)?
            .id)
    }

    fn record_run(&self, _: &Actor, _: Option<&str>, _: Option<&str>, _: &str) -> Result<()> {
        // the server's log holds every fetch and every registration of the run
        Ok(())
    }

    fn sign(&self, _run_file: &Path, _statement: &serde_json::Value) -> Result<bool> {
        Ok(false)
    }
}
