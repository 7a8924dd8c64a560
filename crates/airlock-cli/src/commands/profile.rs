//! `airlock profile`: draft a policy from a sample.

use airlock_core::output::write_atomic;
use airlock_core::table::Format;
use airlock_deid::profile::profile;

use crate::ExitStatus;
use crate::cli::ProfileArgs;
use crate::report::{self, thousands};

pub fn run(args: ProfileArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let format = Format::resolve(args.format.map(Into::into), &args.input)?;
    let read = super::read_options(&args.read, airlock_core::table::DEFAULT_BATCH_SIZE);
    let detector = airlock_text::TextEngine::without_key();
    let profile = profile(
        &args.input,
        format,
        args.sample.max(1),
        &read,
        Some(&detector),
    )?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into())
    });
    let draft = profile.to_policy_toml(&name, &airlock_core::manifest::now_rfc3339());
    if let Some(out) = &args.output {
        write_atomic(out, draft.as_bytes(), args.force)?;
    }
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "profile": profile,
            "policy_path": args.output,
        }));
        return Ok(ExitStatus::Success);
    }
    let Some(out) = &args.output else {
        report::out(&draft);
        return Ok(ExitStatus::Success);
    };
    let names: Vec<String> = profile
        .columns
        .iter()
        .map(|c| airlock_core::shown::Shown(&c.name).to_string())
        .collect();
    let w = report::name_width(names.iter().map(String::as_str));
    let mut t = format!(
        "profiled {} rows of {} ({} columns)\n\n  {:w$}  {:17}  {:22}  {:>5}  evidence (cells)\n",
        thousands(profile.rows_sampled),
        airlock_core::shown::path(&args.input),
        profile.columns.len(),
        "column",
        "class",
        "action",
        "conf"
    );
    for (c, name) in profile.columns.iter().zip(&names) {
        let action = match c.suggestion.rule {
            Some(r) => format!("{} {r}", c.suggestion.action),
            None => c.suggestion.action.to_owned(),
        };
        let ev: Vec<String> = c
            .evidence
            .nonzero()
            .iter()
            .take(3)
            .map(|(k, n)| format!("{k} {}", thousands(*n)))
            .collect();
        t.push_str(&format!(
            "  {:w$}  {:17}  {:22}  {:>5.2}  {}\n",
            name,
            c.suggestion.class.as_str(),
            action,
            c.suggestion.confidence,
            if ev.is_empty() {
                "-".into()
            } else {
                ev.join(", ")
            }
        ));
    }
    t.push_str(&format!(
        "\ndraft policy written to {} — review it (look for REVIEW), then run\n  airlock deid --policy {} {} -o OUTPUT\n",
        airlock_core::shown::path(out),
        airlock_core::shown::path(out),
        airlock_core::shown::path(&args.input)
    ));
    report::out(&t);
    Ok(ExitStatus::Success)
}
