//! Differential-privacy accounting, shared by training (DP-SGD) and synthetic data: the Rényi
//! DP of the Poisson-subsampled Gaussian mechanism (Mironov, Talwar and Zhang 2019: the exact
//! sum for integer orders, the two-sided series of their section 3.3 for fractional ones), its
//! composition over steps, the conversion to (ε, δ) of Balle et al. 2020 (Proposition 12), and
//! the calibration of a noise multiplier to a target ε. It follows Google's dp-accounting
//! (`RdpAccountant`, add-or-remove-one neighbours, its default orders) step for step, including
//! where that library gives up on an order, and is tested against its numbers
//! (`tests/data/rdp_reference.json`, made by `tests/data/make_reference.py`).
//!
//! Numerical code is ours; nothing here prints.

#![forbid(unsafe_code, unused_must_use)]

pub mod pld;
pub mod zcdp;

pub use pld::PldAccountant;

/// Why an accounting question has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DpError {
    #[error("the sampling rate must be in [0, 1] (got {0})")]
    SamplingRate(f64),
    #[error("the noise multiplier must be positive and finite (got {0})")]
    NoiseMultiplier(f64),
    #[error("delta must be in (0, 1) (got {0})")]
    Delta(f64),
    #[error("epsilon must be positive and finite (got {0})")]
    Epsilon(f64),
    #[error(
        "the privacy loss distribution would need more than 2^27 points; use the RDP accountant"
    )]
    TooLarge,
    #[error("rho must be non-negative and finite (got {0})")]
    Rho(f64),
    #[error("spending would reach rho {0}, past the budget of {1}")]
    Overspent(f64, f64),
    #[error("the privacy loss distribution came out malformed (a numerical failure)")]
    Numerical,
    #[error(
        "no noise multiplier up to {0} reaches epsilon {1} with these sampling rate, steps and delta"
    )]
    Unreachable(f64, f64),
}

/// dp-accounting's default orders: 1.1 to 10.9 by 0.1, 11 to 63, 128, 256, 512, 1024.
pub fn default_orders() -> Vec<f64> {
    (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((11..64).map(f64::from))
        .chain([128.0, 256.0, 512.0, 1024.0])
        .collect()
}

/// log(e^x + e^y).
fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).exp().ln_1p() + b
}

/// log of the binomial coefficient (n over k), real n: log|Γ| as scipy's gammaln.
fn log_comb(n: f64, k: f64) -> f64 {
    libm::lgamma(n + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0)
}

/// log(erfc(x)), accurate where erfc underflows (the asymptotic series at infinity).
fn log_erfc(x: f64) -> f64 {
    let r = libm::erfc(x);
    if r > 1e-300 {
        return r.ln();
    }
    let x2 = x * x;
    -std::f64::consts::PI.ln() / 2.0 - x.ln() - x2 - 0.5 / x2 + 0.625 / (x2 * x2)
        - 37.0 / 24.0 / (x2 * x2 * x2)
        + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
}

/// log(A_α) for integer α, 0 < q < 1.
fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let log1mq = (-q).ln_1p();
    let mut log_a = f64::NEG_INFINITY;
    for i in 0..=alpha {
        let fi = i as f64;
        let log_coef = log_comb(alpha as f64, fi) + fi * q.ln() + (alpha as f64 - fi) * log1mq;
        let s = log_coef + (fi * fi - fi) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, s);
    }
    log_a
}

/// log(A_α) for fractional α, 0 < q < 1; infinite where the series does not converge in 1,000
/// terms (the order is then useless, as dp-accounting treats it).
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let log1mq = (-q).ln_1p();
    let (mut last_s0, mut last_s1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let sqrt2 = std::f64::consts::SQRT_2;
    for i in 0..1000u32 {
        let fi = f64::from(i);
        let log_coef = log_comb(alpha, fi);
        let j = alpha - fi;
        let log_t0 = log_coef + fi * q.ln() + j * log1mq;
        let log_t1 = log_coef + j * q.ln() + fi * log1mq;
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / (sqrt2 * sigma));
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / (sqrt2 * sigma));
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        log_a0 = log_add(log_a0, log_s0);
        log_a1 = log_add(log_a1, log_s1);
        let total = log_add(log_a0, log_a1);
        if log_s0 < last_s0 && log_s1 < last_s1 && log_s0.max(log_s1) < total - 30.0 {
            return total;
        }
        last_s0 = log_s0;
        last_s1 = log_s1;
    }
    f64::INFINITY
}

