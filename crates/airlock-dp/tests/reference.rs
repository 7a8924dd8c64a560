//! airlock's accountant against Google's dp-accounting on a grid of noise multipliers,
//! sampling rates, steps and deltas (`data/rdp_reference.json`, made by
//! `data/make_reference.py` with dp-accounting 0.6.0): ε within 1e-3 relative everywhere, and
//! calibrated noise multipliers within 0.1% of dp-accounting's, never above the target ε.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("data/rdp_reference.json")).unwrap()
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn epsilon_matches_dp_accounting_on_the_grid() {
    let r = reference();
    let rows = r["rows"].as_array().unwrap();
    assert!(rows.len() >= 300);
    let mut worst = 0.0f64;
    for row in rows {
        let (sigma, q) = (num(row, "noise_multiplier"), num(row, "sampling_rate"));
        let steps = row["steps"].as_u64().unwrap();
        let delta = num(row, "delta");
        let want = num(row, "rdp_epsilon");
        let got = airlock_dp::epsilon(sigma, q, steps, delta).unwrap();
        let rel = if want == 0.0 {
            got.abs()
        } else {
            ((got - want) / want).abs()
        };
        worst = worst.max(rel);
        assert!(
            rel <= 1e-3,
            "sigma {sigma} q {q} steps {steps} delta {delta}: {got} vs dp-accounting {want}"
        );
    }
    // in practice the two agree to rounding
    assert!(worst < 1e-9, "worst relative difference {worst}");
}

#[test]
fn calibrated_noise_matches_dp_accounting() {
    let r = reference();
    for c in r["calibrations"].as_array().unwrap() {
        let (target, q, delta) = (num(c, "epsilon"), num(c, "sampling_rate"), num(c, "delta"));
        let steps = c["steps"].as_u64().unwrap();
        let sigma = airlock_dp::calibrate_noise(target, q, steps, delta).unwrap();
        let theirs = num(c, "noise_multiplier");
        assert!(
            ((sigma - theirs) / theirs).abs() < 1e-3,
            "epsilon {target} q {q} steps {steps}: {sigma} vs dp-accounting {theirs}"
        );
        assert!(airlock_dp::epsilon(sigma, q, steps, delta).unwrap() <= target);
    }
}
