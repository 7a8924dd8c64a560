//! `airlock train`: the trainer of `airlock-train`, with the feature gate of the data's
//! manifest.

use crate::ExitStatus;
use crate::cli::{ModelArg, TrainArgs};
use crate::report;

/// Classes and actions whose columns are not features unless named with --allow-feature.
fn gated(class: &str, action: &str) -> bool {
    matches!(class, "direct_identifier" | "free_text")
        || matches!(action, "tokenize" | "text_redact" | "text_surrogate")
}

pub fn run(args: TrainArgs, json: bool) -> anyhow::Result<ExitStatus> {
    use airlock_train::{ModelKind, Privacy, TableTask, TrainConfig};
    let mut table = airlock_train::Table::read(&args.data)?;
    let held_out_from = args
        .test_data
        .as_deref()
        .map(|t| -> anyhow::Result<usize> { Ok(table.append(airlock_train::Table::read(t)?)?) })
        .transpose()?;
    let (data_sha256, _) = airlock_core::output::digest_file(&args.data)?;
    let features: Vec<String> = if args.features.is_empty() {
        table
            .names
            .iter()
            .filter(|n| **n != args.target)
            .cloned()
            .collect()
    } else {
        args.features.clone()
    };
    // the gate: what the data's manifest says its columns are
    let manifest_path = airlock_core::manifest::Manifest::path_for(&args.data);
    let mut policy_sha256 = None;
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        let manifest: airlock_core::manifest::Manifest =
            serde_json::from_str(&text).map_err(|_| {
                anyhow::anyhow!(
                    "{} is not an airlock manifest",
                    airlock_core::shown::path(&manifest_path)
                )
            })?;
        policy_sha256 = Some(manifest.policy.sha256.clone());
        for c in &manifest.columns {
            if c.in_output
                && features.contains(&c.name)
                && gated(&c.class, &c.action)
                && !args.allow_feature.contains(&c.name)
            {
                anyhow::bail!(
                    "column {} is {} ({}) in the data's manifest: not a feature unless --allow-feature names it",
                    airlock_core::shown::escape(&c.name, 80),
                    c.class,
                    c.action
                );
            }
        }
    }
    let out = airlock_core::output::AtomicOutput::create(&args.output, args.force)?;
    let card_out = args
        .card
        .as_deref()
        .map(|c| airlock_core::output::AtomicOutput::create(c, args.force))
        .transpose()?;
    let task = TableTask {
        target: args.target.clone(),
        positive: args.positive.clone(),
        features,
        test_fraction: if held_out_from.is_some() {
            0.0
        } else {
            args.test_fraction
        },
        held_out_from,
        subgroups: args.subgroups.clone(),
        canaries: (args.canaries > 0).then_some(airlock_train::CanaryAudit {
            count: args.canaries as usize,
            repeats: args.canary_repeats as usize,
        }),
    };
    let privacy = match (args.epsilon, args.noise_multiplier) {
        (Some(epsilon), _) => Privacy::Epsilon {
            epsilon,
            delta: args.delta,
        },
        (None, Some(sigma)) => Privacy::Noise {
            sigma,
            delta: args.delta,
        },
        (None, None) => Privacy::None,
    };
    let cfg = TrainConfig {
        kind: match args.model {
            ModelArg::Logreg => ModelKind::Logreg,
            ModelArg::Mlp => ModelKind::Mlp {
                hidden: args.hidden.max(1),
            },
        },
        privacy,
        epochs: args.epochs,
        batch_size: args.batch_size,
        clip: args.clip,
        learning_rate: args.learning_rate,
        seed: match args.seed {
            Some(s) => s,
            None => airlock_train::random_seed()?,
        },
        seeded_noise: args.seed.is_some(),
        accountant: args.accountant.into(),
    };
    let started = std::time::Instant::now();
    let trained = airlock_train::train_table(&table, &data_sha256, &task, &cfg)?;
    let seconds = started.elapsed().as_secs_f64();
    let text = serde_json::to_string_pretty(&trained.file)? + "\n";
    std::io::Write::write_all(&mut out.file()?, text.as_bytes())
        .map_err(|e| airlock_core::Error::io("write", &args.output, e))?;
    out.commit()?;
    if let (Some(card), Some(path)) = (card_out, &args.card) {
        let html = airlock_train::card::html_card(
            &trained.file,
            &airlock_train::card::CardContext {
                // the file's name only: the card travels, the path need not
                data: args
                    .data
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                policy_sha256,
                intended_use: args.intended_use.clone(),
            },
        );
        std::io::Write::write_all(&mut card.file()?, html.as_bytes())
            .map_err(|e| airlock_core::Error::io("write", path, e))?;
        card.commit()?;
    }
    let m = &trained.metrics;
    let p = trained.privacy.as_ref();
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "accuracy": m.accuracy,
            "auc": m.auc,
            "epsilon": p.map(|p| p.epsilon),
            "delta": p.map(|p| p.delta),
            "noise_multiplier": p.map(|p| p.noise_multiplier),
            "steps": p.map(|p| p.steps),
            "membership_auc": trained.membership.auc,
            "membership_advantage": trained.membership.advantage,
            "canary_exposure": trained.canaries.as_ref().map(|c| c.mean),
            "canaries": trained.canaries,
            "subgroups": trained.subgroups,
            "train_rows": m.train_rows,
            "test_rows": m.test_rows,
            "seconds": seconds,
            "train_seconds": trained.train_seconds,
            "examples_per_second": trained.examples as f64 / trained.train_seconds.max(1e-9),
            "model": args.output,
        }));
    } else {
        let privacy = match p {
            Some(p) => format!(
                "DP-SGD: epsilon {:.3} at delta {} (noise multiplier {:.3}, sampling rate {:.5}, {} steps, clip {})",
                p.epsilon, p.delta, p.noise_multiplier, p.sampling_rate, p.steps, p.clip
            ),
            None => "no differential privacy".into(),
        };
        let mut groups = String::new();
        let pct = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.3}"));
        for g in &trained.subgroups {
            groups.push_str(&format!(
                "  {}={:<24} rows {:>6}  accuracy {:.3}  AUC {}  TPR {}  FPR {}  calibration {}\n",
                airlock_core::shown::escape(&g.column, 40),
                airlock_core::shown::escape(&g.value, 24),
                g.rows,
                g.accuracy,
                pct(g.auc),
                pct(g.tpr),
                pct(g.fpr),
                pct(g.calibration_gap),
            ));
        }
        let canaries = trained.canaries.as_ref().map_or_else(String::new, |c| {
            format!(
                "canary exposure ({} canaries inserted {} time(s) each, ranked among {} never trained on): mean {:.2} bits, largest {:.2} (chance {:.2}, at most {:.0})\n",
                c.canaries, c.repeats, c.candidates, c.mean, c.max, c.chance, c.max_possible
            )
        });
        report::out(&format!(
            "trained on {} rows, scored on {} held out: accuracy {:.4}, AUC {:.4}\n{privacy}\n\
             membership inference (loss threshold, {} rows): AUC {:.3}, advantage {:.3}\n{canaries}{groups}wrote {} ({seconds:.1} s)\n",
            m.train_rows,
            m.test_rows,
            m.accuracy,
            m.auc,
            trained.membership.rows,
            trained.membership.auc,
            trained.membership.advantage,
            airlock_core::shown::path(&args.output)
        ));
    }
    Ok(ExitStatus::Success)
}
