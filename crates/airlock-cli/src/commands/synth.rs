//! `airlock synth fit` and `airlock synth sample`: the synthesizer of `airlock-synth`, with
//! the policy's classes as its gate.

use crate::ExitStatus;
use crate::cli::SynthCommand;
use crate::report;
use airlock_core::policy::FieldClass;
use airlock_core::shown;

pub fn run(cmd: SynthCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        SynthCommand::Fit {
            data,
            output,
            epsilon,
            delta,
            policy,
            columns,
            seed,
            force,
        } => {
            let table = airlock_synth::Table::read(&data)?;
            let columns = if columns.is_empty() {
                table.names.clone()
            } else {
                columns
            };
            // the policy's classes decide; identifiers and free text never reach the model
            let classified = match &policy {
                Some(p) => {
                    let policy = airlock_core::policy::Policy::load(p)?;
                    for c in &columns {
                        match policy.fields.get(c).map(|f| f.class) {
                            None => anyhow::bail!(
                                "column {} is not in the policy: classify it, or leave it out with --columns",
                                shown::escape(c, 80)
                            ),
                            Some(FieldClass::DirectIdentifier | FieldClass::FreeText) => {
                                anyhow::bail!(
                                    "column {} is an identifier or free text in the policy: the synthesizer takes de-identified and clinical columns only",
                                    shown::escape(c, 80)
                                )
                            }
                            Some(_) => {}
                        }
                    }
                    "policy"
                }
                None => {
                    report::warn(
                        "no --policy: every column is taken as a clinical value (none is checked for identifiers)",
                    );
                    "none: every column taken as a clinical value"
                }
            };
            let budget = if epsilon.is_infinite() && epsilon > 0.0 {
                report::warn(
                    "--epsilon inf: this model is NOT differentially private (for comparison only)",
                );
                airlock_synth::Budget::NonPrivate
            } else {
                airlock_synth::Budget::Private { epsilon, delta }
            };
            let out = airlock_core::output::AtomicOutput::create(&output, force)?;
            let started = std::time::Instant::now();
            let model = airlock_synth::fit(&table, &columns, budget, seed)?;
            let seconds = started.elapsed().as_secs_f64();
            let text = serde_json::to_string_pretty(&model)? + "\n";
            std::io::Write::write_all(&mut out.file()?, text.as_bytes())
                .map_err(|e| airlock_core::Error::io("write", &output, e))?;
            out.commit()?;
            let names = |i: usize| shown::escape(&model.columns[i].name, 40);
            if json {
                report::json(&serde_json::json!({
                    "status": "ok",
                    "model": output,
                    "privacy": model.privacy,
                    "classified_by": classified,
                    "columns": model.columns.iter().map(|c| serde_json::json!({
                        "name": c.name, "values_released": c.values.len(),
                    })).collect::<Vec<_>>(),
                    "edges": model.edges.iter().map(|e| [names(e.parent), names(e.child)]).collect::<Vec<_>>(),
                    "seconds": seconds,
                }));
            } else {
                let privacy = match (model.privacy.epsilon, model.privacy.delta) {
                    (Some(e), Some(d)) => format!(
                        "epsilon {e} at delta {d} (zCDP rho {:.5} spent of {:.5})",
                        model.privacy.rho_spent.unwrap_or(0.0),
                        model.privacy.rho.unwrap_or(0.0)
                    ),
                    _ => "NOT differentially private".into(),
                };
                let tree: Vec<String> = model
                    .edges
                    .iter()
                    .map(|e| format!("{} -> {}", names(e.parent), names(e.child)))
                    .collect();
                report::out(&format!(
                    "fitted {} columns of {} rows: {privacy}\ntree: {}\nvalues released per column: {}\nwrote {} ({seconds:.2} s)\n",
                    model.columns.len(),
                    table.rows,
                    if tree.is_empty() {
                        "(one column)".into()
                    } else {
                        tree.join(", ")
                    },
                    model
                        .columns
                        .iter()
                        .map(|c| format!("{} {}", shown::escape(&c.name, 40), c.values.len()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    shown::path(&output)
                ));
            }
        }
        SynthCommand::Sample {
            model,
            rows,
            output,
            seed,
            force,
        } => {
            let text =
                std::fs::read(&model).map_err(|e| airlock_core::Error::io("read", &model, e))?;
            let m: airlock_synth::SynthModel =
                serde_json::from_slice(&text).map_err(|_| airlock_core::Error::Invalid {
                    what: format!("model {}", shown::path(&model)),
                    why: "not a model written by airlock synth fit".into(),
                })?;
            if m.privacy.non_private {
                report::warn(
                    "this model is NOT differentially private (fitted with --epsilon inf)",
                );
            }
            let summary = airlock_synth::sample_to(&m, rows, seed, &output, force)?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok",
                    "rows": summary.rows,
                    "output": output,
                    "sha256": summary.sha256,
                    "non_private": m.privacy.non_private,
                }));
            } else {
                report::out(&format!(
                    "sampled {} rows into {}{}\n",
                    summary.rows,
                    shown::path(&output),
                    if m.privacy.non_private {
                        " (from a model that is NOT differentially private)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}
