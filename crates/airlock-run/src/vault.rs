//! The vault's runs that need the engines: `vault deid` (a raw dataset de-identified into the
//! deid zone) and `promote` (with its residual scan into dev). The CLI's local mode and the
//! server both call these; neither assembles the steps itself.

use std::path::Path;

use airlock_core::policy::Policy;
use airlock_core::table::Format;
use airlock_vault::{Actor, Dataset, Promotion, VaultError, Zone};

use crate::{DeidJob, Result, TableOutcome, TableRun, Workspace, deid_table};

/// How a `vault deid` ended.
#[derive(Debug)]
pub enum VaultDeid {
    /// Stored in the deid zone with its manifest (JSON text).
    Stored {
        dataset: Dataset,
        manifest: String,
        rows: u64,
    },
    /// Residual identifiers remained: nothing was stored.
    Findings {
        findings: airlock_core::manifest::Findings,
    },
    /// The policy's `[risk]` block cannot be met: nothing was stored.
    NoSolution,
    /// Values of the workspace's canary patients survived: nothing was stored.
    Canaries { hits: u64 },
}

/// Why a model file may not enter staging or prod under `gate`, if it may not. `text` is the
/// decrypted dataset; what is neither an `airlock train` model file nor a federation's model
/// (`airlock fl`) is not a model.
pub fn model_refusal(text: &[u8], gate: &airlock_vault::access::ModelGate) -> Option<String> {
    let model: serde_json::Value = serde_json::from_slice(text).ok()?;
    let federated = match model.get("format").and_then(|f| f.as_str()) {
        Some("airlock-model/1") => false,
        Some(FEDERATED_MODEL_FORMAT) => true,
        _ => return None,
    };
    if let Some(max) = gate.max_epsilon {
        match model["privacy"]["epsilon"].as_f64() {
            None => {
                return Some(format!(
                    "it is a model trained without differential privacy, and [models] asks for epsilon at most {max}"
                ));
            }
            Some(e) if e > max => {
                return Some(format!(
                    "it is a model trained at epsilon {e:.3}, and [models] allows at most {max}"
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(max) = gate.max_canary_exposure {
        match model["canaries"]["mean"].as_f64() {
            None => {
                return Some(format!(
                    "it was trained without canaries (airlock train --canaries N), and [models] limits their exposure to {max} bits"
                ));
            }
            Some(e) if e > max => {
                return Some(format!(
                    "its canaries' mean exposure is {e:.2} bits, and [models] allows at most {max}"
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(max) = gate.max_membership_advantage {
        if federated {
            // fail closed: the coordinator holds no rows to attack the model with
            return Some(format!(
                "no membership attack was run on this federated model (the coordinator holds no rows), and [models] limits the attack's advantage to {max}"
            ));
        }
        let adv = model["membership"]["advantage"]
            .as_f64()
            .unwrap_or(f64::INFINITY);
        if adv > max {
            return Some(format!(
                "the membership attack on this model has an advantage of {adv:.3}, and [models] allows at most {max}"
            ));
        }
    }
    None
}

/// The format of a federation's model file (`airlock fl coordinator`).
pub const FEDERATED_MODEL_FORMAT: &str = "airlock-fl-model/1";

/// Moves dataset `id` one zone on, through its gate: the residual scan (the text detector
/// with no key) into dev, approvals into staging and prod, and for a model from the enclave
/// the `[models]` gate (its privacy and its membership attack) into staging and prod.
pub fn promote(workspace: &Workspace, id: &str, to: Zone, who: &Actor) -> Result<Promotion> {
    let vault = workspace.vault().ok_or_else(no_vault)?;
    let gate = vault.model_gate();
    let from_enclave = vault
        .lineage(id)?
        .1
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
        .is_some_and(|m| m.get("enclave_run").is_some() || m["kind"] == "federated");
    if from_enclave && matches!(to, Zone::Staging | Zone::Prod) && gate != Default::default() {
        // read (audited) to see what it is
        let tmp = vault.private_temp()?;
        let plain = tmp.path().join("artifact");
        vault.get(id, &plain, true, who)?;
        let text = std::fs::read(&plain).map_err(|e| airlock_core::Error::io("read", &plain, e))?;
        if let Some(why) = model_refusal(&text, &gate) {
            vault.record(&[airlock_vault::Vault::event(
                who,
                &format!("promote:{to}"),
                Some(id),
                None,
                "refused",
            )])?;
            return Err(VaultError::Gate {
                dataset: id.to_owned(),
                why: format!("cannot be promoted: {why}"),
            }
            .into());
        }
    }
    // the residual scan, and the search for the canary patients the workspace holds
    let engine = airlock_text::TextEngine::without_key();
    // (the scan is the gate into dev only: the canary files are read only for it)
    let canaries = if to == Zone::Dev {
        workspace_canaries(vault)?
    } else {
        None
    };
    let scan = |path: &Path| -> airlock_vault::Result<u64> {
        let findings = airlock_text::scan::scan_file(path, &engine)
            .map(|f| f.map_or(0, |f| f.findings))
            .map_err(VaultError::from)?;
        let hits = match &canaries {
            Some(c) => canary_hits(c, path)?,
            None => 0,
        };
        Ok(findings + hits)
    };
    Ok(vault.promote(id, to, who, &scan)?)
}

/// Keeps the canary file of the canary patients planted in raw dataset `id` with it (sealed
/// under its key; carried forward to everything made from it). The file must record the
/// planting of this very table (its output's SHA-256 is the dataset's).
pub fn attach_canaries(
    vault: &airlock_vault::Vault,
    id: &str,
    canaries: &[u8],
    who: &Actor,
) -> Result<()> {
    let file = airlock_canary::CanaryFile::from_slice(canaries, Path::new("canary file"))?;
    let ds = vault.dataset(id)?;
    if !file.is_for(&ds.sha256) {
        return Err(VaultError::Gate {
            dataset: ds.id,
            why: "the canary file records the planting of another table (its output's SHA-256 is not this dataset's)".into(),
        }
        .into());
    }
    Ok(vault.attach_canaries(id, canaries, who)?)
}

/// Every canary patient the workspace holds (planted in any of its tables), as one file to
/// search with; `None` when it holds none. Gates search for all of them, not only those of the
/// data at hand: a copy of one table's canaries must not pass under another's name.
pub fn workspace_canaries(
    vault: &airlock_vault::Vault,
) -> Result<Option<airlock_canary::CanaryFile>> {
    let mut files = Vec::new();
    for bytes in vault.all_canaries()? {
        files.push(airlock_canary::CanaryFile::from_slice(
            &bytes,
            Path::new("canary file"),
        )?);
    }
    Ok((!files.is_empty()).then(|| airlock_canary::CanaryFile::merged(files)))
}

/// How many canary values `path` (a file or a folder) holds, in any form the search knows.
pub fn canary_hits(
    canaries: &airlock_canary::CanaryFile,
    path: &Path,
) -> airlock_vault::Result<u64> {
    Ok(airlock_canary::check_paths(canaries, &[path.to_path_buf()], &[], &mut |_| {})?.hits)
}

/// De-identifies raw dataset `id` under `policy` with the workspace's own key, in a private
/// temporary folder (0700, swept if the process is killed), and stores the result and its
/// manifest in the deid zone. Nothing is stored when residual identifiers remain.
pub fn deid_dataset(
    workspace: &Workspace,
    id: &str,
    policy: &Policy,
    who: &Actor,
) -> Result<VaultDeid> {
    let vault = workspace.vault().ok_or_else(no_vault)?;
    let record = vault.dataset(id)?;
    if record.zone != Zone::Raw.as_str() {
        return Err(VaultError::Gate {
            dataset: record.id,
            why: format!(
                "is in zone {}, not raw: only raw datasets are de-identified into deid",
                record.zone
            ),
        }
        .into());
    }
    let tmp = vault.private_temp()?;
    let _live = airlock_core::output::Registered::new(tmp.path());
    let name = Path::new(&record.name);
    let format = Format::from_path(name).unwrap_or(Format::Csv);
    let input = tmp.path().join(format!("input.{}", format.as_str()));
    vault.get(id, &input, true, who)?;
    let output = tmp.path().join(format!("output.{}", format.as_str()));
    let run = TableRun {
        job: DeidJob {
            force: true,
            ..DeidJob::new(&input, format, &output, format)
        },
        max_findings: 0,
        // the vault records this run's own events (get, put_derived)
        record: false,
    };
    let report = match deid_table(&run, policy, workspace, &mut |_| {})? {
        TableOutcome::Done { report, .. } => *report,
        TableOutcome::NoSolution { .. } => return Ok(VaultDeid::NoSolution),
    };
    if report.manifest.findings.total > 0 {
        return Ok(VaultDeid::Findings {
            findings: report.manifest.findings,
        });
    }
    if let Some(canaries) = workspace_canaries(vault)? {
        let hits = canary_hits(&canaries, &output)?;
        if hits > 0 {
            vault.record(&[airlock_vault::Vault::event(
                who,
                "deid",
                Some(id),
                None,
                "canaries",
            )])?;
            return Ok(VaultDeid::Canaries { hits });
        }
    }
    let manifest = std::fs::read_to_string(&report.manifest_path)
        .map_err(|e| airlock_core::Error::io("read", &report.manifest_path, e))?;
    let stem = name
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("dataset");
    let out_name = format!("{stem}.deid.{}", format.as_str());
    let dataset = vault.put_derived(&output, &out_name, who, id, &manifest)?;
    Ok(VaultDeid::Stored {
        dataset,
        manifest,
        rows: report.manifest.output.rows,
    })
}

fn no_vault() -> crate::RunError {
    VaultError::NoVault.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_vault::access::ModelGate;

    #[test]
    fn the_models_gate_reads_privacy_and_membership() {
        let gate = ModelGate {
            max_epsilon: Some(5.0),
            max_membership_advantage: Some(0.1),
            max_canary_exposure: None,
        };
        let model = |privacy: &str, advantage: f64| {
            format!(
                r#"{{"format":"airlock-model/1","privacy":{privacy},"membership":{{"advantage":{advantage}}}}}"#
            )
        };
        let refusal = |text: String| model_refusal(text.as_bytes(), &gate);
        assert!(refusal(model(r#"{"epsilon":3.0}"#, 0.02)).is_none());
        assert!(
            refusal(model("null", 0.02))
                .unwrap()
                .contains("without differential privacy")
        );
        assert!(
            refusal(model(r#"{"epsilon":8.0}"#, 0.02))
                .unwrap()
                .contains("epsilon 8.000")
        );
        assert!(
            refusal(model(r#"{"epsilon":3.0}"#, 0.3))
                .unwrap()
                .contains("advantage")
        );
        // the canary limit, when set, asks for canaries and reads their mean exposure
        let canary_gate = ModelGate {
            max_canary_exposure: Some(3.0),
            ..ModelGate::default()
        };
        let with = |canaries: &str| {
            format!(
                r#"{{"format":"airlock-model/1","privacy":null,"membership":{{"advantage":0}}{canaries}}}"#
            )
        };
        assert!(
            model_refusal(with("").as_bytes(), &canary_gate)
                .unwrap()
                .contains("without canaries")
        );
        assert!(
            model_refusal(with(r#","canaries":{"mean":1.5}"#).as_bytes(), &canary_gate).is_none()
        );
        assert!(
            model_refusal(
                with(r#","canaries":{"mean":4.25}"#).as_bytes(),
                &canary_gate
            )
            .unwrap()
            .contains("4.25 bits")
        );
        // what is not a model file is not a model
        assert!(model_refusal(b"weights 0.1 0.2", &gate).is_none());
        assert!(model_refusal(br#"{"format":"other"}"#, &gate).is_none());
    }
}
