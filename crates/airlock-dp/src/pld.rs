//! The privacy loss distribution (PLD) accountant: the distribution of the privacy loss of one
//! step of the Poisson-subsampled Gaussian mechanism, discretized on a grid by the pessimistic
//! connect-the-dots algorithm (Doroshenko, Ghazi, Kamath, Kumar and Manurangsi 2022), composed
//! over steps by FFT with Chernoff-bounded tails, and read out as the smallest ε whose hockey
//! stick divergence is at most δ. Both neighbouring directions (a record removed, a record added)
//! are kept and the worse one answers, as in Google's dp-accounting (`PLDAccountant` with its
//! defaults: interval 1e-4, noise tails of e^-50, 1e-15 of mass dropped per composition), which
//! this module follows step for step and is tested against (`tests/data/pld_reference.json`).
//!
//! PLD is tighter than RDP (the RDP-to-(ε, δ) conversion loses a little): the same noise buys a
//! smaller ε, so a calibrated run needs less noise.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;

use crate::{DpError, check, log_add, log_erfc};

/// dp-accounting's default discretization of privacy losses.
pub const DEFAULT_INTERVAL: f64 = 1e-4;
/// The noise distribution's mass left out of the discretized loss, as its log (the mass goes to
/// an infinite loss, which is pessimistic).
const LOG_MASS_TRUNCATION: f64 = -50.0;
/// The mass one composition may drop from the tails (to an infinite loss on the right).
const TAIL_MASS_TRUNCATION: f64 = 1e-15;
/// Distributions of at most this many points compose term by term, as dp-accounting's sparse
/// ones do; larger ones by FFT.
const SPARSE_MAX: usize = 1000;
/// How far a hockey-stick curve may rise (numerical noise) before the input counts as broken.
const DELTA_DIFF_TOLERANCE: f64 = 1e-12;
/// The largest grid one distribution may take (2^27 points, 2 GiB while being transformed).
const MAX_POINTS: usize = 1 << 27;

/// A discretized privacy loss distribution: `probs[i]` is the probability of the loss
/// `(lower + i) · interval`; `infinity` the probability of an infinite loss.
#[derive(Debug, Clone)]
struct Pmf {
    lower: i64,
    probs: Vec<f64>,
    infinity: f64,
    /// built or composed term by term (dp-accounting's sparse form, kept for its rules)
    sparse: bool,
}

impl Pmf {
    fn identity() -> Self {
        Self {
            lower: 0,
            probs: vec![1.0],
            infinity: 0.0,
            sparse: true,
        }
    }

    /// The smallest ε ≥ 0 whose hockey-stick divergence is at most `delta`.
    fn epsilon(&self, delta: f64, interval: f64) -> f64 {
        if self.infinity > delta {
            return f64::INFINITY;
        }
        let (mut upper, mut lower) = (self.infinity, 0.0f64);
        for (i, &p) in self.probs.iter().enumerate().rev() {
            let loss = (self.lower + i as i64) as f64 * interval;
            if upper > delta && lower > 0.0 && ((upper - delta) / lower).ln() >= loss {
                break;
            }
            upper += p;
            lower += (-loss).exp() * p;
            if upper >= delta && lower == 0.0 {
                return loss.max(0.0);
            }
        }
        if upper <= lower + delta {
            return 0.0;
        }
        ((upper - delta) / lower).ln()
    }

    /// The hockey-stick divergence at `epsilon`: the δ of (ε, δ)-DP.
    fn delta(&self, epsilon: f64, interval: f64) -> f64 {
        let mut delta = self.infinity;
        for (i, &p) in self.probs.iter().enumerate() {
            let loss = (self.lower + i as i64) as f64 * interval;
            if loss > epsilon {
                delta += -(epsilon - loss).exp_m1() * p;
            }
        }
        delta
    }

    /// This distribution composed with `other` (the distribution of the sum of the losses).
    fn compose(&self, other: &Pmf, truncation: f64) -> Pmf {
        let sparse =
            self.sparse && other.sparse && self.probs.len() * other.probs.len() <= SPARSE_MAX;
        let probs = convolve(&self.probs, &other.probs);
        let infinity = self.infinity + other.infinity - self.infinity * other.infinity;
        let (offset, probs, right) = truncate_tails(probs, truncation);
        Pmf {
            lower: self.lower + other.lower + offset,
            probs,
            infinity: infinity + right,
            sparse,
        }
    }

