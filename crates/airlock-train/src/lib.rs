//! `airlock train`: logistic regression (binary and multiclass) and a one-hidden-layer MLP on a
//! table, with DP-SGD (Abadi et al. 2016, as Opacus does it): each step samples every training
//! row independently with probability q (Poisson), clips each row's gradient to L2 norm C, adds
//! Gaussian noise of standard deviation σC to the sum and divides by the expected batch size qN.
//! ε is accounted by `airlock-dp` (RDP of the Poisson-subsampled Gaussian); `--epsilon`
//! calibrates σ. A seed makes a run reproducible to the byte (the noise too, so a run without
//! one draws its noise from the operating system: `TrainConfig::seeded_noise`). A held-out split is scored
//! (accuracy, AUC).
//!
//! What DP covers: the model's parameters. The feature encoding (category lists, means and
//! standard deviations of numeric columns) is computed from the training split without noise
//! and is stored in the model file; it is not covered by ε.
//!
//! Numerical code is ours; nothing here prints.

#![forbid(unsafe_code, unused_must_use)]

pub mod card;
pub mod data;
pub mod model;
pub mod stats;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use serde::Serialize;

use data::Feature;
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
    /// Whether DP-SGD's sampling and noise come from `seed` (reproducible by anyone who knows
    /// it: for tests and audits) or from the operating system's random source (the default of
    /// `airlock train`: a guarantee does not rest on a secret seed).
    pub seeded_noise: bool,
    /// The accountant that calibrates the noise and reports ε.
    pub accountant: airlock_dp::Accountant,
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
    /// `os` (the operating system's random source) or `seeded` (reproducible from the seed).
    pub noise: &'static str,
}

/// A random seed from the operating system (for a run given none).
pub fn random_seed() -> Result<u64> {
    getrandom::u64().map_err(|e| {
        TrainError::Invalid(format!("the operating system's random source failed: {e}"))
    })
}

/// The generator of a run's sampling and noise: seeded, or from the operating system.
fn noise_rng(cfg: &TrainConfig) -> Result<ChaCha12Rng> {
    if cfg.seeded_noise {
        return Ok(ChaCha12Rng::seed_from_u64(cfg.seed));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        TrainError::Invalid(format!("the operating system's random source failed: {e}"))
    })?;
    Ok(ChaCha12Rng::from_seed(seed))
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
    /// The loss-threshold membership attack on the trained model.
    pub membership: Membership,
    /// The model per subgroup of the held-out rows (columns given with `--subgroups`).
    pub subgroups: Vec<Subgroup>,
    /// The exposure of canary records inserted for the run (`--canaries`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canaries: Option<CanaryExposure>,
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
    /// The rows from this index on are the held-out set (a separate test file appended to the
    /// table), instead of a share of a shuffle.
    pub held_out_from: Option<usize>,
    /// Columns whose values split the held-out rows into subgroups for the fairness table.
    pub subgroups: Vec<String>,
    /// Canary records to insert into the training rows and measure the exposure of.
    pub canaries: Option<CanaryAudit>,
}

/// How many canary records to insert, and how many times each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryAudit {
    pub count: usize,
    pub repeats: usize,
}

/// Candidates each canary is ranked among: exposure tops out at log2(1024) = 10 bits.
pub const CANARY_CANDIDATES: usize = 1023;

/// The exposure of inserted canary records (Carlini et al. 2019, "The Secret Sharer"): each
/// canary is a record no one chose (every feature taken from a different random training row,
/// a random class) inserted into the training rows; the model's loss on it is ranked among the
/// losses of [`CANARY_CANDIDATES`] records drawn the same way and never trained on. Exposure is
/// log2(candidates + 1) − log2(rank): about log2(e) ≈ 1.44 bits on average when the model
/// learned nothing of the canaries (`chance`), up to `max_possible` when it memorized them.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CanaryExposure {
    pub canaries: usize,
    /// How many times each canary was inserted.
    pub repeats: usize,
    pub candidates: usize,
    /// The mean exposure over the canaries, in bits.
    pub mean: f64,
    /// The largest exposure of one canary, in bits.
    pub max: f64,
    /// The mean exposure of canaries the model knows nothing of.
    pub chance: f64,
    pub max_possible: f64,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Trained {
    pub file: ModelFile,
    pub metrics: Metrics,
    pub privacy: Option<PrivacyReport>,
    pub membership: Membership,
    pub subgroups: Vec<Subgroup>,
    pub canaries: Option<CanaryExposure>,
    /// Examples the training loop processed, and its time.
    pub examples: u64,
    pub train_seconds: f64,
}

