//! `airlock risk` and `airlock anonymize`.

use std::collections::HashMap;
use std::time::Instant;

use airlock_core::table::Format;
use airlock_risk::anonymize::{Generalized, Target, generalize};
use airlock_risk::classes;
use airlock_risk::metrics::{RiskSummary, distribution, summarize_dataset};
use airlock_risk::population::{PopulationModel, estimate};
use airlock_risk::report::{ReportInput, Transformation, render};
use airlock_risk::{Criteria, Dataset, HierarchySpec, Metric, TDistance};

use crate::ExitStatus;
use crate::cli::{AnonymizeArgs, MetricArg, QiArgs, RiskArgs, TDistanceArg};
use crate::report::{self, thousands};

fn load(args: &QiArgs) -> anyhow::Result<Dataset> {
    let format = Format::resolve(args.format.map(Into::into), &args.input)?;
    let mut hierarchies = HashMap::new();
    for spec in &args.hierarchies {
        let Some((column, file)) = spec.split_once('=') else {
            anyhow::bail!("--hierarchy takes COLUMN=SPEC (got \"{spec}\")");
        };
        if !args.qi.iter().any(|q| q == column) {
            anyhow::bail!("--hierarchy names \"{column}\", which is not one of the --qi columns");
        }
        hierarchies.insert(column.to_owned(), HierarchySpec::parse(file)?);
    }
    let mut ds = Dataset::load(
        &args.input,
        format,
        &args.qi,
        &hierarchies,
        args.sensitive.as_deref(),
    )?;
    if let Some(path) = &args.sensitive_hierarchy {
        let Some(sensitive) = ds.sensitive.as_mut() else {
            anyhow::bail!("--sensitive-hierarchy needs --sensitive");
        };
        sensitive.set_hierarchy(&airlock_risk::Hierarchy::load(path)?)?;
    }
    Ok(ds)
}

pub fn run_risk(args: RiskArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    let ds = load(&args.qi)?;
    let bottom = classes::bottom(&ds)?;
    let table = distribution(&bottom);
    let s = summarize_dataset(&ds, &bottom, &[], &table, args.qi.threshold);
    let population = match (args.population, args.sampling_fraction) {
        (Some(p), _) if p >= s.records as f64 => Some(PopulationModel { population_size: p }),
        (Some(_), _) => anyhow::bail!("--population must be at least the number of records"),
        (None, Some(f)) => Some(
            PopulationModel::from_sampling_fraction(s.records, f)
                .ok_or_else(|| anyhow::anyhow!("--sampling-fraction is a fraction in (0, 1]"))?,
        ),
        (None, None) => None,
    };
    let uniqueness = population.map(|m| estimate(&s.class_sizes, m));
    let journalist = match &args.population_table {
        Some(path) => Some(airlock_risk::population::journalist_of_tables(
            &args.qi.input,
            path,
            &args.qi.qi,
            args.qi.threshold,
        )?),
        None => None,
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some(path) = &args.qi.report {
        write_report(&args.qi, &s, None)?;
        if !json {
            report::out(&format!(
                "report written to {}\n",
                airlock_core::shown::path(path)
            ));
        }
    }
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "input": args.qi.input,
            "quasi_identifiers": args.qi.qi,
            "sensitive": args.qi.sensitive,
            "risk": s,
            "population_uniqueness": uniqueness,
            "journalist_risk": journalist,
            "seconds": seconds,
        }));
        return Ok(ExitStatus::Success);
    }
    let mut t = format!(
        "risk of {} ({} records; quasi-identifiers: {}{})\n",
        airlock_core::shown::path(&args.qi.input),
        thousands(s.records),
        args.qi.qi.join(", "),
        args.qi
            .sensitive
            .as_ref()
            .map(|s| format!("; sensitive: {s}"))
            .unwrap_or_default()
    );
    t.push_str(&summary_lines(&[("", &s)]));
    t.push_str(&format!("\n  class sizes: {}\n", sizes_line(&s)));
    if let Some(j) = &journalist {
        t.push_str(&format!(
            "\n  journalist risk (population table {}): average {:.6}, maximum {:.6}, records above {}: {} ({:.2}%)\n",
            args.population_table.as_ref().map(|p| airlock_core::shown::path(p).to_string()).unwrap_or_default(),
            j.average,
            j.maximum,
            args.qi.threshold,
            thousands(j.records_above_threshold),
            100.0 * j.fraction_above_threshold
        ));
    }
    if let Some(u) = &uniqueness {
        let f = |v: Option<f64>| v.map_or("did not converge".to_owned(), |x| format!("{x:.9}"));
        t.push_str(&format!(
            "\n  population uniqueness (population {}, sampling fraction {:.3e})\n    Pitman  {}\n    Zayatz  {}\n    SNB     {}\n    Dankar  {} ({:?})\n",
            thousands(u.population_size as u64),
            u.sampling_fraction,
            f(u.pitman),
            f(u.zayatz),
            f(u.snb),
            f(u.dankar),
            u.dankar_estimator
        ));
    }
    report::out(&t);
    Ok(ExitStatus::Success)
}