    /// This distribution composed with itself `times` times.
    fn self_compose(&self, times: u64) -> Result<Pmf, DpError> {
        if times == 1 {
            return Ok(self.clone());
        }
        let small = (self.probs.len() as f64).powf(times as f64) <= SPARSE_MAX as f64;
        if self.sparse && small {
            let mut out = self.clone();
            for i in 2..=times {
                let truncation = if i == times {
                    TAIL_MASS_TRUNCATION
                } else {
                    0.0
                };
                out = out.compose(self, truncation);
            }
            return Ok(out);
        }
        let (offset, probs) = self_convolve(&self.probs, times, TAIL_MASS_TRUNCATION)?;
        let lower = i64::try_from(times)
            .ok()
            .and_then(|t| self.lower.checked_mul(t))
            .and_then(|l| l.checked_add(offset))
            .ok_or(DpError::TooLarge)?;
        let infinity = TAIL_MASS_TRUNCATION - (times as f64 * (-self.infinity).ln_1p()).exp_m1();
        Ok(Pmf {
            lower,
            probs,
            infinity,
            sparse: false,
        })
    }
}

/// Which neighbouring dataset the loss compares against.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Adjacency {
    /// the output on a dataset with the record, against the one without
    Remove,
    /// the output on a dataset without the record, against the one with it
    Add,
}

/// The privacy loss of the Gaussian mechanism (sensitivity 1, noise `sigma`) on a Poisson
/// sample of rate `q`.
struct GaussianLoss {
    sigma: f64,
    q: f64,
    adjacency: Adjacency,
}

fn norm_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

fn norm_log_cdf(z: f64) -> f64 {
    if z > 5.0 {
        (-0.5 * libm::erfc(z / std::f64::consts::SQRT_2)).ln_1p()
    } else {
        0.5f64.ln() + log_erfc(-z / std::f64::consts::SQRT_2)
    }
}