/// A loss-threshold membership-inference attack (Yeom et al. 2018): the attacker guesses
/// "member" when a row's loss is low. Scored on as many training rows as held-out ones.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Membership {
    /// AUC of telling training rows from held-out rows by their loss (0.5: no better than chance).
    pub auc: f64,
    /// The attacker's advantage: the largest true-positive minus false-positive rate over
    /// thresholds.
    pub advantage: f64,
    pub rows: usize,
}

/// The model on one subgroup of the held-out rows.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Subgroup {
    pub column: String,
    pub value: String,
    pub rows: usize,
    pub accuracy: f64,
    /// Binary tasks: AUC, true- and false-positive rates at 0.5, and calibration (mean
    /// predicted probability of the positive class minus its observed rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fpr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration_gap: Option<f64>,
}

/// Subgroups with fewer held-out rows than this are not reported (their rates say little and
/// could single people out).
pub const MIN_SUBGROUP: usize = 30;

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
    let (test_rows, train_rows): (Vec<usize>, Vec<usize>) = match task.held_out_from {
        Some(k) => order.iter().partition(|&&r| r >= k),
        None => {
            let n_test = (table.rows as f64 * task.test_fraction).round() as usize;
            let (test, train) = order.split_at(n_test);
            (test.to_vec(), train.to_vec())
        }
    };
    let (test_rows, train_rows) = (test_rows.as_slice(), train_rows.as_slice());
    let encoding = Encoding::fit(
        table,
        &task.target,
        task.positive.as_deref(),
        &task.features,
        train_rows,
    )?;
    // features, labels, and the table rows they came from (rows without a known class left out)
    type Encoded = (Vec<Vec<f64>>, Vec<usize>, Vec<usize>);
    let encoder = encoding.encoder(table)?;
    let encode = |rows: &[usize]| -> Result<Encoded> {
        let (mut x, mut y, mut kept) = (Vec::new(), Vec::new(), Vec::new());
        for &r in rows {
            if let Some(label) = encoder.label(r) {
                x.push(encoder.row(r));
                y.push(label);
                kept.push(r);
            }
        }
        Ok((x, y, kept))
    };
    let (mut xtr, mut ytr, _) = encode(train_rows)?;
    let (xte, yte, te_rows) = encode(test_rows)?;
    let real_rows = xtr.len();
    // canaries go after the real rows (the membership attack reads the first ones); the
    // candidates they are ranked among are drawn the same way and never trained on
    // (with no training rows there is nothing to draw from; `fit` refuses the run)
    let audit = match task.canaries.filter(|a| a.count > 0 && !xtr.is_empty()) {
        Some(a) => {
            let mut rng = ChaCha12Rng::seed_from_u64(cfg.seed ^ 0x63616e617279);
            let canaries = draw_records(&mut rng, &xtr, &encoding, a.count);
            let candidates = draw_records(&mut rng, &xtr, &encoding, CANARY_CANDIDATES);
            for _ in 0..a.repeats.max(1) {
                xtr.extend(canaries.0.iter().cloned());
                ytr.extend(canaries.1.iter().copied());
            }
            Some((a, canaries, candidates))
        }
        None => None,
    };
    let mut model = Model::new(cfg.kind, encoding.width(), encoding.classes.len(), cfg.seed);
    let fitted = fit(&mut model, &xtr, &ytr, cfg)?;
    let privacy = fitted.privacy.clone();
    let metrics = evaluate(&model, &xte, &yte, real_rows);
    let membership = membership(&model, &xtr[..real_rows], &ytr[..real_rows], &xte, &yte);
    let canaries =
        audit.map(|(a, (cx, cy), (kx, _))| exposure(&model, &cx, &cy, &kx, a.repeats.max(1)));
    let mut groups = Vec::new();
    for column in &task.subgroups {
        let c = table.column(column)?;
        let mut by_value: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (i, &r) in te_rows.iter().enumerate() {
            let v = table.columns[c][r]
                .clone()
                .unwrap_or_else(|| "(empty)".into());
            by_value.entry(v).or_default().push(i);
        }
        for (value, idx) in by_value {
            if idx.len() < MIN_SUBGROUP {
                continue;
            }
            let x: Vec<Vec<f64>> = idx.iter().map(|&i| xte[i].clone()).collect();
            let y: Vec<usize> = idx.iter().map(|&i| yte[i]).collect();
            groups.push(subgroup(&model, column, value, &x, &y));
        }
    }
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
        membership: membership.clone(),
        subgroups: groups.clone(),
        canaries: canaries.clone(),
        data_sha256: data_sha256.to_owned(),
    };
    Ok(Trained {
        file,
        metrics,
        privacy,
        membership,
        subgroups: groups,
        canaries,
        examples: fitted.examples,
        train_seconds: fitted.seconds,
    })
}

