//! Zero-concentrated differential privacy (Bun and Steinke 2016), the currency of
//! marginal-based synthesizers (MST): a budget of ρ spent by Gaussian measurements (ρ = Δ²/2σ²)
//! and exponential-mechanism selections (ρ = ε²/8, Cesar and Rogers 2021), composed by
//! addition, and converted to (ε, δ) by the bound of Canonne, Kamath and Steinke 2020
//! (Proposition 7, the order optimized numerically): tested against OpenDP's conversion
//! (`tests/data/zcdp_reference.json`).

use crate::DpError;

/// δ such that ρ-zCDP implies (ε, δ)-DP: the smallest over Rényi orders α > 1 of
/// exp((α−1)(αρ − ε) + α·ln(1 − 1/α)) / (α − 1), the order found by bisection on the
/// exponent's derivative (any order gives a valid bound, so an inexact search only loosens it).
pub fn delta(rho: f64, epsilon: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    // small orders are numerically unstable and never optimal where δ is small
    let (mut lo, mut hi) = (1.01f64, (epsilon + 1.0) / (2.0 * rho) + 2.0);
    let mut alpha = lo;
    for _ in 0..1000 {
        alpha = 0.5 * (lo + hi);
        let derivative = (2.0 * alpha - 1.0) * rho - epsilon + (-1.0 / alpha).ln_1p();
        if derivative < 0.0 {
            lo = alpha;
        } else {
            hi = alpha;
        }
    }
    let log = (alpha - 1.0) * (alpha * rho - epsilon) + alpha * (-1.0 / alpha).ln_1p();
    (log.exp() / (alpha - 1.0)).min(1.0)
}

/// The smallest ε for which ρ-zCDP implies (ε, δ)-DP.
pub fn epsilon(rho: f64, delta_target: f64) -> Result<f64, DpError> {
    if !(delta_target > 0.0 && delta_target < 1.0) {
        return Err(DpError::Delta(delta_target));
    }
    if !(rho >= 0.0 && rho.is_finite()) {
        return Err(DpError::Rho(rho));
    }
    if rho == 0.0 {
        return Ok(0.0);
    }
    // the classic bound ρ + 2√(ρ ln(1/δ)) is always enough
    let (mut lo, mut hi) = (0.0f64, rho + 2.0 * (rho * (1.0 / delta_target).ln()).sqrt());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if delta(rho, mid) <= delta_target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// The largest ρ whose zCDP implies (ε, δ)-DP: the budget an (ε, δ) target allows.
pub fn rho(epsilon_target: f64, delta_target: f64) -> Result<f64, DpError> {
    if !(delta_target > 0.0 && delta_target < 1.0) {
        return Err(DpError::Delta(delta_target));
    }
    if !(epsilon_target > 0.0 && epsilon_target.is_finite()) {
        return Err(DpError::Epsilon(epsilon_target));
    }
    let (mut lo, mut hi) = (0.0f64, epsilon_target + 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if delta(mid, epsilon_target) <= delta_target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// ρ of the Gaussian mechanism: sensitivity Δ (L2), noise standard deviation σ.
pub fn gaussian_rho(sensitivity: f64, sigma: f64) -> f64 {
    sensitivity * sensitivity / (2.0 * sigma * sigma)
}

/// The noise standard deviation at which the Gaussian mechanism of sensitivity Δ costs ρ.
pub fn gaussian_sigma(sensitivity: f64, rho: f64) -> f64 {
    sensitivity / (2.0 * rho).sqrt()
}

/// ρ of the exponential mechanism run with parameter ε (its bounded-range guarantee).
pub fn exponential_rho(epsilon: f64) -> f64 {
    epsilon * epsilon / 8.0
}

/// The ε parameter at which the exponential mechanism costs ρ.
pub fn exponential_epsilon(rho: f64) -> f64 {
    (8.0 * rho).sqrt()
}

/// A zCDP budget: every measurement spends from it, and none may take it past its total.
#[derive(Debug, Clone, PartialEq)]
pub struct ZcdpBudget {
    total: f64,
    spent: f64,
}

impl ZcdpBudget {
    pub fn new(total: f64) -> Result<Self, DpError> {
        if !(total > 0.0 && total.is_finite()) {
            return Err(DpError::Rho(total));
        }
        Ok(Self { total, spent: 0.0 })
    }

    /// The budget of an (ε, δ) target.
    pub fn for_target(epsilon_target: f64, delta_target: f64) -> Result<Self, DpError> {
        Self::new(rho(epsilon_target, delta_target)?)
    }

    pub fn total(&self) -> f64 {
        self.total
    }

    pub fn spent(&self) -> f64 {
        self.spent
    }

    pub fn remaining(&self) -> f64 {
        (self.total - self.spent).max(0.0)
    }

    /// Spends `rho`; refused (nothing spent) when it would take the total past the budget
    /// beyond rounding.
    pub fn spend(&mut self, rho: f64) -> Result<(), DpError> {
        if !(rho >= 0.0 && rho.is_finite()) {
            return Err(DpError::Rho(rho));
        }
        if self.spent + rho > self.total * (1.0 + 1e-12) {
            return Err(DpError::Overspent(self.spent + rho, self.total));
        }
        self.spent += rho;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_inverse_and_tighter_than_the_classic_bound() {
        for r in [0.001, 0.05, 0.5, 2.0] {
            for d in [1e-5, 1e-9] {
                let e = epsilon(r, d).unwrap();
                assert!(e <= r + 2.0 * (r * (1.0 / d).ln()).sqrt());
                assert!(delta(r, e) <= d * (1.0 + 1e-9));
                let back = rho(e, d).unwrap();
                assert!((back - r).abs() < 1e-6 * r.max(1e-3), "{r} {d}: {back}");
            }
        }
    }

    #[test]
    fn a_budget_is_never_overspent() {
        let mut b = ZcdpBudget::new(1.0).unwrap();
        b.spend(0.4).unwrap();
        b.spend(0.6).unwrap();
        assert!(matches!(b.spend(1e-6), Err(DpError::Overspent(..))));
        assert_eq!(b.spent(), 1.0);
        assert!(b.spend(-1.0).is_err());
        let sigma = gaussian_sigma(1.0, 0.25);
        assert!((gaussian_rho(1.0, sigma) - 0.25).abs() < 1e-15);
        assert!((exponential_rho(exponential_epsilon(0.3)) - 0.3).abs() < 1e-15);
    }
}
