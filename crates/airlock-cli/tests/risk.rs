//! End-to-end tests of `airlock risk` and `airlock anonymize` on the vendored ARX adult table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

const QI8: &str = "sex,age,race,marital-status,education,native-country,workclass,salary-class";

fn adult_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../airlock-risk/tests/data/adult")
}

fn airlock(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("airlock").unwrap();
    cmd.current_dir(dir).env_remove("AIRLOCK_KEY_FILE");
    cmd
}

fn hierarchy_args() -> Vec<String> {
    QI8.split(',')
        .flat_map(|q| {
            [
                "--hierarchy".to_owned(),
                format!(
                    "{q}={}",
                    adult_dir()
                        .join(format!("adult_hierarchy_{q}.csv"))
                        .display()
                ),
            ]
        })
        .collect()
}

fn json(out: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn risk_reports_the_raw_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(dir.path())
        .arg("risk")
        .arg(adult_dir().join("adult.csv"))
        .args(["--qi", QI8, "--sensitive", "occupation", "--json"])
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["risk"]["classes"], 12_458);
    assert_eq!(v["risk"]["sample_uniques"], 8_841);
    assert_eq!(v["risk"]["k"], 1);
    // Population uniqueness with ARX's USA population model, and journalist risk against the
    // table itself (a census: journalist risk equals prosecutor risk).
    let out = airlock(dir.path())
        .arg("risk")
        .arg(adult_dir().join("adult.csv"))
        .args([
            "--qi",
            QI8,
            "--population",
            "317238626",
            "--json",
            "--population-table",
        ])
        .arg(adult_dir().join("adult.csv"))
        .assert()
        .success();
    let v = json(&out);
    let pitman = v["population_uniqueness"]["pitman"].as_f64().unwrap();
    assert!((pitman - 0.014545773).abs() < 1e-6, "{pitman}");
    assert_eq!(v["population_uniqueness"]["dankar_estimator"], "pitman");
    let journalist = v["journalist_risk"]["average"].as_f64().unwrap();
    assert!((journalist - 0.413036271).abs() < 1e-6, "{journalist}");
    airlock(dir.path())
        .arg("risk")
        .arg(adult_dir().join("adult.csv"))
        .args(["--qi", "sex,age"])
        .assert()
        .success()
        .stdout(predicate::str::contains("equivalence classes"))
        .stdout(predicate::str::contains("Male").not());
}

#[test]
fn anonymize_writes_a_five_anonymous_table_of_generalized_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = airlock(dir.path())
        .arg("anonymize")
        .arg(adult_dir().join("adult.csv"))
        .args([
            "--qi",
            QI8,
            "--sensitive",
            "occupation",
            "--k",
            "5",
            "--max-suppression",
            "0.05",
        ])
        .args(hierarchy_args())
        .args(["-o", "anon.csv", "--json", "--report", "report.html"])
        .assert()
        .success();
    let v = json(&out);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("5-anonymity") && html.contains("reviewed by"));
    // Names and counts only: no QI value from the data (e.g. a country or an occupation).
    for value in [
        "United-States",
        "Adm-clerical",
        "Never-married",
        "Bachelors",
    ] {
        assert!(!html.contains(value), "report shows the value {value}");
    }
    assert_eq!(v["suppressed_records"], 1_346);
    assert_eq!(v["classes"], 397);
    assert_eq!(v["after"]["k"], 5);
    let levels: Vec<u64> = v["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["level"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, vec![0, 3, 0, 0, 2, 1, 1, 0]);

    // Every QI value is the original or one of its ancestors; other columns are unchanged.
    let read = |p: &Path| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(p).unwrap();
        let sep = if text.lines().next().unwrap().contains(';') {
            ';'
        } else {
            ','
        };
        text.lines()
            .map(|l| {
                l.trim_end_matches('\r')
                    .split(sep)
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    };
    let raw = read(&adult_dir().join("adult.csv"));
    let anon = read(&dir.path().join("anon.csv"));
    assert_eq!(raw.len(), anon.len());
    assert_eq!(raw[0], anon[0]);
    let header = &raw[0];
    let hierarchies: Vec<(usize, airlock_risk::Hierarchy)> = QI8
        .split(',')
        .map(|q| {
            let i = header.iter().position(|h| h == q).unwrap();
            let h = airlock_risk::Hierarchy::load(
                &adult_dir().join(format!("adult_hierarchy_{q}.csv")),
            )
            .unwrap();
            (i, h)
        })
        .collect();
    let occupation = header.iter().position(|h| h == "occupation").unwrap();
    let mut suppressed = 0;
    for (r, a) in raw.iter().zip(&anon).skip(1) {
        assert_eq!(r[occupation], a[occupation]);
        if hierarchies.iter().all(|(i, _)| a[*i] == "*") {
            suppressed += 1;
            continue;
        }
        for (i, h) in &hierarchies {
            let leaf = h.leaf_index(&r[*i]).unwrap();
            assert!((0..h.levels()).any(|l| h.label(leaf, l) == a[*i]));
        }
    }
    assert_eq!(suppressed, 1_346);

    // The written table measures as it was promised (the suppressed block is one class).
    let out = airlock(dir.path())
        .args(["risk", "anon.csv", "--qi", QI8, "--json"])
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["risk"]["k"], 5);
    assert_eq!(v["risk"]["classes"], 398);
}

