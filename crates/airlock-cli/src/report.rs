//! Printing: results on stdout, progress and errors on stderr, JSON when asked. Nothing here
//! ever receives a cell value; errors from the libraries carry locations only.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use airlock_core::manifest::{ColumnRecord, Findings};

/// Writes to stdout; a closed pipe (`airlock ... | head`) is not an error.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// A warning on stderr.
pub fn warn(text: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {text}");
}

/// Prints a JSON value on stdout.
pub fn json(value: &serde_json::Value) {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    out(&s);
}

/// Prints a JSON value on one line of stdout (a log line).
pub fn json_line(value: &serde_json::Value) {
    let mut s = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    out(&s);
}

/// A line for the person running a long-lived command, on stderr.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Prints an error with its causes and a hint, as text on stderr or JSON on stdout.
pub fn error(err: &anyhow::Error, as_json: bool) {
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    let hint = err.chain().find_map(|c| {
        c.downcast_ref::<airlock_core::Error>()
            .and_then(airlock_core::Error::hint)
            .or_else(|| {
                c.downcast_ref::<airlock_risk::RiskError>()
                    .and_then(airlock_risk::RiskError::hint)
            })
            .or_else(|| {
                c.downcast_ref::<airlock_vault::VaultError>()
                    .and_then(airlock_vault::VaultError::hint)
            })
            .or_else(|| {
                c.downcast_ref::<airlock_run::RunError>()
                    .and_then(airlock_run::RunError::hint)
            })
            .or_else(|| {
                c.downcast_ref::<airlock_server::Error>()
                    .and_then(airlock_server::Error::hint)
            })
    });
    // Messages name files, columns and keys, which may be data: escaped and capped whole.
    let cap = |s: &str| airlock_core::shown::escape(s, airlock_core::shown::MESSAGE_CAP);
    let causes: Vec<String> = causes.iter().map(|c| cap(c)).collect();
    let hint = hint.map(|h| cap(&h));
    let message = cap(&err.to_string());
    if as_json {
        json(&serde_json::json!({
            "status": "error",
            "error": { "message": message, "causes": causes, "hint": hint },
        }));
        return;
    }
    let mut e = format!("error: {message}\n");
    for c in causes {
        for (i, line) in c.lines().enumerate() {
            e.push_str(if i == 0 { "  cause: " } else { "         " });
            e.push_str(line);
            e.push('\n');
        }
    }
    if let Some(h) = hint {
        e.push_str(&format!("  hint: {h}\n"));
    }
    let _ = std::io::stderr().write_all(e.as_bytes());
}

/// A command line clap refused: help and version as clap prints them; anything else as one
/// JSON object on stdout when `--json` is among the arguments, as escaped text on stderr
/// otherwise (the message quotes the arguments, which may be file names or values). Exit 2.
pub fn usage_error(e: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return std::process::ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let as_json = std::env::args_os().skip(1).any(|a| a == "--json");
    if as_json {
        let message = text
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(text.trim());
        json(&serde_json::json!({
            "status": "error",
            "error": {
                "kind": "usage",
                "message": airlock_core::shown::escape(message, airlock_core::shown::MESSAGE_CAP),
                "usage": airlock_core::shown::escape_message(text.trim(), airlock_core::shown::MESSAGE_CAP),
            },
        }));
    } else {
        let _ = std::io::stderr().write_all(
            airlock_core::shown::escape_message(&text, airlock_core::shown::MESSAGE_CAP).as_bytes(),
        );
    }
    std::process::ExitCode::from(2)
}

/// A panic message can hold anything, data included: print where, never what.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "an unknown place".into());
        eprintln!(
            "error: airlock hit an internal error at {at} (a bug; its message is withheld because it may hold data)\n  hint: no output was written; please report the location"
        );
    }));
}

/// A byte progress bar on a terminal (a spinner when the total is unknown); hidden otherwise
/// and in JSON mode. It shows byte counts only, never data.
pub fn progress_bar(total_bytes: Option<u64>, as_json: bool) -> ProgressBar {
    if as_json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::stderr());
    let template = if total_bytes.is_some() {
        "{spinner} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}"
    } else {
        "{spinner} {bytes} {bytes_per_sec}"
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub use airlock_core::shown::thousands;

/// The width of a column-name field: the longest name, at least 6.
pub fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(6).max(6)
}

/// The per-column table of a manifest.
pub fn columns_table(columns: &[ColumnRecord]) -> String {
    let names: Vec<String> = columns
        .iter()
        .map(|c| airlock_core::shown::Shown(&c.name).to_string())
        .collect();
    let w = name_width(names.iter().map(String::as_str));
    let mut t = format!(
        "  {:w$}  {:17}  {:22}  {:>10}  {:>10}  {:>8}\n",
        "column", "class", "action", "cells", "changed", "nulled"
    );
    for (c, name) in columns.iter().zip(&names) {
        let action = match &c.rule {
            Some(r) => format!("{} {r}", c.action),
            None => c.action.clone(),
        };
        let mut line = format!(
            "  {:w$}  {:17}  {:22}  {:>10}  {:>10}  {:>8}",
            name,
            c.class,
            action,
            thousands(c.cells),
            if c.in_output {
                thousands(c.changed)
            } else {
                "dropped".into()
            },
            thousands(c.nulled)
        );
        if c.spans_replaced > 0 {
            line.push_str(&format!(
                "  ({} identifiers replaced)",
                thousands(c.spans_replaced)
            ));
        }
        t.push_str(line.trim_end());
        t.push('\n');
    }
    t
}

/// "0 findings" or "3 findings (SSN 2, PHONE 1) in note, comment".
pub fn findings_line(f: &Findings) -> String {
    if f.total == 0 {
        return format!("0 findings in {} scanned columns", f.scanned_columns.len());
    }
    let kinds: Vec<String> = f
        .by_kind
        .iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect();
    let cols: Vec<&str> = f.by_column.keys().map(String::as_str).collect();
    format!(
        "{} findings ({}) in {}",
        thousands(f.total),
        kinds.join(", "),
        cols.join(", ")
    )
}

/// Peak resident memory of this process, where the OS tells (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
