//! `airlock canary plant|check`.

use std::path::{Path, PathBuf};

use airlock_canary::check::CheckReport;
use airlock_canary::{CanaryFile, PlantOptions, plant_table};
use airlock_core::policy::Policy;
use airlock_core::table::Format;

use crate::ExitStatus;
use crate::cli::{CanaryCheckArgs, CanaryCommand, CanaryPlantArgs};
use crate::report::{self, thousands};

pub fn run(cmd: CanaryCommand, json: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        CanaryCommand::Plant(args) => plant(args, json),
        CanaryCommand::Check(args) => check(args, json),
    }
}

/// `OUTPUT.canaries.json` beside the output (its extension replaced).
pub fn default_canary_path(output: &Path) -> PathBuf {
    output.with_extension("canaries.json")
}

fn plant(args: CanaryPlantArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let policy = Policy::load(&args.policy)?;
    let input_format = Format::resolve(args.format.map(Into::into), &args.input)?;
    let output_format = Format::resolve(args.output_format.map(Into::into), &args.output)?;
    let canaries = args
        .canaries
        .clone()
        .unwrap_or_else(|| default_canary_path(&args.output));
    let opts = PlantOptions {
        count: usize::from(args.count),
        seed: args.seed,
        force: args.force,
    };
    let r = plant_table(
        &args.input,
        input_format,
        &args.output,
        output_format,
        &policy,
        &canaries,
        &opts,
    )?;
    super::vault::after_run(None, "canary-plant", None, &args.output, "ok")?;
    if json {
        report::json(&serde_json::json!({ "status": "ok", "report": r }));
        return Ok(ExitStatus::Success);
    }
    let mut t = format!(
        "planted {} canary patients in {} ({} rows -> {} rows)\n  canary file  {} (keep it with the raw data, never with outputs)\n  canary dates {}..{} (outside the years of the data and its date shift)\n\n",
        r.canaries,
        airlock_core::shown::path(&r.output),
        thousands(r.input_rows),
        thousands(r.output_rows),
        airlock_core::shown::path(&r.canary_file),
        r.date_years.0,
        r.date_years.1,
    );
    for (column, plan) in &r.columns {
        let what = match plan {
            airlock_canary::plant::ColumnPlan::Copy => "copied from another row".to_owned(),
            airlock_canary::plant::ColumnPlan::FreeText => {
                "a note with every kind of identifier".to_owned()
            }
            airlock_canary::plant::ColumnPlan::Date => "a new date".to_owned(),
            airlock_canary::plant::ColumnPlan::Value(kind) => format!("a new {}", kind.tag()),
        };
        t.push_str(&format!("  {column:<24} {what}\n"));
    }
    t.push_str(&format!(
        "\n{} values recorded, {} of them searchable; after de-identifying, run:\n  airlock canary check --canaries {} OUTPUT_DIR ...\n",
        thousands(r.values as u64),
        thousands(r.searched as u64),
        airlock_core::shown::path(&r.canary_file)
    ));
    report::out(&t);
    Ok(ExitStatus::Success)
}

fn check(args: CanaryCheckArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let file = CanaryFile::load(&args.canaries)?;
    let started = std::time::Instant::now();
    let bar = report::progress_bar(None, json);
    let result = airlock_canary::check_paths(
        &file,
        &args.paths,
        std::slice::from_ref(&args.canaries),
        &mut |b| bar.set_position(b),
    );
    bar.finish_and_clear();
    let r = result?;
    let seconds = started.elapsed().as_secs_f64();
    let status = ExitStatus::from_findings(r.hits, 0);
    super::vault::after_run(None, "canary-check", None, Path::new("."), status.label())?;
    if json {
        report::json(&serde_json::json!({
            "status": status.label(),
            "seconds": seconds,
            "report": r,
        }));
        return Ok(status);
    }
    report::out(&render_check(&r, args.show, seconds));
    Ok(status)
}

/// The check's report as text: hits by file and place, never values; the last line is the
/// verdict ("0 canary leaks").
pub fn render_check(r: &CheckReport, show: usize, seconds: f64) -> String {
    let mut s = String::new();
    for f in &r.files {
        s.push_str(&format!(
            "{} ({}): {} hits\n",
            airlock_core::shown::path(&f.path),
            f.read_as,
            thousands(f.hits)
        ));
        for h in f.locations.iter().take(show) {
            let field = h.field.as_deref().map_or_else(
                || "in a note".to_owned(),
                |c| format!("column \"{}\"", airlock_core::shown::Shown(c)),
            );
            s.push_str(&format!(
                "  {:<10} {:<12} {:<22} {:<36} {}\n",
                h.canary,
                h.kind.tag(),
                field,
                h.form.describe(),
                h.at
            ));
        }
        if f.hits as usize > show.min(f.locations.len()) && show > 0 {
            s.push_str(&format!(
                "  ... {} more (--show N, or --json)\n",
                thousands(f.hits - show.min(f.locations.len()) as u64)
            ));
        }
    }
    for (p, why) in &r.skipped {
        s.push_str(&format!(
            "skipped {}: {why}\n",
            airlock_core::shown::path(p)
        ));
    }
    s.push_str(&format!(
        "\nsearched {} files ({:.1} MB in {:.2} s) for {} canaries: {} values in {} forms{}; values are never shown\n",
        thousands(r.files_searched),
        r.bytes as f64 / 1e6,
        seconds,
        r.canaries,
        thousands(r.values_searched as u64),
        thousands(r.needles as u64),
        if r.values_not_searched > 0 {
            format!(
                " ({} recorded values too short to tell from real data were not searched)",
                r.values_not_searched
            )
        } else {
            String::new()
        }
    ));
    if r.hits == 0 {
        s.push_str("0 canary leaks\n");
    } else {
        let by: Vec<String> = r
            .hits_by_canary
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        s.push_str(&format!(
            "{} canary leaks ({}): identifying values reached these files; find the step that wrote them (airlock lineage show FILE) and fix its policy\n",
            thousands(r.hits),
            by.join(", ")
        ));
    }
    s
}
