//! `airlock fhir deid`.

use airlock_core::keys::WorkspaceSecret;
use airlock_fhir::{Config, Engine, SAFE_HARBOR, deid_file};

use crate::ExitStatus;
use crate::cli::FhirDeidArgs;
use crate::report::{self, thousands};

pub fn run(args: FhirDeidArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let range = airlock_core::clock::ShiftRange::new(args.date_shift_days, "--date-shift-days")?;
    std::fs::metadata(&args.input).map_err(|e| airlock_core::Error::io("read", &args.input, e))?;
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::parse(SAFE_HARBOR, "airlock safe-harbor (built in)")?,
    };
    let rules = config.rules.len();
    let source = config.source.clone();
    let secret = match WorkspaceSecret::locate(args.key_file.as_deref()) {
        Ok(path) if path.exists() || args.key_file.is_some() => Some(WorkspaceSecret::load(&path)?),
        _ => None,
    };
    if secret.is_none() && args.config.is_none() {
        anyhow::bail!(
            "the Safe Harbor configuration keys ids and date shifts with the workspace secret, and none was found; run `airlock init`, or pass --key-file"
        );
    }
    let mut engine =
        Engine::with_range(config, secret.as_ref(), range)?.with_text_mode(args.text_mode.into());
    let bar = report::progress_bar(None, json);
    let r = deid_file(&mut engine, &args.input, &args.output, args.force);
    bar.finish_and_clear();
    let mut r = r?;
    r.config = source;
    r.rules = rules;
    super::vault::after_run(
        args.key_file.as_deref(),
        "fhir-deid",
        None,
        &args.output,
        "ok",
    )?;
    if json {
        report::json(&serde_json::json!({ "status": "ok", "report": r }));
        return Ok(ExitStatus::Success);
    }
    let methods: Vec<String> = r
        .counts
        .by_method
        .iter()
        .map(|(m, n)| format!("{m} {}", thousands(*n)))
        .collect();
    let mut skipped = String::new();
    for (p, why) in &r.skipped {
        skipped.push_str(&format!(
            "  skipped {}: {why}\n",
            airlock_core::shown::path(p)
        ));
    }
    let removed = &r.counts.removed;
    if removed.unknown_resources + removed.unknown_elements + removed.wrong_type > 0 {
        skipped.push_str(&format!(
            "  removed before the rules (unknown to FHIR R4): {} resources of unknown types, {} unknown elements, {} values of the wrong type\n",
            thousands(removed.unknown_resources),
            thousands(removed.unknown_elements),
            thousands(removed.wrong_type)
        ));
    }
    report::out(&format!(
        "de-identified {} resources ({} files, {} lines, {:.1} MB) in {:.2} s ({:.1} MB/s)\n  input   {}\n  output  {}\n  config  {} ({} rules)\n  nodes by method: {}\n{skipped}",
        thousands(r.counts.resources),
        thousands(r.files),
        thousands(r.lines),
        r.bytes_in as f64 / 1e6,
        r.seconds,
        r.bytes_in as f64 / 1e6 / r.seconds.max(1e-9),
        airlock_core::shown::path(&r.input),
        airlock_core::shown::path(&r.output),
        r.config,
        r.rules,
        methods.join(", "),
    ));
    Ok(ExitStatus::Success)
}
