//! What one round computes, on each side, from the spec: a site's clipped update and the
//! vector it puts into the aggregate, the fixed-point range, and the coordinator's mean from
//! the sum. One implementation for the site process, the coordinator and the tests that
//! check the aggregate against plain FedAvg.

use serde::{Deserialize, Serialize};

use airlock_train::model::Model;

use crate::Result;
use crate::fedavg::{self, ClientDp};
use crate::local::{LocalData, LocalTraining, local_update};
use crate::secagg::{Quantizer, SiteId};
use crate::spec::Spec;

/// What a round aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundKind {
    /// Every site's binned feature counts (site drift), before training.
    Drift,
    /// FedAvg of the sites' model updates.
    Train,
}

/// The federation's client-level DP, when the spec asks for it: the noise multiplier that
/// spends the spec's epsilon over its rounds, each site's share of the noise sized for the
/// fewest sites a round may aggregate (more sites only add noise).
pub fn client_dp(spec: &Spec) -> Result<Option<ClientDp>> {
    spec.dp
        .map(|dp| {
            ClientDp::calibrate(
                dp.epsilon,
                dp.delta,
                u64::from(spec.rounds),
                spec.clip,
                spec.min_sites,
            )
        })
        .transpose()
        .map_err(Into::into)
}

/// The model at `params` under the spec's shape.
pub fn model_at(spec: &Spec, params: &[f64]) -> Model {
    let mut m = spec.initial_model();
    if m.params.len() == params.len() {
        m.params = params.to_vec();
    }
    m
}

/// Site `site`'s update in round `round` from the global `params`: local training (seeded by
/// the spec, the round and the site, so that anyone holding the same rows computes the same
/// update) clipped to the spec's norm bound; and the examples behind it.
pub fn site_update(
    spec: &Spec,
    params: &[f64],
    data: &LocalData,
    round: u64,
    site: SiteId,
) -> Result<(Vec<f64>, u64)> {
    let how = LocalTraining {
        epochs: spec.local_epochs,
        batch_size: spec.batch_size,
        learning_rate: spec.learning_rate,
        seed: spec.seed ^ (round << 24) ^ u64::from(site),
    };
    let (mut update, n) = local_update(&model_at(spec, params), data, &how)?;
    fedavg::clip(&mut update, spec.clip);
    Ok((update, n))
}

/// A site's weight: its examples over the spec's cap (at most 1).
fn weight(spec: &Spec, examples: u64) -> f64 {
    examples.min(spec.max_examples) as f64 / spec.max_examples as f64
}

/// What a site puts into the aggregate: without DP its update times its weight, then its
/// weight (FedAvg's numerator and denominator); with DP its update with its share of the
/// noise (`normal` draws standard normal numbers).
pub fn site_input(
    spec: &Spec,
    dp: Option<&ClientDp>,
    update: &[f64],
    examples: u64,
    normal: &mut dyn FnMut() -> f64,
) -> Vec<f64> {
    match dp {
        None => fedavg::weighted(update, weight(spec, examples)),
        Some(dp) => {
            let mut u = update.to_vec();
            dp.privatize(&mut u, normal);
            u
        }
    }
}

/// The fixed-point range of a round's inputs for `sites` sites: a weighted update's values
/// lie within the clip (weights are at most 1); a noisy one's within the clip plus eight
/// standard deviations of a site's noise; a histogram's counts within the spec's example cap.
pub fn quantizer(spec: &Spec, dp: Option<&ClientDp>, kind: RoundKind, sites: usize) -> Quantizer {
    let bound = match (kind, dp) {
        (RoundKind::Drift, _) => spec.max_examples as f64,
        (RoundKind::Train, None) => spec.clip.max(1.0),
        (RoundKind::Train, Some(dp)) => spec.clip + 8.0 * dp.site_sigma(),
    };
    Quantizer::for_sites(sites, bound)
}

/// The values a round's aggregate vector holds for `params` parameters.
pub fn input_width(spec: &Spec, kind: RoundKind, params: usize) -> usize {
    match kind {
        RoundKind::Drift => spec
            .drift_bins()
            .iter()
            .map(crate::sitedrift::Bins::width)
            .sum(),
        RoundKind::Train if spec.dp.is_some() => params,
        RoundKind::Train => params + 1,
    }
}

/// The mean update from the sum of the inputs of `took_part` sites; `None` when nothing
/// (no example) took part.
pub fn mean_update(dp: Option<&ClientDp>, sum: &[f64], took_part: usize) -> Option<Vec<f64>> {
    match dp {
        None => fedavg::weighted_mean(sum),
        Some(dp) => (took_part > 0).then(|| dp.mean(sum, took_part)),
    }
}

/// SHA-256 of a vector of values (little-endian f64), hex: how rounds name an update.
pub fn values_sha256(values: &[f64]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a vector of fixed-point values (little-endian u64), hex: how a round records
/// what it received.
pub fn input_sha256(values: &[u64]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