pub fn run_anonymize(args: AnonymizeArgs, json: bool) -> anyhow::Result<ExitStatus> {
    if !(0.0..=1.0).contains(&args.max_suppression) {
        anyhow::bail!("--max-suppression is a fraction between 0 and 1");
    }
    if args.k.is_none()
        && args.l.is_none()
        && args.t.is_none()
        && args.max_avg_risk.is_none()
        && args.recursive_cl.is_none()
    {
        anyhow::bail!(
            "name at least one criterion: --k, --l, --recursive-cl, --t or --max-avg-risk"
        );
    }
    let input_format = Format::resolve(args.qi.format.map(Into::into), &args.qi.input)?;
    let output_format = Format::resolve(args.output_format.map(Into::into), &args.output)?;
    let start = Instant::now();
    let ds = load(&args.qi)?;
    let recursive_cl = match &args.recursive_cl {
        None => None,
        Some(spec) => {
            let parsed = spec.split_once(',').and_then(|(c, l)| {
                Some((c.trim().parse::<f64>().ok()?, l.trim().parse::<u32>().ok()?))
            });
            match parsed {
                Some((c, l)) if c > 0.0 && l >= 1 => Some((c, l)),
                _ => anyhow::bail!("--recursive-cl takes C,L with C > 0 and L >= 1 (e.g. 3,2)"),
            }
        }
    };
    let criteria = Criteria {
        k: args.k,
        l_distinct: args.l,
        t: args.t,
        t_distance: match args.t_distance {
            TDistanceArg::Equal => TDistance::Equal,
            TDistanceArg::Ordered => TDistance::Ordered,
            TDistanceArg::Hierarchical => TDistance::Hierarchical,
        },
        recursive_cl,
        max_average_risk: args.max_avg_risk,
        max_suppression: args.max_suppression,
        metric: match args.metric {
            MetricArg::Loss => Metric::Loss,
            MetricArg::Discernibility => Metric::Discernibility,
        },
    };
    // the one generalization step (the same as a policy's [risk] block)
    let target = Target {
        input: &args.qi.input,
        input_format,
        output: &args.output,
        output_format,
        force: args.force,
    };
    let generalized = generalize(&ds, &criteria, args.qi.threshold, &target)?;
    let search_seconds = start.elapsed().as_secs_f64();
    let (r, written, nodes, pruned, anonymous_nodes) = match generalized {
        Generalized::Found {
            record,
            result: written,
            nodes,
            pruned,
            anonymous_nodes,
        } => (record, written, nodes, pruned, anonymous_nodes),
        Generalized::NoSolution {
            lattice_size,
            suppression_limit,
            ..
        } => {
            let msg = format!(
                "no generalization of the {} quasi-identifiers meets the criteria with at most {} suppressed records ({} nodes searched)",
                ds.qis.len(),
                thousands(suppression_limit),
                thousands(lattice_size as u64)
            );
            if json {
                report::json(
                    &serde_json::json!({ "status": "no_solution", "message": msg, "lattice_size": lattice_size }),
                );
            } else {
                report::out(&format!(
                    "{msg}\nallow more suppression (--max-suppression), or relax k, l or t\n"
                ));
            }
            return Ok(ExitStatus::Findings);
        }
    };
    if args.qi.report.is_some() {
        let t = Transformation {
            levels: r
                .levels
                .iter()
                .map(|l| (l.column.clone(), l.level, l.max_level as u8))
                .collect(),
            criteria: criteria_text(&criteria),
            suppressed_records: r.suppressed_records,
            suppression_limit: r.suppression_limit,
            loss: r.loss,
        };
        write_report(&args.qi, &r.before, Some((&r.after, &t)))?;
    }
    if json {
        report::json(&serde_json::json!({
            "status": "ok",
            "criteria": r.criteria,
            "lattice_size": r.lattice_size,
            "nodes_evaluated": nodes,
            "nodes_pruned": pruned,
            "anonymous_nodes": anonymous_nodes,
            "levels": r.levels,
            "suppressed_records": r.suppressed_records,
            "suppression_limit": r.suppression_limit,
            "classes": r.classes,
            "loss": r.loss,
            "discernibility": r.discernibility,
            "non_uniform_entropy": r.non_uniform_entropy,
            "before": r.before,
            "after": r.after,
            "output": args.output,
            "output_sha256": written.sha256,
            "search_seconds": search_seconds,
        }));
        return Ok(ExitStatus::Success);
    }
    let chosen: Vec<String> = r
        .levels
        .iter()
        .map(|l| format!("{} {}/{}", l.column, l.level, l.max_level))
        .collect();
    let mut t = format!(
        "searched {} generalizations ({} evaluated, {} pruned by Loss, {} meet the criteria) in {:.2} s\n\
         chosen: {}\n\
         suppressed {} records ({:.2}%, limit {}); {} classes; Loss {:.6}; non-uniform entropy {:.0} bits\n\n",
        thousands(r.lattice_size),
        thousands(nodes as u64),
        thousands(pruned as u64),
        thousands(anonymous_nodes as u64),
        search_seconds,
        chosen.join(", "),
        thousands(r.suppressed_records),
        100.0 * r.suppressed_records as f64 / ds.rows.max(1) as f64,
        thousands(r.suppression_limit),
        thousands(r.classes),
        r.loss,
        r.non_uniform_entropy
    );
    t.push_str(&summary_lines(&[
        ("before", &r.before),
        ("after", &r.after),
    ]));
    t.push_str(&format!(
        "\nwrote {} ({} rows)\n",
        airlock_core::shown::path(&args.output),
        thousands(written.rows)
    ));
    if let Some(path) = &args.qi.report {
        t.push_str(&format!(
            "report written to {}\n",
            airlock_core::shown::path(path)
        ));
    }
    report::out(&t);
    Ok(ExitStatus::Success)
}