/// `n` records no one chose: each feature (its one-hot block, for a category) copied from a
/// different random row of `x`, the class uniform at random.
fn draw_records(
    rng: &mut ChaCha12Rng,
    x: &[Vec<f64>],
    encoding: &Encoding,
    n: usize,
) -> (Vec<Vec<f64>>, Vec<usize>) {
    let widths: Vec<usize> = encoding
        .features
        .iter()
        .map(|f| match f {
            Feature::Numeric { .. } => 1,
            Feature::Categorical { categories, .. } => categories.len() + 1,
        })
        .collect();
    let classes = encoding.classes.len().max(1);
    (0..n)
        .map(|_| {
            let mut row = Vec::with_capacity(encoding.width());
            for &w in &widths {
                let donor = &x[rng.random_range(0..x.len())];
                let at = row.len();
                row.extend_from_slice(&donor[at..at + w]);
            }
            (row, rng.random_range(0..classes))
        })
        .unzip()
}

/// The canaries' exposure: each one's loss ranked among the losses of the candidates' features
/// under the canary's own class (so only what was learned of the canary's features can rank
/// it high, not which class the model favours); ties count half.
fn exposure(
    model: &Model,
    cx: &[Vec<f64>],
    cy: &[usize],
    kx: &[Vec<f64>],
    repeats: usize,
) -> CanaryExposure {
    let c = kx.len() as f64;
    let top = (c + 1.0).log2();
    let exposures: Vec<f64> = cx
        .iter()
        .zip(cy)
        .map(|(x, &y)| {
            let own = losses(model, std::slice::from_ref(x), &[y])[0];
            let mut below = 0.0f64;
            for k in kx {
                let l = losses(model, std::slice::from_ref(k), &[y])[0];
                if l < own {
                    below += 1.0;
                } else if l == own {
                    below += 0.5;
                }
            }
            top - (below + 1.0).log2()
        })
        .collect();
    let n = exposures.len().max(1) as f64;
    CanaryExposure {
        canaries: exposures.len(),
        repeats,
        candidates: kx.len(),
        mean: exposures.iter().sum::<f64>() / n,
        max: exposures.iter().copied().fold(0.0, f64::max),
        // E[log2(C+1) − log2(U)], U uniform on 1..=C+1
        chance: top - libm::lgamma(c + 2.0) / std::f64::consts::LN_2 / (c + 1.0),
        max_possible: top,
    }
}

/// Each example's cross-entropy loss.
fn losses(model: &Model, x: &[Vec<f64>], y: &[usize]) -> Vec<f64> {
    x.iter()
        .zip(y)
        .map(|(r, &t)| -model.probabilities(r)[t].max(1e-300).ln())
        .collect()
}

/// The loss-threshold attack on as many training rows (the first ones: the split is shuffled)
/// as held-out rows.
pub fn membership(
    model: &Model,
    xtr: &[Vec<f64>],
    ytr: &[usize],
    xte: &[Vec<f64>],
    yte: &[usize],
) -> Membership {
    let n = xte.len().min(xtr.len());
    let members = losses(model, &xtr[..n], &ytr[..n]);
    let others = losses(model, &xte[..n], &yte[..n]);
    // score: minus the loss; label 1: member
    let scores: Vec<f64> = members.iter().chain(&others).map(|l| -l).collect();
    let labels: Vec<usize> = (0..2 * n).map(|i| usize::from(i < n)).collect();
    let auc = auc(&scores, &labels, 1);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut advantage) = (0.0, 0.0, 0.0f64);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // only between distinct scores: a threshold cannot split ties
        if order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]) {
            advantage = advantage.max(tp / n.max(1) as f64 - fp / n.max(1) as f64);
        }
    }
    Membership {
        auc,
        advantage,
        rows: 2 * n,
    }
}

