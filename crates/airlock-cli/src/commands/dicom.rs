//! `airlock dicom deid`.

use airlock_core::keys::WorkspaceSecret;
use airlock_dicom::{BurnedIn, DeidOption, DicomJob, DicomOptions, Region, SafePrivate};

use crate::ExitStatus;
use crate::cli::DicomDeidArgs;
use crate::report::{self, thousands};

pub fn run(args: DicomDeidArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let date_shift =
        airlock_core::clock::ShiftRange::new(args.date_shift_days, "--date-shift-days")?;
    let mut options = Vec::new();
    for name in &args.options {
        let Some(o) = DeidOption::parse(name) else {
            let all: Vec<&str> = DeidOption::ALL.iter().map(|o| o.name()).collect();
            anyhow::bail!(
                "unknown --option {name}; the options are {}",
                all.join(", ")
            );
        };
        if !options.contains(&o) {
            options.push(o);
        }
    }
    if options.contains(&DeidOption::RetainLongFullDates)
        && options.contains(&DeidOption::RetainLongModifiedDates)
    {
        anyhow::bail!("retain-long-full-dates and retain-long-modified-dates exclude each other");
    }
    let blank = args
        .blank
        .iter()
        .map(|b| {
            Region::parse(b)
                .ok_or_else(|| anyhow::anyhow!("--blank takes X,Y,WIDTH,HEIGHT (got \"{b}\")"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let safe_private = args
        .safe_private
        .iter()
        .map(|s| {
            SafePrivate::parse(s).ok_or_else(|| {
                anyhow::anyhow!(
                    "--safe-private takes CREATOR/GGGG/EE with an odd group (got \"{s}\")"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !safe_private.is_empty() && !options.contains(&DeidOption::RetainSafePrivate) {
        anyhow::bail!("--safe-private needs --option retain-safe-private");
    }
    std::fs::metadata(&args.input).map_err(|e| airlock_core::Error::io("read", &args.input, e))?;
    let secret = WorkspaceSecret::load(&WorkspaceSecret::locate(args.key_file.as_deref())?)?;
    let job = DicomJob {
        input: args.input.clone(),
        output: args.output.clone(),
        force: args.force,
        options: DicomOptions {
            options,
            blank,
            safe_private,
            date_shift,
        },
    };
    let bar = report::progress_bar(None, json);
    let r = airlock_dicom::deid_paths(&job, &secret, &mut |n| bar.set_position(n as u64));
    bar.finish_and_clear();
    let r = r?;
    let status = ExitStatus::from_findings(r.burned_in_flagged as u64, 0);
    super::vault::after_run(
        args.key_file.as_deref(),
        "dicom-deid",
        None,
        &args.output,
        status.label(),
    )?;
    if json {
        report::json(&serde_json::json!({ "status": status.label(), "report": r }));
        return Ok(status);
    }
    let sum = |f: fn(&airlock_dicom::FileReport) -> u64| r.files.iter().map(f).sum::<u64>();
    let mut t = format!(
        "de-identified {} DICOM files ({:.1} MB) in {:.2} s under PS3.15 {} Table E.1-1, Basic Profile{}\n  input   {}\n  output  {}\n\n",
        thousands(r.files.len() as u64),
        r.bytes_in as f64 / 1e6,
        r.seconds,
        r.table_version,
        if r.options.is_empty() {
            String::new()
        } else {
            format!(" + {}", r.options.join(", "))
        },
        airlock_core::shown::path(&r.input),
        airlock_core::shown::path(&r.output),
    );
    let mut actions = std::collections::BTreeMap::new();
    for f in &r.files {
        for (a, n) in &f.actions {
            *actions.entry(*a).or_insert(0u64) += n;
        }
    }
    let actions: Vec<String> = actions
        .iter()
        .map(|(a, n)| {
            format!(
                "{} {}",
                serde_json::to_value(a)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("?"),
                thousands(*n)
            )
        })
        .collect();
    t.push_str(&format!("  attributes by action: {}\n", actions.join(", ")));
    t.push_str(&format!(
        "  UIDs replaced {} (keyed 2.25. UIDs, the same in every file), private attributes removed {}, texts cleaned {}, dates shifted {}\n",
        thousands(sum(|f| f.uids_replaced)),
        thousands(sum(|f| f.private_removed)),
        thousands(sum(|f| f.texts_cleaned)),
        thousands(sum(|f| f.dates_shifted)),
    ));
    if r.burned_in_blanked > 0 {
        t.push_str(&format!(
            "  burned-in annotation: {} files blanked in the given regions (Burned In Annotation set to NO)\n",
            r.burned_in_blanked
        ));
    }
    for (p, why) in &r.skipped {
        t.push_str(&format!(
            "  skipped {}: {why}\n",
            airlock_core::shown::path(p)
        ));
    }
    if r.burned_in_flagged > 0 {
        t.push_str(&format!(
            "\n{} files may show identifying text in their pixels (written, but not clean):\n",
            r.burned_in_flagged
        ));
        for f in r.files.iter().take(args.show) {
            if let BurnedIn::Flagged(why) = f.burned_in {
                t.push_str(&format!(
                    "  {}: {why}\n",
                    airlock_core::shown::path(&f.output)
                ));
            }
        }
        t.push_str(
            "blank their text regions with --blank X,Y,W,H, or review them before release\n",
        );
    }
    report::out(&t);
    Ok(status)
}
