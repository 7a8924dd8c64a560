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
        SynthCommand::Report {
            real,
            synthetic,
            model,
            holdout,
            target,
            positive,
            policy,
            qi,
            html,
            force,
        } => {
            let policy = policy
                .as_deref()
                .map(airlock_core::policy::Policy::load)
                .transpose()?;
            let real_t = airlock_synth::Table::read(&real)?;
            let synth_t = airlock_synth::Table::read(&synthetic)?;
            let holdout_t = holdout
                .as_deref()
                .map(airlock_synth::Table::read)
                .transpose()?;
            let privacy = match &model {
                Some(p) => {
                    let text =
                        std::fs::read(p).map_err(|e| airlock_core::Error::io("read", p, e))?;
                    let m: airlock_synth::SynthModel =
                        serde_json::from_slice(&text).map_err(|_| {
                            airlock_core::Error::Invalid {
                                what: format!("model {}", shown::path(p)),
                                why: "not a model written by airlock synth fit".into(),
                            }
                        })?;
                    m.check()?;
                    match (m.privacy.epsilon, m.privacy.delta) {
                        (Some(e), Some(d)) => format!(
                            "Fitted with differential privacy: epsilon {e} at delta {d} (zCDP rho {:.5} spent; noise {}).",
                            m.privacy.rho_spent.unwrap_or(0.0),
                            m.privacy.noise
                        ),
                        _ => "Fitted WITHOUT differential privacy (epsilon inf): for comparison only.".into(),
                    }
                }
                None => "Privacy not stated (no --model given).".into(),
            };
            let columns = synth_t.names.clone();
            let task = match (&holdout_t, &target) {
                (Some(h), Some(t)) => Some(airlock_synth::report::UtilityTask {
                    holdout: h,
                    target: t,
                    positive: positive.as_deref(),
                }),
                _ => None,
            };
            let fid = airlock_synth::report::fidelity(&real_t, &synth_t, &columns, task)?;
            let qis: Vec<String> = if qi.is_empty() {
                policy.as_ref().map_or_else(Vec::new, |p| {
                    columns
                        .iter()
                        .filter(|c| {
                            p.fields.get(*c).map(|f| f.class) == Some(FieldClass::QuasiIdentifier)
                        })
                        .cloned()
                        .collect()
                })
            } else {
                qi
            };
            let risk = if qis.is_empty() {
                None
            } else {
                Some(airlock_synth::report::privacy_risk(
                    &real_t,
                    holdout_t.as_ref(),
                    &synth_t,
                    &columns,
                    &qis,
                )?)
            };
            // the policy's gate
            let mut failed = Vec::new();
            if let (Some(gate), Some(r)) =
                (policy.as_ref().and_then(|p| p.synthetic.as_ref()), &risk)
            {
                if let Some(max) = gate.max_rare_copies
                    && r.rare_copies > max
                {
                    failed.push(format!(
                        "{:.4} of the synthetic rows repeat the quasi-identifiers of a training record unique on them ([synthetic] max_rare_copies = {max})",
                        r.rare_copies
                    ));
                }
                if let Some(k) = gate.min_k
                    && r.k_anonymity < k as usize
                {
                    failed.push(format!(
                        "a combination of quasi-identifiers is shared by {} synthetic rows ([synthetic] min_k = {k})",
                        r.k_anonymity
                    ));
                }
            }
            if policy.as_ref().is_some_and(|p| p.synthetic.is_some()) && risk.is_none() {
                anyhow::bail!(
                    "the policy's [synthetic] gate needs quasi-identifiers: the policy classes none of the synthetic columns as one (or name them with --qi)"
                );
            }
            if let Some(path) = &html {
                let out = airlock_core::output::AtomicOutput::create(path, force)?;
                let title = format!(
                    "Real: {}. Synthetic: {}.",
                    real.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    synthetic
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                );
                std::io::Write::write_all(
                    &mut out.file()?,
                    fid.html(&title, &privacy, risk.as_ref()).as_bytes(),
                )
                .map_err(|e| airlock_core::Error::io("write", path, e))?;
                out.commit()?;
            }
            if json {
                let mut v = serde_json::to_value(&fid)?;
                v["status"] = if failed.is_empty() {
                    "ok"
                } else {
                    "gate failed"
                }
                .into();
                v["privacy"] = privacy.into();
                v["privacy_risk"] = serde_json::to_value(&risk)?;
                v["gate_failures"] = serde_json::to_value(&failed)?;
                report::json(&v);
            } else {
                let pairs = |m: &[airlock_synth::report::Marginal]| {
                    m.iter()
                        .map(|x| {
                            format!(
                                "{} {:.3}",
                                x.columns
                                    .iter()
                                    .map(|c| shown::escape(c, 40))
                                    .collect::<Vec<_>>()
                                    .join(" x "),
                                x.tvd
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let k = fid.two_way.len().min(3);
                let utility = fid.utility.as_ref().map_or_else(String::new, |u| {
                    format!(
                        "utility ({} held-out real rows): trained on real, accuracy {:.3} AUC {:.3}; trained on synthetic, accuracy {:.3} AUC {:.3}\n",
                        u.test_rows, u.real_accuracy, u.real_auc, u.synthetic_accuracy, u.synthetic_auc
                    )
                });
                let risk_line = risk.as_ref().map_or_else(String::new, |r| {
                    format!(
                        "privacy: {:.4} of rows equal a training row, {:.4} repeat a training row's quasi-identifiers, {:.4} those of a training row unique on them; k-anonymity {}; distance attack AUC {}\n",
                        r.exact_copies,
                        r.qi_copies,
                        r.rare_copies,
                        r.k_anonymity,
                        r.membership_auc.map_or_else(|| "- (no --holdout)".to_owned(), |a| format!("{a:.3}"))
                    )
                });
                let gate = failed
                    .iter()
                    .map(|f| format!("gate failed: {f}\n"))
                    .collect::<String>();
                report::out(&format!(
                    "{privacy}\nmean TVD: one-way {:.3}, two-way {:.3}\ndiverges most: {}\napproximates well: {}\n{utility}{risk_line}{gate}",
                    fid.mean_one_way_tvd,
                    fid.mean_two_way_tvd,
                    pairs(&fid.two_way[..k]),
                    pairs(&fid.two_way[fid.two_way.len() - k..]),
                ));
            }
            if !failed.is_empty() {
                return Ok(ExitStatus::Findings);
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
