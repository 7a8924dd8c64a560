//! `airlock canary plant|check` end to end: planting never touches the input and records every
//! value, a sound policy leaves no trace, a leaky one is caught with locations and never the
//! values, and bad input exits 2 with nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{airlock, fixtures, set_mode};
use predicates::prelude::*;

struct Planted {
    dir: tempfile::TempDir,
    canaries: serde_json::Value,
}

impl Planted {
    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }

    /// The first canary's value of `kind`.
    fn first(&self, kind: &str) -> String {
        self.canaries["canaries"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["kind"] == kind.to_ascii_uppercase())
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every searchable canary value (synthetic: safe to compare against output).
    fn values(&self) -> Vec<String> {
        self.canaries["canaries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["values"].as_array().unwrap().clone())
            .filter(|v| v["search"] != false && v["kind"] != "free_text")
            .map(|v| v["value"].as_str().unwrap().to_owned())
            .filter(|v| v.len() >= 6) // ages and ZIPs are recorded, not searched
            .collect()
    }
}

fn setup() -> Planted {
    let dir = tempfile::tempdir().unwrap();
    for f in ["patients.csv", "policy.toml", "test-key.hex"] {
        std::fs::copy(fixtures().join(f), dir.path().join(f)).unwrap();
    }
    set_mode(&dir.path().join("test-key.hex"), 0o600);
    let before = std::fs::read(dir.path().join("patients.csv")).unwrap();
    airlock(dir.path())
        .args(["canary", "plant", "--policy", "policy.toml", "patients.csv"])
        .args(["-o", "raw/planted.csv", "-n", "4", "--seed", "7"])
        .assert()
        .failure()
        .code(2); // raw/ does not exist yet: nothing written
    std::fs::create_dir(dir.path().join("raw")).unwrap();
    airlock(dir.path())
        .args(["canary", "plant", "--policy", "policy.toml", "patients.csv"])
        .args(["-o", "raw/planted.csv", "-n", "4", "--seed", "7"])
        .assert()
        .success()
        .stdout(predicate::str::contains("planted 4 canary patients"))
        .stdout(predicate::str::contains("6 rows -> 10 rows"));
    assert_eq!(
        std::fs::read(dir.path().join("patients.csv")).unwrap(),
        before,
        "the input is never written"
    );
    let file = dir.path().join("raw/planted.canaries.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "canary file readable by others");
    }
    let canaries = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    Planted { dir, canaries }
}

/// `airlock canary check` of `path` with the planted canary file.
fn check(p: &Planted, path: &str) -> assert_cmd::Command {
    let mut cmd = airlock(p.dir.path());
    cmd.args([
        "canary",
        "check",
        "--canaries",
        "raw/planted.canaries.json",
        path,
    ]);
    cmd
}

fn deid(p: &Planted, policy: &str, out: &str) {
    airlock(p.dir.path())
        .args(["deid", "--policy", policy, "raw/planted.csv", "-o", out])
        .args(["--key-file", "test-key.hex", "--max-findings", "1000000"])
        .assert()
        .success();
}

#[test]
fn planted_rows_carry_new_values_in_every_identifying_column() {
    let p = setup();
    let mut r = csv::Reader::from_path(p.path("raw/planted.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let original = std::fs::read_to_string(p.path("patients.csv")).unwrap();
    let canaries = p.canaries["canaries"].as_array().unwrap();
    assert_eq!(canaries.len(), 4);
    for c in canaries {
        let row = &rows[c["row"].as_u64().unwrap() as usize - 1];
        for v in c["values"].as_array().unwrap() {
            let Some(col) = v["column"].as_str() else {
                continue;
            };
            let i = header.iter().position(|h| h == col).unwrap();
            assert_eq!(&row[i], v["value"].as_str().unwrap(), "{col}");
        }
        let columns: Vec<&str> = c["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["column"].as_str())
            .collect();
        for col in [
            "mrn",
            "name",
            "ssn",
            "dob",
            "zip",
            "age",
            "admit_date",
            "phone",
            "note",
        ] {
            assert!(columns.contains(&col), "{col} has no canary value");
        }
        // the note carries every kind of identifier, each recorded
        let kinds: std::collections::BTreeSet<&str> = c["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.len() >= 19, "{kinds:?}");
    }
    for v in p.values() {
        assert!(!original.contains(&v), "a canary value is not new");
    }
}

#[test]
fn a_sound_policy_leaves_no_trace_and_a_leaky_one_is_caught_without_values() {
    let p = setup();
    std::fs::create_dir(p.path("out")).unwrap();
    deid(&p, "policy.toml", "out/sound.csv");
    check(&p, "out")
        .assert()
        .success()
        .stdout(predicate::str::ends_with("0 canary leaks\n"));
    // the raw file holds every canary: the check is not vacuous
    check(&p, "raw").assert().code(1);
    // misclassify the phone as clinical (kept), and log a canary's name and health plan number from its note
    let leaky = std::fs::read_to_string(p.path("policy.toml"))
        .unwrap()
        .replace(
            "[fields.phone]\nclass = \"direct_identifier\"\naction = \"redact\"\nreplacement = \"[PHONE]\"",
            "[fields.phone]\nclass = \"clinical\"\naction = \"keep\"",
        );
    std::fs::write(p.path("leaky.toml"), leaky).unwrap();
    deid(&p, "leaky.toml", "out/leaky.csv");
    let name = p.first("name").to_uppercase().replace(' ', "_");
    let plan = p.first("health_plan");
    std::fs::write(
        p.path("out/job.log"),
        format!("processing {name}\nplan {plan}\n"),
    )
    .unwrap();
    let out = check(&p, "out").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("out/leaky.csv (bytes):"), "{text}");
    assert!(text.contains("column \"phone\""), "{text}");
    assert!(text.contains("in a note"), "{text}");
    // the offset is within its line, as in every report of a line
    assert!(
        text.contains("line 1 at 11+16") && text.contains("line 2 at 5+12"),
        "{text}"
    );
    assert!(text.contains("out/job.log (bytes): 2 hits"), "{text}");
    assert!(
        text.contains("case, spacing or punctuation changed"),
        "{text}"
    );
    assert!(!text.contains("out/sound.csv"), "{text}");
    for v in p.values() {
        assert!(!text.contains(&v), "a canary value was printed");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&v));
    }
    // --json says the same, with locations and no values
    let out = airlock(p.dir.path())
        .args([
            "--json",
            "canary",
            "check",
            "--canaries",
            "raw/planted.canaries.json",
        ])
        .arg("out")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "findings");
    assert!(v["report"]["hits"].as_u64().unwrap() >= 5);
    let json = String::from_utf8_lossy(&out.stdout);
    for value in p.values() {
        assert!(!json.contains(&value));
    }
}

#[test]
fn parquet_cells_are_searched() {
    let p = setup();
    common::convert_table(
        &p.path("raw/planted.csv"),
        airlock_core::table::Format::Csv,
        &p.path("raw/planted.parquet"),
        airlock_core::table::Format::Parquet,
    );
    std::fs::create_dir(p.path("pq")).unwrap();
    std::fs::rename(p.path("raw/planted.parquet"), p.path("pq/planted.parquet")).unwrap();
    check(&p, "pq")
        .args(["--show", "1000"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("parquet cells and bytes"))
        .stdout(predicate::str::is_match(r#"row \d+ column "note" at \d+\+\d+"#).unwrap());
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let p = setup();
    let d = p.dir.path();
    // the output may not be the input
    airlock(d)
        .args(["canary", "plant", "--policy", "policy.toml", "patients.csv"])
        .args(["-o", "patients.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never writes over its input"));
    // an unclassified column stops the plant before anything is written
    let csv = std::fs::read_to_string(d.join("patients.csv")).unwrap();
    let extra: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l},{}\n", if i == 0 { "employer" } else { "Acme" }))
        .collect();
    std::fs::write(d.join("extra.csv"), extra).unwrap();
    airlock(d)
        .args([
            "canary",
            "plant",
            "--policy",
            "policy.toml",
            "extra.csv",
            "-o",
            "x.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"employer\""));
    assert!(!d.join("x.csv").exists() && !d.join("x.canaries.json").exists());
    // a malformed row is named by row, never by value
    std::fs::write(d.join("bad.csv"), format!("{csv}00099,Zed Quillfeather\n")).unwrap();
    airlock(d)
        .args([
            "canary",
            "plant",
            "--policy",
            "policy.toml",
            "bad.csv",
            "-o",
            "y.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("row 7"))
        .stderr(predicate::str::contains("Quillfeather").not());
    assert!(!d.join("y.csv").exists() && !d.join("y.canaries.json").exists());
    // a canary file that is not one
    std::fs::write(
        d.join("broken.json"),
        "{\"format\": \"airlock-canaries/1\",\n \"canaries\": [",
    )
    .unwrap();
    airlock(d)
        .args(["canary", "check", "--canaries", "broken.json", "raw"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json"));
    airlock(d)
        .args(["canary", "check", "--canaries", "missing.json", "raw"])
        .assert()
        .code(2);
    // the canary file itself is never reported, even inside a searched tree
    airlock(d)
        .args([
            "canary",
            "check",
            "--canaries",
            "raw/planted.canaries.json",
            "raw",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "skipped raw/planted.canaries.json: the canary file itself",
        ));
}
