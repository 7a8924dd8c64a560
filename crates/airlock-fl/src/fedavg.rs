//! FedAvg over what secure aggregation releases, and client-level differential privacy.
//!
//! Without DP, each site sends its update times its example count, and its example count, as
//! one vector (the count its last value): the coordinator learns their sums and divides, the
//! example-weighted mean (McMahan et al. 2017). With DP (McMahan et al. 2018, "Learning
//! differentially private recurrent language models"), each site clips its update to norm
//! `clip` and adds Gaussian noise of standard deviation `sigma · clip / √n`, so that the sum of
//! n sites carries noise `sigma · clip` whatever the coordinator sees; the mean is taken with
//! equal weights (an example count would be a second, unbounded, contribution). Every site
//! takes part in every round, so each round is one Gaussian mechanism on the sum: the epsilon
//! of `rounds` of them comes from airlock-dp's accountant with sampling rate 1.

use airlock_dp::{Accountant, DpError};

/// Scales `update` down to norm `clip` when it is longer; its norm before.
pub fn clip(update: &mut [f64], clip: f64) -> f64 {
    let norm = update.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > clip && norm > 0.0 {
        let s = clip / norm;
        update.iter_mut().for_each(|v| *v *= s);
    }
    norm
}

/// What a site sends into the aggregate without DP: its update times its weight `w` (its
/// example count, or a fixed fraction of it), then `w`.
pub fn weighted(update: &[f64], w: f64) -> Vec<f64> {
    update.iter().map(|v| v * w).chain([w]).collect()
}

/// The example-weighted mean from the aggregate of [`weighted`] vectors; `None` when no
/// example took part.
pub fn weighted_mean(sum: &[f64]) -> Option<Vec<f64>> {
    let (&w, values) = sum.split_last()?;
    (w > 0.0).then(|| values.iter().map(|v| v / w).collect())
}

/// Client-level DP for a federation of `sites` sites over `rounds` rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientDp {
    pub clip: f64,
    /// The noise multiplier: the sum's noise has standard deviation `sigma · clip`.
    pub sigma: f64,
    pub sites: usize,
}

impl ClientDp {
    /// The noise multiplier that spends `epsilon` at `delta` over `rounds` rounds.
    pub fn calibrate(
        epsilon: f64,
        delta: f64,
        rounds: u64,
        clip: f64,
        sites: usize,
    ) -> Result<Self, DpError> {
        let sigma = airlock_dp::calibrate_noise_with(Accountant::Rdp, epsilon, 1.0, rounds, delta)?;
        Ok(Self { clip, sigma, sites })
    }

    /// Epsilon spent after `rounds` rounds.
    pub fn epsilon(&self, rounds: u64, delta: f64) -> Result<f64, DpError> {
        airlock_dp::epsilon_with(Accountant::Rdp, self.sigma, 1.0, rounds, delta)
    }

    /// The standard deviation of the noise one site adds.
    pub fn site_sigma(&self) -> f64 {
        self.sigma * self.clip / (self.sites.max(1) as f64).sqrt()
    }

    /// A site's contribution: its update clipped, plus its share of the noise (`normal`
    /// draws standard normal numbers).
    pub fn privatize(&self, update: &mut [f64], normal: &mut dyn FnMut() -> f64) {
        clip(update, self.clip);
        let s = self.site_sigma();
        update.iter_mut().for_each(|v| *v += s * normal());
    }

    /// The mean from the noisy sum of the sites that took part.
    pub fn mean(&self, sum: &[f64], took_part: usize) -> Vec<f64> {
        let n = took_part.max(1) as f64;
        sum.iter().map(|v| v / n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_mean_is_fedavg() {
        let a = weighted(&[1.0, 2.0], 10.0);
        let b = weighted(&[3.0, -2.0], 30.0);
        let sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(weighted_mean(&sum).unwrap(), vec![2.5, -1.0]);
        assert_eq!(weighted_mean(&[1.0, 0.0]), None);
    }

    #[test]
    fn clipping_bounds_the_norm_and_keeps_short_updates() {
        let mut u = vec![3.0, 4.0];
        assert_eq!(clip(&mut u, 1.0), 5.0);
        assert!((u[0] - 0.6).abs() < 1e-12 && (u[1] - 0.8).abs() < 1e-12);
        let mut v = vec![0.1, 0.2];
        clip(&mut v, 1.0);
        assert_eq!(v, vec![0.1, 0.2]);
    }

    #[test]
    fn the_noise_of_the_sum_is_sigma_clip_and_epsilon_is_accounted() {
        let dp = ClientDp::calibrate(2.0, 1e-5, 20, 0.5, 5).unwrap();
        let spent = dp.epsilon(20, 1e-5).unwrap();
        assert!((spent - 2.0).abs() < 0.01, "{spent}");
        assert!(dp.epsilon(10, 1e-5).unwrap() < spent);
        // five sites' noise adds up to sigma * clip
        let per = dp.site_sigma();
        assert!(((5.0 * per * per).sqrt() - dp.sigma * dp.clip).abs() < 1e-12);
        // each round is one Gaussian mechanism of sensitivity clip: at sampling rate 1 the
        // RDP of order a is a / (2 sigma^2)
        let rdp = airlock_dp::rdp_poisson_gaussian(1.0, dp.sigma, 8.0);
        assert!((rdp - 8.0 / (2.0 * dp.sigma * dp.sigma)).abs() < 1e-9);
    }
}
