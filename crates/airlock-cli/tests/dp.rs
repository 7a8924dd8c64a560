//! End-to-end tests of `airlock dp`: the binary answers with the accountant's numbers (checked
//! against dp-accounting in `airlock-dp`'s own tests), as JSON, and refuses bad parameters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use predicates::prelude::*;

mod common;
use common::airlock;

#[test]
fn epsilon_and_noise_as_json_and_bad_parameters_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = airlock(d)
        .args([
            "dp",
            "epsilon",
            "--noise-multiplier",
            "1.1",
            "--sampling-rate",
            "0.01",
        ])
        .args(["--steps", "10000", "--delta", "1e-5", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    // dp-accounting 0.6.0's RdpAccountant: 5.632010670081592
    let eps = v["epsilon"].as_f64().unwrap();
    assert!((eps - 5.632_010_670_081_592).abs() < 1e-6, "{eps}");
    let out = airlock(d)
        .args(["dp", "noise", "--epsilon", "3", "--sampling-rate", "0.01"])
        .args(["--steps", "10000", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let sigma = v["noise_multiplier"].as_f64().unwrap();
    assert!(v["epsilon"].as_f64().unwrap() <= 3.0);
    assert!((1.6..1.7).contains(&sigma), "{sigma}");
    airlock(d)
        .args([
            "dp",
            "epsilon",
            "--noise-multiplier",
            "1",
            "--sampling-rate",
            "1.5",
        ])
        .args(["--steps", "10"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sampling rate must be in [0, 1]"));
    // the PLD accountant: dp-accounting 0.6.0's PLDAccountant gives 2.854518966586566
    let out = airlock(d)
        .args([
            "dp",
            "epsilon",
            "--noise-multiplier",
            "1",
            "--sampling-rate",
            "0.1",
        ])
        .args(["--steps", "10", "--accountant", "pld", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["accountant"], "pld");
    let eps = v["epsilon"].as_f64().unwrap();
    assert!((eps - 2.854_518_966_586_566).abs() < 1e-6, "{eps}");
    airlock(d)
        .args(["dp", "epsilon", "--noise-multiplier", "1"])
        .args([
            "--sampling-rate",
            "0.1",
            "--steps",
            "10",
            "--accountant",
            "prv",
        ])
        .assert()
        .code(2);
}
