//! The models: softmax (multinomial logistic) regression and a one-hidden-layer ReLU MLP, with
//! per-example gradients written out (DP-SGD clips each one).

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "model")]
pub enum ModelKind {
    Logreg,
    Mlp { hidden: usize },
}

/// A model's shape and parameters (flat: logreg W[d×k] then b[k]; MLP W1[d×h], b1[h],
/// W2[h×k], b2[k]; matrices by input row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub kind: ModelKind,
    pub inputs: usize,
    pub classes: usize,
    pub params: Vec<f64>,
}

/// A dense row's nonzero inputs, `(index, value)`.
fn dense_nonzeros(x: &[f64]) -> impl Iterator<Item = (usize, f64)> + Clone + '_ {
    x.iter().copied().enumerate().filter(|(_, v)| *v != 0.0)
}

/// One row's nonzero inputs (a one-hot encoded row is mostly zeros).
#[derive(Debug, Clone, Copy)]
pub struct Nonzeros<'a> {
    pub idx: &'a [u32],
    pub val: &'a [f64],
}

impl<'a> Nonzeros<'a> {
    fn iter(self) -> impl Iterator<Item = (usize, f64)> + Clone + 'a {
        self.idx
            .iter()
            .map(|&j| j as usize)
            .zip(self.val.iter().copied())
    }
}

/// Rows stored by their nonzeros (compressed sparse rows), for the training loop.
#[derive(Debug, Clone, Default)]
pub struct SparseRows {
    offsets: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f64>,
}

impl SparseRows {
    pub fn from_dense(x: &[Vec<f64>]) -> Self {
        let mut rows = Self {
            offsets: vec![0],
            ..Self::default()
        };
        for r in x {
            for (j, v) in dense_nonzeros(r) {
                rows.idx.push(u32::try_from(j).unwrap_or(u32::MAX));
                rows.val.push(v);
            }
            rows.offsets.push(rows.idx.len());
        }
        rows
    }

    pub fn row(&self, i: usize) -> Nonzeros<'_> {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        Nonzeros {
            idx: &self.idx[a..b],
            val: &self.val[a..b],
        }
    }
}

fn softmax(z: &mut [f64]) {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    z.iter_mut().for_each(|v| *v /= s);
}