/// The standard normal quantile of a lower-tail probability (at most 1/2) given by its log
/// (bisection on the log CDF: exact to the last bits; for thresholds and truncations, not hot
/// paths).
pub fn normal_quantile_of_log(log_p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 0.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if norm_log_cdf(mid) < log_p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// log(e^a − e^b), a > b.
fn log_sub(a: f64, b: f64) -> f64 {
    a + (-(b - a).exp()).ln_1p()
}

/// log(a · e^b + c), a > 0, as dp-accounting computes it.
fn log_a_exp_b_plus_c(a: f64, b: f64, c: f64) -> f64 {
    if b == 0.0 {
        return (a + c).ln();
    }
    let d = b + a.ln();
    if c == 0.0 {
        d
    } else if c < 0.0 {
        log_sub(d, (-c).ln())
    } else {
        log_add(d, c.ln())
    }
}

/// Python's `math.isclose` with its default relative tolerance.
fn is_close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

impl GaussianLoss {
    fn loss_unsampled(&self, x: f64) -> f64 {
        (-0.5 - x) / (self.sigma * self.sigma)
    }

    fn inverse_unsampled(&self, loss: f64) -> f64 {
        -0.5 - loss * (self.sigma * self.sigma)
    }

    fn loss_remove(&self, x: f64) -> f64 {
        let loss = self.loss_unsampled(x);
        if self.q == 1.0 {
            loss
        } else {
            log_a_exp_b_plus_c(self.q, loss, 1.0 - self.q)
        }
    }

    /// The privacy loss at output `x` (non-increasing in `x`).
    fn loss(&self, x: f64) -> f64 {
        match self.adjacency {
            Adjacency::Remove => self.loss_remove(x),
            Adjacency::Add => -self.loss_remove(-x),
        }
    }

    /// The largest output whose privacy loss is at least `loss`.
    fn inverse(&self, loss: f64) -> f64 {
        let q = self.q;
        match self.adjacency {
            Adjacency::Remove if q == 1.0 => self.inverse_unsampled(loss),
            Adjacency::Remove if is_close(loss, (1.0 - q).ln()) => f64::INFINITY,
            Adjacency::Remove => {
                self.inverse_unsampled(log_a_exp_b_plus_c(1.0 / q, loss, 1.0 - 1.0 / q))
            }
            Adjacency::Add if q == 1.0 => 1.0 + self.inverse_unsampled(loss),
            Adjacency::Add if is_close(loss, -(1.0 - q).ln()) => f64::NEG_INFINITY,
            Adjacency::Add => {
                1.0 + self.inverse_unsampled(-log_a_exp_b_plus_c(1.0 / q, -loss, 1.0 - 1.0 / q))
            }
        }
    }

    /// CDF of the output distribution on the larger (Remove) or the plain (Add) dataset.
    fn upper_cdf(&self, x: f64) -> f64 {
        let (s, q) = (self.sigma, self.q);
        match self.adjacency {
            Adjacency::Add => norm_cdf(x / s),
            Adjacency::Remove if q == 1.0 => norm_cdf((x + 1.0) / s),
            Adjacency::Remove => (1.0 - q) * norm_cdf(x / s) + q * norm_cdf((x + 1.0) / s),
        }
    }

    fn lower_log_cdf(&self, x: f64) -> f64 {
        let (s, q) = (self.sigma, self.q);
        match self.adjacency {
            Adjacency::Remove => norm_log_cdf(x / s),
            Adjacency::Add if q == 1.0 => norm_log_cdf((x - 1.0) / s),
            Adjacency::Add => log_add(
                (-q).ln_1p() + norm_log_cdf(x / s),
                q.ln() + norm_log_cdf((x - 1.0) / s),
            ),
        }
    }

    /// The mechanism's hockey-stick divergence at `epsilon`.
    fn delta(&self, epsilon: f64) -> f64 {
        let q = self.q;
        let direct = q == 1.0
            || match self.adjacency {
                Adjacency::Add => epsilon < -(-q).ln_1p(),
                Adjacency::Remove => epsilon > (-q).ln_1p(),
            };
        let delta = if direct {
            let x = self.inverse(epsilon);
            self.upper_cdf(x) - (epsilon + self.lower_log_cdf(x)).exp()
        } else if self.adjacency == Adjacency::Remove {
            -epsilon.exp_m1()
        } else {
            0.0
        };
        delta.clamp(0.0, 1.0)
    }

    /// The discretized distribution of the loss: the grid spans the losses of the outputs
    /// that carry all but e^-50 of the noise, and each grid point's mass comes from the
    /// divergences at its neighbours (pessimistic connect-the-dots).
    fn pmf(&self, interval: f64) -> Result<Pmf, DpError> {
        let z = normal_quantile_of_log(0.5f64.ln() + LOG_MASS_TRUNCATION);
        let (mut lower_x, mut upper_x) = (self.sigma * z, -self.sigma * z);
        match self.adjacency {
            Adjacency::Add => upper_x += 1.0,
            Adjacency::Remove => lower_x -= 1.0,
        }
        let top = (self.loss(lower_x) / interval).ceil();
        let bottom = (self.loss(upper_x) / interval).floor();
        if !(top.is_finite() && bottom.is_finite()) || top - bottom > MAX_POINTS as f64 {
            return Err(DpError::TooLarge);
        }
        let (bottom, top) = (bottom as i64, top as i64);
        let deltas: Vec<f64> = (bottom..=top)
            .map(|k| self.delta(k as f64 * interval))
            .collect();
        connect_the_dots(interval, bottom, deltas)
    }
}

/// The pessimistic connect-the-dots distribution on the grid `bottom, bottom + 1, ...` (times
/// `interval`) whose hockey-stick divergences at those points are `deltas`.
fn connect_the_dots(interval: f64, bottom: i64, mut deltas: Vec<f64>) -> Result<Pmf, DpError> {
    if deltas.is_empty() || deltas.iter().any(|d| !(0.0..=1.0).contains(d)) {
        return Err(DpError::Numerical);
    }
    let n = deltas.len();
    if n == 1 {
        return Ok(Pmf {
            lower: bottom,
            probs: vec![1.0 - deltas[0]],
            infinity: deltas[0],
            sparse: true,
        });
    }
    if deltas
        .windows(2)
        .any(|w| w[1] - w[0] > DELTA_DIFF_TOLERANCE)
    {
        return Err(DpError::Numerical);
    }
    for i in 1..n {
        deltas[i] = deltas[i].min(deltas[i - 1]);
    }
    let diffs: Vec<f64> = deltas.windows(2).map(|w| w[1] - w[0]).collect();
    let (em1, e) = (interval.exp_m1(), interval.exp());
    let mut probs = vec![0.0; n];
    probs[0] = 1.0 - deltas[0] + diffs[0] / em1;
    for i in 1..n - 1 {
        probs[i] = (diffs[i] - diffs[i - 1] * e) / em1;
    }
    probs[n - 1] = diffs[n - 2] / (-interval).exp_m1();
    for p in &mut probs {
        *p = p.max(0.0);
    }
    Ok(Pmf {
        lower: bottom,
        probs,
        infinity: deltas[n - 1],
        sparse: n <= SPARSE_MAX,
    })
}

/// Drops the longest prefix and suffix of at most `truncation / 2` mass each: the prefix's mass
/// moves to the first point kept (a smaller loss counted as larger), the suffix's is returned
/// to go to the infinite loss. Returns the prefix's length, what is kept, the suffix's mass.
fn truncate_tails(probs: Vec<f64>, truncation: f64) -> (i64, Vec<f64>, f64) {
    if truncation == 0.0 || probs.is_empty() {
        return (0, probs, 0.0);
    }
    let prefix = |it: &mut dyn Iterator<Item = f64>| {
        let mut s = 0.0;
        let mut n = 0;
        for v in it {
            s += v;
            if s > truncation / 2.0 {
                break;
            }
            n += 1;
        }
        n
    };
    let len = probs.len();
    let left = prefix(&mut probs.iter().copied()).min(len - 1);
    let right = (len - prefix(&mut probs.iter().rev().copied())).max(left + 1);
    let left_mass: f64 = probs[..left].iter().sum();
    let right_mass: f64 = probs[right..].iter().sum();
    let mut kept = probs[left..right].to_vec();
    kept[0] += left_mass;
    (left as i64, kept, right_mass)
}

/// The smallest 2·3·5-smooth number at least `n` (lengths the FFT handles fastest).
fn fast_len(n: usize) -> usize {
    let mut best = usize::MAX;
    let mut p5 = 1usize;
    while p5 < 2 * n {
        let mut p35 = p5;
        while p35 < 2 * n {
            let mut m = p35;
            while m < n {
                m *= 2;
            }
            best = best.min(m);
            p35 *= 3;
        }
        p5 *= 5;
    }
    best.max(1)
}

fn fft(data: &mut [Complex64], inverse: bool) {
    let mut planner = FftPlanner::new();
    let plan = if inverse {
        planner.plan_fft_inverse(data.len())
    } else {
        planner.plan_fft_forward(data.len())
    };
    plan.process(data);
}

/// The linear convolution of `a` and `b` (directly when one is short, else by FFT).
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = a.len() + b.len() - 1;
    if a.len().min(b.len()) <= 64 {
        let mut out = vec![0.0; n];
        for (i, &x) in a.iter().enumerate() {
            for (j, &y) in b.iter().enumerate() {
                out[i + j] += x * y;
            }
        }
        return out;
    }
    let len = fast_len(n);
    let spectrum = |v: &[f64]| {
        let mut c: Vec<Complex64> = v.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        c.resize(len, Complex64::new(0.0, 0.0));
        fft(&mut c, false);
        c
    };
    let mut c = spectrum(a);
    for (x, y) in c.iter_mut().zip(spectrum(b)) {
        *x *= y;
    }
    fft(&mut c, true);
    c.iter().take(n).map(|x| x.re / len as f64).collect()
}

