//! Drift of a served model's inputs from its training data: the population stability index
//! (PSI) of every feature over ten bins at the reference's deciles (numbers) or over the
//! model's categories and one "other" bin, and the two-sample Kolmogorov-Smirnov statistic of
//! numeric features, over a sliding window of the latest requests.
//!
//! Both are biased upwards on a small window: a sample of n drawn from the reference itself
//! scores a PSI of about (bins − 1)/n and a KS statistic up to its critical value. A feature is
//! flagged only when its PSI exceeds the threshold by more than that chance level, or its KS
//! statistic exceeds both the threshold and the two-sample critical value at α = 0.001
//! (1.95·√((n+m)/(n·m))), so a short window of ordinary requests raises no alarm.
//!
//! The reference stays in the serving process's memory (read from the vault's copy of the
//! training table): a model file carries no statistics of its data beyond what training under
//! differential privacy released.

use std::collections::VecDeque;

use serde::Serialize;

use airlock_train::data::{Feature, Table};

pub use airlock_train::stats::{ks, psi};

/// The PSI a sample of `n` scores over `bins` bins by chance alone (the expectation of the
/// statistic under no drift, to first order: it is asymptotically (bins − 1)/n times a
/// chi-squared variable's mean of 1 per degree of freedom).
fn chance_psi(bins: usize, n: usize) -> f64 {
    bins.saturating_sub(1) as f64 / n.max(1) as f64
}

/// One feature's reference.
#[derive(Debug, Clone)]
enum FeatureRef {
    Numeric {
        name: String,
        /// The reference values, sorted (an even subsample of at most [`MAX_REFERENCE`]).
        sorted: Vec<f64>,
        /// Inner bin edges: the reference's deciles.
        edges: Vec<f64>,
        expected: Vec<f64>,
    },
    Categorical {
        name: String,
        categories: Vec<String>,
        /// Shares of each category, then of everything else.
        expected: Vec<f64>,
    },
}

/// Reference values kept per numeric feature.
const MAX_REFERENCE: usize = 20_000;

/// Every feature's reference distribution.
#[derive(Debug, Clone)]
pub struct Reference {
    features: Vec<FeatureRef>,
}

fn numeric_bins(edges: &[f64], values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() + 1];
    for v in values {
        counts[edges.partition_point(|e| e < v)] += 1.0;
    }
    let n = values.len().max(1) as f64;
    counts.iter().map(|c| c / n).collect()
}

fn category_bins(categories: &[String], values: &[Option<&str>]) -> Vec<f64> {
    let mut counts = vec![0.0; categories.len() + 1];
    for v in values {
        let at = v
            .and_then(|v| categories.iter().position(|c| c == v))
            .unwrap_or(categories.len());
        counts[at] += 1.0;
    }
    let n = values.len().max(1) as f64;
    counts.iter().map(|c| c / n).collect()
}

impl Reference {
    /// The reference of `features` in `table` (the model's training data). A feature the
    /// table lacks is an error.
    pub fn of(features: &[Feature], table: &Table) -> Result<Self, String> {
        let mut out = Vec::new();
        for f in features {
            match f {
                Feature::Numeric { name, .. } => {
                    let c = table.column(name).map_err(|e| e.to_string())?;
                    let mut values: Vec<f64> = table.columns[c]
                        .iter()
                        .filter_map(|v| v.as_deref()?.parse::<f64>().ok())
                        .filter(|v| v.is_finite())
                        .collect();
                    values.sort_by(f64::total_cmp);
                    if values.len() > MAX_REFERENCE {
                        let step = values.len() as f64 / MAX_REFERENCE as f64;
                        values = (0..MAX_REFERENCE)
                            .map(|i| values[(i as f64 * step) as usize])
                            .collect();
                    }
                    let mut edges: Vec<f64> = (1..10)
                        .filter_map(|d| values.get(d * values.len() / 10).copied())
                        .collect();
                    edges.dedup();
                    let expected = numeric_bins(&edges, &values);
                    out.push(FeatureRef::Numeric {
                        name: name.clone(),
                        sorted: values,
                        edges,
                        expected,
                    });
                }
                Feature::Categorical { name, categories } => {
                    let c = table.column(name).map_err(|e| e.to_string())?;
                    let values: Vec<Option<&str>> =
                        table.columns[c].iter().map(|v| v.as_deref()).collect();
                    out.push(FeatureRef::Categorical {
                        name: name.clone(),
                        expected: category_bins(categories, &values),
                        categories: categories.clone(),
                    });
                }
            }
        }
        Ok(Self { features: out })
    }
}