/// The RDP at order `alpha` of one step of the Gaussian mechanism with noise multiplier
/// `sigma` on a Poisson sample of rate `q`.
pub fn rdp_poisson_gaussian(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if alpha.is_infinite() || sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_int(q, sigma, alpha as u64)
    } else {
        log_a_frac(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

/// The smallest ε, over the orders, for which RDP `rdp` at `orders` gives (ε, δ)-DP, and the
/// order that gives it (Balle et al. 2020, Proposition 12, with the KL bound for tiny RDP).
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> (f64, f64) {
    let mut best = (f64::INFINITY, orders.first().copied().unwrap_or(0.0));
    for (&a, &r) in orders.iter().zip(rdp) {
        // a negative divergence (numerical noise of extreme events) or one small enough for
        // the KL bound, delta <= sqrt(1 - exp(-KL)): epsilon 0
        let eps = if r < 0.0 || delta * delta + (-r).exp_m1() > 0.0 {
            0.0
        } else if a > 1.01 {
            r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
        } else {
            f64::INFINITY
        };
        // the first order reaching the minimum, as numpy's argmin
        if eps < best.0 {
            best = (eps, a);
        }
    }
    (best.0.max(0.0), best.1)
}

/// An RDP accountant: the Rényi divergences at each order, summed over what was composed.
#[derive(Debug, Clone)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new(default_orders())
    }
}

impl RdpAccountant {
    pub fn new(orders: Vec<f64>) -> Self {
        let rdp = vec![0.0; orders.len()];
        Self { orders, rdp }
    }

    /// Adds `steps` steps of the Poisson-subsampled Gaussian mechanism (one DP-SGD step each).
    pub fn compose_poisson_gaussian(
        &mut self,
        sigma: f64,
        q: f64,
        steps: u64,
    ) -> Result<(), DpError> {
        check(sigma, q)?;
        for (r, &a) in self.rdp.iter_mut().zip(&self.orders) {
            *r += steps as f64 * rdp_poisson_gaussian(q, sigma, a);
        }
        Ok(())
    }

    /// ε at `delta` and the order that gives it.
    pub fn epsilon(&self, delta: f64) -> Result<(f64, f64), DpError> {
        if !(delta > 0.0 && delta < 1.0) {
            return Err(DpError::Delta(delta));
        }
        Ok(epsilon_from_rdp(&self.orders, &self.rdp, delta))
    }
}

fn check(sigma: f64, q: f64) -> Result<(), DpError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(DpError::SamplingRate(q));
    }
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(DpError::NoiseMultiplier(sigma));
    }
    Ok(())
}

/// Which accountant answers: Rényi DP (fast, a little loose) or the privacy loss distribution
/// (tight, heavier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accountant {
    #[default]
    Rdp,
    Pld,
}

impl Accountant {
    pub fn name(self) -> &'static str {
        match self {
            Accountant::Rdp => "rdp",
            Accountant::Pld => "pld",
        }
    }
}

/// ε of `steps` DP-SGD steps with noise multiplier `sigma` and sampling rate `q`, at `delta`,
/// by the RDP accountant.
pub fn epsilon(sigma: f64, q: f64, steps: u64, delta: f64) -> Result<f64, DpError> {
    epsilon_with(Accountant::Rdp, sigma, q, steps, delta)
}

/// ε of `steps` DP-SGD steps with noise multiplier `sigma` and sampling rate `q`, at `delta`,
/// by the given accountant.
pub fn epsilon_with(
    accountant: Accountant,
    sigma: f64,
    q: f64,
    steps: u64,
    delta: f64,
) -> Result<f64, DpError> {
    match accountant {
        Accountant::Rdp => {
            let mut acc = RdpAccountant::default();
            acc.compose_poisson_gaussian(sigma, q, steps)?;
            Ok(acc.epsilon(delta)?.0)
        }
        Accountant::Pld => {
            let mut acc = PldAccountant::default();
            acc.compose_poisson_gaussian(sigma, q, steps)?;
            acc.epsilon(delta)
        }
    }
}