fn pow(mut base: Complex64, mut exp: u64) -> Complex64 {
    let mut out = Complex64::new(1.0, 0.0);
    while exp > 0 {
        if exp & 1 == 1 {
            out *= base;
        }
        base *= base;
        exp >>= 1;
    }
    out
}

/// The range of indices of the `times`-fold self-convolution of `probs` outside which the
/// mass is at most `truncation` (Chernoff bounds at dp-accounting's orders).
fn self_convolve_bounds(probs: &[f64], times: u64, truncation: f64) -> (f64, f64) {
    let n = probs.len();
    let mut upper = (n - 1) as f64 * times as f64;
    let mut lower = 0.0f64;
    if truncation == 0.0 {
        return (lower, upper);
    }
    for k in (-20i32..0).chain(1..21) {
        let order = f64::from(k) / n as f64;
        // log E[e^{order·i}] under probs
        let max = probs
            .iter()
            .enumerate()
            .filter(|(_, p)| **p != 0.0)
            .map(|(i, _)| i as f64 * order)
            .fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = probs
            .iter()
            .enumerate()
            .map(|(i, p)| p * (i as f64 * order - max).exp())
            .sum();
        let log_mgf = sum.ln() + max;
        let bound = (times as f64 * log_mgf + (2.0 / truncation).ln()) / order;
        if !bound.is_finite() {
            continue;
        }
        if order > 0.0 {
            upper = upper.min(bound.ceil());
        } else {
            lower = lower.max(bound.floor());
        }
    }
    (lower, upper)
}

