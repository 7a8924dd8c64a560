//! A policy's `safe_values`: category labels the policy's author vouches are no identifiers
//! ("England", "Some-college" in the adult table) are not residual findings, in `airlock
//! deid`, `airlock scan` (through the manifest's digests) and the vault's deid and promotion;
//! any other value of the same column is scanned as before.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;
use common::airlock;

const COLUMNS: [&str; 9] = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
    "salary-class",
];

/// The adult table with one row whose country is a person's name.
fn adult_with_a_name(d: &Path) {
    let path = common::adult(d);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("Male,41,White,Divorced,HS-grad,Ezekiel Quillfeather,Private,Sales,<=50K\n");
    std::fs::write(path, text).unwrap();
}

/// Every column kept; with `vouched`, the distinct labels of the two flagged columns listed.
fn policy(d: &Path, vouched: bool) -> String {
    let mut p = String::from("[dataset]\nname = \"adult\"\n");
    for c in COLUMNS {
        p.push_str(&format!(
            "[fields.\"{c}\"]\nclass = \"quasi_identifier\"\naction = \"keep\"\n"
        ));
        if vouched && (c == "native-country" || c == "education") {
            let at = COLUMNS.iter().position(|x| *x == c).unwrap();
            let table = std::fs::read_to_string(d.join("adult.csv")).unwrap();
            let mut values: Vec<&str> = table
                .lines()
                .skip(1)
                .map(|l| l.split(',').nth(at).unwrap())
                .filter(|v| !v.contains("Quillfeather"))
                .collect();
            values.sort_unstable();
            values.dedup();
            let list: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            p.push_str(&format!("safe_values = [{}]\n", list.join(", ")));
        }
    }
    p
}

fn findings(out: &std::process::Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["manifest"]["findings"].clone()
}

#[test]
fn vouched_labels_are_no_findings_and_everything_else_still_is() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    airlock(d).args(["init", "--dir", "."]).assert().success();
    adult_with_a_name(d);
    std::fs::write(d.join("plain.toml"), policy(d, false)).unwrap();
    std::fs::write(d.join("vouched.toml"), policy(d, true)).unwrap();

    // without the list the labels are findings (the reason for this feature)
    let out = airlock(d)
        .args([
            "--json",
            "deid",
            "adult.csv",
            "-o",
            "plain.csv",
            "--policy",
            "plain.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let plain = findings(&out)["total"].as_u64().unwrap();
    assert!(plain > 100, "{plain}");

    // with it, only the one name is left, and the manifest records digests, not the labels
    let out = airlock(d)
        .args([
            "--json",
            "deid",
            "adult.csv",
            "-o",
            "out.csv",
            "--policy",
            "vouched.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        findings(&out)["total"],
        1,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let manifest = std::fs::read_to_string(d.join("out.csv.manifest.json")).unwrap();
    assert!(manifest.contains("safe_values_sha256") && !manifest.contains("England"));

    // `airlock scan` reads the digests from the manifest: the same single finding
    let out = airlock(d)
        .args(["--json", "scan", "out.csv"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["total"], 1, "{v}");
    // without its manifest the file is scanned in full
    std::fs::rename(d.join("out.csv.manifest.json"), d.join("elsewhere.json")).unwrap();
    let out = airlock(d)
        .args(["--json", "scan", "out.csv"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["report"]["total"].as_u64().unwrap() > 100, "{v}");

    // the vault: deid of the raw table stores it, and it is promoted into dev past the scan
    let clean: String = std::fs::read_to_string(d.join("adult.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("Quillfeather"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("clean.csv"), clean).unwrap();
    let steward = |args: &[&str]| common::steward_json(d, args);
    let (code, v) = steward(&["vault", "put", "--zone", "raw", "clean.csv"]);
    assert_eq!(code, Some(0), "{v}");
    let raw = v["dataset"]["id"].as_str().unwrap().to_owned();
    let (code, v) = steward(&["vault", "deid", &raw, "--policy", "plain.toml"]);
    assert_eq!(code, Some(1), "the labels hold the plain policy's run: {v}");
    let (code, v) = steward(&["vault", "deid", &raw, "--policy", "vouched.toml"]);
    assert_eq!(code, Some(0), "{v}");
    let deid = v["dataset"]["id"].as_str().unwrap().to_owned();
    let (code, v) = steward(&["vault", "promote", &deid, "--to", "dev"]);
    assert_eq!(code, Some(0), "{v}");

    // a model trained on it in the enclave lists the labels among its categories: its inputs'
    // manifests vouch for them, so it is released (before, it was held for "England")
    std::fs::create_dir(d.join("code")).unwrap();
    std::fs::write(
        d.join("code/train.sh"),
        format!(
            "\"{}\" train \"$AIRLOCK_DATA\"/*clean*.csv --target salary-class --positive '>50K' \
             --epsilon 3 --seed 1 -o \"$AIRLOCK_OUT/model.json\"\n",
            assert_cmd::cargo::cargo_bin("airlock").display()
        ),
    )
    .unwrap();
    let run = |data: &str, out: &str| {
        airlock(d)
            .args(["enclave", "run", "--data", data, "--out", out, "--read"])
            .arg(d.join("code"))
            .args(["--role", "engineer", "--purpose", "model-training", "--"])
            .arg("/bin/bash")
            .arg(d.join("code/train.sh"))
            .output()
            .unwrap()
    };
    let out = run(&deid, "model");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() && (err.contains("Landlock") || err.contains("namespace")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the enclave cannot confine on CI: {err}"
        );
        eprintln!("SKIPPED (enclave part): this machine cannot confine a command: {err}");
        return;
    }
    assert!(
        out.status.success(),
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let model = std::fs::read_to_string(d.join("model/model.json")).unwrap();
    assert!(model.contains("England"), "the model lists the label");
}

#[test]
fn vouching_is_for_kept_columns_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.csv"), "a\nx\n").unwrap();
    std::fs::write(
        d.join("p.toml"),
        "[dataset]\nname = \"t\"\n[fields.a]\nclass = \"direct_identifier\"\naction = \"redact\"\nsafe_values = [\"x\"]\n",
    )
    .unwrap();
    airlock(d).args(["init", "--dir", "."]).assert().success();
    airlock(d)
        .args(["deid", "t.csv", "-o", "o.csv", "--policy", "p.toml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("safe_values"));
}