#[test]
fn bad_arguments_and_values_outside_a_hierarchy_exit_2_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let input = adult_dir().join("adult.csv");
    airlock(dir.path())
        .arg("anonymize")
        .arg(&input)
        .args(["--qi", "sex", "-o", "o.csv", "--hierarchy", "sex"])
        .args(["--k", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("COLUMN=SPEC"));
    airlock(dir.path())
        .arg("anonymize")
        .arg(&input)
        .args(["--qi", "sex", "-o", "o.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least one criterion"));
    std::fs::write(dir.path().join("h.csv"), "Male;*\n").unwrap();
    airlock(dir.path())
        .arg("anonymize")
        .arg(&input)
        .args([
            "--qi",
            "sex",
            "--hierarchy",
            "sex=h.csv",
            "--k",
            "2",
            "-o",
            "o.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "column \"sex\": the value is not in the hierarchy",
        ))
        .stderr(predicate::str::contains("Female").not());
    assert!(!dir.path().join("o.csv").exists());
}

#[test]
fn no_solution_within_the_suppression_limit_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // k above the number of records cannot be met, not even by the top node.
    airlock(dir.path())
        .arg("anonymize")
        .arg(adult_dir().join("adult.csv"))
        .args(["--qi", "sex,race", "--k", "40000", "-o", "o.csv"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("no generalization"));
    assert!(!dir.path().join("o.csv").exists());
}

/// A policy's [risk] block: field actions first, then the optimal generalization.
#[test]
fn deid_applies_the_policy_risk_block_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("enc.csv");
    airlock_deid::demo::write_encounters(&input, airlock_core::table::Format::Csv, 3_000, 11)
        .unwrap();
    let policy = airlock_deid::demo::DEMO_POLICY
        .replace(
            "[fields.zip]\nclass = \"quasi_identifier\"\naction = \"generalize\"\nrule = \"zip3\"",
            "[fields.zip]\nclass = \"quasi_identifier\"\naction = \"generalize\"\nrule = \"zip3\"\nhierarchy = \"zip\"",
        )
        .replace(
            "[fields.age]\nclass = \"quasi_identifier\"\naction = \"generalize\"\nrule = \"age_90_plus\"",
            "[fields.age]\nclass = \"quasi_identifier\"\naction = \"generalize\"\nrule = \"age_90_plus\"\nhierarchy = \"intervals:5,10,20\"",
        )
        + "\n[risk]\nk = 5\nmax_suppression = 0.05\n";
    std::fs::write(dir.path().join("policy.toml"), &policy).unwrap();
    airlock(dir.path()).arg("init").assert().success();
    let out = airlock(dir.path())
        .args([
            "deid",
            "--policy",
            "policy.toml",
            "enc.csv",
            "-o",
            "out.csv",
            "--json",
        ])
        .assert()
        .success();
    let v = json(&out);
    let risk = &v["manifest"]["risk"];
    assert_eq!(
        risk["after"]["k"].as_u64().map(|k| k >= 5),
        Some(true),
        "{risk}"
    );
    assert_eq!(
        risk["quasi_identifiers"],
        serde_json::json!(["age", "sex", "zip"])
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out.csv.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["output"]["sha256"],
        airlock_core::output::digest_file(&dir.path().join("out.csv"))
            .unwrap()
            .0
    );
    assert!(manifest["risk"]["loss"].is_f64());
    // The written table measures k >= 5 (suppressed rows form one class of '*').
    let out = airlock(dir.path())
        .args(["risk", "out.csv", "--qi", "age,sex,zip", "--json"])
        .assert()
        .success();
    assert!(json(&out)["risk"]["k"].as_u64().unwrap() >= 5);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("airlock-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An impossible block is a failed gate: exit 1 and nothing written.
    std::fs::write(
        dir.path().join("strict.toml"),
        policy.replace("k = 5", "k = 100000"),
    )
    .unwrap();
    airlock(dir.path())
        .args([
            "deid",
            "--policy",
            "strict.toml",
            "enc.csv",
            "-o",
            "strict.csv",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("cannot be met"));
    assert!(!dir.path().join("strict.csv").exists());
    assert!(!dir.path().join("strict.csv.manifest.json").exists());
}