/// The `times`-fold self-convolution of `probs`, by one FFT raised to the power, keeping the
/// indices the Chernoff bounds leave (the rest, at most `truncation`, wraps around harmlessly).
/// Returns the first index kept and the values.
fn self_convolve(probs: &[f64], times: u64, truncation: f64) -> Result<(i64, Vec<f64>), DpError> {
    let (lower, upper) = self_convolve_bounds(probs, times, truncation);
    let out_len = upper - lower + 1.0;
    if !(out_len.is_finite() && out_len >= 1.0 && out_len <= MAX_POINTS as f64) {
        return Err(DpError::TooLarge);
    }
    let (lower, out_len) = (lower as usize, out_len as usize);
    let len = fast_len(out_len.max(probs.len()));
    let mut c: Vec<Complex64> = probs.iter().map(|&x| Complex64::new(x, 0.0)).collect();
    c.resize(len, Complex64::new(0.0, 0.0));
    fft(&mut c, false);
    for x in &mut c {
        *x = pow(*x, times);
    }
    fft(&mut c, true);
    let out = (0..out_len)
        .map(|i| c[(i + lower) % len].re / len as f64)
        .collect();
    Ok((lower as i64, out))
}

/// A PLD accountant for the Poisson-subsampled Gaussian mechanism (add-or-remove-one
/// neighbours).
#[derive(Debug, Clone)]
pub struct PldAccountant {
    interval: f64,
    remove: Pmf,
    /// `None` while the composition is symmetric (no subsampling yet): the same as `remove`
    add: Option<Pmf>,
}

impl Default for PldAccountant {
    fn default() -> Self {
        Self::new(DEFAULT_INTERVAL)
    }
}

impl PldAccountant {
    /// An accountant with nothing composed, discretizing losses by `interval`.
    pub fn new(interval: f64) -> Self {
        Self {
            interval,
            remove: Pmf::identity(),
            add: None,
        }
    }

    /// Adds `steps` steps of the Gaussian mechanism with noise multiplier `sigma` on Poisson
    /// samples of rate `q` (one DP-SGD step each).
    pub fn compose_poisson_gaussian(
        &mut self,
        sigma: f64,
        q: f64,
        steps: u64,
    ) -> Result<(), DpError> {
        check(sigma, q)?;
        if q == 0.0 || steps == 0 {
            return Ok(());
        }
        let one = |adjacency| {
            GaussianLoss {
                sigma,
                q,
                adjacency,
            }
            .pmf(self.interval)?
            .self_compose(steps)
        };
        let remove = one(Adjacency::Remove)?;
        let add = if q == 1.0 {
            None
        } else {
            Some(one(Adjacency::Add)?)
        };
        // a symmetric step keeps a symmetric composition symmetric; otherwise each direction
        // composes with its own
        self.add = match (self.add.take(), add) {
            (None, None) => None,
            (Some(before), None) => Some(before.compose(&remove, TAIL_MASS_TRUNCATION)),
            (before, Some(add)) => Some(
                before
                    .as_ref()
                    .unwrap_or(&self.remove)
                    .compose(&add, TAIL_MASS_TRUNCATION),
            ),
        };
        self.remove = self.remove.compose(&remove, TAIL_MASS_TRUNCATION);
        Ok(())
    }

