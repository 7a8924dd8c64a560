//! `airlock train`: logistic regression (binary and multiclass) and a one-hidden-layer MLP on a
//! table, with DP-SGD (Abadi et al. 2016, as Opacus does it): each step samples every training
//! row independently with probability q (Poisson), clips each row's gradient to L2 norm C, adds
//! Gaussian noise of standard deviation σC to the sum and divides by the expected batch size qN.
//! ε is accounted by `airlock-dp` (RDP of the Poisson-subsampled Gaussian); `--epsilon`
//! calibrates σ. A seed makes a run reproducible to the byte. A held-out split is scored
//! (accuracy, AUC).
//!
//! What DP covers: the model's parameters. The feature encoding (category lists, means and
//! standard deviations of numeric columns) is computed from the training split without noise
//! and is stored in the model file; it is not covered by ε.
//!
//! Numerical code is ours; nothing here prints.

#![forbid(unsafe_code, unused_must_use)]

pub mod data;
pub mod model;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use serde::Serialize;

pub use data::{Encoding, Table};
pub use model::{Model, ModelKind};

/// Why training could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Core(#[from] airlock_core::Error),
    #[error(transparent)]
    Dp(#[from] airlock_dp::DpError),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// How private the run is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Privacy {
    /// Plain SGD on the same sampled batches (no clipping, no noise): the baseline.
    None,
    /// DP-SGD with the noise multiplier that reaches this ε at δ.
    Epsilon { epsilon: f64, delta: f64 },
    /// DP-SGD with this noise multiplier; ε is reported at δ.
    Noise { sigma: f64, delta: f64 },
}

/// A training run's settings.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub kind: ModelKind,
    pub privacy: Privacy,
    /// Passes over the training split (steps = epochs / sampling rate).
    pub epochs: f64,
    /// Expected batch size (the sampling rate is this over the training rows).
    pub batch_size: usize,
    /// Per-example gradient norm bound C.
    pub clip: f64,
    pub learning_rate: f64,
    pub seed: u64,
}

/// The privacy a run spent.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyReport {
    pub epsilon: f64,
    pub delta: f64,
    pub noise_multiplier: f64,
    pub sampling_rate: f64,
    pub steps: u64,
    pub clip: f64,
    pub accountant: &'static str,
}

/// What a run measured on the held-out split.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub accuracy: f64,
    /// Binary: the ROC AUC of the positive class; multiclass: the mean one-vs-rest AUC.
    pub auc: f64,
    pub train_rows: usize,
    pub test_rows: usize,
}

/// A trained model as written to disk: its encoding, parameters, privacy and scores.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ModelFile {
    pub format: String,
    pub encoding: Encoding,
    pub model: Model,
    /// Absent for a model trained without DP.
    pub privacy: Option<serde_json::Value>,
    pub metrics: serde_json::Value,
    /// SHA-256 of the table it was trained on.
    pub data_sha256: String,
}

