//! `airlock demo`: the whole path on a synthetic hospital.

use airlock_deid::demo::{ENCOUNTER_COLUMNS, run_demo};

use crate::ExitStatus;
use crate::cli::DemoArgs;
use crate::report::{self, findings_line, thousands};

pub fn run(args: DemoArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let rows = args.rows.max(1);
    if !json {
        report::out(&format!(
            "airlock demo: generating {} synthetic encounters in {} and de-identifying them...\n",
            thousands(rows),
            args.dir.display()
        ));
    }
    let bar = report::progress_bar(None, json);
    let r = run_demo(
        &args.dir,
        rows,
        &|key| Box::new(airlock_text::TextEngine::new(key)),
        &mut |p| bar.set_position(p.input_bytes),
    );
    bar.finish_and_clear();
    let r = r?;
    let m = &r.deid.manifest;
    let status = ExitStatus::from_findings(r.output_findings.total, 0);
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
            "generate_seconds": r.generate_seconds,
            "total_seconds": r.total_seconds,
        }));
        return Ok(status);
    }
    let mut t = format!(
        "\n  raw data   {} ({} rows x {} columns: names, MRN, SSN, birth date, address, ZIP, phone, e-mail, visits, labs, notes)\n",
        r.raw.display(),
        thousands(m.input.rows),
        ENCOUNTER_COLUMNS.len()
    );
    t.push_str(&format!(
        "  policy     {} (every column classified; an unclassified column stops the run)\n",
        r.policy.display()
    ));
    t.push_str(&format!(
        "  key        {} (mode 0600; tokens, date shifts and surrogates are keyed by it)\n",
        r.key.display()
    ));
    t.push_str(&format!("  output     {}\n", r.output.display()));
    t.push_str(&format!(
        "  manifest   {}\n\n",
        r.deid.manifest_path.display()
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
    let exe = invocation();
    t.push_str(&format!(
        "\nnext: compare a raw and a de-identified row:\n  head -3 {} {}\n\
         scan the whole folder for identifiers left anywhere (exit 1 if any):\n  \
         {exe} scan {}\n\
         de-identify a clinical note:\n  \
         echo \"Seen by Dr. Halvorsen on 3/7; call 617-555-1234\" | {exe} text redact\n\
         then draft a policy for your own table and de-identify it:\n  \
         {exe} profile YOUR.csv -o policy.toml\n  \
         {exe} deid --policy policy.toml YOUR.csv -o YOUR.deid.csv\n",
        r.raw.display(),
        r.output.display(),
        r.output.parent().unwrap_or(&r.output).display()
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
