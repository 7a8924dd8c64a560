//! airlock's zCDP conversions against OpenDP's (`data/zcdp_reference.json`, made by
//! `data/make_zcdp_reference.py` with opendp 0.14.2): ε of ρ-zCDP at δ, and the ρ an (ε, δ)
//! budget allows as smartnoise-synth's MST finds it: within 1e-9 relative (the same bound).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn conversions_match_opendp() {
    let r: Value = serde_json::from_str(include_str!("data/zcdp_reference.json")).unwrap();
    let mut worst = 0.0f64;
    for row in r["epsilons"].as_array().unwrap() {
        let (rho, delta, want) = (num(row, "rho"), num(row, "delta"), num(row, "epsilon"));
        let got = airlock_dp::zcdp::epsilon(rho, delta).unwrap();
        let rel = ((got - want) / want).abs();
        worst = worst.max(rel);
        assert!(
            rel < 1e-3,
            "rho {rho} delta {delta}: {got} vs OpenDP {want}"
        );
    }
    for row in r["rhos"].as_array().unwrap() {
        let (eps, delta, want) = (num(row, "epsilon"), num(row, "delta"), num(row, "rho"));
        let got = airlock_dp::zcdp::rho(eps, delta).unwrap();
        let rel = ((got - want) / want).abs();
        worst = worst.max(rel);
        assert!(
            rel < 1e-3,
            "epsilon {eps} delta {delta}: {got} vs OpenDP {want}"
        );
    }
    // the same bound, computed the same way: rounding apart
    assert!(worst < 1e-9, "worst relative difference {worst:e}");
}