fn subgroup(model: &Model, column: &str, value: String, x: &[Vec<f64>], y: &[usize]) -> Subgroup {
    let m = evaluate(model, x, y, 0);
    let binary = model.classes() == 2;
    let (mut tp, mut fp, mut pos, mut neg, mut mean_p) = (0.0, 0.0, 0.0, 0.0, 0.0);
    if binary {
        for (r, &t) in x.iter().zip(y) {
            let p = model.probabilities(r)[1];
            mean_p += p;
            let predicted = p >= 0.5;
            if t == 1 {
                pos += 1.0;
                tp += f64::from(u8::from(predicted));
            } else {
                neg += 1.0;
                fp += f64::from(u8::from(predicted));
            }
        }
    }
    let rate = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    Subgroup {
        column: column.to_owned(),
        value,
        rows: x.len(),
        accuracy: m.accuracy,
        auc: (binary && m.auc.is_finite()).then_some(m.auc),
        tpr: if binary { rate(tp, pos) } else { None },
        fpr: if binary { rate(fp, neg) } else { None },
        calibration_gap: binary.then(|| (mean_p - pos) / x.len().max(1) as f64),
    }
}

/// Two independent standard normal draws (both of Box–Muller's; the RNG is the run's seeded
/// ChaCha).
pub fn normal_pair(rng: &mut ChaCha12Rng) -> (f64, f64) {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
    (r * c, r * s)
}

/// What a training loop did: the privacy it spent (`None` for the non-private baseline), and
/// the examples it processed in how long (the loop alone, as Opacus's benchmark loop is timed).
#[derive(Debug, Clone)]
pub struct Fitted {
    pub privacy: Option<PrivacyReport>,
    pub examples: u64,
    pub seconds: f64,
}