impl Model {
    /// A new model: logistic regression at zero, the MLP's weights uniform in ±1/√fan-in
    /// (seeded).
    pub fn new(kind: ModelKind, inputs: usize, classes: usize, seed: u64) -> Self {
        let mut m = Self {
            kind,
            inputs,
            classes,
            params: Vec::new(),
        };
        m.params = vec![0.0; m.parameter_count()];
        if let ModelKind::Mlp { hidden } = kind {
            let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed ^ 0x6d6c70);
            let (d, h, k) = (inputs, hidden, classes);
            let b1 = 1.0 / (d.max(1) as f64).sqrt();
            let b2 = 1.0 / (h.max(1) as f64).sqrt();
            for (i, p) in m.params.iter_mut().enumerate() {
                let bound = if i < d * h + h { b1 } else { b2 };
                *p = (rng.random::<f64>() * 2.0 - 1.0) * bound;
            }
            let _ = k;
        }
        m
    }

    pub fn parameter_count(&self) -> usize {
        let (d, k) = (self.inputs, self.classes);
        match self.kind {
            ModelKind::Logreg => d * k + k,
            ModelKind::Mlp { hidden: h } => d * h + h + h * k + k,
        }
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Hidden activations (MLP) and class probabilities.
    fn forward(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        self.forward_nz(dense_nonzeros(x))
    }

    /// [`Model::forward`] over a row's nonzero inputs `(index, value)`.
    fn forward_nz(&self, x: impl Iterator<Item = (usize, f64)> + Clone) -> (Vec<f64>, Vec<f64>) {
        let (d, k) = (self.inputs, self.classes);
        let p = &self.params;
        match self.kind {
            ModelKind::Logreg => {
                let mut z = p[d * k..d * k + k].to_vec();
                for (j, xj) in x {
                    let row = &p[j * k..j * k + k];
                    z.iter_mut().zip(row).for_each(|(zc, w)| *zc += xj * w);
                }
                softmax(&mut z);
                (Vec::new(), z)
            }
            ModelKind::Mlp { hidden: h } => {
                let (w1, rest) = p.split_at(d * h);
                let (b1, rest) = rest.split_at(h);
                let (w2, b2) = rest.split_at(h * k);
                let mut a = b1.to_vec();
                for (j, xj) in x {
                    let row = &w1[j * h..j * h + h];
                    a.iter_mut().zip(row).for_each(|(ai, w)| *ai += xj * w);
                }
                a.iter_mut().for_each(|v| *v = v.max(0.0));
                let mut z = b2.to_vec();
                for (i, &ai) in a.iter().enumerate() {
                    if ai != 0.0 {
                        let row = &w2[i * k..i * k + k];
                        z.iter_mut().zip(row).for_each(|(zc, w)| *zc += ai * w);
                    }
                }
                softmax(&mut z);
                (a, z)
            }
        }
    }

    /// Class probabilities for one row.
    pub fn probabilities(&self, x: &[f64]) -> Vec<f64> {
        self.forward(x).1
    }

    /// The gradient of one example's cross-entropy loss, written into `g` (its length is the
    /// parameter count): what [`Model::accumulate`] adds, unclipped, to a zero sum. Checked
    /// against finite differences of the loss.
    pub fn example_gradient(&self, x: &[f64], y: usize, g: &mut [f64]) {
        let (idx, val): (Vec<u32>, Vec<f64>) = dense_nonzeros(x)
            .map(|(j, v)| (u32::try_from(j).unwrap_or(u32::MAX), v))
            .unzip();
        g.iter_mut().for_each(|v| *v = 0.0);
        self.accumulate(
            Nonzeros {
                idx: &idx,
                val: &val,
            },
            y,
            None,
            g,
        );
    }

    /// Adds one example's gradient to `sum`, scaled first to L2 norm at most `clip` when given
    /// (DP-SGD's per-example clipping), without writing the gradient out: its norm comes from
    /// the factors (a weight's gradient is an input times an error), and zero inputs (one-hot
    /// categories) cost nothing.
    pub fn accumulate(&self, x: Nonzeros<'_>, y: usize, clip: Option<f64>, sum: &mut [f64]) {
        let (d, k) = (self.inputs, self.classes);
        let (a, mut delta) = self.forward_nz(x.iter());
        delta[y] -= 1.0;
        let sq = |v: &[f64]| v.iter().map(|e| e * e).sum::<f64>();
        let x2 = sq(x.val);
        let scale = |norm2: f64| match clip {
            Some(c) if norm2.sqrt() > c => c / norm2.sqrt(),
            _ => 1.0,
        };
        match self.kind {
            ModelKind::Logreg => {
                let s = scale(sq(&delta) * (x2 + 1.0));
                for (j, xj) in x.iter() {
                    let f = s * xj;
                    sum[j * k..j * k + k]
                        .iter_mut()
                        .zip(&delta)
                        .for_each(|(g, dc)| *g += f * dc);
                }
                sum[d * k..]
                    .iter_mut()
                    .zip(&delta)
                    .for_each(|(g, dc)| *g += s * dc);
            }
            ModelKind::Mlp { hidden: h } => {
                let w2 = &self.params[d * h + h..d * h + h + h * k];
                let dh: Vec<f64> = (0..h)
                    .map(|i| {
                        if a[i] > 0.0 {
                            w2[i * k..i * k + k]
                                .iter()
                                .zip(&delta)
                                .map(|(w, dc)| w * dc)
                                .sum()
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let s = scale(sq(&delta) * (sq(&a) + 1.0) + sq(&dh) * (x2 + 1.0));
                let (s1, s2) = sum.split_at_mut(d * h + h);
                for (i, &ai) in a.iter().enumerate() {
                    if ai != 0.0 {
                        let f = s * ai;
                        s2[i * k..i * k + k]
                            .iter_mut()
                            .zip(&delta)
                            .for_each(|(g, dc)| *g += f * dc);
                    }
                }
                s2[h * k..]
                    .iter_mut()
                    .zip(&delta)
                    .for_each(|(g, dc)| *g += s * dc);
                for (j, xj) in x.iter() {
                    let f = s * xj;
                    s1[j * h..j * h + h]
                        .iter_mut()
                        .zip(&dh)
                        .for_each(|(g, di)| *g += f * di);
                }
                s1[d * h..]
                    .iter_mut()
                    .zip(&dh)
                    .for_each(|(g, di)| *g += s * di);
            }
        }
    }

    /// params -= rate * grad.
    pub fn step(&mut self, grad: &[f64], rate: f64) {
        self.params
            .iter_mut()
            .zip(grad)
            .for_each(|(p, g)| *p -= rate * g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each model's per-example gradient agrees with a finite difference of its loss.
    #[test]
    fn gradients_match_finite_differences() {
        for kind in [ModelKind::Logreg, ModelKind::Mlp { hidden: 5 }] {
            let mut m = Model::new(kind, 4, 3, 1);
            m.params
                .iter_mut()
                .enumerate()
                .for_each(|(i, p)| *p += ((i * 37 % 11) as f64 - 5.0) / 20.0);
            let x = [0.5, -1.0, 0.0, 2.0];
            let y = 2;
            let mut g = vec![0.0; m.parameter_count()];
            m.example_gradient(&x, y, &mut g);
            let loss = |m: &Model| -m.probabilities(&x)[y].ln();
            for (i, gi) in g.iter().enumerate() {
                let mut up = m.clone();
                up.params[i] += 1e-6;
                let mut down = m.clone();
                down.params[i] -= 1e-6;
                let fd = (loss(&up) - loss(&down)) / 2e-6;
                assert!((fd - gi).abs() < 1e-5, "{kind:?} param {i}: {fd} vs {gi}");
            }
        }
    }
}
