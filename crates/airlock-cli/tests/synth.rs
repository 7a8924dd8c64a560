//! End-to-end tests of `airlock synth`: the policy's identifier and free-text columns are
//! refused, a fit spends its budget and says what it spent, sampling is reproducible under a
//! seed and streams to every table format, the non-private mode says so, and a forged model is
//! refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use predicates::prelude::*;

mod common;
use common::{adult, airlock, fixtures};

#[test]
fn identifiers_are_refused_by_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for column in ["mrn", "note"] {
        airlock(d)
            .args(["synth", "fit"])
            .arg(fixtures().join("patients.csv"))
            .args(["-o", "m.json", "--epsilon", "1", "--policy"])
            .arg(fixtures().join("policy.toml"))
            .args(["--columns", &format!("age,{column}")])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("identifier or free text"));
    }
    assert!(!d.join("m.json").exists());
    // a column the policy does not know is refused too
    std::fs::write(d.join("t.csv"), "age,extra\n40,a\n").unwrap();
    airlock(d)
        .args([
            "synth",
            "fit",
            "t.csv",
            "-o",
            "m.json",
            "--epsilon",
            "1",
            "--policy",
        ])
        .arg(fixtures().join("policy.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not in the policy"));
}

#[test]
fn fit_and_sample_on_adult() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    adult(d);
    let out = airlock(d)
        .args(["--json", "synth", "fit", "adult.csv", "-o", "m.json"])
        .args(["--epsilon", "1", "--seed", "3"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no --policy"));
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let p = &v["privacy"];
    assert_eq!(p["non_private"], false);
    assert!(p["rho_spent"].as_f64().unwrap() <= p["rho"].as_f64().unwrap() * (1.0 + 1e-12));
    assert_eq!(v["edges"].as_array().unwrap().len(), 8);
    // the same seed, the same rows, in any format
    for (name, seed) in [("a.csv", "1"), ("b.csv", "1"), ("c.csv", "2")] {
        airlock(d)
            .args([
                "synth", "sample", "m.json", "-n", "2000", "-o", name, "--seed", seed,
            ])
            .assert()
            .success();
    }
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    assert_eq!(read("a.csv"), read("b.csv"));
    assert_ne!(read("a.csv"), read("c.csv"));
    let text = String::from_utf8(read("a.csv")).unwrap();
    assert_eq!(text.lines().count(), 2001);
    assert!(text.starts_with("sex,age,race,marital-status,education"));
    for f in ["s.jsonl", "s.parquet"] {
        airlock(d)
            .args(["synth", "sample", "m.json", "-n", "100", "-o", f])
            .assert()
            .success();
        assert!(d.join(f).exists());
    }
    // the fidelity report: marginals, associations, utility on real rows, as JSON and as a page
    // (the "held-out" rows here were also fitted on: this checks the report, not a TSTR figure)
    std::fs::write(d.join("holdout.csv"), {
        let text = std::fs::read_to_string(d.join("adult.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        format!("{}\n{}\n", lines[0], lines[lines.len() - 2000..].join("\n"))
    })
    .unwrap();
    let out = airlock(d)
        .args([
            "--json",
            "synth",
            "report",
            "--real",
            "adult.csv",
            "--synthetic",
            "a.csv",
        ])
        .args([
            "--model",
            "m.json",
            "--holdout",
            "holdout.csv",
            "--target",
            "salary-class",
        ])
        .args(["--positive", ">50K", "--html", "report.html"])
        .assert()
        .success();
    let r: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(r["two_way"].as_array().unwrap().len(), 36);
    let tvd = r["mean_two_way_tvd"].as_f64().unwrap();
    assert!(tvd > 0.0 && tvd < 0.2, "{tvd}");
    let u = &r["utility"];
    assert_eq!(u["test_rows"], 2000);
    assert!(u["synthetic_auc"].as_f64().unwrap() > 0.6, "{u}");
    assert!(r["privacy"].as_str().unwrap().contains("epsilon 1"));
    let page = std::fs::read_to_string(d.join("report.html")).unwrap();
    for needle in ["Diverges most", "Cramér", "<svg", "Utility", "epsilon 1"] {
        assert!(page.contains(needle), "{needle}");
    }
    // without a seed the noise comes from the operating system: two fits differ
    for out in ["os1.json", "os2.json"] {
        airlock(d)
            .args(["synth", "fit", "adult.csv", "-o", out, "--epsilon", "1"])
            .assert()
            .success();
    }
    assert_ne!(read("os1.json"), read("os2.json"));
    let os: serde_json::Value = serde_json::from_slice(&read("os1.json")).unwrap();
    assert_eq!(os["privacy"]["noise"], "os");
    // the non-private mode says so, at fit and at every sample
    airlock(d)
        .args([
            "synth",
            "fit",
            "adult.csv",
            "-o",
            "open.json",
            "--epsilon",
            "inf",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("NOT differentially private"));
    airlock(d)
        .args(["synth", "sample", "open.json", "-n", "10", "-o", "open.csv"])
        .assert()
        .success()
        .stderr(predicate::str::contains("NOT differentially private"));
    // a forged model (an edge that does not fit its columns) is refused, nothing written
    let mut m: serde_json::Value = serde_json::from_slice(&read("m.json")).unwrap();
    m["edges"][0]["joint"] = serde_json::json!([1.0]);
    std::fs::write(d.join("forged.json"), m.to_string()).unwrap();
    airlock(d)
        .args(["synth", "sample", "forged.json", "-n", "10", "-o", "x.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("malformed"));
    assert!(!d.join("x.csv").exists());
    std::fs::write(d.join("junk.json"), "{}").unwrap();
    airlock(d)
        .args(["synth", "sample", "junk.json", "-n", "10", "-o", "x.csv"])
        .assert()
        .code(2);
}

/// The privacy half of the report and its gate: the real training rows passed off as synthetic
/// copy them and fail the policy's `[synthetic]` gate; a DP synthetic table does not, and a
/// distance attack cannot tell its training rows from held-out ones.
#[test]
fn the_privacy_gate_fails_a_copy_of_the_training_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    adult(d);
    let text = std::fs::read_to_string(d.join("adult.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines.len() * 4 / 5;
    std::fs::write(d.join("train.csv"), lines[..cut].join("\n") + "\n").unwrap();
    std::fs::write(
        d.join("test.csv"),
        format!("{}\n{}\n", lines[0], lines[cut..].join("\n")),
    )
    .unwrap();
    let class = |c: &str| match c {
        "workclass" | "occupation" | "salary-class" => "clinical",
        _ => "quasi_identifier",
    };
    let mut policy =
        String::from("[dataset]\nname = \"adult\"\n[defaults]\nunclassified = \"fail\"\n");
    for c in lines[0].split(',') {
        policy.push_str(&format!(
            "[fields.{c}]\nclass = \"{}\"\naction = \"keep\"\n",
            class(c)
        ));
    }
    policy.push_str("[synthetic]\nmax_rare_copies = 0.12\n");
    std::fs::write(d.join("policy.toml"), policy).unwrap();
    airlock(d)
        .args([
            "synth",
            "fit",
            "train.csv",
            "-o",
            "m.json",
            "--epsilon",
            "1",
            "--seed",
            "4",
        ])
        .args(["--policy", "policy.toml"])
        .assert()
        .success();
    airlock(d)
        .args([
            "synth", "sample", "m.json", "-n", "20000", "-o", "s.csv", "--seed", "4",
        ])
        .assert()
        .success();
    let report = |synthetic: &str| {
        let out = airlock(d)
            .args([
                "--json",
                "synth",
                "report",
                "--real",
                "train.csv",
                "--synthetic",
                synthetic,
            ])
            .args(["--holdout", "test.csv", "--policy", "policy.toml"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, dp) = report("s.csv");
    assert_eq!(code, Some(0), "{}", dp["gate_failures"]);
    let r = &dp["privacy_risk"];
    assert_eq!(r["quasi_identifiers"].as_array().unwrap().len(), 6);
    let auc = r["membership_auc"].as_f64().unwrap();
    assert!((0.4..0.6).contains(&auc), "{auc}");
    let (code, copy) = report("train.csv");
    assert_eq!(code, Some(1));
    let r = &copy["privacy_risk"];
    assert_eq!(r["exact_copies"], 1.0);
    assert!(r["membership_auc"].as_f64().unwrap() > 0.8, "{r}");
    assert!(
        copy["gate_failures"][0]
            .as_str()
            .unwrap()
            .contains("max_rare_copies")
    );
}
