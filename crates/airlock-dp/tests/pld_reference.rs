//! airlock's PLD accountant against Google's dp-accounting `PLDAccountant` (its defaults) on a
//! grid of noise multipliers, sampling rates, steps and deltas (`data/pld_reference.json`, made
//! by `data/make_pld_reference.py` with dp-accounting 0.6.0): ε and δ within 1e-3 relative
//! everywhere, and calibrated noise multipliers within 0.1% of dp-accounting's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use airlock_dp::{Accountant, PldAccountant};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("data/pld_reference.json")).unwrap()
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn relative(got: f64, want: f64) -> f64 {
    if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    }
}

#[test]
fn epsilon_and_delta_match_dp_accounting_on_the_grid() {
    let r = reference();
    let rows = r["rows"].as_array().unwrap();
    assert!(rows.len() >= 150);
    let (mut worst, mut worst_delta) = (0.0f64, 0.0f64);
    let mut last: Option<((f64, f64, u64), PldAccountant)> = None;
    for row in rows {
        let (sigma, q) = (num(row, "noise_multiplier"), num(row, "sampling_rate"));
        let steps = row["steps"].as_u64().unwrap();
        let key = (sigma, q, steps);
        let acc = match last.take() {
            Some((k, acc)) if k == key => acc,
            _ => {
                let mut acc = PldAccountant::default();
                acc.compose_poisson_gaussian(sigma, q, steps).unwrap();
                acc
            }
        };
        let delta = num(row, "delta");
        let want = num(row, "pld_epsilon");
        let got = acc.epsilon(delta).unwrap();
        let rel = relative(got, want);
        worst = worst.max(rel);
        assert!(
            rel <= 1e-3,
            "sigma {sigma} q {q} steps {steps} delta {delta}: {got} vs dp-accounting {want}"
        );
        for d in row["deltas"].as_array().into_iter().flatten() {
            let (eps, want) = (num(d, "epsilon"), num(d, "delta"));
            let got = acc.delta(eps);
            // differences under 1e-12 are the FFT's rounding noise (in both)
            let rel = if (got - want).abs() < 1e-12 {
                0.0
            } else {
                relative(got, want)
            };
            worst_delta = worst_delta.max(rel);
            assert!(
                rel <= 1e-3,
                "sigma {sigma} q {q} steps {steps} epsilon {eps}: delta {got} vs {want}"
            );
        }
        last = Some((key, acc));
    }
    // the same algorithm in the same arithmetic, up to the FFTs' rounding: far tighter than the
    // acceptance's 1e-3
    eprintln!("worst relative differences: epsilon {worst:e}, delta {worst_delta:e}");
    assert!(worst < 1e-5, "worst relative difference in epsilon {worst}");
    assert!(
        worst_delta < 1e-5,
        "worst relative difference in delta {worst_delta}"
    );
}

#[test]
fn calibrated_noise_matches_dp_accounting() {
    let r = reference();
    for c in r["calibrations"].as_array().unwrap() {
        let (target, q, delta) = (num(c, "epsilon"), num(c, "sampling_rate"), num(c, "delta"));
        let steps = c["steps"].as_u64().unwrap();
        let sigma = airlock_dp::calibrate_noise_with(Accountant::Pld, target, q, steps, delta)
            .unwrap_or_else(|e| panic!("epsilon {target} q {q} steps {steps}: {e}"));
        let theirs = num(c, "noise_multiplier");
        assert!(
            ((sigma - theirs) / theirs).abs() < 1e-3,
            "epsilon {target} q {q} steps {steps}: {sigma} vs dp-accounting {theirs}"
        );
        let reached = airlock_dp::epsilon_with(Accountant::Pld, sigma, q, steps, delta).unwrap();
        assert!(reached <= target, "{reached} > {target}");
    }
}

#[test]
fn pld_is_never_looser_than_rdp() {
    for (sigma, q, steps) in [(1.0, 0.01, 1000), (0.8, 0.05, 300), (2.0, 0.2, 100)] {
        let rdp = airlock_dp::epsilon_with(Accountant::Rdp, sigma, q, steps, 1e-5).unwrap();
        let pld = airlock_dp::epsilon_with(Accountant::Pld, sigma, q, steps, 1e-5).unwrap();
        assert!(
            pld < rdp,
            "sigma {sigma} q {q} steps {steps}: pld {pld} rdp {rdp}"
        );
    }
}
