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
}

/// Moves dataset `id` one zone on, through its gate: the residual scan (the text detector
/// with no key) into dev, approvals into staging and prod.
pub fn promote(workspace: &Workspace, id: &str, to: Zone, who: &Actor) -> Result<Promotion> {
    let vault = workspace.vault().ok_or_else(no_vault)?;
    let engine = airlock_text::TextEngine::without_key();
    let scan = |path: &Path| -> airlock_vault::Result<u64> {
        airlock_text::scan::scan_file(path, &engine)
            .map(|f| f.map_or(0, |f| f.findings))
            .map_err(VaultError::from)
    };
    Ok(vault.promote(id, to, who, &scan)?)
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