/// One line per figure, one column per summary.
fn summary_lines(columns: &[(&str, &RiskSummary)]) -> String {
    let mut t = String::new();
    if columns.iter().any(|(h, _)| !h.is_empty()) {
        t.push_str(&format!("  {:34}", ""));
        for (h, _) in columns {
            t.push_str(&format!("{h:>14}"));
        }
        t.push('\n');
    }
    let summaries: Vec<&RiskSummary> = columns.iter().map(|(_, s)| *s).collect();
    for (label, values) in airlock_risk::metrics::figure_rows(&summaries) {
        t.push_str(&format!("  {label:34}"));
        for v in values {
            t.push_str(&format!("{v:>14}"));
        }
        t.push('\n');
    }
    t
}

fn sizes_line(s: &RiskSummary) -> String {
    let parts: Vec<String> = s
        .class_sizes
        .iter()
        .take(6)
        .map(|(size, n)| format!("{size}: {}", thousands(*n)))
        .collect();
    let more = s.class_sizes.len().saturating_sub(6);
    if more > 0 {
        format!("{} (+{more} larger sizes)", parts.join(", "))
    } else {
        parts.join(", ")
    }
}

fn criteria_text(c: &Criteria) -> String {
    let mut parts = Vec::new();
    if let Some(k) = c.k {
        parts.push(format!("{k}-anonymity"));
    }
    if let Some(l) = c.l_distinct {
        parts.push(format!("distinct {l}-diversity"));
    }
    if let Some(t) = c.t {
        parts.push(format!("{t}-closeness ({:?} distance)", c.t_distance).to_lowercase());
    }
    if let Some((cc, l)) = c.recursive_cl {
        parts.push(format!("recursive ({cc},{l})-diversity"));
    }
    if let Some(r) = c.max_average_risk {
        parts.push(format!("average risk <= {r}"));
    }
    parts.push(format!(
        "at most {:.1}% suppressed",
        100.0 * c.max_suppression
    ));
    parts.join(", ")
}

fn write_report(
    args: &QiArgs,
    before: &RiskSummary,
    after: Option<(&RiskSummary, &Transformation)>,
) -> anyhow::Result<()> {
    let Some(path) = &args.report else {
        return Ok(());
    };
    let input = airlock_core::shown::path(&args.input).to_string();
    let created = airlock_core::manifest::now_rfc3339();
    let html = render(&ReportInput {
        title: if after.is_some() {
            "airlock anonymization report"
        } else {
            "airlock risk report"
        },
        input: &input,
        quasi_identifiers: &args.qi,
        sensitive: args.sensitive.as_deref(),
        tool_version: env!("CARGO_PKG_VERSION"),
        created: &created,
        before,
        after,
    });
    airlock_core::output::write_atomic(path, html.as_bytes(), true)?;
    Ok(())
}

/// Measures risk over the quasi-identifiers `qi` of `input` and writes the HTML report to
/// `report` (the demo's report of its own output).
pub fn risk_report(
    input: &std::path::Path,
    qi: &[&str],
    report: &std::path::Path,
) -> anyhow::Result<RiskSummary> {
    let args = QiArgs {
        input: input.to_path_buf(),
        qi: qi.iter().map(|q| (*q).to_owned()).collect(),
        sensitive: None,
        hierarchies: Vec::new(),
        threshold: 0.2,
        sensitive_hierarchy: None,
        report: Some(report.to_path_buf()),
        format: None,
    };
    let ds = load(&args)?;
    let bottom = classes::bottom(&ds)?;
    let table = distribution(&bottom);
    let s = summarize_dataset(&ds, &bottom, &[], &table, args.threshold);
    write_report(&args, &s, None)?;
    Ok(s)
}
