//! `airlock text`, `airlock scan` and `airlock eval text`: free text through the detector.

use std::io::Read;
use std::path::Path;

use airlock_core::clock::ShiftRange;
use airlock_core::keys::WorkspaceSecret;
use airlock_core::shown;
use airlock_core::text::{TextContext, TextMode, TextScrubber};
use airlock_text::TextEngine;
use airlock_text::eval::{evaluate_detector, read_gold};
use airlock_text::scan::scan_paths;

use crate::ExitStatus;
use crate::cli::{EvalTextArgs, ScanArgs, TextCommand};
use crate::report::{self, thousands};

pub fn run_text(cmd: TextCommand, json: bool) -> anyhow::Result<ExitStatus> {
    let (args, mode, engine, ctx_args) = match cmd {
        TextCommand::Redact(a) => {
            let engine = TextEngine::without_key().with_mode(a.io.mode.into());
            (a.io, TextMode::Redact, engine, None)
        }
        TextCommand::Surrogate(a) => {
            let range = ShiftRange::new(a.date_shift_days, "--date-shift-days")?;
            let shift = a
                .date_shift
                .map(|d| ShiftRange::check_offset(d, "--date-shift"))
                .transpose()?;
            let path = WorkspaceSecret::locate(a.key_file.as_deref())?;
            let engine = TextEngine::for_workspace(&WorkspaceSecret::load(&path)?, range)
                .with_mode(a.io.mode.into());
            (a.io, TextMode::Surrogate, engine, Some((a.patient, shift)))
        }
    };
    let (patient, date_shift) = ctx_args.unwrap_or((None, None));
    let stdin = args.input == Path::new("-");
    let mut text = String::new();
    let read = if stdin {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(&args.input).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| {
        let what = if stdin {
            Path::new("standard input")
        } else {
            args.input.as_path()
        };
        if e.kind() == std::io::ErrorKind::InvalidData {
            anyhow::anyhow!("{} is not UTF-8 text", shown::path(what))
        } else {
            airlock_core::Error::io("read", what, e).into()
        }
    })?;
    let known = match &args.known {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .map_err(|e| airlock_core::Error::io("read", path, e))?;
            airlock_text::known::parse_known(&json).map_err(|why| airlock_core::Error::Invalid {
                what: format!("the --known file {}", shown::path(path)),
                why,
            })?
        }
        None => Vec::new(),
    };
    let known: Vec<(airlock_core::phi::Kind, &str)> =
        known.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ctx = TextContext {
        patient: patient.as_deref(),
        date_shift_days: date_shift,
        known: &known,
        prepared: None,
    };
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let replaced = engine.scrub(&text, mode, &ctx, &mut out);
    match &args.output {
        None if json => report::json(&serde_json::json!({
            "status": "ok",
            "text": out,
            "identifiers_replaced": replaced,
            "detector": engine.name(),
        })),
        None => report::out(&out),
        Some(path) => {
            if !stdin {
                airlock_core::output::refuse_overwrite(&args.input, path)?;
            }
            airlock_core::output::write_atomic(path, out.as_bytes(), args.force)?;
            if json {
                report::json(&serde_json::json!({
                    "status": "ok",
                    "output": path,
                    "identifiers_replaced": replaced,
                    "detector": engine.name(),
                }));
            } else {
                report::out(&format!(
                    "{} identifiers {} in {} -> {}\n",
                    thousands(replaced as u64),
                    if mode == TextMode::Redact {
                        "redacted"
                    } else {
                        "replaced by surrogates"
                    },
                    if stdin {
                        "standard input".to_owned()
                    } else {
                        airlock_core::shown::path(&args.input).to_string()
                    },
                    airlock_core::shown::path(path)
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub fn run_scan(args: ScanArgs, json: bool) -> anyhow::Result<ExitStatus> {
    let engine = TextEngine::without_key().with_mode(args.mode.into());
    let started = std::time::Instant::now();
    let report = scan_paths(&args.paths, &engine)?;
    let seconds = started.elapsed().as_secs_f64();
    let status = ExitStatus::from_findings(report.total, args.max);
    super::vault::after_run(None, "scan", None, Path::new("."), status.label())?;
    if json {
        report::json(&serde_json::json!({
            "status": status.label(),
            "seconds": seconds,
            "report": report,
        }));
        return Ok(status);
    }
    let mut s = String::new();
    for f in &report.files {
        let kinds: Vec<String> = f
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k} {}", thousands(*n)))
            .collect();
        s.push_str(&format!(
            "{} ({}): {} findings{}\n",
            airlock_core::shown::path(&f.path),
            f.read_as,
            thousands(f.findings),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ));
        if !f.skipped_columns.is_empty() {
            s.push_str(&format!(
                "  not scanned (transformed by airlock deid, per its manifest): {}\n",
                f.skipped_columns
                    .iter()
                    .map(|c| shown::Shown(c).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for l in f.locations.iter().take(args.show) {
            s.push_str(&format!("  {:<11} {}\n", l.kind.tag(), l.at));
        }
        if f.findings as usize > args.show.min(f.locations.len()) && args.show > 0 {
            s.push_str(&format!(
                "  ... {} more (--show N, or --json for the first {})\n",
                thousands(f.findings - args.show.min(f.locations.len()) as u64),
                airlock_text::scan::MAX_LOCATIONS
            ));
        }
    }
    for (p, why) in &report.skipped {
        s.push_str(&format!(
            "skipped {}: {why}\n",
            airlock_core::shown::path(p)
        ));
    }
    let kinds: Vec<String> = report
        .by_kind
        .iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect();
    s.push_str(&format!(
        "\n{} findings{} in {} files ({:.1} MB in {:.2} s); values are never shown\n",
        thousands(report.total),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        report.files.len(),
        report.bytes as f64 / 1e6,
        seconds
    ));
    if status == ExitStatus::Findings {
        s.push_str(&format!("more than --max {} findings: exit 1\n", args.max));
    }
    report::out(&s);
    Ok(status)
}

pub fn run_eval(args: EvalTextArgs, json: bool) -> anyhow::Result<ExitStatus> {
    use airlock_core::text::DetectionMode;
    let file = std::fs::File::open(&args.gold)
        .map_err(|e| airlock_core::Error::io("read", &args.gold, e))?;
    let notes = read_gold(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{}: {e}", airlock_core::shown::path(&args.gold)))?;
    let judged: DetectionMode = args.mode.into();
    // both modes, the judged one first; dictionaries built before the clock starts
    let mut runs = Vec::new();
    for mode in [judged, other_mode(judged)] {
        let engine = TextEngine::without_key().with_mode(mode);
        let _ = engine.detect("warm up");
        let started = std::time::Instant::now();
        let ev = evaluate_detector(&notes, engine.detector());
        let seconds = started.elapsed().as_secs_f64();
        // the first pass pays the regex engine's one-time build of its automaton's states (and
        // fills the typo check's cache); a second pass over the same notes shows the rate of a
        // long run once those are built (an upper bound: new words still pay the typo check)
        let started = std::time::Instant::now();
        let _ = evaluate_detector(&notes, engine.detector());
        let warm = started.elapsed().as_secs_f64();
        runs.push((mode, ev, seconds, warm));
    }
    let (_, ev, seconds, warm) = &runs[0];
    let mb_per_s = ev.bytes as f64 / 1e6 / seconds.max(1e-9);
    let below = args.min_recall.is_some_and(|r| ev.all.recall() < r)
        || args.min_precision.is_some_and(|p| ev.all.precision() < p);
    let status = if below {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    };
    if json {
        let modes: serde_json::Map<String, serde_json::Value> = runs
            .iter()
            .map(|(mode, ev, seconds, warm)| {
                (
                    mode.as_str().to_owned(),
                    serde_json::json!({
                        "recall": ev.all.recall(),
                        "precision": ev.all.precision(),
                        "f2": ev.all.f2(),
                        "seconds": seconds,
                        "warm_seconds": warm,
                        "evaluation": ev,
                    }),
                )
            })
            .collect();
        report::json(&serde_json::json!({
            "status": if below { "below_threshold" } else { "ok" },
            "gold": args.gold,
            "mode": judged.as_str(),
            "recall": ev.all.recall(),
            "precision": ev.all.precision(),
            "f2": ev.all.f2(),
            "token_recall": ev.tokens.recall(),
            "token_precision": ev.tokens.precision(),
            "seconds": seconds,
            "mb_per_second": mb_per_s,
            "warm_mb_per_second": ev.bytes as f64 / 1e6 / warm.max(1e-9),
            "evaluation": ev,
            "modes": modes,
        }));
        return Ok(status);
    }
    let mut s = format!(
        "{}: {} notes, {:.2} MB, {} required gold spans\n",
        airlock_core::shown::path(&args.gold),
        thousands(ev.notes as u64),
        ev.bytes as f64 / 1e6,
        thousands(ev.all.gold as u64),
    );
    for (mode, ev, seconds, warm) in &runs {
        s.push_str(&format!(
            "\n{} mode{}\n  binary recall {:.4}   precision {:.4}   F2 {:.4}\n  token recall  {:.4}   token precision {:.4}\n\n  {:<9} {:>6} {:>7} {:>7}   {:>9} {:>7} {:>9}\n",
            mode.as_str(),
            if *mode == judged { " (judged)" } else { "" },
            ev.all.recall(),
            ev.all.precision(),
            ev.all.f2(),
            ev.tokens.recall(),
            ev.tokens.precision(),
            "type",
            "gold",
            "caught",
            "recall",
            "predicted",
            "right",
            "precision"
        ));
        for (k, c) in &ev.by_type {
            s.push_str(&format!(
                "  {:<9} {:>6} {:>7} {:>7.3}   {:>9} {:>7} {:>9.3}\n",
                k,
                c.gold,
                c.caught,
                c.recall(),
                c.predicted,
                c.correct,
                c.precision()
            ));
        }
        s.push_str(&format!(
            "\n  detection {:.1} MB/s on one core ({:.2} s, first pass); {:.1} MB/s on a second pass\n",
            ev.bytes as f64 / 1e6 / seconds.max(1e-9),
            seconds,
            ev.bytes as f64 / 1e6 / warm.max(1e-9),
        ));
    }
    if below {
        s.push_str("below --min-recall / --min-precision: exit 1\n");
    }
    report::out(&s);
    Ok(status)
}

fn other_mode(mode: airlock_core::text::DetectionMode) -> airlock_core::text::DetectionMode {
    use airlock_core::text::DetectionMode;
    match mode {
        DetectionMode::Strict => DetectionMode::Balanced,
        DetectionMode::Balanced => DetectionMode::Strict,
    }
}