/// One feature's drift now.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureDrift {
    pub feature: String,
    pub psi: f64,
    /// The PSI a window of this size scores by chance alone, about (bins − 1)/n.
    pub psi_chance: f64,
    /// Numeric features only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks: Option<f64>,
    /// Whether it is past a threshold.
    pub alert: bool,
}

/// The latest requests' feature values, by feature, for the drift measures.
#[derive(Debug)]
pub struct Window {
    reference: Reference,
    size: usize,
    /// Per feature: the raw values of the latest requests.
    values: Vec<VecDeque<Option<String>>>,
    psi_alert: f64,
    ks_alert: f64,
}

impl Window {
    pub fn new(reference: Reference, size: usize, psi_alert: f64, ks_alert: f64) -> Self {
        let values = vec![VecDeque::with_capacity(size); reference.features.len()];
        Self {
            reference,
            size: size.max(1),
            values,
            psi_alert,
            ks_alert,
        }
    }

    /// Adds one request's values (in the reference's feature order).
    pub fn push(&mut self, row: Vec<Option<String>>) {
        for (q, v) in self.values.iter_mut().zip(row) {
            if q.len() == self.size {
                q.pop_front();
            }
            q.push_back(v);
        }
    }

    /// Requests in the window.
    pub fn len(&self) -> usize {
        self.values.first().map_or(0, VecDeque::len)
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every feature's PSI (and KS) over the window.
    pub fn measure(&self) -> Vec<FeatureDrift> {
        self.reference
            .features
            .iter()
            .zip(&self.values)
            .map(|(f, q)| match f {
                FeatureRef::Numeric {
                    name,
                    sorted,
                    edges,
                    expected,
                } => {
                    let mut v: Vec<f64> = q
                        .iter()
                        .filter_map(|v| v.as_deref()?.parse::<f64>().ok())
                        .filter(|v| v.is_finite())
                        .collect();
                    v.sort_by(f64::total_cmp);
                    let p = psi(expected, &numeric_bins(edges, &v));
                    let k = ks(sorted, &v);
                    let chance = chance_psi(expected.len(), v.len());
                    let (n, m) = (v.len().max(1) as f64, sorted.len().max(1) as f64);
                    let critical = 1.95 * ((n + m) / (n * m)).sqrt();
                    FeatureDrift {
                        feature: name.clone(),
                        psi: p,
                        psi_chance: chance,
                        ks: Some(k),
                        alert: p - chance > self.psi_alert || k > self.ks_alert.max(critical),
                    }
                }
                FeatureRef::Categorical {
                    name,
                    categories,
                    expected,
                } => {
                    let v: Vec<Option<&str>> = q.iter().map(Option::as_deref).collect();
                    let p = psi(expected, &category_bins(categories, &v));
                    let chance = chance_psi(expected.len(), v.len());
                    FeatureDrift {
                        feature: name.clone(),
                        psi: p,
                        psi_chance: chance,
                        ks: None,
                        alert: p - chance > self.psi_alert,
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(values: &[(f64, &str)]) -> Table {
        Table {
            names: vec!["age".into(), "sex".into()],
            columns: vec![
                values.iter().map(|(a, _)| Some(a.to_string())).collect(),
                values.iter().map(|(_, s)| Some((*s).to_string())).collect(),
            ],
            rows: values.len(),
        }
    }

    #[test]
    fn a_shifted_window_alerts_and_a_like_one_does_not() {
        let rows: Vec<(f64, &str)> = (0..1000)
            .map(|i| (20.0 + f64::from(i % 50), if i % 2 == 0 { "F" } else { "M" }))
            .collect();
        let features = vec![
            Feature::Numeric {
                name: "age".into(),
                mean: 44.5,
                std: 14.4,
            },
            Feature::Categorical {
                name: "sex".into(),
                categories: vec!["F".into(), "M".into()],
            },
        ];
        let reference = Reference::of(&features, &table(&rows)).unwrap();
        let mut like = Window::new(reference.clone(), 200, 0.2, 0.1);
        for (a, s) in rows.iter().skip(7).step_by(5).take(200) {
            like.push(vec![Some(a.to_string()), Some((*s).to_string())]);
        }
        assert!(
            like.measure().iter().all(|d| !d.alert),
            "{:?}",
            like.measure()
        );
        let mut shifted = Window::new(reference, 200, 0.2, 0.1);
        for i in 0..300 {
            shifted.push(vec![
                Some((60.0 + f64::from(i % 30)).to_string()),
                Some("F".into()),
            ]);
        }
        assert_eq!(shifted.len(), 200);
        let d = shifted.measure();
        assert!(d.iter().all(|d| d.alert), "{d:?}");
        assert!(d[0].ks.unwrap() > 0.5);
    }
}
