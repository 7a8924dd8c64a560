//! `airlock demo`: the whole path on a synthetic hospital, with canary patients planted in the
//! raw extract and searched for in everything the run wrote.

use airlock_canary::{CanaryFile, PlantOptions, PlantReport, check_paths, plant_table};
use airlock_core::table::Format;
use airlock_deid::demo::ENCOUNTER_COLUMNS;
use airlock_run::demo::run_demo;

use crate::ExitStatus;
use crate::cli::DemoArgs;
use crate::report::{self, findings_line, thousands};

/// Canary patients the demo plants.
const CANARIES: usize = 10;

pub fn run(args: DemoArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let rows = args.rows.max(1);
    if !json {
        report::out(&format!(
            "airlock demo: generating {} synthetic encounters in {}, planting {CANARIES} canary patients and de-identifying them...\n",
            thousands(rows),
            airlock_core::shown::path(&args.dir)
        ));
    }
    let bar = report::progress_bar(None, json);
    let mut planted: Option<PlantReport> = None;
    let r = run_demo(
        &args.dir,
        rows,
        &mut |extract, policy| {
            let raw = extract.with_file_name("encounters.csv");
            let canaries = super::canary::default_canary_path(&raw);
            let opts = PlantOptions {
                count: CANARIES,
                seed: None,
                force: true,
            };
            let p = plant_table(
                extract,
                Format::Csv,
                &raw,
                Format::Csv,
                policy,
                &canaries,
                &opts,
            )?;
            planted = Some(p);
            Ok(raw)
        },
        &mut |p| bar.set_position(p.input_bytes),
    );
    bar.finish_and_clear();
    let r = r?;
    let planted = planted.ok_or_else(|| anyhow::anyhow!("the demo planted no canaries"))?;
    let m = &r.deid.manifest;
    let output_dir = r.output.parent().unwrap_or(&r.output).to_path_buf();
    // what a privacy officer reads: the risk report of the output
    let reports = args.dir.join("reports");
    let logs = args.dir.join("logs");
    for d in [&reports, &logs] {
        std::fs::create_dir_all(d).map_err(|e| airlock_core::Error::io("create", d, e))?;
    }
    let risk_path = reports.join("risk.html");
    let risk = super::risk::risk_report(&r.output, &["sex", "age", "zip"], &risk_path)?;

    let mut t = format!(
        "\n  raw data   {} ({} rows x {} columns: names, MRN, SSN, birth date, address, ZIP, phone, e-mail, visits, labs, notes)\n",
        airlock_core::shown::path(&r.raw),
        thousands(m.input.rows),
        ENCOUNTER_COLUMNS.len()
    );
    t.push_str(&format!(
        "  canaries   {} synthetic patients planted in it (every identifier new), recorded in {}\n",
        planted.canaries,
        airlock_core::shown::path(&planted.canary_file)
    ));
    t.push_str(&format!(
        "  policy     {} (every column classified; an unclassified column stops the run)\n",
        airlock_core::shown::path(&r.policy)
    ));
    t.push_str(&format!(
        "  key        {} (mode 0600; tokens, date shifts and surrogates are keyed by it)\n",
        airlock_core::shown::path(&r.key)
    ));
    t.push_str(&format!(
        "  output     {}\n",
        airlock_core::shown::path(&r.output)
    ));
    t.push_str(&format!(
        "  manifest   {}\n",
        airlock_core::shown::path(&r.deid.manifest_path)
    ));
    t.push_str(&format!(
        "  report     {} (risk over sex, age, ZIP: k = {}, {} unique records, average prosecutor risk {:.4})\n\n",
        airlock_core::shown::path(&risk_path),
        risk.k,
        thousands(risk.sample_uniques),
        risk.average_prosecutor_risk
    ));
    t.push_str(&report::columns_table(&m.columns));
    t.push_str(&format!(
        "\n  residual scan of the raw input:   {}\n",
        findings_line(&r.raw_findings)
    ));
    t.push_str(&format!(
        "  residual scan of the output:      {}\n",
        findings_line(&r.output_findings)
    ));
    t.push_str(&format!(
        "\n  de-identified {} rows in {:.2} s: {} rows/s, {:.1} MB/s (generation {:.2} s, total {:.2} s)\n",
        thousands(m.input.rows),
        m.timing.total_ms as f64 / 1000.0,
        thousands(m.timing.rows_per_second as u64),
        m.timing.input_mb_per_second,
        r.generate_seconds,
        r.total_seconds
    ));
    // the run's log, then the canary search over everything the run wrote
    let log = logs.join("demo.log");
    airlock_core::output::write_atomic(&log, t.as_bytes(), true)?;
    let searched = vec![output_dir.clone(), reports.clone(), logs.clone()];
    let canaries = CanaryFile::load(&planted.canary_file)?;
    let check = check_paths(
        &canaries,
        &searched,
        std::slice::from_ref(&planted.canary_file),
        &mut |_| {},
    )?;
    let verdict = format!(
        "  canary check of {} files in {}, {} and {}: {} canary leaks ({} values of {} canaries, in {} forms)\n",
        check.files_searched,
        airlock_core::shown::path(&output_dir),
        airlock_core::shown::path(&reports),
        airlock_core::shown::path(&logs),
        thousands(check.hits),
        thousands(check.values_searched as u64),
        check.canaries,
        thousands(check.needles as u64),
    );
    let mut logged = t.clone();
    logged.push_str(&verdict);
    airlock_core::output::write_atomic(&log, logged.as_bytes(), true)?;
    let status = ExitStatus::from_findings(r.output_findings.total + check.hits, 0);
    if json {
        report::json(&serde_json::json!({
            "status": status.label(),
            "dir": r.dir,
            "raw": r.raw,
            "policy": r.policy,
            "key": r.key,
            "output": r.output,
            "manifest_path": r.deid.manifest_path,
            "manifest": m,
            "raw_findings": r.raw_findings,
            "output_findings": r.output_findings,
            "canaries": planted,
            "canary_check": check,
            "risk_report": risk_path,
            "risk": risk,
            "log": log,
            "generate_seconds": r.generate_seconds,
            "total_seconds": r.total_seconds,
        }));
        return Ok(status);
    }
    t.push_str(&verdict);
    if check.hits > 0 {
        t.push('\n');
        t.push_str(&super::canary::render_check(&check, 20, 0.0));
    }
    let exe = invocation();
    t.push_str(&format!(
        "\nnext: compare a raw and a de-identified row:\n  head -3 {} {}\n\
         scan the whole folder for identifiers left anywhere (exit 1 if any):\n  \
         {exe} scan {}\n\
         search everything the run wrote for the canary patients (exit 1 on any trace):\n  \
         {exe} canary check --canaries {} {} {} {}\n\
         de-identify a clinical note:\n  \
         echo \"Seen by Dr. Halvorsen on 3/7; call 617-555-1234\" | {exe} text redact\n\
         then draft a policy for your own table and de-identify it:\n  \
         {exe} profile YOUR.csv -o policy.toml\n  \
         {exe} deid --policy policy.toml YOUR.csv -o YOUR.deid.csv\n",
        airlock_core::shown::path(&r.raw),
        airlock_core::shown::path(&r.output),
        airlock_core::shown::path(&output_dir),
        airlock_core::shown::path(&planted.canary_file),
        airlock_core::shown::path(&output_dir),
        airlock_core::shown::path(&reports),
        airlock_core::shown::path(&logs),
    ));
    report::out(&t);
    Ok(status)
}

/// How to run this binary again from here: `airlock` if that is what is on the PATH, else its
/// path relative to the current directory (`target/release/airlock` after `cargo run`).
fn invocation() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "airlock".into();
    };
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("airlock") == exe));
    if on_path {
        return "airlock".into();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    exe.strip_prefix(&cwd).unwrap_or(&exe).display().to_string()
}
