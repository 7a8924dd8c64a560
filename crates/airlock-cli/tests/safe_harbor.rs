//! The Safe Harbor conformance suite: for each of the 18 identifier kinds of 45 CFR
//! 164.514(b)(2)(i), a table fixture and a note fixture (`tests/fixtures/safe-harbor/`) go
//! through `airlock deid` under the `safe-harbor` preset. For each, the suite asserts that
//! every identifying value is found in the input by `airlock canary check` (so the check is
//! not vacuous) and nowhere in the output, in any of its forms; that every identifying cell is
//! changed and does not hold its original; and that the non-identifying columns come through
//! unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{airlock, fixtures};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    kind: String,
    cfr: String,
    table: Part,
    note: Part,
}

#[derive(Deserialize)]
struct Part {
    csv: String,
    /// Table: column -> canary kind of its values.
    #[serde(default)]
    identifying: BTreeMap<String, String>,
    /// Note: the identifiers written in the notes.
    #[serde(default)]
    phi: Vec<Phi>,
    keep: Vec<String>,
}

#[derive(Deserialize)]
struct Phi {
    kind: String,
    value: String,
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn column(table: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Option<Vec<String>> {
    let i = table.0.iter().position(|h| h == name)?;
    Some(table.1.iter().map(|r| r[i].clone()).collect())
}

/// Writes a canary file with one canary per value, so the check's report names each one.
fn canary_file(path: &Path, values: &[(String, String)]) {
    let canaries: Vec<serde_json::Value> = values
        .iter()
        .enumerate()
        .map(|(i, (kind, value))| {
            serde_json::json!({
                "id": format!("value-{:02}", i + 1),
                "values": [{ "kind": kind, "value": value }],
            })
        })
        .collect();
    let file = serde_json::json!({ "format": "airlock-canaries/1", "canaries": canaries });
    std::fs::write(path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
}

/// Runs `canary check` on `target` and returns (exit code, ids of canaries found).
fn check(dir: &Path, canaries: &Path, target: &Path) -> (i32, Vec<String>) {
    let out = airlock(dir)
        .args(["--json", "canary", "check", "--canaries"])
        .arg(canaries)
        .arg(target)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = v["report"]["hits_by_canary"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    (out.status.code().unwrap(), found)
}

fn run_part(dir: &Path, name: &str, what: &str, part: &Part) {
    let label = format!("{name} {what}");
    let input = dir.join(format!("{name}.{what}.csv"));
    let output = dir.join(format!("{name}.{what}.deid.csv"));
    std::fs::write(&input, part.csv.trim_start()).unwrap();
    let policy = fixtures().join("safe-harbor/policy.toml");
    let key = fixtures().join("test-key.hex");
    common::set_mode(&key, 0o600);
    let run = airlock(dir)
        .arg("deid")
        .arg("--policy")
        .arg(&policy)
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{label}: deid failed (residual findings?)\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let before = read_csv(&input);
    let after = read_csv(&output);
    // the values that must be gone
    let mut values: Vec<(String, String)> = Vec::new();
    for (col, kind) in &part.identifying {
        let original = column(&before, col).unwrap_or_else(|| panic!("{label}: no column {col}"));
        if let Some(now) = column(&after, col) {
            for (o, n) in original.iter().zip(&now) {
                assert!(
                    !n.contains(o.as_str()),
                    "{label}: column {col} kept a value"
                );
            }
        }
        values.extend(original.into_iter().map(|v| (kind.clone(), v)));
    }
    values.extend(part.phi.iter().map(|p| (p.kind.clone(), p.value.clone())));
    assert!(!values.is_empty(), "{label}: nothing to check");
    let canaries = dir.join(format!("{name}.{what}.canaries.json"));
    canary_file(&canaries, &values);
    // every value long enough to tell apart is found in the input: the check is not vacuous
    let (code, found_before) = check(dir, &canaries, &input);
    assert_eq!(code, 1, "{label}: the check found nothing in the input");
    let searchable: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| {
            v.chars().filter(char::is_ascii_alphanumeric).count() >= 6
                && v.chars().any(|c| c.is_ascii_alphabetic())
                || v.chars().filter(char::is_ascii_digit).count() >= 7
        })
        .map(|(i, _)| format!("value-{:02}", i + 1))
        .collect();
    for id in &searchable {
        assert!(
            found_before.contains(id),
            "{label}: {id} ({}) is not found in the input",
            values[id[6..].parse::<usize>().unwrap() - 1].0
        );
    }
    // and none of them, in any form, in the output
    let (code, found_after) = check(dir, &canaries, &output);
    assert_eq!(
        (code, &found_after),
        (0, &Vec::new()),
        "{label}: identifying values survive"
    );
    // short values (ages, ZIPs) are checked as written in the cells that held them
    let text = std::fs::read_to_string(&output).unwrap();
    for p in &part.phi {
        assert!(!text.contains(&p.value), "{label}: {} survives", p.kind);
    }
    for col in &part.keep {
        assert_eq!(
            column(&before, col),
            column(&after, col),
            "{label}: non-identifying column {col} changed"
        );
    }
}

#[test]
fn every_safe_harbor_kind_is_removed_from_tables_and_notes() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(fixtures().join("safe-harbor"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && !p.ends_with("policy.toml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 18, "one fixture per Safe Harbor kind");
    let mut kinds = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let f: Fixture = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(f.cfr.starts_with('('), "{name}: cfr");
        run_part(dir.path(), name, "table", &f.table);
        run_part(dir.path(), name, "note", &f.note);
        kinds.push(f.kind);
    }
    kinds.dedup();
    assert_eq!(kinds.len(), 18);
}