    /// ε at `delta`: the smallest ε whose δ is at most `delta` in both directions (infinite
    /// when the infinite-loss mass alone exceeds `delta`).
    pub fn epsilon(&self, delta: f64) -> Result<f64, DpError> {
        if !(delta > 0.0 && delta < 1.0) {
            return Err(DpError::Delta(delta));
        }
        let remove = self.remove.epsilon(delta, self.interval);
        Ok(match &self.add {
            Some(add) => remove.max(add.epsilon(delta, self.interval)),
            None => remove,
        })
    }

    /// δ at `epsilon`: the larger hockey-stick divergence of the two directions.
    pub fn delta(&self, epsilon: f64) -> f64 {
        let remove = self.remove.delta(epsilon, self.interval);
        match &self.add {
            Some(add) => remove.max(add.delta(epsilon, self.interval)),
            None => remove,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gaussian_mechanism_without_sampling_has_its_closed_form_delta() {
        // δ(ε) of the Gaussian mechanism, sensitivity 1 (Balle and Wang 2018):
        // Φ(1/(2σ) − εσ) − e^ε Φ(−1/(2σ) − εσ)
        let sigma = 2.0;
        let mut acc = PldAccountant::default();
        acc.compose_poisson_gaussian(sigma, 1.0, 1).unwrap();
        for eps in [0.1, 0.5, 1.0, 2.0] {
            let exact = norm_cdf(0.5 / sigma - eps * sigma)
                - eps.exp() * norm_cdf(-0.5 / sigma - eps * sigma);
            let got = acc.delta(eps);
            // pessimistic, and close
            assert!(got >= exact - 1e-12, "{eps}: {got} < {exact}");
            assert!(
                got - exact < 1e-4 * exact.max(1e-6),
                "{eps}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn composing_k_gaussians_is_one_gaussian_with_sigma_over_root_k() {
        let (sigma, k) = (3.0, 9);
        let mut composed = PldAccountant::default();
        composed.compose_poisson_gaussian(sigma, 1.0, k).unwrap();
        let mut one = PldAccountant::default();
        one.compose_poisson_gaussian(sigma / (k as f64).sqrt(), 1.0, 1)
            .unwrap();
        let (a, b) = (composed.epsilon(1e-6).unwrap(), one.epsilon(1e-6).unwrap());
        assert!((a - b).abs() < 2e-3 * b, "{a} vs {b}");
    }

    #[test]
    fn fast_lengths_are_smooth_and_large_enough() {
        for n in [1usize, 2, 7, 11, 97, 1000, 1001, 65_537] {
            let m = fast_len(n);
            assert!(m >= n && m < 2 * n.max(1));
            let mut r = m;
            for p in [2, 3, 5] {
                while r.is_multiple_of(p) {
                    r /= p;
                }
            }
            assert_eq!(r, 1, "{m}");
        }
    }

    #[test]
    fn fft_convolution_is_the_direct_one() {
        let a: Vec<f64> = (0..300).map(|i| f64::from(i % 7) / 10.0).collect();
        let b: Vec<f64> = (0..200).map(|i| f64::from(i % 5) / 3.0).collect();
        let fast = convolve(&a, &b);
        let mut slow = vec![0.0; a.len() + b.len() - 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                slow[i + j] += x * y;
            }
        }
        for (f, s) in fast.iter().zip(&slow) {
            assert!((f - s).abs() < 1e-9, "{f} vs {s}");
        }
    }

    #[test]
    fn truncation_moves_left_mass_inward_and_right_mass_to_infinity() {
        let (offset, kept, right) = truncate_tails(vec![1e-17, 1e-17, 0.5, 0.5, 1e-17], 1e-15);
        assert_eq!(offset, 2);
        assert_eq!(kept.len(), 2);
        assert!((kept[0] - (0.5 + 2e-17)).abs() < 1e-20);
        assert!((right - 1e-17).abs() < 1e-30);
    }
}