/// Trains `model` on the rows of `x` / `y` under `cfg`.
pub fn fit(model: &mut Model, x: &[Vec<f64>], y: &[usize], cfg: &TrainConfig) -> Result<Fitted> {
    let n = x.len();
    if n == 0 {
        return Err(TrainError::Invalid("no training rows".into()));
    }
    if !(cfg.clip > 0.0 && cfg.learning_rate > 0.0 && cfg.epochs > 0.0 && cfg.batch_size > 0) {
        return Err(TrainError::Invalid(
            "clip, learning rate, epochs and batch size must be positive".into(),
        ));
    }
    let q = (cfg.batch_size as f64 / n as f64).min(1.0);
    let steps = (cfg.epochs / q).round().max(1.0) as u64;
    let (sigma, delta) = match cfg.privacy {
        Privacy::None => (0.0, 0.0),
        Privacy::Epsilon { epsilon, delta } => (
            airlock_dp::calibrate_noise_with(cfg.accountant, epsilon, q, steps, delta)?,
            delta,
        ),
        Privacy::Noise { sigma, delta } => (sigma, delta),
    };
    let private = cfg.privacy != Privacy::None;
    let mut rng = noise_rng(cfg)?;
    let p = model.parameter_count();
    let mut sum = vec![0.0; p];
    let expected = q * n as f64;
    let clip_to = private.then_some(cfg.clip);
    let started = std::time::Instant::now();
    // the loop reads rows by their nonzeros (a one-hot row is mostly zeros)
    let rows = model::SparseRows::from_dense(x);
    let mut examples = 0u64;
    for _ in 0..steps {
        sum.iter_mut().for_each(|s| *s = 0.0);
        let mut taken = 0usize;
        // Poisson sampling: each row in with probability q, drawn as geometric gaps between
        // the rows taken (the same distribution as a draw per row, in time per row taken)
        let mut i = 0usize;
        loop {
            if q < 1.0 {
                let u: f64 = 1.0 - rng.random::<f64>();
                let gap = (u.ln() / (-q).ln_1p()).floor();
                if !gap.is_finite() || gap >= (n - i) as f64 {
                    break;
                }
                i += gap as usize;
            }
            if i >= n {
                break;
            }
            taken += 1;
            model.accumulate(rows.row(i), y[i], clip_to, &mut sum);
            i += 1;
        }
        examples += taken as u64;
        let scale = if private {
            let sd = sigma * cfg.clip;
            for pair in sum.chunks_mut(2) {
                let (a, b) = normal_pair(&mut rng);
                pair[0] += sd * a;
                if let Some(s) = pair.get_mut(1) {
                    *s += sd * b;
                }
            }
            1.0 / expected
        } else if taken == 0 {
            continue;
        } else {
            1.0 / taken as f64
        };
        model.step(&sum, cfg.learning_rate * scale);
    }
    let seconds = started.elapsed().as_secs_f64();
    let privacy = if private {
        let epsilon = airlock_dp::epsilon_with(cfg.accountant, sigma, q, steps, delta)?;
        Some(PrivacyReport {
            epsilon,
            delta,
            noise_multiplier: sigma,
            sampling_rate: q,
            steps,
            clip: cfg.clip,
            accountant: cfg.accountant.name(),
            noise: if cfg.seeded_noise { "seeded" } else { "os" },
        })
    } else {
        None
    };
    Ok(Fitted {
        privacy,
        examples,
        seconds,
    })
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

    fn normal(rng: &mut ChaCha12Rng) -> f64 {
        normal_pair(rng).0
    }

    proptest::proptest! {
        /// No example contributes more than C to a DP-SGD step, whatever its gradient, and
        /// what it contributes is its gradient scaled down to C: the norm computed from the
        /// gradient's factors is the norm of the gradient written out.
        #[test]
        fn clipping_bounds_every_contribution(
            params in proptest::collection::vec(-3f64..3.0, 4 * 5 + 5 + 5 * 3 + 3),
            x in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0.0), -50f64..50.0], 4),
            y in 0usize..3,
            c in 0.01f64..10.0,
            mlp in proptest::bool::ANY,
        ) {
            let kind = if mlp { ModelKind::Mlp { hidden: 5 } } else { ModelKind::Logreg };
            let mut m = Model::new(kind, 4, 3, 1);
            let n = m.parameter_count();
            m.params = params[..n].to_vec();
            let rows = model::SparseRows::from_dense(std::slice::from_ref(&x));
            let mut sum = vec![0.0; n];
            m.accumulate(rows.row(0), y, Some(c), &mut sum);
            let norm = sum.iter().map(|v| v * v).sum::<f64>().sqrt();
            proptest::prop_assert!(norm <= c * (1.0 + 1e-12));
            let mut g = vec![0.0; n];
            m.example_gradient(&x, y, &mut g);
            let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            let s = if gnorm > c { c / gnorm } else { 1.0 };
            for (a, b) in sum.iter().zip(&g) {
                proptest::prop_assert!((a - s * b).abs() <= 1e-9 * (1.0 + b.abs()));
            }
        }
    }

    /// On random labels a model can only memorize: without DP the loss-threshold attack tells
    /// its training rows from others; at epsilon 1 it cannot.
    #[test]
    fn membership_attack_finds_memorization_and_dp_stops_it() {
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let rows = |rng: &mut ChaCha12Rng, n: usize| -> (Vec<Vec<f64>>, Vec<usize>) {
            let x = (0..n)
                .map(|_| (0..24).map(|_| normal(rng)).collect())
                .collect();
            let y = (0..n).map(|_| usize::from(rng.random::<bool>())).collect();
            (x, y)
        };
        let (xtr, ytr) = rows(&mut rng, 150);
        let (xte, yte) = rows(&mut rng, 150);
        let run = |privacy: Privacy| {
            let mut m = Model::new(ModelKind::Mlp { hidden: 64 }, 24, 2, 1);
            let cfg = TrainConfig {
                kind: m.kind,
                privacy,
                epochs: 150.0,
                batch_size: 32,
                clip: 1.0,
                learning_rate: 0.5,
                seed: 1,
                seeded_noise: true,
                accountant: airlock_dp::Accountant::Rdp,
            };
            fit(&mut m, &xtr, &ytr, &cfg).unwrap();
            membership(&m, &xtr, &ytr, &xte, &yte)
        };
        let open = run(Privacy::None);
        assert!(open.auc > 0.8 && open.advantage > 0.4, "{open:?}");
        let private = run(Privacy::Epsilon {
            epsilon: 1.0,
            delta: 1e-5,
        });
        assert!(private.auc < 0.65, "{private:?}");
    }

    /// The PLD accountant is tighter: at the same ε it calibrates less noise, and it is the
    /// one the report names.
    #[test]
    fn the_pld_accountant_calibrates_less_noise_for_the_same_epsilon() {
        let x: Vec<Vec<f64>> = (0..400).map(|i| vec![f64::from(i % 7), 1.0]).collect();
        let y: Vec<usize> = (0..400).map(|i| usize::from(i % 7 > 3)).collect();
        let report = |accountant| {
            let mut m = Model::new(ModelKind::Logreg, 2, 2, 1);
            let cfg = TrainConfig {
                kind: m.kind,
                privacy: Privacy::Epsilon {
                    epsilon: 2.0,
                    delta: 1e-5,
                },
                epochs: 3.0,
                batch_size: 40,
                clip: 1.0,
                learning_rate: 0.1,
                seed: 1,
                seeded_noise: true,
                accountant,
            };
            fit(&mut m, &x, &y, &cfg).unwrap().privacy.unwrap()
        };
        let (rdp, pld) = (
            report(airlock_dp::Accountant::Rdp),
            report(airlock_dp::Accountant::Pld),
        );
        assert_eq!((rdp.accountant, pld.accountant), ("rdp", "pld"));
        assert!(
            pld.noise_multiplier < rdp.noise_multiplier,
            "{pld:?} {rdp:?}"
        );
        assert!(pld.epsilon <= 2.0 && rdp.epsilon <= 2.0);
    }

    /// A table of random features and random labels: a model can only memorize it.
    fn random_table(rows: usize, seed: u64) -> Table {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        let mut names: Vec<String> = (0..24).map(|i| format!("f{i}")).collect();
        names.push("label".into());
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); 25];
        for _ in 0..rows {
            for c in columns.iter_mut().take(24) {
                c.push(Some(format!("{:.4}", normal(&mut rng))));
            }
            columns[24].push(Some(if rng.random::<bool>() { "a" } else { "b" }.into()));
        }
        Table {
            names,
            columns,
            rows,
        }
    }

    /// The Secret Sharer's exposure: canaries a model memorizes rank far above the candidates
    /// it never saw; under DP-SGD at epsilon 1 they rank as the candidates do (chance).
    #[test]
    fn canary_exposure_finds_memorization_and_dp_stops_it() {
        let table = random_table(200, 5);
        let task = TableTask {
            target: "label".into(),
            positive: Some("a".into()),
            features: Vec::new(),
            test_fraction: 0.25,
            held_out_from: None,
            subgroups: Vec::new(),
            canaries: Some(CanaryAudit {
                count: 50,
                repeats: 1,
            }),
        };
        let run = |privacy: Privacy| {
            let cfg = TrainConfig {
                kind: ModelKind::Mlp { hidden: 64 },
                privacy,
                epochs: 150.0,
                batch_size: 32,
                clip: 1.0,
                learning_rate: 0.5,
                seed: 1,
                seeded_noise: true,
                accountant: airlock_dp::Accountant::Rdp,
            };
            train_table(&table, "-", &task, &cfg)
                .unwrap()
                .canaries
                .unwrap()
        };
        let open = run(Privacy::None);
        assert_eq!((open.canaries, open.candidates), (50, CANARY_CANDIDATES));
        // E[log2(1024) - log2(U)] for U uniform on 1..=1024: about log2(e)
        assert!((open.chance - 1.4365).abs() < 1e-3, "{open:?}");
        assert!((open.max_possible - 10.0).abs() < 1e-12);
        // (the mean of 50 exposures of canaries the model knows nothing of has a standard
        // deviation of about 0.2 bits)
        assert!(open.mean > open.chance + 1.0, "{open:?}");
        let private = run(Privacy::Epsilon {
            epsilon: 1.0,
            delta: 1e-5,
        });
        assert!(private.mean < private.chance + 0.6, "{private:?}");
        assert!(private.mean < open.mean - 1.0, "{private:?} {open:?}");
    }

    #[test]
    fn auc_of_a_perfect_and_a_useless_score() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1], 1), 1.0);
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &[0, 1, 0, 1], 1), 0.5);
    }

    #[test]
    fn normal_draws_have_unit_variance_and_pairs_are_uncorrelated() {
        let mut rng = ChaCha12Rng::seed_from_u64(7);
        let pairs: Vec<(f64, f64)> = (0..200_000).map(|_| normal_pair(&mut rng)).collect();
        let n = pairs.len() as f64;
        for v in [
            pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
            pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
        ] {
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
                "{mean} {var}"
            );
        }
        let cov = pairs.iter().map(|(a, b)| a * b).sum::<f64>() / n;
        assert!(cov.abs() < 0.01, "{cov}");
    }
}