/// What the table holds and how to split it.
#[derive(Debug, Clone)]
pub struct TableTask {
    pub target: String,
    /// Binary: this target value is the positive class.
    pub positive: Option<String>,
    /// Feature columns (empty: every column but the target).
    pub features: Vec<String>,
    /// Held-out share of the rows (seeded shuffle).
    pub test_fraction: f64,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Trained {
    pub file: ModelFile,
    pub metrics: Metrics,
    pub privacy: Option<PrivacyReport>,
}

/// Splits, encodes, trains and scores.
pub fn train_table(
    table: &Table,
    data_sha256: &str,
    task: &TableTask,
    cfg: &TrainConfig,
) -> Result<Trained> {
    if !(0.0..0.9).contains(&task.test_fraction) {
        return Err(TrainError::Invalid(
            "the test fraction must be in [0, 0.9)".into(),
        ));
    }
    let mut order: Vec<usize> = (0..table.rows).collect();
    let mut rng = ChaCha12Rng::seed_from_u64(cfg.seed ^ 0x73706c6974);
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let n_test = (table.rows as f64 * task.test_fraction).round() as usize;
    let (test_rows, train_rows) = order.split_at(n_test);
    let encoding = Encoding::fit(
        table,
        &task.target,
        task.positive.as_deref(),
        &task.features,
        train_rows,
    )?;
    let encode = |rows: &[usize]| -> Result<(Vec<Vec<f64>>, Vec<usize>)> {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for &r in rows {
            if let Some(label) = encoding.label(table, r)? {
                x.push(encoding.row(table, r)?);
                y.push(label);
            }
        }
        Ok((x, y))
    };
    let (xtr, ytr) = encode(train_rows)?;
    let (xte, yte) = encode(test_rows)?;
    let mut model = Model::new(cfg.kind, encoding.width(), encoding.classes.len(), cfg.seed);
    let privacy = fit(&mut model, &xtr, &ytr, cfg)?;
    let metrics = evaluate(&model, &xte, &yte, xtr.len());
    let to_value = |v: serde_json::Result<serde_json::Value>| {
        v.map_err(|e| TrainError::Invalid(format!("model file: {e}")))
    };
    let file = ModelFile {
        format: "airlock-model/1".into(),
        encoding,
        model,
        privacy: privacy
            .as_ref()
            .map(|p| to_value(serde_json::to_value(p)))
            .transpose()?,
        metrics: to_value(serde_json::to_value(&metrics))?,
        data_sha256: data_sha256.to_owned(),
    };
    Ok(Trained {
        file,
        metrics,
        privacy,
    })
}

/// Clips `g` to L2 norm at most `c` (in place); returns its norm before.
pub fn clip(g: &mut [f64], c: f64) -> f64 {
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > c && norm > 0.0 {
        let s = c / norm;
        g.iter_mut().for_each(|x| *x *= s);
    }
    norm
}

/// A standard normal draw (Box–Muller; the RNG is the run's seeded ChaCha).
fn normal(rng: &mut ChaCha12Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Trains `model` on the rows `train` of `x` / `y` under `cfg`; returns what privacy it spent
/// (`None` for the non-private baseline).
pub fn fit(
    model: &mut Model,
    x: &[Vec<f64>],
    y: &[usize],
    cfg: &TrainConfig,
) -> Result<Option<PrivacyReport>> {
    let n = x.len();
    if n == 0 {
        return Err(TrainError::Invalid("no training rows".into()));
    }
    if !(cfg.clip > 0.0 && cfg.learning_rate > 0.0 && cfg.epochs > 0.0) {
        return Err(TrainError::Invalid(
            "clip, learning rate and epochs must be positive".into(),
        ));
    }
    let q = (cfg.batch_size.max(1) as f64 / n as f64).min(1.0);
    let steps = (cfg.epochs / q).round().max(1.0) as u64;
    let (sigma, delta) = match cfg.privacy {
        Privacy::None => (0.0, 0.0),
        Privacy::Epsilon { epsilon, delta } => (
            airlock_dp::calibrate_noise(epsilon, q, steps, delta)?,
            delta,
        ),
        Privacy::Noise { sigma, delta } => (sigma, delta),
    };
    let private = cfg.privacy != Privacy::None;
    let mut rng = ChaCha12Rng::seed_from_u64(cfg.seed);
    let p = model.parameter_count();
    let mut sum = vec![0.0; p];
    let mut g = vec![0.0; p];
    let expected = q * n as f64;
    for _ in 0..steps {
        sum.iter_mut().for_each(|s| *s = 0.0);
        let mut taken = 0usize;
        for i in 0..n {
            if rng.random::<f64>() >= q {
                continue;
            }
            taken += 1;
            model.example_gradient(&x[i], y[i], &mut g);
            if private {
                clip(&mut g, cfg.clip);
            }
            sum.iter_mut().zip(&g).for_each(|(s, gi)| *s += gi);
        }
        let scale = if private {
            for s in sum.iter_mut() {
                *s += sigma * cfg.clip * normal(&mut rng);
            }
            1.0 / expected
        } else if taken == 0 {
            continue;
        } else {
            1.0 / taken as f64
        };
        model.step(&sum, cfg.learning_rate * scale);
    }
    if !private {
        return Ok(None);
    }
    let mut acc = airlock_dp::RdpAccountant::default();
    acc.compose_poisson_gaussian(sigma, q, steps)?;
    let (epsilon, _) = acc.epsilon(delta)?;
    Ok(Some(PrivacyReport {
        epsilon,
        delta,
        noise_multiplier: sigma,
        sampling_rate: q,
        steps,
        clip: cfg.clip,
        accountant: "rdp",
    }))
}

/// Accuracy and AUC of `model` on `x` / `y`.
pub fn evaluate(model: &Model, x: &[Vec<f64>], y: &[usize], train_rows: usize) -> Metrics {
    let k = model.classes();
    let probs: Vec<Vec<f64>> = x.iter().map(|r| model.probabilities(r)).collect();
    let correct = probs
        .iter()
        .zip(y)
        .filter(|(p, t)| argmax(p) == **t)
        .count();
    let auc = if k == 2 {
        auc(&probs.iter().map(|p| p[1]).collect::<Vec<_>>(), y, 1)
    } else {
        let per: Vec<f64> = (0..k)
            .map(|c| auc(&probs.iter().map(|p| p[c]).collect::<Vec<_>>(), y, c))
            .filter(|a| a.is_finite())
            .collect();
        per.iter().sum::<f64>() / per.len().max(1) as f64
    };
    Metrics {
        accuracy: correct as f64 / x.len().max(1) as f64,
        auc,
        train_rows,
        test_rows: x.len(),
    }
}

fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// ROC AUC of `scores` for class `positive` (Mann–Whitney, ties counted half).
pub fn auc(scores: &[f64], y: &[usize], positive: usize) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos, mut i) = (0.0, 0usize, 0usize);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            if y[t] == positive {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No example contributes more than C to a DP-SGD step, whatever its gradient.
        #[test]
        fn clipping_bounds_every_contribution(
            g in proptest::collection::vec(-1e6f64..1e6, 1..64),
            c in 0.01f64..10.0,
        ) {
            let mut g = g;
            let before: Vec<f64> = g.clone();
            clip(&mut g, c);
            let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
            proptest::prop_assert!(norm <= c * (1.0 + 1e-12));
            // direction kept
            let dot: f64 = g.iter().zip(&before).map(|(a, b)| a * b).sum();
            proptest::prop_assert!(dot >= 0.0);
        }
    }

    #[test]
    fn auc_of_a_perfect_and_a_useless_score() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1], 1), 1.0);
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &[0, 1, 0, 1], 1), 0.5);
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut rng = ChaCha12Rng::seed_from_u64(7);
        let v: Vec<f64> = (0..200_000).map(|_| normal(&mut rng)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
