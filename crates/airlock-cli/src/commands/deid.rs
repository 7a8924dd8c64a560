//! `airlock deid`: de-identify a table under a policy.

use airlock_core::policy::Policy;
use airlock_core::table::Format;
use airlock_run::{TableOutcome, TableRun, Workspace};

use crate::ExitStatus;
use crate::cli::DeidArgs;
use crate::report::{self, findings_line, thousands};

pub fn run(args: DeidArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let mut policy = Policy::load(&args.policy)?;
    if let Some(mode) = args.text_mode {
        policy.text_mode = mode.into();
    }
    let input_format = Format::resolve(args.format.map(Into::into), &args.input)?;
    let output_format = Format::resolve(args.output_format.map(Into::into), &args.output)?;
    let input_len = std::fs::metadata(&args.input)
        .map_err(|e| airlock_core::Error::io("read", &args.input, e))?
        .len();
    // the library owns the run: guard, one key load, text engine, risk, lineage, audit
    let workspace = if policy.needs_key() {
        Workspace::open(args.key_file.as_deref())?
    } else {
        // Nothing in this policy is keyed; outside a workspace a throwaway key is never used
        // for output, and nothing is signed or audited.
        match Workspace::find(args.key_file.as_deref())? {
            Some(ws) => ws,
            None => Workspace::ephemeral()?,
        }
    };
    let run = TableRun {
        job: airlock_run::DeidJob {
            force: args.force,
            read: super::read_options(&args.read, args.batch_size as usize),
            scan: !args.no_scan,
            threads: args
                .threads
                .map_or_else(airlock_deid::engine::default_threads, usize::from),
            ..airlock_run::DeidJob::new(&args.input, input_format, &args.output, output_format)
        },
        max_findings: args.max_findings,
        record: true,
    };
    let bar = report::progress_bar(Some(input_len), json);
    let result = airlock_run::deid_table(&run, &policy, &workspace, &mut |p| {
        bar.set_position(p.input_bytes)
    });
    bar.finish_and_clear();
    let (report, status, lineage) = match result? {
        TableOutcome::Done {
            report,
            status,
            lineage,
        } => (*report, status, lineage),
        TableOutcome::NoSolution {
            lattice_size,
            suppression_limit,
        } => {
            let msg = format!(
                "the [risk] block cannot be met: no generalization of its quasi-identifiers meets the criteria with at most {} suppressed records ({} generalizations searched); nothing was written",
                thousands(suppression_limit),
                thousands(lattice_size as u64)
            );
            if json {
                report::json(&serde_json::json!({ "status": "gate_failed", "message": msg }));
            } else {
                report::out(&format!(
                    "{msg}\nallow more suppression (max_suppression), add hierarchies, or relax k, l or t\n"
                ));
            }
            return Ok(ExitStatus::Findings);
        }
    };
    let status = match status {
        airlock_run::Status::Ok => ExitStatus::Success,
        airlock_run::Status::Findings => ExitStatus::Findings,
    };
    let m = &report.manifest;
    if json {
        report::json(&serde_json::json!({
            "status": status.label(),
            "manifest_path": report.manifest_path,
            "lineage": lineage,
            "manifest": m,
            "unused_fields": report.unused_fields,
            "peak_rss_bytes": report::peak_rss_bytes(),
        }));
        return Ok(status);
    }
    let mut t = format!(
        "de-identified {} rows in {:.2} s ({} rows/s, {:.1} MB/s)\n  input     {}\n  output    {}\n  manifest  {}\n  policy    {} (sha256 {})\n\n",
        thousands(m.input.rows),
        m.timing.total_ms as f64 / 1000.0,
        thousands(m.timing.rows_per_second as u64),
        m.timing.input_mb_per_second,
        airlock_core::shown::path(&m.input.path),
        airlock_core::shown::path(&m.output.path),
        airlock_core::shown::path(&report.manifest_path),
        airlock_core::shown::path(&m.policy.path),
        m.policy.sha256.get(..12).unwrap_or("?"),
    );
    t.push_str(&report::columns_table(&m.columns));
    if !report.unused_fields.is_empty() {
        t.push_str(&format!(
            "\nnote: the policy names fields the input does not have: {}\n",
            report.unused_fields.join(", ")
        ));
    }
    if let Some(r) = &m.risk {
        let levels: Vec<String> = r
            .levels
            .iter()
            .map(|l| {
                format!(
                    "{} {}/{}",
                    airlock_core::shown::Shown(&l.column),
                    l.level,
                    l.max_level
                )
            })
            .collect();
        t.push_str(&format!(
            "\n[risk] generalized {} (suppressed {} records, {} classes, k {} -> {}, average risk {:.4} -> {:.4}, Loss {:.4})\n",
            levels.join(", "),
            r.suppressed_records,
            r.classes,
            r.before.k,
            r.after.k,
            r.before.average_prosecutor_risk,
            r.after.average_prosecutor_risk,
            r.loss
        ));
    }
    t.push_str(&format!(
        "\nresidual scan ({}): {}\n",
        m.findings.scanner,
        findings_line(&m.findings)
    ));
    if status == ExitStatus::Findings {
        t.push_str("the output was written, but identifiers remain in the columns above: classify them, or use text_redact / drop, and run again\n");
    }
    report::out(&t);
    Ok(status)
}