/// The smallest noise multiplier (to a relative 1e-6) whose ε at `delta` after `steps` steps at
/// sampling rate `q` is at most `target`, by the RDP accountant; the answer never exceeds the
/// target.
pub fn calibrate_noise(target: f64, q: f64, steps: u64, delta: f64) -> Result<f64, DpError> {
    calibrate_noise_with(Accountant::Rdp, target, q, steps, delta)
}

/// [`calibrate_noise`] by the given accountant.
pub fn calibrate_noise_with(
    accountant: Accountant,
    target: f64,
    q: f64,
    steps: u64,
    delta: f64,
) -> Result<f64, DpError> {
    if !(target > 0.0 && target.is_finite()) {
        return Err(DpError::Epsilon(target));
    }
    check(1.0, q)?;
    // a noise multiplier so small that its privacy loss distribution does not fit misses any
    // target worth calibrating to
    let meets = |s: f64| match epsilon_with(accountant, s, q, steps, delta) {
        Ok(e) => Ok(e <= target),
        Err(DpError::TooLarge) => Ok(false),
        Err(e) => Err(e),
    };
    // bracket: hi meets the target, lo does not
    let mut hi = 1.0;
    while !meets(hi)? {
        hi *= 2.0;
        if hi > 1e6 {
            return Err(DpError::Unreachable(1e6, target));
        }
    }
    let mut lo = hi / 2.0;
    while meets(lo)? {
        hi = lo;
        if hi <= 1e-3 {
            return Ok(hi);
        }
        lo = hi / 2.0;
    }
    while (hi - lo) / hi > 1e-6 {
        let mid = 0.5 * (lo + hi);
        if meets(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sampling_is_the_gaussian_mechanism() {
        // RDP of the Gaussian mechanism: α / (2σ²)
        assert_eq!(rdp_poisson_gaussian(1.0, 2.0, 3.0), 3.0 / 8.0);
        assert_eq!(rdp_poisson_gaussian(0.0, 2.0, 3.0), 0.0);
    }

    #[test]
    fn log_erfc_is_continuous_where_erfc_underflows() {
        for x in [5.0, 20.0, 26.0, 26.5] {
            let direct = libm::erfc(x).ln();
            let series = {
                let x2 = x * x;
                -std::f64::consts::PI.ln() / 2.0 - f64::ln(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2)
                    - 37.0 / 24.0 / (x2 * x2 * x2)
                    + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
            };
            assert!((direct - series).abs() < 1e-3 * direct.abs(), "{x}");
        }
        assert!(log_erfc(40.0).is_finite());
    }

    proptest::proptest! {
        /// More noise never costs more privacy; more steps or a larger sample never cost less.
        #[test]
        fn epsilon_is_monotone(
            sigma in 0.6f64..8.0,
            q in 0.001f64..0.5,
            steps in 1u64..2000,
        ) {
            let e = epsilon(sigma, q, steps, 1e-5).unwrap();
            proptest::prop_assert!(epsilon(sigma * 1.1, q, steps, 1e-5).unwrap() <= e + 1e-12);
            proptest::prop_assert!(epsilon(sigma, q, steps * 2, 1e-5).unwrap() >= e - 1e-12);
            proptest::prop_assert!(epsilon(sigma, (q * 1.5).min(1.0), steps, 1e-5).unwrap() >= e - 1e-12);
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert_eq!(epsilon(1.0, 1.5, 1, 1e-5), Err(DpError::SamplingRate(1.5)));
        assert_eq!(
            epsilon(0.0, 0.1, 1, 1e-5),
            Err(DpError::NoiseMultiplier(0.0))
        );
        assert_eq!(epsilon(1.0, 0.1, 1, 0.0), Err(DpError::Delta(0.0)));
        assert!(calibrate_noise(-1.0, 0.1, 10, 1e-5).is_err());
    }
}
